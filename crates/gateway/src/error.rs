//! What can go wrong when starting or steering a gateway.

use std::path::PathBuf;

/// A gateway error, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration cannot work.
    #[error("gateway configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A certificate or key file is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sitewarden_store::StoreError),
    /// The control socket failed or the gateway refused a command.
    #[error("gateway control: {0}")]
    Control(String),
}
