//! Comparing a page's current fingerprint with its approved baseline, and
//! the verdict that follows.
//!
//! Only what is new relative to the baseline counts. Each finding is a
//! [`Reason`] with a stable code, a weight and a specific message in English
//! and Chinese. A reason of weight [`STRONG_WEIGHT`] or more is a strong
//! indicator and alone makes the verdict [`Verdict::Defaced`]; weaker reasons
//! make it [`Verdict::Changed`]; no reason means [`Verdict::Clean`]. The
//! score is the sum of the weights, capped at 100, and kept below
//! [`STRONG_WEIGHT`] when nothing strong was found, so a score of 50 or more
//! always means "defaced".
//!
//! | code | weight | when |
//! | --- | --- | --- |
//! | `binary_body` | 60 | the baseline was a page, the body is now binary |
//! | `lexicon_hit` | 60 (+5 per extra term, ≤ 80) | a term occurs more often than in the baseline (title, visible or hidden text, link targets), per category |
//! | `hidden_links` | 55 (+1 per link, ≤ 80) | new hidden links to external domains |
//! | `hidden_links` | 50 | 10 or more new hidden links to the site's own domains |
//! | `foreign_script` | 60 | new `<script src>` from an external domain |
//! | `foreign_iframe` | 60 | new frame from an external domain |
//! | `external_redirect` | 70 | new meta-refresh or script redirect to an external domain |
//! | `text_replaced` | 60 | visible-text similarity below 0.3 |
//! | `title_changed` | 50 | the title changed and it has a new lexicon hit or similarity is below 0.5 |
//! | `new_external_links` | 50 | visible links to 10 or more new external domains at once |
//! | `title_changed` | 20 | the title changed (otherwise) |
//! | `text_changed` | 10–40 | visible text differs, more for less similar |
//! | `new_external_links` | 15 | visible links to 1–9 new external domains |
//! | `hidden_internal_links` | 15 | 1–9 new hidden links to the site's own domains |
//! | `hidden_text` | 15 | new hidden text (when no hidden links were reported) |
//! | `new_script` | 10 | new `<script src>` from a known domain |
//! | `new_inline_script` | 10 | new inline script (unless learned volatile) |
//! | `new_iframe` | 10 | new frame from a known domain |
//! | `new_redirect` | 10 | new redirect within the site |
//! | `cloaked_content` | 60–70 | (crawler view only) something suspicious only a crawler is shown |
//!
//! A domain is external when it is not the page's host, not under the page
//! host's parent domain (portal.example.gov.test → example.gov.test), not in
//! the trusted domains (suffix match), and not present anywhere in the
//! baseline.
//!
//! Visible-text similarity is block-level, order-insensitive (reordered
//! notices stay clean) and weighted by characters, so it works for Chinese.
//! Blocks whose path was learned volatile are ignored; blocks that differ
//! only in digit runs, weekday names or 上午/下午 (a counter, a date, a time)
//! count as unchanged. Learned-volatile blocks are still searched with the
//! lexicons: a volatile news list can still be defaced.
//!
//! This module never produces [`Verdict::Down`] (the monitor does, on a
//! failed fetch) or [`Verdict::Contained`] (the monitor does, for a site
//! cut off on purpose) and does no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::baseline::{Baseline, VOLATILE_INLINE_SCRIPTS};
use crate::fingerprint::{Fingerprint, Link, RedirectKind, Script, TextBlock};
use crate::lexicon::Lexicon;

/// A reason of at least this weight is a strong indicator of defacement.
pub const STRONG_WEIGHT: u32 = 50;

/// Visible-text similarity below this means the page was replaced.
const REPLACED_SIMILARITY: f64 = 0.3;

/// A changed title with similarity below this is a strong indicator.
const TITLE_STRONG_SIMILARITY: f64 = 0.5;

/// This many new hidden links within the site is a strong indicator.
const MANY_HIDDEN_INTERNAL_LINKS: usize = 10;

/// Visible links to this many new external domains at once is strong.
const MANY_NEW_EXTERNAL_DOMAINS: usize = 10;

/// Second-level labels under which a parent domain is shared by unrelated
/// organisations (example.gov.cn's parent gov.cn is not one site).
const GENERIC_SECOND_LEVEL: [&str; 8] = ["gov", "com", "edu", "org", "net", "ac", "co", "mil"];

/// How bad a page's state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing differs from the baseline after volatile parts are ignored.
    Clean,
    /// Something differs, but nothing that indicates defacement.
    Changed,
    /// At least one strong indicator of defacement.
    Defaced,
    /// The page could not be fetched (set by the monitor, never by
    /// [`compare`]).
    Down,
    /// The site is deliberately cut off from external service (switched
    /// to maintenance) and answered as a cut-off site does — an HTTP error
    /// such as the maintenance page's 503, or nothing: that says nothing
    /// about the page (set by the monitor, never by [`compare`]).
    Contained,
}

impl Verdict {
    /// Every verdict, mildest first by [`Verdict::severity`].
    pub const ALL: [Verdict; 5] = [
        Verdict::Clean,
        Verdict::Changed,
        Verdict::Contained,
        Verdict::Down,
        Verdict::Defaced,
    ];

    /// Severity for combining verdicts: Clean 0 < Changed 1 < Contained 2
    /// < Down 3 < Defaced 4. A defaced page is worse than an unreachable
    /// one; a site cut off on purpose is neither.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Clean => 0,
            Verdict::Changed => 1,
            Verdict::Contained => 2,
            Verdict::Down => 3,
            Verdict::Defaced => 4,
        }
    }

    /// The lowercase name, as in serde and [`fmt::Display`].
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Changed => "changed",
            Verdict::Defaced => "defaced",
            Verdict::Down => "down",
            Verdict::Contained => "contained",
        }
    }
}

/// Ordered by [`Verdict::severity`], not by declaration order.
impl Ord for Verdict {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.severity().cmp(&other.severity())
    }
}

impl PartialOrd for Verdict {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A string that is not a verdict name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verdict {0:?}: expected clean, changed, contained, defaced or down")]
pub struct ParseVerdictError(pub String);

impl FromStr for Verdict {
    type Err = ParseVerdictError;

    /// Parses "clean", "changed", "contained", "defaced" or "down",
    /// ignoring ASCII case and surrounding whitespace.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Verdict::ALL
            .into_iter()
            .find(|verdict| verdict.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseVerdictError(text.to_string()))
    }
}

/// One finding behind a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable snake_case rule id, e.g. "lexicon_hit" (see the module table).
    pub code: String,
    /// How much this finding counts; [`STRONG_WEIGHT`] or more is strong.
    pub weight: u32,
    /// What was found, in English, specific enough to act on.
    pub message: String,
    /// The same in Chinese.
    pub message_zh: String,
}

/// The result of comparing a page with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The verdict.
    pub verdict: Verdict,
    /// 0..=100; 50 or more exactly when the verdict is defaced.
    pub score: u32,
    /// The findings, in the order the rules are checked (lexicon, hidden
    /// content, links, scripts, frames, redirects, title, text).
    pub reasons: Vec<Reason>,
    /// Visible-text similarity with the baseline, 0..=1.
    pub similarity: f64,
}

/// What a comparison needs besides the two fingerprints.
#[derive(Debug, Clone, Copy)]
pub struct CompareContext<'a> {
    /// Terms to look for.
    pub lexicon: &'a Lexicon,
    /// The page's URL, whose host and parent domain are the site's own.
    pub page_url: &'a Url,
    /// Domains (and their subdomains) that are never external.
    pub trusted_domains: &'a [String],
}

/// Compares the current fingerprint of a page with its baseline.
pub fn compare(baseline: &Baseline, current: &Fingerprint, ctx: &CompareContext) -> Assessment {
    let before = &baseline.fingerprint;
    let mut reasons = Vec::new();

    if current.binary && !before.binary {
        reasons.push(reason(
            "binary_body",
            60,
            "the page is now a binary file, not HTML".to_string(),
            "页面变为二进制文件，不再是 HTML".to_string(),
        ));
        return assessment(reasons, 0.0);
    }

    let hosts = HostClassifier::new(ctx, [before]);
    let diff = text_diff(baseline, current);

    // Lexicon hits, title first because it decides how strong a title change is.
    let before_counts = lexicon_counts(ctx.lexicon, before);
    let current_counts = lexicon_counts(ctx.lexicon, current);
    let new_terms = new_lexicon_terms(&current_counts, &[&before_counts]);
    let title_has_new_term = new_terms
        .iter()
        .any(|term| term.sources.contains(SOURCE_TITLE));
    for (category, terms) in group_by_category(&new_terms) {
        reasons.push(lexicon_reason("lexicon_hit", None, &category, &terms));
    }

    hidden_link_reasons(&mut reasons, before, current, &hosts);
    if !reasons
        .iter()
        .any(|reason| reason.code.starts_with("hidden_") && reason.code.ends_with("links"))
    {
        hidden_text_reason(&mut reasons, baseline, current);
    }
    visible_link_reasons(&mut reasons, before, current, &hosts);
    script_reasons(&mut reasons, baseline, current, &hosts);
    frame_reasons(&mut reasons, before, current, &hosts);
    redirect_reasons(&mut reasons, before, current, &hosts);

    let title_before = normalize_volatile_tokens(&before.title);
    let title_now = normalize_volatile_tokens(&current.title);
    if title_before != title_now {
        let strong = title_has_new_term || diff.similarity < TITLE_STRONG_SIMILARITY;
        let why = if title_has_new_term {
            (" and has new sensitive terms", "，且含新增敏感词")
        } else if strong {
            (
                " and the page text is mostly different",
                "，且页面文本大部分不同",
            )
        } else {
            ("", "")
        };
        reasons.push(reason(
            "title_changed",
            if strong { 50 } else { 20 },
            format!(
                "title changed from \"{}\" to \"{}\"{}",
                preview(&before.title),
                preview(&current.title),
                why.0
            ),
            format!(
                "标题由“{}”变为“{}”{}",
                preview(&before.title),
                preview(&current.title),
                why.1
            ),
        ));
    }

    text_reasons(&mut reasons, &diff);
    assessment(reasons, diff.similarity)
}

/// The crawler view (fetched with a search-engine user agent) against the
/// browser view and the baseline: content only crawlers see (lexicon hits,
/// links to new external domains, redirects, scripts or frames absent from
/// the browser view and the baseline) is cloaked SEO spam. Returns `None`
/// when the crawler view adds nothing suspicious. Reasons carry code
/// "cloaked_content" and name the crawler.
pub fn compare_crawler_view(
    baseline: &Baseline,
    browser: &Fingerprint,
    crawler: &Fingerprint,
    crawler_name: &str,
    ctx: &CompareContext,
) -> Option<Assessment> {
    if crawler.binary {
        return None;
    }
    let before = &baseline.fingerprint;
    let hosts = HostClassifier::new(ctx, [before, browser]);
    let mut reasons = Vec::new();

    let crawler_counts = lexicon_counts(ctx.lexicon, crawler);
    let new_terms = new_lexicon_terms(
        &crawler_counts,
        &[
            &lexicon_counts(ctx.lexicon, before),
            &lexicon_counts(ctx.lexicon, browser),
        ],
    );
    for (category, terms) in group_by_category(&new_terms) {
        reasons.push(lexicon_reason(
            "cloaked_content",
            Some(crawler_name),
            &category,
            &terms,
        ));
    }

    let known_hrefs: BTreeSet<&str> = before
        .links
        .iter()
        .chain(&browser.links)
        .map(|link| link.href.as_str())
        .collect();
    let cloaked_links: Vec<&Link> = crawler
        .links
        .iter()
        .filter(|link| {
            !known_hrefs.contains(link.href.as_str()) && hosts.is_external(link.host.as_deref())
        })
        .collect();
    if !cloaked_links.is_empty() {
        let domains = distinct_hosts(cloaked_links.iter().map(|link| link.host.as_deref()));
        reasons.push(reason(
            "cloaked_content",
            60,
            format!(
                "{crawler_name} is shown {} to {} the browser does not see: {}",
                count_en(cloaked_links.len(), "link"),
                count_en(domains.len(), "domain"),
                list_en(&domains)
            ),
            format!(
                "{crawler_name} 看到浏览器看不到的 {} 个链接，指向 {} 个域名：{}",
                cloaked_links.len(),
                domains.len(),
                list_zh(&domains)
            ),
        ));
    }

    let known_targets: BTreeSet<&str> = before
        .redirects
        .iter()
        .chain(&browser.redirects)
        .map(|redirect| redirect.target.as_str())
        .collect();
    for redirect in &crawler.redirects {
        if !known_targets.contains(redirect.target.as_str())
            && hosts.is_external(redirect.host.as_deref())
        {
            reasons.push(reason(
                "cloaked_content",
                70,
                format!(
                    "{crawler_name} is redirected to {} ({}); the browser is not",
                    redirect.target,
                    redirect_kind_en(redirect.kind)
                ),
                format!(
                    "{crawler_name} 被跳转到 {}（{}），浏览器则没有",
                    redirect.target,
                    redirect_kind_zh(redirect.kind)
                ),
            ));
        }
    }

    let known_scripts: BTreeSet<&str> = before
        .scripts
        .iter()
        .chain(&browser.scripts)
        .filter_map(script_url)
        .collect();
    for script in &crawler.scripts {
        if let Script::Src { url, host } = script
            && !known_scripts.contains(url.as_str())
            && hosts.is_external(host.as_deref())
        {
            reasons.push(reason(
                "cloaked_content",
                60,
                format!("{crawler_name} is served a script from {url} that the browser is not"),
                format!("{crawler_name} 被加载了浏览器看不到的外部脚本 {url}"),
            ));
        }
    }
    let known_frames: BTreeSet<&str> = before
        .iframes
        .iter()
        .chain(&browser.iframes)
        .map(|frame| frame.src.as_str())
        .collect();
    for frame in &crawler.iframes {
        if !known_frames.contains(frame.src.as_str()) && hosts.is_external(frame.host.as_deref()) {
            reasons.push(reason(
                "cloaked_content",
                60,
                format!(
                    "{crawler_name} is served a frame from {} that the browser is not",
                    frame.src
                ),
                format!(
                    "{crawler_name} 被嵌入了浏览器看不到的外部框架 {}",
                    frame.src
                ),
            ));
        }
    }

    if reasons.is_empty() {
        return None;
    }
    let similarity = text_diff(&Baseline::from_single(browser.clone()), crawler).similarity;
    Some(assessment(reasons, similarity))
}

/// Combines the browser assessment with crawler assessments: the most severe
/// verdict, reasons concatenated, scores added and capped at 100 (and kept
/// below [`STRONG_WEIGHT`] unless the verdict is defaced). The similarity is
/// the browser's.
pub fn combine(browser: Assessment, crawler: Vec<Assessment>) -> Assessment {
    let mut combined = browser;
    let mut score = combined.score;
    for assessment in crawler {
        combined.verdict = combined.verdict.max(assessment.verdict);
        score = score.saturating_add(assessment.score);
        combined.reasons.extend(assessment.reasons);
    }
    combined.score = match combined.verdict {
        Verdict::Clean | Verdict::Changed => score.min(STRONG_WEIGHT - 1),
        Verdict::Defaced | Verdict::Down | Verdict::Contained => score.min(100),
    };
    combined
}

/// Replaces what legitimately changes from day to day with placeholders:
/// every run of digits (ASCII or full-width) becomes `0`, a weekday after
/// 星期/礼拜/周 becomes `0`, 上午/下午 become `午`, and English weekday and
/// month names become `W`.
pub fn normalize_volatile_tokens(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    let mut previous: Option<char> = None;
    let mut in_digits = false;
    let mut word = String::new();
    let flush_word = |word: &mut String, normalized: &mut String| {
        if !word.is_empty() {
            if is_calendar_word(word) {
                normalized.push('W');
            } else {
                normalized.push_str(word);
            }
            word.clear();
        }
    };
    for character in text.chars() {
        if character.is_ascii_alphabetic() {
            word.push(character);
            previous = Some(character);
            in_digits = false;
            continue;
        }
        flush_word(&mut word, &mut normalized);
        let is_digit = character.is_ascii_digit() || ('０'..='９').contains(&character);
        if is_digit {
            if !in_digits {
                normalized.push('0');
            }
            in_digits = true;
        } else if "一二三四五六日天".contains(character)
            && matches!(previous, Some('期' | '拜' | '周'))
        {
            normalized.push('0');
            in_digits = false;
        } else if matches!(character, '上' | '下') {
            // Decided when the next character is seen: 上午/下午 → 午.
            normalized.push(character);
            in_digits = false;
        } else if character == '午' && matches!(previous, Some('上' | '下')) {
            normalized.pop();
            normalized.push('午');
            in_digits = false;
        } else {
            normalized.push(character);
            in_digits = false;
        }
        previous = Some(character);
    }
    flush_word(&mut word, &mut normalized);
    normalized
}

fn is_calendar_word(word: &str) -> bool {
    const NAMES: [&str; 19] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    const SHORT: [&str; 18] = [
        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "jan", "feb",
        "mar", "apr", "jun", "jul", "aug", "sep",
    ];
    let lower = word.to_ascii_lowercase();
    NAMES.contains(&lower.as_str())
        || SHORT.contains(&lower.as_str())
        || matches!(lower.as_str(), "sept" | "oct" | "nov" | "dec" | "am" | "pm")
}

fn reason(code: &str, weight: u32, message: String, message_zh: String) -> Reason {
    Reason {
        code: code.to_string(),
        weight,
        message,
        message_zh,
    }
}

fn assessment(reasons: Vec<Reason>, similarity: f64) -> Assessment {
    let strong = reasons.iter().any(|reason| reason.weight >= STRONG_WEIGHT);
    let total: u32 = reasons
        .iter()
        .fold(0u32, |sum, reason| sum.saturating_add(reason.weight));
    let (verdict, score) = if strong {
        (Verdict::Defaced, total.min(100))
    } else if reasons.is_empty() {
        (Verdict::Clean, 0)
    } else {
        (Verdict::Changed, total.min(STRONG_WEIGHT - 1))
    };
    Assessment {
        verdict,
        score,
        reasons,
        similarity: similarity.clamp(0.0, 1.0),
    }
}

// ---------------------------------------------------------------------------
// Domains

/// Decides whether a host is external to the page's site.
struct HostClassifier<'a> {
    page_host: Option<String>,
    family: Option<String>,
    trusted: &'a [String],
    known: BTreeSet<String>,
}

impl<'a> HostClassifier<'a> {
    /// `known` fingerprints' hosts (the baseline, and for crawler views the
    /// browser view) are never external.
    fn new<const N: usize>(
        ctx: &CompareContext<'a>,
        known: [&Fingerprint; N],
    ) -> HostClassifier<'a> {
        let page_host = ctx
            .page_url
            .host_str()
            .map(|host| host.trim_end_matches('.').to_ascii_lowercase());
        let family = page_host.as_deref().map(site_family);
        let mut hosts = BTreeSet::new();
        for fingerprint in known {
            hosts.extend(fingerprint_hosts(fingerprint));
        }
        HostClassifier {
            page_host,
            family,
            trusted: ctx.trusted_domains,
            known: hosts,
        }
    }

    fn is_external(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return false;
        };
        if self.page_host.as_deref() == Some(host) || self.known.contains(host) {
            return false;
        }
        if self
            .family
            .as_deref()
            .is_some_and(|family| is_same_or_subdomain(host, family))
        {
            return false;
        }
        !self.trusted.iter().any(|trusted| {
            let trusted = trusted
                .trim()
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            !trusted.is_empty() && is_same_or_subdomain(host, &trusted)
        })
    }
}

fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// The domain whose subdomains count as the same site: the parent domain of
/// the page host (portal.example.gov.test → example.gov.test), unless that
/// parent is shared by unrelated organisations (gov.cn) or the host is an IP
/// address, in which case the host itself.
fn site_family(host: &str) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host.to_string();
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 3 || (labels.len() == 3 && GENERIC_SECOND_LEVEL.contains(&labels[1])) {
        return host.to_string();
    }
    labels[1..].join(".")
}

fn fingerprint_hosts(fingerprint: &Fingerprint) -> impl Iterator<Item = String> + '_ {
    let links = fingerprint
        .links
        .iter()
        .filter_map(|link| link.host.clone());
    let scripts = fingerprint
        .scripts
        .iter()
        .filter_map(|script| match script {
            Script::Src { host, .. } => host.clone(),
            Script::Inline { .. } => None,
        });
    let frames = fingerprint
        .iframes
        .iter()
        .filter_map(|frame| frame.host.clone());
    let redirects = fingerprint
        .redirects
        .iter()
        .filter_map(|redirect| redirect.host.clone());
    links.chain(scripts).chain(frames).chain(redirects)
}

fn distinct_hosts<'a>(hosts: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    let set: BTreeSet<&str> = hosts.flatten().collect();
    set.into_iter().map(str::to_string).collect()
}

fn script_url(script: &Script) -> Option<&str> {
    match script {
        Script::Src { url, .. } => Some(url),
        Script::Inline { .. } => None,
    }
}

// ---------------------------------------------------------------------------
// Lexicon

const SOURCE_TITLE: &str = "title";
const SOURCE_VISIBLE: &str = "visible text";
const SOURCE_HIDDEN: &str = "hidden text";
const SOURCE_LINKS: &str = "link targets";
/// The sources in the order messages name them.
const SOURCES: [&str; 4] = [SOURCE_TITLE, SOURCE_VISIBLE, SOURCE_HIDDEN, SOURCE_LINKS];

/// Term counts of a fingerprint: (category, term) → (count, sources).
type LexiconCounts = BTreeMap<(String, String), (usize, BTreeSet<&'static str>)>;

fn lexicon_counts(lexicon: &Lexicon, fingerprint: &Fingerprint) -> LexiconCounts {
    let join = |hidden: bool| {
        fingerprint
            .blocks
            .iter()
            .filter(|block| block.hidden == hidden)
            .map(|block| block.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let link_targets = fingerprint
        .links
        .iter()
        .map(|link| link.href.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let sources = [
        (SOURCE_TITLE, fingerprint.title.clone()),
        (SOURCE_VISIBLE, join(false)),
        (SOURCE_HIDDEN, join(true)),
        (SOURCE_LINKS, link_targets),
    ];
    let mut counts = LexiconCounts::new();
    for (source, text) in &sources {
        for hit in lexicon.find(text) {
            let entry = counts.entry((hit.category, hit.term)).or_default();
            entry.0 += hit.count;
            entry.1.insert(source);
        }
    }
    counts
}

/// A term that occurs more often than in any of the references.
struct NewTerm {
    category: String,
    term: String,
    added: usize,
    sources: BTreeSet<&'static str>,
}

fn new_lexicon_terms(current: &LexiconCounts, references: &[&LexiconCounts]) -> Vec<NewTerm> {
    current
        .iter()
        .filter_map(|((category, term), (count, sources))| {
            let known = references
                .iter()
                .filter_map(|reference| reference.get(&(category.clone(), term.clone())))
                .map(|(count, _)| *count)
                .max()
                .unwrap_or(0);
            (*count > known).then(|| NewTerm {
                category: category.clone(),
                term: term.clone(),
                added: count - known,
                sources: sources.clone(),
            })
        })
        .collect()
}

fn group_by_category(terms: &[NewTerm]) -> BTreeMap<String, Vec<&NewTerm>> {
    let mut grouped: BTreeMap<String, Vec<&NewTerm>> = BTreeMap::new();
    for term in terms {
        grouped.entry(term.category.clone()).or_default().push(term);
    }
    for terms in grouped.values_mut() {
        terms.sort_by(|a, b| b.added.cmp(&a.added).then_with(|| a.term.cmp(&b.term)));
    }
    grouped
}

fn lexicon_reason(code: &str, crawler: Option<&str>, category: &str, terms: &[&NewTerm]) -> Reason {
    let weight = (60 + 5 * (terms.len().saturating_sub(1) as u32)).min(80);
    let listed: Vec<String> = terms
        .iter()
        .map(|term| format!("{} ×{}", term.term, term.added))
        .collect();
    let sources: Vec<&str> = SOURCES
        .into_iter()
        .filter(|source| terms.iter().any(|term| term.sources.contains(source)))
        .collect();
    let sources_en: Vec<&str> = sources.clone();
    let sources_zh: Vec<&str> = sources.iter().map(|source| source_zh(source)).collect();
    let category_zh = category_zh(category);
    let (message, message_zh) = match crawler {
        None => (
            format!(
                "new {category} terms: {} (in {})",
                list_en(&listed),
                sources_en.join(", ")
            ),
            format!(
                "新增{category_zh}类敏感词：{}（位于{}）",
                list_zh(&listed),
                sources_zh.join("、")
            ),
        ),
        Some(crawler) => (
            format!(
                "{crawler} is shown {category} terms the browser does not see: {} (in {})",
                list_en(&listed),
                sources_en.join(", ")
            ),
            format!(
                "{crawler} 看到浏览器看不到的{category_zh}类敏感词：{}（位于{}）",
                list_zh(&listed),
                sources_zh.join("、")
            ),
        ),
    };
    reason(code, weight, message, message_zh)
}

fn category_zh(category: &str) -> &str {
    match category {
        "gambling" => "赌博",
        "pornography" => "色情",
        "hacked" => "黑客篡改标记",
        other => other,
    }
}

fn source_zh(source: &str) -> &'static str {
    match source {
        SOURCE_TITLE => "标题",
        SOURCE_VISIBLE => "可见文本",
        SOURCE_HIDDEN => "隐藏文本",
        _ => "链接地址",
    }
}

// ---------------------------------------------------------------------------
// Links, scripts, frames, redirects

fn hidden_link_reasons(
    reasons: &mut Vec<Reason>,
    before: &Fingerprint,
    current: &Fingerprint,
    hosts: &HostClassifier,
) {
    let known_hidden: BTreeSet<&str> = before
        .links
        .iter()
        .filter(|link| link.hidden)
        .map(|link| link.href.as_str())
        .collect();
    let new_hidden: Vec<&Link> = current
        .links
        .iter()
        .filter(|link| link.hidden && !known_hidden.contains(link.href.as_str()))
        .collect();
    let (external, internal): (Vec<&Link>, Vec<&Link>) = new_hidden
        .into_iter()
        .partition(|link| hosts.is_external(link.host.as_deref()));
    if !external.is_empty() {
        let domains = distinct_hosts(external.iter().map(|link| link.host.as_deref()));
        reasons.push(reason(
            "hidden_links",
            (55 + external.len() as u32).min(80),
            format!(
                "{} to {}: {}",
                count_en(external.len(), "hidden link"),
                count_en(domains.len(), "new domain"),
                list_en(&domains)
            ),
            format!(
                "新增 {} 个隐藏链接（暗链），指向 {} 个新域名：{}",
                external.len(),
                domains.len(),
                list_zh(&domains)
            ),
        ));
    }
    if !internal.is_empty() {
        let examples: Vec<String> = internal.iter().map(|link| link.href.clone()).collect();
        let many = internal.len() >= MANY_HIDDEN_INTERNAL_LINKS;
        reasons.push(reason(
            if many {
                "hidden_links"
            } else {
                "hidden_internal_links"
            },
            if many { 50 } else { 15 },
            format!(
                "{} within the site: {}",
                count_en(internal.len(), "new hidden link"),
                list_en(&examples)
            ),
            format!(
                "新增 {} 个指向本站的隐藏链接：{}",
                internal.len(),
                list_zh(&examples)
            ),
        ));
    }
}

fn hidden_text_reason(reasons: &mut Vec<Reason>, baseline: &Baseline, current: &Fingerprint) {
    let usable =
        |block: &&TextBlock| block.hidden && !baseline.learned_volatile.contains(&block.path);
    let known: BTreeSet<String> = baseline
        .fingerprint
        .blocks
        .iter()
        .filter(usable)
        .map(|block| normalize_volatile_tokens(&block.text))
        .collect();
    let new_blocks: Vec<&TextBlock> = current
        .blocks
        .iter()
        .filter(usable)
        .filter(|block| !known.contains(&normalize_volatile_tokens(&block.text)))
        .collect();
    if new_blocks.is_empty() {
        return;
    }
    let characters: usize = new_blocks.iter().map(|block| weight(&block.text)).sum();
    reasons.push(reason(
        "hidden_text",
        15,
        format!(
            "{} ({characters} characters), e.g. \"{}\" at {}",
            count_en(new_blocks.len(), "new hidden text block"),
            preview(&new_blocks[0].text),
            new_blocks[0].path
        ),
        format!(
            "新增 {} 段隐藏文本（{characters} 字），如“{}”（{}）",
            new_blocks.len(),
            preview(&new_blocks[0].text),
            new_blocks[0].path
        ),
    ));
}

fn visible_link_reasons(
    reasons: &mut Vec<Reason>,
    before: &Fingerprint,
    current: &Fingerprint,
    hosts: &HostClassifier,
) {
    let known: BTreeSet<&str> = before.links.iter().map(|link| link.href.as_str()).collect();
    let new_external: Vec<&Link> = current
        .links
        .iter()
        .filter(|link| {
            !link.hidden
                && !known.contains(link.href.as_str())
                && hosts.is_external(link.host.as_deref())
        })
        .collect();
    if new_external.is_empty() {
        return;
    }
    let domains = distinct_hosts(new_external.iter().map(|link| link.host.as_deref()));
    let many = domains.len() >= MANY_NEW_EXTERNAL_DOMAINS;
    reasons.push(reason(
        "new_external_links",
        if many { 50 } else { 15 },
        format!(
            "{} to {}: {}",
            count_en(new_external.len(), "new visible link"),
            count_en(domains.len(), "new external domain"),
            list_en(&domains)
        ),
        format!(
            "新增 {} 个可见链接，指向 {} 个新外部域名：{}",
            new_external.len(),
            domains.len(),
            list_zh(&domains)
        ),
    ));
}

fn script_reasons(
    reasons: &mut Vec<Reason>,
    baseline: &Baseline,
    current: &Fingerprint,
    hosts: &HostClassifier,
) {
    let before = &baseline.fingerprint;
    let known_urls: BTreeSet<&str> = before.scripts.iter().filter_map(script_url).collect();
    let known_inline: BTreeSet<&str> = before
        .scripts
        .iter()
        .filter_map(|script| match script {
            Script::Inline { sha256 } => Some(sha256.as_str()),
            Script::Src { .. } => None,
        })
        .collect();
    let mut new_inline = 0usize;
    let mut known_host_urls = Vec::new();
    for script in &current.scripts {
        match script {
            Script::Src { url, host } if !known_urls.contains(url.as_str()) => {
                if hosts.is_external(host.as_deref()) {
                    reasons.push(reason(
                        "foreign_script",
                        60,
                        format!(
                            "new script from external domain {}: {url}",
                            host.as_deref().unwrap_or("?")
                        ),
                        format!(
                            "新增来自外部域名 {} 的脚本：{url}",
                            host.as_deref().unwrap_or("?")
                        ),
                    ));
                } else {
                    known_host_urls.push(url.clone());
                }
            }
            Script::Inline { sha256 } if !known_inline.contains(sha256.as_str()) => new_inline += 1,
            _ => {}
        }
    }
    if !known_host_urls.is_empty() {
        reasons.push(reason(
            "new_script",
            10,
            format!(
                "{} from known domains: {}",
                count_en(known_host_urls.len(), "new script"),
                list_en(&known_host_urls)
            ),
            format!(
                "新增 {} 个来自已知域名的脚本：{}",
                known_host_urls.len(),
                list_zh(&known_host_urls)
            ),
        ));
    }
    if new_inline > 0 && !baseline.learned_volatile.contains(VOLATILE_INLINE_SCRIPTS) {
        reasons.push(reason(
            "new_inline_script",
            10,
            format!("{} new or changed", count_en(new_inline, "inline script")),
            format!("新增或改动了 {new_inline} 段内联脚本"),
        ));
    }
}

fn frame_reasons(
    reasons: &mut Vec<Reason>,
    before: &Fingerprint,
    current: &Fingerprint,
    hosts: &HostClassifier,
) {
    let known: BTreeSet<&str> = before
        .iframes
        .iter()
        .map(|frame| frame.src.as_str())
        .collect();
    for frame in current
        .iframes
        .iter()
        .filter(|frame| !known.contains(frame.src.as_str()))
    {
        let (hidden_en, hidden_zh) = if frame.hidden {
            ("hidden ", "隐藏")
        } else {
            ("", "")
        };
        if hosts.is_external(frame.host.as_deref()) {
            reasons.push(reason(
                "foreign_iframe",
                60,
                format!(
                    "new {hidden_en}frame from external domain {}: {}",
                    frame.host.as_deref().unwrap_or("?"),
                    frame.src
                ),
                format!(
                    "新增来自外部域名 {} 的{hidden_zh}框架：{}",
                    frame.host.as_deref().unwrap_or("?"),
                    frame.src
                ),
            ));
        } else {
            reasons.push(reason(
                "new_iframe",
                10,
                format!("new {hidden_en}frame: {}", frame.src),
                format!("新增{hidden_zh}框架：{}", frame.src),
            ));
        }
    }
}

fn redirect_reasons(
    reasons: &mut Vec<Reason>,
    before: &Fingerprint,
    current: &Fingerprint,
    hosts: &HostClassifier,
) {
    let known: BTreeSet<&str> = before
        .redirects
        .iter()
        .map(|redirect| redirect.target.as_str())
        .collect();
    for redirect in current
        .redirects
        .iter()
        .filter(|redirect| !known.contains(redirect.target.as_str()))
    {
        if hosts.is_external(redirect.host.as_deref()) {
            reasons.push(reason(
                "external_redirect",
                70,
                format!(
                    "new {} to external domain: {}",
                    redirect_kind_en(redirect.kind),
                    redirect.target
                ),
                format!(
                    "新增{}，跳转到外部域名：{}",
                    redirect_kind_zh(redirect.kind),
                    redirect.target
                ),
            ));
        } else {
            reasons.push(reason(
                "new_redirect",
                10,
                format!(
                    "new {} within the site: {}",
                    redirect_kind_en(redirect.kind),
                    redirect.target
                ),
                format!(
                    "新增站内{}：{}",
                    redirect_kind_zh(redirect.kind),
                    redirect.target
                ),
            ));
        }
    }
}

fn redirect_kind_en(kind: RedirectKind) -> &'static str {
    match kind {
        RedirectKind::MetaRefresh => "meta-refresh redirect",
        RedirectKind::Script => "script redirect",
    }
}

fn redirect_kind_zh(kind: RedirectKind) -> &'static str {
    match kind {
        RedirectKind::MetaRefresh => "meta 刷新跳转",
        RedirectKind::Script => "脚本跳转",
    }
}

// ---------------------------------------------------------------------------
// Visible text

/// How the visible text differs.
struct TextDiff {
    similarity: f64,
    baseline_characters: usize,
    added: Vec<String>,
    removed: usize,
    edited: usize,
}

fn text_reasons(reasons: &mut Vec<Reason>, diff: &TextDiff) {
    if diff.added.is_empty() && diff.removed == 0 && diff.edited == 0 {
        return;
    }
    let example_en = diff
        .added
        .first()
        .map(|text| format!("; e.g. new text \"{}\"", preview(text)))
        .unwrap_or_default();
    let example_zh = diff
        .added
        .first()
        .map(|text| format!("，如新增“{}”", preview(text)))
        .unwrap_or_default();
    if diff.baseline_characters > 0 && diff.similarity < REPLACED_SIMILARITY {
        reasons.push(reason(
            "text_replaced",
            60,
            format!(
                "the visible text was replaced: similarity {:.2} with the baseline{example_en}",
                diff.similarity
            ),
            format!(
                "可见文本被整体替换：与基线相似度 {:.2}{example_zh}",
                diff.similarity
            ),
        ));
        return;
    }
    let weight = (10.0 + (1.0 - diff.similarity) * 40.0)
        .round()
        .clamp(10.0, 40.0) as u32;
    reasons.push(reason(
        "text_changed",
        weight,
        format!(
            "visible text changed: {} added, {} removed, {} edited (similarity {:.2}){example_en}",
            count_en(diff.added.len(), "block"),
            diff.removed,
            diff.edited,
            diff.similarity
        ),
        format!(
            "可见文本变化：新增 {} 段、删除 {} 段、修改 {} 段（相似度 {:.2}）{example_zh}",
            diff.added.len(),
            diff.removed,
            diff.edited,
            diff.similarity
        ),
    ));
}

/// Block-level, order-insensitive, character-weighted comparison of the
/// visible text (see the module documentation).
fn text_diff(baseline: &Baseline, current: &Fingerprint) -> TextDiff {
    let visible = |fingerprint: &'_ Fingerprint| -> Vec<TextBlock> {
        fingerprint
            .blocks
            .iter()
            .filter(|block| !block.hidden && !baseline.learned_volatile.contains(&block.path))
            .cloned()
            .collect()
    };
    let before = visible(&baseline.fingerprint);
    let after = visible(current);
    let before_total: usize = before.iter().map(|block| weight(&block.text)).sum();
    let after_total: usize = after.iter().map(|block| weight(&block.text)).sum();
    let mut before_done = vec![false; before.len()];
    let mut after_done = vec![false; after.len()];
    let mut matched = 0.0f64;
    let mut edited = 0usize;

    // 1. Identical text anywhere (reordering is not a change).
    let mut by_text: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, block) in before.iter().enumerate().rev() {
        by_text.entry(block.text.as_str()).or_default().push(index);
    }
    for (index, block) in after.iter().enumerate() {
        if let Some(candidate) = by_text.get_mut(block.text.as_str()).and_then(Vec::pop) {
            before_done[candidate] = true;
            after_done[index] = true;
            matched += (2 * weight(&block.text)) as f64;
        }
    }

    // 2. Same path: equal once digits and dates are normalised, else partly
    //    similar.
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, block) in before.iter().enumerate().rev() {
        if !before_done[index] {
            by_path.entry(block.path.as_str()).or_default().push(index);
        }
    }
    for (index, block) in after.iter().enumerate() {
        if after_done[index] {
            continue;
        }
        let Some(candidate) = by_path.get_mut(block.path.as_str()).and_then(Vec::pop) else {
            continue;
        };
        before_done[candidate] = true;
        after_done[index] = true;
        let old = &before[candidate].text;
        let pair_weight = (weight(old) + weight(&block.text)) as f64;
        if normalize_volatile_tokens(old) == normalize_volatile_tokens(&block.text) {
            matched += pair_weight;
        } else {
            matched += pair_weight * bigram_similarity(old, &block.text);
            edited += 1;
        }
    }

    // 3. Normalised text anywhere (a dated item that moved).
    let mut by_normalized: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, block) in before.iter().enumerate().rev() {
        if !before_done[index] {
            by_normalized
                .entry(normalize_volatile_tokens(&block.text))
                .or_default()
                .push(index);
        }
    }
    for (index, block) in after.iter().enumerate() {
        if after_done[index] {
            continue;
        }
        if let Some(candidate) = by_normalized
            .get_mut(&normalize_volatile_tokens(&block.text))
            .and_then(Vec::pop)
        {
            before_done[candidate] = true;
            after_done[index] = true;
            matched += (weight(&before[candidate].text) + weight(&block.text)) as f64;
        }
    }

    let total = (before_total + after_total) as f64;
    let similarity = if total == 0.0 {
        1.0
    } else {
        (matched / total).clamp(0.0, 1.0)
    };
    TextDiff {
        similarity,
        baseline_characters: before_total,
        added: after
            .iter()
            .zip(&after_done)
            .filter(|(_, done)| !**done)
            .map(|(block, _)| block.text.clone())
            .collect(),
        removed: before_done.iter().filter(|done| !**done).count(),
        edited,
    }
}

/// Characters that count for similarity: everything but whitespace.
fn weight(text: &str) -> usize {
    text.chars()
        .filter(|character| !character.is_whitespace())
        .count()
}

/// Dice coefficient of character bigrams (works without word boundaries).
fn bigram_similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    let b: Vec<char> = b
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    if a.len() < 2 || b.len() < 2 {
        return if a == b { 1.0 } else { 0.0 };
    }
    let mut counts: HashMap<(char, char), i64> = HashMap::new();
    for pair in a.windows(2) {
        *counts.entry((pair[0], pair[1])).or_default() += 1;
    }
    let mut shared = 0i64;
    for pair in b.windows(2) {
        if let Some(count) = counts.get_mut(&(pair[0], pair[1]))
            && *count > 0
        {
            *count -= 1;
            shared += 1;
        }
    }
    (2 * shared) as f64 / (a.len() + b.len() - 2) as f64
}

// ---------------------------------------------------------------------------
// Message helpers

/// At most 40 characters of `text`, with an ellipsis when cut.
fn preview(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(LIMIT).collect();
        cut.push('…');
        cut
    }
}

/// "1 link", "3 links".
fn count_en(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// "a, b, c, d, e and 3 more".
fn list_en<S: AsRef<str>>(items: &[S]) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<&str> = items.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// "a、b、c、d、e 等 8 项".
fn list_zh<S: AsRef<str>>(items: &[S]) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<&str> = items.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let mut text = shown.join("、");
    if items.len() > SHOWN {
        text.push_str(&format!(" 等 {} 项", items.len()));
    }
    text
}

#[cfg(test)]
mod tests;
