//! nginx/Apache `combined` and `common` lines, parsed by hand:
//!
//! ```text
//! 203.0.113.5 - alice [10/Oct/2026:13:55:36 +0800] "GET /a?b HTTP/1.1" 200 512 "https://ref/" "Mozilla/5.0 …" [extra fields]
//! ```
//!
//! `memchr` finds each delimiter; quoted fields honour Apache's `\"`
//! escape (nginx writes `\x22` instead, which needs nothing). The time of
//! the previous line is cached: consecutive lines usually share their
//! second, so most lines skip date arithmetic. Apache's `vhost_combined`
//! (`host:port` before the address) is recognised when the first field is
//! not an address and the second is.

use super::{Parsed, dash_empty, parse_status, parse_u64, split_request};
use crate::ip::IpKey;
use crate::record::Record;
use crate::time::parse_clf;

/// The combined/common parser; holds only the time cache.
#[derive(Debug, Clone, Default)]
pub struct ClfParser {
    cached_time: [u8; 32],
    cached_len: usize,
    cached_ms: Option<i64>,
}

/// Finds the closing quote of a field that starts right after an opening
/// quote, skipping quotes escaped with an odd number of backslashes.
#[inline]
fn closing_quote(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + memchr::memchr(b'"', &bytes[from..])?;
        let mut backslashes = 0;
        while backslashes < at && bytes[at - 1 - backslashes] == b'\\' {
            backslashes += 1;
        }
        if backslashes % 2 == 0 {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Reads a quoted field at the start of `rest` (after optional spaces):
/// returns the value and what follows the closing quote.
#[inline]
fn quoted(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = rest.trim_ascii_start();
    let inner = rest.strip_prefix(b"\"")?;
    let end = closing_quote(inner)?;
    Some((&inner[..end], &inner[end + 1..]))
}

/// Reads a space-delimited token at the start of `rest` (after spaces).
#[inline]
fn token(rest: &[u8]) -> (&[u8], &[u8]) {
    let rest = rest.trim_ascii_start();
    match memchr::memchr(b' ', rest) {
        Some(end) => (&rest[..end], &rest[end..]),
        None => (rest, b""),
    }
}

impl ClfParser {
    /// A parser with an empty time cache.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn time(&mut self, text: &[u8]) -> Option<i64> {
        if text.len() <= self.cached_time.len() {
            if text.len() == self.cached_len && text == &self.cached_time[..self.cached_len] {
                return self.cached_ms;
            }
            self.cached_time[..text.len()].copy_from_slice(text);
            self.cached_len = text.len();
            self.cached_ms = parse_clf(text);
            self.cached_ms
        } else {
            parse_clf(text)
        }
    }

    /// Parses one line.
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        let (mut client, mut rest) = token(line);
        let mut ip = IpKey::parse(client);
        let mut host: &[u8] = b"";
        if ip.is_none() {
            // vhost_combined: "example.gov.test:443 203.0.113.5 - - [..."
            let (second, after) = token(rest);
            if let Some(second_ip) = IpKey::parse(second) {
                host = match memchr::memrchr(b':', client) {
                    Some(colon) => &client[..colon],
                    None => client,
                };
                client = second;
                ip = Some(second_ip);
                rest = after;
            }
        }
        if client.is_empty() {
            return Parsed::Bad("no client field");
        }
        // ident and user: the user may in theory contain spaces, so find
        // the time's '[' rather than counting tokens.
        let Some(open) = memchr::memchr(b'[', rest) else {
            return Parsed::Bad("no [time] field");
        };
        let after_open = &rest[open + 1..];
        let Some(close) = memchr::memchr(b']', after_open) else {
            return Parsed::Bad("unterminated [time] field");
        };
        let time_ms = self.time(&after_open[..close]);
        if time_ms.is_none() {
            return Parsed::Bad("unparsable time");
        }
        let Some((request, rest)) = quoted(&after_open[close + 1..]) else {
            return Parsed::Bad("no quoted request");
        };
        let (status, rest) = token(rest);
        let Some(status) = parse_status(status) else {
            return Parsed::Bad("status is not a number");
        };
        let (bytes, rest) = token(rest);
        let Some(bytes) = parse_u64(bytes) else {
            return Parsed::Bad("size is not a number");
        };
        let (referer, user_agent) = match quoted(rest) {
            Some((referer, rest)) => match quoted(rest) {
                Some((user_agent, _extra)) => (referer, user_agent),
                None => (referer, &b""[..]),
            },
            None => (&b""[..], &b""[..]),
        };
        let (method, target, protocol) = split_request(request);
        Parsed::Record(Record {
            time_ms,
            ip: ip.unwrap_or(IpKey::UNKNOWN),
            client,
            method,
            target,
            protocol,
            status,
            bytes,
            referer: dash_empty(referer),
            user_agent: dash_empty(user_agent),
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    fn record(line: &[u8]) -> Record<'_> {
        match ClfParser::new().parse(line) {
            Parsed::Record(record) => record,
            other => panic!("{other:?} for {}", String::from_utf8_lossy(line)),
        }
    }

    fn bad(line: &[u8]) -> &'static str {
        match ClfParser::new().parse(line) {
            Parsed::Bad(reason) => reason,
            other => panic!("expected a bad line, got {other:?}"),
        }
    }

    #[test]
    fn combined_line() {
        let line = br#"203.0.113.5 - alice [10/Oct/2026:13:55:36 +0800] "GET /news/a.html?id=3 HTTP/1.1" 200 5120 "https://example.gov.test/" "Mozilla/5.0 (X11; Linux x86_64)""#;
        let r = record(line);
        assert_eq!(r.ip.to_string(), "203.0.113.5");
        assert_eq!(format_rfc3339(r.time_ms.unwrap()), "2026-10-10T05:55:36Z");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.target, b"/news/a.html?id=3");
        assert_eq!(r.path(), b"/news/a.html");
        assert_eq!(r.query(), b"id=3");
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert_eq!((r.status, r.bytes), (200, 5120));
        assert_eq!(r.referer, b"https://example.gov.test/");
        assert_eq!(r.user_agent, b"Mozilla/5.0 (X11; Linux x86_64)");
    }

    #[test]
    fn common_line_and_dashes() {
        let r =
            record(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "POST /login HTTP/1.0" 302 -"#);
        assert_eq!((r.status, r.bytes), (302, 0));
        assert!(r.user_agent.is_empty() && r.referer.is_empty());
        let r =
            record(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#);
        assert!(r.user_agent.is_empty() && r.referer.is_empty());
    }

    #[test]
    fn escapes_extra_fields_and_vhost() {
        // Apache escapes a quote inside the user agent as \".
        let r = record(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "bad \"agent\" x" "198.51.100.7""#);
        assert_eq!(r.user_agent, br#"bad \"agent\" x"#);
        // nginx escapes it as \x22.
        let r = record(
            br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET /\x22 HTTP/1.1" 400 1 "-" "-""#,
        );
        assert_eq!(r.target, br"/\x22");
        let r = record(br#"www.example.gov.test:443 2001:db8::7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#);
        assert_eq!(r.host, b"www.example.gov.test");
        assert_eq!(r.ip.to_string(), "2001:db8::7");
        // A request line that is not a request (TLS on the HTTP port).
        let r = record(br#"198.51.100.9 - - [10/Oct/2026:13:55:36 +0000] "\x16\x03\x01\x00\xa5\x01" 400 157 "-" "-""#);
        assert!(r.method.is_empty());
        assert_eq!(r.status, 400);
    }

    #[test]
    fn bad_lines() {
        assert_eq!(bad(b"garbage"), "no [time] field");
        assert_eq!(
            bad(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000 "GET / HTTP/1.1" 200 1"#),
            "unterminated [time] field"
        );
        assert_eq!(
            bad(br#"10.1.2.3 - - [yesterday] "GET / HTTP/1.1" 200 1"#),
            "unparsable time"
        );
        assert_eq!(
            bad(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] GET / 200 1"#),
            "no quoted request"
        );
        assert_eq!(
            bad(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" OK 1"#),
            "status is not a number"
        );
        assert_eq!(
            bad(br#"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1"#),
            "no quoted request"
        );
        assert_eq!(bad(b" "), "no client field");
    }

    #[test]
    fn invalid_utf8_and_nul_are_kept_as_bytes() {
        let line = b"10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] \"GET /\xff\x00x HTTP/1.1\" 404 1 \"-\" \"\xc3\x28\"";
        let r = record(line);
        assert_eq!(r.target, b"/\xff\x00x");
        assert_eq!(r.user_agent, b"\xc3\x28");
    }
}
