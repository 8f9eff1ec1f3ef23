//! Checking the origin behind a verified path, off the request path.
//!
//! Visitors asking for an approved static file get the approved bytes from
//! memory (see `proxy.rs`); the origin is not on their path at all, so
//! nothing it sends — a changed body, an empty one, a redirect, an error
//! page, extra headers — can reach them. Whether the origin itself has
//! been tampered with is checked here: at most once per `interval` per
//! file, triggered by visits, a background fetch of the same URL from the
//! site's origin compared byte for byte with the approved copy. A
//! difference is a tamper sighting (an incident signal with the origin's
//! bytes as evidence) — unless the guard approved a new version meanwhile
//! (a publish), which is re-read before anything is reported.

use crate::events::{GatewayEvent, TamperSighting};
use crate::integrity::{ApprovedFile, BodyCheck, EVIDENCE_CAP, Integrity};
use crate::routes::Route;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// One verified request's facts, for the background check.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The route (site and origins).
    pub route: Arc<Route>,
    /// The approved file served.
    pub file: ApprovedFile,
    /// Its approved bytes.
    pub approved: Bytes,
    /// The Host the visitor asked for.
    pub host: String,
    /// The request path and query.
    pub target: String,
    /// The visitor.
    pub client: IpAddr,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    next: Instant,
    pending: bool,
}

/// Throttled background checks of origins.
#[derive(Debug)]
pub struct OriginChecker {
    client: reqwest::Client,
    interval: Duration,
    timeout: Duration,
    /// Per (site, file): when the next check may start, and whether one
    /// is already scheduled for then.
    schedule: Mutex<HashMap<(String, String), Slot>>,
    events: Sender<GatewayEvent>,
    /// Checks made.
    pub checks: AtomicU64,
    /// Checks that found the origin tampered.
    pub tampered: AtomicU64,
}

impl OriginChecker {
    /// A checker sending sightings to `events`.
    pub fn new(
        interval: Duration,
        timeout: Duration,
        events: Sender<GatewayEvent>,
    ) -> Result<OriginChecker, String> {
        let tls = sitewarden_probe::tls_client_config(&[]).map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(OriginChecker {
            client,
            interval,
            timeout,
            schedule: Mutex::new(HashMap::new()),
            events,
            checks: AtomicU64::new(0),
            tampered: AtomicU64::new(0),
        })
    }

    /// Has the origin checked for this visit's file: now when it was not
    /// checked within the interval, otherwise once at the end of the
    /// interval (visits in between share that check), so every visit is
    /// followed by a check within one interval. Never waits.
    pub fn visited(self: &Arc<Self>, visit: Visit, integrity: Arc<Integrity>) {
        let key = (visit.route.site.clone(), visit.file.path.clone());
        let now = Instant::now();
        let delay = {
            let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
            if schedule.len() > 100_000 {
                schedule.retain(|_, slot| slot.pending || slot.next > now);
            }
            match schedule.get_mut(&key) {
                Some(slot) if slot.pending => return,
                Some(slot) if now < slot.next => {
                    slot.pending = true;
                    slot.next - now
                }
                _ => {
                    schedule.insert(
                        key.clone(),
                        Slot {
                            next: now + self.interval,
                            pending: false,
                        },
                    );
                    Duration::ZERO
                }
            }
        };
        let checker = self.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
                let mut schedule = checker.schedule.lock().unwrap_or_else(|e| e.into_inner());
                schedule.insert(
                    key,
                    Slot {
                        next: Instant::now() + checker.interval,
                        pending: false,
                    },
                );
            }
            checker.check(visit, &integrity).await
        });
    }

    async fn check(&self, visit: Visit, integrity: &Integrity) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let Some(origin) = visit.route.origins.first() else {
            return;
        };
        // The origin's own address (as configured), with the visitor's
        // Host: what the origin serves the world for this URL.
        let scheme = if origin.tls { "https" } else { "http" };
        let url = format!("{scheme}://{}{}", origin.authority, visit.target);
        let request = self
            .client
            .get(&url)
            .header(reqwest::header::HOST, visit.host.as_str())
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .header("X-Sitewarden-Check", "origin-integrity");
        let response = match tokio::time::timeout(self.timeout, request.send()).await {
            Ok(Ok(response)) => response,
            // An origin that is down or slow is not tampering: the probe
            // reports outages.
            _ => return,
        };
        let status = response.status().as_u16();
        let mut check = BodyCheck::new(visit.approved.clone());
        let mut response = response;
        let mut read = 0usize;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            check.feed(&chunk);
            if read > visit.approved.len() + EVIDENCE_CAP {
                break;
            }
        }
        let mismatch = check.finish();
        if status == 200 && mismatch.is_none() {
            return;
        }
        // A publish may have made the origin's bytes the approved ones.
        let _ = integrity.refresh();
        if let Some(current) = integrity.lookup(&visit.route.site, &path_of(&visit.target))
            && current.blake3 != visit.file.blake3
        {
            return;
        }
        let mismatch = mismatch.unwrap_or(crate::integrity::Mismatch {
            differs_at: 0,
            origin_len: read as u64,
            evidence: Vec::new(),
            evidence_truncated: false,
        });
        self.tampered.fetch_add(1, Ordering::Relaxed);
        let _ = self.events.try_send(GatewayEvent::Tamper(TamperSighting {
            site: visit.route.site.clone(),
            url_path: path_of(&visit.target),
            file: visit.file.path.clone(),
            approved_blake3: visit.file.blake3.clone(),
            origin_status: status,
            differs_at: mismatch.differs_at,
            origin_len: mismatch.origin_len,
            evidence: mismatch.evidence,
            evidence_truncated: mismatch.evidence_truncated,
            client: visit.client,
            at_ms: crate::now_ms(),
        }));
    }
}

fn path_of(target: &str) -> String {
    target.split(['?', '#']).next().unwrap_or("/").to_string()
}
