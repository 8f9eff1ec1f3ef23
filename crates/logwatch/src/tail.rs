//! Live tailing of log files through rotation and truncation, resuming
//! from saved offsets after a restart without re-reading or skipping.
//!
//! A [`Tailer`] follows one path. It reads what was appended (at most a
//! budget per [`Tailer::poll`], so a log that grows by gigabytes cannot
//! starve the others), hands complete lines to the caller, and keeps the
//! partial last line until its newline arrives. At end of file it checks
//! the path:
//!
//! - **rename rotation** (logrotate's default): the path names a new file
//!   (another device/inode). The old file is kept open and drained on the
//!   next polls (nginx writes to it until it reopens its logs), then the
//!   new file is read from its start.
//! - **copytruncate / truncation**: same file, now shorter than our
//!   position, or its first bytes changed (truncated and already written
//!   past our position): read again from the start.
//!
//! The committed [`Offset`] (device, inode, position after the last
//! complete line, and a fingerprint of the file's first KiB) goes to an
//! [`OffsetStore`] — a trait, so the lead can keep offsets in the store;
//! [`FileOffsetStore`] keeps them in a JSON file, written atomically. On
//! open, a saved offset resumes exactly when it names the same file; when
//! the file was rotated while we were down, the rotated file (a sibling
//! whose inode matches, e.g. `access.log.1`) is finished first.
//!
//! Known limit: copytruncate itself loses the lines written between the
//! copy and the truncate; no reader can get those back.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LogwatchError, Result};
use crate::format::{Parsed, Parser};
use crate::live::{Event, LiveDetector};
use crate::reader::MAX_LINE;
use crate::scenario::hash_bytes;

/// Bytes of a file's start whose hash identifies it.
const HEAD_BYTES: u64 = 1024;
/// Bytes read per `read` call.
const READ_SIZE: usize = 256 * 1024;

/// Where a tailer stands in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offset {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub inode: u64,
    /// Bytes consumed up to the end of the last complete line.
    pub position: u64,
    /// Hash of the file's first `head_len` bytes.
    pub head_hash: u64,
    /// How many bytes the hash covers (up to 1 KiB).
    pub head_len: u64,
}

/// Where tailers keep their offsets.
pub trait OffsetStore {
    /// The offset saved for a key (the log's path).
    fn load(&mut self, key: &str) -> Result<Option<Offset>>;
    /// Saves an offset.
    fn save(&mut self, key: &str, offset: &Offset) -> Result<()>;
    /// Saves several; the default saves them one by one.
    fn save_all(&mut self, offsets: &[(String, Offset)]) -> Result<()> {
        for (key, offset) in offsets {
            self.save(key, offset)?;
        }
        Ok(())
    }
}

/// Offsets in memory (tests, or callers that persist elsewhere).
#[derive(Debug, Clone, Default)]
pub struct MemoryOffsetStore {
    /// The offsets by key.
    pub offsets: HashMap<String, Offset>,
}

impl OffsetStore for MemoryOffsetStore {
    fn load(&mut self, key: &str) -> Result<Option<Offset>> {
        Ok(self.offsets.get(key).copied())
    }

    fn save(&mut self, key: &str, offset: &Offset) -> Result<()> {
        self.offsets.insert(key.to_string(), *offset);
        Ok(())
    }
}

/// Offsets in a JSON file, replaced atomically (temp file, fsync, rename).
#[derive(Debug, Clone)]
pub struct FileOffsetStore {
    path: PathBuf,
    offsets: HashMap<String, Offset>,
}

impl FileOffsetStore {
    /// Opens (or starts) the file.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let offsets = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| LogwatchError::OffsetStore(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(LogwatchError::io(&path, e)),
        };
        Ok(FileOffsetStore { path, offsets })
    }

    fn write(&self) -> Result<()> {
        write_json_atomically(&self.path, &self.offsets)
    }
}

/// Replaces the JSON file at `path` with `value` so that a crash leaves
/// the old file or the new one, never half of one: a temporary file,
/// fsync, rename.
pub fn write_json_atomically(path: &Path, value: &impl Serialize) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let json =
        serde_json::to_vec_pretty(value).map_err(|e| LogwatchError::OffsetStore(e.to_string()))?;
    let mut file = File::create(&tmp).map_err(|e| LogwatchError::io(&tmp, e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| LogwatchError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| LogwatchError::io(path, e))
}

impl OffsetStore for FileOffsetStore {
    fn load(&mut self, key: &str) -> Result<Option<Offset>> {
        Ok(self.offsets.get(key).copied())
    }

    fn save(&mut self, key: &str, offset: &Offset) -> Result<()> {
        self.offsets.insert(key.to_string(), *offset);
        self.write()
    }

    fn save_all(&mut self, offsets: &[(String, Offset)]) -> Result<()> {
        for (key, offset) in offsets {
            self.offsets.insert(key.clone(), *offset);
        }
        self.write()
    }
}

/// Where to start in a file with no saved offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Read the whole file.
    Beginning,
    /// Only what is appended from now on.
    #[default]
    End,
}

/// Counters of what a tailer went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailStats {
    /// Complete lines handed out.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Rename rotations followed.
    pub rotations: u64,
    /// Truncations (copytruncate) followed.
    pub truncations: u64,
    /// Lines longer than the limit, skipped.
    pub overlong_lines: u64,
    /// A saved offset could not be resumed (its file was gone): lines
    /// written to it after the offset may have been missed.
    pub lost_resumes: u64,
}

#[derive(Debug)]
struct Open {
    file: File,
    dev: u64,
    inode: u64,
    /// Bytes read from the file.
    position: u64,
    head_hash: u64,
    head_len: u64,
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (0, meta.len())
}

fn head_of(file: &File, len: u64) -> io::Result<(u64, u64)> {
    let want = len.min(HEAD_BYTES) as usize;
    let mut buf = vec![0u8; want];
    let mut got = 0;
    let mut reader = file;
    let saved = reader.stream_position()?;
    reader.seek(SeekFrom::Start(0))?;
    while got < want {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    reader.seek(SeekFrom::Start(saved))?;
    Ok((hash_bytes(&buf[..got]), got as u64))
}

impl Open {
    fn at(path: &Path, position: Option<u64>) -> io::Result<Open> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let (dev, inode) = identity(&meta);
        let position = position.unwrap_or(meta.len());
        file.seek(SeekFrom::Start(position))?;
        let (head_hash, head_len) = head_of(&file, meta.len())?;
        Ok(Open {
            file,
            dev,
            inode,
            position,
            head_hash,
            head_len,
        })
    }
}

/// Follows one log file.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    key: String,
    current: Option<Open>,
    /// A rotated file still being drained.
    old: Option<Open>,
    old_pending: Vec<u8>,
    pending: Vec<u8>,
    discarding: bool,
    stats: TailStats,
}

impl Tailer {
    /// Opens `path`, resuming from the store's offset when it still names
    /// this file (or finishing the rotated file it names first).
    pub fn open(
        path: impl Into<PathBuf>,
        store: &mut dyn OffsetStore,
        start: StartAt,
    ) -> Result<Tailer> {
        let path = path.into();
        let key = path.display().to_string();
        let saved = store.load(&key)?;
        let mut tailer = Tailer {
            path: path.clone(),
            key,
            current: None,
            old: None,
            old_pending: Vec::new(),
            pending: Vec::new(),
            discarding: false,
            stats: TailStats::default(),
        };
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(LogwatchError::io(&path, e)),
        };
        match (saved, meta) {
            (Some(offset), Some(meta)) if identity(&meta) == (offset.dev, offset.inode) => {
                let open = Open::at(&path, Some(0)).map_err(|e| LogwatchError::io(&path, e))?;
                let head_ok = meta.len() >= offset.position && same_head(&open, &offset);
                let position = if head_ok { offset.position } else { 0 };
                if !head_ok {
                    tailer.stats.truncations += 1;
                }
                tailer.current =
                    Some(Open::at(&path, Some(position)).map_err(|e| LogwatchError::io(&path, e))?);
            }
            (Some(offset), meta) => {
                // Rotated while we were away: finish the old file first.
                match find_rotated(&path, &offset) {
                    Some(old) => tailer.old = Some(old),
                    None => tailer.stats.lost_resumes += 1,
                }
                if meta.is_some() {
                    tailer.current =
                        Some(Open::at(&path, Some(0)).map_err(|e| LogwatchError::io(&path, e))?);
                }
            }
            (None, Some(_)) => {
                let position = if start == StartAt::Beginning {
                    Some(0)
                } else {
                    None
                };
                let open = Open::at(&path, position).map_err(|e| LogwatchError::io(&path, e))?;
                if open.position > 0 {
                    // Starting at the end: skip a partial last line.
                    let mut last = [0u8; 1];
                    let mut f = &open.file;
                    f.seek(SeekFrom::Start(open.position - 1))
                        .map_err(|e| LogwatchError::io(&path, e))?;
                    f.read_exact(&mut last)
                        .map_err(|e| LogwatchError::io(&path, e))?;
                    tailer.discarding = last[0] != b'\n';
                }
                tailer.current = Some(open);
            }
            (None, None) => {}
        }
        Ok(tailer)
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store key (the path as text).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Counters.
    pub fn stats(&self) -> &TailStats {
        &self.stats
    }

    /// The offset to save: after the last complete line handed out. While
    /// a rotated file is still being drained, its offset is saved, so a
    /// restart finishes it first.
    pub fn offset(&self) -> Option<Offset> {
        let (open, pending) = match &self.old {
            Some(old) => (old, self.old_pending.len() as u64),
            None => (self.current.as_ref()?, self.pending.len() as u64),
        };
        Some(Offset {
            dev: open.dev,
            inode: open.inode,
            position: open.position - pending,
            head_hash: open.head_hash,
            head_len: open.head_len,
        })
    }

    /// Saves the offset in the store.
    pub fn save(&self, store: &mut dyn OffsetStore) -> Result<()> {
        match self.offset() {
            Some(offset) => store.save(&self.key, &offset),
            None => Ok(()),
        }
    }

    /// Reads what is new (at most about `budget` bytes), handing each
    /// complete line (without `\n`) to `on_line`. Returns true when the
    /// budget ran out before the end of the file.
    pub fn poll(&mut self, budget: usize, on_line: &mut dyn FnMut(&[u8])) -> Result<bool> {
        let mut used = 0usize;
        // A rotated file first: whatever was appended before the writer
        // reopened its log. Dropped once a poll finds nothing new in it.
        if let Some(mut old) = self.old.take() {
            let mut pending = std::mem::take(&mut self.old_pending);
            let mut discarding = false;
            let (read, more) = read_lines(
                &mut old,
                &mut pending,
                &mut discarding,
                budget,
                &mut self.stats,
                on_line,
            )
            .map_err(|e| LogwatchError::io(&self.path, e))?;
            used += read;
            if more || read > 0 {
                self.old = Some(old);
                self.old_pending = pending;
                if more {
                    return Ok(true);
                }
            } else if !pending.is_empty() {
                // The rotated file ended without a newline: its last line is complete.
                self.stats.lines += 1;
                on_line(&pending);
            }
        }
        if self.current.is_none() {
            match Open::at(&self.path, Some(0)) {
                Ok(open) => self.current = Some(open),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(LogwatchError::io(&self.path, e)),
            }
        }
        // Truncated (and maybe rewritten past our position) since the
        // last poll? Start over before reading anything.
        self.check_path(false)?;
        let current = self.current.as_mut().expect("opened above");
        let (read, more) = read_lines(
            current,
            &mut self.pending,
            &mut self.discarding,
            budget.saturating_sub(used),
            &mut self.stats,
            on_line,
        )
        .map_err(|e| LogwatchError::io(&self.path, e))?;
        used += read;
        if more {
            return Ok(true);
        }
        if self.check_path(true)? {
            // Rotated or truncated: read what the new file already has.
            let current = self.current.as_mut().expect("still open");
            let (_, more) = read_lines(
                current,
                &mut self.pending,
                &mut self.discarding,
                budget.saturating_sub(used),
                &mut self.stats,
                on_line,
            )
            .map_err(|e| LogwatchError::io(&self.path, e))?;
            return Ok(more);
        }
        Ok(false)
    }

    /// At end of file: has the path been rotated or the file truncated?
    /// True when the tailer switched files or started over. Rotation is
    /// only looked for at end of file (`rotation`), so the old file is
    /// read to its end first.
    fn check_path(&mut self, rotation: bool) -> Result<bool> {
        let Some(current) = self.current.as_mut() else {
            return Ok(false);
        };
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            // Renamed away, the new file not created yet.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(LogwatchError::io(&self.path, e)),
        };
        if identity(&meta) != (current.dev, current.inode) {
            if !rotation {
                return Ok(false);
            }
            self.stats.rotations += 1;
            let new =
                Open::at(&self.path, Some(0)).map_err(|e| LogwatchError::io(&self.path, e))?;
            let old = std::mem::replace(current, new);
            // A newer rotation while an older file drains: finish that one now.
            self.old = Some(old);
            self.old_pending = std::mem::take(&mut self.pending);
            self.discarding = false;
            return Ok(true);
        }
        // The file's first bytes must not change under us: if they did,
        // it was truncated and already written past our position.
        let (prefix_hash, prefix_len) = head_of(&current.file, current.head_len.min(meta.len()))
            .map_err(|e| LogwatchError::io(&self.path, e))?;
        let head_changed = current.head_len > 0
            && (prefix_len < current.head_len || prefix_hash != current.head_hash);
        let truncated = meta.len() < current.position || head_changed;
        if !truncated && current.head_len < HEAD_BYTES && meta.len() > current.head_len {
            let (hash, len) =
                head_of(&current.file, meta.len()).map_err(|e| LogwatchError::io(&self.path, e))?;
            current.head_hash = hash;
            current.head_len = len;
        }
        if truncated {
            self.stats.truncations += 1;
            current
                .file
                .seek(SeekFrom::Start(0))
                .map_err(|e| LogwatchError::io(&self.path, e))?;
            current.position = 0;
            let (hash, len) =
                head_of(&current.file, meta.len()).map_err(|e| LogwatchError::io(&self.path, e))?;
            current.head_hash = hash;
            current.head_len = len;
            self.pending.clear();
            self.discarding = false;
        }
        Ok(truncated)
    }
}

fn same_head(open: &Open, offset: &Offset) -> bool {
    match head_of(&open.file, offset.head_len) {
        Ok((hash, len)) => len == offset.head_len && hash == offset.head_hash,
        Err(_) => false,
    }
}

/// Looks beside `path` for the file an offset names (same device and
/// inode, same head): `access.log.1`, `access.log-20261120`…, positioned
/// at the offset. Compressed siblings cannot match (new inode).
fn find_rotated(path: &Path, offset: &Offset) -> Option<Open> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name()?.to_string_lossy().into_owned();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let candidate = entry.path();
        if candidate == path || !entry.file_name().to_string_lossy().starts_with(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if identity(&meta) != (offset.dev, offset.inode) || meta.len() < offset.position {
            continue;
        }
        let Ok(open) = Open::at(&candidate, Some(0)) else {
            continue;
        };
        if !same_head(&open, offset) {
            continue;
        }
        return Open::at(&candidate, Some(offset.position)).ok();
    }
    None
}

/// Reads lines from `open` into `on_line`, at most about `budget` bytes.
/// Returns (bytes read, true if the budget ran out first).
fn read_lines(
    open: &mut Open,
    pending: &mut Vec<u8>,
    discarding: &mut bool,
    budget: usize,
    stats: &mut TailStats,
    on_line: &mut dyn FnMut(&[u8]),
) -> io::Result<(usize, bool)> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut used = 0usize;
    loop {
        if used >= budget {
            return Ok((used, true));
        }
        let n = match open.file.read(&mut buf) {
            Ok(0) => return Ok((used, false)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        used += n;
        open.position += n as u64;
        stats.bytes += n as u64;
        let mut data = &buf[..n];
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let piece = &data[..nl];
            data = &data[nl + 1..];
            if *discarding {
                *discarding = false;
                pending.clear();
                continue;
            }
            if pending.is_empty() {
                stats.lines += 1;
                on_line(piece);
            } else {
                pending.extend_from_slice(piece);
                stats.lines += 1;
                on_line(pending);
                pending.clear();
            }
        }
        if !*discarding {
            pending.extend_from_slice(data);
            if pending.len() > MAX_LINE {
                // Never hold more than one line's limit: skip to its end.
                stats.overlong_lines += 1;
                pending.clear();
                *discarding = true;
            }
        }
    }
}

/// A set of followed files with their parsers and one live detector:
/// what `sitewarden serve` runs per plan.
#[derive(Debug)]
pub struct Watch {
    /// The files, each with its compiled parser.
    pub sources: Vec<(Tailer, Parser)>,
    /// The detector all files feed.
    pub detector: LiveDetector,
    /// Lines that were not requests.
    pub bad_lines: u64,
}

impl Watch {
    /// Polls every file once (each within `budget` bytes) and ticks the
    /// detector; events go to `on_event`. Returns true if some file has
    /// more to read right away.
    pub fn poll_once(
        &mut self,
        now_ms: i64,
        budget: usize,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<bool> {
        let mut more = false;
        for (tailer, parser) in &mut self.sources {
            let detector = &mut self.detector;
            let bad = &mut self.bad_lines;
            more |= tailer.poll(budget, &mut |line| match parser.parse(line) {
                Parsed::Record(record) => {
                    for event in detector.observe(&record, now_ms) {
                        on_event(event);
                    }
                }
                Parsed::Skip => {}
                Parsed::Bad(_) => *bad += 1,
            })?;
        }
        for event in self.detector.tick(now_ms) {
            on_event(event);
        }
        Ok(more)
    }

    /// Runs until `stop` is set: polls every `interval` (at once again
    /// when a file had more), saves offsets every `save_every` and at the
    /// end. `clock` gives Unix milliseconds.
    pub fn run(
        &mut self,
        store: &mut dyn OffsetStore,
        clock: &dyn Fn() -> i64,
        stop: &AtomicBool,
        interval: Duration,
        save_every: Duration,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        let mut last_save = clock();
        while !stop.load(Ordering::Relaxed) {
            let more = self.poll_once(clock(), 8 * 1024 * 1024, on_event)?;
            if clock() - last_save >= save_every.as_millis() as i64 {
                self.save(store)?;
                last_save = clock();
            }
            if !more {
                std::thread::sleep(interval);
            }
        }
        self.save(store)
    }

    /// Saves every file's offset.
    pub fn save(&self, store: &mut dyn OffsetStore) -> Result<()> {
        let offsets: Vec<(String, Offset)> = self
            .sources
            .iter()
            .filter_map(|(t, _)| t.offset().map(|o| (t.key().to_string(), o)))
            .collect();
        store.save_all(&offsets)
    }
}
