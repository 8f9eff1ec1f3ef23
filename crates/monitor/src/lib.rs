//! The remote-monitoring pipeline: for every page of the plan, on its
//! interval, fetch it as a browser and as the search-engine crawlers, judge
//! it against its approved baseline, record the result, and turn a
//! defacement or an outage into a signal with its evidence.
//!
//! This crate wires the pure parts (analysis, the incident model) to the
//! shell (probe, store, clock). It decides nothing itself: verdicts come
//! from `sitewarden-analysis`, incident folding from `sitewarden-incident`.
//! It sends no notification and touches no firewall.

mod approve;
mod check;
mod events;
mod health;
mod monitor;
mod record;
mod scheduler;
mod targets;

pub use approve::{ApprovedBaseline, approve_baseline};
pub use check::{CapturedView, PageCheck, check_page};
pub use events::MonitorEvent;
pub use health::{HealthChange, PageHealth};
pub use monitor::{Monitor, StartError};
pub use record::{Recorded, Recorder};
pub use scheduler::{CheckOutcome, load_baseline, run};
pub use targets::{PageTarget, Targets, probe_config};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sites currently under a drill: signals from them are marked as drill
/// signals, so the exercise opens a drill incident and never a real one.
#[derive(Clone, Debug, Default)]
pub struct DrillRegistry {
    active: Arc<Mutex<HashMap<String, String>>>,
}

impl DrillRegistry {
    /// Marks a site as under the named drill.
    pub fn start(&self, site: &str, drill_name: &str) {
        self.lock().insert(site.to_string(), drill_name.to_string());
    }

    /// Ends the drill on a site.
    pub fn stop(&self, site: &str) {
        self.lock().remove(site);
    }

    /// The drill a site is under, if any.
    pub fn active(&self, site: &str) -> Option<String> {
        self.lock().get(site).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned lock only means another thread panicked while holding
        // a plain map: the map itself is still usable.
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The current time as Unix milliseconds: the shell's clock, passed into pure code.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
