//! Key paths into the plan file, as printed in errors: `sites[1].pages[0].url`.
//!
//! One spelling is used everywhere (the span index, unknown keys, type
//! errors, semantic checks) so that a path found by one part can be looked
//! up by another. Keys that are not bare TOML keys are quoted as TOML basic
//! strings: `probe.resolve."portal.example.gov.test"`.

/// `parent.key`, or `key` at the top; `key` quoted when it is not bare.
pub(crate) fn key(parent: &str, key: &str) -> String {
    let mut path = String::with_capacity(parent.len() + key.len() + 3);
    path.push_str(parent);
    if !parent.is_empty() {
        path.push('.');
    }
    if is_bare(key) {
        path.push_str(key);
    } else {
        push_quoted(&mut path, key);
    }
    path
}

/// `parent[index]`.
pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The path one level up (`a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``), or
/// `None` at the top.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let mut boundary = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (position, character) in path.char_indices() {
        if in_quotes {
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match character {
            '"' => in_quotes = true,
            '.' | '[' => boundary = position,
            _ => {}
        }
    }
    Some(&path[..boundary])
}

/// Whether `path` is `ancestor` or lies under it.
pub(crate) fn is_within(path: &str, ancestor: &str) -> bool {
    if ancestor.is_empty() {
        return true;
    }
    match path.strip_prefix(ancestor) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

/// A TOML bare key: ASCII letters, digits, `_` and `-`, not empty.
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Appends `text` as a TOML basic string (in double quotes, escaped).
pub(crate) fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            control if control.is_control() => {
                out.push_str(&format!("\\u{:04X}", u32::from(control)));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// `text` as a TOML basic string.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_quoted(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_key(parent_path: &str, name: &str, expected: &str) {
        assert_eq!(
            key(parent_path, name),
            expected,
            "key({parent_path:?}, {name:?})"
        );
    }

    #[test]
    fn keys_are_joined_and_quoted_when_not_bare() {
        check_key("", "sites", "sites");
        check_key("sites[0]", "pages", "sites[0].pages");
        check_key(
            "probe.resolve",
            "portal.example.gov.test",
            "probe.resolve.\"portal.example.gov.test\"",
        );
        check_key("a", "", "a.\"\"");
        check_key("a", "say \"hi\"", "a.\"say \\\"hi\\\"\"");
        check_key("a", "名称", "a.\"名称\"");
    }

    fn check_parent(path: &str, expected: Option<&str>) {
        assert_eq!(parent(path), expected, "parent({path:?})");
    }

    #[test]
    fn parent_strips_the_last_segment_outside_quotes() {
        check_parent("sites[1].pages[0].url", Some("sites[1].pages[0]"));
        check_parent("sites[1].pages[0]", Some("sites[1].pages"));
        check_parent("sites[1]", Some("sites"));
        check_parent("sites", Some(""));
        check_parent("", None);
        check_parent("probe.resolve.\"a.b[1]\"", Some("probe.resolve"));
        check_parent("x.\"a\\\".b\"", Some("x"));
    }

    fn check_within(path: &str, ancestor: &str, expected: bool) {
        assert_eq!(
            is_within(path, ancestor),
            expected,
            "is_within({path:?}, {ancestor:?})"
        );
    }

    #[test]
    fn within_respects_segment_boundaries() {
        check_within("sites[1].name", "sites[1]", true);
        check_within("sites[1]", "sites[1]", true);
        check_within("sites[10].name", "sites[1]", false);
        check_within("sitesx", "sites", false);
        check_within("anything", "", true);
    }
}
