//! JSON lines (nginx `escape=json` formats, Caddy, Traefik, ECS-style
//! shippers): one object per line, with a configurable mapping from our
//! fields to the object's keys (dotted paths reach into nested objects:
//! `request.headers.User-Agent`).
//!
//! The scanner is written here on purpose, not serde_json: nginx's JSON
//! escaping passes bytes ≥ 0x80 through untouched, so real logs carry
//! invalid UTF-8 that a strict parser would refuse, and we only need the
//! handful of mapped values, decoded into a scratch buffer. Nesting deeper
//! than [`MAX_DEPTH`] makes the line bad rather than the stack deep.

use serde::{Deserialize, Serialize};

use super::{Parsed, dash_empty, parse_status, parse_u64, split_request};
use crate::ip::IpKey;
use crate::record::Record;
use crate::time::{parse_clf, parse_epoch, parse_iso8601};

/// Deepest object nesting the scanner follows.
pub const MAX_DEPTH: usize = 16;

/// Which keys hold which value. Each field lists candidate keys, the
/// first one present wins; the defaults cover nginx, Caddy, Traefik and
/// ECS naming.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct JsonFields {
    /// The request time: ISO 8601 text, CLF text or epoch seconds.
    pub time: Vec<String>,
    /// The client address.
    pub client: Vec<String>,
    /// A full request line (`GET /x HTTP/1.1`), if the log has one.
    pub request: Vec<String>,
    /// The method, if logged separately.
    pub method: Vec<String>,
    /// The path and query, if logged separately.
    pub uri: Vec<String>,
    /// The query string, if logged apart from the path.
    pub query: Vec<String>,
    /// The response status.
    pub status: Vec<String>,
    /// Response bytes.
    pub bytes: Vec<String>,
    /// The Referer header.
    pub referer: Vec<String>,
    /// The User-Agent header.
    pub user_agent: Vec<String>,
    /// The virtual host.
    pub host: Vec<String>,
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl Default for JsonFields {
    fn default() -> Self {
        JsonFields {
            time: keys(&[
                "time",
                "time_iso8601",
                "@timestamp",
                "timestamp",
                "time_local",
                "msec",
                "ts",
            ]),
            client: keys(&[
                "remote_addr",
                "client_ip",
                "clientip",
                "ip",
                "remote_ip",
                "source.ip",
                "request.remote_ip",
                "ClientHost",
            ]),
            request: keys(&["request"]),
            method: keys(&[
                "request_method",
                "method",
                "http.request.method",
                "request.method",
                "RequestMethod",
            ]),
            uri: keys(&[
                "request_uri",
                "uri",
                "url.original",
                "request.uri",
                "RequestPath",
                "path",
            ]),
            query: keys(&["args", "query_string", "url.query"]),
            status: keys(&[
                "status",
                "http.response.status_code",
                "DownstreamStatus",
                "status_code",
            ]),
            bytes: keys(&[
                "body_bytes_sent",
                "bytes_sent",
                "size",
                "http.response.body.bytes",
                "DownstreamContentSize",
            ]),
            referer: keys(&[
                "http_referer",
                "referer",
                "referrer",
                "http.request.referrer",
            ]),
            user_agent: keys(&[
                "http_user_agent",
                "user_agent",
                "user_agent.original",
                "request.headers.User-Agent",
                "request_User-Agent",
                "agent",
            ]),
            host: keys(&[
                "host",
                "http_host",
                "server_name",
                "request.host",
                "RequestHost",
            ]),
        }
    }
}

const FIELD_COUNT: usize = 11;
const TIME: usize = 0;
const CLIENT: usize = 1;
const REQUEST: usize = 2;
const METHOD: usize = 3;
const URI: usize = 4;
const QUERY: usize = 5;
const STATUS: usize = 6;
const BYTES: usize = 7;
const REFERER: usize = 8;
const USER_AGENT: usize = 9;
const HOST: usize = 10;

/// The JSON-lines parser.
#[derive(Debug, Clone)]
pub struct JsonParser {
    /// (dotted key, field index, priority) for every candidate key.
    wanted: Vec<(Vec<u8>, usize, usize)>,
    buf: Vec<u8>,
    /// Per field: (priority, start, end) into `buf`.
    found: [Option<(usize, usize, usize)>; FIELD_COUNT],
    key: Vec<u8>,
    target: Vec<u8>,
}

impl JsonParser {
    /// A parser for this mapping; fails if no client key is configured.
    pub fn new(fields: JsonFields) -> Result<JsonParser, String> {
        if fields.client.is_empty() {
            return Err("json format: no key for the client address".into());
        }
        if fields.request.is_empty() && fields.uri.is_empty() {
            return Err("json format: no key for the request or the uri".into());
        }
        let lists = [
            &fields.time,
            &fields.client,
            &fields.request,
            &fields.method,
            &fields.uri,
            &fields.query,
            &fields.status,
            &fields.bytes,
            &fields.referer,
            &fields.user_agent,
            &fields.host,
        ];
        let mut wanted = Vec::new();
        for (field, list) in lists.iter().enumerate() {
            for (priority, key) in list.iter().enumerate() {
                wanted.push((key.as_bytes().to_vec(), field, priority));
            }
        }
        Ok(JsonParser {
            wanted,
            buf: Vec::new(),
            found: [None; FIELD_COUNT],
            key: Vec::new(),
            target: Vec::new(),
        })
    }

    fn value(&self, field: usize) -> &[u8] {
        slice(&self.buf, self.found[field])
    }

    /// Parses one line.
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        self.buf.clear();
        self.key.clear();
        self.found = [None; FIELD_COUNT];
        let mut scanner = Scanner {
            bytes: line,
            pos: 0,
        };
        scanner.skip_ws();
        if scanner.peek() != Some(b'{') {
            return Parsed::Bad("not a JSON object");
        }
        if let Err(reason) = self.object(&mut scanner, 0) {
            return Parsed::Bad(reason);
        }
        scanner.skip_ws();
        if scanner.pos != line.len() {
            return Parsed::Bad("trailing bytes after the JSON object");
        }
        if self.found[CLIENT].is_none() {
            return Parsed::Bad("no client address key");
        }
        let status = match self.found[STATUS] {
            Some(_) => match parse_status(self.value(STATUS)) {
                Some(status) => status,
                None => return Parsed::Bad("status is not a number"),
            },
            None => 0,
        };
        let time_text = self.value(TIME);
        let time_ms = parse_iso8601(time_text)
            .or_else(|| parse_clf(time_text))
            .or_else(|| parse_epoch(time_text));
        if self.found[TIME].is_some() && time_ms.is_none() {
            return Parsed::Bad("unparsable time");
        }
        // Build the target before borrowing `buf` for the record.
        self.target.clear();
        let (mut method, mut protocol): (&[u8], &[u8]) = (b"", b"");
        if self.found[URI].is_some() {
            let uri = slice(&self.buf, self.found[URI]);
            let query = dash_empty(slice(&self.buf, self.found[QUERY]));
            self.target.extend_from_slice(uri);
            if !query.is_empty() && !uri.contains(&b'?') {
                self.target.push(b'?');
                self.target.extend_from_slice(query);
            }
        }
        let this: &'a JsonParser = self;
        if this.found[REQUEST].is_some() {
            let (m, t, p) = split_request(this.value(REQUEST));
            method = m;
            protocol = p;
            if this.found[URI].is_none() {
                return Parsed::Record(this.record(time_ms, status, m, t, p));
            }
        }
        if this.found[METHOD].is_some() {
            method = dash_empty(this.value(METHOD));
        }
        Parsed::Record(this.record(time_ms, status, method, &this.target, protocol))
    }

    fn record<'a>(
        &'a self,
        time_ms: Option<i64>,
        status: u16,
        method: &'a [u8],
        target: &'a [u8],
        protocol: &'a [u8],
    ) -> Record<'a> {
        let client = self.value(CLIENT);
        Record {
            time_ms,
            ip: IpKey::parse(client).unwrap_or(IpKey::UNKNOWN),
            client,
            method,
            target,
            protocol,
            status,
            bytes: parse_u64(self.value(BYTES)).unwrap_or(0),
            referer: dash_empty(self.value(REFERER)),
            user_agent: dash_empty(self.value(USER_AGENT)),
            host: dash_empty(self.value(HOST)),
        }
    }

    /// Scans an object at the scanner's `{`, recording wanted values.
    fn object(&mut self, s: &mut Scanner<'_>, depth: usize) -> Result<(), &'static str> {
        if depth >= MAX_DEPTH {
            return Err("JSON nested too deeply");
        }
        s.pos += 1; // '{'
        s.skip_ws();
        if s.peek() == Some(b'}') {
            s.pos += 1;
            return Ok(());
        }
        let key_base = self.key.len();
        loop {
            s.skip_ws();
            if s.peek() != Some(b'"') {
                return Err("JSON object key is not a string");
            }
            self.key.truncate(key_base);
            if key_base > 0 {
                self.key.push(b'.');
            }
            let mut key = std::mem::take(&mut self.key);
            s.string(&mut key)?;
            self.key = key;
            s.skip_ws();
            if s.peek() != Some(b':') {
                return Err("JSON object: missing ':'");
            }
            s.pos += 1;
            s.skip_ws();
            match s.peek() {
                Some(b'{') => self.object(s, depth + 1)?,
                Some(b'[') => s.skip_array(depth + 1)?,
                Some(b'"') => {
                    let start = self.buf.len();
                    let mut buf = std::mem::take(&mut self.buf);
                    let result = s.string(&mut buf);
                    self.buf = buf;
                    result?;
                    self.record_value(start);
                }
                Some(_) => {
                    let start = s.pos;
                    s.scalar()?;
                    let value_start = self.buf.len();
                    self.buf.extend_from_slice(&s.bytes[start..s.pos]);
                    self.record_value(value_start);
                }
                None => return Err("JSON line ends inside an object"),
            }
            s.skip_ws();
            match s.peek() {
                Some(b',') => s.pos += 1,
                Some(b'}') => {
                    s.pos += 1;
                    self.key.truncate(key_base);
                    return Ok(());
                }
                _ => return Err("JSON object: expected ',' or '}'"),
            }
        }
    }

    /// Keeps the value just appended at `start` if the current key is
    /// wanted with a better priority than what was found before.
    fn record_value(&mut self, start: usize) {
        let end = self.buf.len();
        for (key, field, priority) in &self.wanted {
            if *key == self.key && self.found[*field].is_none_or(|(p, _, _)| *priority < p) {
                self.found[*field] = Some((*priority, start, end));
            }
        }
    }
}

fn slice(buf: &[u8], found: Option<(usize, usize, usize)>) -> &[u8] {
    match found {
        Some((_, start, end)) => &buf[start..end],
        None => b"",
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Reads a string at `"`, appending its decoded bytes to `out`.
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        self.pos += 1;
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(stop) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err("unterminated JSON string");
            };
            out.extend_from_slice(&rest[..stop]);
            self.pos += stop;
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok(());
            }
            let escape = *self
                .bytes
                .get(self.pos + 1)
                .ok_or("unterminated JSON string")?;
            self.pos += 2;
            match escape {
                b'"' | b'\\' | b'/' => out.push(escape),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'u' => {
                    let first = self.hex4()?;
                    let code = if (0xD800..0xDC00).contains(&first)
                        && self.bytes.get(self.pos) == Some(&b'\\')
                        && self.bytes.get(self.pos + 1) == Some(&b'u')
                    {
                        self.pos += 2;
                        let second = self.hex4()?;
                        if (0xDC00..0xE000).contains(&second) {
                            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                        } else {
                            0xFFFD
                        }
                    } else {
                        first
                    };
                    let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                // nginx's escape=default writes \xNN; keep it as written.
                _ => {
                    out.push(b'\\');
                    out.push(escape);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, &'static str> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or("short \\u escape")?;
        let mut value = 0u32;
        for &d in digits {
            value = value * 16 + (d as char).to_digit(16).ok_or("bad \\u escape")?;
        }
        self.pos += 4;
        Ok(value)
    }

    /// A number, `true`, `false` or `null`: up to the next delimiter.
    fn scalar(&mut self) -> Result<(), &'static str> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        let value = &self.bytes[start..self.pos];
        let number = !value.is_empty()
            && value
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        if number || matches!(value, b"true" | b"false" | b"null") {
            Ok(())
        } else {
            Err("bad JSON value")
        }
    }

    fn skip_array(&mut self, depth: usize) -> Result<(), &'static str> {
        if depth >= MAX_DEPTH {
            return Err("JSON nested too deeply");
        }
        self.pos += 1; // '['
        let mut sink = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'"') => {
                    sink.clear();
                    self.string(&mut sink)?;
                }
                Some(b'[') => self.skip_array(depth + 1)?,
                Some(b'{') => self.skip_object(depth + 1)?,
                Some(_) => self.scalar()?,
                None => return Err("JSON line ends inside an array"),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err("JSON array: expected ',' or ']'"),
            }
        }
    }

    fn skip_object(&mut self, depth: usize) -> Result<(), &'static str> {
        if depth >= MAX_DEPTH {
            return Err("JSON nested too deeply");
        }
        self.pos += 1; // '{'
        let mut sink = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'"') => {
                    sink.clear();
                    self.string(&mut sink)?;
                }
                _ => return Err("JSON object key is not a string"),
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err("JSON object: missing ':'");
            }
            self.pos += 1;
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {
                    sink.clear();
                    self.string(&mut sink)?;
                }
                Some(b'[') => self.skip_array(depth + 1)?,
                Some(b'{') => self.skip_object(depth + 1)?,
                Some(_) => self.scalar()?,
                None => return Err("JSON line ends inside an object"),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err("JSON object: expected ',' or '}'"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    fn parser() -> JsonParser {
        JsonParser::new(JsonFields::default()).unwrap()
    }

    #[test]
    fn nginx_escape_json_line() {
        let mut p = parser();
        let line = br#"{"time_iso8601":"2026-10-10T13:55:36+08:00","remote_addr":"203.0.113.8","request":"GET /a?q=%3Cscript%3E HTTP/1.1","status": 404,"body_bytes_sent":12,"http_user_agent":"Mozilla/5.0 \"quoted\" \u4e2d","extra":[1,{"a":[2]}],"n":null}"#;
        let Parsed::Record(r) = p.parse(line) else {
            panic!("{:?}", p.clone().parse(line))
        };
        assert_eq!(r.ip.to_string(), "203.0.113.8");
        assert_eq!(format_rfc3339(r.time_ms.unwrap()), "2026-10-10T05:55:36Z");
        assert_eq!(
            (r.method, r.target, r.status, r.bytes),
            (&b"GET"[..], &b"/a?q=%3Cscript%3E"[..], 404, 12)
        );
        assert_eq!(r.user_agent, "Mozilla/5.0 \"quoted\" 中".as_bytes());
    }

    #[test]
    fn nested_keys_and_separate_uri() {
        let mut p = parser();
        let line = br#"{"@timestamp":"2026-10-10T05:55:36Z","source":{"ip":"2001:db8::5"},"http":{"request":{"method":"POST"},"response":{"status_code":201}},"url":{"original":"/upload.php","query":"x=1"}}"#;
        let Parsed::Record(r) = p.parse(line) else {
            panic!()
        };
        assert_eq!(r.ip.to_string(), "2001:db8::5");
        assert_eq!(
            (r.method, r.target, r.status),
            (&b"POST"[..], &b"/upload.php?x=1"[..], 201)
        );
    }

    #[test]
    fn invalid_utf8_passes_and_bad_json_is_bad() {
        let mut p = parser();
        let Parsed::Record(r) = p.parse(b"{\"remote_addr\":\"10.0.0.1\",\"request\":\"GET /\xff\xfe HTTP/1.1\",\"msec\":1760000000.5}") else { panic!() };
        assert_eq!(r.target, b"/\xff\xfe");
        assert_eq!(r.time_ms, Some(1_760_000_000_500));
        let check_bad = |line: &[u8], reason: &str| match parser().parse(line) {
            Parsed::Bad(got) => assert_eq!(got, reason, "{}", String::from_utf8_lossy(line)),
            other => panic!("expected {reason:?}, got {other:?}"),
        };
        check_bad(b"[1,2]", "not a JSON object");
        check_bad(
            br#"{"remote_addr":"10.0.0.1""#,
            "JSON object: expected ',' or '}'",
        );
        check_bad(br#"{"remote_addr":"10.0.0.1} "#, "unterminated JSON string");
        check_bad(br#"{"request":"GET / HTTP/1.1"}"#, "no client address key");
        check_bad(
            br#"{"remote_addr":"10.0.0.1","status":"abc"}"#,
            "status is not a number",
        );
        check_bad(br#"{"remote_addr":"10.0.0.1","x":tru}"#, "bad JSON value");
        let deep = format!(
            "{{\"remote_addr\":\"10.0.0.1\",\"a\":{}{}}}",
            "{\"a\":".repeat(40),
            "}".repeat(40)
        );
        check_bad(deep.as_bytes(), "JSON nested too deeply");
    }
}
