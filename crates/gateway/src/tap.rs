//! The request tap: every request the gateway answered, handed to live
//! log watching in the same process (`sitewarden serve`) as an Apache
//! `vhost_combined` line whose virtual host is the plan's site name.
//!
//! Why lines rather than structs: logwatch reads them with the parser it
//! uses for files, so the gateway's requests and the plan's log files go
//! through one path; and the site travels with each request, which the
//! access log's plain `combined` format cannot carry. A full channel
//! drops (and counts) rather than slowing the proxy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::access_log::{LogLine, format_line};

/// The sending side, shared by every proxy worker.
#[derive(Debug)]
pub struct RequestTap {
    sender: SyncSender<Vec<u8>>,
    dropped: AtomicU64,
}

impl RequestTap {
    /// A tap holding up to `capacity` lines not yet read, and its reader.
    pub fn channel(capacity: usize) -> (RequestTap, Receiver<Vec<u8>>) {
        let (sender, receiver) = sync_channel(capacity);
        (
            RequestTap {
                sender,
                dropped: AtomicU64::new(0),
            },
            receiver,
        )
    }

    /// Hands one request on; `site` is the plan's site name, empty for a
    /// request no route took.
    pub fn send(&self, site: &str, line: &LogLine<'_>) {
        let formatted = format_line(line);
        let mut out = Vec::with_capacity(site.len() + 1 + formatted.len());
        if site.is_empty() || site.bytes().any(|b| b.is_ascii_whitespace()) {
            out.push(b'-');
        } else {
            out.extend_from_slice(site.as_bytes());
        }
        out.push(b' ');
        out.extend_from_slice(&formatted);
        match self.sender.try_send(out) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped because the reader fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_site_and_a_full_tap_drops() {
        let (tap, lines) = RequestTap::channel(1);
        let line = LogLine {
            client: "203.0.113.9".parse().unwrap(),
            at_ms: 1_795_168_800_000,
            method: "GET",
            target: "/index.html",
            version: "HTTP/1.1",
            status: 200,
            bytes: 12,
            referer: b"",
            user_agent: b"curl/8",
        };
        tap.send("portal", &line);
        tap.send("portal", &line);
        let first = String::from_utf8(lines.recv().unwrap()).unwrap();
        assert!(first.starts_with("portal 203.0.113.9 - - ["), "{first}");
        assert!(first.ends_with("\"GET /index.html HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n"));
        assert_eq!(tap.dropped(), 1);
        tap.send("", &line);
        assert!(lines.recv().unwrap().starts_with(b"- 203.0.113.9"));
    }
}
