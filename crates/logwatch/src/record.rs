//! One access-log request as the parsers see it: borrowed byte slices into
//! the line (or into the parser's scratch buffer when a format escapes
//! its values), never `String`s, because logs carry invalid UTF-8, NUL
//! bytes and whatever an attacker put in a request line.
//!
//! [`OwnedRecord`] is the same request, owned, for forensics and timelines
//! where a few thousand requests are kept.

use serde::Serialize;

use crate::ip::IpKey;
use crate::time::rfc3339;

/// A parsed request, borrowing from the line or the parser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the request was logged, in Unix milliseconds; `None` when the
    /// line had no parsable time (still counted, never placed in time).
    pub time_ms: Option<i64>,
    /// The client address as an integer ([`IpKey::UNKNOWN`] if not parsable).
    pub ip: IpKey,
    /// The client field as written (an address, or a host name).
    pub client: &'a [u8],
    /// The request method (`GET`); empty when the request line was not a
    /// request (`-`, binary from a TLS handshake on the HTTP port).
    pub method: &'a [u8],
    /// The request target as sent: path and query, still percent-encoded.
    /// When the request line could not be split, the whole line.
    pub target: &'a [u8],
    /// The protocol (`HTTP/1.1`), empty when absent.
    pub protocol: &'a [u8],
    /// The response status; 0 when the log had none.
    pub status: u16,
    /// Response bytes; 0 when the log had `-` or none.
    pub bytes: u64,
    /// The Referer header, empty when absent or `-`.
    pub referer: &'a [u8],
    /// The User-Agent header, empty when absent or `-`.
    pub user_agent: &'a [u8],
    /// The virtual host or server name when the format records one.
    pub host: &'a [u8],
}

impl Record<'_> {
    /// The target's path: everything before the first `?` (or `#`).
    pub fn path(&self) -> &[u8] {
        let end = memchr::memchr2(b'?', b'#', self.target).unwrap_or(self.target.len());
        &self.target[..end]
    }

    /// The target's query, without the `?`; empty when there is none.
    pub fn query(&self) -> &[u8] {
        match memchr::memchr(b'?', self.target) {
            Some(q) => &self.target[q + 1..],
            None => b"",
        }
    }

    /// The request as one readable line, `GET /path?q HTTP/1.1`.
    pub fn request_line(&self) -> String {
        let mut line =
            Vec::with_capacity(self.method.len() + self.target.len() + self.protocol.len() + 2);
        line.extend_from_slice(self.method);
        if !self.method.is_empty() {
            line.push(b' ');
        }
        line.extend_from_slice(self.target);
        if !self.protocol.is_empty() {
            line.push(b' ');
            line.extend_from_slice(self.protocol);
        }
        lossy(&line)
    }

    /// An owned copy.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            time_ms: self.time_ms.unwrap_or(0),
            ip: self.ip,
            client: lossy(self.client),
            method: lossy(self.method),
            target: lossy(self.target),
            status: self.status,
            bytes: self.bytes,
            referer: lossy(self.referer),
            user_agent: lossy(self.user_agent),
            host: lossy(self.host),
        }
    }
}

/// Text for people and JSON: invalid UTF-8 replaced, control characters
/// (NUL, escape sequences that would drive a terminal) shown as `\xNN`.
pub fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if !text.chars().any(|c| c.is_control()) {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A request kept for forensics: owned, readable text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedRecord {
    /// When it was logged (Unix milliseconds; 0 when the line had no time).
    #[serde(rename = "time", serialize_with = "rfc3339::serialize")]
    pub time_ms: i64,
    /// The client address.
    pub ip: IpKey,
    /// The client field as written.
    #[serde(skip)]
    pub client: String,
    /// The method.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Response status.
    pub status: u16,
    /// Response bytes.
    pub bytes: u64,
    /// Referer.
    pub referer: String,
    /// User agent.
    pub user_agent: String,
    /// Virtual host, when logged.
    pub host: String,
}

impl OwnedRecord {
    /// The target's path (before `?`).
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }
}
