//! Sensitive-word lexicons: terms that mark gambling spam, pornography spam
//! and defacers' signatures, in Chinese and English.
//!
//! The built-in terms live in `lexicons/*.txt` (one term per line, `#`
//! comments) and are compiled in. A plan can add its own categories or terms
//! with [`Lexicon::with_extra`]. Matching is one Aho-Corasick pass, ASCII
//! case-insensitive, leftmost-longest; a term that starts with an ASCII
//! letter or digit only matches at the start of a word, so that "porn" does
//! not match inside an unrelated English word that happens to contain it.
//!
//! The lists are chosen so that ordinary government text does not hit (see
//! the comments in the data files): a false alarm on a crackdown notice is
//! as bad as a missed defacement. This module only counts terms; deciding
//! whether a count is new relative to the baseline is [`crate::compare`](mod@crate::compare)'s
//! job.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

/// The built-in lexicons: (category, data file contents).
const BUILTIN: [(&str, &str); 3] = [
    ("gambling", include_str!("../lexicons/gambling.txt")),
    ("pornography", include_str!("../lexicons/pornography.txt")),
    ("hacked", include_str!("../lexicons/hacked.txt")),
];

/// A set of terms, each in one or more categories, ready to search text.
#[derive(Debug, Clone)]
pub struct Lexicon {
    terms: Vec<Term>,
    /// Pattern i of the automaton is `terms[i].text`. `None` only when the
    /// automaton could not be built (see [`Lexicon::with_extra`]).
    automaton: Option<AhoCorasick>,
}

#[derive(Debug, Clone)]
struct Term {
    text: String,
    categories: Vec<String>,
    /// The term starts with an ASCII letter or digit, so a match must start
    /// at a word boundary.
    word_start: bool,
}

/// How often one term of one category occurs in a text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LexiconHit {
    /// The category, e.g. "gambling", or a plan-defined one.
    pub category: String,
    /// The term as written in the lexicon.
    pub term: String,
    /// Non-overlapping occurrences.
    pub count: usize,
}

impl Lexicon {
    /// The built-in categories "gambling", "pornography" and "hacked".
    pub fn builtin() -> Lexicon {
        let mut terms: Vec<Term> = Vec::new();
        for (category, data) in BUILTIN {
            for line in data.lines() {
                add_term(&mut terms, category, line);
            }
        }
        Lexicon::from_terms(terms)
    }

    /// This lexicon plus `terms` in `category` (a new or an existing one).
    /// Blank terms and `#` comments are skipped. Should the larger automaton
    /// fail to build (only for absurdly large term lists), the lexicon is
    /// returned unchanged rather than losing the terms it already had.
    pub fn with_extra(self, category: &str, terms: &[String]) -> Lexicon {
        let mut extended = self.terms.clone();
        for term in terms {
            add_term(&mut extended, category, term);
        }
        let lexicon = Lexicon::from_terms(extended);
        if lexicon.automaton.is_some() || self.automaton.is_none() {
            lexicon
        } else {
            self
        }
    }

    /// Every term found in `text`, counted per (category, term), sorted by
    /// category then term.
    pub fn find(&self, text: &str) -> Vec<LexiconHit> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        let bytes = text.as_bytes();
        for found in automaton.find_iter(text) {
            let index = found.pattern().as_usize();
            let Some(term) = self.terms.get(index) else {
                continue;
            };
            if term.word_start
                && found.start() > 0
                && bytes[found.start() - 1].is_ascii_alphanumeric()
            {
                continue;
            }
            *counts.entry(index).or_default() += 1;
        }
        let mut hits: Vec<LexiconHit> = counts
            .into_iter()
            .flat_map(|(index, count)| {
                let term = &self.terms[index];
                term.categories.iter().map(move |category| LexiconHit {
                    category: category.clone(),
                    term: term.text.clone(),
                    count,
                })
            })
            .collect();
        hits.sort();
        hits
    }

    /// How many terms the lexicon holds.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True when the lexicon holds no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The categories, sorted, without duplicates.
    pub fn categories(&self) -> Vec<String> {
        let mut categories: Vec<String> = self
            .terms
            .iter()
            .flat_map(|term| term.categories.iter().cloned())
            .collect();
        categories.sort();
        categories.dedup();
        categories
    }

    fn from_terms(terms: Vec<Term>) -> Lexicon {
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(terms.iter().map(|term| term.text.as_str()))
            .ok();
        Lexicon { terms, automaton }
    }
}

/// Adds one line of a term list to `terms`, merging categories of terms that
/// are equal ignoring ASCII case.
fn add_term(terms: &mut Vec<Term>, category: &str, line: &str) {
    let text = line.trim();
    if text.is_empty() || text.starts_with('#') {
        return;
    }
    if let Some(existing) = terms
        .iter_mut()
        .find(|term| term.text.eq_ignore_ascii_case(text))
    {
        if !existing.categories.iter().any(|known| known == category) {
            existing.categories.push(category.to_string());
        }
        return;
    }
    terms.push(Term {
        text: text.to_string(),
        categories: vec![category.to_string()],
        word_start: text
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hits as (category, term, count).
    fn check(lexicon: &Lexicon, text: &str, expected: &[(&str, &str, usize)]) {
        let hits = lexicon.find(text);
        let actual: Vec<(&str, &str, usize)> = hits
            .iter()
            .map(|hit| (hit.category.as_str(), hit.term.as_str(), hit.count))
            .collect();
        assert_eq!(actual, expected, "{text}");
    }

    #[test]
    fn builtin_terms_are_found() {
        let lexicon = Lexicon::builtin();
        check(
            &lexicon,
            "澳门新葡京 真人百家乐 注册送彩金",
            &[
                ("gambling", "新葡京", 1),
                ("gambling", "注册送彩金", 1),
                ("gambling", "真人百家乐", 1),
            ],
        );
        check(
            &lexicon,
            "HACKED BY Ghost Team -- Greetz to all",
            &[("hacked", "greetz", 1), ("hacked", "hacked by", 1)],
        );
        check(
            &lexicon,
            "本站已被黑，h4ck3d",
            &[("hacked", "h4ck3d", 1), ("hacked", "本站已被黑", 1)],
        );
        check(
            &lexicon,
            "最新成人视频 成人视频",
            &[("pornography", "成人视频", 2)],
        );
        check(
            &lexicon,
            "Online Casino and casino",
            &[("gambling", "casino", 1), ("gambling", "online casino", 1)],
        );
    }

    #[test]
    fn ascii_terms_start_at_a_word_boundary() {
        let lexicon = Lexicon::builtin();
        check(&lexicon, "ebet365x", &[]);
        check(&lexicon, "bet365", &[("gambling", "bet365", 1)]);
        check(&lexicon, "点击bet365", &[("gambling", "bet365", 1)]);
    }

    /// Government text that must not hit: crackdown news, lottery regulation,
    /// security notices, placeholders.
    #[test]
    fn ordinary_government_text_does_not_hit() {
        let lexicon = Lexicon::builtin();
        for text in [
            "关于严厉打击跨境赌博和网络赌博违法犯罪活动的通告",
            "2026年全省福利彩票、体育彩票销售情况通报；规范彩票投注站管理",
            "全省扫黄打非工作会议：清理淫秽色情信息",
            "关于防范黑客攻击、做好网站安全防护的通知",
            "XXX同志任示例省财政厅副厅长",
            "文明旅游，拒绝到此一游",
            "The department is responsible for land owned by the state.",
            "Security advisory: several sites were hacked last year.",
        ] {
            check(&lexicon, text, &[]);
        }
    }

    #[test]
    fn extra_terms_and_categories() {
        let lexicon = Lexicon::builtin().with_extra(
            "political",
            &[
                "示例敏感词".to_string(),
                " ".to_string(),
                "# comment".to_string(),
                "BAIJIALE".to_string(),
            ],
        );
        check(
            &lexicon,
            "示例敏感词 baijiale",
            &[("political", "BAIJIALE", 1), ("political", "示例敏感词", 1)],
        );
        let merged = Lexicon::builtin().with_extra("watch", &["百家乐".to_string()]);
        check(
            &merged,
            "百家乐",
            &[("gambling", "百家乐", 1), ("watch", "百家乐", 1)],
        );
        assert!(merged.categories().contains(&"watch".to_string()));
        assert!(Lexicon::builtin().len() > 100);
    }
}
