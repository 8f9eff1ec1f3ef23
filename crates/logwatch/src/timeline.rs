//! Forensics around an incident: who did what, in order. Given requests
//! (from [`records_between`], say an hour either side), the time of the
//! incident and optionally the tampered path, [`timeline`] names the
//! suspects — attackers by rule, uploaders, the first clients of new
//! scripts, anyone who wrote to the tampered path — with their first-seen
//! times, and lists every request of theirs in the window, marked, plus
//! the moment the tampered page's responses changed size: the
//! defacement story as upload → shell → page change.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::detect::{AttackClass, Detector, RuleSet};
use crate::error::{LogwatchError, Result};
use crate::format::{LogFormat, Parsed, Parser, detect_format};
use crate::ip::IpKey;
use crate::reader::{Chunk, MAX_LINE, Worker, pipeline, read_file, read_head};
use crate::record::{OwnedRecord, Record};
use crate::shell::{is_script_path, is_upload};
use crate::time::{format_rfc3339, rfc3339};

/// What a timeline event is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineMark {
    /// A rule fired.
    Attack {
        /// The class.
        class: AttackClass,
        /// The rule.
        rule: String,
    },
    /// A POST/PUT to an upload endpoint.
    Upload,
    /// The first request of a script that had not been requested before.
    NewScript,
    /// A request to a script that appeared in this window.
    ScriptAccess,
    /// A write (POST, PUT, DELETE…) to the tampered path.
    WroteTamperedPath,
    /// The tampered path's responses changed size.
    PageChanged {
        /// Size before.
        from_bytes: u64,
        /// Size now.
        to_bytes: u64,
    },
}

/// One request in the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    /// When.
    #[serde(rename = "time", serialize_with = "rfc3339::serialize")]
    pub time_ms: i64,
    /// Who.
    pub ip: IpKey,
    /// The request line.
    pub request: String,
    /// Status.
    pub status: u16,
    /// Response bytes.
    pub bytes: u64,
    /// User agent.
    pub user_agent: String,
    /// Why it is in the timeline (empty: a suspect's ordinary request).
    pub marks: Vec<TimelineMark>,
}

/// A suspected attacker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The address.
    pub ip: IpKey,
    /// Its first request in the records given.
    #[serde(rename = "first_seen", serialize_with = "rfc3339::serialize")]
    pub first_seen_ms: i64,
    /// Its requests in the window.
    pub requests: u64,
    /// Why it is suspected.
    pub reasons: Vec<String>,
}

/// The story around an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The incident time.
    #[serde(rename = "around", serialize_with = "rfc3339::serialize")]
    pub around_ms: i64,
    /// Window start.
    #[serde(rename = "from", serialize_with = "rfc3339::serialize")]
    pub from_ms: i64,
    /// Window end.
    #[serde(rename = "to", serialize_with = "rfc3339::serialize")]
    pub to_ms: i64,
    /// The tampered path, if given.
    pub path: Option<String>,
    /// The suspects, earliest first.
    pub suspects: Vec<Suspect>,
    /// Their requests and the marked events, in time order.
    pub events: Vec<TimelineEvent>,
}

fn as_record(r: &OwnedRecord) -> Record<'_> {
    Record {
        time_ms: Some(r.time_ms),
        ip: r.ip,
        client: r.client.as_bytes(),
        method: r.method.as_bytes(),
        target: r.target.as_bytes(),
        protocol: b"",
        status: r.status,
        bytes: r.bytes,
        referer: r.referer.as_bytes(),
        user_agent: r.user_agent.as_bytes(),
        host: r.host.as_bytes(),
    }
}

fn request_line(r: &OwnedRecord) -> String {
    format!("{} {}", r.method, r.target)
}

/// Builds the timeline for `[around - window, around + window]`. Records
/// may come in any order and may reach beyond the window (first-seen
/// times and new scripts use all of them).
pub fn timeline(
    records: &[OwnedRecord],
    around_ms: i64,
    window_ms: i64,
    path: Option<&str>,
) -> Timeline {
    let rules = Arc::new(RuleSet::builtin());
    let mut detector = Detector::new(rules.clone());
    let (from_ms, to_ms) = (around_ms - window_ms, around_ms + window_ms);
    let mut sorted: Vec<&OwnedRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.time_ms);
    let mut first_seen: HashMap<IpKey, i64> = HashMap::new();
    let mut script_first: HashMap<&str, i64> = HashMap::new();
    let mut script_clients: HashMap<&str, Vec<IpKey>> = HashMap::new();
    for r in &sorted {
        first_seen.entry(r.ip).or_insert(r.time_ms);
        if is_script_path(r.path().as_bytes()) {
            script_first.entry(r.path()).or_insert(r.time_ms);
            let clients = script_clients.entry(r.path()).or_default();
            if !clients.contains(&r.ip) {
                clients.push(r.ip);
            }
        }
    }
    let first_record_ms = sorted.first().map_or(from_ms, |r| r.time_ms);
    let in_window: Vec<&OwnedRecord> = sorted
        .iter()
        .copied()
        .filter(|r| r.time_ms >= from_ms && r.time_ms <= to_ms)
        .collect();
    let mut marks: Vec<Vec<TimelineMark>> = vec![Vec::new(); in_window.len()];
    let mut reasons: BTreeMap<IpKey, Vec<String>> = BTreeMap::new();
    let mut reason = |ip: IpKey, text: String| {
        let list = reasons.entry(ip).or_default();
        if !list.contains(&text) {
            list.push(text);
        }
    };
    let mut hits = Vec::new();
    let mut last_page_size: Option<u64> = None;
    let mut announced_scripts: Vec<&str> = Vec::new();
    for (i, r) in in_window.iter().enumerate() {
        let record = as_record(r);
        hits.clear();
        detector.detect(&record, &mut hits);
        for hit in &hits {
            if hit.confidence < 0.5 {
                continue;
            }
            let rule = rules.rule(hit.rule);
            marks[i].push(TimelineMark::Attack {
                class: rule.class,
                rule: rule.id.clone(),
            });
            reason(
                r.ip,
                format!("attack: {} ({})", rule.class.as_str(), rule.id),
            );
        }
        if is_upload(&record) {
            marks[i].push(TimelineMark::Upload);
            reason(r.ip, format!("upload: {}", request_line(r)));
        }
        let p = r.path();
        if is_script_path(p.as_bytes()) {
            let first = script_first.get(p).copied().unwrap_or(r.time_ms);
            // "New": not requested in the first part of the records, by few clients.
            let new = first > first_record_ms
                && first >= from_ms
                && script_clients.get(p).is_some_and(|c| c.len() <= 3);
            if new {
                if !announced_scripts.contains(&p) {
                    announced_scripts.push(p);
                    marks[i].push(TimelineMark::NewScript);
                    reason(r.ip, format!("first client of new script {p}"));
                } else {
                    marks[i].push(TimelineMark::ScriptAccess);
                    reason(r.ip, format!("used new script {p}"));
                }
            }
        }
        if let Some(tampered) = path
            && p == tampered
        {
            if !r.method.eq_ignore_ascii_case("GET") && !r.method.eq_ignore_ascii_case("HEAD") {
                marks[i].push(TimelineMark::WroteTamperedPath);
                reason(r.ip, format!("{} to the tampered path", r.method));
            }
            if (200..300).contains(&r.status) && r.method.eq_ignore_ascii_case("GET") {
                if let Some(before) = last_page_size {
                    let change = before.abs_diff(r.bytes);
                    if change > 64 && change * 20 > before {
                        marks[i].push(TimelineMark::PageChanged {
                            from_bytes: before,
                            to_bytes: r.bytes,
                        });
                    }
                }
                last_page_size = Some(r.bytes);
            }
        }
    }
    let mut events = Vec::new();
    let mut counts: HashMap<IpKey, u64> = HashMap::new();
    for (i, r) in in_window.iter().enumerate() {
        let suspect = reasons.contains_key(&r.ip);
        if suspect {
            *counts.entry(r.ip).or_default() += 1;
        }
        if suspect || !marks[i].is_empty() {
            events.push(TimelineEvent {
                time_ms: r.time_ms,
                ip: r.ip,
                request: request_line(r),
                status: r.status,
                bytes: r.bytes,
                user_agent: r.user_agent.clone(),
                marks: std::mem::take(&mut marks[i]),
            });
        }
    }
    let mut suspects: Vec<Suspect> = reasons
        .into_iter()
        .map(|(ip, reasons)| Suspect {
            ip,
            first_seen_ms: first_seen.get(&ip).copied().unwrap_or(from_ms),
            requests: counts.get(&ip).copied().unwrap_or(0),
            reasons,
        })
        .collect();
    suspects.sort_by_key(|s| (s.first_seen_ms, s.ip));
    Timeline {
        around_ms,
        from_ms,
        to_ms,
        path: path.map(str::to_string),
        suspects,
        events,
    }
}

impl TimelineMark {
    fn words(&self) -> String {
        match self {
            TimelineMark::Attack { class, rule } => format!("attack {} ({rule})", class.as_str()),
            TimelineMark::Upload => "upload".into(),
            TimelineMark::NewScript => "NEW SCRIPT first requested".into(),
            TimelineMark::ScriptAccess => "new script used".into(),
            TimelineMark::WroteTamperedPath => "wrote to the tampered path".into(),
            TimelineMark::PageChanged {
                from_bytes,
                to_bytes,
            } => format!("PAGE CHANGED: {from_bytes} → {to_bytes} bytes"),
        }
    }
}

impl Timeline {
    /// The timeline as text for a terminal or a report.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Timeline around {} (from {} to {}){}\n\nSuspects:\n",
            format_rfc3339(self.around_ms),
            format_rfc3339(self.from_ms),
            format_rfc3339(self.to_ms),
            self.path
                .as_deref()
                .map(|p| format!(", tampered path {p}"))
                .unwrap_or_default()
        );
        if self.suspects.is_empty() {
            out.push_str("  (none)\n");
        }
        for s in &self.suspects {
            out.push_str(&format!(
                "  {:<40} first seen {}  {} request(s) in the window\n",
                s.ip.to_string(),
                format_rfc3339(s.first_seen_ms),
                s.requests
            ));
            for r in &s.reasons {
                out.push_str(&format!("      - {r}\n"));
            }
        }
        out.push_str("\nEvents:\n");
        for e in &self.events {
            let marks: Vec<String> = e.marks.iter().map(TimelineMark::words).collect();
            out.push_str(&format!(
                "  {}  {:<15} {} → {} ({} B){}\n",
                format_rfc3339(e.time_ms),
                e.ip.to_string(),
                e.request,
                e.status,
                e.bytes,
                if marks.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", marks.join("; "))
                }
            ));
        }
        out
    }
}

struct Collect<'a> {
    parsers: &'a [Parser],
    from_ms: i64,
    to_ms: i64,
    records: Vec<OwnedRecord>,
}

impl Worker for Collect<'_> {
    fn process(&mut self, chunk: &Chunk) {
        let mut parser = self.parsers[chunk.file].clone();
        if let Some(directive) = &chunk.directive {
            parser.observe_directive(directive);
        }
        for line in chunk.data.split(|b| *b == b'\n') {
            if line.len() > MAX_LINE {
                continue;
            }
            if let Parsed::Record(r) = parser.parse(line)
                && r.time_ms
                    .is_some_and(|t| t >= self.from_ms && t <= self.to_ms)
            {
                self.records.push(r.to_owned_record());
            }
        }
    }
}

/// Reads the requests between two times (inclusive) from log files, with
/// every core, sorted by time.
pub fn records_between<P: AsRef<Path>>(
    paths: &[P],
    config: &Config,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<OwnedRecord>> {
    let mut parsers = Vec::new();
    for path in paths {
        let format = match &config.format {
            LogFormat::Auto => detect_format(&read_head(path.as_ref(), 64 * 1024)?),
            other => other.clone(),
        };
        parsers.push(
            format
                .compile()
                .map_err(|e| LogwatchError::Config(vec![e]))?,
        );
    }
    let threads = config
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workers = pipeline(
        threads,
        || Collect {
            parsers: &parsers,
            from_ms,
            to_ms,
            records: Vec::new(),
        },
        |take, send| {
            for (index, path) in paths.iter().enumerate() {
                read_file(
                    path.as_ref(),
                    index,
                    None,
                    parsers[index].has_directives(),
                    take,
                    send,
                    &mut |_| {},
                )?;
            }
            Ok(())
        },
    )?;
    let mut records: Vec<OwnedRecord> = workers.into_iter().flat_map(|w| w.records).collect();
    records.sort_by(|a, b| {
        a.time_ms
            .cmp(&b.time_ms)
            .then_with(|| a.ip.cmp(&b.ip))
            .then_with(|| a.target.cmp(&b.target))
    });
    Ok(records)
}
