//! The watcher: inotify events in, repairs out, for one root.
//!
//! [`watch`] runs on its own thread until cancelled. It takes the root's
//! lock (one watcher per root), starts a recursive inotify watch (through
//! `notify`, symlinks not followed, new directories added as they appear),
//! and only then checks the whole tree, so nothing changed during start-up
//! or while the guard was down is missed. Each burst of events is drained
//! at once and coalesced per path before repairing. A full check repairs
//! everything after an event-queue overflow, when the watch cannot be set up
//! (watch limit), on a version switch and every `rescan_interval`.
//!
//! Every `tick` it reads the root's `current` version and `window.json`
//! from the data directory: that is how `guard publish` and `guard rollback`
//! (other processes) switch a running watcher atomically, and how a
//! maintenance window pauses it. The watcher acknowledges a switch by
//! writing `applied`.
//!
//! Repairs are handed to `on_event` as they happen; raising signals in the
//! store is the caller's job, off this thread, so a restore never waits for
//! SQLite. A repair that fails is retried with backoff (`Retries`) and
//! reported once, not once per attempt.

use crate::data::{GuardData, now_ms};
use crate::error::{GuardError, Result};
use crate::manifest::Manifest;
use crate::relpath::RelPath;
use crate::repair::{Action, Approved, Repair, Repairer};
use notify::{RecursiveMode, Watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How a watcher runs.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The web root.
    pub root: PathBuf,
    /// A full check (with the verified-file cache) this often.
    pub rescan_interval: Duration,
    /// How often to look at the version, the window and failed repairs.
    pub tick: Duration,
}

impl WatchConfig {
    /// The defaults: a full check every 5 minutes, a tick every 200 ms.
    pub fn new(root: &Path) -> WatchConfig {
        WatchConfig {
            root: root.to_path_buf(),
            rescan_interval: Duration::from_secs(300),
            tick: Duration::from_millis(200),
        }
    }
}

/// What a watcher reports.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Watching; the start-up check is done.
    Ready {
        /// The site.
        site: String,
        /// The canonical root.
        root: PathBuf,
        /// The version enforced.
        version: u64,
        /// Repairs the start-up check made.
        repairs: usize,
        /// Whether inotify is active (false: periodic checks only).
        realtime: bool,
    },
    /// One repair.
    Repaired(Repair),
    /// One change made to bring the live tree to a newly published or
    /// rolled-back version (not a tamper: no signal).
    Published(Repair),
    /// A full check ran.
    FullCheck {
        /// Why.
        reason: String,
        /// How many repairs it made.
        repairs: usize,
        /// How long it took.
        took: Duration,
    },
    /// A new approved version is enforced.
    Switched {
        /// The version.
        version: u64,
    },
    /// A maintenance window is open: changes are not repaired.
    WindowOpen {
        /// When it ends (Unix ms).
        until_ms: i64,
    },
    /// A maintenance window ended without approval; the tree was brought
    /// back to the approved version.
    WindowExpired,
    /// Something the operator should know (watch limit, repair failures).
    Warning(String),
}

fn load_approved(manifest: Manifest) -> Result<Arc<Approved>> {
    Ok(Arc::new(Approved::new(manifest)?))
}

/// Watches one root until `cancel` fires. Blocking: run it on its own thread.
pub fn watch(
    data: &GuardData,
    config: &WatchConfig,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(WatchEvent),
) -> Result<()> {
    let (root_data, canonical) = data.root(&config.root)?;
    let _lock = root_data.try_lock()?.ok_or_else(|| {
        GuardError::Busy(format!(
            "another `sitewarden guard watch` already guards {} (lock {})",
            canonical.display(),
            root_data.dir().join("watch.lock").display()
        ))
    })?;
    let mut version = root_data.current()?.ok_or_else(|| GuardError::NoBaseline {
        root: canonical.display().to_string(),
    })?;
    let approved = load_approved(root_data.load(version)?)?;
    let site = approved.manifest.site.clone();
    let mut repairer = Repairer::new(&canonical, approved, data.vault(), data.quarantine())?;

    // Watch first, check second: a change made in between is seen twice
    // rather than not at all.
    let (sender, events) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut realtime = true;
    let mut watcher = notify::RecommendedWatcher::new(
        move |event: notify::Result<notify::Event>| {
            // Opening a file to read it (every page the web server serves)
            // changes nothing; inotify reports it all the same.
            if let Ok(event) = &event
                && matches!(
                    event.kind,
                    notify::EventKind::Access(notify::event::AccessKind::Open(_))
                        | notify::EventKind::Access(notify::event::AccessKind::Close(
                            notify::event::AccessMode::Read
                        ))
                        | notify::EventKind::Access(notify::event::AccessKind::Read)
                )
                && !event.need_rescan()
            {
                return;
            }
            let _ = sender.send(event);
        },
        notify::Config::default().with_follow_symlinks(false),
    )
    .map_err(|source| GuardError::Watch {
        path: canonical.clone(),
        source,
    })?;
    if let Err(error) = watcher.watch(&canonical, RecursiveMode::Recursive) {
        realtime = false;
        on_event(WatchEvent::Warning(format!(
            "cannot watch {} in real time ({error}); raise fs.inotify.max_user_watches (see docs/guard.md). \
             Falling back to a full check every {} s",
            canonical.display(),
            config.tick.as_secs_f64() * 10.0
        )));
    }

    let started = Instant::now();
    repairer.forget_verified();
    let repairs = repairer.check_all();
    let count = repairs.len();
    let mut retries = Retries::default();
    retries.full_check_done(&repairs);
    for repair in repairs {
        if retries.note(&repair, Instant::now()) {
            on_event(WatchEvent::Repaired(repair));
        }
    }
    root_data.set_applied(version)?;
    on_event(WatchEvent::FullCheck {
        reason: "start".into(),
        repairs: count,
        took: started.elapsed(),
    });
    on_event(WatchEvent::Ready {
        site,
        root: canonical.clone(),
        version,
        repairs: count,
        realtime,
    });

    let rescan_interval = if realtime {
        config.rescan_interval
    } else {
        config.tick * 10
    };
    let mut last_full = Instant::now();
    let mut next_tick = Instant::now() + config.tick;
    let mut paused_until: Option<i64> = None;
    let mut need_full: Option<String> = None;
    let mut switching = false;
    while !cancel.is_cancelled() {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let mut paths: BTreeSet<RelPath> = BTreeSet::new();
        match events.recv_timeout(wait) {
            Ok(first) => {
                let mut take = |event: notify::Result<notify::Event>| match event {
                    Ok(event) => {
                        if event.need_rescan() {
                            need_full = Some("event queue overflow".into());
                        }
                        for path in event.paths {
                            if let Some(rel) = relative(&canonical, &path) {
                                paths.insert(rel);
                            }
                        }
                    }
                    Err(error) => {
                        need_full = Some(format!("watch error: {error}"));
                    }
                };
                take(first);
                while let Ok(event) = events.try_recv() {
                    take(event);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                need_full = Some("watch stopped".into());
            }
        }

        if Instant::now() >= next_tick {
            next_tick = Instant::now() + config.tick;
            // A version switch by publish or rollback.
            if let Ok(Some(current)) = root_data.current()
                && current != version
            {
                match root_data.load(current).and_then(load_approved) {
                    Ok(approved) => {
                        repairer.switch(approved);
                        version = current;
                        need_full = Some(format!("switched to version {current}"));
                        switching = true;
                        on_event(WatchEvent::Switched { version });
                    }
                    Err(error) => on_event(WatchEvent::Warning(format!(
                        "cannot switch to version {current}: {error}; still enforcing version {version}"
                    ))),
                }
            }
            // A maintenance window.
            match root_data.window() {
                Ok(Some(window)) if window.until_ms > now_ms() => {
                    if paused_until != Some(window.until_ms) {
                        on_event(WatchEvent::WindowOpen {
                            until_ms: window.until_ms,
                        });
                    }
                    paused_until = Some(window.until_ms);
                }
                Ok(Some(_)) => {
                    let _ = root_data.clear_window();
                    paused_until = None;
                    need_full = Some("maintenance window expired without approval".into());
                    on_event(WatchEvent::WindowExpired);
                }
                Ok(None) => {
                    if paused_until.take().is_some() {
                        need_full = Some("maintenance window closed".into());
                    }
                }
                Err(error) => on_event(WatchEvent::Warning(format!(
                    "cannot read the maintenance window: {error}"
                ))),
            }
            for (path, error) in repairer.take_sync_failures() {
                on_event(WatchEvent::Warning(format!(
                    "{path} was restored but could not be made durable (fsync: {error}); checking it again"
                )));
                paths.insert(path);
            }
            for warning in retries.reminders(Instant::now()) {
                on_event(WatchEvent::Warning(warning));
            }
            if last_full.elapsed() >= rescan_interval && need_full.is_none() {
                need_full = Some("periodic".into());
            }
            paths.extend(retries.due(Instant::now()));
        }

        if paused_until.is_some() {
            continue;
        }
        if let Some(reason) = need_full.take() {
            let started = Instant::now();
            let repairs = repairer.check_all();
            let count = repairs.len();
            retries.full_check_done(&repairs);
            for repair in repairs {
                if !retries.note(&repair, Instant::now()) {
                    continue;
                }
                if switching {
                    on_event(WatchEvent::Published(repair));
                } else {
                    on_event(WatchEvent::Repaired(repair));
                }
            }
            switching = false;
            let _ = root_data.set_applied(version);
            last_full = Instant::now();
            on_event(WatchEvent::FullCheck {
                reason,
                repairs: count,
                took: started.elapsed(),
            });
            continue;
        }
        for path in paths {
            let repairs = repairer.check(&path);
            if !repairs.iter().any(|repair| repair.path == path) {
                // Nothing (more) to do there: a failing repair of it is over.
                retries.forget(&path);
            }
            for repair in repairs {
                if retries.note(&repair, Instant::now()) {
                    on_event(WatchEvent::Repaired(repair));
                }
            }
        }
    }
    drop(watcher);
    Ok(())
}

/// The first retry of a failed repair comes this soon…
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// …and the wait doubles up to this.
const RETRY_MAX: Duration = Duration::from_secs(10);
/// While a repair keeps failing, a warning says so this often.
const RETRY_REMINDER: Duration = Duration::from_secs(60);

/// Repairs that failed (a full disk, a file size limit, an I/O error, a
/// corrupt vault content), retried with backoff until they succeed. A
/// failure is reported once — again only when its error changes — so a
/// full disk does not raise a signal per attempt; while it goes on, a
/// warning repeats every minute; the repair that finally succeeds is
/// reported like any other.
#[derive(Debug, Default)]
struct Retries {
    failing: BTreeMap<RelPath, Failing>,
}

#[derive(Debug)]
struct Failing {
    error: String,
    attempts: u32,
    since: Instant,
    next: Instant,
    delay: Duration,
    reminded: Instant,
}

impl Retries {
    /// Records what a repair says about its path; true when it is to be
    /// reported (not a repeat of a failure already reported).
    fn note(&mut self, repair: &Repair, now: Instant) -> bool {
        if repair.action != Action::Failed {
            self.failing.remove(&repair.path);
            return true;
        }
        let error = repair.error.clone().unwrap_or_default();
        match self.failing.get_mut(&repair.path) {
            Some(failing) if failing.error == error => {
                failing.attempts += 1;
                failing.delay = (failing.delay * 2).min(RETRY_MAX);
                failing.next = now + failing.delay;
                false
            }
            _ => {
                self.failing.insert(
                    repair.path.clone(),
                    Failing {
                        error,
                        attempts: 1,
                        since: now,
                        next: now + RETRY_FIRST,
                        delay: RETRY_FIRST,
                        reminded: now,
                    },
                );
                true
            }
        }
    }

    /// The failing paths whose next attempt is due.
    fn due(&self, now: Instant) -> Vec<RelPath> {
        self.failing
            .iter()
            .filter(|(_, failing)| failing.next <= now)
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// A path that is now as approved.
    fn forget(&mut self, path: &RelPath) {
        self.failing.remove(path);
    }

    /// After a full check: a failing path it did not repair again is fine.
    fn full_check_done(&mut self, repairs: &[Repair]) {
        let repaired: BTreeSet<&RelPath> = repairs.iter().map(|repair| &repair.path).collect();
        self.failing.retain(|path, _| repaired.contains(path));
    }

    /// Warnings for repairs that have kept failing for another minute.
    fn reminders(&mut self, now: Instant) -> Vec<String> {
        let mut warnings = Vec::new();
        for (path, failing) in &mut self.failing {
            if now.duration_since(failing.reminded) >= RETRY_REMINDER {
                failing.reminded = now;
                warnings.push(format!(
                    "the repair of {path} has failed for {} s ({} attempts): {}; still retrying every {} s",
                    now.duration_since(failing.since).as_secs(),
                    failing.attempts,
                    failing.error,
                    failing.delay.as_secs_f64()
                ));
            }
        }
        warnings
    }
}

/// The event path relative to the root; `None` for the root's outside.
fn relative(root: &Path, path: &Path) -> Option<RelPath> {
    let rest = path.strip_prefix(root).ok()?;
    RelPath::from_bytes(rest.as_os_str().as_encoded_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Tamper;

    fn repair(path: &str, error: Option<&str>) -> Repair {
        Repair {
            path: RelPath::parse(path).unwrap(),
            tamper: Tamper::Modified,
            action: if error.is_some() {
                Action::Failed
            } else {
                Action::Restored
            },
            approved: None,
            changed_at_ms: None,
            found: None,
            quarantined: Vec::new(),
            detected_at_ms: 0,
            took: Duration::ZERO,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn a_failing_repair_is_reported_once_retried_with_backoff_and_its_success_reported() {
        let mut retries = Retries::default();
        let start = Instant::now();
        let full = "No space left on device (os error 28)";
        assert!(retries.note(&repair("index.html", Some(full)), start));
        assert!(retries.due(start).is_empty());
        let first = start + RETRY_FIRST;
        assert_eq!(retries.due(first).len(), 1);
        // The same failure again: not reported, and the wait doubles.
        assert!(!retries.note(&repair("index.html", Some(full)), first));
        assert!(retries.due(first + RETRY_FIRST).is_empty());
        assert_eq!(retries.due(first + RETRY_FIRST * 2).len(), 1);
        // The wait stops growing at the maximum.
        let mut now = first;
        for _ in 0..20 {
            now += RETRY_MAX;
            retries.note(&repair("index.html", Some(full)), now);
        }
        assert!(
            retries
                .due(now + RETRY_MAX - Duration::from_millis(1))
                .is_empty()
        );
        assert_eq!(retries.due(now + RETRY_MAX).len(), 1);
        // A different error is news.
        assert!(retries.note(&repair("index.html", Some("Input/output error")), now));
        // A minute on, a reminder (once).
        let later = now + RETRY_REMINDER;
        let reminders = retries.reminders(later);
        assert_eq!(reminders.len(), 1);
        assert!(reminders[0].contains("index.html"), "{reminders:?}");
        assert!(retries.reminders(later).is_empty());
        // Success is reported and ends the retries.
        assert!(retries.note(&repair("index.html", None), later));
        assert!(retries.due(later + RETRY_MAX * 10).is_empty());
    }

    #[test]
    fn a_full_check_that_no_longer_repairs_a_path_ends_its_retries() {
        let mut retries = Retries::default();
        let now = Instant::now();
        retries.note(&repair("a.html", Some("File too large (os error 27)")), now);
        retries.note(&repair("b.html", Some("File too large (os error 27)")), now);
        retries.full_check_done(&[repair("b.html", Some("File too large (os error 27)"))]);
        let due = retries.due(now + RETRY_MAX);
        assert_eq!(due, vec![RelPath::parse("b.html").unwrap()]);
        retries.forget(&RelPath::parse("b.html").unwrap());
        assert!(retries.due(now + RETRY_MAX).is_empty());
    }
}
