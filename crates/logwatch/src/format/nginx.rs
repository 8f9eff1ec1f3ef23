//! nginx `log_format` strings from the plan, compiled once into a list of
//! literals and variables, then matched against each line without regex:
//! a literal must appear where expected; a variable extends to the next
//! literal. Variables whose values contain spaces (`$time_local`,
//! `$request`) skip that many spaces before looking for a literal that
//! starts with one.
//!
//! Unknown variables (`$upstream_response_time`, `$request_id`, …) are
//! read and ignored, so any nginx format compiles as long as two variables
//! are not glued together without a literal between them.

use super::{Parsed, dash_empty, parse_status, parse_u64, split_request};
use crate::ip::IpKey;
use crate::record::Record;
use crate::time::{parse_clf, parse_epoch, parse_iso8601};

/// What a variable in the format means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Client,
    TimeLocal,
    TimeIso,
    Msec,
    Request,
    Method,
    /// `$request_uri`: path and query as sent.
    RequestUri,
    /// `$uri`: the (normalised) path only.
    Uri,
    Args,
    Protocol,
    Status,
    Bytes,
    Referer,
    UserAgent,
    Host,
    Ignored,
}

impl Field {
    fn from_name(name: &str) -> Field {
        match name {
            "remote_addr" | "realip_remote_addr" | "binary_remote_addr" => Field::Client,
            "time_local" => Field::TimeLocal,
            "time_iso8601" => Field::TimeIso,
            "msec" => Field::Msec,
            "request" => Field::Request,
            "request_method" => Field::Method,
            "request_uri" => Field::RequestUri,
            "uri" | "document_uri" => Field::Uri,
            "args" | "query_string" => Field::Args,
            "server_protocol" => Field::Protocol,
            "status" => Field::Status,
            "body_bytes_sent" | "bytes_sent" => Field::Bytes,
            "http_referer" => Field::Referer,
            "http_user_agent" => Field::UserAgent,
            "host" | "http_host" | "server_name" => Field::Host,
            _ => Field::Ignored,
        }
    }

    /// Spaces a value of this field normally contains.
    fn inner_spaces(self) -> usize {
        match self {
            Field::TimeLocal => 1,
            Field::Request => 2,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(Vec<u8>),
    Variable(Field),
}

/// A compiled nginx `log_format`.
#[derive(Debug, Clone)]
pub struct NginxParser {
    tokens: Vec<Token>,
    /// Scratch for `$uri` + `?` + `$args`.
    target: Vec<u8>,
}

impl NginxParser {
    /// Compiles a format string. Fails on a format with no `$remote_addr`
    /// and no request, or with two variables not separated by a literal.
    pub fn compile(format: &str) -> Result<NginxParser, String> {
        let bytes = format.as_bytes();
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
                    let close = bytes[i + 2..]
                        .iter()
                        .position(|b| *b == b'}')
                        .ok_or_else(|| format!("log_format {format:?}: unterminated ${{"))?;
                    (&format[i + 2..i + 2 + close], i + 3 + close)
                } else {
                    let len = bytes[i + 1..]
                        .iter()
                        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                        .unwrap_or(bytes.len() - i - 1);
                    (&format[i + 1..i + 1 + len], i + 1 + len)
                };
                if name.is_empty() {
                    literal.push(b'$');
                    i += 1;
                    continue;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                if matches!(tokens.last(), Some(Token::Variable(_))) {
                    return Err(format!(
                        "log_format {format:?}: ${name} follows another variable with nothing between them"
                    ));
                }
                tokens.push(Token::Variable(Field::from_name(name)));
                i = next;
            } else {
                literal.push(bytes[i]);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        let has = |field: Field| tokens.contains(&Token::Variable(field));
        if !has(Field::Client) {
            return Err(format!("log_format {format:?}: no $remote_addr"));
        }
        if !(has(Field::Request) || has(Field::RequestUri) || has(Field::Uri)) {
            return Err(format!(
                "log_format {format:?}: no $request, $request_uri or $uri"
            ));
        }
        Ok(NginxParser {
            tokens,
            target: Vec::new(),
        })
    }

    /// Parses one line.
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        let mut record = Record::default();
        let mut uri: &[u8] = b"";
        let mut args: &[u8] = b"";
        let mut have_request_uri = false;
        let mut pos = 0usize;
        let mut index = 0;
        while index < self.tokens.len() {
            match &self.tokens[index] {
                Token::Literal(literal) => {
                    if !line[pos..].starts_with(literal) {
                        return Parsed::Bad("line does not match the log_format");
                    }
                    pos += literal.len();
                }
                Token::Variable(field) => {
                    let end = match self.tokens.get(index + 1) {
                        None => line.len(),
                        Some(Token::Literal(next)) => {
                            match find_literal(&line[pos..], next, field.inner_spaces()) {
                                Some(offset) => pos + offset,
                                None => return Parsed::Bad("line does not match the log_format"),
                            }
                        }
                        Some(Token::Variable(_)) => unreachable!("rejected at compile time"),
                    };
                    let value = &line[pos..end];
                    match field {
                        Field::Client => {
                            record.client = value;
                            record.ip = IpKey::parse(value).unwrap_or(IpKey::UNKNOWN);
                        }
                        Field::TimeLocal => record.time_ms = parse_clf(value),
                        Field::TimeIso => record.time_ms = parse_iso8601(value),
                        Field::Msec => record.time_ms = parse_epoch(value),
                        Field::Request => {
                            let (method, target, protocol) = split_request(value);
                            record.method = method;
                            record.target = target;
                            record.protocol = protocol;
                            have_request_uri = true;
                        }
                        Field::Method => record.method = dash_empty(value),
                        Field::RequestUri => {
                            record.target = value;
                            have_request_uri = true;
                        }
                        Field::Uri => uri = value,
                        Field::Args => args = dash_empty(value),
                        Field::Protocol => record.protocol = dash_empty(value),
                        Field::Status => match parse_status(value) {
                            Some(status) => record.status = status,
                            None => return Parsed::Bad("status is not a number"),
                        },
                        Field::Bytes => record.bytes = parse_u64(value).unwrap_or(0),
                        Field::Referer => record.referer = dash_empty(value),
                        Field::UserAgent => record.user_agent = dash_empty(value),
                        Field::Host => record.host = dash_empty(value),
                        Field::Ignored => {}
                    }
                    pos = end;
                }
            }
            index += 1;
        }
        if record.client.is_empty() {
            return Parsed::Bad("no client field");
        }
        if record.time_ms.is_none() && self.tokens.iter().any(is_time) {
            return Parsed::Bad("unparsable time");
        }
        if !have_request_uri {
            self.target.clear();
            self.target.extend_from_slice(uri);
            if !args.is_empty() {
                self.target.push(b'?');
                self.target.extend_from_slice(args);
            }
            record.target = &self.target;
        }
        Parsed::Record(record)
    }
}

fn is_time(token: &Token) -> bool {
    matches!(
        token,
        Token::Variable(Field::TimeLocal | Field::TimeIso | Field::Msec)
    )
}

/// Finds `literal` in `haystack`, skipping `inner_spaces` spaces first when
/// the literal starts with a space (they belong to the value).
fn find_literal(haystack: &[u8], literal: &[u8], inner_spaces: usize) -> Option<usize> {
    let mut from = 0;
    if literal.first() == Some(&b' ') {
        for _ in 0..inner_spaces {
            match memchr::memchr(b' ', &haystack[from..]) {
                Some(space) => from += space + 1,
                None => break,
            }
        }
    }
    if literal.len() == 1 {
        return memchr::memchr(literal[0], &haystack[from..]).map(|at| from + at);
    }
    memchr::memmem::find(&haystack[from..], literal).map(|at| from + at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" rt=$request_time"#;

    #[test]
    fn nginx_main_format_with_extras() {
        let mut parser = NginxParser::compile(MAIN).unwrap();
        let line = br#"203.0.113.9 - - [10/Oct/2026:13:55:36 +0800] "GET /search?q=a+b HTTP/2.0" 200 31 "-" "Mozilla/5.0 (Windows NT 10.0)" "-" rt=0.004"#;
        let Parsed::Record(r) = parser.parse(line) else {
            panic!()
        };
        assert_eq!(r.ip.to_string(), "203.0.113.9");
        assert_eq!(format_rfc3339(r.time_ms.unwrap()), "2026-10-10T05:55:36Z");
        assert_eq!(
            (r.method, r.target, r.status, r.bytes),
            (&b"GET"[..], &b"/search?q=a+b"[..], 200, 31)
        );
        assert_eq!(r.user_agent, b"Mozilla/5.0 (Windows NT 10.0)");
    }

    #[test]
    fn separate_fields_and_iso_time() {
        let format = "$time_iso8601|$host|$remote_addr|$request_method|$uri|$args|$status|$body_bytes_sent|$http_user_agent";
        let mut parser = NginxParser::compile(format).unwrap();
        let line = b"2026-10-10T13:55:36+08:00|www.example.gov.test|10.0.0.8|POST|/upload.php|dir=a|200|12|curl/8.0";
        let Parsed::Record(r) = parser.parse(line) else {
            panic!()
        };
        assert_eq!(r.target, b"/upload.php?dir=a");
        assert_eq!(r.host, b"www.example.gov.test");
        assert_eq!(r.method, b"POST");
        assert_eq!(format_rfc3339(r.time_ms.unwrap()), "2026-10-10T05:55:36Z");
        assert_eq!(
            parser.parse(b"nonsense"),
            Parsed::Bad("line does not match the log_format")
        );
    }

    #[test]
    fn compile_errors() {
        assert!(
            NginxParser::compile("$status $request").is_err(),
            "no client"
        );
        assert!(
            NginxParser::compile("$remote_addr $status").is_err(),
            "no request"
        );
        assert!(
            NginxParser::compile("$remote_addr$request").is_err(),
            "glued variables"
        );
        assert!(
            NginxParser::compile("${remote_addr} ${request").is_err(),
            "unterminated"
        );
        assert!(NginxParser::compile("${remote_addr} ${request}").is_ok());
    }
}
