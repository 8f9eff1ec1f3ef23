//! Batch analysis: every core on the files' chunks, per-thread tallies
//! merged at the end, then the decisions that need the whole picture.
//!
//! Pass 1 (parallel): parse, detect attacks, count (statuses, clients,
//! paths, agents, requests per second per site), collect the rare events
//! that need order (scenario events, upload POSTs, script paths) and an
//! index of each chunk's time span. Then, on the merged tallies: the
//! baseline and the floods, scenarios replayed in time order, new scripts
//! judged, decisions. Pass 2 (parallel, only when there are floods):
//! re-reads just the chunks whose time span overlaps a flood, for its top
//! sources and paths.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use crate::config::{Config, Resolved};
use crate::decision::{AttackTally, decide};
use crate::detect::{Attack, AttackClass, Detector, Hit};
use crate::error::Result;
use crate::flood::{
    Baseline, Counted, Flood, FloodKind, FloodWindow, describe, find_floods,
    find_new_source_surges, find_windows, top_counts,
};
use crate::format::{LogFormat, Parsed, Parser, detect_format};
use crate::ip::IpKey;
use crate::reader::{
    Chunk, MAX_LINE, Progress, Range, ReadOutcome, Worker, pipeline, read_file, read_head,
};
use crate::record::{Record, lossy};
use crate::report::{
    BadLine, ClassSummary, ClockReport, FileSummary, MinuteCount, Report, SiteBaseline, StatusMix,
    TopIp,
};
use crate::scenario::{Buckets, ScenarioEvent};
use crate::shell::{ScriptSeen, Upload, is_script_path, is_upload, judge};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Path hashes that every thread computes alike (per-URL rates are
/// merged by hash).
const PATH_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x10c5_a7c4);

/// Distinct paths or agents kept before the rarest are pruned.
const MAX_DISTINCT_VALUES: usize = 400_000;

/// Analyses log files with every core; `progress` is called as the files
/// are read (from the calling thread).
pub fn analyze<P: AsRef<Path>>(
    paths: &[P],
    config: &Config,
    mut progress: impl FnMut(&Progress),
) -> Result<Report> {
    let resolved = config.resolve()?;
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    let mut formats = Vec::new();
    let mut parsers = Vec::new();
    for path in &paths {
        let format = match &config.format {
            LogFormat::Auto => detect_format(&read_head(path, 64 * 1024)?),
            other => other.clone(),
        };
        parsers.push(
            format
                .compile()
                .map_err(|e| crate::error::LogwatchError::Config(vec![e]))?,
        );
        formats.push(format);
    }
    let sizes: Vec<u64> = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .collect();
    let bytes_total: u64 = sizes.iter().sum();
    let threads = config
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut outcomes: Vec<ReadOutcome> = Vec::new();
    let workers = pipeline(
        threads,
        || Pass1::new(&resolved, &parsers),
        |take, send| {
            let mut done_before = 0;
            for (index, path) in paths.iter().enumerate() {
                let track = parsers[index].has_directives();
                let outcome = read_file(path, index, None, track, take, send, &mut |file_done| {
                    progress(&Progress {
                        file: index,
                        file_bytes_done: file_done,
                        file_bytes_total: sizes[index],
                        bytes_done: done_before + file_done.min(sizes[index]),
                        bytes_total,
                    })
                })?;
                done_before += sizes[index];
                outcomes.push(outcome);
            }
            Ok(())
        },
    )?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut merged = merge(workers);
    let (windows, plan) = flood_windows(&merged, &resolved.config);
    let evidence = if windows.is_empty() {
        Vec::new()
    } else {
        let bounds = bounds(&merged, &windows, &plan);
        let ranges: Vec<Option<Vec<Range>>> = (0..paths.len())
            .map(|i| ranges_for(&merged, i, &bounds, outcomes[i].gzip))
            .collect();
        let pass2 = pipeline(
            threads,
            || Pass2::new(&parsers, &bounds),
            |take, send| {
                for (index, path) in paths.iter().enumerate() {
                    if let Some(ranges) = &ranges[index] {
                        if ranges.is_empty() {
                            continue;
                        }
                        let track = parsers[index].has_directives();
                        let selected = if outcomes[index].gzip {
                            None
                        } else {
                            Some(&ranges[..])
                        };
                        read_file(path, index, selected, track, take, send, &mut |_| {})?;
                    }
                }
                Ok(())
            },
        )?;
        merge_pass2(pass2, windows.len())
    };
    Ok(finish(
        &resolved,
        &mut merged,
        &names,
        &formats,
        &outcomes,
        windows,
        plan,
        evidence,
    ))
}

/// Analyses one log held in memory (tests, fuzzing, small uploads).
pub fn analyze_bytes(name: &str, data: &[u8], config: &Config) -> Result<Report> {
    analyze_bytes_resolved(name, data, &config.resolve()?)
}

/// [`analyze_bytes`] with a configuration resolved once (compiling the
/// rules takes milliseconds; a caller analysing many small logs keeps it).
pub fn analyze_bytes_resolved(name: &str, data: &[u8], resolved: &Resolved) -> Result<Report> {
    let config = &resolved.config;
    let format = match &config.format {
        LogFormat::Auto => detect_format(&data[..data.len().min(64 * 1024)]),
        other => other.clone(),
    };
    let parsers = vec![
        format
            .compile()
            .map_err(|e| crate::error::LogwatchError::Config(vec![e]))?,
    ];
    let mut worker = Pass1::new(resolved, &parsers);
    let mut outcome = ReadOutcome::default();
    let mut offset = 0u64;
    let mut directive = None;
    // The same chunking as files, in-process.
    let mut rest = data;
    while !rest.is_empty() {
        let cut = if rest.len() <= crate::reader::CHUNK_SIZE {
            rest.len()
        } else {
            memchr::memrchr(b'\n', &rest[..crate::reader::CHUNK_SIZE]).map_or(rest.len(), |i| i + 1)
        };
        let chunk = Chunk {
            file: 0,
            offset,
            data: rest[..cut].to_vec(),
            directive: directive.clone(),
        };
        if parsers[0].has_directives() {
            for line in rest[..cut].split(|b| *b == b'\n') {
                if line.starts_with(b"#Fields:") {
                    directive = Some(std::sync::Arc::from(line));
                }
            }
        }
        worker.process(&chunk);
        offset += cut as u64;
        rest = &rest[cut..];
    }
    outcome.bytes = data.len() as u64;
    let mut merged = merge(vec![worker]);
    let (windows, plan) = flood_windows(&merged, &resolved.config);
    let evidence = if windows.is_empty() {
        Vec::new()
    } else {
        let mut pass2 = Pass2::new(&parsers, &bounds(&merged, &windows, &plan));
        pass2.process(&Chunk {
            file: 0,
            offset: 0,
            data: data.to_vec(),
            directive: None,
        });
        merge_pass2(vec![pass2], windows.len())
    };
    Ok(finish(
        resolved,
        &mut merged,
        &[name.to_string()],
        &[format],
        &[outcome],
        windows,
        plan,
        evidence,
    ))
}

#[derive(Debug, Clone, Copy, Default)]
struct IpStats {
    requests: u64,
    bytes: u64,
    first_ms: i64,
    last_ms: i64,
}

/// A chunk's place and time span, for pass 2.
#[derive(Debug, Clone, Copy)]
struct Span {
    file: usize,
    offset: u64,
    len: u64,
    min_ms: i64,
    max_ms: i64,
}

/// Everything pass 1 counts; one per worker, merged.
#[derive(Default)]
struct Tally {
    lines: u64,
    bad_lines: u64,
    requests: u64,
    bad_samples: Vec<(usize, u64, &'static str, Vec<u8>)>,
    status: Vec<u64>,
    ips: FastMap<IpKey, IpStats>,
    paths: FastMap<Box<[u8]>, u64>,
    agents: FastMap<Box<[u8]>, u64>,
    pruned: bool,
    hosts: Vec<Box<[u8]>>,
    host_index: FastMap<Box<[u8]>, u32>,
    seconds: FastMap<(u32, i64), u32>,
    attacks: Vec<Attack>,
    attack_total: u64,
    class_counts: [u64; 9],
    class_ips: Vec<HashSet<IpKey>>,
    examples: Vec<Vec<Attack>>,
    tallies: FastMap<IpKey, AttackTally>,
    scenario_events: Vec<ScenarioEvent>,
    /// (path hash, second, requests) for seconds in which one path had
    /// at least half the per-URL flood floor.
    url_hot: Vec<(u64, i64, u32)>,
    scripts: FastMap<Box<[u8]>, ScriptSeen>,
    uploads: Vec<Upload>,
    spans: Vec<Span>,
    no_time: u64,
    backward_jumps: u64,
    largest_jump_ms: i64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

struct Pass1<'a> {
    resolved: &'a Resolved,
    parsers: &'a [Parser],
    detector: Detector,
    hits: Vec<Hit>,
    tally: Tally,
    current_second: (u32, i64),
    current_count: u32,
    last_host: Vec<u8>,
    last_host_index: u32,
    path_floor: u64,
    agent_floor: u64,
    url_second: i64,
    url_counts: FastMap<u64, u32>,
    url_hot_min: u32,
}

fn class_index(class: AttackClass) -> usize {
    AttackClass::ALL
        .iter()
        .position(|c| *c == class)
        .unwrap_or(0)
}

impl<'a> Pass1<'a> {
    fn new(resolved: &'a Resolved, parsers: &'a [Parser]) -> Self {
        let mut tally = Tally {
            status: vec![0; 1000],
            class_ips: vec![HashSet::new(); 9],
            examples: vec![Vec::new(); 9],
            ..Tally::default()
        };
        tally.hosts.push(Box::from(&b""[..]));
        tally.host_index.insert(Box::from(&b""[..]), 0);
        Pass1 {
            resolved,
            parsers,
            detector: Detector::new(resolved.rules.clone()),
            hits: Vec::new(),
            tally,
            current_second: (0, i64::MIN),
            current_count: 0,
            last_host: Vec::new(),
            last_host_index: 0,
            path_floor: 1,
            agent_floor: 1,
            url_second: i64::MIN,
            url_counts: FastMap::default(),
            url_hot_min: (resolved.config.flood.url_min_rps / 2.0).floor().max(2.0) as u32,
        }
    }

    fn flush_urls(&mut self) {
        let second = self.url_second;
        let min = self.url_hot_min;
        for (hash, count) in self.url_counts.drain() {
            if count >= min {
                self.tally.url_hot.push((hash, second, count));
            }
        }
    }

    fn host_index(&mut self, host: &[u8]) -> u32 {
        // Most logs have no host at all: skip even a zero-length compare.
        if host.len() == self.last_host.len()
            && (host.is_empty() || host == self.last_host.as_slice())
        {
            return self.last_host_index;
        }
        let index = match self.tally.host_index.get(host) {
            Some(i) => *i,
            None => {
                let i = self.tally.hosts.len() as u32;
                self.tally.hosts.push(host.into());
                self.tally.host_index.insert(host.into(), i);
                i
            }
        };
        self.last_host.clear();
        self.last_host.extend_from_slice(host);
        self.last_host_index = index;
        index
    }

    fn flush_second(&mut self) {
        if self.current_count > 0 {
            *self.tally.seconds.entry(self.current_second).or_default() += self.current_count;
            self.current_count = 0;
        }
    }

    fn bad(&mut self, file: usize, offset: u64, reason: &'static str, line: &[u8]) {
        self.tally.bad_lines += 1;
        if self.tally.bad_samples.len() < self.resolved.config.report.bad_line_samples {
            self.tally.bad_samples.push((
                file,
                offset,
                reason,
                line[..line.len().min(200)].to_vec(),
            ));
        }
    }

    fn record(&mut self, record: &Record<'_>, span: &mut Span, last_ms: &mut Option<i64>) {
        let t = &mut self.tally;
        t.requests += 1;
        t.status[usize::from(record.status.min(999))] += 1;
        let time_ms = match record.time_ms {
            Some(ms) => ms,
            None => {
                t.no_time += 1;
                0
            }
        };
        if record.time_ms.is_some() {
            span.min_ms = span.min_ms.min(time_ms);
            span.max_ms = span.max_ms.max(time_ms);
            if let Some(last) = *last_ms
                && last - time_ms > 60_000
            {
                t.backward_jumps += 1;
                t.largest_jump_ms = t.largest_jump_ms.max(last - time_ms);
            }
            *last_ms = Some(time_ms);
            t.first_ms = Some(t.first_ms.map_or(time_ms, |f| f.min(time_ms)));
            t.last_ms = Some(t.last_ms.map_or(time_ms, |l| l.max(time_ms)));
        }
        let ip = t.ips.entry(record.ip).or_insert(IpStats {
            requests: 0,
            bytes: 0,
            first_ms: time_ms,
            last_ms: time_ms,
        });
        ip.requests += 1;
        ip.bytes += record.bytes;
        ip.first_ms = ip.first_ms.min(time_ms);
        ip.last_ms = ip.last_ms.max(time_ms);
        let path = record.path();
        match t.paths.get_mut(path) {
            Some(n) => *n += 1,
            None => {
                t.paths.insert(path.into(), 1);
            }
        }
        match t.agents.get_mut(record.user_agent) {
            Some(n) => *n += 1,
            None => {
                t.agents.insert(record.user_agent.into(), 1);
            }
        }
        if t.paths.len() > MAX_DISTINCT_VALUES {
            t.pruned = true;
            prune(&mut t.paths, &mut self.path_floor);
        }
        if t.agents.len() > MAX_DISTINCT_VALUES {
            t.pruned = true;
            prune(&mut t.agents, &mut self.agent_floor);
        }
        if record.time_ms.is_some() {
            let host = self.host_index(record.host);
            let key = (host, time_ms.div_euclid(1000));
            if key != self.current_second {
                self.flush_second();
                self.current_second = key;
            }
            self.current_count += 1;
            if config_floods(self.resolved) {
                let second = time_ms.div_euclid(1000);
                if second != self.url_second {
                    self.flush_urls();
                    self.url_second = second;
                }
                *self.url_counts.entry(PATH_HASH.hash_one(path)).or_default() += 1;
            }
        }
        let config = &self.resolved.config;
        if config.detect.enabled {
            self.hits.clear();
            self.detector.detect(record, &mut self.hits);
            for i in 0..self.hits.len() {
                if self.hits[i].confidence < config.detect.min_confidence {
                    continue;
                }
                let attack = self.detector.attack(record, &self.hits[i]);
                self.add_attack(attack);
            }
        }
        Buckets::events_for(&config.scenarios, record, &mut self.tally.scenario_events);
        if is_script_path(path) {
            match self.tally.scripts.get_mut(path) {
                Some(seen) => seen.update(record, time_ms),
                None => {
                    self.tally
                        .scripts
                        .insert(path.into(), ScriptSeen::new(record, time_ms));
                }
            }
        }
        if is_upload(record) {
            self.tally.uploads.push(Upload {
                time_ms,
                ip: record.ip,
                request: record.request_line(),
            });
        }
    }

    fn add_attack(&mut self, attack: Attack) {
        add_attack(&mut self.tally, attack, &self.resolved.config);
    }
}

fn config_floods(resolved: &Resolved) -> bool {
    resolved.config.flood.enabled
}

fn add_attack(t: &mut Tally, attack: Attack, config: &Config) {
    let class = class_index(attack.class);
    t.attack_total += 1;
    t.class_counts[class] += 1;
    t.class_ips[class].insert(attack.ip);
    t.tallies
        .entry(attack.ip)
        .or_default()
        .add(&attack, config.decisions.min_confidence);
    if t.examples[class].len() < config.report.examples_per_class {
        t.examples[class].push(attack.clone());
    }
    if t.attacks.len() < config.report.max_attacks {
        t.attacks.push(attack);
    }
}

/// Drops the rarest values of a count map, raising the floor each time.
fn prune(map: &mut FastMap<Box<[u8]>, u64>, floor: &mut u64) {
    while map.len() > MAX_DISTINCT_VALUES / 2 {
        let limit = *floor;
        map.retain(|_, n| *n > limit);
        *floor *= 2;
    }
}

impl Worker for Pass1<'_> {
    fn process(&mut self, chunk: &Chunk) {
        let mut parser = self.parsers[chunk.file].clone();
        if let Some(directive) = &chunk.directive {
            parser.observe_directive(directive);
        }
        let mut span = Span {
            file: chunk.file,
            offset: chunk.offset,
            len: chunk.data.len() as u64,
            min_ms: i64::MAX,
            max_ms: i64::MIN,
        };
        let mut last_ms = None;
        let data = &chunk.data[..];
        let mut start = 0usize;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            let line = &data[start..end];
            let offset = chunk.offset + start as u64;
            start = end + 1;
            self.tally.lines += 1;
            if line.len() > MAX_LINE {
                self.bad(chunk.file, offset, "line too long", line);
                continue;
            }
            match parser.parse(line) {
                Parsed::Record(record) => self.record(&record, &mut span, &mut last_ms),
                Parsed::Skip => {}
                Parsed::Bad(reason) => self.bad(chunk.file, offset, reason, line),
            }
        }
        self.flush_second();
        self.flush_urls();
        self.tally.spans.push(span);
    }
}

fn merge_counts(into: &mut FastMap<Box<[u8]>, u64>, from: FastMap<Box<[u8]>, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}

fn merge(workers: Vec<Pass1<'_>>) -> Tally {
    let mut workers = workers.into_iter().map(|w| w.tally);
    let mut total = workers.next().unwrap_or_default();
    if total.status.is_empty() {
        total.status = vec![0; 1000];
        total.class_ips = vec![HashSet::new(); 9];
        total.examples = vec![Vec::new(); 9];
        total.hosts.push(Box::from(&b""[..]));
    }
    for t in workers {
        total.lines += t.lines;
        total.bad_lines += t.bad_lines;
        total.requests += t.requests;
        total.bad_samples.extend(t.bad_samples);
        for (a, b) in total.status.iter_mut().zip(t.status) {
            *a += b;
        }
        for (ip, s) in t.ips {
            match total.ips.entry(ip) {
                std::collections::hash_map::Entry::Occupied(mut entry) => {
                    let e = entry.get_mut();
                    e.requests += s.requests;
                    e.bytes += s.bytes;
                    e.first_ms = e.first_ms.min(s.first_ms);
                    e.last_ms = e.last_ms.max(s.last_ms);
                }
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(s);
                }
            }
        }
        merge_counts(&mut total.paths, t.paths);
        merge_counts(&mut total.agents, t.agents);
        total.pruned |= t.pruned;
        // Hosts: re-index this worker's host ids into the total's.
        let mut remap = Vec::with_capacity(t.hosts.len());
        for host in &t.hosts {
            let index = match total.host_index.get(host) {
                Some(i) => *i,
                None => {
                    let i = total.hosts.len() as u32;
                    total.hosts.push(host.clone());
                    total.host_index.insert(host.clone(), i);
                    i
                }
            };
            remap.push(index);
        }
        for ((host, second), n) in t.seconds {
            *total
                .seconds
                .entry((remap[host as usize], second))
                .or_default() += n;
        }
        total.attacks.extend(t.attacks);
        total.attack_total += t.attack_total;
        for i in 0..9 {
            total.class_counts[i] += t.class_counts[i];
            let ips = std::mem::take(&mut total.class_ips[i]);
            total.class_ips[i] = ips.union(&t.class_ips[i]).copied().collect();
            total.examples[i].extend(t.examples[i].iter().cloned());
        }
        for (ip, tally) in t.tallies {
            total.tallies.entry(ip).or_default().merge(tally);
        }
        total.scenario_events.extend(t.scenario_events);
        total.url_hot.extend(t.url_hot);
        for (path, seen) in t.scripts {
            match total.scripts.get_mut(&path) {
                Some(existing) => existing.merge(seen),
                None => {
                    total.scripts.insert(path, seen);
                }
            }
        }
        total.uploads.extend(t.uploads);
        total.spans.extend(t.spans);
        total.no_time += t.no_time;
        total.backward_jumps += t.backward_jumps;
        total.largest_jump_ms = total.largest_jump_ms.max(t.largest_jump_ms);
        total.first_ms = [total.first_ms, t.first_ms].into_iter().flatten().min();
        total.last_ms = [total.last_ms, t.last_ms].into_iter().flatten().max();
    }
    total
}

/// Where a flood window applies.
#[derive(Debug, Clone)]
pub(crate) struct WindowPlan {
    kind: FloodKind,
    /// Host index (site floods) or `None` (every host).
    host: Option<u32>,
    unit_ms: i64,
    /// The path, for URL floods.
    path: Option<Box<[u8]>>,
}

fn flood_windows(tally: &Tally, config: &Config) -> (Vec<FloodWindow>, Vec<WindowPlan>) {
    let mut windows = Vec::new();
    let mut plan = Vec::new();
    if !config.flood.enabled {
        return (windows, plan);
    }
    for (host, series) in per_site_series(tally) {
        let baseline = Baseline::learn(&series, config.flood.min_samples_per_hour);
        for window in find_floods(&series, &baseline, &config.flood) {
            windows.push(window);
            plan.push(WindowPlan {
                kind: FloodKind::Site,
                host: Some(host),
                unit_ms: 1000,
                path: None,
            });
        }
    }
    // Per-URL floods: each path against its own average rate.
    if let (Some(first), Some(last)) = (tally.first_ms, tally.last_ms) {
        let duration_s = ((last - first) / 1000).max(1);
        let totals: HashMap<u64, (&[u8], u64)> = tally
            .paths
            .iter()
            .map(|(p, n)| (PATH_HASH.hash_one(&**p), (&**p, *n)))
            .collect();
        let mut hot: HashMap<u64, HashMap<i64, u32>> = HashMap::new();
        for &(hash, second, count) in &tally.url_hot {
            *hot.entry(hash).or_default().entry(second).or_default() += count;
        }
        let mut hot: Vec<(u64, HashMap<i64, u32>)> = hot.into_iter().collect();
        hot.sort_by_key(|(hash, _)| *hash);
        for (hash, seconds) in hot {
            let Some((path, total)) = totals.get(&hash) else {
                continue;
            };
            let mean = *total as f64 / duration_s as f64;
            let limit = config.flood.url_min_rps.max(config.flood.url_factor * mean);
            let mut series: Vec<(i64, u32)> = seconds.into_iter().collect();
            series.sort_unstable();
            for window in find_windows(
                &series,
                i64::from(config.flood.quiet_seconds),
                config.flood.min_seconds,
                |_| (limit, mean),
            ) {
                windows.push(window);
                plan.push(WindowPlan {
                    kind: FloodKind::Url,
                    host: None,
                    unit_ms: 1000,
                    path: Some(Box::from(*path)),
                });
            }
        }
    }
    let minutes: Vec<i64> = tally
        .ips
        .values()
        .map(|s| s.first_ms.div_euclid(60_000))
        .collect();
    for window in find_new_source_surges(&minutes, &config.flood) {
        windows.push(window);
        plan.push(WindowPlan {
            kind: FloodKind::NewSources,
            host: None,
            unit_ms: 60_000,
            path: None,
        });
    }
    (windows, plan)
}

fn per_site_series(tally: &Tally) -> Vec<(u32, Vec<(i64, u32)>)> {
    let mut by_host: HashMap<u32, Vec<(i64, u32)>> = HashMap::new();
    for (&(host, second), &n) in &tally.seconds {
        by_host.entry(host).or_default().push((second, n));
    }
    let mut sites: Vec<(u32, Vec<(i64, u32)>)> = by_host.into_iter().collect();
    sites.sort_by_key(|(h, _)| *h);
    for (_, series) in &mut sites {
        series.sort_unstable();
    }
    sites
}

/// The byte ranges of a plain file whose chunks overlap a window
/// (`Some(empty)`: nothing to read; gzip files are read whole).
fn ranges_for(tally: &Tally, file: usize, bounds: &[Bounds], gzip: bool) -> Option<Vec<Range>> {
    let overlaps = |span: &Span| {
        bounds
            .iter()
            .any(|b| span.max_ms >= b.start_ms && span.min_ms < b.end_ms)
    };
    let mut spans: Vec<&Span> = tally
        .spans
        .iter()
        .filter(|s| s.file == file && s.min_ms <= s.max_ms && overlaps(s))
        .collect();
    if gzip {
        return Some(if spans.is_empty() {
            Vec::new()
        } else {
            vec![Range {
                offset: 0,
                len: u64::MAX,
            }]
        });
    }
    spans.sort_by_key(|s| s.offset);
    let mut ranges: Vec<Range> = Vec::new();
    for span in spans {
        match ranges.last_mut() {
            Some(last) if last.offset + last.len == span.offset => last.len += span.len,
            _ => ranges.push(Range {
                offset: span.offset,
                len: span.len,
            }),
        }
    }
    Some(ranges)
}

/// A flood window in milliseconds, and the site it is about.
#[derive(Debug, Clone)]
struct Bounds {
    start_ms: i64,
    end_ms: i64,
    host: Option<Box<[u8]>>,
    path: Option<Box<[u8]>>,
}

fn bounds(tally: &Tally, windows: &[FloodWindow], plan: &[WindowPlan]) -> Vec<Bounds> {
    windows
        .iter()
        .zip(plan)
        .map(|(w, p)| Bounds {
            start_ms: w.start_s * p.unit_ms,
            end_ms: w.end_s * p.unit_ms,
            host: p.host.map(|h| tally.hosts[h as usize].clone()),
            path: p.path.clone(),
        })
        .collect()
}

/// Pass 2: per window, requests per source and per path.
struct Pass2<'a> {
    parsers: &'a [Parser],
    windows: Vec<Bounds>,
    sources: Vec<HashMap<IpKey, u64>>,
    paths: Vec<HashMap<Vec<u8>, u64>>,
}

impl<'a> Pass2<'a> {
    fn new(parsers: &'a [Parser], windows: &[Bounds]) -> Self {
        Pass2 {
            parsers,
            windows: windows.to_vec(),
            sources: vec![HashMap::new(); windows.len()],
            paths: vec![HashMap::new(); windows.len()],
        }
    }
}

impl Worker for Pass2<'_> {
    fn process(&mut self, chunk: &Chunk) {
        let mut parser = self.parsers[chunk.file].clone();
        if let Some(directive) = &chunk.directive {
            parser.observe_directive(directive);
        }
        for line in chunk.data.split(|b| *b == b'\n') {
            if line.len() > MAX_LINE {
                continue;
            }
            if let Parsed::Record(record) = parser.parse(line) {
                let Some(t) = record.time_ms else { continue };
                for (i, window) in self.windows.iter().enumerate() {
                    if t >= window.start_ms
                        && t < window.end_ms
                        && window.host.as_deref().is_none_or(|h| h == record.host)
                        && window.path.as_deref().is_none_or(|p| p == record.path())
                    {
                        *self.sources[i].entry(record.ip).or_default() += 1;
                        *self.paths[i].entry(record.path().to_vec()).or_default() += 1;
                    }
                }
            }
        }
    }
}

type Evidence = Vec<(HashMap<IpKey, u64>, HashMap<Vec<u8>, u64>)>;

fn merge_pass2(workers: Vec<Pass2<'_>>, windows: usize) -> Evidence {
    let mut evidence: Evidence = vec![(HashMap::new(), HashMap::new()); windows];
    for worker in workers {
        for (i, (sources, paths)) in worker.sources.into_iter().zip(worker.paths).enumerate() {
            for (ip, n) in sources {
                *evidence[i].0.entry(ip).or_default() += n;
            }
            for (p, n) in paths {
                *evidence[i].1.entry(p).or_default() += n;
            }
        }
    }
    evidence
}

#[allow(clippy::too_many_arguments)]
fn finish(
    resolved: &Resolved,
    tally: &mut Tally,
    names: &[String],
    formats: &[LogFormat],
    outcomes: &[ReadOutcome],
    windows: Vec<FloodWindow>,
    plan: Vec<WindowPlan>,
    evidence: Evidence,
) -> Report {
    let config = &resolved.config;
    let top = config.report.top;
    // Scenarios, replayed in time order.
    let mut events = std::mem::take(&mut tally.scenario_events);
    events.sort_by_key(|e| e.time_ms);
    let mut buckets = Buckets::new(config.scenarios.clone());
    for event in &events {
        if let Some(hit) = buckets.pour(event) {
            let scenario = &config.scenarios[hit.index];
            let attack = Attack {
                ip: hit.ip,
                class: scenario.class,
                time_ms: hit.time_ms,
                request: hit.request.clone(),
                rule: format!("scenario:{}", hit.scenario),
                confidence: scenario.confidence,
                status: 0,
                evidence: format!(
                    "{} events in {} s (capacity {})",
                    hit.events,
                    (hit.time_ms - hit.since_ms) / 1000,
                    scenario.capacity
                ),
            };
            add_attack(tally, attack, config);
        }
    }
    // New scripts.
    if let Some(first) = tally.first_ms {
        let learned_until = first + i64::from(config.web_shells.learning_minutes) * 60_000;
        let mut scripts: Vec<(&Box<[u8]>, &ScriptSeen)> = tally.scripts.iter().collect();
        scripts.sort_by(|a, b| a.0.cmp(b.0));
        let mut found = Vec::new();
        for (path, seen) in scripts {
            if let Some(verdict) = judge(
                &lossy(path),
                seen,
                learned_until,
                &tally.uploads,
                &config.web_shells,
            ) {
                found.push(Attack {
                    ip: verdict.ip,
                    class: verdict.class,
                    time_ms: verdict.time_ms,
                    request: verdict.request,
                    rule: verdict.rule.to_string(),
                    confidence: verdict.confidence,
                    status: 200,
                    evidence: verdict.evidence,
                });
            }
        }
        for attack in found {
            add_attack(tally, attack, config);
        }
    }
    // Floods with their evidence.
    let ip_first: &FastMap<IpKey, IpStats> = &tally.ips;
    let mut floods: Vec<Flood> = Vec::new();
    for (i, window) in windows.iter().enumerate() {
        let p = &plan[i];
        let (sources, paths) = evidence.get(i).cloned().unwrap_or_default();
        let start_ms = window.start_s * p.unit_ms;
        let end_ms = window.end_s * p.unit_ms;
        let site = p
            .host
            .map(|h| lossy(&tally.hosts[h as usize]))
            .unwrap_or_default();
        let sources = if p.kind == FloodKind::NewSources {
            // The surge's sources are the addresses first seen in it.
            sources
                .into_iter()
                .filter(|(ip, _)| {
                    ip_first
                        .get(ip)
                        .is_some_and(|s| s.first_ms >= start_ms && s.first_ms < end_ms)
                })
                .collect()
        } else {
            sources
        };
        let is_new = |ip: IpKey| {
            ip_first
                .get(&ip)
                .is_some_and(|s| s.first_ms >= start_ms - 60_000)
        };
        floods.push(describe(
            p.kind,
            &site,
            p.path.as_deref().map(lossy),
            window,
            p.unit_ms,
            &sources,
            &paths,
            is_new,
            config.flood.top,
        ));
    }
    floods.sort_by_key(|f| f.start_ms);
    let (decisions, spared) = decide(&tally.tallies, &floods, &config.decisions);
    // Lists.
    let mut attacks = std::mem::take(&mut tally.attacks);
    attacks.sort_by(|a, b| a.time_ms.cmp(&b.time_ms).then_with(|| a.ip.cmp(&b.ip)));
    attacks.truncate(config.report.max_attacks);
    let attacks_by_class = AttackClass::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| tally.class_counts[*i] > 0)
        .map(|(i, class)| {
            let mut examples = tally.examples[i].clone();
            examples.sort_by_key(|a| a.time_ms);
            examples.truncate(config.report.examples_per_class);
            ClassSummary {
                class: *class,
                requests: tally.class_counts[i],
                ips: tally.class_ips[i].len() as u64,
                examples,
            }
        })
        .collect();
    let mut per_minute: HashMap<i64, u64> = HashMap::new();
    for (&(_, second), &n) in &tally.seconds {
        *per_minute.entry(second.div_euclid(60)).or_default() += u64::from(n);
    }
    let mut requests_per_minute: Vec<MinuteCount> = per_minute
        .into_iter()
        .map(|(m, n)| MinuteCount {
            minute_ms: m * 60_000,
            requests: n,
        })
        .collect();
    requests_per_minute.sort_by_key(|m| m.minute_ms);
    let mut status_mix = StatusMix::default();
    let mut codes = Vec::new();
    for (code, &n) in tally.status.iter().enumerate() {
        if n == 0 {
            continue;
        }
        codes.push((code as u16, n));
        match code {
            100..=199 => status_mix.informational += n,
            200..=299 => status_mix.success += n,
            300..=399 => status_mix.redirect += n,
            400..=499 => status_mix.client_error += n,
            500..=599 => status_mix.server_error += n,
            _ => status_mix.other += n,
        }
    }
    codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    status_mix.codes = codes;
    let top_ips = top_counts(tally.ips.iter().map(|(ip, s)| (*ip, s.requests)), top)
        .into_iter()
        .map(|(ip, requests)| {
            let s = tally.ips[&ip];
            TopIp {
                ip,
                requests,
                bytes: s.bytes,
                first_ms: s.first_ms,
                last_ms: s.last_ms,
            }
        })
        .collect();
    let counted = |map: &FastMap<Box<[u8]>, u64>| -> Vec<Counted> {
        top_counts(map.iter().map(|(k, v)| (k.clone(), *v)), top)
            .into_iter()
            .map(|(k, count)| Counted {
                value: lossy(&k),
                count,
            })
            .collect()
    };
    let mut bad_samples = std::mem::take(&mut tally.bad_samples);
    bad_samples.sort_by_key(|s| (s.0, s.1));
    let mut bad_line_samples: Vec<BadLine> = bad_samples
        .into_iter()
        .map(|(file, offset, reason, sample)| BadLine {
            file: names[file].clone(),
            offset,
            reason: reason.to_string(),
            sample: lossy(&sample),
        })
        .collect();
    let mut overlong = 0;
    for (i, outcome) in outcomes.iter().enumerate() {
        overlong += outcome.overlong_lines;
        for (offset, sample) in &outcome.overlong_samples {
            bad_line_samples.push(BadLine {
                file: names[i].clone(),
                offset: *offset,
                reason: format!("line longer than {MAX_LINE} bytes"),
                sample: lossy(sample),
            });
        }
    }
    bad_line_samples.truncate(config.report.bad_line_samples.max(1));
    let baselines = per_site_series(tally)
        .into_iter()
        .map(|(host, series)| SiteBaseline {
            site: lossy(&tally.hosts[host as usize]),
            baseline: Baseline::learn(&series, config.flood.min_samples_per_hour),
        })
        .collect();
    Report {
        lines: tally.lines + overlong,
        bad_lines: tally.bad_lines + overlong,
        requests: tally.requests,
        attacks,
        floods,
        decisions,
        spared,
        attacks_total: tally.attack_total,
        attacks_by_class,
        first_time: tally.first_ms,
        last_time: tally.last_ms,
        requests_per_minute,
        status_mix,
        top_ips,
        top_paths: counted(&tally.paths),
        top_user_agents: counted(&tally.agents),
        top_lists_approximate: tally.pruned,
        files: names
            .iter()
            .zip(formats)
            .zip(outcomes)
            .map(|((name, format), outcome)| FileSummary {
                path: name.clone(),
                format: format.name().to_string(),
                gzip: outcome.gzip,
                bytes: outcome.bytes,
                broken: outcome.broken.clone(),
            })
            .collect(),
        bad_line_samples,
        clock: ClockReport {
            requests_without_time: tally.no_time,
            backward_jumps: tally.backward_jumps,
            largest_backward_jump_seconds: (tally.largest_jump_ms / 1000) as u64,
        },
        baselines,
    }
}
