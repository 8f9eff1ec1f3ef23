//! IIS W3C extended logs. The `#Fields:` directive names the columns and
//! may change in the middle of a file (IIS writes a new header when the
//! site's logging fields change or the service restarts), so the parser
//! keeps the header in force. Values are separated by single spaces; IIS
//! writes spaces inside values as `+` (user agent) and `-` for none.
//! `date` and `time` are UTC.
//!
//! The request target is `cs-uri-stem` + `?` + `cs-uri-query`, built in a
//! scratch buffer; `+` in the user agent becomes a space there too.

use super::{Parsed, dash_empty, parse_status, parse_u64};
use crate::ip::IpKey;
use crate::record::Record;
use crate::time::parse_date_time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Date,
    Time,
    Client,
    Method,
    Stem,
    Query,
    Status,
    Bytes,
    UserAgent,
    Referer,
    Host,
    Protocol,
    Ignored,
}

fn column(name: &[u8]) -> Column {
    match name.to_ascii_lowercase().as_slice() {
        b"date" => Column::Date,
        b"time" => Column::Time,
        b"c-ip" => Column::Client,
        b"cs-method" => Column::Method,
        b"cs-uri-stem" => Column::Stem,
        b"cs-uri-query" => Column::Query,
        b"sc-status" => Column::Status,
        b"sc-bytes" => Column::Bytes,
        b"cs(user-agent)" => Column::UserAgent,
        b"cs(referer)" => Column::Referer,
        b"cs-host" | b"s-sitename" => Column::Host,
        b"cs-version" => Column::Protocol,
        _ => Column::Ignored,
    }
}

/// The IIS W3C parser; holds the `#Fields:` in force.
#[derive(Debug, Clone, Default)]
pub struct IisParser {
    columns: Vec<Column>,
    target: Vec<u8>,
    user_agent: Vec<u8>,
}

impl IisParser {
    /// A parser that has not seen a `#Fields:` header yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line: a directive updates the header; a data line before
    /// any header is bad.
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        if line.first() == Some(&b'#') {
            if let Some(fields) = line.strip_prefix(b"#Fields:") {
                self.columns = fields
                    .split(|b| *b == b' ')
                    .filter(|name| !name.is_empty())
                    .map(column)
                    .collect();
            }
            return Parsed::Skip;
        }
        if self.columns.is_empty() {
            return Parsed::Bad("IIS data line before any #Fields: header");
        }
        let mut record = Record::default();
        let (mut date, mut time): (&[u8], &[u8]) = (b"", b"");
        let (mut stem, mut query, mut agent): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let mut count = 0;
        for (value, column) in line.split(|b| *b == b' ').zip(self.columns.iter()) {
            count += 1;
            match column {
                Column::Date => date = value,
                Column::Time => time = value,
                Column::Client => {
                    record.client = value;
                    record.ip = IpKey::parse(value).unwrap_or(IpKey::UNKNOWN);
                }
                Column::Method => record.method = dash_empty(value),
                Column::Stem => stem = dash_empty(value),
                Column::Query => query = dash_empty(value),
                Column::Status => match parse_status(value) {
                    Some(status) => record.status = status,
                    None => return Parsed::Bad("sc-status is not a number"),
                },
                Column::Bytes => record.bytes = parse_u64(value).unwrap_or(0),
                Column::UserAgent => agent = dash_empty(value),
                Column::Referer => record.referer = dash_empty(value),
                Column::Host => record.host = dash_empty(value),
                Column::Protocol => record.protocol = dash_empty(value),
                Column::Ignored => {}
            }
        }
        if count != self.columns.len() {
            return Parsed::Bad("IIS line has fewer values than #Fields: names");
        }
        if record.client.is_empty() {
            return Parsed::Bad("no c-ip field");
        }
        record.time_ms = parse_date_time(date, time);
        if record.time_ms.is_none() {
            return Parsed::Bad("unparsable date/time");
        }
        self.target.clear();
        self.target.extend_from_slice(stem);
        if !query.is_empty() {
            self.target.push(b'?');
            self.target.extend_from_slice(query);
        }
        self.user_agent.clear();
        self.user_agent
            .extend(agent.iter().map(|b| if *b == b'+' { b' ' } else { *b }));
        record.target = &self.target;
        record.user_agent = &self.user_agent;
        Parsed::Record(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    #[test]
    fn fields_header_changes_mid_file() {
        let mut parser = IisParser::new();
        assert_eq!(
            parser.parse(b"#Software: Microsoft Internet Information Services 10.0"),
            Parsed::Skip
        );
        assert_eq!(
            parser.parse(b"2026-10-10 05:55:36 10.0.0.1 GET / - 200"),
            Parsed::Bad("IIS data line before any #Fields: header")
        );
        parser.parse(b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken");
        let line = b"2026-10-10 05:55:36 10.0.0.1 GET /default.aspx id=3 443 - 203.0.113.4 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15";
        let Parsed::Record(r) = parser.parse(line) else {
            panic!()
        };
        assert_eq!(r.ip.to_string(), "203.0.113.4");
        assert_eq!(format_rfc3339(r.time_ms.unwrap()), "2026-10-10T05:55:36Z");
        assert_eq!(r.target, b"/default.aspx?id=3");
        assert_eq!(r.user_agent, b"Mozilla/5.0 (Windows NT 10.0)");
        assert_eq!(r.status, 200);
        // The header changes: fewer columns, a different order.
        parser.parse(b"#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes");
        let Parsed::Record(r) =
            parser.parse(b"2026-10-10 06:00:00 198.51.100.2 POST /upload.aspx 500 77")
        else {
            panic!()
        };
        assert_eq!(
            (r.method, r.target, r.status, r.bytes),
            (&b"POST"[..], &b"/upload.aspx"[..], 500, 77)
        );
        assert!(r.user_agent.is_empty());
        assert_eq!(
            parser.parse(b"2026-10-10 06:00:00 198.51.100.2"),
            Parsed::Bad("IIS line has fewer values than #Fields: names")
        );
        assert_eq!(
            parser.parse(b"2026-10-10 6:00 198.51.100.2 GET / 200 1"),
            Parsed::Bad("unparsable date/time")
        );
    }
}
