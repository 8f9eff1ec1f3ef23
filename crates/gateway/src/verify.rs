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
    /// Its approved bytes; empty for a file too large for the cache, which
    /// is compared with the vault copy as it is read
    /// ([`Integrity::streamed`]).
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
        origin_ca_files: &[std::path::PathBuf],
        events: Sender<GatewayEvent>,
    ) -> Result<OriginChecker, String> {
        let tls =
            sitewarden_probe::tls_client_config(origin_ca_files).map_err(|e| e.to_string())?;
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

    async fn check(&self, visit: Visit, integrity: &Arc<Integrity>) {
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
        let (mismatch, read) = if integrity.streamed(&visit.file) {
            match compare_streamed(response, &visit.file, integrity).await {
                Ok(compared) => compared,
                // The approved copy could not be read: visitors get 503
                // for it, and the origin is not to blame.
                Err(_) => return,
            }
        } else {
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
            (check.finish(), read)
        };
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

/// Compares the origin's body with a streamed approved file (too large to
/// hold: see [`Integrity::streamed`]) window by window, the vault copy read
/// a chunk at a time beside it; keeps the first [`EVIDENCE_CAP`] bytes of
/// the origin's body as evidence. Returns the mismatch, if any, and how
/// many bytes the origin sent; an error when the approved copy cannot be
/// read.
async fn compare_streamed(
    mut response: reqwest::Response,
    file: &ApprovedFile,
    integrity: &Arc<Integrity>,
) -> Result<(Option<crate::integrity::Mismatch>, usize), String> {
    use bytes::Buf;
    let opened = {
        let integrity = integrity.clone();
        let file = file.clone();
        tokio::task::spawn_blocking(move || integrity.open_streamed(&file))
            .await
            .map_err(|error| error.to_string())??
    };
    let mut reader = Some(opened);
    let mut approved = Bytes::new();
    let mut compared = 0usize;
    let mut differs_at = None;
    let mut evidence = Vec::new();
    let mut read = 0usize;
    while let Ok(Some(mut chunk)) = response.chunk().await {
        read += chunk.len();
        let room = EVIDENCE_CAP.saturating_sub(evidence.len());
        evidence.extend_from_slice(&chunk[..chunk.len().min(room)]);
        while differs_at.is_none() && !chunk.is_empty() {
            if approved.is_empty() {
                let Some(mut current) = reader.take() else {
                    // The origin's body is longer than the approved file.
                    differs_at = Some(compared);
                    break;
                };
                let (back, next) = tokio::task::spawn_blocking(move || {
                    let next = current.next_chunk();
                    (current, next)
                })
                .await
                .map_err(|error| error.to_string())?;
                match next? {
                    Some(bytes) => {
                        approved = bytes;
                        reader = Some(back);
                    }
                    None => continue,
                }
            }
            let n = approved.len().min(chunk.len());
            match approved[..n]
                .iter()
                .zip(&chunk[..n])
                .position(|(a, b)| a != b)
            {
                Some(at) => differs_at = Some(compared + at),
                None => {
                    approved.advance(n);
                    chunk.advance(n);
                    compared += n;
                }
            }
        }
        if read as u64 > file.size + EVIDENCE_CAP as u64 {
            break;
        }
    }
    if differs_at.is_none() && (compared as u64) < file.size {
        // Shorter than the approved file.
        differs_at = Some(compared);
    }
    Ok((
        differs_at.map(|differs_at| crate::integrity::Mismatch {
            differs_at,
            origin_len: read as u64,
            evidence_truncated: read > evidence.len(),
            evidence,
        }),
        read,
    ))
}

fn path_of(target: &str) -> String {
    target.split(['?', '#']).next().unwrap_or("/").to_string()
}
