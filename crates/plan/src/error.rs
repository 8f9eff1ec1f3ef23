//! The errors a plan file can produce.
//!
//! A [`PlanError`] names one problem by its path in the file
//! (`sites[1].pages[0].url`) so the person fixing the file can find it;
//! [`PlanErrors`] is every problem found in one pass, because a plan is
//! fixed faster when all its problems are listed at once.

use std::fmt;
use std::path::PathBuf;

/// One problem in the plan, at a path in the file.
///
/// `path` is the key path in TOML terms: keys joined by `.`, array elements
/// as `[index]` (0-based), keys that are not bare TOML keys in quotes, e.g.
/// `sites[1].pages[0].url` or `probe.resolve."portal.example.gov.test"`.
/// A syntax error has `line:column` as its path. When the position in the
/// file is known, `message` ends with ` (line N)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlanError {
    /// Where in the file the problem is.
    pub path: String,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl PlanError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PlanError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in a plan, in the order of the file where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PlanErrors(pub Vec<PlanError>);

impl PlanErrors {
    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, PlanError> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true of an error returned by this crate).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One problem per line.
impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl IntoIterator for PlanErrors {
    type Item = PlanError;
    type IntoIter = std::vec::IntoIter<PlanError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a PlanErrors {
    type Item = &'a PlanError;
    type IntoIter = std::slice::Iter<'a, PlanError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Why a plan file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read plan {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file was read but is not a valid plan. Displayed as one
    /// `FILE: PATH: MESSAGE` line per problem, like a compiler.
    #[error("{}", prefix_lines(path, errors))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        errors: PlanErrors,
    },
}

fn prefix_lines(path: &std::path::Path, errors: &PlanErrors) -> String {
    errors
        .iter()
        .map(|error| format!("{}: {error}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}
