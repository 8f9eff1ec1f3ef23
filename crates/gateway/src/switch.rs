//! The containment switch (PLAN §5 "cut the site off from external
//! service"): per site, `serving` or `maintenance`.
//!
//! A switch is one atomic flag that every request reads, so flipping it
//! takes effect on the very next request on every connection, keep-alive
//! and HTTP/2 streams included. Who flipped it, when and why travel beside
//! the flag for the maintenance page and the status view; the durable
//! record is the store's (`site_switches`), written before the flag moves.
//! What outlives a request — an upgraded (WebSocket) connection — waits
//! on [`SiteSwitch::cut_off`] and closes when its site is cut off.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Whether a site is served or cut off: one type for every containment
/// backend.
pub use sitewarden_contain::SiteState;

/// Who moved a switch, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchNote {
    /// The mode it was moved to.
    pub mode: SiteState,
    /// Why (the incident, the commander's words).
    pub reason: String,
    /// The acting user or component.
    pub by: String,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// One site's switch.
#[derive(Debug)]
pub struct SiteSwitch {
    maintenance: AtomicBool,
    note: Mutex<Option<SwitchNote>>,
    /// Woken on every move, for what outlives a request (upgraded
    /// connections, which must close when their site is cut off).
    moved: tokio::sync::Notify,
}

impl SiteSwitch {
    fn new() -> SiteSwitch {
        SiteSwitch {
            maintenance: AtomicBool::new(false),
            note: Mutex::new(None),
            moved: tokio::sync::Notify::new(),
        }
    }

    /// The mode the next request sees.
    pub fn mode(&self) -> SiteState {
        if self.maintenance.load(Ordering::Acquire) {
            SiteState::Maintenance
        } else {
            SiteState::Serving
        }
    }

    /// The last move, if any.
    pub fn note(&self) -> Option<SwitchNote> {
        self.note.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, note: SwitchNote) {
        let maintenance = note.mode == SiteState::Maintenance;
        *self.note.lock().unwrap_or_else(|e| e.into_inner()) = Some(note);
        self.maintenance.store(maintenance, Ordering::Release);
        self.moved.notify_waiters();
    }

    /// Resolves once the site is in maintenance: at once if it is, else at
    /// the switch that cuts it off.
    pub async fn cut_off(&self) {
        loop {
            // Registered before the check, so a switch in between is seen.
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.mode() == SiteState::Maintenance {
                return;
            }
            moved.await;
        }
    }
}

/// Every site's switch, shared by the proxy, the control socket and
/// reloads (a reloaded route table keeps the same switches).
#[derive(Debug, Default)]
pub struct Switchboard {
    sites: RwLock<HashMap<String, Arc<SiteSwitch>>>,
}

impl Switchboard {
    /// The switch of `site`, created (serving) on first use.
    pub fn switch(&self, site: &str) -> Arc<SiteSwitch> {
        if let Some(found) = self
            .sites
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(site)
        {
            return found.clone();
        }
        self.sites
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(site.to_string())
            .or_insert_with(|| Arc::new(SiteSwitch::new()))
            .clone()
    }

    /// Moves `site`'s switch; the next request sees the new mode.
    pub fn set(&self, site: &str, note: SwitchNote) {
        self.switch(site).set(note);
    }

    /// Every site's mode and last move, sorted by site.
    pub fn snapshot(&self) -> Vec<(String, SiteState, Option<SwitchNote>)> {
        let sites = self.sites.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = sites
            .iter()
            .map(|(site, switch)| (site.clone(), switch.mode(), switch.note()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_is_shared_and_remembers_its_last_move() {
        let board = Switchboard::default();
        let held = board.switch("portal");
        assert_eq!(held.mode(), SiteState::Serving);
        board.set(
            "portal",
            SwitchNote {
                mode: SiteState::Maintenance,
                reason: "defaced home page".into(),
                by: "duty officer".into(),
                at_ms: 1,
            },
        );
        assert_eq!(held.mode(), SiteState::Maintenance);
        assert_eq!(held.note().unwrap().reason, "defaced home page");
        assert_eq!(board.snapshot()[0].1, SiteState::Maintenance);
        assert_eq!(SiteState::parse("serving"), Some(SiteState::Serving));
        assert_eq!(SiteState::parse("up"), None);
    }

    #[tokio::test]
    async fn cut_off_resolves_at_the_switch_to_maintenance() {
        let board = Switchboard::default();
        let held = board.switch("portal");
        let note = |mode| SwitchNote {
            mode,
            reason: "test".into(),
            by: "test".into(),
            at_ms: 1,
        };
        let waiting = tokio::spawn({
            let held = held.clone();
            async move { held.cut_off().await }
        });
        tokio::task::yield_now().await;
        board.set("portal", note(SiteState::Serving));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "serving does not cut off");
        board.set("portal", note(SiteState::Maintenance));
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("resolved at the switch")
            .unwrap();
        // Already cut off: at once.
        held.cut_off().await;
    }
}
