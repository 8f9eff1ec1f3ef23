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
//! SQLite.

use crate::data::{GuardData, now_ms};
use crate::error::{GuardError, Result};
use crate::manifest::Manifest;
use crate::relpath::RelPath;
use crate::repair::{Action, Approved, Repair, Repairer};
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
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
    let mut retry: BTreeSet<RelPath> = BTreeSet::new();
    for repair in repairs {
        note_failure(&repair, &mut retry);
        on_event(WatchEvent::Repaired(repair));
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
                retry.insert(path);
            }
            if last_full.elapsed() >= rescan_interval && need_full.is_none() {
                need_full = Some("periodic".into());
            }
            paths.extend(std::mem::take(&mut retry));
        }

        if paused_until.is_some() {
            continue;
        }
        if let Some(reason) = need_full.take() {
            let started = Instant::now();
            let repairs = repairer.check_all();
            let count = repairs.len();
            for repair in repairs {
                note_failure(&repair, &mut retry);
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
            for repair in repairer.check(&path) {
                note_failure(&repair, &mut retry);
                on_event(WatchEvent::Repaired(repair));
            }
        }
    }
    drop(watcher);
    Ok(())
}

fn note_failure(repair: &Repair, retry: &mut BTreeSet<RelPath>) {
    if repair.action == Action::Failed {
        retry.insert(repair.path.clone());
    }
}

/// The event path relative to the root; `None` for the root's outside.
fn relative(root: &Path, path: &Path) -> Option<RelPath> {
    let rest = path.strip_prefix(root).ok()?;
    RelPath::from_bytes(rest.as_os_str().as_encoded_bytes()).ok()
}
