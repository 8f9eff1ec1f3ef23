//! Late writes. An attacker who opened a file before the guard repaired it
//! (`open` with `O_TRUNC`, then `write`) keeps writing to the old inode
//! after the guard renamed the approved copy over it, or removed an added
//! file. Those bytes never reach a visitor — the path already holds the
//! approved version — but they are the evidence, and the first capture may
//! have been taken between the truncate and the write (an empty file).
//!
//! So the repairer keeps a handle on the old inode and gives it to this
//! thread, which reads it again once its size has stopped changing (or
//! after at most a second) and quarantines the bytes if they differ from
//! the first capture. It never touches the root and never delays a repair.

use crate::data::{Quarantine, QuarantineRecord, blake3_hex, now_ms};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Size unchanged this long: the writer is done.
const SETTLE: Duration = Duration::from_millis(30);
/// Re-read no later than this after the repair, writer done or not.
const GIVE_UP: Duration = Duration::from_secs(1);
/// Handles held at most; past this the oldest is read at once.
const MAX_PENDING: usize = 4096;

/// An old inode to read again, with what was captured first.
pub(crate) struct Watched {
    /// A read-only handle on the old inode.
    pub file: File,
    /// The quarantine record of the first capture.
    pub first: QuarantineRecord,
    /// Where the outcome goes.
    pub slot: Arc<LateSlot>,
}

/// The outcome of a late capture, for whoever raises the repair's signal:
/// empty until the capture is done, then the late bytes if there were any.
#[derive(Debug, Default)]
pub struct LateSlot {
    outcome: Mutex<Option<Option<Arc<Vec<u8>>>>>,
    done: Condvar,
}

impl LateSlot {
    fn finish(&self, late: Option<Vec<u8>>) {
        let mut outcome = self
            .outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *outcome = Some(late.map(Arc::new));
        self.done.notify_all();
    }

    /// Waits up to `timeout` for the capture; returns the late bytes if
    /// the file was written after the first capture.
    pub fn wait(&self, timeout: Duration) -> Option<Arc<Vec<u8>>> {
        let outcome = self
            .outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (outcome, _) = self
            .done
            .wait_timeout_while(outcome, timeout, |outcome| outcome.is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outcome.clone().flatten()
    }
}

/// How long a signal raiser should wait for late captures: the longest a
/// capture can take, with room to spare.
pub const LATE_CAPTURE_WAIT: Duration = Duration::from_millis(1500);

struct Pending {
    watched: Watched,
    since: Instant,
    size: u64,
    changed: Instant,
}

/// The late-capture thread.
pub(crate) struct LateCapture {
    sender: Option<mpsc::Sender<Watched>>,
    thread: Option<JoinHandle<()>>,
}

impl LateCapture {
    /// Starts the thread; without a thread (cannot spawn) late writes are
    /// simply not captured.
    pub fn new(quarantine: Quarantine) -> LateCapture {
        let (sender, receiver) = mpsc::channel::<Watched>();
        let thread = std::thread::Builder::new()
            .name("guard-late-capture".into())
            .spawn(move || run(receiver, quarantine))
            .ok();
        LateCapture {
            sender: thread.as_ref().map(|_| sender),
            thread,
        }
    }

    /// Hands over an old inode to read again.
    pub fn watch(&self, watched: Watched) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(watched);
        }
    }
}

impl Drop for LateCapture {
    /// Reads every pending inode at once, then stops.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn size_of(file: &File) -> u64 {
    file.metadata().map(|meta| meta.len()).unwrap_or(0)
}

fn run(receiver: mpsc::Receiver<Watched>, quarantine: Quarantine) {
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        let received = if pending.is_empty() {
            receiver
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            receiver.recv_timeout(Duration::from_millis(10))
        };
        match received {
            Ok(watched) => {
                let now = Instant::now();
                let size = size_of(&watched.file);
                pending.push(Pending {
                    watched,
                    since: now,
                    size,
                    changed: now,
                });
                if pending.len() > MAX_PENDING {
                    let oldest = pending.remove(0);
                    capture(oldest.watched, &quarantine);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                for item in pending.drain(..) {
                    capture(item.watched, &quarantine);
                }
                return;
            }
        }
        let now = Instant::now();
        let mut index = 0;
        while index < pending.len() {
            let item = &mut pending[index];
            let size = size_of(&item.watched.file);
            if size != item.size {
                item.size = size;
                item.changed = now;
            }
            if now - item.changed >= SETTLE || now - item.since >= GIVE_UP {
                let item = pending.swap_remove(index);
                capture(item.watched, &quarantine);
            } else {
                index += 1;
            }
        }
    }
}

/// Reads the old inode from the start; quarantines the bytes when they are
/// not what was captured first. Either way the slot is finished, so whoever
/// waits for it (the signal raiser) goes on at once.
fn capture(mut watched: Watched, quarantine: &Quarantine) {
    let mut bytes = Vec::new();
    if watched.file.seek(SeekFrom::Start(0)).is_err()
        || watched.file.read_to_end(&mut bytes).is_err()
    {
        watched.slot.finish(None);
        return;
    }
    let blake3 = blake3_hex(&bytes);
    if blake3 == watched.first.blake3 {
        // Regression: the slot was left unfinished here, so every repair
        // whose file was not written again made its signal wait the whole
        // LATE_CAPTURE_WAIT (1.5 s): a thousand repairs took 25 minutes
        // to record, and a graceful stop waited for all of them.
        watched.slot.finish(None);
        return;
    }
    let record = QuarantineRecord {
        at_ms: now_ms(),
        blake3,
        size: bytes.len() as u64,
        reason: format!(
            "{} (written to the file after the guard replaced it)",
            watched.first.reason
        ),
        ..watched.first
    };
    if let Err(error) = quarantine.put(&bytes, &record) {
        tracing::warn!("cannot quarantine late writes to {}: {error}", record.path);
    }
    watched.slot.finish(Some(bytes));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relpath::RelPath;
    use std::io::Write;

    fn watched(dir: &std::path::Path, first: &[u8]) -> (Watched, Arc<LateSlot>, File) {
        let path = dir.join("page.html");
        std::fs::write(&path, first).unwrap();
        let slot = Arc::new(LateSlot::default());
        let record = QuarantineRecord {
            at_ms: 0,
            root: dir.to_path_buf(),
            path: RelPath::parse("page.html").unwrap(),
            kind: "file".into(),
            blake3: blake3_hex(first),
            size: first.len() as u64,
            reason: "modified".into(),
        };
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        (
            Watched {
                file: File::open(&path).unwrap(),
                first: record,
                slot: slot.clone(),
            },
            slot,
            writer,
        )
    }

    /// Regression: an unchanged file's slot must finish soon after it
    /// settles, not make the signal raiser wait the whole LATE_CAPTURE_WAIT.
    #[test]
    fn a_file_not_written_again_finishes_its_slot_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let quarantine = crate::data::GuardData::open(tmp.path())
            .unwrap()
            .quarantine();
        let late = LateCapture::new(quarantine);
        let (item, slot, _writer) = watched(tmp.path(), b"defaced");
        let started = Instant::now();
        late.watch(item);
        assert_eq!(slot.wait(LATE_CAPTURE_WAIT), None);
        assert!(
            started.elapsed() < GIVE_UP,
            "finished after {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn bytes_written_after_the_capture_are_captured() {
        let tmp = tempfile::tempdir().unwrap();
        let quarantine = crate::data::GuardData::open(tmp.path())
            .unwrap()
            .quarantine();
        let late = LateCapture::new(quarantine.clone());
        let (item, slot, mut writer) = watched(tmp.path(), b"");
        late.watch(item);
        writer.write_all(b"<?php eval($_POST[1]); ?>").unwrap();
        let bytes = slot.wait(LATE_CAPTURE_WAIT).expect("late bytes");
        assert_eq!(bytes.as_slice(), b"<?php eval($_POST[1]); ?>");
        let kept = quarantine.path(&blake3_hex(&bytes)).unwrap();
        assert_eq!(std::fs::read(kept).unwrap(), bytes.as_slice());
    }
}
