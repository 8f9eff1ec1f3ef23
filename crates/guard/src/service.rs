//! One guarded root as a service: the watcher on its own blocking thread,
//! and an async task that raises each repair as a signal in the store.
//!
//! Both `sitewarden guard watch` (one root) and `sitewarden serve` (every
//! web root of the plan, beside the probe loop) run a root through
//! [`guard_root`], so a repair is handled the same way in both: the watcher
//! repairs and hands the repair over a channel, and only then, off the
//! repair path, is it written to SQLite, so a restore never waits for the
//! database (or for another watcher's signals).
//!
//! This module does not print and does not listen for Ctrl-C: the caller
//! gets every [`WatchEvent`] the moment the watcher reports it (not after
//! the signals of earlier repairs are recorded, which under a flood of
//! repairs can take a while) and every signal's outcome through a
//! callback, and owns the cancellation token.

use crate::data::GuardData;
use crate::error::Result;
use crate::pages::PageMap;
use crate::repair::Repair;
use crate::report::{exposure_for, signal_for};
use crate::watch::{WatchConfig, WatchEvent, watch};
use sitewarden_store::{SignalOutcome, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// What [`guard_root`] reports as it runs.
#[derive(Debug)]
pub enum GuardReport<'a> {
    /// What the watcher reported (repairs included, before they are raised).
    Event(&'a WatchEvent),
    /// A repair was recorded as a signal on `site`.
    Raised {
        /// The site the signal was raised on.
        site: &'a str,
        /// The repair.
        repair: &'a Repair,
        /// The store's answer: the incident it opened or joined.
        outcome: &'a SignalOutcome,
    },
    /// A repair could not be recorded in the store (it was made all the
    /// same).
    RaiseFailed {
        /// The repair.
        repair: &'a Repair,
        /// Why.
        error: &'a StoreError,
    },
}

/// How one guarded root ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GuardSummary {
    /// Repairs recorded as signals.
    pub raised: u64,
    /// Repairs that could not be recorded in the store.
    pub raise_failures: u64,
}

/// Guards `config.root` until `cancel` fires: the watcher runs on a
/// blocking thread, and each of its repairs becomes a signal in `store`
/// (with the plan attached, the incident engine runs on it) on `site` —
/// the plan's site name — or, when `site` is `None`, on the site the
/// approved version was recorded for. The signal names the page of
/// `pages` the file serves; its exposure starts at the guard's event time
/// and, when the approved file is back, ends there in the same
/// transaction.
///
/// Returns the watcher's error when it cannot start (no approved version,
/// another watcher on the root, the root missing) or stops on its own;
/// either way every repair it made is raised first.
pub async fn guard_root(
    data: GuardData,
    config: WatchConfig,
    site: Option<String>,
    pages: PageMap,
    store: Store,
    cancel: CancellationToken,
    report: impl FnMut(GuardReport<'_>),
) -> Result<GuardSummary> {
    // The canonical root and the recorded site are known before the
    // start-up check reports its first repairs. A root that cannot be
    // resolved is reported by the watcher itself.
    let (canonical, recorded_site) = match data.root(&config.root) {
        Ok((root_data, canonical)) => (
            canonical,
            root_data.info().ok().flatten().map(|info| info.site),
        ),
        Err(_) => (config.root.clone(), None),
    };
    let mut site = site.or(recorded_site);
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel::<WatchEvent>();
    let watcher_cancel = cancel.clone();
    let watcher = tokio::task::spawn_blocking(move || {
        watch(&data, &config, &watcher_cancel, move |event| {
            let _ = sender.send(event);
        })
    });
    // Two loops in this task: one reports every event the moment it
    // arrives (so "guarding" and each repair are shown when they happen,
    // even while a flood of repairs waits to be recorded), the other raises
    // the repairs as signals, in order, as fast as the store takes them.
    // A mutex (never contended: both loops run in this task) rather than a
    // RefCell, so the future stays `Send` when the callback is.
    let report = std::sync::Mutex::new(report);
    let (to_raise, mut raising) = tokio::sync::mpsc::unbounded_channel::<(String, Repair)>();
    let reporting = async {
        let to_raise = to_raise;
        // The channel closes when the watcher returns (its sender is dropped).
        while let Some(event) = events.recv().await {
            (report
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()))(GuardReport::Event(
                &event,
            ));
            match event {
                WatchEvent::Ready {
                    site: recorded_site,
                    ..
                } => {
                    site.get_or_insert(recorded_site);
                }
                WatchEvent::Repaired(repair) => {
                    let site_name = site.as_deref().filter(|s| !s.is_empty()).unwrap_or("web");
                    let _ = to_raise.send((site_name.to_string(), repair));
                }
                _ => {}
            }
        }
    };
    let recording = async {
        let mut summary = GuardSummary::default();
        while let Some((site_name, repair)) = raising.recv().await {
            // The evidence must hold what the attacker wrote, also when
            // it landed after the repair began.
            let repair = match tokio::task::spawn_blocking(move || {
                repair.wait_late_captures();
                repair
            })
            .await
            {
                Ok(repair) => repair,
                Err(_) => continue,
            };
            let (signal, evidence) = signal_for(&site_name, &pages, &canonical, &repair);
            let exposure = exposure_for(&repair);
            let raised = match exposure.restored_at {
                Some(restored_at) => {
                    store
                        .raise_restored_signal(
                            &signal,
                            Some(exposure.start),
                            restored_at,
                            &evidence,
                        )
                        .await
                }
                None => {
                    store
                        .raise_signal_with_exposure(&signal, Some(exposure.start), &evidence)
                        .await
                }
            };
            match raised {
                Ok(outcome) => {
                    summary.raised += 1;
                    (report
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()))(
                        GuardReport::Raised {
                            site: &site_name,
                            repair: &repair,
                            outcome: &outcome,
                        },
                    );
                }
                Err(error) => {
                    summary.raise_failures += 1;
                    (report
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()))(
                        GuardReport::RaiseFailed {
                            repair: &repair,
                            error: &error,
                        },
                    );
                }
            }
        }
        summary
    };
    let ((), summary) = tokio::join!(reporting, recording);
    match watcher.await {
        Ok(result) => result.map(|()| summary),
        // A blocking task cannot be aborted once it runs: the only way to
        // get here is a panic in the watcher, which is passed on.
        Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
    }
}
