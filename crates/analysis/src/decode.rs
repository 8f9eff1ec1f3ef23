//! Turning the bytes of an HTTP response body into text.
//!
//! Government sites in China are still often encoded in GBK or GB18030, label
//! their charset in a `<meta>` tag only, or label it wrongly. This module picks
//! the encoding the way a browser would — byte order mark, then the HTTP
//! `Content-Type` charset, then a `<meta>` prescan of the first 4 KiB, then
//! "is it valid UTF-8", then a statistical guess (chardetng) — and decodes
//! with replacement characters rather than failing.
//!
//! It also decides whether the body is binary (an image, an archive, a PDF)
//! so that a page replaced by a binary file is reported as such.
//!
//! It deliberately does not parse HTML (see [`crate::fingerprint`](mod@crate::fingerprint)), does not
//! decompress (the probe's HTTP client does), and never fails: bad input gives
//! a best-effort text and `had_errors = true`.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How many leading bytes the `<meta charset>` prescan looks at.
const META_PRESCAN_LIMIT: usize = 4 * 1024;

/// How many leading bytes are searched for NUL bytes to call a body binary.
const BINARY_SNIFF_LIMIT: usize = 8 * 1024;

/// The `encoding` reported for a binary body, which is not decoded.
pub const BINARY_ENCODING: &str = "binary";

/// A response body decoded to text, with how the encoding was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBody {
    /// The decoded text. Empty when `binary` is true.
    pub text: String,
    /// The encoding used, by its encoding_rs name ("UTF-8", "GBK", "gb18030",
    /// "windows-1252", ...), or [`BINARY_ENCODING`] for a binary body.
    pub encoding: &'static str,
    /// True when malformed byte sequences were replaced with U+FFFD.
    pub had_errors: bool,
    /// True when the body looks binary: NUL bytes in the first 8 KiB, or a
    /// clearly non-text `Content-Type` (image, audio, video, font, zip, pdf,
    /// octet-stream) on a body that does not start like markup.
    pub binary: bool,
}

/// Decodes a response body. `content_type` is the HTTP `Content-Type` header
/// value, if the response had one.
pub fn decode_body(bytes: &[u8], content_type: Option<&str>) -> DecodedBody {
    let bom = Encoding::for_bom(bytes);
    if looks_binary(bytes, content_type, bom.is_some()) {
        return DecodedBody {
            text: String::new(),
            encoding: BINARY_ENCODING,
            had_errors: false,
            binary: true,
        };
    }

    let (encoding, body) = if let Some((encoding, bom_length)) = bom {
        (encoding, &bytes[bom_length..])
    } else if let Some(encoding) = content_type.and_then(header_charset) {
        (encoding, bytes)
    } else if let Some(encoding) = meta_prescan(&bytes[..bytes.len().min(META_PRESCAN_LIMIT)]) {
        (encoding, bytes)
    } else if std::str::from_utf8(bytes).is_ok() {
        (UTF_8, bytes)
    } else {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(bytes, true);
        (detector.guess(None, chardetng::Utf8Detection::Allow), bytes)
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    DecodedBody {
        text: text.into_owned(),
        encoding: encoding.name(),
        had_errors,
        binary: false,
    }
}

/// True when the body should be treated as binary rather than as a page.
fn looks_binary(bytes: &[u8], content_type: Option<&str>, has_bom: bool) -> bool {
    // UTF-16 text is full of NUL bytes; a BOM says it is text.
    if !has_bom && bytes[..bytes.len().min(BINARY_SNIFF_LIMIT)].contains(&0) {
        return true;
    }
    let Some(content_type) = content_type else {
        return false;
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let non_text = ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|prefix| mime.starts_with(prefix))
        || matches!(
            mime.as_str(),
            "application/octet-stream"
                | "application/zip"
                | "application/x-zip-compressed"
                | "application/gzip"
                | "application/x-gzip"
                | "application/x-rar-compressed"
                | "application/x-7z-compressed"
                | "application/pdf"
                | "application/msword"
                | "application/vnd.ms-excel"
                | "application/x-msdownload"
        );
    // Misconfigured servers sometimes send real pages as octet-stream; a body
    // that starts like markup is still analysed as a page.
    non_text && !starts_like_markup(bytes)
}

/// True when the first non-whitespace byte is `<`.
fn starts_like_markup(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|&byte| byte == b'<')
}

/// The encoding named by the `charset` parameter of a `Content-Type` value.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes())
    })
}

/// A simplified WHATWG "prescan a byte stream to determine its encoding":
/// finds `<meta charset=...>` or `<meta http-equiv="content-type"
/// content="...charset=...">`, skipping comments and other tags.
fn meta_prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut position = 0;
    while position < bytes.len() {
        let rest = &bytes[position..];
        if rest.starts_with(b"<!--") {
            position += find(&rest[4..], b"-->").map_or(rest.len(), |end| end + 4 + 3);
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest
                .get(5)
                .is_some_and(|&byte| byte.is_ascii_whitespace() || byte == b'/')
        {
            let (attributes, consumed) = read_attributes(&rest[5..]);
            position += 5 + consumed;
            if let Some(encoding) = meta_encoding(&attributes) {
                return Some(encoding);
            }
        } else if rest.len() > 1
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic() || rest[1] == b'/')
        {
            let name_start = if rest[1] == b'/' { 2 } else { 1 };
            let name_length = rest[name_start..]
                .iter()
                .take_while(|byte| !byte.is_ascii_whitespace() && **byte != b'>')
                .count();
            let (_, consumed) = read_attributes(&rest[name_start + name_length..]);
            position += name_start + name_length + consumed;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            position += find(rest, b">").map_or(rest.len(), |end| end + 1);
        } else {
            position += 1;
        }
    }
    None
}

/// The encoding a `<meta>` tag's attributes declare, per the WHATWG rules
/// (UTF-16 labels in a meta mean UTF-8; x-user-defined means windows-1252).
fn meta_encoding(attributes: &[(String, String)]) -> Option<&'static Encoding> {
    let value = |name: &str| {
        attributes
            .iter()
            .find(|(attribute, _)| attribute == name)
            .map(|(_, value)| value.as_str())
    };
    let label = if let Some(charset) = value("charset") {
        charset.to_string()
    } else if value("http-equiv").is_some_and(|equiv| equiv.eq_ignore_ascii_case("content-type")) {
        charset_from_content(value("content")?)?
    } else {
        return None;
    };
    let encoding = Encoding::for_label(label.trim().as_bytes())?;
    Some(if encoding == UTF_16BE || encoding == UTF_16LE {
        UTF_8
    } else if encoding.name() == "x-user-defined" {
        WINDOWS_1252
    } else {
        encoding
    })
}

/// The charset in a meta `content` value such as `text/html; charset=gb2312`.
fn charset_from_content(content: &str) -> Option<String> {
    let lower = content.to_ascii_lowercase();
    let start = lower.find("charset")? + "charset".len();
    let rest = lower[start..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

/// Reads `name=value` attributes up to and including the closing `>`.
/// Returns lowercase names with their values and the number of bytes read.
fn read_attributes(bytes: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut attributes = Vec::new();
    let mut position = 0;
    loop {
        while position < bytes.len()
            && (bytes[position].is_ascii_whitespace() || bytes[position] == b'/')
        {
            position += 1;
        }
        if position >= bytes.len() {
            return (attributes, position);
        }
        if bytes[position] == b'>' {
            return (attributes, position + 1);
        }
        let name_start = position;
        while position < bytes.len()
            && !bytes[position].is_ascii_whitespace()
            && !matches!(bytes[position], b'=' | b'>' | b'/')
        {
            position += 1;
        }
        let name = String::from_utf8_lossy(&bytes[name_start..position]).to_ascii_lowercase();
        while position < bytes.len() && bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        let mut value = String::new();
        if position < bytes.len() && bytes[position] == b'=' {
            position += 1;
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            if position < bytes.len() && matches!(bytes[position], b'"' | b'\'') {
                let quote = bytes[position];
                let value_start = position + 1;
                let value_end = bytes[value_start..]
                    .iter()
                    .position(|&byte| byte == quote)
                    .map_or(bytes.len(), |offset| value_start + offset);
                value = String::from_utf8_lossy(&bytes[value_start..value_end]).into_owned();
                position = (value_end + 1).min(bytes.len());
            } else {
                let value_start = position;
                while position < bytes.len()
                    && !bytes[position].is_ascii_whitespace()
                    && bytes[position] != b'>'
                {
                    position += 1;
                }
                value = String::from_utf8_lossy(&bytes[value_start..position]).into_owned();
            }
        }
        if !name.is_empty() && !attributes.iter().any(|(existing, _)| *existing == name) {
            attributes.push((name, value));
        }
    }
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` and compares (encoding, text, had_errors, binary).
    fn check(bytes: &[u8], content_type: Option<&str>, expected: (&str, &str, bool, bool)) {
        let decoded = decode_body(bytes, content_type);
        assert_eq!(
            (
                decoded.encoding,
                decoded.text.as_str(),
                decoded.had_errors,
                decoded.binary
            ),
            expected,
            "bytes {:?}, content type {content_type:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    #[test]
    fn bom_wins_over_everything() {
        let mut utf8 = b"\xEF\xBB\xBF".to_vec();
        utf8.extend_from_slice("<meta charset=gbk>财政".as_bytes());
        check(
            &utf8,
            Some("text/html; charset=gbk"),
            ("UTF-8", "<meta charset=gbk>财政", false, false),
        );

        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<p>财政</p>".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        check(&utf16, None, ("UTF-16LE", "<p>财政</p>", false, false));
    }

    #[test]
    fn header_charset_is_used_before_meta() {
        let page = gbk("<meta charset=\"utf-8\"><p>示例省财政厅</p>");
        check(
            &page,
            Some("text/html; charset=GBK"),
            (
                "GBK",
                "<meta charset=\"utf-8\"><p>示例省财政厅</p>",
                false,
                false,
            ),
        );
        check(
            &gbk("<p>通知</p>"),
            Some("text/html;charset=\"gb2312\""),
            ("GBK", "<p>通知</p>", false, false),
        );
        check(
            &gbk("<p>通知</p>"),
            Some("text/html; charset=x-gbk"),
            ("GBK", "<p>通知</p>", false, false),
        );
        check(
            &gbk("<p>通知</p>"),
            Some("text/html; charset=GB18030"),
            ("gb18030", "<p>通知</p>", false, false),
        );
    }

    #[test]
    fn meta_charset_is_found_by_the_prescan() {
        let cases: &[&str] = &[
            "<!DOCTYPE html><html><head><meta charset=\"gbk\"><title>首页</title>",
            "<html><head><META CHARSET=GB2312>",
            "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\" />",
            "<head><meta content='text/html;charset=GBK' http-equiv='content-type'>",
            "<!-- <meta charset=utf-8> --><meta charset=gbk>",
        ];
        for head in cases {
            let page = gbk(&format!("{head}<p>示例省财政厅</p>"));
            let decoded = decode_body(&page, Some("text/html"));
            assert_eq!(decoded.encoding, "GBK", "{head}");
            assert!(decoded.text.contains("示例省财政厅"), "{head}");
        }
    }

    #[test]
    fn meta_after_four_kib_is_not_seen() {
        let mut page = "<p>填充</p>".repeat(600);
        page.push_str("<meta charset=gbk>");
        let bytes = page.into_bytes();
        // Valid UTF-8, so UTF-8 wins once the meta is out of reach.
        assert_eq!(decode_body(&bytes, None).encoding, "UTF-8");
    }

    #[test]
    fn unlabelled_utf8_and_sniffed_gbk() {
        check(
            "<p>示例</p>".as_bytes(),
            None,
            ("UTF-8", "<p>示例</p>", false, false),
        );
        let text = "<html><body><p>示例省财政厅关于做好二〇二六年度部门预算编制工作的通知，各市县财政局：现将有关事项通知如下。</p></body></html>";
        let decoded = decode_body(&gbk(text), None);
        assert!(
            matches!(decoded.encoding, "GBK" | "gb18030"),
            "{}",
            decoded.encoding
        );
        assert_eq!(decoded.text, text);
    }

    #[test]
    fn malformed_bytes_are_replaced_not_refused() {
        check(
            b"<p>ok \xFF</p>",
            Some("text/html; charset=utf-8"),
            ("UTF-8", "<p>ok \u{FFFD}</p>", true, false),
        );
        check(b"", None, ("UTF-8", "", false, false));
        check(
            b"<p>x</p>",
            Some("text/html; charset=no-such-charset"),
            ("UTF-8", "<p>x</p>", false, false),
        );
    }

    #[test]
    fn binary_bodies() {
        check(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            None,
            ("binary", "", false, true),
        );
        check(
            b"GIF89a....",
            Some("image/gif"),
            ("binary", "", false, true),
        );
        check(
            b"%PDF-1.4",
            Some("application/pdf"),
            ("binary", "", false, true),
        );
        check(
            b"PK\x03\x04",
            Some("application/zip"),
            ("binary", "", false, true),
        );
        // A page sent with the wrong type is still a page.
        check(
            b"<html>x</html>",
            Some("application/octet-stream"),
            ("UTF-8", "<html>x</html>", false, false),
        );
        check(
            b"plain",
            Some("text/plain"),
            ("UTF-8", "plain", false, false),
        );
    }

    #[test]
    fn charset_from_meta_content() {
        for (content, expected) in [
            ("text/html; charset=gb2312", Some("gb2312")),
            ("text/html;CHARSET = \"GBK\"", Some("gbk")),
            ("text/html", None),
            ("charset=", None),
        ] {
            assert_eq!(
                charset_from_content(content).as_deref(),
                expected,
                "{content}"
            );
        }
    }
}
