//! The publish/control server: the `:5561` HTTP endpoint and the router it feeds, run on the
//! router's own executor beside the shards.
//!
//! `service.rs` owns the `Router` and the shard inboxes; `connection.rs` serves one publish
//! connection; `zmq_input.rs` reads the ZeroMQ PULL and SUB inputs, and `zmq_command.rs`
//! answers the ZeroMQ command socket, each on a thread of its own. The publish API's meaning
//! lives in the pure `publish` module.

mod auth;
mod connection;
mod service;
mod status;
mod top_channels;
mod zmq_command;
mod zmq_input;

pub use connection::{accept_loop, serve};
pub use service::{input_loop, interest_loop, PublishService};
pub use zmq_command::{spawn_command_socket, CommandContext, CommandUris};
pub use zmq_input::{spawn_pull_input, spawn_sub_input, ZmqInputError};
