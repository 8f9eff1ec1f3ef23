//! Live detection: the same rules, scenarios, web-shell judgement, flood
//! detection and decisions as the batch analysis, fed one request at a
//! time as the tailers read them, raising [`Event`]s the lead's wiring
//! turns into signals and gateway blocklist entries.
//!
//! Pure: `now_ms` is an argument of every call.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::config::{Config, Resolved};
use crate::decision::{Decision, LiveDecisions};
use crate::detect::{Attack, Detector, Hit};
use crate::error::Result;
use crate::flood::{Baseline, FloodEvent, LiveFlood, ONLINE_HISTORY_SECONDS};
use crate::record::{Record, lossy};
use crate::scenario::{Buckets, ScenarioEvent};
use crate::shell::{ScriptSeen, Upload, is_script_path, is_upload, judge};

/// Something live detection found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An attack request (rule, scenario or new script).
    Attack(Attack),
    /// A flood started or ended.
    Flood(FloodEvent),
    /// An address to block (or spared by the allowlist).
    Decision(Decision),
}

/// Sites tracked separately; requests for more hosts (a forged Host
/// header) count under the empty site.
const MAX_SITES: usize = 256;
/// Upload POSTs remembered for the web-shell judgement.
const MAX_UPLOADS: usize = 10_000;
/// Script paths remembered.
const MAX_SCRIPTS: usize = 200_000;

/// Live detection state for one plan (any number of files and sites).
#[derive(Debug)]
pub struct LiveDetector {
    resolved: Resolved,
    /// The configuration, shared so each request does not copy it.
    config: Arc<Config>,
    detector: Detector,
    hits: Vec<Hit>,
    buckets: Buckets,
    scenario_events: Vec<ScenarioEvent>,
    floods: HashMap<String, LiveFlood>,
    baselines: HashMap<String, Baseline>,
    decisions: LiveDecisions,
    scripts: HashMap<Vec<u8>, ScriptSeen>,
    reported_scripts: HashSet<Vec<u8>>,
    uploads: VecDeque<Upload>,
    started_ms: i64,
    last_expiry_ms: i64,
}

/// What a live detector has learned that a restart must not forget.
///
/// Without it, a restarted detector learns the site's scripts afresh for
/// `web_shells.learning_minutes`: a web shell planted before the restart
/// and used in that hour would be learned as one of the site's own and
/// never raised. It also keeps the uploads that make a new script
/// suspect, the scripts already reported, and each site's quiet request
/// rates (the flood baseline), which are only taken up when less than an
/// hour old.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveMemory {
    /// When it was taken (Unix ms).
    pub saved_at_ms: i64,
    /// When the web-shell learning period began.
    pub learning_started_ms: i64,
    /// Script paths seen (UTF-8 ones), with what is known of each.
    pub scripts: Vec<(String, ScriptSeen)>,
    /// Scripts already reported.
    pub reported_scripts: Vec<String>,
    /// Recent uploads, oldest first.
    pub uploads: Vec<Upload>,
    /// Per site, the quiet seconds' request counts, oldest first.
    pub flood_history: BTreeMap<String, Vec<u32>>,
}

impl LiveDetector {
    /// What the detector has learned, as of `now_ms`, to be saved.
    pub fn memory(&self, now_ms: i64) -> LiveMemory {
        let text = |path: &Vec<u8>| String::from_utf8(path.clone()).ok();
        LiveMemory {
            saved_at_ms: now_ms,
            learning_started_ms: self.started_ms,
            scripts: self
                .scripts
                .iter()
                .filter_map(|(path, seen)| Some((text(path)?, seen.clone())))
                .collect(),
            reported_scripts: self.reported_scripts.iter().filter_map(text).collect(),
            uploads: self.uploads.iter().cloned().collect(),
            flood_history: self
                .floods
                .iter()
                .map(|(site, flood)| (site.clone(), flood.online_history()))
                .filter(|(_, history)| !history.is_empty())
                .collect(),
        }
    }

    /// Takes up what an earlier detector learned (see [`LiveMemory`]): the
    /// learning period runs from the earlier start, and the scripts,
    /// reports and uploads it knew are known.
    pub fn resume(&mut self, memory: LiveMemory, now_ms: i64) {
        self.started_ms = self.started_ms.min(memory.learning_started_ms);
        for (path, seen) in memory.scripts {
            if self.scripts.len() >= MAX_SCRIPTS {
                break;
            }
            self.scripts.entry(path.into_bytes()).or_insert(seen);
        }
        self.reported_scripts
            .extend(memory.reported_scripts.into_iter().map(String::into_bytes));
        for upload in memory.uploads {
            if self.uploads.len() >= MAX_UPLOADS {
                self.uploads.pop_front();
            }
            self.uploads.push_back(upload);
        }
        let fresh =
            now_ms.saturating_sub(memory.saved_at_ms) <= ONLINE_HISTORY_SECONDS as i64 * 1000;
        if fresh {
            for (site, history) in memory.flood_history {
                self.site_flood(site.as_bytes())
                    .resume_online(history, now_ms);
            }
        }
    }

    /// A detector starting at `now_ms`; `baselines` per site from the
    /// batch analysis of the log's history (its `baselines`), if any.
    pub fn new(
        config: &Config,
        baselines: impl IntoIterator<Item = (String, Baseline)>,
        now_ms: i64,
    ) -> Result<Self> {
        let resolved = config.resolve()?;
        Ok(LiveDetector {
            config: Arc::new(resolved.config.clone()),
            detector: Detector::new(resolved.rules.clone()),
            buckets: Buckets::new(resolved.config.scenarios.clone()),
            resolved,
            hits: Vec::new(),
            scenario_events: Vec::new(),
            floods: HashMap::new(),
            baselines: baselines.into_iter().collect(),
            decisions: LiveDecisions::new(),
            scripts: HashMap::new(),
            reported_scripts: HashSet::new(),
            uploads: VecDeque::new(),
            started_ms: now_ms,
            last_expiry_ms: now_ms,
        })
    }

    fn site_flood(&mut self, host: &[u8]) -> &mut LiveFlood {
        let mut site = lossy(host);
        if !self.floods.contains_key(&site) && self.floods.len() >= MAX_SITES {
            site = String::new();
        }
        let config = &self.resolved.config.flood;
        let baselines = &self.baselines;
        self.floods.entry(site.clone()).or_insert_with(|| {
            LiveFlood::new(config.clone(), site.clone(), baselines.get(&site).cloned())
        })
    }

    fn attack(&mut self, attack: Attack, now_ms: i64, events: &mut Vec<Event>) {
        if let Some(decision) =
            self.decisions
                .observe_attack(&attack, now_ms, &self.resolved.config.decisions)
        {
            events.push(Event::Attack(attack));
            events.push(Event::Decision(decision));
        } else {
            events.push(Event::Attack(attack));
        }
    }

    /// One request, as read. Requests without a time are placed at `now_ms`.
    pub fn observe(&mut self, record: &Record<'_>, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        let time_ms = record.time_ms.unwrap_or(now_ms);
        let config = self.config.clone();
        if config.detect.enabled {
            self.hits.clear();
            self.detector.detect(record, &mut self.hits);
            let hits = std::mem::take(&mut self.hits);
            for hit in &hits {
                if hit.confidence >= config.detect.min_confidence {
                    let mut attack = self.detector.attack(record, hit);
                    attack.time_ms = time_ms;
                    self.attack(attack, now_ms, &mut events);
                }
            }
            self.hits = hits;
        }
        self.scenario_events.clear();
        Buckets::events_for(&config.scenarios, record, &mut self.scenario_events);
        let scenario_events = std::mem::take(&mut self.scenario_events);
        for mut event in scenario_events.iter().cloned() {
            event.time_ms = time_ms;
            if let Some(hit) = self.buckets.pour(&event) {
                let scenario = &config.scenarios[hit.index];
                let attack = Attack {
                    ip: hit.ip,
                    class: scenario.class,
                    time_ms: hit.time_ms,
                    request: hit.request.clone(),
                    rule: format!("scenario:{}", hit.scenario),
                    confidence: scenario.confidence,
                    status: record.status,
                    evidence: format!(
                        "{} events in {} s (capacity {})",
                        hit.events,
                        (hit.time_ms - hit.since_ms) / 1000,
                        scenario.capacity
                    ),
                };
                self.attack(attack, now_ms, &mut events);
            }
        }
        self.scenario_events = scenario_events;
        if is_upload(record) {
            if self.uploads.len() >= MAX_UPLOADS {
                self.uploads.pop_front();
            }
            self.uploads.push_back(Upload {
                time_ms,
                ip: record.ip,
                request: record.request_line(),
            });
        }
        let path = record.path();
        if is_script_path(path)
            && (self.scripts.len() < MAX_SCRIPTS || self.scripts.contains_key(path))
        {
            match self.scripts.get_mut(path) {
                Some(seen) => seen.update(record, time_ms),
                None => {
                    self.scripts
                        .insert(path.to_vec(), ScriptSeen::new(record, time_ms));
                }
            }
            let seen = &self.scripts[path];
            let learned_until =
                self.started_ms + i64::from(config.web_shells.learning_minutes) * 60_000;
            if !self.reported_scripts.contains(path) {
                let uploads: Vec<Upload> = self.uploads.iter().cloned().collect();
                if let Some(verdict) = judge(
                    &lossy(path),
                    seen,
                    learned_until,
                    &uploads,
                    &config.web_shells,
                ) {
                    self.reported_scripts.insert(path.to_vec());
                    let attack = Attack {
                        ip: verdict.ip,
                        class: verdict.class,
                        time_ms: verdict.time_ms,
                        request: verdict.request,
                        rule: verdict.rule.to_string(),
                        confidence: verdict.confidence,
                        status: record.status,
                        evidence: verdict.evidence,
                    };
                    self.attack(attack, now_ms, &mut events);
                }
            }
        }
        let ip = record.ip;
        let flood_events = self
            .site_flood(record.host)
            .observe(ip, path, time_ms, now_ms);
        self.flood_events(flood_events, now_ms, &mut events);
        events
    }

    fn flood_events(
        &mut self,
        flood_events: Vec<FloodEvent>,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        for event in flood_events {
            let decisions = match &event {
                FloodEvent::Started(flood) | FloodEvent::Ended(flood) => self
                    .decisions
                    .observe_flood(flood, now_ms, &self.resolved.config.decisions),
            };
            events.push(Event::Flood(event));
            events.extend(decisions.into_iter().map(Event::Decision));
        }
    }

    /// Call about every 200 ms: closes seconds, ends quiet floods, forgets
    /// expired state.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        let mut flood_events = Vec::new();
        for flood in self.floods.values_mut() {
            flood_events.extend(flood.tick(now_ms));
        }
        self.flood_events(flood_events, now_ms, &mut events);
        if now_ms - self.last_expiry_ms > 60_000 {
            self.decisions
                .expire(now_ms, &self.resolved.config.decisions);
            self.last_expiry_ms = now_ms;
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ClfParser, Parsed};

    fn feed(detector: &mut LiveDetector, line: &str, now_ms: i64) -> Vec<Event> {
        let mut parser = ClfParser::new();
        let Parsed::Record(record) = parser.parse(line.as_bytes()) else {
            panic!("{line}")
        };
        detector.observe(&record, now_ms)
    }

    #[test]
    fn attack_then_decision_then_quiet() {
        let mut live = LiveDetector::new(&Config::default(), Vec::new(), 0).unwrap();
        let line = r#"203.0.113.66 - - [20/Nov/2026:10:00:00 +0000] "GET /news.php?id=-1%20union%20select%201,2,3-- HTTP/1.1" 200 512 "-" "Mozilla/5.0""#;
        let events = feed(&mut live, line, 1_795_168_800_000);
        assert!(
            matches!(&events[0], Event::Attack(a) if a.rule == "sqli-union-select"),
            "{events:?}"
        );
        assert!(
            matches!(&events[1], Event::Decision(d) if d.ip.to_string() == "203.0.113.66"),
            "{events:?}"
        );
        // The same again: an attack, no second decision while blocked.
        let events = feed(&mut live, line, 1_795_168_801_000);
        assert_eq!(events.len(), 1);
    }

    /// A restart in the learning hour must not start it again: a shell
    /// used an hour after the *first* start is new, not the site's own.
    #[test]
    fn a_resumed_detector_keeps_its_learning_and_its_uploads() {
        // 2026-11-20T10:00:00Z
        let start = 1_795_168_800_000;
        let minute = 60_000;
        let line = |time: &str, request: &str| {
            format!(
                r#"203.0.113.66 - - [20/Nov/2026:{time} +0000] "{request} HTTP/1.1" 200 100 "-" "Mozilla/5.0""#
            )
        };
        let mut first = LiveDetector::new(&Config::default(), Vec::new(), start).unwrap();
        feed(
            &mut first,
            &line("10:01:00", "GET /index.php"),
            start + minute,
        );
        // Saved, and through JSON as serve keeps it.
        let memory: LiveMemory =
            serde_json::from_slice(&serde_json::to_vec(&first.memory(start + 2 * minute)).unwrap())
                .unwrap();
        assert_eq!(memory.learning_started_ms, start);

        let shell_after_restart = |resume: bool| {
            let restarted = start + 3 * minute;
            let mut detector =
                LiveDetector::new(&Config::default(), Vec::new(), restarted).unwrap();
            if resume {
                detector.resume(memory.clone(), restarted);
            }
            feed(
                &mut detector,
                &line("11:01:00", "POST /member/upload.php"),
                start + 61 * minute,
            );
            let events = feed(
                &mut detector,
                &line("11:02:00", "GET /static/a7.php"),
                start + 62 * minute,
            );
            if resume {
                // The site's own script is still its own.
                let own = feed(
                    &mut detector,
                    &line("11:03:00", "GET /index.php"),
                    start + 63 * minute,
                );
                assert!(own.is_empty(), "{own:?}");
            }
            events
                .iter()
                .any(|e| matches!(e, Event::Attack(a) if a.rule.starts_with("webshell-new-script")))
        };
        assert!(shell_after_restart(true), "resumed: the shell is raised");
        assert!(
            !shell_after_restart(false),
            "the failure this guards against: a fresh detector learns the shell as the site's own"
        );
    }

    /// The flood baseline is there at once after a restart: a flood in
    /// the first seconds is measured against it, not the bare floor.
    #[test]
    fn a_resumed_flood_baseline_applies_from_the_first_second() {
        let start = 1_795_168_800_000;
        let line = |second: u32| {
            format!(
                r#"203.0.113.{} - - [20/Nov/2026:10:00:{second:02} +0000] "GET / HTTP/1.1" 200 100 "-" "Mozilla/5.0""#,
                second % 200
            )
        };
        let memory = LiveMemory {
            saved_at_ms: start - 5_000,
            learning_started_ms: start - 7_200_000,
            // An hour at 2 requests a second, for the log's host ("-").
            flood_history: [(String::new(), vec![2; 3600])].into_iter().collect(),
            ..LiveMemory::default()
        };
        let floods = |resume: bool| {
            let mut detector = LiveDetector::new(&Config::default(), Vec::new(), start).unwrap();
            if resume {
                detector.resume(memory.clone(), start);
            }
            let mut started = false;
            // 60 requests a second for 5 seconds: above a 2/s baseline's
            // threshold (20), below a fresh detector's floor (20 × 5).
            for second in 0..5u32 {
                for n in 0..60 {
                    let now = start + i64::from(second) * 1000 + n;
                    let events = feed(&mut detector, &line(second), now);
                    started |= events
                        .iter()
                        .any(|e| matches!(e, Event::Flood(FloodEvent::Started(_))));
                }
            }
            let events = detector.tick(start + 6_000);
            started
                || events
                    .iter()
                    .any(|e| matches!(e, Event::Flood(FloodEvent::Started(_))))
        };
        assert!(floods(true));
        assert!(!floods(false));
    }

    #[test]
    fn new_script_after_upload_is_raised_live_once() {
        // 2026-11-20T10:00:00Z
        let start = 1_795_168_800_000;
        let mut live = LiveDetector::new(&Config::default(), Vec::new(), start).unwrap();
        let line = |time: &str, request: &str| {
            format!(
                r#"203.0.113.66 - - [20/Nov/2026:{time} +0000] "{request} HTTP/1.1" 200 100 "-" "Mozilla/5.0""#
            )
        };
        // During learning: the site's own scripts.
        assert!(
            feed(
                &mut live,
                &line("10:01:00", "GET /index.php"),
                start + 60_000
            )
            .is_empty()
        );
        assert!(
            feed(
                &mut live,
                &line("10:02:00", "GET /member/upload.php"),
                start + 120_000
            )
            .is_empty()
        );
        // After it: an upload, then a script nobody requested before.
        let later = start + 2 * 3_600_000;
        assert!(
            feed(
                &mut live,
                &line("12:00:00", "POST /member/upload.php"),
                later
            )
            .is_empty()
        );
        let events = feed(
            &mut live,
            &line("12:01:30", "GET /static/a7.php"),
            later + 90_000,
        );
        assert!(
            events.iter().any(|e| matches!(e, Event::Attack(a) if a.rule == "webshell-new-script-after-upload" && a.confidence >= 0.9)),
            "{events:?}"
        );
        assert!(
            events.iter().any(|e| matches!(e, Event::Decision(_))),
            "{events:?}"
        );
        // Reported once.
        let again = feed(
            &mut live,
            &line("12:02:00", "GET /static/a7.php"),
            later + 120_000,
        );
        assert!(
            !again.iter().any(
                |e| matches!(e, Event::Attack(a) if a.rule.starts_with("webshell-new-script"))
            ),
            "{again:?}"
        );
    }
}
