//! What can go wrong in the guard, and on what.

use std::path::PathBuf;

/// A guard failure, naming the file, version or root it concerns.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A vault file's bytes no longer match the hash it is stored under; it
    /// must not be restored from.
    #[error(
        "vault file {path} is corrupt: stored as {blake3} but its content hashes to {actual}; refusing to restore from it"
    )]
    CorruptVault {
        /// The hash it is stored under.
        blake3: String,
        /// Where it is.
        path: PathBuf,
        /// What its content hashes to now.
        actual: String,
    },
    /// Packed vault content whose bytes no longer match its hash (or that
    /// the pack no longer holds whole); it must not be restored from.
    #[error(
        "vault content {blake3} in {pack} at offset {offset} is corrupt: its bytes hash to {actual}; refusing to restore from it"
    )]
    CorruptPack {
        /// The hash it is stored under.
        blake3: String,
        /// The pack file.
        pack: PathBuf,
        /// Where its bytes start in the pack.
        offset: u64,
        /// What its bytes hash to now.
        actual: String,
    },
    /// A manifest names content that is not in the vault.
    #[error("vault file {blake3} is missing ({path})")]
    MissingVault {
        /// The hash.
        blake3: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// A stored manifest does not parse.
    #[error("manifest {path} is unreadable: {source}")]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The root has no approved version yet.
    #[error("{root} has no approved version (run `sitewarden guard baseline --root {root}` first)")]
    NoBaseline {
        /// The root.
        root: String,
    },
    /// The asked-for version does not exist.
    #[error("{root} has no version {version}")]
    NoSuchVersion {
        /// The root.
        root: String,
        /// The version.
        version: u64,
    },
    /// An exclude pattern does not parse.
    #[error(transparent)]
    BadGlob(#[from] crate::policy::BadGlob),
    /// An upload directory is not a relative path inside the root.
    #[error("upload directory {0:?} is not a relative path inside the root")]
    BadUploadDir(String),
    /// The file watcher could not be started.
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The root.
        path: PathBuf,
        /// The underlying error.
        source: notify::Error,
    },
    /// Another guard process holds the root (a watcher, a publish).
    #[error("{0}")]
    Busy(String),
    /// An exported copy does not verify.
    #[error("export/import check failed: {0}")]
    Verify(String),
}

/// The result type of guard operations.
pub type Result<T> = std::result::Result<T, GuardError>;

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> GuardError {
    let path = path.into();
    move |source| GuardError::Io { path, source }
}
