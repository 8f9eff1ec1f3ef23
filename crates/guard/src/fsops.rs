//! File operations inside a web root that never follow a symbolic link.
//!
//! Every operation takes an open directory handle and a single file name,
//! openat-style: a path is resolved one component at a time with
//! `O_NOFOLLOW`, so a symlink planted anywhere in the root (to `/etc`, to
//! another site) is treated as the link it is and never as what it points
//! to, and nothing is ever written outside the root. Writes that replace a
//! file go to a file with no name yet (`O_TMPFILE`) in the same directory,
//! written whole and then renamed over the target, so a reader never sees
//! a half-written page and a full disk or a kill mid-write leaves nothing
//! behind; the caller fsyncs the file after the rename, off the repair path
//! (see [`write_file_atomic`]).
//!
//! This module knows nothing of manifests or policy beyond turning a
//! `stat` into an [`Entry`].

use crate::manifest::{Entry, EntryKind};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of the guard's own temporary files inside a root.
pub const TEMP_PREFIX: &[u8] = b".sitewarden-tmp.";

/// What a verified file looked like when its content was last hashed. A
/// file whose key is unchanged has not been written since (a write changes
/// `ctime`, which user space cannot set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatKey {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl StatKey {
    /// When the inode last changed (`ctime`, Unix ms): user space cannot
    /// set it back, so a tampered file's content was in place by then.
    pub fn changed_at_ms(&self) -> i64 {
        self.ctime.0 * 1000 + self.ctime.1 / 1_000_000
    }

    /// The key of a stat result.
    pub fn of(stat: &Stat) -> StatKey {
        StatKey {
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: stat.st_size,
            mtime: (stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime, stat.st_ctime_nsec as i64),
        }
    }
}

fn errno(error: Errno) -> io::Error {
    io::Error::from(error)
}

/// Opens a directory given by path (the root itself, or a staging tree).
pub fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// Opens the directory `name` inside `dir`, refusing a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// `lstat` of `name` inside `dir`; `None` when it does not exist.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
        Err(error) => Err(errno(error)),
    }
}

/// Stat of an open descriptor.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    rustix::fs::fstat(fd).map_err(errno)
}

/// The entry a stat describes; a file's hash is left for the caller to fill.
pub fn entry_of(stat: &Stat, blake3: Option<String>, target: Option<Vec<u8>>) -> Entry {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => EntryKind::File {
            size: stat.st_size as u64,
            blake3: blake3.unwrap_or_default(),
        },
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink {
            target: target.unwrap_or_default(),
        },
        _ => EntryKind::Special,
    };
    Entry {
        kind,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
    }
}

/// The kind of a stat result.
pub fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// Reads a regular file `name` inside `dir` without following a symlink or
/// blocking on a FIFO. Returns its bytes and the stat of what was read;
/// `None` when it vanished or is no longer a regular file.
pub fn read_file_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<(Vec<u8>, Stat)>> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) | Err(Errno::NXIO) => {
            return Ok(None);
        }
        Err(error) => return Err(errno(error)),
    };
    let stat = fstat(fd.as_fd())?;
    if file_type(&stat) != FileType::RegularFile {
        return Ok(None);
    }
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::with_capacity(stat.st_size.max(0) as usize);
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(Some((bytes, stat)))
}

/// A read-only handle on the regular file `name` inside `dir` (no symlink
/// followed, no FIFO blocked on); `None` when it vanished or is no longer a
/// regular file. The handle keeps the inode readable after it is replaced
/// or removed.
pub fn open_regular_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<std::fs::File>> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) | Err(Errno::NXIO) => {
            return Ok(None);
        }
        Err(error) => return Err(errno(error)),
    };
    if file_type(&fstat(fd.as_fd())?) != FileType::RegularFile {
        return Ok(None);
    }
    Ok(Some(std::fs::File::from(fd)))
}

/// The target of the symlink `name` inside `dir`; `None` when it vanished.
pub fn read_link_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    match rustix::fs::readlinkat(dir, name, Vec::new()) {
        Ok(target) => Ok(Some(target.into_bytes())),
        Err(Errno::NOENT) | Err(Errno::INVAL) => Ok(None),
        Err(error) => Err(errno(error)),
    }
}

/// The names in a directory, without `.` and `..`.
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(errno)? {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// The names in a directory with the kind the listing gives
/// ([`FileType::Unknown`] where the file system does not say), without `.`
/// and `..`. The kind may be stale by the time it is used: callers open
/// with `O_NOFOLLOW` and check what they opened.
pub fn list_dir_typed(dir: BorrowedFd<'_>) -> io::Result<Vec<(Vec<u8>, FileType)>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(errno)? {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push((name.to_vec(), entry.file_type()));
        }
    }
    Ok(names)
}

/// Reads the regular file `name` inside `dir` into `buffer` (replacing its
/// content, keeping its allocation), as [`read_file_at`] does; returns the
/// stat of what was read, `None` when it vanished or is not a regular file.
pub fn read_file_into(
    dir: BorrowedFd<'_>,
    name: &[u8],
    buffer: &mut Vec<u8>,
) -> io::Result<Option<Stat>> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) | Err(Errno::NXIO) => {
            return Ok(None);
        }
        Err(error) => return Err(errno(error)),
    };
    let stat = fstat(fd.as_fd())?;
    if file_type(&stat) != FileType::RegularFile {
        return Ok(None);
    }
    buffer.clear();
    // One byte more than the size, so the read that finds the end does not
    // have to grow the buffer. Read by hand: `File::read_to_end` asks for
    // the size again (`statx`, `lseek`) on every file.
    buffer.reserve(stat.st_size.max(0) as usize + 1);
    loop {
        if buffer.len() == buffer.capacity() {
            buffer.reserve(buffer.capacity().max(8192));
        }
        match rustix::io::read(fd.as_fd(), rustix::buffer::spare_capacity(buffer)) {
            Ok(0) => return Ok(Some(stat)),
            Ok(_) | Err(Errno::INTR) => {}
            Err(error) => return Err(errno(error)),
        }
    }
}

fn temp_name() -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = TEMP_PREFIX.to_vec();
    name.extend_from_slice(
        format!(
            "{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
        .as_bytes(),
    );
    name
}

/// Whether to set owners (only root may give a file away).
pub fn may_chown() -> bool {
    rustix::process::geteuid().is_root()
}

fn apply_owner_and_mode(fd: BorrowedFd<'_>, entry: &Entry) -> io::Result<()> {
    if may_chown() {
        let stat = fstat(fd)?;
        if stat.st_uid != entry.uid || stat.st_gid != entry.gid {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(entry.uid)),
                Some(rustix::fs::Gid::from_raw(entry.gid)),
            )
            .map_err(errno)?;
        }
    }
    // After chown, which clears set-id bits.
    rustix::fs::fchmod(fd, Mode::from_raw_mode(entry.mode)).map_err(errno)
}

/// Writes `bytes` as `name` inside `dir` with the entry's mode and owner:
/// complete write to a file with no name yet, then renamed over; returns
/// the file, renamed in place but not yet fsynced. On any failure (a full
/// disk, a file size limit, an I/O error) nothing is left behind and the
/// old `name` is as it was.
///
/// The file is made with `O_TMPFILE`, so while it is being written it has
/// no name at all: a crash or `SIGKILL` mid-write leaves nothing in the
/// root. Once whole it gets a temporary name (`linkat`, which cannot
/// replace a name) and is renamed over `name`; only a kill in the
/// microseconds between those two calls can leave a temporary file, which
/// the next check removes. File systems without `O_TMPFILE` get a named
/// temporary file from the start, removed on any error.
///
/// The caller makes the file durable (`sync_all`), off the repair path:
/// a reader sees the whole new page the moment it is renamed in, and an
/// fsync here would make the page wait for every other writer's journal
/// commit on the file system (the store's SQLite fsyncs among them) —
/// that wait was the tamper → restored p99. A full disk is still refused
/// before the rename (the write fails), and a crash before the later fsync
/// can at worst leave a page that the start-up check repairs from the
/// vault, which is fsynced.
pub fn write_file_atomic(
    dir: BorrowedFd<'_>,
    name: &[u8],
    bytes: &[u8],
    entry: &Entry,
) -> io::Result<std::fs::File> {
    let unnamed = match rustix::fs::openat(
        dir,
        c".",
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => fd,
        // No O_TMPFILE on this file system (or kernel).
        Err(Errno::OPNOTSUPP) | Err(Errno::ISDIR) | Err(Errno::INVAL) | Err(Errno::NOENT) => {
            return write_file_named(dir, name, bytes, entry);
        }
        Err(error) => return Err(errno(error)),
    };
    let mut file = std::fs::File::from(unnamed);
    io::Write::write_all(&mut file, bytes)?;
    apply_owner_and_mode(file.as_fd(), entry)?;
    let temp = temp_name();
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (root has it); otherwise the
    // file is linked through its /proc/self/fd entry.
    let linked = rustix::fs::linkat(file.as_fd(), c"", dir, temp.as_slice(), AtFlags::EMPTY_PATH)
        .or_else(|_| {
            let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&file));
            rustix::fs::linkat(
                rustix::fs::CWD,
                proc_path.as_str(),
                dir,
                temp.as_slice(),
                AtFlags::SYMLINK_FOLLOW,
            )
        });
    match linked {
        Ok(()) => {}
        // Cannot be given a name here (no /proc, say): write it again the
        // plain way. Rare, and still never half-written.
        Err(Errno::NOENT) | Err(Errno::PERM) | Err(Errno::ACCESS) => {
            return write_file_named(dir, name, bytes, entry);
        }
        Err(error) => return Err(errno(error)),
    }
    if let Err(error) = rustix::fs::renameat(dir, temp.as_slice(), dir, name) {
        let _ = rustix::fs::unlinkat(dir, temp.as_slice(), AtFlags::empty());
        return Err(errno(error));
    }
    Ok(file)
}

/// [`write_file_atomic`] with a named temporary file, for file systems
/// without `O_TMPFILE`: removed on any failure.
fn write_file_named(
    dir: BorrowedFd<'_>,
    name: &[u8],
    bytes: &[u8],
    entry: &Entry,
) -> io::Result<std::fs::File> {
    let temp = temp_name();
    let fd = rustix::fs::openat(
        dir,
        temp.as_slice(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(errno)?;
    let result = (|| {
        let mut file = std::fs::File::from(fd);
        io::Write::write_all(&mut file, bytes)?;
        apply_owner_and_mode(file.as_fd(), entry)?;
        rustix::fs::renameat(dir, temp.as_slice(), dir, name).map_err(errno)?;
        Ok(file)
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, temp.as_slice(), AtFlags::empty());
    }
    result
}

/// Creates the symlink `name -> target` inside `dir`, replacing whatever
/// file or link is there, atomically.
pub fn symlink_atomic(
    dir: BorrowedFd<'_>,
    name: &[u8],
    target: &[u8],
    entry: &Entry,
) -> io::Result<()> {
    let temp = temp_name();
    rustix::fs::symlinkat(target, dir, temp.as_slice()).map_err(errno)?;
    let result = (|| {
        if may_chown() {
            rustix::fs::chownat(
                dir,
                temp.as_slice(),
                Some(rustix::fs::Uid::from_raw(entry.uid)),
                Some(rustix::fs::Gid::from_raw(entry.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno)?;
        }
        rustix::fs::renameat(dir, temp.as_slice(), dir, name).map_err(errno)
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, temp.as_slice(), AtFlags::empty());
    }
    result
}

/// Creates the directory `name` inside `dir` with the entry's mode and owner
/// (an existing directory is fine) and returns a handle on it.
pub fn make_dir_at(dir: BorrowedFd<'_>, name: &[u8], entry: &Entry) -> io::Result<OwnedFd> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(error) => return Err(errno(error)),
    }
    let fd = open_dir_at(dir, name)?;
    apply_owner_and_mode(fd.as_fd(), entry)?;
    Ok(fd)
}

/// Puts back the mode and owner of `name` inside `dir` (never through a symlink).
pub fn set_metadata_at(dir: BorrowedFd<'_>, name: &[u8], entry: &Entry) -> io::Result<()> {
    match entry.kind {
        EntryKind::Symlink { .. } | EntryKind::Special => {
            if may_chown() {
                rustix::fs::chownat(
                    dir,
                    name,
                    Some(rustix::fs::Uid::from_raw(entry.uid)),
                    Some(rustix::fs::Gid::from_raw(entry.gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno)?;
            }
            Ok(())
        }
        EntryKind::Dir => apply_owner_and_mode(open_dir_at(dir, name)?.as_fd(), entry),
        EntryKind::File { .. } => {
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            apply_owner_and_mode(fd.as_fd(), entry)
        }
    }
}

/// Sets the mode and owner of the directory behind an open handle (the root).
pub fn set_dir_metadata(fd: BorrowedFd<'_>, entry: &Entry) -> io::Result<()> {
    apply_owner_and_mode(fd, entry)
}

/// Removes the file, symlink or special node `name` inside `dir`.
pub fn remove_file_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(error) => Err(errno(error)),
    }
}

/// Removes the (now empty) directory `name` inside `dir`.
pub fn remove_dir_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(error) => Err(errno(error)),
    }
}
