//! The manifest: what an approved web root consists of.
//!
//! A [`Manifest`] is one numbered version of a root: every file, directory
//! and symbolic link with its kind, size, permission bits, owner, BLAKE3 hash
//! and link target, plus the exclusions and upload areas it was approved
//! with. [`diff`] compares two of them. This module is pure: reading trees and
//! writing manifests to disk live in `scan` and `data`.

use crate::relpath::{RelPath, escaped_bytes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a path is, with what identifies its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// BLAKE3 of the content, lowercase hex (the vault key).
        blake3: String,
    },
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink {
        /// The link's target, as bytes.
        #[serde(with = "escaped_bytes")]
        target: Vec<u8>,
    },
    /// A FIFO, socket or device node: recorded so that one appearing is
    /// noticed, never restored.
    Special,
}

impl EntryKind {
    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::Special => "special",
        }
    }

    /// The BLAKE3 of a file's content, if this is a file.
    pub fn blake3(&self) -> Option<&str> {
        match self {
            EntryKind::File { blake3, .. } => Some(blake3),
            _ => None,
        }
    }
}

/// One path of a root as approved (or as found live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Kind and content identity.
    #[serde(flatten)]
    pub kind: EntryKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
}

impl Entry {
    /// True when kind and content match (metadata aside).
    pub fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind
    }

    /// True when permission bits and owner match. A symlink's own mode is
    /// not meaningful on Linux and is ignored.
    pub fn same_metadata(&self, other: &Entry) -> bool {
        let mode_matters = !matches!(self.kind, EntryKind::Symlink { .. });
        (!mode_matters || self.mode == other.mode) && self.uid == other.uid && self.gid == other.gid
    }
}

/// One approved version of a web root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of this document (1).
    pub format: u32,
    /// Version number within the root, from 1.
    pub version: u64,
    /// The plan's site name the root belongs to (signals are raised on it).
    pub site: String,
    /// The root directory as given when the version was approved.
    pub root: String,
    /// When it was approved (Unix ms).
    pub approved_at_ms: i64,
    /// Who approved it.
    pub approved_by: String,
    /// How it came about: `baseline`, `publish`, `publish --from DIR`, `rollback to 3`…
    pub note: String,
    /// Glob patterns (relative paths) left out of the manifest and never guarded.
    pub excludes: Vec<String>,
    /// Directories where new non-script files are allowed (uploads).
    pub upload_dirs: Vec<RelPath>,
    /// Every path, sorted bytewise (the root itself is the empty path).
    pub entries: BTreeMap<RelPath, Entry>,
}

impl Manifest {
    /// The approved entries strictly below `dir`, in order.
    pub fn below<'a>(&'a self, dir: &RelPath) -> impl Iterator<Item = (&'a RelPath, &'a Entry)> {
        let start = if dir.is_root() {
            std::ops::Bound::Excluded(RelPath::root())
        } else {
            std::ops::Bound::Excluded(dir.clone())
        };
        let end = if dir.is_root() {
            std::ops::Bound::Unbounded
        } else {
            std::ops::Bound::Excluded(
                RelPath::from_bytes(&dir.subtree_end()).unwrap_or_else(|_| dir.clone()),
            )
        };
        self.entries
            .range((start, end))
            .filter(move |(path, _)| path.starts_with(dir))
    }

    /// The approved entries directly inside `dir`.
    pub fn children<'a>(
        &'a self,
        dir: &'a RelPath,
    ) -> impl Iterator<Item = (&'a RelPath, &'a Entry)> {
        self.below(dir)
            .filter(move |(path, _)| path.parent().as_ref() == Some(dir))
    }

    /// Number of regular files and their total size.
    pub fn file_totals(&self) -> (u64, u64) {
        self.entries
            .values()
            .filter_map(|entry| match entry.kind {
                EntryKind::File { size, .. } => Some(size),
                _ => None,
            })
            .fold((0, 0), |(count, bytes), size| (count + 1, bytes + size))
    }
}

/// One difference between two versions (or a version and the live tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Present only in the newer one.
    Added {
        /// The path.
        path: RelPath,
        /// Its kind.
        kind: String,
    },
    /// Present only in the older one.
    Removed {
        /// The path.
        path: RelPath,
        /// Its kind.
        kind: String,
    },
    /// Kind or content differs.
    Modified {
        /// The path.
        path: RelPath,
        /// Old kind and hash or target.
        from: String,
        /// New kind and hash or target.
        to: String,
    },
    /// Only mode or owner differs.
    Metadata {
        /// The path.
        path: RelPath,
        /// Old `mode uid:gid`.
        from: String,
        /// New `mode uid:gid`.
        to: String,
    },
}

fn describe(entry: &Entry) -> String {
    match &entry.kind {
        EntryKind::File { size, blake3 } => {
            format!("file {size} bytes {}", &blake3[..blake3.len().min(16)])
        }
        EntryKind::Symlink { target } => format!("symlink -> {}", crate::relpath::escape(target)),
        other => other.name().to_string(),
    }
}

fn describe_metadata(entry: &Entry) -> String {
    format!("{:04o} {}:{}", entry.mode, entry.uid, entry.gid)
}

/// Every difference from `old` to `new`, in path order.
pub fn diff(old: &BTreeMap<RelPath, Entry>, new: &BTreeMap<RelPath, Entry>) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut old_iter = old.iter().peekable();
    let mut new_iter = new.iter().peekable();
    loop {
        let order = match (old_iter.peek(), new_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            std::cmp::Ordering::Less => {
                let (path, entry) = old_iter.next().expect("peeked");
                changes.push(Change::Removed {
                    path: path.clone(),
                    kind: entry.kind.name().to_string(),
                });
            }
            std::cmp::Ordering::Greater => {
                let (path, entry) = new_iter.next().expect("peeked");
                changes.push(Change::Added {
                    path: path.clone(),
                    kind: entry.kind.name().to_string(),
                });
            }
            std::cmp::Ordering::Equal => {
                let (path, before) = old_iter.next().expect("peeked");
                let (_, after) = new_iter.next().expect("peeked");
                if !before.same_content(after) {
                    changes.push(Change::Modified {
                        path: path.clone(),
                        from: describe(before),
                        to: describe(after),
                    });
                } else if !before.same_metadata(after) {
                    changes.push(Change::Metadata {
                        path: path.clone(),
                        from: describe_metadata(before),
                        to: describe_metadata(after),
                    });
                }
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hash: &str, mode: u32) -> Entry {
        Entry {
            kind: EntryKind::File {
                size: 1,
                blake3: hash.to_string(),
            },
            mode,
            uid: 0,
            gid: 0,
        }
    }

    fn tree(items: &[(&str, Entry)]) -> BTreeMap<RelPath, Entry> {
        items
            .iter()
            .map(|(path, entry)| (RelPath::parse(path).unwrap(), entry.clone()))
            .collect()
    }

    #[test]
    fn diff_names_every_kind_of_change() {
        let old = tree(&[
            ("a.html", file("aa", 0o644)),
            ("b.html", file("bb", 0o644)),
            ("c.html", file("cc", 0o644)),
        ]);
        let new = tree(&[
            ("a.html", file("aa", 0o777)),
            ("b.html", file("b2", 0o644)),
            ("d.php", file("dd", 0o644)),
        ]);
        let kinds: Vec<(String, &str)> = diff(&old, &new)
            .into_iter()
            .map(|change| match change {
                Change::Added { path, .. } => (path.to_string(), "added"),
                Change::Removed { path, .. } => (path.to_string(), "removed"),
                Change::Modified { path, .. } => (path.to_string(), "modified"),
                Change::Metadata { path, .. } => (path.to_string(), "metadata"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("a.html".to_string(), "metadata"),
                ("b.html".to_string(), "modified"),
                ("c.html".to_string(), "removed"),
                ("d.php".to_string(), "added"),
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn below_and_children_stay_inside_the_directory() {
        let manifest = Manifest {
            format: 1,
            version: 1,
            site: "portal".into(),
            root: "/srv/www".into(),
            approved_at_ms: 0,
            approved_by: "test".into(),
            note: String::new(),
            excludes: vec![],
            upload_dirs: vec![],
            entries: tree(&[
                ("", file("r", 0o755)),
                ("a", file("x", 0o644)),
                ("a/b", file("x", 0o644)),
                ("a/b/c", file("x", 0o644)),
                ("a-z", file("x", 0o644)),
                ("a0", file("x", 0o644)),
                ("ab", file("x", 0o644)),
            ]),
        };
        let a = RelPath::parse("a").unwrap();
        let below: Vec<String> = manifest.below(&a).map(|(p, _)| p.to_string()).collect();
        assert_eq!(below, vec!["a/b", "a/b/c"]);
        let children: Vec<String> = manifest.children(&a).map(|(p, _)| p.to_string()).collect();
        assert_eq!(children, vec!["a/b"]);
        let root = RelPath::root();
        let top: Vec<String> = manifest
            .children(&root)
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(top, vec!["a", "a-z", "a0", "ab"]);
    }
}
