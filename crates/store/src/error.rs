//! What can go wrong in the store, and on what.

use std::path::PathBuf;

/// A store failure, naming the file, column or record it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or a file in it could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: sqlx::Error,
    },
    /// A migration failed; the database is left as the last good migration left it.
    #[error("cannot migrate the database {path}: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored JSON column no longer parses.
    #[error("stored {column} is not valid JSON: {source}")]
    CorruptJson {
        /// The column.
        column: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A stored value is not one this version knows.
    #[error("stored {column} has an unknown value: {message}")]
    CorruptValue {
        /// The column.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A blob's bytes no longer match the hash it is stored under.
    #[error("blob {sha256} at {path} is corrupt: its content hashes to {actual}")]
    CorruptBlob {
        /// The hash it is stored under.
        sha256: String,
        /// Where it is.
        path: PathBuf,
        /// What its content hashes to now.
        actual: String,
    },
    /// A blob that a record names is missing.
    #[error("blob {sha256} is missing from {path}")]
    MissingBlob {
        /// The hash.
        sha256: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// A name that must be a SHA-256 hex digest is not one.
    #[error("{0:?} is not a SHA-256 hex digest")]
    BadDigest(String),
}
