//! ringpin-loadgen: a fan-out load generator for GRIP proxies (ringpin, Pushpin).

mod args;
mod chunked;
mod client;
mod clock;
mod lines;
mod message;
mod publisher;
mod scenario;
mod seqtrack;
mod sse;
mod wsframe;

fn main() {}
