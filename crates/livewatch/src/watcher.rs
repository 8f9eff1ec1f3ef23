//! The watching thread: reads the gateway's tap and follows the plan's
//! log files, feeds every request to one live detector, and hands what it
//! finds, with the site it concerns, to the recorder.
//!
//! A thread of its own because detection is CPU work on every request
//! (tens of thousands a second under a flood) that must not wait for the
//! store; the recorder does the waiting.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use sitewarden_logwatch::format::detect_format;
use sitewarden_logwatch::tail::{FileOffsetStore, StartAt, Tailer};
use sitewarden_logwatch::{AttackClass, Event, LiveDetector, LogFormat, Parsed, Parser, Record};
use tokio::sync::mpsc;

use crate::sites::SiteMap;

/// Something found, with the plan site it concerns (`None`: a request no
/// site claims).
#[derive(Debug, Clone)]
pub struct Found {
    /// The plan's site name.
    pub site: Option<String>,
    /// What the detector raised.
    pub event: Event,
}

/// One followed file.
pub(crate) struct Source {
    pub tailer: Tailer,
    pub parser: Parser,
    /// The plan's `site` for the file, if given.
    pub site: Option<String>,
}

/// Counters, for the stop line and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WatchStats {
    /// Requests fed to the detector.
    pub requests: u64,
    /// Lines that were not requests.
    pub bad_lines: u64,
    /// Attack events dropped because the recorder fell behind (floods,
    /// web shells and decisions are never dropped).
    pub dropped_attacks: u64,
}

pub(crate) struct Watcher {
    pub detector: LiveDetector,
    pub sources: Vec<Source>,
    pub tap: Option<Receiver<Vec<u8>>>,
    pub tap_parser: Parser,
    pub sites: SiteMap,
    pub offsets: FileOffsetStore,
    /// Where the detector's memory is saved ([`crate::memory`]).
    pub data_dir: std::path::PathBuf,
    pub out: mpsc::Sender<Found>,
    pub stats: WatchStats,
}

/// How often the detector closes seconds and ends quiet floods.
const TICK: Duration = Duration::from_millis(200);
/// How often file offsets are saved.
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// How often the detector's memory is saved (it changes slowly, and holds
/// an hour of per-second rates per site).
const REMEMBER_EVERY: Duration = Duration::from_secs(60);
/// Bytes read from one file per round, so one huge log cannot starve the
/// others or the tap.
const FILE_BUDGET: usize = 4 * 1024 * 1024;
/// Tap lines taken per round.
const TAP_BUDGET: usize = 20_000;

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Hands one event on. Floods, web-shell attacks and decisions wait for
/// room; ordinary attacks are dropped (and counted) when the recorder is
/// behind, so a scan cannot stall detection.
fn emit(out: &mpsc::Sender<Found>, stats: &mut WatchStats, site: Option<&str>, event: Event) {
    let ordinary = matches!(&event, Event::Attack(attack) if attack.class != AttackClass::WebShell);
    let found = Found {
        site: site.map(str::to_string),
        event,
    };
    if ordinary {
        if out.try_send(found).is_err() {
            stats.dropped_attacks += 1;
        }
    } else {
        let _ = out.blocking_send(found);
    }
}

/// Feeds one request, its host replaced by its site's name (so floods are
/// counted per plan site whichever host name was used).
fn observe(
    detector: &mut LiveDetector,
    out: &mpsc::Sender<Found>,
    stats: &mut WatchStats,
    record: &Record<'_>,
    site: Option<&str>,
    now_ms: i64,
) {
    stats.requests += 1;
    let mut record = record.clone();
    record.host = site.map_or(b"".as_slice(), str::as_bytes);
    for event in detector.observe(&record, now_ms) {
        emit(out, stats, site, event);
    }
}

/// What the detector needs to take one line: the shared state, borrowed
/// apart from the line's source.
struct Feed<'a> {
    detector: &'a mut LiveDetector,
    out: &'a mpsc::Sender<Found>,
    stats: &'a mut WatchStats,
    sites: &'a SiteMap,
    now_ms: i64,
}

impl Feed<'_> {
    /// Parses one line and feeds its request: the site is `fixed` (a
    /// file's `site`), else the one its host names. Bad lines are counted.
    fn line(&mut self, parser: &mut Parser, fixed: Option<&str>, line: &[u8]) {
        match parser.parse(line) {
            Parsed::Record(record) => {
                let site = fixed.or_else(|| self.sites.site_of(record.host));
                observe(
                    self.detector,
                    self.out,
                    self.stats,
                    &record,
                    site,
                    self.now_ms,
                );
            }
            Parsed::Skip => {}
            Parsed::Bad(_) => self.stats.bad_lines += 1,
        }
    }
}

impl Watcher {
    /// One round: the tap, then every file, then the detector's tick if
    /// due. Returns true when more is waiting.
    fn round(&mut self, now_ms: i64) -> bool {
        let mut more = false;
        let Watcher {
            detector,
            sources,
            tap,
            tap_parser,
            sites,
            out,
            stats,
            ..
        } = self;
        let mut feed = Feed {
            detector,
            out,
            stats,
            sites,
            now_ms,
        };
        if let Some(tap) = tap {
            let mut taken = 0;
            while taken < TAP_BUDGET {
                let Ok(line) = tap.try_recv() else { break };
                taken += 1;
                feed.line(tap_parser, None, line.strip_suffix(b"\n").unwrap_or(&line));
            }
            more |= taken == TAP_BUDGET;
        }
        for source in sources.iter_mut() {
            let Source {
                tailer,
                parser,
                site,
            } = source;
            let result = tailer.poll(FILE_BUDGET, &mut |line| {
                feed.line(parser, site.as_deref(), line)
            });
            match result {
                Ok(has_more) => more |= has_more,
                Err(error) => {
                    tracing::warn!("logwatch: {}: {error}", tailer.path().display());
                }
            }
        }
        more
    }

    fn tick(&mut self, now_ms: i64) {
        // Decisions after a flood event concern that flood's site.
        let mut site: Option<String> = None;
        for event in self.detector.tick(now_ms) {
            if let Event::Flood(flood) = &event {
                let flood = flood.flood();
                site = (!flood.site.is_empty()).then(|| flood.site.clone());
            }
            emit(&self.out, &mut self.stats, site.as_deref(), event);
        }
    }

    fn save(&mut self) {
        for source in &self.sources {
            if let Err(error) = source.tailer.save(&mut self.offsets) {
                tracing::warn!(
                    "logwatch: saving the offset of {}: {error}",
                    source.tailer.path().display()
                );
            }
        }
    }

    fn remember(&self, now_ms: i64) {
        crate::memory::save(&self.data_dir, &self.detector.memory(now_ms));
    }

    /// Runs until `stop` is set; saves the offsets and the detector's
    /// memory on the way out.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> WatchStats {
        let mut last_tick = now_ms();
        let mut last_save = last_tick;
        let mut last_remember = last_tick;
        while !stop.load(Ordering::Relaxed) {
            let more = self.round(now_ms());
            let now = now_ms();
            if now - last_tick >= TICK.as_millis() as i64 {
                self.tick(now);
                last_tick = now;
            }
            if now - last_save >= SAVE_EVERY.as_millis() as i64 {
                self.save();
                last_save = now;
            }
            if now - last_remember >= REMEMBER_EVERY.as_millis() as i64 {
                self.remember(now);
                last_remember = now;
            }
            if !more {
                self.idle(Duration::from_millis(50));
            }
        }
        self.save();
        self.remember(now_ms());
        self.stats
    }

    /// Waits for the next tap line (or just sleeps with no tap), so a
    /// request is seen at once rather than at the next round.
    fn idle(&mut self, wait: Duration) {
        let Some(tap) = &self.tap else {
            std::thread::sleep(wait);
            return;
        };
        match tap.recv_timeout(wait) {
            Ok(line) => {
                let mut feed = Feed {
                    detector: &mut self.detector,
                    out: &self.out,
                    stats: &mut self.stats,
                    sites: &self.sites,
                    now_ms: now_ms(),
                };
                feed.line(
                    &mut self.tap_parser,
                    None,
                    line.strip_suffix(b"\n").unwrap_or(&line),
                );
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // The gateway stopped: go on with the files alone.
                self.tap = None;
            }
        }
    }
}

/// The parser for a followed file: its format, or for `auto` the format
/// guessed from the file's first 16 KiB (combined when it is empty or
/// missing yet).
pub(crate) fn parser_for(path: &PathBuf, format: &LogFormat) -> Result<Parser, String> {
    let format = match format {
        LogFormat::Auto => {
            let mut sample = Vec::new();
            if let Ok(file) = std::fs::File::open(path) {
                use std::io::Read;
                let _ = file.take(16 * 1024).read_to_end(&mut sample);
            }
            detect_format(&sample)
        }
        other => other.clone(),
    };
    format.compile()
}

/// Opens a file's tailer, resuming from the saved offset.
pub(crate) fn tailer_for(
    path: PathBuf,
    offsets: &mut FileOffsetStore,
    start: StartAt,
) -> Result<Tailer, String> {
    Tailer::open(&path, offsets, start).map_err(|error| format!("{}: {error}", path.display()))
}
