//! Paths inside a web root, as raw bytes.
//!
//! A [`RelPath`] is what the guard calls a file: its path relative to the
//! root, `/`-separated, with no empty, `.` or `..` component and no NUL, so it
//! can never name anything outside the root. Names are bytes because Linux
//! names are bytes: a page called `\xff.html` is protected like any other.
//!
//! In manifests and reports a path is written as text: valid UTF-8 stays as it
//! is, and every byte that is not part of valid UTF-8, every control
//! character and `%` itself are written `%XX`. The encoding is reversible and
//! unambiguous. This module does no I/O.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A path relative to a web root, as bytes. The root itself is the empty path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RelPath(Vec<u8>);

/// Why some bytes are not a [`RelPath`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelPathError {
    /// An empty, `.` or `..` component, or a leading or trailing `/`.
    #[error("{0:?} has an empty, \".\" or \"..\" component")]
    BadComponent(String),
    /// A NUL byte, which no file name can hold.
    #[error("{0:?} contains a NUL byte")]
    Nul(String),
    /// A `%` not followed by two hex digits in the text form.
    #[error("{0:?} has a bad %-escape")]
    BadEscape(String),
}

impl RelPath {
    /// The root itself.
    pub fn root() -> RelPath {
        RelPath(Vec::new())
    }

    /// Checks raw bytes (`a/b/c`) and makes a path of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<RelPath, RelPathError> {
        if bytes.is_empty() {
            return Ok(RelPath::root());
        }
        if bytes.contains(&0) {
            return Err(RelPathError::Nul(escape(bytes)));
        }
        if bytes
            .split(|&b| b == b'/')
            .any(|part| part.is_empty() || part == b"." || part == b"..")
        {
            return Err(RelPathError::BadComponent(escape(bytes)));
        }
        Ok(RelPath(bytes.to_vec()))
    }

    /// Parses the text form written by [`fmt::Display`].
    pub fn parse(text: &str) -> Result<RelPath, RelPathError> {
        let bytes = unescape(text).ok_or_else(|| RelPathError::BadEscape(text.to_string()))?;
        RelPath::from_bytes(&bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True for the root itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path with one more component. `name` must be a single file
    /// name (no `/`, not `.` or `..`), as a directory listing returns.
    pub fn join(&self, name: &[u8]) -> RelPath {
        debug_assert!(!name.is_empty() && !name.contains(&b'/'));
        if self.0.is_empty() {
            return RelPath(name.to_vec());
        }
        let mut bytes = Vec::with_capacity(self.0.len() + 1 + name.len());
        bytes.extend_from_slice(&self.0);
        bytes.push(b'/');
        bytes.extend_from_slice(name);
        RelPath(bytes)
    }

    /// The components, root first.
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b'/').filter(|part| !part.is_empty())
    }

    /// The last component (empty for the root).
    pub fn file_name(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(at) => &self.0[at + 1..],
            None => &self.0,
        }
    }

    /// The parent path (`None` for the root).
    pub fn parent(&self) -> Option<RelPath> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.iter().rposition(|&b| b == b'/') {
            Some(at) => RelPath(self.0[..at].to_vec()),
            None => RelPath::root(),
        })
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.get(other.0.len()) == Some(&b'/'))
    }

    /// The smallest path greater than every path below `self` (for range
    /// queries over a sorted map: `self/…` sorts before `self0`).
    pub(crate) fn subtree_end(&self) -> Vec<u8> {
        let mut end = self.0.clone();
        end.push(b'/' + 1);
        end
    }
}

/// Writes bytes in the text form: `%XX` for invalid UTF-8, controls and `%`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch == '%' || ch.is_control() {
                let mut buf = [0u8; 4];
                for b in ch.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(ch);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`escape`]; `None` on a malformed escape.
pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&escape(&self.0))
        }
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelPath({self})")
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&escape(&self.0))
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RelPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde helper for raw bytes (symlink targets) in the same text form.
pub(crate) mod escaped_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::escape(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::unescape(&text).ok_or_else(|| serde::de::Error::custom("bad %-escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], text: &str) {
        let path = RelPath::from_bytes(bytes).unwrap();
        assert_eq!(path.to_string(), if bytes.is_empty() { "." } else { text });
        assert_eq!(escape(bytes), text);
        assert_eq!(RelPath::parse(text).unwrap(), path);
    }

    #[test]
    fn text_form_round_trips() {
        check(b"", "");
        check(b"index.html", "index.html");
        check(b"news/2024/a b.html", "news/2024/a b.html");
        check("新闻/首页.html".as_bytes(), "新闻/首页.html");
        check(b"50%.html", "50%25.html");
        check(b"bad\xff\xfename", "bad%FF%FEname");
        check(b"line\nbreak", "line%0Abreak");
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        for bad in [
            &b"../etc/passwd"[..],
            b"/abs",
            b"a//b",
            b"a/./b",
            b"a/",
            b"a\0b",
        ] {
            assert!(RelPath::from_bytes(bad).is_err(), "{bad:?}");
        }
        assert!(RelPath::parse("%zz").is_err());
        assert!(RelPath::parse("%2E%2E/x").is_err());
    }

    #[test]
    fn parents_names_and_prefixes() {
        let path = RelPath::parse("a/b/c.html").unwrap();
        assert_eq!(path.file_name(), b"c.html");
        assert_eq!(path.parent().unwrap().to_string(), "a/b");
        assert_eq!(RelPath::parse("a").unwrap().parent(), Some(RelPath::root()));
        assert!(path.starts_with(&RelPath::parse("a/b").unwrap()));
        assert!(!path.starts_with(&RelPath::parse("a/b/c").unwrap()));
        assert!(
            !RelPath::parse("ab/c")
                .unwrap()
                .starts_with(&RelPath::parse("a").unwrap())
        );
        assert!(path.starts_with(&RelPath::root()));
        assert_eq!(RelPath::root().join(b"x").join(b"y").to_string(), "x/y");
    }
}
