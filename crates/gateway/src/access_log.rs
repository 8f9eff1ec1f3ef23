//! The access log, in nginx's `combined` format so logwatch (and any tool
//! that reads nginx logs) can read it:
//!
//! `$remote_addr - $remote_user [$time_local] "$request" $status
//! $body_bytes_sent "$http_referer" "$http_user_agent"`
//!
//! Lines are appended to in-memory buffers that one writer thread empties
//! to the file every 100 ms (like nginx's `buffer= flush=`): a slow disk
//! never stalls a request, no request wakes a thread, and a tailer sees
//! each line within a tenth of a second. Each worker thread appends to a
//! buffer of its own (one of `STRIPES`, each with its own lock on its
//! own cache line), so threads do not take turns at one lock per request;
//! like nginx's workers' buffers, lines of different threads within one
//! flush are not in time order. When the buffers are full (the disk
//! cannot keep up) lines are dropped and counted rather than blocking.

use crate::striped::{STRIPES, thread_stripe};
use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the writer empties the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes the buffers may hold, together, before lines are dropped.
const MAX_PENDING: usize = 16 * 1024 * 1024;

/// One request, as logged.
#[derive(Debug, Clone)]
pub struct LogLine<'a> {
    /// The client address.
    pub client: std::net::IpAddr,
    /// Unix milliseconds when the request started.
    pub at_ms: i64,
    /// `GET /path HTTP/1.1`; empty for a request that could not be
    /// parsed, whose `target` is then its line as sent.
    pub method: &'a str,
    /// The request target as received.
    pub target: &'a str,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: &'a str,
    /// Response status (0 when none was sent).
    pub status: u16,
    /// Body bytes sent.
    pub bytes: usize,
    /// `Referer`, raw.
    pub referer: &'a [u8],
    /// `User-Agent`, raw.
    pub user_agent: &'a [u8],
}

/// The writer's handle: cheap to clone, shared by all workers.
#[derive(Debug, Clone)]
pub struct AccessLog {
    shared: Arc<Pending>,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct Pending {
    stripes: [Stripe; STRIPES],
    dropped: AtomicU64,
}

/// One thread's buffer, alone on its cache line(s).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(Mutex<Vec<u8>>);

impl AccessLog {
    /// Opens (appending) `path` and starts its writer thread, which ends
    /// (after a last write) when every handle is gone.
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let shared = Arc::new(Pending::default());
        let (at, writer) = (path.to_path_buf(), shared.clone());
        std::thread::Builder::new()
            .name("sitewarden-access-log".into())
            .spawn(move || write_loop(&at, file, writer))?;
        Ok(AccessLog {
            shared,
            path: path.to_path_buf(),
        })
    }

    /// Appends one line to this thread's buffer.
    pub fn log(&self, line: &LogLine<'_>) {
        let stripe = &self.shared.stripes[thread_stripe()];
        // Formatted in place: the lock is this thread's alone but for the
        // writer's visit every 100 ms.
        let mut pending = stripe.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = pending.len();
        format_into(&mut pending, line);
        if pending.len() > MAX_PENDING / STRIPES {
            pending.truncate(before);
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Empties the buffer into the file every [`FLUSH_EVERY`], and reopens the
/// file when it was rotated away (renamed or deleted by logrotate): checked
/// once a second, by device and inode.
fn write_loop(path: &Path, file: std::fs::File, pending: Arc<Pending>) {
    use std::os::unix::fs::MetadataExt;
    let identity = |meta: std::fs::Metadata| (meta.dev(), meta.ino());
    let mut current = file.metadata().map(identity).ok();
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut checked = std::time::Instant::now();
    let mut spare = Vec::new();
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let last = Arc::strong_count(&pending) == 1;
        if checked.elapsed() >= Duration::from_secs(1) {
            checked = std::time::Instant::now();
            let on_disk = std::fs::metadata(path).map(identity).ok();
            if on_disk != current
                && let Ok(file) = OpenOptions::new().create(true).append(true).open(path)
            {
                let _ = out.flush();
                current = file.metadata().map(identity).ok();
                out = BufWriter::with_capacity(256 * 1024, file);
            }
        }
        let mut wrote = false;
        for stripe in &pending.stripes {
            // Swapped for the emptied buffer of the last stripe, so the
            // buffers keep their capacity and nobody grows one again.
            std::mem::swap(
                &mut *stripe.0.lock().unwrap_or_else(|e| e.into_inner()),
                &mut spare,
            );
            if !spare.is_empty() {
                let _ = out.write_all(&spare);
                spare.clear();
                wrote = true;
            }
        }
        if wrote {
            let _ = out.flush();
        }
        if last {
            return;
        }
    }
}

thread_local! {
    /// The last second formatted as `$time_local`, and its text: every
    /// request within the same second reuses it.
    static TIME_LOCAL: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// Formats one combined-format line (with its newline).
pub fn format_line(line: &LogLine<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    format_into(&mut out, line);
    out
}

/// Appends one combined-format line (with its newline) to `out`.
fn format_into(out: &mut Vec<u8>, line: &LogLine<'_>) {
    let _ = write!(out, "{} - - [", line.client);
    let second = line.at_ms.div_euclid(1000);
    TIME_LOCAL.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            *cached = second;
            *text = time_local(line.at_ms);
        }
        out.extend_from_slice(text.as_bytes());
    });
    out.extend_from_slice(b"] \"");
    if line.method.is_empty() {
        // A request that could not be parsed: its line as sent.
        escape_into(out, line.target.as_bytes());
    } else {
        escape_into(out, line.method.as_bytes());
        out.push(b' ');
        escape_into(out, line.target.as_bytes());
        out.push(b' ');
        escape_into(out, line.version.as_bytes());
    }
    let _ = write!(out, "\" {} {} \"", line.status, line.bytes);
    if line.referer.is_empty() {
        out.push(b'-');
    } else {
        escape_into(out, line.referer);
    }
    out.extend_from_slice(b"\" \"");
    if line.user_agent.is_empty() {
        out.push(b'-');
    } else {
        escape_into(out, line.user_agent);
    }
    out.extend_from_slice(b"\"\n");
}

/// nginx's `$time_local`: `10/Oct/2026:13:55:36 +0800`, in the system's
/// zone.
fn time_local(at_ms: i64) -> String {
    let zoned = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(jiff::tz::TimeZone::system());
    zoned.strftime("%d/%b/%Y:%H:%M:%S %z").to_string()
}

/// nginx escapes `"`, `\` and bytes outside printable ASCII as `\xHH`, so
/// a hostile user agent cannot forge a log line.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02X}");
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_combined_format_and_cannot_be_forged() {
        let line = LogLine {
            client: "203.0.113.9".parse().unwrap(),
            at_ms: 1_795_000_000_000,
            method: "GET",
            target: "/index.html?q=\"x\"",
            version: "HTTP/1.1",
            status: 200,
            bytes: 512,
            referer: b"",
            user_agent: b"evil\"\n203.0.113.1 - - [x]",
        };
        let text = String::from_utf8(format_line(&line)).unwrap();
        assert!(text.starts_with("203.0.113.9 - - ["), "{text}");
        assert!(
            text.contains(
                "\"GET /index.html?q=\\x22x\\x22 HTTP/1.1\" 200 512 \"-\" \"evil\\x22\\x0A203"
            ),
            "{text}"
        );
        assert_eq!(text.matches('\n').count(), 1);
    }

    #[test]
    fn the_time_is_reused_within_a_second_and_follows_the_clock() {
        let at = |at_ms| {
            let line = LogLine {
                client: "127.0.0.1".parse().unwrap(),
                at_ms,
                method: "GET",
                target: "/",
                version: "HTTP/1.1",
                status: 200,
                bytes: 0,
                referer: b"",
                user_agent: b"",
            };
            String::from_utf8(format_line(&line)).unwrap()
        };
        let second = 1_795_000_000_000;
        assert_eq!(at(second), at(second + 999));
        assert_ne!(at(second + 999), at(second + 1000));
        assert!(
            at(second + 1000).contains(&time_local(second + 1000)),
            "{}",
            at(second + 1000)
        );
        // Back in time (another request's start): not the cached second.
        assert!(at(second).contains(&time_local(second)));
    }

    #[test]
    fn the_writer_appends_and_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/access.log");
        let log = AccessLog::open(&path).unwrap();
        for status in [200, 404] {
            log.log(&LogLine {
                client: "127.0.0.1".parse().unwrap(),
                at_ms: 0,
                method: "GET",
                target: "/",
                version: "HTTP/1.1",
                status,
                bytes: 0,
                referer: b"",
                user_agent: b"test",
            });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 2 {
                assert!(text.contains("\" 404 0 "));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lines not flushed: {text:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
