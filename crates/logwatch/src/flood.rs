//! Floods: request rates against a learned baseline.
//!
//! The baseline ([`Baseline`]) is robust statistics of requests per second
//! — median and median absolute deviation, so the flood being measured
//! barely moves it — kept per hour of the day (UTC hours: the bucket only
//! has to separate 3 a.m. from noon), with an overall figure for hours
//! with too few samples. A second is over the threshold when its count
//! exceeds all of: the configured floor, `factor` × median, and median +
//! `deviations` × the spread (1.4826 × MAD, at least √median, at least 1).
//!
//! Batch: [`find_floods`] over the merged per-second histogram, and
//! [`find_new_source_surges`] over the minute in which each address was
//! first seen. Live: [`LiveFlood`] counts the current second and raises a
//! flood as soon as that second's count crosses the threshold (so within
//! a second of the start at any real flood rate), and ends it after
//! `quiet_seconds` below. Pure: time is passed in.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::ip::IpKey;
use crate::record::lossy;
use crate::time::rfc3339;

/// Flood detection settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct FloodConfig {
    /// Detect floods at all.
    pub enabled: bool,
    /// No second below this many requests is a flood, whatever the baseline.
    pub min_rps: f64,
    /// A flood second has more than this multiple of the median rate.
    pub factor: f64,
    /// …and more than this many robust deviations above the median.
    pub deviations: f64,
    /// Seconds under the threshold that end a flood.
    pub quiet_seconds: u32,
    /// Seconds over the threshold a flood needs to be reported (batch).
    pub min_seconds: u32,
    /// Per-URL floods (live): floor in requests per second on one path.
    pub url_min_rps: f64,
    /// Per-URL floods (live): multiple of the path's own average rate.
    pub url_factor: f64,
    /// New-source surges: floor of first-seen addresses per minute.
    pub new_sources_min_per_minute: f64,
    /// New-source surges: multiple of the median per minute.
    pub new_sources_factor: f64,
    /// An hour of the day needs this many seconds of history to have its
    /// own baseline; otherwise the overall baseline is used.
    pub min_samples_per_hour: u32,
    /// How many top sources and paths a flood lists.
    pub top: usize,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            enabled: true,
            min_rps: 20.0,
            factor: 5.0,
            deviations: 8.0,
            quiet_seconds: 10,
            min_seconds: 2,
            url_min_rps: 10.0,
            url_factor: 10.0,
            new_sources_min_per_minute: 50.0,
            new_sources_factor: 5.0,
            min_samples_per_hour: 600,
            top: 10,
        }
    }
}

impl FloodConfig {
    /// Every problem with the settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (name, value) in [
            ("flood.min_rps", self.min_rps),
            ("flood.factor", self.factor),
            ("flood.deviations", self.deviations),
            ("flood.url_min_rps", self.url_min_rps),
            ("flood.url_factor", self.url_factor),
            (
                "flood.new_sources_min_per_minute",
                self.new_sources_min_per_minute,
            ),
            ("flood.new_sources_factor", self.new_sources_factor),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                errors.push(format!("{name}: must be a finite number ≥ 0"));
            }
        }
        if self.quiet_seconds == 0 {
            errors.push("flood.quiet_seconds: must be at least 1".into());
        }
        errors
    }
}

/// Median and spread of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateStats {
    /// Median requests per second (or per minute, for new sources).
    pub median: f64,
    /// Median absolute deviation.
    pub mad: f64,
    /// How many seconds (minutes) the figures come from.
    pub samples: u64,
}

impl RateStats {
    /// Robust statistics of a sample; `None` when empty.
    pub fn of(values: &mut [u32]) -> Option<RateStats> {
        if values.is_empty() {
            return None;
        }
        let median = median(values);
        let mut deviations: Vec<u32> = values
            .iter()
            .map(|v| (f64::from(*v) - median).abs().round() as u32)
            .collect();
        let mad = median_of(&mut deviations);
        Some(RateStats {
            median,
            mad,
            samples: values.len() as u64,
        })
    }

    /// The count above which a period is a flood.
    pub fn threshold(&self, floor: f64, factor: f64, deviations: f64) -> f64 {
        let spread = (1.4826 * self.mad).max(self.median.sqrt()).max(1.0);
        floor
            .max(factor * self.median)
            .max(self.median + deviations * spread)
    }
}

fn median(values: &mut [u32]) -> f64 {
    median_of(values)
}

fn median_of(values: &mut [u32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, upper, _) = values.select_nth_unstable(mid);
    let upper = f64::from(*upper);
    if values.len() % 2 == 1 {
        upper
    } else {
        let lower = values[..mid].iter().max().copied().unwrap_or(0);
        (f64::from(lower) + upper) / 2.0
    }
}

/// Requests-per-second baseline by hour of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Baseline {
    /// Index 0–23: UTC hour of day.
    pub hours: Vec<Option<RateStats>>,
    /// Over all hours.
    pub overall: Option<RateStats>,
}

/// Gaps in the histogram longer than this are missing data, not silence.
const MAX_ZERO_FILL_SECONDS: i64 = 300;

fn hour_of(second: i64) -> usize {
    (second.rem_euclid(86_400) / 3600) as usize
}

impl Baseline {
    /// Learns from a per-second histogram sorted by second (seconds with
    /// no request in short gaps count as zero).
    pub fn learn(per_second: &[(i64, u32)], min_samples_per_hour: u32) -> Baseline {
        let mut hours: Vec<Vec<u32>> = vec![Vec::new(); 24];
        let mut previous: Option<i64> = None;
        for &(second, count) in per_second {
            if let Some(previous) = previous {
                let gap = second - previous - 1;
                if gap > 0 && gap <= MAX_ZERO_FILL_SECONDS {
                    for missing in previous + 1..second {
                        hours[hour_of(missing)].push(0);
                    }
                }
            }
            hours[hour_of(second)].push(count);
            previous = Some(second);
        }
        let mut all: Vec<u32> = hours.iter().flatten().copied().collect();
        let overall = RateStats::of(&mut all);
        let hours = hours
            .into_iter()
            .map(|mut values| {
                if values.len() >= min_samples_per_hour as usize {
                    RateStats::of(&mut values)
                } else {
                    None
                }
            })
            .collect();
        Baseline { hours, overall }
    }

    /// The statistics in force at this second.
    pub fn stats_at(&self, second: i64) -> Option<RateStats> {
        self.hours
            .get(hour_of(second))
            .copied()
            .flatten()
            .or(self.overall)
    }

    /// The flood threshold at this second.
    pub fn threshold_at(&self, second: i64, config: &FloodConfig) -> f64 {
        match self.stats_at(second) {
            Some(stats) => stats.threshold(config.min_rps, config.factor, config.deviations),
            None => config.min_rps.max(1.0),
        }
    }
}

/// What kind of flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloodKind {
    /// The whole site's request rate.
    Site,
    /// One URL's request rate.
    Url,
    /// Many addresses never seen before (a botnet arriving).
    NewSources,
}

/// A source of a flood.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloodSource {
    /// The client.
    pub ip: IpKey,
    /// Its requests during the flood.
    pub requests: u64,
    /// Its share of the flood's requests, 0–1.
    pub share: f64,
    /// First seen within a minute before the flood began, or during it.
    pub new: bool,
}

/// A value and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// The value (a path, a user agent), readable.
    pub value: String,
    /// How often.
    pub count: u64,
}

/// A flood, with its DDoS evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flood {
    /// Site rate, URL rate or new-source surge.
    pub kind: FloodKind,
    /// The site (virtual host) when the log records one.
    pub site: String,
    /// The flooded path, for URL floods.
    pub path: Option<String>,
    /// First second over the threshold.
    #[serde(rename = "start", serialize_with = "rfc3339::serialize")]
    pub start_ms: i64,
    /// End of the last second over the threshold.
    #[serde(rename = "end", serialize_with = "rfc3339::serialize")]
    pub end_ms: i64,
    /// Highest requests in one second (new addresses in one minute, for
    /// new-source surges).
    pub peak_rps: u32,
    /// Requests during the flood.
    pub requests: u64,
    /// The baseline's median at the start.
    pub baseline_rps: f64,
    /// The threshold at the start.
    pub threshold_rps: f64,
    /// The biggest sources.
    pub top_sources: Vec<FloodSource>,
    /// Every source with at least 0.5% of the flood's requests (at most
    /// 1,000), for blocking decisions.
    pub heavy_sources: Vec<FloodSource>,
    /// The most requested paths.
    pub top_paths: Vec<Counted>,
    /// Distinct sources.
    pub distinct_sources: u64,
    /// Sources first seen shortly before or during the flood.
    pub new_sources: u64,
    /// Requests per second from start to end (per minute for new-source
    /// surges), at most one hour.
    pub rate_curve: Vec<u32>,
    /// When a live detector raised it.
    #[serde(
        serialize_with = "rfc3339::option::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub detected_at: Option<i64>,
    /// In words.
    pub explanation: String,
}

/// A window over the threshold found in a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodWindow {
    /// First second over the threshold.
    pub start_s: i64,
    /// One past the last second over the threshold.
    pub end_s: i64,
    /// Highest count.
    pub peak: u32,
    /// Sum of counts in the window.
    pub requests: u64,
    /// Seconds over the threshold.
    pub seconds_over: u32,
    /// Baseline median at the start.
    pub baseline: f64,
    /// Threshold at the start.
    pub threshold: f64,
    /// Counts per unit from start to end.
    pub curve: Vec<u32>,
}

/// Finds flood windows in a per-second histogram sorted by second.
pub fn find_floods(
    per_second: &[(i64, u32)],
    baseline: &Baseline,
    config: &FloodConfig,
) -> Vec<FloodWindow> {
    find_windows(
        per_second,
        config.quiet_seconds as i64,
        config.min_seconds,
        |second| {
            (
                baseline.threshold_at(second, config),
                baseline.stats_at(second).map_or(0.0, |s| s.median),
            )
        },
    )
}

/// Windows over a threshold in a series sorted by unit (missing units
/// count as quiet); `threshold` gives (limit, baseline median) per unit.
pub(crate) fn find_windows(
    series: &[(i64, u32)],
    quiet: i64,
    min_over: u32,
    threshold: impl Fn(i64) -> (f64, f64),
) -> Vec<FloodWindow> {
    let mut windows = Vec::new();
    let mut open: Option<(FloodWindow, i64)> = None;
    for &(unit, count) in series {
        if let Some((_, last_over)) = &mut open
            && unit - *last_over > quiet
        {
            let (mut window, last_over) = open.take().expect("open");
            close(&mut window, last_over);
            if window.seconds_over >= min_over {
                windows.push(window);
            }
        }
        let (limit, median) = threshold(unit);
        let over = f64::from(count) > limit;
        match &mut open {
            Some((window, last_over)) => {
                let offset = (unit - window.start_s) as usize;
                if offset < 3600 {
                    window.curve.resize(offset, 0);
                    window.curve.push(count);
                }
                window.requests += u64::from(count);
                if over {
                    *last_over = unit;
                    window.peak = window.peak.max(count);
                    window.seconds_over += 1;
                }
            }
            None if over => {
                open = Some((
                    FloodWindow {
                        start_s: unit,
                        end_s: unit + 1,
                        peak: count,
                        requests: u64::from(count),
                        seconds_over: 1,
                        baseline: median,
                        threshold: limit,
                        curve: vec![count],
                    },
                    unit,
                ));
            }
            None => {}
        }
    }
    if let Some((mut window, last_over)) = open {
        close(&mut window, last_over);
        if window.seconds_over >= min_over {
            windows.push(window);
        }
    }
    windows
}

fn close(window: &mut FloodWindow, last_over: i64) {
    window.end_s = last_over + 1;
    let length = (window.end_s - window.start_s).clamp(0, 3600) as usize;
    // Requests after the last second over the threshold are not the flood's.
    let trailing: u64 = window
        .curve
        .iter()
        .skip(length)
        .map(|c| u64::from(*c))
        .sum();
    window.requests -= trailing;
    window.curve.truncate(length);
}

/// Finds minutes in which unusually many addresses were seen for the
/// first time. `first_seen_minutes` holds each address's first minute
/// (Unix minutes), any order. Each minute is judged against the hour
/// before it (a trailing baseline): at the start of a log everyone is
/// new, and that wave must fade, not count as a surge.
pub fn find_new_source_surges(
    first_seen_minutes: &[i64],
    config: &FloodConfig,
) -> Vec<FloodWindow> {
    const TRAILING: usize = 60;
    const MIN_HISTORY: usize = 10;
    let mut per_minute: HashMap<i64, u32> = HashMap::new();
    for minute in first_seen_minutes {
        *per_minute.entry(*minute).or_default() += 1;
    }
    let mut sparse: Vec<(i64, u32)> = per_minute.into_iter().collect();
    sparse.sort_unstable();
    // Zero-filled series (gaps of more than a day are not filled).
    let mut series: Vec<(i64, u32)> = Vec::with_capacity(sparse.len());
    for (minute, count) in sparse {
        if let Some(&(previous, _)) = series.last()
            && minute - previous <= 1440
        {
            series.extend((previous + 1..minute).map(|m| (m, 0)));
        }
        series.push((minute, count));
    }
    let mut limits: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut window: Vec<u32> = Vec::with_capacity(TRAILING);
    for (i, &(minute, _)) in series.iter().enumerate() {
        let history = &series[i.saturating_sub(TRAILING)..i];
        if history.len() < MIN_HISTORY {
            limits.insert(minute, (f64::INFINITY, 0.0));
            continue;
        }
        window.clear();
        window.extend(history.iter().map(|(_, c)| *c));
        let stats = RateStats::of(&mut window).expect("not empty");
        limits.insert(
            minute,
            (
                stats.threshold(
                    config.new_sources_min_per_minute,
                    config.new_sources_factor,
                    config.deviations,
                ),
                stats.median,
            ),
        );
    }
    find_windows(&series, 2, 1, |minute| {
        limits.get(&minute).copied().unwrap_or((f64::INFINITY, 0.0))
    })
}

/// Ranks a count map, most first, ties by key, at most `top`.
pub fn top_counts<K: Ord + Clone>(
    counts: impl IntoIterator<Item = (K, u64)>,
    top: usize,
) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = counts.into_iter().collect();
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(top);
    all
}

/// Builds a [`Flood`]'s evidence from the counts of its window.
#[allow(clippy::too_many_arguments)]
pub fn describe(
    kind: FloodKind,
    site: &str,
    path: Option<String>,
    window: &FloodWindow,
    unit_ms: i64,
    sources: &HashMap<IpKey, u64>,
    paths: &HashMap<Vec<u8>, u64>,
    is_new: impl Fn(IpKey) -> bool,
    top: usize,
) -> Flood {
    let total: u64 = sources.values().sum::<u64>().max(1);
    let new_sources = sources.keys().filter(|ip| is_new(**ip)).count() as u64;
    let top_sources = top_counts(sources.iter().map(|(ip, n)| (*ip, *n)), top)
        .into_iter()
        .map(|(ip, requests)| FloodSource {
            ip,
            requests,
            share: requests as f64 / total as f64,
            new: is_new(ip),
        })
        .collect::<Vec<_>>();
    let heavy_sources = top_counts(
        sources
            .iter()
            .filter(|(_, n)| **n as f64 / total as f64 >= 0.005)
            .map(|(ip, n)| (*ip, *n)),
        1_000,
    )
    .into_iter()
    .map(|(ip, requests)| FloodSource {
        ip,
        requests,
        share: requests as f64 / total as f64,
        new: is_new(ip),
    })
    .collect::<Vec<_>>();
    let top_paths = top_counts(paths.iter().map(|(p, n)| (p.clone(), *n)), top)
        .into_iter()
        .map(|(p, count)| Counted {
            value: lossy(&p),
            count,
        })
        .collect::<Vec<_>>();
    let duration_s = (window.end_s - window.start_s) * unit_ms / 1000;
    let explanation = match kind {
        FloodKind::NewSources => format!(
            "{} addresses seen for the first time in {} min (peak {} in one minute; usual {:.0}/min, threshold {:.0})",
            window.requests,
            duration_s / 60,
            window.peak,
            window.baseline,
            window.threshold
        ),
        _ => format!(
            "{}{} requests in {} s, peak {}/s against a usual {:.1}/s (threshold {:.0}/s); {} sources, {} of them new{}",
            path.as_deref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            window.requests,
            duration_s,
            window.peak,
            window.baseline,
            window.threshold,
            sources.len(),
            new_sources,
            top_sources
                .first()
                .map(|s| format!("; the top source {} sent {:.1}%", s.ip, s.share * 100.0))
                .unwrap_or_default()
        ),
    };
    Flood {
        kind,
        site: site.to_string(),
        path,
        start_ms: window.start_s * unit_ms,
        end_ms: window.end_s * unit_ms,
        peak_rps: window.peak,
        requests: window.requests,
        baseline_rps: window.baseline,
        threshold_rps: window.threshold,
        top_sources,
        heavy_sources,
        top_paths,
        distinct_sources: sources.len() as u64,
        new_sources,
        rate_curve: window.curve.clone(),
        detected_at: None,
        explanation,
    }
}

/// What the live flood detector reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum FloodEvent {
    /// A flood began (evidence so far).
    Started(Flood),
    /// A flood ended (full evidence).
    Ended(Flood),
}

impl FloodEvent {
    /// The flood, whichever the phase.
    pub fn flood(&self) -> &Flood {
        match self {
            FloodEvent::Started(flood) | FloodEvent::Ended(flood) => flood,
        }
    }
}

/// Seconds of recent history the live detector keeps for its own
/// baseline when none was learned from the log's past.
pub const ONLINE_HISTORY_SECONDS: usize = 3600;
/// Sources kept as "known" for the new-source count.
const MAX_KNOWN_SOURCES: usize = 2_000_000;
/// Seconds of history before URL rates are trusted.
const URL_WARM_UP_SECONDS: usize = 300;
/// URL rate baselines kept.
const MAX_URL_BASELINES: usize = 50_000;

#[derive(Debug, Clone)]
struct ActiveFlood {
    window: FloodWindow,
    last_over: i64,
    sources: HashMap<IpKey, u64>,
    paths: HashMap<Vec<u8>, u64>,
    new_sources: HashSet<IpKey>,
    detected_at: i64,
    path: Option<Vec<u8>>,
}

/// Live flood detection for one site: call [`LiveFlood::observe`] for each
/// request and [`LiveFlood::tick`] about every 200 ms.
#[derive(Debug, Clone)]
pub struct LiveFlood {
    config: FloodConfig,
    site: String,
    baseline: Option<Baseline>,
    online: VecDeque<u32>,
    online_stats: Option<RateStats>,
    online_updated: i64,
    second: i64,
    count: u32,
    second_sources: HashMap<IpKey, u64>,
    second_paths: HashMap<Vec<u8>, u64>,
    /// Sources first seen in the current second.
    second_new: HashSet<IpKey>,
    known: HashSet<IpKey>,
    active: Option<ActiveFlood>,
    url_second: HashMap<Vec<u8>, u32>,
    url_rates: HashMap<Vec<u8>, (f64, i64)>,
    url_active: HashMap<Vec<u8>, ActiveFlood>,
}

impl LiveFlood {
    /// A detector; `baseline` from the log's history if there is one.
    pub fn new(config: FloodConfig, site: impl Into<String>, baseline: Option<Baseline>) -> Self {
        LiveFlood {
            config,
            site: site.into(),
            baseline,
            online: VecDeque::new(),
            online_stats: None,
            online_updated: i64::MIN,
            second: i64::MIN,
            count: 0,
            second_sources: HashMap::new(),
            second_paths: HashMap::new(),
            second_new: HashSet::new(),
            known: HashSet::new(),
            active: None,
            url_second: HashMap::new(),
            url_rates: HashMap::new(),
            url_active: HashMap::new(),
        }
    }

    /// The quiet seconds' request counts the online baseline learns from,
    /// oldest first (for [`LiveFlood::resume_online`] after a restart).
    pub fn online_history(&self) -> Vec<u32> {
        self.online.iter().copied().collect()
    }

    /// Takes up an online history saved before a restart, so the baseline
    /// is there at once instead of after a minute of traffic (and a flood
    /// in that minute is not measured against the bare floor).
    pub fn resume_online(&mut self, history: Vec<u32>, now_ms: i64) {
        let skip = history.len().saturating_sub(ONLINE_HISTORY_SECONDS);
        self.online = history.into_iter().skip(skip).collect();
        if self.online.len() >= 60 {
            let mut values: Vec<u32> = self.online.iter().copied().collect();
            self.online_stats = RateStats::of(&mut values);
            self.online_updated = now_ms;
        }
    }

    fn threshold(&self, second: i64) -> (f64, f64) {
        let learned = self.baseline.as_ref().and_then(|b| b.stats_at(second));
        match learned.or(self.online_stats) {
            Some(stats) => (
                stats.threshold(
                    self.config.min_rps,
                    self.config.factor,
                    self.config.deviations,
                ),
                stats.median,
            ),
            // Nothing learned yet (the first minute without a baseline
            // from history): only a rate far above the floor is a flood.
            None => ((self.config.min_rps * self.config.factor).max(1.0), 0.0),
        }
    }

    /// Counts one request at `time_ms` (its log time); `now_ms` is the
    /// clock. Returns events raised by it.
    pub fn observe(
        &mut self,
        ip: IpKey,
        path: &[u8],
        time_ms: i64,
        now_ms: i64,
    ) -> Vec<FloodEvent> {
        let mut events = Vec::new();
        if !self.config.enabled {
            return events;
        }
        let second = time_ms.div_euclid(1000);
        if second > self.second {
            self.close_second(now_ms, &mut events);
            self.second = second;
        } else if second < self.second {
            // A late line (or a clock that jumped back): count it in the
            // current second rather than rewrite history.
        }
        self.count += 1;
        *self.second_sources.entry(ip).or_default() += 1;
        *self.second_paths.entry(path.to_vec()).or_default() += 1;
        *self.url_second.entry(path.to_vec()).or_default() += 1;
        let new = !self.known.contains(&ip);
        if new {
            self.second_new.insert(ip);
        }
        if let Some(active) = &mut self.active {
            *active.sources.entry(ip).or_default() += 1;
            *active.paths.entry(path.to_vec()).or_default() += 1;
            if new {
                active.new_sources.insert(ip);
            }
        }
        if let Some(active) = self.url_active.get_mut(path) {
            *active.sources.entry(ip).or_default() += 1;
        }
        if self.known.len() >= MAX_KNOWN_SOURCES {
            self.known.clear();
        }
        self.known.insert(ip);
        // Raise as soon as the open second crosses the threshold.
        if self.active.is_none() {
            let (limit, median) = self.threshold(self.second);
            if f64::from(self.count) > limit {
                let flood = self.start(self.second, limit, median, now_ms, None);
                events.push(FloodEvent::Started(flood));
            }
        }
        let url_count = self.url_second.get(path).copied().unwrap_or(0);
        if self.online.len() >= URL_WARM_UP_SECONDS
            && !self.url_active.contains_key(path)
            && f64::from(url_count) > self.config.url_min_rps
        {
            let rate = self.url_rate(path, self.second);
            let limit = self.config.url_min_rps.max(self.config.url_factor * rate);
            if f64::from(url_count) > limit {
                let flood = self.start(self.second, limit, rate, now_ms, Some(path.to_vec()));
                events.push(FloodEvent::Started(flood));
            }
        }
        events
    }

    /// Closes seconds the clock has left behind and ends floods that have
    /// been quiet long enough.
    pub fn tick(&mut self, now_ms: i64) -> Vec<FloodEvent> {
        let mut events = Vec::new();
        // Lines arrive up to ~0.5 s after their second ends.
        if self.second != i64::MIN
            && now_ms.div_euclid(1000) > self.second
            && now_ms - (self.second + 1) * 1000 >= 500
        {
            self.close_second(now_ms, &mut events);
            self.second = now_ms.div_euclid(1000);
        }
        events
    }

    fn url_rate(&self, path: &[u8], second: i64) -> f64 {
        match self.url_rates.get(path) {
            Some((rate, at)) => rate * decay(second - at),
            None => 0.0,
        }
    }

    fn start(
        &mut self,
        second: i64,
        limit: f64,
        median: f64,
        now_ms: i64,
        path: Option<Vec<u8>>,
    ) -> Flood {
        let (sources, paths, count) = match &path {
            None => (
                self.second_sources.clone(),
                self.second_paths.clone(),
                self.count,
            ),
            Some(p) => {
                let count = self.url_second.get(p).copied().unwrap_or(0);
                let mut paths = HashMap::new();
                paths.insert(p.clone(), u64::from(count));
                (HashMap::new(), paths, count)
            }
        };
        let active = ActiveFlood {
            window: FloodWindow {
                start_s: second,
                end_s: second + 1,
                peak: count,
                requests: 0,
                seconds_over: 1,
                baseline: median,
                threshold: limit,
                curve: Vec::new(),
            },
            last_over: second,
            new_sources: if path.is_none() {
                self.second_new.clone()
            } else {
                HashSet::new()
            },
            sources,
            paths,
            detected_at: now_ms,
            path: path.clone(),
        };
        let flood = self.describe_active(&active, count);
        match path {
            None => self.active = Some(active),
            Some(p) => {
                self.url_active.insert(p, active);
            }
        }
        flood
    }

    fn describe_active(&self, active: &ActiveFlood, open_count: u32) -> Flood {
        let mut window = active.window.clone();
        if window.curve.is_empty() {
            window.curve.push(open_count);
            window.requests = u64::from(open_count);
        }
        let kind = if active.path.is_some() {
            FloodKind::Url
        } else {
            FloodKind::Site
        };
        let mut flood = describe(
            kind,
            &self.site,
            active.path.as_deref().map(lossy),
            &window,
            1000,
            &active.sources,
            &active.paths,
            |ip| active.new_sources.contains(&ip),
            self.config.top,
        );
        flood.new_sources = active.new_sources.len() as u64;
        flood.detected_at = Some(active.detected_at);
        flood
    }

    fn close_second(&mut self, now_ms: i64, events: &mut Vec<FloodEvent>) {
        if self.second == i64::MIN {
            return;
        }
        let second = self.second;
        let count = self.count;
        let (limit, median) = self.threshold(second);
        let over = f64::from(count) > limit;
        // Site flood bookkeeping.
        if let Some(mut active) = self.active.take() {
            update_window(&mut active, second, count, over);
            if second - active.last_over >= i64::from(self.config.quiet_seconds) {
                close(&mut active.window, active.last_over);
                let mut flood = self.describe_active(&active, count);
                flood.end_ms = active.window.end_s * 1000;
                events.push(FloodEvent::Ended(flood));
            } else {
                self.active = Some(active);
            }
        } else if over {
            let flood = self.start(second, limit, median, now_ms, None);
            events.push(FloodEvent::Started(flood));
            if let Some(active) = &mut self.active {
                active.window.curve = vec![count];
                active.window.requests = u64::from(count);
            }
        }
        if self.active.is_none() {
            // Only quiet seconds teach the online baseline.
            self.online.push_back(count);
            if self.online.len() > ONLINE_HISTORY_SECONDS {
                self.online.pop_front();
            }
            if self.online.len() >= 60 && now_ms >= self.online_updated.saturating_add(60_000) {
                let mut values: Vec<u32> = self.online.iter().copied().collect();
                self.online_stats = RateStats::of(&mut values);
                self.online_updated = now_ms;
            }
        }
        // URL floods.
        let url_second = std::mem::take(&mut self.url_second);
        let mut ended = Vec::new();
        for (path, active) in self.url_active.iter_mut() {
            let count = url_second.get(path).copied().unwrap_or(0);
            let over = f64::from(count) > active.window.threshold;
            update_window(active, second, count, over);
            if second - active.last_over >= i64::from(self.config.quiet_seconds) {
                ended.push(path.clone());
            }
        }
        for path in ended {
            if let Some(mut active) = self.url_active.remove(&path) {
                close(&mut active.window, active.last_over);
                let flood = self.describe_active(&active, 0);
                events.push(FloodEvent::Ended(flood));
            }
        }
        for (path, count) in url_second {
            if self.url_active.contains_key(&path) {
                continue;
            }
            let previous = self.url_rate(&path, second);
            let alpha = 1.0 - decay(1);
            self.url_rates.insert(
                path,
                (previous + alpha * (f64::from(count) - previous), second),
            );
        }
        if self.url_rates.len() > MAX_URL_BASELINES {
            let mut rates: Vec<f64> = self.url_rates.values().map(|(r, _)| *r).collect();
            let cut = rates.len() / 2;
            let (_, pivot, _) = rates.select_nth_unstable_by(cut, |a, b| a.total_cmp(b));
            let pivot = *pivot;
            self.url_rates.retain(|_, (r, _)| *r > pivot);
        }
        self.count = 0;
        self.second_sources.clear();
        self.second_paths.clear();
        self.second_new.clear();
    }

    /// The flood in progress, if any.
    pub fn active(&self) -> Option<Flood> {
        self.active
            .as_ref()
            .map(|a| self.describe_active(a, self.count))
    }
}

fn update_window(active: &mut ActiveFlood, second: i64, count: u32, over: bool) {
    let offset = (second - active.window.start_s).max(0) as usize;
    if offset < 3600 {
        active.window.curve.resize(offset, 0);
        active.window.curve.push(count);
    }
    active.window.requests += u64::from(count);
    if over {
        active.last_over = second;
        active.window.peak = active.window.peak.max(count);
        active.window.seconds_over += 1;
    }
}

/// Exponential decay over `seconds` with a five-minute time constant.
fn decay(seconds: i64) -> f64 {
    (-(seconds.max(0) as f64) / 300.0).exp()
}

#[cfg(test)]
mod tests;
