//! Reading log files in big line-aligned chunks for the workers: plain
//! files with large `read`s up to the size they had when opened (a log
//! that keeps growing never stalls a batch run), gzip-rotated files
//! (`access.log.2.gz`, several members too) decompressed on the fly. A
//! truncated or corrupt gzip stream ends the file where it breaks: what
//! was decoded is analysed and the break is reported.
//!
//! Lines longer than [`MAX_LINE`] are not handed to the workers: the
//! reader counts them as bad and keeps a short sample, so one line of a
//! gigabyte costs no memory.
//!
//! [`pipeline`] runs the reader on the calling thread and the workers on
//! scoped threads with a bounded queue, recycling chunk buffers.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;

use crate::error::{LogwatchError, Result};

/// Longest line handed to a parser; longer ones are counted as bad.
pub const MAX_LINE: usize = 64 * 1024;
/// Target size of a chunk.
pub const CHUNK_SIZE: usize = 4 * 1024 * 1024;

/// A run of complete lines from one file.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Index of the file in the caller's list.
    pub file: usize,
    /// Offset of the chunk's first byte in the (decompressed) file.
    pub offset: u64,
    /// Complete lines (the last may lack its `\n` at end of file).
    pub data: Vec<u8>,
    /// The last directive line (IIS `#Fields:`) before this chunk.
    pub directive: Option<Arc<[u8]>>,
}

/// What reading one file found besides its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes of log text read (decompressed).
    pub bytes: u64,
    /// The file was gzip-compressed.
    pub gzip: bool,
    /// Why the file ended early (truncated or corrupt gzip, read error).
    pub broken: Option<String>,
    /// Lines over [`MAX_LINE`].
    pub overlong_lines: u64,
    /// (offset, first bytes) of the first few overlong lines.
    pub overlong_samples: Vec<(u64, Vec<u8>)>,
}

/// Progress of reading, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Index of the file being read.
    pub file: usize,
    /// Bytes of that file read so far (compressed bytes for gzip).
    pub file_bytes_done: u64,
    /// Its size on disk.
    pub file_bytes_total: u64,
    /// Bytes of all files read so far (on disk).
    pub bytes_done: u64,
    /// All files' sizes on disk.
    pub bytes_total: u64,
}

/// Counts bytes pulled from the underlying (compressed) file.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// True when the file starts with the gzip magic.
pub fn is_gzip(path: &Path) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| LogwatchError::io(path, e))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LogwatchError::io(path, e)),
        }
    }
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Reads up to `limit` bytes from the start of a file (decompressed), for
/// format detection.
pub fn read_head(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| LogwatchError::io(path, e))?;
    let mut reader: Box<dyn Read> = if is_gzip(path)? {
        Box::new(MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut head = vec![0u8; limit];
    let mut got = 0;
    while got < limit {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A broken gzip head still gives what it had.
            Err(_) => break,
        }
    }
    head.truncate(got);
    Ok(head)
}

/// A byte range of a plain file to read again (flood evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start offset (at a line start).
    pub offset: u64,
    /// Length (ends at a line end).
    pub len: u64,
}

/// Reads a file into line-aligned chunks, handing each to `send` (which
/// returns false to stop). `ranges`: only these ranges of a plain file
/// (gzip files are read whole and the caller filters by offset).
/// `track_directives`: remember `#` lines for IIS.
pub fn read_file(
    path: &Path,
    file_index: usize,
    ranges: Option<&[Range]>,
    track_directives: bool,
    take_buffer: &mut dyn FnMut() -> Vec<u8>,
    send: &mut dyn FnMut(Chunk) -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<ReadOutcome> {
    let gzip = is_gzip(path)?;
    let file = File::open(path).map_err(|e| LogwatchError::io(path, e))?;
    let size = file
        .metadata()
        .map_err(|e| LogwatchError::io(path, e))?
        .len();
    let mut outcome = ReadOutcome {
        gzip,
        ..ReadOutcome::default()
    };
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    if gzip {
        let counting = Counting {
            inner: BufReader::with_capacity(256 * 1024, file),
            count: counter.clone(),
        };
        let mut reader = MultiGzDecoder::new(counting);
        let mut splitter = Splitter::new(file_index, 0, track_directives);
        splitter.run(
            &mut reader,
            u64::MAX,
            take_buffer,
            send,
            &mut outcome,
            &mut || progress(counter.load(std::sync::atomic::Ordering::Relaxed)),
        );
    } else {
        let mut file = file;
        let whole = [Range {
            offset: 0,
            len: size,
        }];
        let ranges = ranges.unwrap_or(&whole);
        for range in ranges {
            let start = range.offset.min(size);
            let len = range.len.min(size - start);
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                outcome.broken = Some(format!("seek: {e}"));
                break;
            }
            let mut splitter = Splitter::new(file_index, start, track_directives);
            let mut limited = (&mut file).take(len);
            let done_before = start;
            let stop = splitter.run(
                &mut limited,
                len,
                take_buffer,
                send,
                &mut outcome,
                &mut || {},
            );
            progress(done_before + len);
            if stop {
                break;
            }
        }
    }
    Ok(outcome)
}

/// Splits a byte stream into chunks at line ends.
struct Splitter {
    file: usize,
    offset: u64,
    track_directives: bool,
    directive: Option<Arc<[u8]>>,
    /// Skipping the rest of an overlong line.
    discarding: bool,
}

impl Splitter {
    fn new(file: usize, offset: u64, track_directives: bool) -> Self {
        Splitter {
            file,
            offset,
            track_directives,
            directive: None,
            discarding: false,
        }
    }

    /// Returns true when the consumer asked to stop.
    fn run(
        &mut self,
        reader: &mut dyn Read,
        limit: u64,
        take_buffer: &mut dyn FnMut() -> Vec<u8>,
        send: &mut dyn FnMut(Chunk) -> bool,
        outcome: &mut ReadOutcome,
        progress: &mut dyn FnMut(),
    ) -> bool {
        let mut carry: Vec<u8> = Vec::new();
        let mut total: u64 = 0;
        loop {
            let mut buffer = take_buffer();
            buffer.clear();
            buffer.extend_from_slice(&carry);
            let carried = carry.len();
            carry.clear();
            let capacity = CHUNK_SIZE.max(carried + 64 * 1024);
            buffer.resize(capacity, 0);
            let mut used = carried;
            let mut eof = false;
            while used < capacity {
                if total >= limit {
                    eof = true;
                    break;
                }
                match reader.read(&mut buffer[used..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        used += n;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        outcome.broken = Some(e.to_string());
                        eof = true;
                        break;
                    }
                }
            }
            buffer.truncate(used);
            outcome.bytes += (used - carried) as u64;
            progress();
            // `buffer[0]` is at file offset `self.offset`.
            let mut start = 0;
            if self.discarding {
                // Still inside an overlong line: skip to its end.
                match memchr::memchr(b'\n', &buffer) {
                    Some(nl) => {
                        start = nl + 1;
                        self.discarding = false;
                    }
                    None => start = buffer.len(),
                }
            }
            let mut cut = if eof {
                buffer.len()
            } else {
                start + memchr::memrchr(b'\n', &buffer[start..]).map_or(0, |last| last + 1)
            };
            if cut == start && !eof && buffer.len() - start >= MAX_LINE {
                // One line longer than we accept: count it, keep a sample,
                // skip to its end.
                outcome.overlong_lines += 1;
                if outcome.overlong_samples.len() < 5 {
                    let sample_end = (start + 200).min(buffer.len());
                    outcome.overlong_samples.push((
                        self.offset + start as u64,
                        buffer[start..sample_end].to_vec(),
                    ));
                }
                self.discarding = true;
                cut = buffer.len();
            }
            let tail = buffer.split_off(cut);
            let chunk_offset = self.offset + start as u64;
            self.offset += cut as u64;
            if start > 0 {
                buffer.drain(..start);
            }
            let directive_before = self.directive.clone();
            if self.track_directives {
                for line in buffer.split(|b| *b == b'\n') {
                    if line.starts_with(b"#Fields:") {
                        self.directive = Some(Arc::from(line));
                    }
                }
            }
            if !buffer.is_empty() {
                let chunk = Chunk {
                    file: self.file,
                    offset: chunk_offset,
                    data: buffer,
                    directive: directive_before,
                };
                if !send(chunk) {
                    return true;
                }
            }
            if eof {
                return false;
            }
            carry = tail;
        }
    }
}

/// A worker of the [`pipeline`].
pub trait Worker: Send {
    /// Processes one chunk.
    fn process(&mut self, chunk: &Chunk);
}

/// Runs `produce` (the reader) on this thread and `threads` workers made
/// by `make` on scoped threads; returns the workers when all chunks are
/// processed.
pub fn pipeline<W: Worker>(
    threads: usize,
    make: impl Fn() -> W + Sync,
    produce: impl FnOnce(&mut dyn FnMut() -> Vec<u8>, &mut dyn FnMut(Chunk) -> bool) -> Result<()>,
) -> Result<Vec<W>> {
    let threads = threads.max(1);
    let (chunk_tx, chunk_rx): (SyncSender<Chunk>, Receiver<Chunk>) = sync_channel(threads * 2);
    let (buffer_tx, buffer_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let chunk_rx = Mutex::new(chunk_rx);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let chunk_rx = &chunk_rx;
                let buffer_tx = buffer_tx.clone();
                let make = &make;
                scope.spawn(move || {
                    let mut worker = make();
                    loop {
                        let next = chunk_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok(chunk)) = next else { break };
                        worker.process(&chunk);
                        let _ = buffer_tx.send(chunk.data);
                    }
                    worker
                })
            })
            .collect();
        drop(buffer_tx);
        let mut take = || {
            buffer_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK_SIZE + 64 * 1024))
        };
        let mut send = |chunk: Chunk| chunk_tx.send(chunk).is_ok();
        let produced = produce(&mut take, &mut send);
        drop(chunk_tx);
        let workers: Vec<W> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        produced.map(|()| workers)
    })
}
