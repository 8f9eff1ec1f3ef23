//! The crate's one error type. Only I/O on the log files and the offset
//! store can fail: a bad *line* is never an error, it is counted and
//! sampled in the report.

use std::path::PathBuf;

/// What failed, and on which file.
#[derive(Debug, thiserror::Error)]
pub enum LogwatchError {
    /// A log file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not usable (a format string that does not
    /// compile, an allowlist entry that is not an address or CIDR, a
    /// scenario with a zero capacity…). Every problem is listed.
    #[error("invalid logwatch configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The offset store failed to load or save.
    #[error("offset store: {0}")]
    OffsetStore(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = LogwatchError> = std::result::Result<T, E>;

impl LogwatchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogwatchError::Io {
            path: path.into(),
            source,
        }
    }
}
