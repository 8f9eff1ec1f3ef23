//! The crate's one error type: which backend, which site, what failed, and
//! (for the nginx backend) whether what it wrote was undone.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::process::CommandRun;

/// Why a switch did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ContainError {
    /// The backend's settings cannot work. Found when the backend is made
    /// or prepared, before anything is changed.
    #[error("{backend} backend: {message}")]
    InvalidConfig {
        /// The backend's name.
        backend: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A file could not be read or written.
    #[error("{backend} backend, site {site}: could not {action} {}: {source}", path.display())]
    File {
        /// The backend's name.
        backend: &'static str,
        /// The site's id.
        site: String,
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A program could not be started (not found, not executable).
    #[error("{backend} backend, site {site}: {step}: could not start `{program}`: {source}")]
    Spawn {
        /// The backend's name.
        backend: &'static str,
        /// The site's id.
        site: String,
        /// What the program was for (`configuration test`, `reload`, `command`).
        step: &'static str,
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A program ran and failed: a nonzero exit, a signal, or a timeout.
    #[error("{backend} backend, site {site}: {step} failed: {run}")]
    Failed {
        /// The backend's name.
        backend: &'static str,
        /// The site's id.
        site: String,
        /// What the program was for (`configuration test`, `reload`, `command`).
        step: &'static str,
        /// The run: argv, exit, the end of stdout and stderr.
        run: Box<CommandRun>,
    },

    /// nginx's configuration tested fine but does not include the include
    /// file, so switching it would change nothing.
    #[error(
        "nginx backend, site {site}: nginx's configuration does not include {}: \
         add `include {};` as the first line of the site's server {{}} block",
        include_path.display(),
        include_path.display()
    )]
    NotIncluded {
        /// The site's id.
        site: String,
        /// The include file the backend writes.
        include_path: PathBuf,
    },

    /// A step failed after the backend had changed something; the change
    /// was undone (or undoing it failed: see `rollback`).
    #[error("{cause}; {rollback}")]
    RolledBack {
        /// What failed.
        cause: Box<ContainError>,
        /// What became of the change.
        rollback: Rollback,
    },
}

impl ContainError {
    /// The failed program run behind this error, if a program failed.
    pub fn run(&self) -> Option<&CommandRun> {
        match self {
            ContainError::Failed { run, .. } => Some(run),
            ContainError::RolledBack { cause, .. } => cause.run(),
            _ => None,
        }
    }
}

/// What became of a change after a later step failed.
#[derive(Debug)]
pub enum Rollback {
    /// The previous files were put back before nginx was reloaded: nginx
    /// still runs the previous configuration.
    Restored,
    /// The previous files were put back and nginx was reloaded with them.
    RestoredAndReloaded,
    /// The previous files were put back, but reloading nginx with them
    /// failed too.
    ReloadFailed(Box<ContainError>),
    /// Putting a previous file back failed: the new file is on disk, and
    /// nginx will read it at its next reload. Fix it by hand.
    RestoreFailed {
        /// The file that could not be put back.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl fmt::Display for Rollback {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rollback::Restored => formatter.write_str(
                "the previous include was put back; nginx was not reloaded and runs the previous configuration",
            ),
            Rollback::RestoredAndReloaded => formatter
                .write_str("the previous include was put back and nginx reloaded with it"),
            Rollback::ReloadFailed(error) => write!(
                formatter,
                "the previous include was put back, but reloading nginx with it failed too ({error}); \
                 check which configuration nginx runs"
            ),
            Rollback::RestoreFailed { path, source } => write!(
                formatter,
                "PUTTING THE PREVIOUS FILE BACK FAILED ({}: {source}): the new file is on disk and \
                 nginx will read it at its next reload; fix it by hand",
                path.display()
            ),
        }
    }
}
