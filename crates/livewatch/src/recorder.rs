//! The recorder: turns what the watcher found into the plan's terms.
//!
//! - a flood → a DDoS signal (an incident opens or is joined) with the
//!   flood's evidence so far; when it ends, its whole evidence (rate curve,
//!   sources, paths) is attached to that incident;
//! - access to a likely web shell (confident enough) → a web-shell signal
//!   with the request as evidence, once per site and path in ten minutes;
//! - a blocking decision → the store's blocklist (with expiry) and at once
//!   the running gateway's, through its control socket;
//! - every attack and flood source → the offenders table, in batches once
//!   a second, for the playbook's `block_offenders` step.

use std::collections::HashMap;
use std::path::PathBuf;

use sitewarden_gateway::blocklist::{BlockEntry, parse_net};
use sitewarden_gateway::control::{self, Request};
use sitewarden_incident::{Signal, SignalKind, SignalSource};
use sitewarden_logwatch::{
    Attack, AttackClass, Decision, DecisionAction, Event, Flood, FloodEvent, FloodKind,
};
use sitewarden_store::{BlockRecord, EvidenceInput, Offender, Store};
use tokio::sync::mpsc;

use crate::watcher::{Found, now_ms};

/// What the recorder may do, from the plan.
#[derive(Debug, Clone)]
pub struct RecorderSettings {
    /// Put decisions on the blocklist.
    pub block: bool,
    /// Raise signals for floods and web shells.
    pub signals: bool,
    /// Web-shell attacks at least this confident raise a signal.
    pub web_shell_signal_confidence: f32,
    /// The data directory (the gateway's control socket is there).
    pub data_dir: PathBuf,
}

/// What the recorder did, for the stop line and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecorderStats {
    /// Signals raised.
    pub signals: u64,
    /// Addresses blocked.
    pub blocks: u64,
    /// Attacks seen.
    pub attacks: u64,
    /// Floods seen starting.
    pub floods: u64,
}

/// A web-shell signal is raised again for the same site and path after
/// this long.
const SHELL_REPEAT_MS: i64 = 10 * 60_000;

pub(crate) struct Recorder {
    store: Store,
    settings: RecorderSettings,
    offenders: HashMap<(String, String), Offender>,
    /// The incident each running flood joined: (site, kind, path, start).
    flood_incidents: HashMap<(String, &'static str, Option<String>, i64), i64>,
    shells: HashMap<(String, String), i64>,
    stats: RecorderStats,
}

fn flood_kind(kind: FloodKind) -> &'static str {
    match kind {
        FloodKind::Site => "site",
        FloodKind::Url => "url",
        FloodKind::NewSources => "new_sources",
    }
}

impl Recorder {
    pub fn new(store: Store, settings: RecorderSettings) -> Recorder {
        Recorder {
            store,
            settings,
            offenders: HashMap::new(),
            flood_incidents: HashMap::new(),
            shells: HashMap::new(),
            stats: RecorderStats::default(),
        }
    }

    /// Records until the watcher hangs up, flushing offenders every second.
    pub async fn run(mut self, mut found: mpsc::Receiver<Found>) -> RecorderStats {
        let mut flush = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                next = found.recv() => match next {
                    Some(next) => self.record(next).await,
                    None => break,
                },
                _ = flush.tick() => self.flush().await,
            }
        }
        self.flush().await;
        self.stats
    }

    async fn record(&mut self, found: Found) {
        let site = found.site;
        match found.event {
            Event::Attack(attack) => self.attack(site, attack).await,
            Event::Flood(FloodEvent::Started(flood)) => self.flood_started(site, flood).await,
            Event::Flood(FloodEvent::Ended(flood)) => self.flood_ended(site, flood).await,
            Event::Decision(decision) => self.decision(site, decision).await,
        }
    }

    fn offender(&mut self, site: &str, ip: String, at_ms: i64) -> &mut Offender {
        let entry = self
            .offenders
            .entry((site.to_string(), ip.clone()))
            .or_insert_with(|| Offender {
                site: site.to_string(),
                ip,
                first_seen_ms: at_ms,
                last_seen_ms: at_ms,
                ..Offender::default()
            });
        entry.first_seen_ms = entry.first_seen_ms.min(at_ms);
        entry.last_seen_ms = entry.last_seen_ms.max(at_ms);
        entry
    }

    async fn attack(&mut self, site: Option<String>, attack: Attack) {
        self.stats.attacks += 1;
        let Some(site) = site else { return };
        let update = self.offender(&site, attack.ip.to_string(), attack.time_ms);
        update.attacks += 1;
        let class = attack.class.as_str().to_string();
        if !update.classes.contains(&class) {
            update.classes.push(class);
        }
        update.max_confidence = update.max_confidence.max(f64::from(attack.confidence));
        update.last_rule = attack.rule.clone();
        update.last_request = attack.request.clone();
        if attack.class == AttackClass::WebShell
            && attack.confidence >= self.settings.web_shell_signal_confidence
        {
            self.web_shell(site, attack).await;
        }
    }

    async fn web_shell(&mut self, site: String, attack: Attack) {
        let path = attack
            .request
            .split(' ')
            .nth(1)
            .unwrap_or(&attack.request)
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let key = (site.clone(), path.clone());
        if self
            .shells
            .get(&key)
            .is_some_and(|at| attack.time_ms - at < SHELL_REPEAT_MS)
        {
            return;
        }
        self.shells.insert(key, attack.time_ms);
        println!(
            "[logwatch] {site}: likely web shell {path} requested by {} ({}, {:.0}%)",
            attack.ip,
            attack.rule,
            attack.confidence * 100.0
        );
        if !self.settings.signals {
            return;
        }
        self.flush().await;
        let signal = Signal {
            site: site.clone(),
            page: None,
            kind: SignalKind::WebShell,
            source: SignalSource::Logwatch,
            score: (attack.confidence * 100.0).round().clamp(0.0, 100.0) as u32,
            reasons: vec![
                format!(
                    "the access log shows {} requesting {path}, a likely web shell: {}",
                    attack.ip, attack.evidence
                ),
                format!(
                    "rule {} ({:.0}% sure); request \"{}\" answered {}",
                    attack.rule,
                    attack.confidence * 100.0,
                    attack.request,
                    attack.status
                ),
            ],
            observed_at_ms: attack.time_ms,
            drill: false,
        };
        let evidence = EvidenceInput {
            kind: "logwatch_web_shell".into(),
            content: serde_json::to_vec_pretty(&attack).unwrap_or_default(),
            media_type: "application/json".into(),
            captured_at: now_ms(),
            metadata: serde_json::json!({ "site": site, "path": path, "ip": attack.ip.to_string() }),
        };
        self.raise(&signal, evidence).await;
    }

    async fn raise(&mut self, signal: &Signal, evidence: EvidenceInput) -> Option<i64> {
        match self.store.raise_signal(signal, &[evidence]).await {
            Ok(outcome) => {
                self.stats.signals += 1;
                Some(outcome.incident_id)
            }
            Err(error) => {
                tracing::error!("logwatch: recording a {} signal: {error}", signal.kind);
                None
            }
        }
    }

    async fn flood_started(&mut self, site: Option<String>, flood: Flood) {
        self.stats.floods += 1;
        let where_ = site.as_deref().unwrap_or("requests of no plan site");
        println!("[logwatch] {where_}: {}", flood.explanation);
        for source in &flood.heavy_sources {
            if let Some(site) = &site {
                let update = self.offender(site, source.ip.to_string(), flood.start_ms);
                update.flood_requests += source.requests;
            }
        }
        let Some(site) = site else { return };
        if !self.settings.signals {
            return;
        }
        // The playbook's block_offenders step runs as soon as the incident
        // opens: the flood's sources must be in the store by then.
        self.flush().await;
        let top: Vec<String> = flood
            .top_sources
            .iter()
            .take(5)
            .map(|s| format!("{} ({:.0}%)", s.ip, s.share * 100.0))
            .collect();
        let signal = Signal {
            site: site.clone(),
            page: None,
            kind: SignalKind::Ddos,
            source: SignalSource::Logwatch,
            score: 80,
            reasons: vec![
                flood.explanation.clone(),
                format!(
                    "peak {} requests/s against a baseline of {:.1} (threshold {:.1}); {} sources, {} new; top: {}",
                    flood.peak_rps,
                    flood.baseline_rps,
                    flood.threshold_rps,
                    flood.distinct_sources,
                    flood.new_sources,
                    top.join(", ")
                ),
            ],
            observed_at_ms: flood.detected_at.unwrap_or(flood.start_ms),
            drill: false,
        };
        let evidence = flood_evidence(&site, &flood, "logwatch_flood_start");
        if let Some(incident) = self.raise(&signal, evidence).await {
            self.flood_incidents.insert(
                (
                    site,
                    flood_kind(flood.kind),
                    flood.path.clone(),
                    flood.start_ms,
                ),
                incident,
            );
        }
    }

    async fn flood_ended(&mut self, site: Option<String>, flood: Flood) {
        let where_ = site.as_deref().unwrap_or("requests of no plan site");
        println!(
            "[logwatch] {where_}: the flood is over: {} requests from {} sources, peak {} requests/s",
            flood.requests, flood.distinct_sources, flood.peak_rps
        );
        let Some(site) = site else { return };
        let key = (
            site.clone(),
            flood_kind(flood.kind),
            flood.path.clone(),
            flood.start_ms,
        );
        let Some(incident) = self.flood_incidents.remove(&key) else {
            return;
        };
        let evidence = flood_evidence(&site, &flood, "logwatch_flood");
        if let Err(error) = self
            .store
            .attach_evidence(
                incident,
                &evidence,
                "sitewarden (logwatch)",
                "the flood's whole evidence: rate curve, sources and paths",
            )
            .await
        {
            tracing::error!("logwatch: attaching the flood's evidence to #{incident}: {error}");
        }
    }

    async fn decision(&mut self, site: Option<String>, decision: Decision) {
        let ip = decision.ip.to_string();
        if let Some(site) = &site {
            let update = self.offender(site, ip.clone(), decision.since_ms);
            update.decision = Some(decision.explanation.clone());
        }
        if decision.action == DecisionAction::Spared {
            println!("[logwatch] {ip} spared: {}", decision.explanation);
            return;
        }
        if !self.settings.block {
            println!(
                "[logwatch] would block {ip} (blocking is off): {}",
                decision.explanation
            );
            return;
        }
        let Ok(net) = parse_net(&ip) else {
            tracing::warn!("logwatch: cannot block {ip:?}: not an address");
            return;
        };
        let reason = format!("logwatch: {}", decision.reasons.join(", "));
        let record = BlockRecord {
            net: net.to_string(),
            until_ms: Some(decision.until_ms),
            reason: reason.clone(),
            source: "logwatch".into(),
            offences: 1,
        };
        if let Err(error) = self.store.put_block(&record, now_ms()).await {
            tracing::error!("logwatch: recording the block of {ip}: {error}");
        }
        // At once in a running gateway; one that is not reachable now
        // reads the store within a second.
        let entry = BlockEntry {
            net,
            until_ms: Some(decision.until_ms),
            reason,
            source: "logwatch".into(),
            offences: 1,
        };
        match control::send(&self.settings.data_dir, &Request::Ban { entry }).await {
            Ok(Some(response)) if !response.ok => tracing::warn!(
                "logwatch: the gateway refused to block {ip}: {}",
                response.error.unwrap_or_default()
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!("logwatch: telling the gateway to block {ip}: {error}"),
        }
        self.stats.blocks += 1;
        println!(
            "[logwatch] blocked {ip} until {}: {}",
            local_time(decision.until_ms),
            decision.explanation
        );
    }

    async fn flush(&mut self) {
        if self.offenders.is_empty() {
            return;
        }
        let updates: Vec<Offender> = self.offenders.drain().map(|(_, u)| u).collect();
        if let Err(error) = self.store.record_offenders(&updates).await {
            tracing::error!(
                "logwatch: recording {} offender update(s): {error}",
                updates.len()
            );
        }
    }
}

/// A time as people read it here: local, to the second.
fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn flood_evidence(site: &str, flood: &Flood, kind: &str) -> EvidenceInput {
    EvidenceInput {
        kind: kind.into(),
        content: serde_json::to_vec_pretty(flood).unwrap_or_default(),
        media_type: "application/json".into(),
        captured_at: now_ms(),
        metadata: serde_json::json!({
            "site": site,
            "flood_kind": flood_kind(flood.kind),
            "path": flood.path,
            "peak_rps": flood.peak_rps,
            "requests": flood.requests,
            "distinct_sources": flood.distinct_sources,
        }),
    }
}
