//! The approved baseline a page is compared with, and learning it.
//!
//! A baseline is made from two fetches of the same page taken close together
//! when the page is known to be good. Whatever differs between the two is
//! volatile by nature (a visitor counter, a rotating banner caption, a
//! clock) and is learned so that it never raises an alarm later: text
//! blocks that differ become `learned_volatile` paths, and links, scripts,
//! frames and redirects seen in either fetch are all part of the baseline.
//!
//! This module does not decide when a baseline is approved or stored (that
//! is the monitor's and the store's job) and does not compare (see
//! [`crate::compare`](mod@crate::compare)).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::fingerprint::{Fingerprint, Script};

/// An entry of [`Baseline::learned_volatile`] that is not a block path: the
/// page's inline scripts changed between the two baseline fetches (a
/// per-request token, say), so a changed inline script is not reported.
pub const VOLATILE_INLINE_SCRIPTS: &str = "@inline-scripts";

/// The approved state of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The first fetch's fingerprint, plus the links, scripts, frames and
    /// redirects that only the second fetch had.
    pub fingerprint: Fingerprint,
    /// Paths of text blocks whose text changed between the two fetches, or
    /// that only one of them had; their text is ignored when comparing.
    /// May also hold [`VOLATILE_INLINE_SCRIPTS`].
    pub learned_volatile: BTreeSet<String>,
}

impl Baseline {
    /// A baseline from a single fetch, with nothing learned as volatile.
    pub fn from_single(fingerprint: Fingerprint) -> Baseline {
        Baseline {
            fingerprint,
            learned_volatile: BTreeSet::new(),
        }
    }
}

/// Two fetches taken at baseline time: blocks whose text differs between them
/// (same path), or that only one of them has, are learned as volatile.
pub fn learn_baseline(first: Fingerprint, second: &Fingerprint) -> Baseline {
    let mut baseline = Baseline::from_single(first);
    baseline.learn_from(second);
    baseline
}

impl Baseline {
    /// Folds one more fetch taken at baseline time into the baseline: text
    /// blocks that differ from the baseline's own fetch become volatile, and
    /// links, scripts, frames and redirects only this fetch had are added.
    ///
    /// More than two fetches make learning robust against rotations that
    /// happen to repeat: three banners shown by visit count look the same
    /// to two fetches three visits apart.
    pub fn learn_from(&mut self, other: &Fingerprint) {
        let texts = |fingerprint: &Fingerprint| {
            let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for block in &fingerprint.blocks {
                by_path
                    .entry(block.path.clone())
                    .or_default()
                    .push(block.text.clone());
            }
            by_path
        };
        let own_texts = texts(&self.fingerprint);
        let other_texts = texts(other);
        for (path, text) in &own_texts {
            if other_texts.get(path) != Some(text) {
                self.learned_volatile.insert(path.clone());
            }
        }
        for path in other_texts.keys() {
            if !own_texts.contains_key(path) {
                self.learned_volatile.insert(path.clone());
            }
        }

        let inline_hashes = |fingerprint: &Fingerprint| -> BTreeSet<String> {
            fingerprint
                .scripts
                .iter()
                .filter_map(|script| match script {
                    Script::Inline { sha256 } => Some(sha256.clone()),
                    Script::Src { .. } => None,
                })
                .collect()
        };
        if inline_hashes(other) != inline_hashes(&self.fingerprint) {
            self.learned_volatile
                .insert(VOLATILE_INLINE_SCRIPTS.to_string());
        }

        let fingerprint = &mut self.fingerprint;
        for link in &other.links {
            if !fingerprint
                .links
                .iter()
                .any(|known| known.href == link.href && known.hidden == link.hidden)
            {
                fingerprint.links.push(link.clone());
            }
        }
        for script in &other.scripts {
            if !fingerprint.scripts.contains(script) {
                fingerprint.scripts.push(script.clone());
            }
        }
        for frame in &other.iframes {
            if !fingerprint
                .iframes
                .iter()
                .any(|known| known.src == frame.src)
            {
                fingerprint.iframes.push(frame.clone());
            }
        }
        for redirect in &other.redirects {
            if !fingerprint
                .redirects
                .iter()
                .any(|known| known.target == redirect.target)
            {
                fingerprint.redirects.push(redirect.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::{Link, TextBlock};

    fn fingerprint(blocks: &[(&str, &str)], links: &[&str], inline: &[&str]) -> Fingerprint {
        Fingerprint {
            title: "示例省财政厅".to_string(),
            blocks: blocks
                .iter()
                .map(|(path, text)| TextBlock {
                    path: path.to_string(),
                    text: text.to_string(),
                    hidden: false,
                })
                .collect(),
            links: links
                .iter()
                .map(|href| Link {
                    href: href.to_string(),
                    host: None,
                    text: String::new(),
                    hidden: false,
                })
                .collect(),
            scripts: inline
                .iter()
                .map(|hash| Script::Inline {
                    sha256: hash.to_string(),
                })
                .collect(),
            iframes: Vec::new(),
            redirects: Vec::new(),
            encoding: "UTF-8".to_string(),
            binary: false,
        }
    }

    fn check(
        first: Fingerprint,
        second: Fingerprint,
        expected_volatile: &[&str],
        expected_links: usize,
    ) {
        let baseline = learn_baseline(first, &second);
        let volatile: Vec<&str> = baseline
            .learned_volatile
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(volatile, expected_volatile);
        assert_eq!(baseline.fingerprint.links.len(), expected_links);
    }

    #[test]
    fn learns_what_differs_between_two_fetches() {
        check(
            fingerprint(
                &[
                    ("body>p.counter", "访问量：100"),
                    ("body>h1", "示例省财政厅"),
                ],
                &["/a"],
                &["x"],
            ),
            fingerprint(
                &[
                    ("body>p.counter", "访问量：101"),
                    ("body>h1", "示例省财政厅"),
                ],
                &["/a"],
                &["x"],
            ),
            &["body>p.counter"],
            1,
        );
        check(
            fingerprint(&[("body>p", "同")], &["/banner1"], &["x"]),
            fingerprint(
                &[("body>p", "同"), ("body>div.tip", "仅第二次出现")],
                &["/banner2"],
                &["y"],
            ),
            &[VOLATILE_INLINE_SCRIPTS, "body>div.tip"],
            2,
        );
        check(
            fingerprint(&[("body>p", "同")], &[], &[]),
            fingerprint(&[("body>p", "同")], &[], &[]),
            &[],
            0,
        );
    }
}
