//! Normalisation of a request part before the confirming patterns run:
//! what an attacker does to slip past a literal match is undone here, and
//! only for lines whose raw bytes hit the prefilter.
//!
//! Steps, in order: nginx's `\xNN` escapes and percent-encoding decoded
//! (`%uNNNN` too), a second time when the result still has `%NN` (double
//! encoding); `+` as a space in the query; ASCII lowercase; SQL comments
//! (`/**/`, `/*!50000`) as a space; backslashes as slashes; runs of
//! whitespace as one space. NUL bytes are kept: they are evidence.

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%NN`, `%uNNNN` and nginx's `\xNN` once into `out`; `+`
/// becomes a space after the first `?` when `plus_is_space`. Returns true
/// if anything was decoded.
fn decode_once(input: &[u8], out: &mut Vec<u8>, plus_is_space: bool) -> bool {
    out.clear();
    out.reserve(input.len());
    let mut in_query = false;
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match b {
            b'%' => {
                if let (Some(h), Some(l)) = (
                    input.get(i + 1).and_then(|b| hex(*b)),
                    input.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    changed = true;
                    continue;
                }
                if matches!(input.get(i + 1), Some(b'u' | b'U')) {
                    let digits = input
                        .get(i + 2..i + 6)
                        .map(|d| d.iter().map(|b| hex(*b)).collect::<Option<Vec<u8>>>());
                    if let Some(Some(d)) = digits {
                        let code = u32::from(d[0]) << 12
                            | u32::from(d[1]) << 8
                            | u32::from(d[2]) << 4
                            | u32::from(d[3]);
                        let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                        changed = true;
                        continue;
                    }
                }
                out.push(b);
            }
            b'\\' if matches!(input.get(i + 1), Some(b'x' | b'X')) => {
                if let (Some(h), Some(l)) = (
                    input.get(i + 2).and_then(|b| hex(*b)),
                    input.get(i + 3).and_then(|b| hex(*b)),
                ) {
                    out.push(h << 4 | l);
                    i += 4;
                    changed = true;
                    continue;
                }
                out.push(b);
            }
            b'?' => {
                in_query = true;
                out.push(b);
            }
            b'+' if plus_is_space && in_query => {
                out.push(b' ');
                changed = true;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    changed
}

fn has_percent_escape(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'%', bytes).any(|i| {
        bytes.get(i + 1).and_then(|b| hex(*b)).is_some()
            && bytes.get(i + 2).and_then(|b| hex(*b)).is_some()
    })
}

/// Normalises `input` into `out` (see the module docs). `scratch` is a
/// reusable buffer. `plus_is_space` is for request targets.
pub fn normalize(input: &[u8], out: &mut Vec<u8>, scratch: &mut Vec<u8>, plus_is_space: bool) {
    decode_once(input, scratch, plus_is_space);
    if has_percent_escape(scratch) {
        // Double encoding (`%252e`): decode the result once more. '+' was
        // already handled; a literal '+' from `%2b` must stay a plus.
        let first = std::mem::take(scratch);
        decode_once(&first, scratch, false);
    }
    out.clear();
    out.reserve(scratch.len());
    let bytes = &scratch[..];
    let mut i = 0;
    let mut last_space = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            // `/*` or `/*!50000`: a comment opener becomes one space.
            i += 2;
            if bytes.get(i) == Some(&b'!') {
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            if !last_space {
                out.push(b' ');
                last_space = true;
            }
            continue;
        }
        if b == b'*' && bytes.get(i + 1) == Some(&b'/') {
            i += 2;
            if !last_space {
                out.push(b' ');
                last_space = true;
            }
            continue;
        }
        let b = match b {
            b'\\' => b'/',
            b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b' ' => b' ',
            _ => b.to_ascii_lowercase(),
        };
        if b == b' ' {
            if last_space {
                i += 1;
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        normalize(input.as_bytes(), &mut out, &mut scratch, true);
        assert_eq!(String::from_utf8_lossy(&out), expected, "input {input:?}");
    }

    #[test]
    fn undoes_evasions() {
        check("/a?id=1%20UNION%20SELECT", "/a?id=1 union select");
        check(
            "/a?id=1/**/UnIoN/*!50000SeLeCt*/1",
            "/a?id=1 union select 1",
        );
        check("/a%252e%252e%252fetc", "/a../etc");
        check("/a?q=x+y%2Bz", "/a?q=x y+z");
        check("/a+b?c", "/a+b?c");
        check("/%u003cscript", "/<script");
        check(r"/a?x=\x22\x3E", "/a?x=\">");
        check("/a?f=..\\..\\win.ini", "/a?f=../../win.ini");
        check("/a?x=%00%0a%0d%09y", "/a?x=\0 y");
        check("/%zz%4", "/%zz%4");
        check("/%E4%B8%AD%E6%96%87", "/中文");
    }
}
