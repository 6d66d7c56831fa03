//! `ConfigError`: every fatal configuration problem, with the flag, key, file or line at fault.
//!
//! Owns: the one error enum of `config/`.
//! Must not: decide how the error is shown or which exit code it maps to; `main.rs` prints
//! the `Display` text and exits.
//! Invariants: messages are lower-case, carry no trailing period, and name what to fix
//! (a flag such as `--shards`, a key such as `[handler] message_wait`, or a path and line).

use std::path::PathBuf;

/// A configuration problem that stops ringpin from starting (or a reload from applying).
///
/// Non-fatal problems (unknown pushpin.conf keys, skipped route lines) are warnings instead.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A command-line argument that starts with `-` but is not a known flag.
    #[error("unknown flag {flag} (see --help)")]
    UnknownFlag {
        /// The argument as given, without any `=value` part.
        flag: String,
    },
    /// A command-line argument that is not a flag; ringpin takes no positional arguments.
    #[error("unexpected argument {arg:?} (see --help)")]
    UnexpectedArgument {
        /// The argument as given.
        arg: String,
    },
    /// A flag that needs a value was the last argument.
    #[error("{flag} needs a value")]
    MissingValue {
        /// The flag, e.g. `--listen`.
        flag: String,
    },
    /// A switch such as `--debug` was given as `--debug=VALUE`.
    #[error("{flag} takes no value")]
    UnexpectedValue {
        /// The flag, e.g. `--debug`.
        flag: String,
    },
    /// A flag or key whose value does not parse or is out of range.
    #[error("invalid value {value:?} for {setting}: {reason}")]
    InvalidValue {
        /// Where the value came from: a flag (`--shards`) or a key (`[handler] message_wait`).
        setting: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A file named by a flag or key could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path as it was resolved (relative paths are relative to the working directory).
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A malformed pushpin.conf line, found by the pure parser (which does not know the path).
    #[error("pushpin.conf line {line}: {message}")]
    Conf {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A malformed pushpin.conf line in a file read from disk.
    #[error("{}:{line}: {message}", path.display())]
    ConfFile {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A routes reload found no valid route; the routes in use stay.
    #[error("{file} has no valid route; reload refused, the routes in use stay")]
    NoRoutes {
        /// The routes file.
        file: String,
    },
    /// Settings that are valid one by one but not together, e.g. two listeners on one port.
    #[error("conflicting settings: {message}")]
    Conflict {
        /// Which settings collide, and on what.
        message: String,
    },
}

impl ConfigError {
    /// The `InvalidValue` for `setting`, with the value and the reason.
    pub(crate) fn invalid(setting: &str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            setting: setting.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
