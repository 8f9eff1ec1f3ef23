//! Reading a whole tree into manifest entries (baseline, publish, `diff --live`).
//!
//! The walk resolves every directory with `O_NOFOLLOW` from its parent's
//! handle and records symlinks as links; regular files (known from the
//! directory listing's type, so they are not `stat`ed twice) are gathered
//! in batches of a few thousand and read, hashed with BLAKE3 and, when
//! asked, stored in the vault by every core at once. A batch also bounds
//! the directory handles held open. Files that vanish mid-walk are counted,
//! not fatal; the guard's own temporary files are skipped. It does not
//! compare or repair anything (see `repair`).
//!
//! With a vault, new content goes into one new pack (`pack`) that is made
//! durable before [`scan_tree`] returns: the caller writes the manifest
//! naming it only afterwards, so a crash at any point leaves either no new
//! version or a version whose every content is on disk.

use crate::data::{Vault, VaultWriter};
use crate::error::{GuardError, Result, io_at};
use crate::fsops::{self, TEMP_PREFIX};
use crate::manifest::{Entry, EntryKind};
use crate::policy::Policy;
use crate::relpath::RelPath;
use rayon::prelude::*;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::FileType;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

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

/// Files read per batch: enough that the cores rarely wait for each other
/// at the end of a batch.
const BATCH_FILES: usize = 8192;

/// Directory handles a batch may hold open: with the batches in flight and
/// the one being gathered, well under the usual limit of 1024 descriptors.
const BATCH_DIRS: usize = 128;

/// Batches being read while the walk gathers the next one.
const IN_FLIGHT: usize = 2;

/// Opens the directory at `rel` from the root, one `O_NOFOLLOW` step at a time.
pub(crate) fn open_rel_dir(root: &OwnedFd, rel: &RelPath) -> std::io::Result<OwnedFd> {
    let mut fd = rustix::io::dup(root).map_err(std::io::Error::from)?;
    for name in rel.components() {
        fd = fsops::open_dir_at(fd.as_fd(), name)?;
    }
    Ok(fd)
}

/// Walks the tree at `root_path`, leaving out what the policy excludes.
/// With a vault, every file's content is stored in it, durably, before
/// this returns.
pub fn scan_tree(
    root_path: &Path,
    policy: &Policy,
    vault: Option<&Vault>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput> {
    let started = std::time::Instant::now();
    let writer = vault.map(Vault::writer).transpose()?;
    let output = walk(root_path, policy, writer.as_ref(), progress)?;
    let walked = started.elapsed();
    if let Some(writer) = writer {
        writer.finish()?;
    }
    tracing::debug!(
        root = %root_path.display(),
        entries = output.entries.len(),
        "scan: walk, read and hash {:.3} s; vault content made durable {:.3} s",
        walked.as_secs_f64(),
        (started.elapsed() - walked).as_secs_f64()
    );
    Ok(output)
}

/// What reading a batch gives: each file's path and entry, `None` for one
/// that vanished.
type ReadFiles = Vec<Option<(RelPath, Entry)>>;

/// Regular files waiting to be read, with the handle of their directory.
#[derive(Default)]
struct Batch {
    files: Vec<(Arc<OwnedFd>, RelPath)>,
    dirs: usize,
}

fn walk(
    root_path: &Path,
    policy: &Policy,
    writer: Option<&VaultWriter>,
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
    let mut batch = Batch::default();
    // Batches are read on the pool while this thread walks on, at most
    // IN_FLIGHT at a time (the walk waits for a free slot).
    let read: Mutex<Vec<ReadFiles>> = Mutex::default();
    let failure: Mutex<Option<GuardError>> = Mutex::default();
    let (give_back, slots) = sync_channel::<()>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = give_back.send(());
    }
    // On a pool thread (not how the guard calls it) waiting for a slot could
    // starve the pool: read each batch there and then instead.
    let pipelined = rayon::current_thread_index().is_none();
    let failed = |failure: &Mutex<Option<GuardError>>| {
        failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some()
    };
    rayon::in_place_scope(|scope| -> Result<()> {
        let dispatch = |batch: Batch| -> Result<()> {
            if batch.files.is_empty() {
                return Ok(());
            }
            let count = batch.files.len() as u64;
            if !pipelined {
                let files = read_batch(batch, root_path, writer)?;
                read.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(files);
                progress(count);
                return Ok(());
            }
            let _ = slots.recv();
            let (read, failure, give_back) = (&read, &failure, give_back.clone());
            scope.spawn(move |_| {
                match read_batch(batch, root_path, writer) {
                    Ok(files) => read
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(files),
                    Err(error) => {
                        failure
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .get_or_insert(error);
                    }
                }
                progress(count);
                let _ = give_back.send(());
            });
            Ok(())
        };
        // The root's own listing first.
        let mut next: Option<(Arc<OwnedFd>, RelPath)> = Some((root.clone(), RelPath::root()));
        loop {
            let (dir_fd, dir_rel) = match next.take() {
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
            let names = match fsops::list_dir_typed(dir_fd.as_fd()) {
                Ok(names) => names,
                Err(error) if is_vanished(&error) => {
                    output.vanished += 1;
                    continue;
                }
                Err(error) => return Err(io_at(at(&dir_rel))(error)),
            };
            let depth = dir_rel.components().count() + 1;
            let files_before = batch.files.len();
            for (name, listed) in names {
                if name.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let rel = dir_rel.join(&name);
                if policy.is_excluded(&rel) {
                    continue;
                }
                if listed == FileType::RegularFile {
                    // Opened with O_NOFOLLOW and checked when it is read.
                    batch.files.push((dir_fd.clone(), rel));
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
                    FileType::RegularFile => batch.files.push((dir_fd.clone(), rel)),
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
            if batch.files.len() > files_before {
                batch.dirs += 1;
            }
            if batch.files.len() >= BATCH_FILES || batch.dirs >= BATCH_DIRS {
                dispatch(std::mem::take(&mut batch))?;
                if failed(&failure) {
                    break;
                }
            }
        }
        if failed(&failure) {
            return Ok(());
        }
        dispatch(batch)
    })?;
    // Every batch has been read (the scope waited for them).
    if let Some(error) = failure
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        return Err(error);
    }
    for files in read
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        for file in files {
            match file {
                Some((rel, entry)) => {
                    output.entries.insert(rel, entry);
                }
                None => output.vanished += 1,
            }
        }
    }
    Ok(output)
}

/// Reads, hashes and (with a writer) stores a batch of files on every
/// core; `None` for a file that vanished.
fn read_batch(batch: Batch, root_path: &Path, writer: Option<&VaultWriter>) -> Result<ReadFiles> {
    let at = |rel: &RelPath| -> PathBuf {
        root_path.join(String::from_utf8_lossy(rel.as_bytes()).as_ref())
    };
    let read: Vec<Result<Option<(RelPath, Entry)>>> = batch
        .files
        .par_iter()
        .map_init(Vec::new, |buffer, (dir, rel)| {
            let Some(stat) = fsops::read_file_into(dir.as_fd(), rel.file_name(), buffer)
                .map_err(io_at(at(rel)))?
            else {
                return Ok(None);
            };
            let hash = blake3::hash(buffer);
            if let Some(writer) = writer {
                writer.add(hash.as_bytes(), buffer)?;
            }
            let mut entry = fsops::entry_of(&stat, Some(hash.to_hex().to_string()), None);
            if let EntryKind::File { size, .. } = &mut entry.kind {
                *size = buffer.len() as u64;
            }
            Ok::<_, GuardError>(Some((rel.clone(), entry)))
        })
        .collect();
    read.into_iter().collect()
}

fn is_vanished(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::NOENT.raw_os_error()
            || code == rustix::io::Errno::NOTDIR.raw_os_error()
            || code == rustix::io::Errno::LOOP.raw_os_error()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::GuardData;

    /// More directories than one batch may hold: the walk hands several
    /// batches to the pool while it goes on, and nothing is lost.
    #[test]
    fn a_tree_of_many_batches_is_read_whole_into_the_vault() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("www");
        let dirs = BATCH_DIRS * 2 + 7;
        for dir in 0..dirs {
            let path = root.join(format!("d{}", dir % 10)).join(format!("s{dir}"));
            std::fs::create_dir_all(&path).unwrap();
            for file in 0..3 {
                std::fs::write(path.join(format!("{file}.html")), format!("{dir}/{file}")).unwrap();
            }
        }
        let data = GuardData::open(&tmp.path().join("data")).unwrap();
        let vault = data.vault();
        let files = std::sync::atomic::AtomicU64::new(0);
        let output = scan_tree(
            &root,
            &Policy::new(&[], &[]).unwrap(),
            Some(&vault),
            &|count| {
                files.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            },
        )
        .unwrap();
        assert_eq!(files.into_inner(), dirs as u64 * 3);
        assert_eq!(output.vanished, 0);
        // The root, 10 top directories, `dirs` subdirectories, their files.
        assert_eq!(output.entries.len(), 1 + 10 + dirs + dirs * 3);
        for (path, entry) in &output.entries {
            if let Some(hash) = entry.kind.blake3() {
                // d3/s13/2.html holds "13/2".
                let text = path.to_string();
                let (dir, file) = text.rsplit_once('/').unwrap();
                let dir = dir.rsplit('/').next().unwrap().trim_start_matches('s');
                let expected = format!("{dir}/{}", file.trim_end_matches(".html"));
                assert_eq!(vault.get(hash).unwrap(), expected.as_bytes(), "{path}");
            }
        }
    }
}
