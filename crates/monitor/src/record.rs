//! Recording checks: availability tracking, the store's check history, and
//! the turn of a defacement or an outage into a signal with its evidence.
//!
//! A site cut off on purpose (switched to maintenance through its
//! containment backend, as the store's `site_switches` say) answers every
//! check with the maintenance page's HTTP 503, or not at all. Such a check
//! is recorded as [`Verdict::Contained`] and raises nothing: it is neither
//! a defacement nor an outage, and it leaves the page's failure count
//! alone. A check that sees the page answer normally is judged as always
//! (a probe that reaches the origin behind the gateway still sees a page
//! put back, or still defaced). A defacement is only ever signalled from a
//! check that saw the page: a failed check that keeps the previous
//! verdict until the page counts as down signals nothing.

use crate::DrillRegistry;
use crate::check::PageCheck;
use crate::events::MonitorEvent;
use crate::health::{HealthChange, PageHealth};
use sitewarden_analysis::Verdict;
use sitewarden_incident::{
    ExposureStart, Signal, SignalKind, SignalSource, StartBasis, timestamp_from_ms,
};
use sitewarden_store::{
    CheckRecord, EvidenceInput, SignalOutcome, SiteSwitchRecord, Store, StoreError,
};
use std::collections::HashMap;
use tokio::sync::{Mutex, broadcast};

/// What the recorder remembers about a page between checks.
#[derive(Debug, Clone, Default)]
struct PageMemory {
    health: PageHealth,
    last_verdict: Option<Verdict>,
    /// The reasons of the last defacement signalled, so a page that stays
    /// defaced is signalled once, and again only when the defacement itself
    /// changes. Not the body hash: a defaced page still carries its visitor
    /// counter and clock, so its bytes differ on every fetch.
    last_signalled_reasons: Option<Vec<String>>,
    /// When the page last checked clean or benignly changed (Unix ms): the
    /// earliest the defaced content can have been served is just after it.
    last_well_at: Option<i64>,
    /// When its site was reopened after the page was last found cut off
    /// (Unix ms), until it checks well again: content bad then could not
    /// be served before the reopening.
    reopened_at: Option<i64>,
}

/// The result of recording one check.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The verdict recorded (a first failure keeps the previous verdict
    /// until the plan's failure limit is reached).
    pub verdict: Verdict,
    /// The recorded score.
    pub score: u32,
    /// The recorded reasons.
    pub reasons: Vec<sitewarden_analysis::Reason>,
    /// The incident the check's signal went to, if it raised one.
    pub signal: Option<SignalOutcome>,
    /// Incidents recovered by this check.
    pub recovered: Vec<i64>,
}

/// Records checks into the store and raises signals. One per monitor.
#[derive(Debug)]
pub struct Recorder {
    store: Store,
    drills: DrillRegistry,
    events: broadcast::Sender<MonitorEvent>,
    down_after_failures: u32,
    memory: Mutex<HashMap<(String, String), PageMemory>>,
}

impl Recorder {
    /// A recorder that picks up each page's last known verdict and failure
    /// count from the store, so a restart neither re-signals a known
    /// defacement as new nor forgets failures already counted.
    pub async fn new(
        store: Store,
        drills: DrillRegistry,
        events: broadcast::Sender<MonitorEvent>,
        down_after_failures: u32,
    ) -> Result<Recorder, StoreError> {
        let mut memory = HashMap::new();
        for state in store.page_states().await? {
            let verdict = state.verdict.parse::<Verdict>().ok();
            memory.insert(
                (state.site, state.page),
                PageMemory {
                    health: PageHealth {
                        consecutive_failures: state.consecutive_failures,
                        down: !state.up,
                    },
                    last_verdict: verdict,
                    last_signalled_reasons: None,
                    last_well_at: verdict
                        .filter(|verdict| verdict_is_well(*verdict))
                        .map(|_| state.checked_at),
                    reopened_at: None,
                },
            );
        }
        Ok(Recorder {
            store,
            drills,
            events,
            down_after_failures: down_after_failures.max(1),
            memory: Mutex::new(memory),
        })
    }

    /// Records one check: the verdict after availability tracking, the
    /// store's history, a signal with evidence when the page is defaced or
    /// went down, and recovery when the whole site is well again.
    pub async fn record(&self, mut check: PageCheck) -> Result<Recorded, StoreError> {
        let key = (check.site.clone(), check.page.clone());
        let drill = self.drills.active(&check.site).is_some();
        let switch = self.store.site_switch(&check.site).await?;
        // Cut off before the check began: a check that started earlier may
        // have fetched the page as it was served until then.
        let cut_off = switch
            .as_ref()
            .filter(|switch| switch.is_cut_off() && switch.at_ms <= check.started_at_ms);
        let contained = cut_off.is_some() && check.failure.is_some();
        let mut memory = self.memory.lock().await;
        let entry = memory.entry(key.clone()).or_default();
        let previous_verdict = entry.last_verdict;
        let change = if contained {
            HealthChange::None
        } else {
            entry
                .health
                .observe(check.failure.is_none(), self.down_after_failures)
        };
        if let Some(switch) = cut_off.filter(|_| contained) {
            mark_contained(&mut check, switch);
        } else if check.failure.is_some() && !entry.health.down {
            // Not down yet: one failed check is not an outage. Keep the
            // previous verdict and say how close the page is to down.
            check.verdict = previous_verdict
                .filter(|v| *v != Verdict::Down)
                .unwrap_or(Verdict::Clean);
            check.score = 0;
            let failures = entry.health.consecutive_failures;
            let limit = self.down_after_failures;
            for reason in &mut check.reasons {
                reason.weight = 0;
                reason.message = format!(
                    "{} ({failures} of {limit} failures before down)",
                    reason.message
                );
                reason.message_zh = format!(
                    "{}（已连续失败 {failures} 次，达到 {limit} 次判定为不可访问）",
                    reason.message_zh
                );
            }
        }
        let verdict = check.verdict;
        entry.last_verdict = Some(verdict);
        if previous_verdict == Some(Verdict::Contained) && !contained {
            // Serving again, as far as this probe can see.
            entry.reopened_at = Some(
                switch
                    .as_ref()
                    .filter(|switch| !switch.is_cut_off())
                    .map_or(check.started_at_ms, |switch| switch.at_ms),
            );
        }
        let reasons = check.reason_lines();
        // Whether this check's verdict is what it saw of the page: not a
        // failure that keeps the previous verdict until the page counts
        // as down, and not the maintenance page of a site cut off.
        let saw_the_page = !contained && (check.failure.is_none() || verdict == Verdict::Down);
        let must_signal_defacement = saw_the_page
            && verdict == Verdict::Defaced
            && entry.last_signalled_reasons.as_ref() != Some(&reasons);
        if saw_the_page {
            entry.last_signalled_reasons = (verdict == Verdict::Defaced).then_some(reasons);
        } else if contained {
            // Whatever is found once the site serves again is news.
            entry.last_signalled_reasons = None;
        }
        let last_well_at = entry.last_well_at;
        let reopened_at = entry.reopened_at;
        if verdict_is_well(verdict) {
            entry.last_well_at = Some(check.checked_at_ms);
            entry.reopened_at = None;
        }
        let up = match verdict {
            Verdict::Down => false,
            Verdict::Contained => !entry.health.down,
            _ => true,
        };
        let consecutive_failures = entry.health.consecutive_failures;
        let site_well = verdict_is_well(verdict)
            && memory
                .iter()
                .filter(|((site, _), _)| *site == check.site)
                .all(|(_, page)| page.last_verdict.is_none_or(verdict_is_well));
        drop(memory);

        self.store
            .record_check(&CheckRecord {
                site: check.site.clone(),
                page: check.page.clone(),
                url: check.url.clone(),
                checked_at: check.checked_at_ms,
                verdict: verdict.to_string(),
                score: check.score,
                reasons: check.reason_lines(),
                http_status: check.http_status,
                response_ms: check.response_ms,
                tls_expires_at: check.tls.as_ref().map(|tls| tls.expires_at_ms),
                redirects: check.redirects.iter().map(|hop| hop.url.clone()).collect(),
                body_sha256: check.body_sha256.clone(),
                error: check.failure.clone(),
                consecutive_failures,
                up,
            })
            .await?;
        let _ = self.events.send(MonitorEvent::Checked {
            site: check.site.clone(),
            page: check.page.clone(),
            verdict,
            score: check.score,
            reasons: check.reason_lines(),
            response_ms: check.response_ms,
            drill,
        });

        let kind = if must_signal_defacement {
            Some(SignalKind::Defacement)
        } else if change == HealthChange::WentDown {
            Some(SignalKind::Unavailable)
        } else {
            None
        };
        let signal = match kind {
            Some(kind) => Some(
                self.raise(&check, kind, drill, last_well_at, reopened_at)
                    .await?,
            ),
            None => None,
        };

        let mut recovered = Vec::new();
        let was_bad = previous_verdict.is_some_and(|verdict| !verdict_is_well(verdict));
        if site_well && was_bad {
            for incident in self.store.open_incidents(&check.site).await? {
                self.store
                    .mark_recovered(
                        incident.id,
                        "probe",
                        check.checked_at_ms,
                        &serde_json::json!({
                            "page": check.page,
                            "verdict": verdict.to_string(),
                            "note": "every page of the site checks clean or benignly changed again",
                        }),
                    )
                    .await?;
                let _ = self.events.send(MonitorEvent::Recovered {
                    incident_id: incident.id,
                    site: check.site.clone(),
                });
                recovered.push(incident.id);
            }
        }
        Ok(Recorded {
            verdict,
            score: check.score,
            reasons: check.reasons,
            signal,
            recovered,
        })
    }

    async fn raise(
        &self,
        check: &PageCheck,
        kind: SignalKind,
        drill: bool,
        last_well_at: Option<i64>,
        reopened_at: Option<i64>,
    ) -> Result<SignalOutcome, StoreError> {
        let signal = Signal {
            site: check.site.clone(),
            page: Some(check.page.clone()),
            kind,
            source: SignalSource::Probe,
            score: check.score,
            reasons: check.reason_lines(),
            observed_at_ms: check.checked_at_ms,
            drill,
        };
        let evidence = evidence_for(check, kind);
        let exposure = match reopened_at {
            // Bad since before the site was cut off, or while it was: it
            // could be seen again from the reopening, not before.
            Some(reopened) if last_well_at.is_none_or(|well| well < reopened) => ExposureStart {
                at: timestamp_from_ms(reopened.min(check.checked_at_ms)),
                basis: StartBasis::Reopened,
            },
            _ => ExposureStart::from_evidence(
                None,
                last_well_at.map(timestamp_from_ms),
                timestamp_from_ms(check.checked_at_ms),
            ),
        };
        let outcome = self
            .store
            .raise_signal_with_exposure(&signal, Some(exposure), &evidence)
            .await?;
        let event = if outcome.opened {
            let title = self
                .store
                .incident(outcome.incident_id)
                .await?
                .map(|detail| detail.summary.title)
                .unwrap_or_default();
            MonitorEvent::IncidentOpened {
                incident_id: outcome.incident_id,
                site: check.site.clone(),
                title,
                drill,
            }
        } else {
            MonitorEvent::SignalAttached {
                incident_id: outcome.incident_id,
                site: check.site.clone(),
                page: check.page.clone(),
            }
        };
        let _ = self.events.send(event);
        if !evidence.is_empty() {
            let _ = self.events.send(MonitorEvent::EvidenceStored {
                incident_id: outcome.incident_id,
                items: evidence
                    .iter()
                    .map(|item| {
                        (
                            item.kind.clone(),
                            crate::check::sha256_hex(&item.content),
                            item.content.len(),
                        )
                    })
                    .collect(),
            });
        }
        Ok(outcome)
    }
}

/// Turns a failed check of a site cut off on purpose into a `contained`
/// one: score 0, one reason that says so, the failure kept.
fn mark_contained(check: &mut PageCheck, switch: &SiteSwitchRecord) {
    let answered = check.failure.clone().unwrap_or_default();
    check.verdict = Verdict::Contained;
    check.score = 0;
    check.reasons = vec![crate::check::reason(
        "contained",
        0,
        format!(
            "the site is cut off from external service (maintenance, by {}: {}) and answers {answered}; \
             `sitewarden release {}` reopens it",
            switch.by, switch.reason, check.site
        ),
        format!(
            "网站已切断对外服务（维护模式，{}：{}），页面返回 {answered}；`sitewarden release {}` 恢复对外服务",
            switch.by, switch.reason, check.site
        ),
    )];
}

fn verdict_is_well(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Clean | Verdict::Changed)
}

/// The evidence of a check: for a defacement, the browser view's body
/// exactly as received and every crawler view that showed cloaked content;
/// and one JSON document with the fetch metadata of all views.
fn evidence_for(check: &PageCheck, kind: SignalKind) -> Vec<EvidenceInput> {
    let mut evidence = Vec::new();
    let views_metadata: Vec<_> = check
        .views
        .iter()
        .map(|view| {
            serde_json::json!({
                "agent": view.agent_name,
                "user_agent": view.user_agent,
                "final_url": view.page.final_url.as_str(),
                "status": view.page.status,
                "headers": view.page.headers,
                "redirects": view.page.redirects,
                "elapsed_ms": view.page.elapsed.as_millis() as u64,
                "tls": view.page.tls,
                "body_sha256": view.body_sha256,
                "body_bytes": view.page.body.len(),
                "truncated": view.page.truncated,
                "cloaking_found": view.cloaking_found,
            })
        })
        .collect();
    if kind == SignalKind::Defacement {
        for view in check
            .views
            .iter()
            .filter(|view| view.agent_name == "browser" || view.cloaking_found)
        {
            evidence.push(EvidenceInput {
                kind: "page_snapshot".into(),
                content: view.page.body.clone(),
                media_type: view
                    .page
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                captured_at: check.checked_at_ms,
                metadata: serde_json::json!({
                    "site": check.site,
                    "page": check.page,
                    "url": check.url,
                    "agent": view.agent_name,
                    "user_agent": view.user_agent,
                }),
            });
        }
    }
    let metadata = serde_json::json!({
        "site": check.site,
        "page": check.page,
        "url": check.url,
        "checked_at_ms": check.checked_at_ms,
        "verdict": check.verdict.to_string(),
        "score": check.score,
        "reasons": check.reasons,
        "similarity": check.similarity,
        "failure": check.failure,
        "views": views_metadata,
    });
    evidence.push(EvidenceInput {
        kind: "fetch_metadata".into(),
        content: serde_json::to_vec_pretty(&metadata).expect("metadata serialises"),
        media_type: "application/json".into(),
        captured_at: check.checked_at_ms,
        metadata: serde_json::json!({"site": check.site, "page": check.page, "url": check.url}),
    });
    evidence
}
