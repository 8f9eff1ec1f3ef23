//! Rate-based scenarios in the manner of CrowdSec's leaky buckets: each
//! (scenario, client) pair has a bucket that fills by one per matching
//! request (per *distinct* key, e.g. path, when the scenario says so) and
//! leaks at a fixed rate; a bucket that overflows its capacity is a hit,
//! after which the pair is quiet for the scenario's blackhole period.
//!
//! Pure: time comes from the events. Used by the batch analysis (over the
//! events of the whole log, sorted by time) and by the live detector.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::detect::AttackClass;
use crate::ip::IpKey;
use crate::record::Record;

/// Which requests fill a scenario's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioFilter {
    /// Responses 404 (not found) and 410.
    NotFound,
    /// Responses 403.
    Forbidden,
    /// Responses 5xx.
    ServerError,
    /// POST requests to a login-like path (`login`, `signin`, `wp-login.php`,
    /// `xmlrpc.php`, `j_security_check`, `/admin`…).
    LoginPost,
    /// Login POSTs that did not succeed with a redirect (status 200, 401, 403).
    LoginFailure,
    /// Every request.
    AnyRequest,
}

/// What counts as "the same" event for a distinct scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Distinct {
    /// The path (without query).
    Path,
    /// The user agent.
    UserAgent,
}

/// One scenario, as the plan configures it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ScenarioConfig {
    /// Name, reported as rule `scenario:NAME`.
    pub name: String,
    /// Which requests fill the bucket.
    pub filter: ScenarioFilter,
    /// Count each distinct key once (CrowdSec's `distinct`).
    #[serde(default)]
    pub distinct: Option<Distinct>,
    /// How many events the bucket holds; one more overflows it.
    pub capacity: u32,
    /// How many events leak out per second.
    pub leak_per_second: f64,
    /// The class of the resulting attack.
    pub class: AttackClass,
    /// Confidence of an overflow, 0–1.
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// After an overflow, the same client cannot overflow this scenario
    /// again for this many seconds.
    #[serde(default = "default_blackhole")]
    pub blackhole_seconds: u32,
}

fn default_confidence() -> f32 {
    0.9
}

fn default_blackhole() -> u32 {
    300
}

/// The built-in scenarios: distinct 404s (a scanner walking a word list)
/// and login brute force.
pub fn default_scenarios() -> Vec<ScenarioConfig> {
    vec![
        ScenarioConfig {
            name: "http-probing".into(),
            filter: ScenarioFilter::NotFound,
            distinct: Some(Distinct::Path),
            capacity: 15,
            leak_per_second: 0.1,
            class: AttackClass::Scanner,
            confidence: 0.85,
            blackhole_seconds: 300,
        },
        ScenarioConfig {
            name: "http-login-bruteforce".into(),
            filter: ScenarioFilter::LoginFailure,
            distinct: None,
            capacity: 8,
            leak_per_second: 0.1,
            class: AttackClass::BruteForce,
            confidence: 0.9,
            blackhole_seconds: 300,
        },
    ]
}

/// Checks a scenario list; every problem with its index.
pub fn validate_scenarios(scenarios: &[ScenarioConfig]) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        if s.name.is_empty() {
            errors.push(format!("scenarios[{i}].name: empty"));
        }
        if s.capacity == 0 {
            errors.push(format!("scenarios[{i}].capacity: must be at least 1"));
        }
        if !(s.leak_per_second.is_finite() && s.leak_per_second >= 0.0) {
            errors.push(format!(
                "scenarios[{i}].leak_per_second: must be a finite number ≥ 0"
            ));
        }
        if !(0.0..=1.0).contains(&s.confidence) {
            errors.push(format!(
                "scenarios[{i}].confidence: must be between 0 and 1"
            ));
        }
        if scenarios[..i].iter().any(|other| other.name == s.name) {
            errors.push(format!("scenarios[{i}].name: {:?} is used twice", s.name));
        }
    }
    errors
}

/// True for a path that looks like a login endpoint.
pub fn is_login_path(path: &[u8]) -> bool {
    const NEEDLES: &[&[u8]] = &[
        b"login",
        b"logon",
        b"signin",
        b"sign_in",
        b"sign-in",
        b"wp-login.php",
        b"xmlrpc.php",
        b"j_security_check",
        b"auth",
        b"passport",
    ];
    let lower = path.to_ascii_lowercase();
    NEEDLES
        .iter()
        .any(|n| memchr::memmem::find(&lower, n).is_some())
        || lower.ends_with(b"/admin")
        || lower.ends_with(b"/admin/")
}

/// True when the record fills buckets of this filter.
pub fn matches_filter(filter: ScenarioFilter, record: &Record<'_>) -> bool {
    match filter {
        ScenarioFilter::NotFound => matches!(record.status, 404 | 410),
        ScenarioFilter::Forbidden => record.status == 403,
        ScenarioFilter::ServerError => (500..600).contains(&record.status),
        ScenarioFilter::LoginPost => {
            record.method.eq_ignore_ascii_case(b"POST") && is_login_path(record.path())
        }
        ScenarioFilter::LoginFailure => {
            record.method.eq_ignore_ascii_case(b"POST")
                && matches!(record.status, 200 | 401 | 403 | 429)
                && is_login_path(record.path())
        }
        ScenarioFilter::AnyRequest => true,
    }
}

/// One event for a scenario: which scenario, who, when, the distinct key
/// (a hash) and the request for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEvent {
    /// Index of the scenario in the configuration.
    pub scenario: usize,
    /// The client.
    pub ip: IpKey,
    /// When (Unix milliseconds).
    pub time_ms: i64,
    /// Hash of the distinct key (0 when the scenario is not distinct).
    pub key: u64,
    /// The request line, for the report.
    pub request: Box<str>,
}

/// A bucket that overflowed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioHit {
    /// Scenario name.
    pub scenario: String,
    /// Index in the configuration.
    #[serde(skip)]
    pub index: usize,
    /// The client.
    pub ip: IpKey,
    /// The event that overflowed the bucket (Unix milliseconds).
    pub time_ms: i64,
    /// When the bucket's current fill began (its oldest event still in it).
    pub since_ms: i64,
    /// Events counted in the bucket at overflow.
    pub events: u32,
    /// The overflowing request.
    pub request: String,
}

#[derive(Debug, Clone)]
struct Bucket {
    level: f64,
    updated_ms: i64,
    since_ms: i64,
    seen: Vec<u64>,
    quiet_until_ms: i64,
}

/// Scenario state for every (scenario, client) pair.
#[derive(Debug, Clone)]
pub struct Buckets {
    scenarios: Vec<ScenarioConfig>,
    buckets: HashMap<(usize, IpKey), Bucket, foldhash::fast::RandomState>,
    sweep_at: usize,
}

/// Above this many live buckets, idle ones are swept.
const SWEEP_THRESHOLD: usize = 100_000;

impl Buckets {
    /// Empty buckets for these scenarios.
    pub fn new(scenarios: Vec<ScenarioConfig>) -> Self {
        Buckets {
            scenarios,
            buckets: HashMap::default(),
            sweep_at: SWEEP_THRESHOLD,
        }
    }

    /// The scenarios.
    pub fn scenarios(&self) -> &[ScenarioConfig] {
        &self.scenarios
    }

    /// The events this record makes, one per matching scenario.
    pub fn events_for(
        scenarios: &[ScenarioConfig],
        record: &Record<'_>,
        out: &mut Vec<ScenarioEvent>,
    ) {
        for (index, scenario) in scenarios.iter().enumerate() {
            if !matches_filter(scenario.filter, record) {
                continue;
            }
            let key = match scenario.distinct {
                Some(Distinct::Path) => hash_bytes(record.path()),
                Some(Distinct::UserAgent) => hash_bytes(record.user_agent),
                None => 0,
            };
            out.push(ScenarioEvent {
                scenario: index,
                ip: record.ip,
                time_ms: record.time_ms.unwrap_or(0),
                key,
                request: record.request_line().into_boxed_str(),
            });
        }
    }

    /// Pours one event into its bucket; returns the hit if it overflowed.
    /// Events should come in time order; one from the past leaks nothing.
    pub fn pour(&mut self, event: &ScenarioEvent) -> Option<ScenarioHit> {
        let scenario = &self.scenarios[event.scenario];
        let bucket = self
            .buckets
            .entry((event.scenario, event.ip))
            .or_insert(Bucket {
                level: 0.0,
                updated_ms: event.time_ms,
                since_ms: event.time_ms,
                seen: Vec::new(),
                quiet_until_ms: i64::MIN,
            });
        let elapsed = (event.time_ms - bucket.updated_ms).max(0) as f64 / 1000.0;
        bucket.level = (bucket.level - elapsed * scenario.leak_per_second).max(0.0);
        bucket.updated_ms = bucket.updated_ms.max(event.time_ms);
        if bucket.level == 0.0 {
            bucket.seen.clear();
            bucket.since_ms = event.time_ms;
        }
        if event.time_ms < bucket.quiet_until_ms {
            return None;
        }
        if scenario.distinct.is_some() {
            if bucket.seen.contains(&event.key) {
                return None;
            }
            // Bounded: a distinct set never holds more than the capacity
            // needs to overflow.
            if bucket.seen.len() <= scenario.capacity as usize * 2 {
                bucket.seen.push(event.key);
            }
        }
        bucket.level += 1.0;
        if bucket.level > f64::from(scenario.capacity) {
            let hit = ScenarioHit {
                scenario: scenario.name.clone(),
                index: event.scenario,
                ip: event.ip,
                time_ms: event.time_ms,
                since_ms: bucket.since_ms,
                events: bucket.level.round() as u32,
                request: event.request.to_string(),
            };
            bucket.level = 0.0;
            bucket.seen.clear();
            bucket.quiet_until_ms = event.time_ms + i64::from(scenario.blackhole_seconds) * 1000;
            self.maybe_sweep(event.time_ms);
            return Some(hit);
        }
        self.maybe_sweep(event.time_ms);
        None
    }

    fn maybe_sweep(&mut self, now_ms: i64) {
        if self.buckets.len() < self.sweep_at {
            return;
        }
        let scenarios = &self.scenarios;
        self.buckets.retain(|(index, _), bucket| {
            let elapsed = (now_ms - bucket.updated_ms).max(0) as f64 / 1000.0;
            let level = bucket.level - elapsed * scenarios[*index].leak_per_second;
            level > 0.0 || bucket.quiet_until_ms > now_ms
        });
        self.sweep_at = (self.buckets.len() * 2).max(SWEEP_THRESHOLD);
    }
}

/// A fast seeded-free hash for keys that only need to be told apart
/// within one bucket (FNV-1a, 64-bit).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(scenario: usize, ip: &str, seconds: i64, key: u64) -> ScenarioEvent {
        ScenarioEvent {
            scenario,
            ip: IpKey::parse(ip.as_bytes()).unwrap(),
            time_ms: seconds * 1000,
            key,
            request: "GET /x HTTP/1.1".into(),
        }
    }

    #[test]
    fn distinct_404s_overflow_once_then_blackhole() {
        let mut buckets = Buckets::new(default_scenarios());
        let mut hits = Vec::new();
        for i in 0..40 {
            hits.extend(buckets.pour(&event(0, "203.0.113.9", i / 4, i as u64)));
        }
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].events, 16);
        assert_eq!(hits[0].scenario, "http-probing");
    }

    #[test]
    fn the_same_404_many_times_is_not_probing() {
        let mut buckets = Buckets::new(default_scenarios());
        for i in 0..100 {
            assert!(buckets.pour(&event(0, "203.0.113.9", i, 7)).is_none());
        }
    }

    #[test]
    fn slow_events_leak_away() {
        let mut buckets = Buckets::new(default_scenarios());
        // One failed login every 15 s leaks faster (0.1/s) than it fills.
        for i in 0..100 {
            assert!(buckets.pour(&event(1, "198.51.100.4", i * 15, 0)).is_none());
        }
        // Nine in nine seconds overflow a capacity of 8.
        let hits: Vec<_> = (0..9)
            .filter_map(|i| buckets.pour(&event(1, "198.51.100.5", 5000 + i, 0)))
            .collect();
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn login_paths() {
        for path in [
            "/wp-login.php",
            "/user/login",
            "/Admin",
            "/api/auth/token",
            "/xmlrpc.php",
        ] {
            assert!(is_login_path(path.as_bytes()), "{path}");
        }
        for path in ["/", "/news/list.html", "/administration-notices.html"] {
            assert!(!is_login_path(path.as_bytes()), "{path}");
        }
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut bad = default_scenarios();
        bad[0].capacity = 0;
        bad[1].name = bad[0].name.clone();
        bad[1].leak_per_second = f64::NAN;
        assert_eq!(validate_scenarios(&bad).len(), 3);
    }
}
