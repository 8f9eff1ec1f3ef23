//! Log formats: the configuration ([`LogFormat`], serde), and the compiled
//! [`Parser`] that turns one line (bytes, without its `\n`) into a
//! [`Record`].
//!
//! Every parser works on bytes, never allocates per line on the hot path
//! (the combined parser not at all), and never fails hard: a line it cannot
//! read is [`Parsed::Bad`] with a short reason, counted and sampled by the
//! caller. Formats with state (IIS's `#Fields:` header, which may change
//! mid-file) keep it in the parser; [`Parser::observe_directive`] lets a
//! reader that splits a file into chunks hand each worker the header in
//! force at its chunk's start.
//!
//! A format is an extension point: a new one is a module here with a
//! parser type and a variant of [`Parser`].

mod clf;
mod iis;
mod json;
mod nginx;

use serde::{Deserialize, Serialize};

pub use clf::ClfParser;
pub use iis::IisParser;
pub use json::{JsonFields, JsonParser};
pub use nginx::NginxParser;

use crate::record::Record;

/// Which format a log file is in, as the plan names it.
// A configuration value, made once per file: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Guess from the first lines: JSON, IIS W3C, combined or common.
    #[default]
    Auto,
    /// nginx/Apache `combined` (also accepts `common` lines, extra trailing
    /// fields such as `"$http_x_forwarded_for"`, and Apache's
    /// `vhost_combined` host prefix).
    Combined,
    /// nginx/Apache `common` (CLF).
    Common,
    /// An nginx `log_format` string, compiled once: `$remote_addr - …`.
    Nginx {
        /// The format string as in nginx.conf (without the name).
        format: String,
    },
    /// IIS W3C extended; fields from the `#Fields:` directive.
    Iis,
    /// One JSON object per line, with a mapping of field names.
    Json {
        /// Which keys hold which values (dotted paths for nested objects).
        #[serde(default)]
        fields: JsonFields,
    },
}

impl LogFormat {
    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Combined => "combined",
            LogFormat::Common => "common",
            LogFormat::Nginx { .. } => "nginx",
            LogFormat::Iis => "iis",
            LogFormat::Json { .. } => "json",
        }
    }

    /// Compiles the format into a parser. `Auto` must be resolved first
    /// with [`detect_format`]; compiling it yields the combined parser.
    pub fn compile(&self) -> Result<Parser, String> {
        Ok(match self {
            LogFormat::Auto | LogFormat::Combined | LogFormat::Common => {
                Parser::Clf(ClfParser::new())
            }
            LogFormat::Nginx { format } => Parser::Nginx(NginxParser::compile(format)?),
            LogFormat::Iis => Parser::Iis(IisParser::new()),
            LogFormat::Json { fields } => Parser::Json(JsonParser::new(fields.clone())?),
        })
    }
}

/// Why a line was not a record.
pub type BadReason = &'static str;

/// What a parser made of one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A request.
    Record(Record<'a>),
    /// A line that is not a request and not an error: blank, an IIS
    /// directive (`#Fields:` …).
    Skip,
    /// A line the format cannot read.
    Bad(BadReason),
}

/// A compiled parser. Cheap to clone: each worker thread owns one.
// Not boxed: one per worker and chunk, and a box would put an
// indirection on every line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Parser {
    /// combined / common / vhost_combined.
    Clf(ClfParser),
    /// A compiled nginx `log_format`.
    Nginx(NginxParser),
    /// IIS W3C extended.
    Iis(IisParser),
    /// JSON lines.
    Json(JsonParser),
}

impl Parser {
    /// Parses one line (without its line terminator; a trailing `\r` is
    /// ignored).
    #[inline]
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Parsed::Skip;
        }
        match self {
            Parser::Clf(parser) => parser.parse(line),
            Parser::Nginx(parser) => parser.parse(line),
            Parser::Iis(parser) => parser.parse(line),
            Parser::Json(parser) => parser.parse(line),
        }
    }

    /// True when lines beginning with `#` change how later lines are read
    /// (IIS), so a chunked reader must track them.
    pub fn has_directives(&self) -> bool {
        matches!(self, Parser::Iis(_))
    }

    /// Feeds a directive line seen before this parser's chunk (IIS
    /// `#Fields:`), so the parser starts with the header in force.
    pub fn observe_directive(&mut self, line: &[u8]) {
        if let Parser::Iis(parser) = self {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let _ = parser.parse(line);
        }
    }
}

/// Guesses the format from a sample of the file's first lines: JSON
/// objects, IIS directives, or combined/common (the default).
pub fn detect_format(sample: &[u8]) -> LogFormat {
    let mut clf = ClfParser::new();
    let mut combined_hits = 0;
    for line in sample.split(|b| *b == b'\n').take(50) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = line.trim_ascii_start();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with(b"#Software")
            || trimmed.starts_with(b"#Version")
            || trimmed.starts_with(b"#Fields:")
        {
            return LogFormat::Iis;
        }
        if trimmed.starts_with(b"{") {
            return LogFormat::Json {
                fields: JsonFields::default(),
            };
        }
        if let Parsed::Record(record) = clf.parse(line)
            && (!record.user_agent.is_empty() || !record.referer.is_empty())
        {
            combined_hits += 1;
        }
    }
    if combined_hits > 0 {
        LogFormat::Combined
    } else {
        LogFormat::Common
    }
}

/// Splits a request line `GET /x HTTP/1.1` into method, target, protocol.
/// A line that is not a request (`-`, binary) becomes the target alone.
#[inline]
pub(crate) fn split_request(request: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let Some(first) = memchr::memchr(b' ', request) else {
        return (b"", request, b"");
    };
    let method = &request[..first];
    if method.is_empty()
        || !method
            .iter()
            .all(|b| b.is_ascii_alphabetic() || *b == b'-' || *b == b'_')
    {
        return (b"", request, b"");
    }
    let rest = &request[first + 1..];
    match memchr::memrchr(b' ', rest) {
        Some(last) if rest[last + 1..].starts_with(b"HTTP/") => {
            (method, &rest[..last], &rest[last + 1..])
        }
        _ => (method, rest, b""),
    }
}

/// `-` means "none" in every text format.
#[inline]
pub(crate) fn dash_empty(value: &[u8]) -> &[u8] {
    if value == b"-" { b"" } else { value }
}

/// Parses a decimal status; `-` or junk gives 0.
#[inline]
pub(crate) fn parse_status(value: &[u8]) -> Option<u16> {
    if value == b"-" {
        return Some(0);
    }
    if value.is_empty() || value.len() > 3 {
        return None;
    }
    let mut status = 0u16;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        status = status * 10 + u16::from(b - b'0');
    }
    Some(status)
}

/// Parses a byte count; `-` gives 0; `None` for junk. Saturates.
#[inline]
pub(crate) fn parse_u64(value: &[u8]) -> Option<u64> {
    if value == b"-" || value.is_empty() {
        return Some(0);
    }
    let mut total = 0u64;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        total = total.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_requests() {
        assert_eq!(
            split_request(b"GET /a?b HTTP/1.1"),
            (&b"GET"[..], &b"/a?b"[..], &b"HTTP/1.1"[..])
        );
        assert_eq!(
            split_request(b"GET /a b HTTP/1.0"),
            (&b"GET"[..], &b"/a b"[..], &b"HTTP/1.0"[..])
        );
        assert_eq!(
            split_request(b"GET /a"),
            (&b"GET"[..], &b"/a"[..], &b""[..])
        );
        assert_eq!(split_request(b"-"), (&b""[..], &b"-"[..], &b""[..]));
        assert_eq!(
            split_request(b"\x16\x03\x01 x"),
            (&b""[..], &b"\x16\x03\x01 x"[..], &b""[..])
        );
    }

    #[test]
    fn detects_formats() {
        let combined = b"203.0.113.5 - - [10/Oct/2026:13:55:36 +0800] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n";
        assert_eq!(detect_format(combined), LogFormat::Combined);
        let common = b"203.0.113.5 - - [10/Oct/2026:13:55:36 +0800] \"GET / HTTP/1.1\" 200 5\n";
        assert_eq!(detect_format(common), LogFormat::Common);
        assert_eq!(
            detect_format(b"#Software: Microsoft Internet Information Services 10.0\n"),
            LogFormat::Iis
        );
        assert!(matches!(
            detect_format(b"{\"remote_addr\":\"10.0.0.1\"}\n"),
            LogFormat::Json { .. }
        ));
    }
}
