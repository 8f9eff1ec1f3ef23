//! Web-attack detection on single requests: a rule set compiled once
//! ([`RuleSet`]) and a per-thread [`Detector`] that runs it on records.
//!
//! The hot path is a prefilter: one Aho–Corasick pass over the raw target
//! (and one over the user agent, whose verdicts are cached because a log
//! has few distinct agents) looking for any rule keyword *or* an escape
//! that could hide one (`%2`, `%3c`, `\x`…). Only on a hit is the part
//! normalised (`normalize`), searched again for keywords to pick the
//! candidate rules, and each candidate's regex (bytes API) run to confirm.
//!
//! What this module does not do: anything that needs more than one request
//! (leaky-bucket scenarios, new scripts, floods) — see `scenario`, `shell`
//! and `flood`.

mod normalize;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

pub use normalize::normalize;
pub use rules::{BUILTIN_RULES, BuiltinRule, CustomRule, Part, SCRIPT_EXTENSIONS};

use crate::ip::IpKey;
use crate::record::{Record, lossy};
use crate::time::rfc3339;

/// The kinds of web attack, after the OWASP Core Rule Set's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackClass {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and local file disclosure.
    PathTraversal,
    /// Local (wrapper) or remote file inclusion.
    FileInclusion,
    /// Remote code execution: shell commands, PHP/Java code injection.
    Rce,
    /// A vulnerability scanner by its user agent or its behaviour.
    Scanner,
    /// Probing for files and tools that should not be reachable.
    Probe,
    /// Access to a likely web shell.
    WebShell,
    /// Password guessing against a login.
    BruteForce,
}

impl AttackClass {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackClass::Sqli => "sqli",
            AttackClass::Xss => "xss",
            AttackClass::PathTraversal => "path_traversal",
            AttackClass::FileInclusion => "file_inclusion",
            AttackClass::Rce => "rce",
            AttackClass::Scanner => "scanner",
            AttackClass::Probe => "probe",
            AttackClass::WebShell => "web_shell",
            AttackClass::BruteForce => "brute_force",
        }
    }

    /// Every class, in report order.
    pub const ALL: [AttackClass; 9] = [
        AttackClass::Sqli,
        AttackClass::Xss,
        AttackClass::PathTraversal,
        AttackClass::FileInclusion,
        AttackClass::Rce,
        AttackClass::Scanner,
        AttackClass::Probe,
        AttackClass::WebShell,
        AttackClass::BruteForce,
    ];
}

/// One detected attack request, as it appears in reports and signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attack {
    /// The client.
    pub ip: IpKey,
    /// The attack class.
    pub class: AttackClass,
    /// When (Unix milliseconds; RFC 3339 in JSON).
    #[serde(rename = "time", serialize_with = "rfc3339::serialize")]
    pub time_ms: i64,
    /// The request line, readable (`GET /a?id=1' or '1'='1 HTTP/1.1`).
    pub request: String,
    /// The rule that fired.
    pub rule: String,
    /// How sure, 0–1.
    pub confidence: f32,
    /// The response status.
    pub status: u16,
    /// What matched, after normalisation (at most 120 characters).
    pub evidence: String,
}

/// A rule hit on one record, before it becomes an [`Attack`].
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index into [`RuleSet::rule`].
    pub rule: usize,
    /// Confidence after adjustments (a web shell answered 404 counts less).
    pub confidence: f32,
    /// The matched text, normalised, capped.
    pub evidence: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Identifier.
    pub id: String,
    /// Class.
    pub class: AttackClass,
    /// Confidence of a hit.
    pub confidence: f32,
    /// Part read.
    pub part: Part,
    /// Only POST requests.
    pub post_only: bool,
    regex: Regex,
}

/// Escapes that can hide a keyword; their presence in the raw bytes sends
/// the part to normalisation.
const ESCAPE_MARKERS: &[&str] = &[
    "%0", "%1", "%2", "%3", "%4", "%5", "%6", "%7", "%u", "%c0", "%c1", "%e0", "\\x",
];

#[derive(Debug, Clone)]
struct PartMatcher {
    /// Keywords (with `+` variants for spaces) and escape markers.
    raw: AhoCorasick,
    /// Keywords only, for the normalised text.
    keywords: AhoCorasick,
    /// For each keyword pattern, the rules that list it.
    keyword_rules: Vec<Vec<usize>>,
}

impl PartMatcher {
    fn build(rules: &[(Vec<String>, usize)]) -> Result<PartMatcher, String> {
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (rule_keywords, rule) in rules {
            for keyword in rule_keywords {
                let keyword = keyword.to_ascii_lowercase();
                match keywords.iter().position(|k| *k == keyword) {
                    Some(at) => keyword_rules[at].push(*rule),
                    None => {
                        keywords.push(keyword);
                        keyword_rules.push(vec![*rule]);
                    }
                }
            }
        }
        let mut raw: Vec<String> = keywords.clone();
        for keyword in &keywords {
            if keyword.contains(' ') {
                raw.push(keyword.replace(' ', "+"));
            }
        }
        raw.extend(ESCAPE_MARKERS.iter().map(|m| m.to_string()));
        let build = |patterns: &[String]| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(patterns)
                .map_err(|e| e.to_string())
        };
        Ok(PartMatcher {
            raw: build(&raw)?,
            keywords: build(&keywords)?,
            keyword_rules,
        })
    }
}

/// The compiled rules: the built-in ones (minus any disabled) and the
/// plan's own.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    target: PartMatcher,
    agent: PartMatcher,
}

impl RuleSet {
    /// Compiles the built-in rules except `disabled`, plus `custom`.
    /// Reports every rule that fails to compile.
    pub fn new(disabled: &[String], custom: &[CustomRule]) -> Result<RuleSet, Vec<String>> {
        let mut errors = Vec::new();
        let mut specs: Vec<CustomRule> = Vec::new();
        for rule in BUILTIN_RULES {
            if disabled.iter().any(|d| d == rule.id) {
                continue;
            }
            specs.push(CustomRule {
                id: rule.id.to_string(),
                class: rule.class,
                confidence: rule.confidence,
                part: rule.part,
                post_only: rule.post_only,
                keywords: rule.keywords.iter().map(|k| k.to_string()).collect(),
                pattern: rule.pattern.to_string(),
            });
        }
        for d in disabled {
            if !BUILTIN_RULES.iter().any(|r| r.id == d) {
                errors.push(format!("detect.disabled_rules: no built-in rule {d:?}"));
            }
        }
        for rule in custom {
            if rule.keywords.is_empty() || rule.keywords.iter().any(String::is_empty) {
                errors.push(format!(
                    "rule {:?}: needs at least one non-empty keyword",
                    rule.id
                ));
                continue;
            }
            if !(0.0..=1.0).contains(&rule.confidence) {
                errors.push(format!(
                    "rule {:?}: confidence must be between 0 and 1",
                    rule.id
                ));
                continue;
            }
            specs.push(rule.clone());
        }
        let mut rules = Vec::new();
        let (mut target_specs, mut agent_specs) = (Vec::new(), Vec::new());
        for CustomRule {
            id,
            class,
            confidence,
            part,
            post_only,
            keywords,
            pattern,
        } in specs
        {
            let regex = match RegexBuilder::new(&pattern)
                .unicode(false)
                .size_limit(1 << 22)
                .build()
            {
                Ok(regex) => regex,
                Err(e) => {
                    errors.push(format!("rule {id:?}: pattern does not compile: {e}"));
                    continue;
                }
            };
            let index = rules.len();
            if matches!(part, Part::Target | Part::Path | Part::Any) {
                target_specs.push((keywords.clone(), index));
            }
            if matches!(part, Part::UserAgent | Part::Any) {
                agent_specs.push((keywords, index));
            }
            rules.push(CompiledRule {
                id,
                class,
                confidence,
                part,
                post_only,
                regex,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let target = PartMatcher::build(&target_specs).map_err(|e| vec![e])?;
        let agent = PartMatcher::build(&agent_specs).map_err(|e| vec![e])?;
        Ok(RuleSet {
            rules,
            target,
            agent,
        })
    }

    /// The built-in rules only.
    pub fn builtin() -> RuleSet {
        RuleSet::new(&[], &[]).expect("built-in rules compile")
    }

    /// A rule by index (from a [`Hit`]).
    pub fn rule(&self, index: usize) -> &CompiledRule {
        &self.rules[index]
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when every rule is disabled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Largest number of distinct user agents whose verdicts are cached per
/// thread; the cache is cleared when full.
const AGENT_CACHE_SIZE: usize = 4096;

/// Runs a [`RuleSet`] on records; one per thread (it owns scratch
/// buffers and the user-agent verdict cache).
#[derive(Debug, Clone)]
pub struct Detector {
    rules: Arc<RuleSet>,
    normalized: Vec<u8>,
    path_normalized: Vec<u8>,
    scratch: Vec<u8>,
    candidates: Vec<bool>,
    agent_cache: HashMap<Box<[u8]>, Vec<Hit>, foldhash::fast::RandomState>,
}

fn evidence(text: &[u8]) -> String {
    let capped = &text[..text.len().min(120)];
    lossy(capped)
}

impl Detector {
    /// A detector for these rules.
    pub fn new(rules: Arc<RuleSet>) -> Self {
        let count = rules.rules.len();
        Detector {
            rules,
            normalized: Vec::new(),
            path_normalized: Vec::new(),
            scratch: Vec::new(),
            candidates: vec![false; count],
            agent_cache: HashMap::default(),
        }
    }

    /// The rules this detector runs.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Appends to `hits` every rule that fires on the record, at most one
    /// hit per class (the most confident). Most records return without
    /// allocating or running a regex.
    pub fn detect(&mut self, record: &Record<'_>, hits: &mut Vec<Hit>) {
        let start = hits.len();
        if !record.target.is_empty() && self.rules.target.raw.is_match(record.target) {
            self.scan_target(record, hits);
        }
        if !record.user_agent.is_empty() {
            if let Some(cached) = self.agent_cache.get(record.user_agent) {
                hits.extend(cached.iter().cloned());
            } else {
                let mut agent_hits = Vec::new();
                if self.rules.agent.raw.is_match(record.user_agent) {
                    self.scan_agent(record.user_agent, &mut agent_hits);
                }
                hits.extend(agent_hits.iter().cloned());
                if self.agent_cache.len() >= AGENT_CACHE_SIZE {
                    self.agent_cache.clear();
                }
                self.agent_cache
                    .insert(record.user_agent.into(), agent_hits);
            }
        }
        if hits.len() - start > 1 {
            dedupe_by_class(&self.rules, hits, start);
        }
        let failed = matches!(record.status, 400 | 403 | 404 | 405 | 410);
        for hit in &mut hits[start..] {
            if failed && self.rules.rules[hit.rule].class == AttackClass::WebShell {
                // A shell that is not there is an attempt, not an access.
                hit.confidence *= 0.5;
            }
        }
    }

    fn scan_target(&mut self, record: &Record<'_>, hits: &mut Vec<Hit>) {
        normalize(record.target, &mut self.normalized, &mut self.scratch, true);
        self.candidates.iter_mut().for_each(|c| *c = false);
        let mut any = false;
        for found in self
            .rules
            .target
            .keywords
            .find_overlapping_iter(&self.normalized[..])
        {
            for &rule in &self.rules.target.keyword_rules[found.pattern().as_usize()] {
                self.candidates[rule] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let path_end = memchr::memchr(b'?', &self.normalized).unwrap_or(self.normalized.len());
        self.path_normalized.clear();
        self.path_normalized
            .extend_from_slice(&self.normalized[..path_end]);
        let is_post = record.method.eq_ignore_ascii_case(b"POST");
        for (index, rule) in self.rules.rules.iter().enumerate() {
            if !self.candidates[index]
                || rule.part == Part::UserAgent
                || (rule.post_only && !is_post)
            {
                continue;
            }
            let text = if rule.part == Part::Path {
                &self.path_normalized
            } else {
                &self.normalized
            };
            if let Some(m) = rule.regex.find(text) {
                hits.push(Hit {
                    rule: index,
                    confidence: rule.confidence,
                    evidence: evidence(m.as_bytes()),
                });
            }
        }
    }

    fn scan_agent(&mut self, agent: &[u8], hits: &mut Vec<Hit>) {
        normalize(agent, &mut self.normalized, &mut self.scratch, false);
        self.candidates.iter_mut().for_each(|c| *c = false);
        let mut any = false;
        for found in self
            .rules
            .agent
            .keywords
            .find_overlapping_iter(&self.normalized[..])
        {
            for &rule in &self.rules.agent.keyword_rules[found.pattern().as_usize()] {
                self.candidates[rule] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        for (index, rule) in self.rules.rules.iter().enumerate() {
            if !self.candidates[index]
                || !matches!(rule.part, Part::UserAgent | Part::Any)
                || rule.post_only
            {
                continue;
            }
            if let Some(m) = rule.regex.find(&self.normalized) {
                hits.push(Hit {
                    rule: index,
                    confidence: rule.confidence,
                    evidence: evidence(m.as_bytes()),
                });
            }
        }
    }

    /// Turns a hit into an [`Attack`] for this record.
    pub fn attack(&self, record: &Record<'_>, hit: &Hit) -> Attack {
        let rule = &self.rules.rules[hit.rule];
        Attack {
            ip: record.ip,
            class: rule.class,
            time_ms: record.time_ms.unwrap_or(0),
            request: record.request_line(),
            rule: rule.id.clone(),
            confidence: hit.confidence,
            status: record.status,
            evidence: hit.evidence.clone(),
        }
    }
}

/// Keeps the most confident hit per class among `hits[start..]`.
fn dedupe_by_class(rules: &RuleSet, hits: &mut Vec<Hit>, start: usize) {
    let mut kept: Vec<Hit> = Vec::new();
    for hit in hits.drain(start..) {
        let class = rules.rules[hit.rule].class;
        match kept.iter_mut().find(|k| rules.rules[k.rule].class == class) {
            Some(existing) if existing.confidence < hit.confidence => *existing = hit,
            Some(_) => {}
            None => kept.push(hit),
        }
    }
    hits.extend(kept);
}

#[cfg(test)]
mod tests;
