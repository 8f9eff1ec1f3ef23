//! Packs: the vault's content kept in a few large files instead of one
//! file per BLAKE3.
//!
//! Approving a root used to create one vault file per distinct content
//! (temp file, write, rename): on a 100,000-file root that was 200,000
//! directory operations, and the file system's inode allocator dominated
//! the baseline (`BENCHMARKS.md`, Guard). A pack is written by one
//! approval (baseline, publish, import): every new content appended to one
//! file by all the hashing threads at once (each reserves its range), then
//! an index of where each content is.
//!
//! ```text
//! vault/packs/<name>.pack   "SWPACK1\n", then per content: BLAKE3 (32 bytes),
//!                           length (u64 LE), the bytes; runs of zeros pad
//!                           each write to 4 KiB, so contents are found
//!                           through the index
//! vault/packs/<name>.idx    "SWPIDX1\n", count (u64 LE), count × (BLAKE3,
//!                           offset of the bytes, length) sorted by BLAKE3,
//!                           then the BLAKE3 of everything before it
//! ```
//!
//! Crash consistency: a pack counts only once its index exists, and the
//! index is written only after the pack's bytes and its directory entry are
//! durable (`PackWriter::finish`: fsync the pack, fsync the directory, then
//! the index temp → fsync → rename → fsync the directory). The caller writes
//! the manifest that names the content only after `finish` returned, so a
//! manifest never names content that is not on disk. A pack left without
//! an index by a crash is removed by the next writer, under the pack's
//! `flock` (held by its writer until the index is in place), so a pack that
//! another process is still writing is never taken for an orphan.
//!
//! Every read is checked against its BLAKE3 by the caller (`data::Vault`);
//! this module only stores and finds bytes.

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const PACK_MAGIC: &[u8; 8] = b"SWPACK1\n";
const INDEX_MAGIC: &[u8; 8] = b"SWPIDX1\n";
/// BLAKE3 and length before each content in a pack.
const RECORD_HEADER: u64 = 40;
/// BLAKE3, offset and length per index entry.
const INDEX_ENTRY: usize = 48;

/// Where one content is in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Its BLAKE3.
    pub hash: [u8; 32],
    /// Offset of its bytes in the pack.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

/// A pack whose index has been read.
#[derive(Debug)]
pub(crate) struct Pack {
    /// The pack file.
    pub path: PathBuf,
    /// Sorted by hash.
    entries: Vec<IndexEntry>,
}

impl Pack {
    /// Where `hash` is in this pack, if it is.
    pub fn find(&self, hash: &[u8; 32]) -> Option<IndexEntry> {
        self.entries
            .binary_search_by(|entry| entry.hash.cmp(hash))
            .ok()
            .map(|at| self.entries[at])
    }

    /// Reads the bytes of an entry (unchecked: the caller verifies them).
    pub fn read(&self, entry: &IndexEntry) -> io::Result<Vec<u8>> {
        let file = File::open(&self.path)?;
        let mut bytes = vec![0; entry.len as usize];
        file.read_exact_at(&mut bytes, entry.offset)?;
        Ok(bytes)
    }

    /// Every hash in this pack.
    #[cfg(test)]
    pub fn hashes(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.entries.iter().map(|entry| &entry.hash)
    }

    /// Reads every content of the pack in the order it lies on disk and
    /// checks it against its hash: the hashes (hex) that verified, their
    /// bytes, and a line per content that does not verify.
    pub fn verify(&self) -> io::Result<(Vec<String>, u64, Vec<String>)> {
        let file = File::open(&self.path)?;
        let mut entries = self.entries.clone();
        entries.sort_unstable_by_key(|entry| entry.offset);
        let (mut verified, mut bytes, mut problems) = (Vec::new(), 0, Vec::new());
        let mut buffer = Vec::new();
        for entry in entries {
            buffer.resize(entry.len as usize, 0);
            let hex = blake3::Hash::from_bytes(entry.hash).to_hex().to_string();
            match file.read_exact_at(&mut buffer, entry.offset) {
                Ok(()) if blake3::hash(&buffer).as_bytes() == &entry.hash => {
                    bytes += entry.len;
                    verified.push(hex);
                }
                Ok(()) => problems.push(format!(
                    "{hex} in {} at offset {}: its bytes hash to {}",
                    self.path.display(),
                    entry.offset,
                    blake3::hash(&buffer).to_hex()
                )),
                Err(error) => problems.push(format!(
                    "{hex} in {} at offset {}: {error}",
                    self.path.display(),
                    entry.offset
                )),
            }
        }
        Ok((verified, bytes, problems))
    }
}

/// The packs of a vault that have an index, as far as this process has
/// looked. Shared by every clone of a `Vault`; refreshed when a content is
/// not found (another process may have approved a version since).
#[derive(Debug, Default)]
pub(crate) struct PackSet {
    packs: Vec<Arc<Pack>>,
    /// Index file names already read (or found unreadable).
    seen: HashSet<String>,
    /// Indexes that could not be read, with why.
    unreadable: Vec<(PathBuf, String)>,
}

impl PackSet {
    /// The pack holding `hash`, newest first.
    pub fn find(&self, hash: &[u8; 32]) -> Option<(Arc<Pack>, IndexEntry)> {
        self.packs
            .iter()
            .rev()
            .find_map(|pack| pack.find(hash).map(|entry| (pack.clone(), entry)))
    }

    /// Every pack read so far.
    pub fn packs(&self) -> &[Arc<Pack>] {
        &self.packs
    }

    /// Indexes that could not be read, with why.
    pub fn unreadable(&self) -> &[(PathBuf, String)] {
        &self.unreadable
    }

    /// Reads the indexes in `dir` not read yet. An index that does not
    /// verify is skipped (its content counts as missing) and reported once.
    pub fn refresh(&mut self, dir: &Path) -> io::Result<()> {
        let listing = match fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let mut names: Vec<String> = listing
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.ends_with(".idx") && !self.seen.contains(name))
            .collect();
        // Names start with the creation time: oldest first, so `find`
        // (newest first) prefers the latest copy.
        names.sort();
        for name in names {
            let index_path = dir.join(&name);
            let pack_path = index_path.with_extension("pack");
            match read_index(&index_path) {
                Ok(entries) => self.packs.push(Arc::new(Pack {
                    path: pack_path,
                    entries,
                })),
                Err(error) => {
                    tracing::warn!(
                        "vault index {} is unreadable ({error}); the content it lists counts as missing",
                        index_path.display()
                    );
                    self.unreadable.push((index_path, error.to_string()));
                }
            }
            self.seen.insert(name);
        }
        Ok(())
    }

    /// Adds a pack this process just wrote.
    fn add(&mut self, name: String, pack: Arc<Pack>) {
        if self.seen.insert(name) {
            self.packs.push(pack);
        }
    }
}

fn read_index(path: &Path) -> io::Result<Vec<IndexEntry>> {
    let bytes = fs::read(path)?;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if bytes.len() < 16 + 32 || &bytes[..8] != INDEX_MAGIC {
        return Err(invalid("not a pack index"));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(body).as_bytes() != checksum {
        return Err(invalid("its checksum does not match"));
    }
    let count = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")) as usize;
    let records = &body[16..];
    if records.len() != count.saturating_mul(INDEX_ENTRY) {
        return Err(invalid("its length does not match its count"));
    }
    let entries: Vec<IndexEntry> = records
        .chunks_exact(INDEX_ENTRY)
        .map(|record| IndexEntry {
            hash: record[..32].try_into().expect("32 bytes"),
            offset: u64::from_le_bytes(record[32..40].try_into().expect("8 bytes")),
            len: u64::from_le_bytes(record[40..48].try_into().expect("8 bytes")),
        })
        .collect();
    if entries.windows(2).any(|pair| pair[0].hash >= pair[1].hash) {
        return Err(invalid("it is not sorted"));
    }
    Ok(entries)
}

fn encode_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + entries.len() * INDEX_ENTRY + 32);
    bytes.extend_from_slice(INDEX_MAGIC);
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for entry in entries {
        bytes.extend_from_slice(&entry.hash);
        bytes.extend_from_slice(&entry.offset.to_le_bytes());
        bytes.extend_from_slice(&entry.len.to_le_bytes());
    }
    let checksum = blake3::hash(&bytes);
    bytes.extend_from_slice(checksum.as_bytes());
    bytes
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Alignment of every write to a pack (offset, length and memory), as
/// `O_DIRECT` requires.
const ALIGN: usize = 4096;
/// Contents are copied into staging buffers of this size, which one writer
/// thread writes to the pack: a few hundred large writes instead of one
/// small write per content.
const STAGE_CAPACITY: usize = 2 << 20;
/// Full buffers waiting for the writer thread; adding waits when it is
/// this far behind, so memory stays bounded.
const QUEUE: usize = 4;

/// A staging buffer: `ALIGN`-aligned memory (a slice of a slightly larger
/// allocation, so no `unsafe` is needed), reused from write to write.
struct Stage {
    memory: Vec<u8>,
    start: usize,
    len: usize,
}

impl Stage {
    fn new(capacity: usize) -> Stage {
        let memory = vec![0u8; capacity + ALIGN];
        let start = memory.as_ptr().align_offset(ALIGN);
        Stage {
            memory,
            start,
            len: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.memory.len() - ALIGN
    }

    fn room(&self) -> usize {
        self.capacity() - self.len
    }

    fn push(&mut self, bytes: &[u8]) {
        let at = self.start + self.len;
        self.memory[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The staged bytes, zero-padded to a multiple of `ALIGN`.
    fn padded(&mut self) -> &[u8] {
        let padded = self.len.next_multiple_of(ALIGN);
        let (start, end) = (self.start + self.len, self.start + padded);
        self.memory[start..end].fill(0);
        &self.memory[self.start..self.start + padded]
    }
}

/// What the adding threads share: the ranges reserved so far.
struct Reserved {
    /// The next free offset (`stage_at + stage.len`).
    end: u64,
    /// Where the current staging buffer goes in the pack (aligned).
    stage_at: u64,
    stage: Stage,
    entries: Vec<IndexEntry>,
    hashes: HashSet<[u8; 32]>,
}

/// Buffers the writer thread has written, for reuse.
type Spare = Arc<Mutex<Vec<Stage>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends contents to a new pack from several threads at once; nothing
/// counts until [`PackWriter::finish`]. Dropped unfinished (an error), the
/// pack is removed.
///
/// The adding threads copy each content into a shared staging buffer;
/// whoever fills one hands it to a writer thread, which writes it with
/// `O_DIRECT` where the file system allows (else through the page cache).
/// Direct writes matter here: the vault is read only to restore, and
/// copying a whole web root into the page cache cost more than reading and
/// hashing it (on the benchmark's virtual machine, fresh pages are
/// expensive to touch) and pushes out the pages the web server serves.
pub(crate) struct PackWriter {
    dir: PathBuf,
    name: String,
    path: PathBuf,
    /// Holds the pack's `flock` until the index is in place.
    file: File,
    reserved: Mutex<Reserved>,
    spare: Spare,
    queue: Option<SyncSender<(u64, Stage)>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    failed: Arc<AtomicBool>,
    finished: bool,
}

impl PackWriter {
    /// Starts a new pack in `dir` (created if needed), after removing packs
    /// that crashed writers left without an index.
    pub fn create(dir: &Path) -> io::Result<PackWriter> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(dir)?;
        remove_orphans(dir);
        let name = format!(
            "{:013}-{}-{}",
            crate::data::now_ms(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(format!("{name}.pack"));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        rustix::fs::flock(file.as_fd(), rustix::fs::FlockOperation::LockExclusive)?;
        let mut stage = Stage::new(STAGE_CAPACITY);
        stage.push(PACK_MAGIC);
        // A handle of its own for the writer thread: direct if possible.
        let direct = rustix::fs::open(
            &path,
            OFlags::WRONLY | OFlags::DIRECT | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(File::from);
        let buffered = file.try_clone()?;
        let (queue, full) = sync_channel::<(u64, Stage)>(QUEUE);
        let spare = Spare::default();
        let failed = Arc::new(AtomicBool::new(false));
        let writer = {
            let (spare, failed) = (spare.clone(), failed.clone());
            std::thread::Builder::new()
                .name("guard-pack".into())
                .spawn(move || write_stages(full, direct, buffered, spare, failed))?
        };
        Ok(PackWriter {
            dir: dir.to_path_buf(),
            name,
            path,
            file,
            reserved: Mutex::new(Reserved {
                end: PACK_MAGIC.len() as u64,
                stage_at: 0,
                stage,
                entries: Vec::new(),
                hashes: HashSet::new(),
            }),
            spare,
            queue: Some(queue),
            writer: Some(writer),
            failed,
            finished: false,
        })
    }

    /// Appends `bytes` under `hash` (once per hash per pack). Safe to call
    /// from several threads: each content gets its own range of the pack.
    pub fn add(&self, hash: &[u8; 32], bytes: &[u8]) -> io::Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "writing the pack failed (its error is reported when it is finished)",
            ));
        }
        let mut header = [0u8; RECORD_HEADER as usize];
        header[..32].copy_from_slice(hash);
        header[32..].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        let record = RECORD_HEADER as usize + bytes.len();
        let mut sealed = Vec::new();
        {
            let mut reserved = lock(&self.reserved);
            if !reserved.hashes.insert(*hash) {
                return Ok(());
            }
            if record > reserved.stage.room() {
                // Seal the current buffer; the next one starts aligned.
                let fresh = lock(&self.spare)
                    .pop()
                    .unwrap_or_else(|| Stage::new(STAGE_CAPACITY));
                let full = std::mem::replace(&mut reserved.stage, fresh);
                let aligned = reserved.end.next_multiple_of(ALIGN as u64);
                let at = std::mem::replace(&mut reserved.stage_at, aligned);
                reserved.end = aligned;
                if full.len > 0 {
                    sealed.push((at, full));
                }
                if record > STAGE_CAPACITY {
                    // A content larger than a buffer gets a buffer of its own.
                    let mut own = Stage::new(record.next_multiple_of(ALIGN));
                    own.push(&header);
                    own.push(bytes);
                    let start = reserved.end;
                    reserved.entries.push(IndexEntry {
                        hash: *hash,
                        offset: start + RECORD_HEADER,
                        len: bytes.len() as u64,
                    });
                    reserved.end = start + own.capacity() as u64;
                    reserved.stage_at = reserved.end;
                    sealed.push((start, own));
                }
            }
            if record <= STAGE_CAPACITY {
                let start = reserved.end;
                reserved.entries.push(IndexEntry {
                    hash: *hash,
                    offset: start + RECORD_HEADER,
                    len: bytes.len() as u64,
                });
                reserved.stage.push(&header);
                reserved.stage.push(bytes);
                reserved.end += record as u64;
            }
        }
        // Outside the lock: waits only when the writer thread is behind.
        for item in sealed {
            self.send(item)?;
        }
        Ok(())
    }

    fn send(&self, item: (u64, Stage)) -> io::Result<()> {
        match &self.queue {
            Some(queue) => queue
                .send(item)
                .map_err(|_| io::Error::other("the pack writer thread stopped")),
            None => Err(io::Error::other("the pack is already finished")),
        }
    }

    /// Hands over the last buffer and waits until the writer thread has
    /// written everything; its error, if it had one.
    fn drain(&mut self) -> io::Result<()> {
        let last = {
            let mut reserved = lock(&self.reserved);
            let at = reserved.stage_at;
            let stage = std::mem::replace(&mut reserved.stage, Stage::new(0));
            (stage.len > 0).then_some((at, stage))
        };
        let sent = match last {
            Some(item) => self.send(item),
            None => Ok(()),
        };
        drop(self.queue.take());
        let written = match self.writer.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the pack writer thread panicked"))),
            None => Ok(()),
        };
        sent.and(written)
    }

    /// Makes the pack durable and visible: every buffer written, fsync the
    /// pack, fsync the directory, then write the index (temp → fsync →
    /// rename → fsync the directory). Returns the pack, or `None` when
    /// nothing was added (the empty pack is removed).
    pub fn finish(mut self) -> io::Result<Option<(String, Arc<Pack>)>> {
        self.drain()?;
        let mut entries = std::mem::take(&mut lock(&self.reserved).entries);
        if entries.is_empty() {
            return Ok(None); // Drop removes the empty pack.
        }
        self.file.sync_all()?;
        fsync_dir(&self.dir)?;
        entries.sort_unstable_by_key(|entry| entry.hash);
        let index_path = self.dir.join(format!("{}.idx", self.name));
        let temp = self.dir.join(format!("{}.idx.tmp", self.name));
        let result = (|| {
            let mut file = File::create(&temp)?;
            io::Write::write_all(&mut file, &encode_index(&entries))?;
            file.sync_all()?;
            fs::rename(&temp, &index_path)?;
            fsync_dir(&self.dir)
        })();
        if let Err(error) = result {
            let _ = fs::remove_file(&temp);
            let _ = fs::remove_file(&index_path);
            return Err(error);
        }
        self.finished = true;
        Ok(Some((
            format!("{}.idx", self.name),
            Arc::new(Pack {
                path: self.path.clone(),
                entries,
            }),
        )))
    }

    /// Registers a finished pack with the vault's shared set.
    pub fn publish(set: &Mutex<PackSet>, finished: (String, Arc<Pack>)) {
        lock(set).add(finished.0, finished.1);
    }
}

impl Drop for PackWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.failed.store(true, Ordering::Relaxed);
            let _ = self.drain();
            let _ = fs::remove_file(&self.path);
        }
        // The flock goes with the file handle.
    }
}

/// The writer thread: writes each full buffer at its place, direct when
/// the file system takes it (an `EINVAL` falls back to the page cache for
/// the rest of the pack), and returns the buffers for reuse. After an error
/// it only drains the queue, and `failed` stops the adding threads.
fn write_stages(
    full: Receiver<(u64, Stage)>,
    mut direct: Option<File>,
    buffered: File,
    spare: Spare,
    failed: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut result = Ok(());
    for (at, mut stage) in full {
        if result.is_ok() && !failed.load(Ordering::Relaxed) {
            let bytes = stage.padded();
            let mut written = match &direct {
                Some(file) => file.write_all_at(bytes, at),
                None => buffered.write_all_at(bytes, at),
            };
            if let Err(error) = &written
                && direct.is_some()
                && error.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
            {
                direct = None;
                written = buffered.write_all_at(bytes, at);
            }
            if let Err(error) = written {
                failed.store(true, Ordering::Relaxed);
                result = Err(error);
            }
        }
        if stage.capacity() == STAGE_CAPACITY {
            stage.len = 0;
            lock(&spare).push(stage);
        }
    }
    result
}

/// Removes packs without an index whose writer is gone (their `flock` is
/// free), with any half-written index of theirs.
fn remove_orphans(dir: &Path) {
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    for entry in listing.filter_map(|entry| entry.ok()) {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "pack") {
            continue;
        }
        if path.with_extension("idx").exists() {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let free = rustix::fs::flock(
            file.as_fd(),
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        )
        .is_ok();
        // Looked again under the lock: the writer may have finished between.
        if free && !path.with_extension("idx").exists() {
            let _ = fs::remove_file(path.with_extension("idx.tmp"));
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(bytes: &[u8]) -> [u8; 32] {
        *blake3::hash(bytes).as_bytes()
    }

    #[test]
    fn written_contents_are_found_after_finish_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("packs");
        let writer = PackWriter::create(&dir).unwrap();
        let contents: Vec<Vec<u8>> = (0..50u32)
            .map(|i| format!("page {i}").repeat(i as usize).into_bytes())
            .collect();
        std::thread::scope(|scope| {
            for half in contents.chunks(25) {
                let writer = &writer;
                scope.spawn(move || {
                    for bytes in half {
                        writer.add(&hash(bytes), bytes).unwrap();
                        // The same content twice is stored once.
                        writer.add(&hash(bytes), bytes).unwrap();
                    }
                });
            }
        });
        let mut before = PackSet::default();
        before.refresh(&dir).unwrap();
        assert!(before.find(&hash(b"page 1")).is_none(), "no index yet");

        let (_, pack) = writer.finish().unwrap().unwrap();
        let mut set = PackSet::default();
        set.refresh(&dir).unwrap();
        assert_eq!(set.packs().len(), 1);
        for bytes in &contents {
            let (pack, entry) = set.find(&hash(bytes)).unwrap();
            assert_eq!(&pack.read(&entry).unwrap(), bytes);
        }
        assert_eq!(pack.hashes().count(), contents.len());
    }

    /// Contents larger than a staging buffer, between small ones that fill
    /// buffers: every write stays aligned and every content reads back.
    #[test]
    fn large_and_small_contents_share_a_pack() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("packs");
        let writer = PackWriter::create(&dir).unwrap();
        let mut contents: Vec<Vec<u8>> = Vec::new();
        for round in 0..3u8 {
            contents.push(vec![round; STAGE_CAPACITY + 12345]);
            for small in 0..300u32 {
                contents.push(format!("{round}/{small}").repeat(1000).into_bytes());
            }
        }
        for bytes in &contents {
            writer.add(&hash(bytes), bytes).unwrap();
        }
        writer.finish().unwrap().unwrap();
        let size = fs::metadata(
            dir.join(
                fs::read_dir(&dir)
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name())
                    .find(|name| name.to_string_lossy().ends_with(".pack"))
                    .unwrap(),
            ),
        )
        .unwrap()
        .len();
        assert_eq!(size % ALIGN as u64, 0, "written in aligned pieces");
        let mut set = PackSet::default();
        set.refresh(&dir).unwrap();
        for bytes in &contents {
            let (pack, entry) = set.find(&hash(bytes)).unwrap();
            assert_eq!(&pack.read(&entry).unwrap(), bytes);
        }
        let (verified, _, problems) = set.packs()[0].verify().unwrap();
        assert_eq!((verified.len(), problems.len()), (contents.len(), 0));
    }

    #[test]
    fn an_unfinished_or_empty_pack_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("packs");
        let writer = PackWriter::create(&dir).unwrap();
        writer.add(&hash(b"x"), b"x").unwrap();
        drop(writer);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        assert!(
            PackWriter::create(&dir)
                .unwrap()
                .finish()
                .unwrap()
                .is_none()
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn an_orphaned_pack_is_removed_but_not_one_being_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("packs");
        fs::create_dir_all(&dir).unwrap();
        // A crashed writer's pack: no index, no lock.
        fs::write(dir.join("0000000000001-1-0.pack"), PACK_MAGIC).unwrap();
        let busy = PackWriter::create(&dir).unwrap();
        assert!(!dir.join("0000000000001-1-0.pack").exists());
        busy.add(&hash(b"y"), b"y").unwrap();
        // Another writer starting meanwhile leaves the busy pack alone.
        let other = PackWriter::create(&dir).unwrap();
        assert!(busy.path.exists());
        drop(other);
        busy.finish().unwrap().unwrap();
        let mut set = PackSet::default();
        set.refresh(&dir).unwrap();
        assert!(set.find(&hash(b"y")).is_some());
    }

    #[test]
    fn a_damaged_index_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("packs");
        let writer = PackWriter::create(&dir).unwrap();
        writer.add(&hash(b"z"), b"z").unwrap();
        let (name, _) = writer.finish().unwrap().unwrap();
        let index = dir.join(name);
        let mut bytes = fs::read(&index).unwrap();
        bytes[20] ^= 1;
        fs::write(&index, bytes).unwrap();
        let mut set = PackSet::default();
        set.refresh(&dir).unwrap();
        assert!(set.find(&hash(b"z")).is_none());
    }
}
