//! LinkFetchError: why a GRIP next-link fetch failed, and which failures are worth a retry.
//!
//! Owns: the error and result types of a link fetch, shared by the shard's collapse registry
//! and the fetching flow.
//! Must not: do I/O.

use std::rc::Rc;

use crate::grip::{InstructError, Instruction, LinkError};

/// Why a link fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkFetchError {
    /// The link or a `Grip-Last` value could not be used.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// No target accepted a connection.
    #[error("unable to connect to any targets; tried: {tried}")]
    Connect {
        /// The targets tried.
        tried: String,
    },
    /// This shard has no origin socket to spare right now.
    #[error("origin connection limit of {open_max} reached on this shard")]
    Exhausted {
        /// The shard's bound on open origin sockets.
        open_max: usize,
    },
    /// The exchange failed after connecting.
    #[error("link request to {target} failed: {reason}")]
    Exchange {
        /// `host:port`.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The origin answered with a status outside 2xx.
    #[error("link response from {target} has status {status}")]
    Status {
        /// `host:port`.
        target: String,
        /// The status code.
        status: u16,
    },
    /// The answer's GRIP instruction is invalid.
    #[error("link response from {target}: {source}")]
    Instruct {
        /// `host:port`.
        target: String,
        /// The parse error.
        source: InstructError,
    },
    /// The answer is a response hold, which a stream cannot become.
    #[error("Next link returned non-stream hold.")]
    NonStreamHold,
    /// The fetch this one was collapsed into was abandoned (its client went away).
    #[error("the shared link fetch was abandoned")]
    Abandoned,
}

impl LinkFetchError {
    /// True for failures of the exchange itself, which a later attempt may not meet
    /// (PUSHPIN.md §5.3); an answer that was received but refused is final, as in Pushpin.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LinkFetchError::Connect { .. }
                | LinkFetchError::Exhausted { .. }
                | LinkFetchError::Exchange { .. }
                | LinkFetchError::Status { .. }
        )
    }
}

/// What a link fetch gives: the instruction of its answer (whose `response.body` is appended).
pub type LinkResult = Rc<Result<Instruction, LinkFetchError>>;
