//! Reading a whole tree into manifest entries (baseline, publish, `diff --live`).
//!
//! The walk resolves every directory with `O_NOFOLLOW` from its parent's
//! handle, records symlinks as links, hashes regular files with BLAKE3 (the
//! files of one directory in parallel) and, when asked, stores their content
//! in the vault. Files that vanish mid-walk are counted, not fatal; the
//! guard's own temporary files are skipped. It does not compare or repair
//! anything (see `repair`).

use crate::data::{Vault, blake3_hex};
use crate::error::{GuardError, Result, io_at};
use crate::fsops::{self, TEMP_PREFIX};
use crate::manifest::{Entry, EntryKind};
use crate::policy::Policy;
use crate::relpath::RelPath;
use rayon::prelude::*;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::FileType;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What a walk found.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Every path, the root included (as the empty path).
    pub entries: BTreeMap<RelPath, Entry>,
    /// Paths that disappeared between being listed and being read.
    pub vanished: u64,
}

/// Beyond this depth directory handles are reopened from the root instead of
/// kept open, so a very deep tree cannot exhaust file descriptors.
const MAX_HELD_DEPTH: usize = 128;

/// Opens the directory at `rel` from the root, one `O_NOFOLLOW` step at a time.
pub(crate) fn open_rel_dir(root: &OwnedFd, rel: &RelPath) -> std::io::Result<OwnedFd> {
    let mut fd = rustix::io::dup(root).map_err(std::io::Error::from)?;
    for name in rel.components() {
        fd = fsops::open_dir_at(fd.as_fd(), name)?;
    }
    Ok(fd)
}

/// Walks the tree at `root_path`, leaving out what the policy excludes.
/// With a vault, every file's content is stored in it (and the vault synced
/// before returning).
pub fn scan_tree(
    root_path: &Path,
    policy: &Policy,
    vault: Option<&Vault>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput> {
    let root = fsops::open_dir_path(root_path).map_err(io_at(root_path))?;
    let mut output = ScanOutput::default();
    let root_stat = fsops::fstat(root.as_fd()).map_err(io_at(root_path))?;
    output
        .entries
        .insert(RelPath::root(), fsops::entry_of(&root_stat, None, None));
    let mut stack: Vec<(Option<Arc<OwnedFd>>, RelPath)> = Vec::new();
    let root = Arc::new(root);
    let at = |rel: &RelPath| root_path.join(String::from_utf8_lossy(rel.as_bytes()).as_ref());
    // The root's own listing.
    let mut pending: Vec<(Arc<OwnedFd>, RelPath)> = vec![(root.clone(), RelPath::root())];
    loop {
        let (dir_fd, dir_rel) = match pending.pop() {
            Some(item) => item,
            None => match stack.pop() {
                None => break,
                Some((parent, rel)) => {
                    let opened = match parent {
                        Some(parent) => fsops::open_dir_at(parent.as_fd(), rel.file_name()),
                        None => open_rel_dir(&root, &rel),
                    };
                    match opened {
                        Ok(fd) => (Arc::new(fd), rel),
                        Err(error) if is_vanished(&error) => {
                            output.vanished += 1;
                            output.entries.remove(&rel);
                            continue;
                        }
                        Err(error) => return Err(io_at(at(&rel))(error)),
                    }
                }
            },
        };
        let names = match fsops::list_dir(dir_fd.as_fd()) {
            Ok(names) => names,
            Err(error) if is_vanished(&error) => {
                output.vanished += 1;
                continue;
            }
            Err(error) => return Err(io_at(at(&dir_rel))(error)),
        };
        let depth = dir_rel.components().count() + 1;
        let mut files = Vec::new();
        for name in names {
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let rel = dir_rel.join(&name);
            if policy.is_excluded(&rel) {
                continue;
            }
            let stat = match fsops::lstat_at(dir_fd.as_fd(), &name).map_err(io_at(at(&rel)))? {
                Some(stat) => stat,
                None => {
                    output.vanished += 1;
                    continue;
                }
            };
            match fsops::file_type(&stat) {
                FileType::RegularFile => files.push((name, rel)),
                FileType::Directory => {
                    output
                        .entries
                        .insert(rel.clone(), fsops::entry_of(&stat, None, None));
                    let parent = (depth < MAX_HELD_DEPTH).then(|| dir_fd.clone());
                    stack.push((parent, rel));
                }
                FileType::Symlink => {
                    match fsops::read_link_at(dir_fd.as_fd(), &name).map_err(io_at(at(&rel)))? {
                        Some(target) => {
                            output
                                .entries
                                .insert(rel, fsops::entry_of(&stat, None, Some(target)));
                        }
                        None => output.vanished += 1,
                    }
                }
                _ => {
                    output
                        .entries
                        .insert(rel, fsops::entry_of(&stat, None, None));
                }
            }
        }
        let hashed: Vec<std::result::Result<Option<(RelPath, Entry)>, GuardError>> = files
            .par_iter()
            .map(|(name, rel)| {
                let Some((bytes, stat)) =
                    fsops::read_file_at(dir_fd.as_fd(), name).map_err(io_at(at(rel)))?
                else {
                    return Ok(None);
                };
                let hash = blake3_hex(&bytes);
                if let Some(vault) = vault {
                    vault.put(&hash, &bytes)?;
                }
                let mut entry = fsops::entry_of(&stat, Some(hash), None);
                if let EntryKind::File { size, .. } = &mut entry.kind {
                    *size = bytes.len() as u64;
                }
                Ok(Some((rel.clone(), entry)))
            })
            .collect();
        let count = hashed.len() as u64;
        for item in hashed {
            match item? {
                Some((rel, entry)) => {
                    output.entries.insert(rel, entry);
                }
                None => output.vanished += 1,
            }
        }
        progress(count);
    }
    if let Some(vault) = vault {
        vault.sync()?;
    }
    Ok(output)
}

fn is_vanished(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::NOENT.raw_os_error()
            || code == rustix::io::Errno::NOTDIR.raw_os_error()
            || code == rustix::io::Errno::LOOP.raw_os_error()
    )
}
