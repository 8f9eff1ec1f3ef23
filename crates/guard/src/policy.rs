//! What to do about one path: the guard's pure decision.
//!
//! [`decide`] takes the approved entry and the live one (either may be
//! absent) and the root's [`Policy`], and says what the repair must do. It
//! does no I/O, so every technique of the issue is a row in a table test.
//! Carrying the decision out is `repair`'s job.

use crate::manifest::{Entry, EntryKind};
use crate::relpath::RelPath;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// File name extensions that a web server may execute. A new file with one
/// of these is a web shell until proven otherwise, even in an upload area.
/// Double extensions (`x.php.jpg`) count too, since misconfigured servers
/// run them.
pub const SCRIPT_EXTENSIONS: &[&str] = &[
    "php", "php3", "php4", "php5", "php7", "phtml", "phar", "jsp", "jspx", "asp", "aspx", "ashx",
    "asmx", "cer", "cgi", "pl", "sh", "py",
];

/// True when a file name has a script extension anywhere after its first dot.
pub fn is_script(name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    name.split('.')
        .skip(1)
        .any(|extension| SCRIPT_EXTENSIONS.contains(&extension.trim_end()))
}

/// The root's rules: what is not guarded, where uploads may appear.
#[derive(Debug, Clone)]
pub struct Policy {
    excludes: GlobSet,
    upload_dirs: Vec<RelPath>,
}

/// A glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("exclude pattern {pattern:?}: {source}")]
pub struct BadGlob {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub source: globset::Error,
}

impl Policy {
    /// Builds the rules from exclude globs (matched against relative paths
    /// written as text) and upload directories.
    pub fn new(excludes: &[String], upload_dirs: &[RelPath]) -> Result<Policy, BadGlob> {
        let mut builder = GlobSetBuilder::new();
        for pattern in excludes {
            let glob = Glob::new(pattern).map_err(|source| BadGlob {
                pattern: pattern.clone(),
                source,
            })?;
            builder.add(glob);
        }
        let excludes = builder.build().map_err(|source| BadGlob {
            pattern: excludes.join(", "),
            source,
        })?;
        Ok(Policy {
            excludes,
            upload_dirs: upload_dirs.to_vec(),
        })
    }

    /// True when the path is left out of the manifest and never guarded.
    pub fn is_excluded(&self, path: &RelPath) -> bool {
        !path.is_root() && !self.excludes.is_empty() && self.excludes.is_match(path.to_string())
    }

    /// True when the path lies strictly inside an upload area.
    pub fn in_upload_area(&self, path: &RelPath) -> bool {
        self.upload_dirs
            .iter()
            .any(|dir| path != dir && path.starts_with(dir))
    }
}

/// Why a path is repaired, as the signal and the report say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// An approved path is gone (deleted, renamed away).
    Deleted,
    /// An approved file's content changed (overwrite, truncate, append, replace).
    Modified,
    /// An approved path is now something else (a file became a symlink, a
    /// directory became a symlink or a file…).
    Replaced,
    /// Mode or owner changed.
    Metadata,
    /// A path that is not approved appeared.
    Added,
    /// A script appeared: a web shell, even in an upload area.
    AddedScript,
}

impl Tamper {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Deleted => "deleted",
            Tamper::Modified => "modified",
            Tamper::Replaced => "replaced",
            Tamper::Metadata => "metadata",
            Tamper::Added => "added",
            Tamper::AddedScript => "added_script",
        }
    }
}

/// What the repair must do about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Live equals approved (or the path is excluded).
    Nothing,
    /// A new file in an upload area that is allowed to stay.
    AllowUpload,
    /// Put the approved entry back; nothing live to keep.
    Restore(Tamper),
    /// Quarantine what is live, then put the approved entry back.
    QuarantineAndRestore(Tamper),
    /// Put back the approved mode and owner.
    RevertMetadata,
    /// Quarantine what is live and leave nothing in its place.
    Quarantine(Tamper),
}

/// Decides what to do about `path`, given what was approved and what is there.
pub fn decide(
    path: &RelPath,
    approved: Option<&Entry>,
    live: Option<&Entry>,
    policy: &Policy,
) -> Decision {
    if policy.is_excluded(path) {
        return Decision::Nothing;
    }
    match (approved, live) {
        (None, None) => Decision::Nothing,
        (Some(_), None) => Decision::Restore(Tamper::Deleted),
        (None, Some(live)) => {
            let script = matches!(live.kind, EntryKind::File { .. }) && is_script(path.file_name());
            let harmless_kind = matches!(live.kind, EntryKind::File { .. } | EntryKind::Dir);
            if script {
                Decision::Quarantine(Tamper::AddedScript)
            } else if harmless_kind && policy.in_upload_area(path) {
                Decision::AllowUpload
            } else {
                Decision::Quarantine(Tamper::Added)
            }
        }
        (Some(approved), Some(live)) => {
            if approved.same_content(live) {
                if approved.same_metadata(live) {
                    Decision::Nothing
                } else {
                    Decision::RevertMetadata
                }
            } else if std::mem::discriminant(&approved.kind) == std::mem::discriminant(&live.kind) {
                match approved.kind {
                    // A directory cannot differ in content; a special node is never restored.
                    EntryKind::Dir => Decision::Nothing,
                    _ => Decision::QuarantineAndRestore(Tamper::Modified),
                }
            } else {
                Decision::QuarantineAndRestore(Tamper::Replaced)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hash: &str, mode: u32) -> Entry {
        Entry {
            kind: EntryKind::File {
                size: 3,
                blake3: hash.into(),
            },
            mode,
            uid: 33,
            gid: 33,
        }
    }
    fn dir() -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 33,
            gid: 33,
        }
    }
    fn link(target: &str) -> Entry {
        Entry {
            kind: EntryKind::Symlink {
                target: target.as_bytes().to_vec(),
            },
            mode: 0o777,
            uid: 33,
            gid: 33,
        }
    }

    fn check(path: &str, approved: Option<Entry>, live: Option<Entry>, expected: Decision) {
        let policy = Policy::new(
            &["cache/**".to_string()],
            &[RelPath::parse("uploads").unwrap()],
        )
        .unwrap();
        let path = RelPath::parse(path).unwrap();
        assert_eq!(
            decide(&path, approved.as_ref(), live.as_ref(), &policy),
            expected,
            "{path}"
        );
    }

    #[test]
    fn every_technique_has_its_decision() {
        use Decision::*;
        check(
            "index.html",
            Some(file("a", 0o644)),
            Some(file("a", 0o644)),
            Nothing,
        );
        // overwrite, truncate, append, atomic replace via rename
        check(
            "index.html",
            Some(file("a", 0o644)),
            Some(file("b", 0o644)),
            QuarantineAndRestore(Tamper::Modified),
        );
        // delete, rename away, delete a directory
        check(
            "index.html",
            Some(file("a", 0o644)),
            None,
            Restore(Tamper::Deleted),
        );
        check("news", Some(dir()), None, Restore(Tamper::Deleted));
        // chmod 777, chown
        check(
            "index.html",
            Some(file("a", 0o644)),
            Some(file("a", 0o777)),
            RevertMetadata,
        );
        check(
            "news",
            Some(dir()),
            Some(Entry { uid: 0, ..dir() }),
            RevertMetadata,
        );
        // a file or a directory replaced by a symlink
        check(
            "index.html",
            Some(file("a", 0o644)),
            Some(link("/etc/passwd")),
            QuarantineAndRestore(Tamper::Replaced),
        );
        check(
            "news",
            Some(dir()),
            Some(link("/etc")),
            QuarantineAndRestore(Tamper::Replaced),
        );
        check(
            "latest",
            Some(link("v1")),
            Some(link("v2")),
            QuarantineAndRestore(Tamper::Modified),
        );
        check(
            "news",
            Some(dir()),
            Some(file("a", 0o644)),
            QuarantineAndRestore(Tamper::Replaced),
        );
        // added files: a web shell, a page, a script in the upload area, an allowed upload
        check(
            "shell.php",
            None,
            Some(file("x", 0o644)),
            Quarantine(Tamper::AddedScript),
        );
        check(
            "new.html",
            None,
            Some(file("x", 0o644)),
            Quarantine(Tamper::Added),
        );
        check(
            "uploads/x.php",
            None,
            Some(file("x", 0o644)),
            Quarantine(Tamper::AddedScript),
        );
        check(
            "uploads/2024/x.PhP.jpg",
            None,
            Some(file("x", 0o644)),
            Quarantine(Tamper::AddedScript),
        );
        check(
            "uploads/photo.jpg",
            None,
            Some(file("x", 0o644)),
            AllowUpload,
        );
        check("uploads/2024", None, Some(dir()), AllowUpload);
        check(
            "uploads/evil",
            None,
            Some(link("/etc/passwd")),
            Quarantine(Tamper::Added),
        );
        check("newdir", None, Some(dir()), Quarantine(Tamper::Added));
        // excluded paths are never touched
        check("cache/page.html", None, Some(file("x", 0o644)), Nothing);
        check("cache/page.html", Some(file("a", 0o644)), None, Nothing);
    }

    #[test]
    fn scripts_by_extension() {
        for (name, script) in [
            ("a.php", true),
            ("A.ASPX", true),
            ("run.sh", true),
            ("x.php.jpg", true),
            ("index.html", false),
            ("php", false),
            ("photo.jpeg", false),
            ("archive.tar.gz", false),
        ] {
            assert_eq!(is_script(name.as_bytes()), script, "{name}");
        }
    }
}
