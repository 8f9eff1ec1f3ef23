//! Live log watching under `sitewarden serve`: the plan's second measure
//! ("analyse the web server logs") running all the time rather than after
//! the fact.
//!
//! Requests come from two places: the gateway's tap (every request it
//! answered, with its site, in the same process) and the plan's
//! `[[logwatch.files]]` (the organisation's own nginx/IIS logs, followed
//! through rotation, resuming from saved offsets in
//! `DATA/logwatch-offsets.json`). One [`sitewarden_logwatch::LiveDetector`]
//! sees them all, resuming what it learned before a restart ([`memory`]); the [`recorder`] turns what it finds into signals
//! (floods → DDoS, web-shell access → web shell), blocks and offender
//! records.
//!
//! Two halves, so detection never waits for the store: a thread that
//! reads and detects ([`watcher`]), and an async task that records.
//! [`forensics`] reads the access-log timeline around an incident for the
//! CLI and the playbook's `preserve_evidence` step.

pub mod forensics;
pub mod memory;
pub mod recorder;
pub mod sites;
pub mod watcher;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use sitewarden_logwatch::tail::FileOffsetStore;
use sitewarden_logwatch::{LiveDetector, LogFormat};
use sitewarden_plan::Plan;
use sitewarden_store::Store;
use tokio::sync::mpsc;

pub use recorder::{RecorderSettings, RecorderStats};
pub use watcher::{Found, WatchStats};

use crate::sites::SiteMap;
use crate::watcher::{Source, Watcher, now_ms, parser_for, tailer_for};

/// Where file offsets are kept, in the data directory.
pub const OFFSETS_FILE: &str = "logwatch-offsets.json";

/// Events waiting for the recorder before ordinary attacks are dropped.
const QUEUE: usize = 4096;

/// A running live watch.
pub struct LiveWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<WatchStats>,
    recorder: tokio::task::JoinHandle<RecorderStats>,
    /// What is watched, in words, for serve's start lines.
    pub watching: Vec<String>,
}

/// What a stopped watch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveWatchStats {
    /// The watcher's counters.
    pub watch: WatchStats,
    /// The recorder's counters.
    pub recorder: RecorderStats,
}

impl LiveWatch {
    /// Starts watching what the plan's `[logwatch]` names, and the
    /// gateway's `tap` when one runs. `Ok(None)` when there is nothing to
    /// watch or the plan turns watching off. Must be called within a
    /// Tokio runtime. A file that cannot be followed is an error: serve
    /// says so at once rather than miss an attack quietly.
    pub fn start(
        plan: &Plan,
        store: Store,
        data_dir: &Path,
        tap: Option<Receiver<Vec<u8>>>,
    ) -> Result<Option<LiveWatch>, String> {
        let settings = &plan.logwatch;
        if !settings.enabled || (tap.is_none() && settings.files.is_empty()) {
            return Ok(None);
        }
        let config = settings.config();
        let started = now_ms();
        let mut detector = LiveDetector::new(&config, Vec::new(), started)
            .map_err(|error| format!("logwatch settings: {error}"))?;
        if let Some(learned) = memory::load(data_dir) {
            detector.resume(learned, started);
        }
        let mut offsets = FileOffsetStore::open(data_dir.join(OFFSETS_FILE))
            .map_err(|error| format!("logwatch offsets: {error}"))?;
        let mut sources = Vec::new();
        let mut watching = Vec::new();
        if tap.is_some() {
            watching.push("the gateway's requests".to_string());
        }
        for file in &settings.files {
            let path = if file.path.is_absolute() {
                file.path.clone()
            } else {
                data_dir.join(&file.path)
            };
            let parser = parser_for(&path, &file.format)
                .map_err(|error| format!("{}: format: {error}", path.display()))?;
            let tailer = tailer_for(path.clone(), &mut offsets, file.start_at)?;
            watching.push(format!(
                "{}{}",
                path.display(),
                file.site
                    .as_ref()
                    .map(|site| format!(" (site {site})"))
                    .unwrap_or_default()
            ));
            sources.push(Source {
                tailer,
                parser,
                site: file.site.clone(),
            });
        }
        let (out, found) = mpsc::channel(QUEUE);
        let watcher = Watcher {
            detector,
            sources,
            tap,
            // The tap writes vhost_combined lines.
            tap_parser: LogFormat::Combined
                .compile()
                .map_err(|error| format!("the tap's parser: {error}"))?,
            sites: SiteMap::of(plan),
            offsets,
            data_dir: data_dir.to_path_buf(),
            out,
            stats: WatchStats::default(),
        };
        let recorder = recorder::Recorder::new(
            store,
            RecorderSettings {
                block: settings.block,
                signals: settings.signals,
                web_shell_signal_confidence: settings.web_shell_signal_confidence,
                data_dir: data_dir.to_path_buf(),
            },
        );
        let recorder = tokio::spawn(recorder.run(found));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("logwatch".into())
            .spawn({
                let stop = stop.clone();
                move || watcher.run(stop)
            })
            .map_err(|error| format!("cannot start the logwatch thread: {error}"))?;
        Ok(Some(LiveWatch {
            stop,
            thread,
            recorder,
            watching,
        }))
    }

    /// Stops: the watcher saves its offsets, the recorder records what is
    /// still queued.
    pub async fn stop(self) -> LiveWatchStats {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread;
        let watch = tokio::task::spawn_blocking(move || thread.join())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let recorder = self.recorder.await.unwrap_or_default();
        LiveWatchStats { watch, recorder }
    }
}
