//! Incidents, their signals and their timeline.
//!
//! [`Store::raise_signal`] is the one way a detection enters the store: in a
//! single transaction it folds the signal into the site's open incident (or
//! opens one), appends to the timeline and registers the evidence, so a
//! crash never leaves a signal without its incident or evidence without its
//! record.

use crate::evidence::EvidenceRecord;
use crate::{EvidenceInput, Result, Store, StoreError, from_json, to_json};
use jiff::Timestamp;
use sitewarden_incident::{
    Command, ExposureStart, FoldDecision, IncidentState, OpenIncident, Signal, SignalKind, fold,
};
use sqlx::Row;

/// What happened to a raised signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalOutcome {
    /// The incident it now belongs to.
    pub incident_id: i64,
    /// True when this signal opened the incident.
    pub opened: bool,
    /// The signal's id.
    pub signal_id: i64,
    /// The ids of the evidence registered with it.
    pub evidence_ids: Vec<i64>,
}

/// An incident as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    /// Incident id.
    pub id: i64,
    /// The plan's name of the site it was opened for.
    pub site: String,
    /// Every site it covers, `site` first, then those whose signals
    /// joined it as the same attack (`[correlation]`).
    pub sites: Vec<String>,
    /// Kind of its most serious signal (`defacement`, `unavailable`).
    pub kind: String,
    /// One-line title.
    pub title: String,
    /// Category (GB/Z 20986), Chinese.
    pub category: String,
    /// Subcategory, Chinese.
    pub subcategory: String,
    /// State in the procedure.
    pub state: IncidentState,
    /// Whether it is a drill.
    pub drill: bool,
    /// Whether it was judged a false alarm.
    pub false_alarm: bool,
    /// Time of discovery (Unix ms): the clocks of the plan run from here.
    pub discovered_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// How many signals it has.
    pub signal_count: i64,
}

/// A signal as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    /// Signal id.
    pub id: i64,
    /// The page, if the signal is about one.
    pub page: Option<String>,
    /// Kind.
    pub kind: String,
    /// Sensor.
    pub source: String,
    /// Score.
    pub score: u32,
    /// Reasons.
    pub reasons: Vec<String>,
    /// When observed (Unix ms).
    pub observed_at: i64,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    /// When (Unix ms).
    pub at: i64,
    /// Who or what did it (`probe`, a person's name…).
    pub actor: String,
    /// What happened (`detected`, `signal`, `reclassified`…).
    pub kind: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// Everything about one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDetail {
    /// The summary.
    pub summary: IncidentSummary,
    /// Its signals, oldest first.
    pub signals: Vec<SignalRecord>,
    /// Its timeline, oldest first.
    pub events: Vec<IncidentEvent>,
    /// Its evidence, oldest first.
    pub evidence: Vec<EvidenceRecord>,
}

const SUMMARY_COLUMNS: &str = "i.id, i.site, i.kind, i.title, i.category, i.subcategory, i.state,
     i.drill, i.false_alarm, i.discovered_at, i.updated_at,
     (SELECT COUNT(*) FROM signals s WHERE s.incident_id = i.id) AS signal_count,
     (SELECT group_concat(site, char(10)) FROM
         (SELECT x.site FROM incident_sites x WHERE x.incident_id = i.id ORDER BY x.rowid)) AS sites";

/// The states in which an incident still takes new signals
/// (`IncidentState::takes_new_signals`), as SQL.
const TAKES_SIGNALS: &str = "('detected', 'contained', 'reported', 'assessed', 'recovering')";

impl Store {
    /// Folds a signal into the site's open incident (or opens one) and
    /// registers its evidence, all in one transaction. The exposure starts
    /// at the signal's time; see [`Store::raise_signal_with_exposure`].
    pub async fn raise_signal(
        &self,
        signal: &Signal,
        evidence: &[EvidenceInput],
    ) -> Result<SignalOutcome> {
        self.raise_signal_with_exposure(signal, None, evidence)
            .await
    }

    /// Like [`Store::raise_signal`], with the moment the bad state could
    /// first have been seen (the last clean check, the guard's event time):
    /// the engine measures the exposure from there.
    pub async fn raise_signal_with_exposure(
        &self,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        evidence: &[EvidenceInput],
    ) -> Result<SignalOutcome> {
        self.raise(signal, exposure, None, evidence).await
    }

    /// Like [`Store::raise_signal_with_exposure`], for a bad state the
    /// sensor has already put right (the guard restored the approved file
    /// at `restored_at`): in the same transaction, the exposure of the
    /// signal's page ends there, as restored (`Command::Restore`). A
    /// signal without a page ends nothing.
    pub async fn raise_restored_signal(
        &self,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        restored_at: Timestamp,
        evidence: &[EvidenceInput],
    ) -> Result<SignalOutcome> {
        self.raise(signal, exposure, Some(restored_at), evidence)
            .await
    }

    async fn raise(
        &self,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        restored_at: Option<Timestamp>,
        evidence: &[EvidenceInput],
    ) -> Result<SignalOutcome> {
        // Content first: a record never names bytes that are not on disk.
        let digests = evidence
            .iter()
            .map(|item| self.blobs.put(&item.content))
            .collect::<Result<Vec<_>>>()?;

        let mut tx = self.begin_write().await?;
        let open = self.open_incident_for(&mut tx, signal).await?;

        let now = signal.observed_at_ms;
        let actor = signal.source.as_str();
        let (incident_id, opened) = match fold(open.as_ref(), signal, self.correlation_window_ms())
        {
            FoldDecision::Open {
                kind,
                classification,
                title,
            } => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO incidents (site, kind, title, category, subcategory, state, drill,
                         discovered_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 'detected', $6, $7, $7) RETURNING id",
                )
                .bind(&signal.site)
                .bind(kind.as_str())
                .bind(&title)
                .bind(classification.category_zh)
                .bind(classification.subcategory_zh)
                .bind(signal.drill)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if !self
                    .engine_open(&mut tx, id, &title, signal, exposure, restored_at)
                    .await?
                {
                    append_event(
                        &mut tx,
                        id,
                        now,
                        actor,
                        "detected",
                        &serde_json::json!({
                            "kind": kind.as_str(),
                            "category": classification.category_zh,
                            "subcategory": classification.subcategory_zh,
                            "page": signal.page,
                            "drill": signal.drill,
                        }),
                    )
                    .await?;
                }
                (id, true)
            }
            FoldDecision::Attach {
                incident_id,
                reclassify,
            } => {
                // A site joining as the same attack is covered from now.
                cover_site(&mut tx, incident_id, &signal.site, now).await?;
                let engine = self
                    .engine_signal(&mut tx, incident_id, signal, exposure, restored_at)
                    .await?;
                if let Some((kind, classification)) = reclassify.filter(|_| !engine) {
                    sqlx::query(
                        "UPDATE incidents SET kind = $1, category = $2, subcategory = $3 WHERE id = $4",
                    )
                    .bind(kind.as_str())
                    .bind(classification.category_zh)
                    .bind(classification.subcategory_zh)
                    .bind(incident_id)
                    .execute(&mut *tx)
                    .await?;
                    append_event(
                        &mut tx,
                        incident_id,
                        now,
                        actor,
                        "reclassified",
                        &serde_json::json!({
                            "kind": kind.as_str(),
                            "category": classification.category_zh,
                            "subcategory": classification.subcategory_zh,
                        }),
                    )
                    .await?;
                }
                sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(incident_id)
                    .execute(&mut *tx)
                    .await?;
                (incident_id, false)
            }
        };

        let signal_id = store_signal(&mut tx, incident_id, signal).await?;

        let mut evidence_ids = Vec::with_capacity(evidence.len());
        for (item, digest) in evidence.iter().zip(&digests) {
            evidence_ids.push(
                self.register_evidence(&mut tx, Some(incident_id), Some(signal_id), item, digest)
                    .await?,
            );
        }
        append_event(
            &mut tx,
            incident_id,
            now,
            actor,
            if self.plan.is_some() {
                "evidence"
            } else {
                "signal"
            },
            &serde_json::json!({
                "signal_id": signal_id,
                "page": signal.page,
                "kind": signal.kind.as_str(),
                "score": signal.score,
                "reasons": signal.reasons,
                "evidence_ids": evidence_ids,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(SignalOutcome {
            incident_id,
            opened,
            signal_id,
            evidence_ids,
        })
    }

    /// The open incident a signal folds into: the one covering its site,
    /// else — for correlation — the latest open one of another site of a
    /// related kind (the fold decides whether it is near enough). An
    /// incident judged a false alarm takes nothing: a real attack after
    /// it must run the plan from the start, not vanish into it.
    pub(crate) async fn open_incident_for(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        signal: &Signal,
    ) -> Result<Option<OpenIncident>> {
        let covering = sqlx::query(&format!(
            "SELECT i.id, i.site, i.kind, i.state, i.drill, i.discovered_at FROM incidents i
             WHERE i.drill = $2 AND i.state IN {TAKES_SIGNALS} AND i.false_alarm = 0
               AND i.id IN (SELECT incident_id FROM incident_sites WHERE site = $1)
             ORDER BY i.id DESC LIMIT 1"
        ))
        .bind(&signal.site)
        .bind(signal.drill)
        .fetch_optional(&mut **tx)
        .await?;
        let row = match covering {
            Some(row) => Some(row),
            None if self.correlation_window_ms() > 0 => {
                let kinds: Vec<&str> = SignalKind::ALL
                    .into_iter()
                    .filter(|kind| kind.correlates_with(signal.kind))
                    .map(SignalKind::as_str)
                    .collect();
                sqlx::query(&format!(
                    "SELECT i.id, i.site, i.kind, i.state, i.drill, i.discovered_at FROM incidents i
                     WHERE i.drill = $1 AND i.state IN {TAKES_SIGNALS} AND i.false_alarm = 0
                       AND i.kind IN (SELECT value FROM json_each($2))
                       AND i.discovered_at >= $3
                     ORDER BY i.id DESC LIMIT 1"
                ))
                .bind(signal.drill)
                .bind(to_json(&kinds))
                .bind(signal.observed_at_ms - self.correlation_window_ms())
                .fetch_optional(&mut **tx)
                .await?
            }
            None => None,
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let id: i64 = row.get("id");
        let sites: Vec<String> = sqlx::query_scalar(
            "SELECT site FROM incident_sites WHERE incident_id = $1 ORDER BY rowid",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(Some(OpenIncident {
            id,
            site: row.get("site"),
            sites,
            discovered_at_ms: row.get("discovered_at"),
            kind: parse_column::<SignalKind>("incidents.kind", row.get("kind"))?,
            state: parse_column::<IncidentState>("incidents.state", row.get("state"))?,
            drill: row.get("drill"),
        }))
    }

    /// `[correlation] window_minutes` of the plan the store was opened
    /// with, in milliseconds; 0 (no correlation) without a plan.
    pub(crate) fn correlation_window_ms(&self) -> i64 {
        self.plan.as_deref().map_or(0, |plan| {
            i64::from(plan.correlation.window_minutes) * 60_000
        })
    }

    /// Records that the incident's affected pages are back to their approved
    /// content or reachable again, as observed by `actor` (the probe after a
    /// clean check). The incident moves to `recovered`; later signals open a
    /// new incident.
    pub async fn mark_recovered(
        &self,
        incident_id: i64,
        actor: &str,
        now_ms: i64,
        detail: &serde_json::Value,
    ) -> Result<()> {
        if self.plan.is_some() {
            // Through the engine: the exposures end and the incident moves to
            // recovered; a refusal (already there) changes nothing.
            let at = sitewarden_incident::timestamp_from_ms(now_ms);
            for command in [
                Command::Restore {
                    site: None,
                    page: None,
                },
                Command::Transition {
                    to: IncidentState::Recovered,
                },
            ] {
                match self.apply_command(incident_id, command, actor, at).await {
                    Ok(_) | Err(crate::ApplyError::Refused { .. }) => {}
                    Err(crate::ApplyError::Store(error)) => return Err(error),
                    Err(crate::ApplyError::NotFound(_) | crate::ApplyError::NoEngine(_)) => break,
                }
            }
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE incidents SET state = 'recovered', updated_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
        append_event(&mut tx, incident_id, now_ms, actor, "recovered", detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Open incidents (not yet recovered) of a site.
    pub async fn open_incidents(&self, site: &str) -> Result<Vec<IncidentSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM incidents i
             WHERE i.state IN {TAKES_SIGNALS}
               AND i.id IN (SELECT incident_id FROM incident_sites WHERE site = $1)
             ORDER BY i.id"
        ))
        .bind(site)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(summary_from_row).collect()
    }

    /// All incidents, newest first.
    pub async fn incidents(&self) -> Result<Vec<IncidentSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM incidents i ORDER BY i.id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(summary_from_row).collect()
    }

    /// One incident with its signals, timeline and evidence.
    pub async fn incident(&self, id: i64) -> Result<Option<IncidentDetail>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let summary = summary_from_row(row)?;
        let signals = sqlx::query(
            "SELECT id, page, kind, source, score, reasons_json, observed_at
             FROM signals WHERE incident_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(SignalRecord {
                id: row.get("id"),
                page: row.get("page"),
                kind: row.get("kind"),
                source: row.get("source"),
                score: row.get::<i64, _>("score") as u32,
                reasons: from_json("signals.reasons_json", row.get("reasons_json"))?,
                observed_at: row.get("observed_at"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let events = sqlx::query(
            "SELECT at, actor, kind, detail_json FROM incident_events
             WHERE incident_id = $1 ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(IncidentEvent {
                at: row.get("at"),
                actor: row.get("actor"),
                kind: row.get("kind"),
                detail: from_json("incident_events.detail_json", row.get("detail_json"))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let evidence = self.incident_evidence(id).await?;
        Ok(Some(IncidentDetail {
            summary,
            signals,
            events,
            evidence,
        }))
    }
}

/// Puts `site` under the incident from `at_ms` (once: a site already
/// covered keeps its first time).
pub(crate) async fn cover_site(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    incident_id: i64,
    site: &str,
    at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT OR IGNORE INTO incident_sites (incident_id, site, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(incident_id)
    .bind(site)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores `signal` under its incident; returns its id.
pub(crate) async fn store_signal(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    incident_id: i64,
    signal: &Signal,
) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO signals (incident_id, site, page, kind, source, score, reasons_json, observed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(incident_id)
    .bind(&signal.site)
    .bind(&signal.page)
    .bind(signal.kind.as_str())
    .bind(signal.source.as_str())
    .bind(i64::from(signal.score))
    .bind(to_json(&signal.reasons))
    .bind(signal.observed_at_ms)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

pub(crate) async fn append_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    incident_id: i64,
    at: i64,
    actor: &str,
    kind: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_events (incident_id, at, actor, kind, detail_json)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(incident_id)
    .bind(at)
    .bind(actor)
    .bind(kind)
    .bind(to_json(detail))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn parse_column<T: std::str::FromStr<Err = String>>(
    column: &'static str,
    text: String,
) -> Result<T> {
    text.parse()
        .map_err(|message: String| StoreError::CorruptValue { column, message })
}

impl IncidentSummary {
    /// The sites for a one-line listing: "portal", or "portal +2" for an
    /// incident that covers three.
    pub fn sites_short(&self) -> String {
        match self.sites.len() {
            0 | 1 => self.site.clone(),
            n => format!("{} +{}", self.site, n - 1),
        }
    }
}

fn summary_from_row(row: sqlx::sqlite::SqliteRow) -> Result<IncidentSummary> {
    Ok(IncidentSummary {
        id: row.get("id"),
        site: row.get("site"),
        sites: row
            .get::<Option<String>, _>("sites")
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect(),
        kind: row.get("kind"),
        title: row.get("title"),
        category: row.get("category"),
        subcategory: row.get("subcategory"),
        state: parse_column("incidents.state", row.get("state"))?,
        drill: row.get("drill"),
        false_alarm: row.get("false_alarm"),
        discovered_at: row.get("discovered_at"),
        updated_at: row.get("updated_at"),
        signal_count: row.get("signal_count"),
    })
}
