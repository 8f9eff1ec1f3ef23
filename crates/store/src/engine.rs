//! Persisting the incident engine's state.
//!
//! When the store is opened with the plan ([`Store::with_plan`]), every
//! incident carries the engine's model of it (`sitewarden_incident::Incident`)
//! as JSON: a signal is applied to it in the same transaction that records
//! the signal, and every later change goes through [`Store::apply_command`],
//! which loads it, applies one command (pure), saves it and copies the new
//! timeline events into `incident_events` — all in one write transaction,
//! so two processes acting on the same incident never lose each other's
//! change.

use crate::{Result, Store, StoreError, from_json, to_json};
use jiff::Timestamp;
use sitewarden_incident::{
    Command, CommandError, ExposureStart, Incident, Rules, Signal, effective_level,
};
use sqlx::Row;

/// Why a command could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such incident.
    #[error("no incident #{0}")]
    NotFound(i64),
    /// The incident predates the engine (no engine state) or the store was
    /// opened without the plan.
    #[error("incident #{0} has no engine state (open the store with the plan)")]
    NoEngine(i64),
    /// The engine refused the command; nothing changed.
    #[error("incident #{id}: {source}")]
    Refused {
        /// The incident.
        id: i64,
        /// Why.
        source: CommandError,
    },
}

impl From<sqlx::Error> for ApplyError {
    fn from(error: sqlx::Error) -> Self {
        ApplyError::Store(StoreError::Db(error))
    }
}

impl Store {
    /// The plan's rules, when the store was opened with the plan.
    pub(crate) fn rules(&self) -> Option<Rules<'_>> {
        self.plan.as_deref().and_then(|plan| Rules::new(plan).ok())
    }

    /// Creates the engine state of a new incident inside the caller's transaction.
    pub(crate) async fn engine_open(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        id: i64,
        title: &str,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        restored_at: Option<Timestamp>,
    ) -> Result<bool> {
        let Some(rules) = self.rules() else {
            return Ok(false);
        };
        let mut incident = Incident::open(id, title.to_string(), signal, exposure, &rules);
        restore_page(&mut incident, &rules, signal, restored_at);
        save(
            tx,
            &incident,
            &rules,
            0,
            incident
                .timeline
                .events()
                .first()
                .map_or(signal_time(signal), |event| event.at),
        )
        .await?;
        Ok(true)
    }

    /// Applies a signal to an open incident's engine state inside the
    /// caller's transaction. Returns false when there is no engine state.
    pub(crate) async fn engine_signal(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        id: i64,
        signal: &Signal,
        exposure: Option<ExposureStart>,
        restored_at: Option<Timestamp>,
    ) -> Result<bool> {
        let Some(rules) = self.rules() else {
            return Ok(false);
        };
        let Some((mut incident, mirrored)) = load(tx, id).await? else {
            return Ok(false);
        };
        let command = Command::Signal {
            signal: signal.clone(),
            exposure,
        };
        // A refused signal (a closed incident) changes nothing; the fold
        // never sends one there.
        if incident
            .apply(&rules, command, signal.source.as_str(), signal_time(signal))
            .is_ok()
        {
            restore_page(&mut incident, &rules, signal, restored_at);
            save(tx, &incident, &rules, mirrored, signal_time(signal)).await?;
        }
        Ok(true)
    }

    /// Adds a note to an incident's timeline inside the caller's
    /// transaction. Returns false when there is no engine state (the
    /// store was opened without the plan, or the incident predates the
    /// engine); an empty note is refused by the engine and also gives false.
    pub(crate) async fn engine_note(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        id: i64,
        actor: &str,
        text: String,
        at: Timestamp,
    ) -> Result<bool> {
        let Some(rules) = self.rules() else {
            return Ok(false);
        };
        let Some((mut incident, mirrored)) = load(tx, id).await? else {
            return Ok(false);
        };
        if incident
            .apply(&rules, Command::Note { text }, actor, at)
            .is_err()
        {
            return Ok(false);
        }
        save(tx, &incident, &rules, mirrored, at).await?;
        Ok(true)
    }

    /// Applies one command to an incident, as `actor`, at `at`.
    pub async fn apply_command(
        &self,
        id: i64,
        command: Command,
        actor: &str,
        at: Timestamp,
    ) -> std::result::Result<Incident, ApplyError> {
        let rules = self.rules().ok_or(ApplyError::NoEngine(id))?;
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(ApplyError::NotFound(id));
        }
        let (mut incident, mirrored) = load(&mut tx, id).await?.ok_or(ApplyError::NoEngine(id))?;
        incident
            .apply(&rules, command, actor, at)
            .map_err(|source| ApplyError::Refused { id, source })?;
        save(&mut tx, &incident, &rules, mirrored, at).await?;
        tx.commit().await?;
        Ok(incident)
    }

    /// The engine's view of one incident.
    pub async fn engine_incident(&self, id: i64) -> Result<Option<Incident>> {
        let json: Option<Option<String>> =
            sqlx::query_scalar("SELECT engine_json FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        json.flatten()
            .map(|json| from_json("incidents.engine_json", &json))
            .transpose()
    }

    /// The engine's view of every incident that is not closed (the runner
    /// ticks these).
    pub async fn active_engine_incidents(&self) -> Result<Vec<Incident>> {
        let rows = sqlx::query(
            "SELECT engine_json FROM incidents WHERE state <> 'closed' AND engine_json IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                from_json(
                    "incidents.engine_json",
                    row.get::<String, _>("engine_json").as_str(),
                )
            })
            .collect()
    }

    /// Records an incident a person reported (`sitewarden incident open`):
    /// it runs exactly like a detected one — including its folding: a
    /// report on a site whose incident is open (or, within
    /// `[correlation]`, another site's of a related kind) joins that
    /// incident as a signal from the reporter instead of starting a second
    /// set of clocks, approvals and messages. Returns the incident and
    /// whether the report joined one already open.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_reported_incident(
        &self,
        site: &str,
        page: Option<&str>,
        kind: sitewarden_incident::SignalKind,
        summary: &str,
        reporter: &str,
        discovered_at: Timestamp,
        drill: bool,
    ) -> std::result::Result<(Incident, bool), ApplyError> {
        let rules = self.rules().ok_or(ApplyError::NoEngine(0))?;
        let classification = sitewarden_incident::classify(kind, false);
        let signal = Signal {
            site: site.to_owned(),
            page: page.map(str::to_owned),
            kind,
            source: sitewarden_incident::SignalSource::Manual,
            score: 100,
            reasons: vec![summary.to_owned(), format!("reported by {reporter}")],
            observed_at_ms: discovered_at.as_millisecond(),
            drill,
        };
        let mut tx = self.begin_write().await?;
        if let Some(open) = self.open_incident_for(&mut tx, &signal).await?
            && let sitewarden_incident::FoldDecision::Attach { incident_id, .. } =
                sitewarden_incident::fold(Some(&open), &signal, self.correlation_window_ms())
        {
            self.join_reported(&mut tx, incident_id, &signal).await?;
            tx.commit().await?;
            let incident = self
                .engine_incident(incident_id)
                .await?
                .ok_or(ApplyError::NoEngine(incident_id))?;
            return Ok((incident, true));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (site, kind, title, category, subcategory, state, drill,
                 discovered_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'detected', $6, $7, $7) RETURNING id",
        )
        .bind(site)
        .bind(kind.as_str())
        .bind(summary)
        .bind(classification.category_zh)
        .bind(classification.subcategory_zh)
        .bind(drill)
        .bind(discovered_at.as_millisecond())
        .fetch_one(&mut *tx)
        .await?;
        let incident = Incident::reported(
            id,
            site,
            page,
            kind,
            summary,
            reporter,
            discovered_at,
            drill,
            &rules,
        );
        crate::incidents::store_signal(&mut tx, id, &signal).await?;
        save(&mut tx, &incident, &rules, 0, discovered_at).await?;
        tx.commit().await?;
        Ok((incident, false))
    }

    /// A person's report joining an open incident: the site covered, the
    /// signal stored and applied, its exposure from the time reported.
    async fn join_reported(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        incident_id: i64,
        signal: &Signal,
    ) -> Result<()> {
        crate::incidents::cover_site(tx, incident_id, &signal.site, signal.observed_at_ms).await?;
        crate::incidents::store_signal(tx, incident_id, signal).await?;
        let exposure = sitewarden_incident::ExposureStart {
            at: signal_time(signal),
            basis: sitewarden_incident::StartBasis::Reported,
        };
        self.engine_signal(tx, incident_id, signal, Some(exposure), None)
            .await?;
        Ok(())
    }
}

/// Ends the exposure of the signal's page as restored at `restored_at`,
/// when the sensor already put it right (the guard's repair).
fn restore_page(
    incident: &mut Incident,
    rules: &Rules<'_>,
    signal: &Signal,
    restored_at: Option<Timestamp>,
) {
    let (Some(at), Some(page)) = (restored_at, &signal.page) else {
        return;
    };
    if !signal.kind.is_tampering() {
        // A web shell removed, say: no exposure of the page to end.
        return;
    }
    let command = Command::Restore {
        site: Some(signal.site.clone()),
        page: Some(page.clone()),
    };
    // Restore is refused only on a closed incident, which takes no signal.
    let _ = incident.apply(rules, command, signal.source.as_str(), at);
}

fn signal_time(signal: &Signal) -> Timestamp {
    sitewarden_incident::timestamp_from_ms(signal.observed_at_ms)
}

/// Loads an incident's engine state and how many of its timeline events are
/// already in incident_events.
async fn load(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: i64,
) -> Result<Option<(Incident, usize)>> {
    let row = sqlx::query("SELECT engine_json, timeline_len FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(json) = row.get::<Option<String>, _>("engine_json") else {
        return Ok(None);
    };
    let incident: Incident = from_json("incidents.engine_json", &json)?;
    Ok(Some((incident, row.get::<i64, _>("timeline_len") as usize)))
}

/// Saves the engine state, the columns that mirror it, and the timeline
/// events not yet in incident_events.
async fn save(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    incident: &Incident,
    rules: &Rules<'_>,
    mirrored: usize,
    at: Timestamp,
) -> Result<()> {
    let classification = incident.classifications();
    let level = effective_level(rules, incident, at);
    let events = incident.timeline.events();
    sqlx::query(
        "UPDATE incidents SET engine_json = $1, state = $2, kind = $3, level = $4, false_alarm = $5,
             category = $6, subcategory = $7, updated_at = MAX(updated_at, $8), timeline_len = $9,
             closed_at = CASE WHEN $2 = 'closed' THEN $8 ELSE closed_at END
         WHERE id = $10",
    )
    .bind(to_json(incident))
    .bind(incident.state.as_str())
    .bind(incident.kind.as_str())
    .bind(&level)
    .bind(incident.false_alarm)
    .bind(classification.gbz_2007.category_zh)
    .bind(classification.gbz_2007.subcategory_zh)
    .bind(at.as_millisecond())
    .bind(events.len() as i64)
    .bind(incident.id)
    .execute(&mut **tx)
    .await?;
    for event in events.iter().skip(mirrored) {
        sqlx::query(
            "INSERT INTO incident_events (incident_id, at, actor, kind, detail_json) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(incident.id)
        .bind(event.at.as_millisecond())
        .bind(&event.actor)
        .bind(serde_json::to_value(event.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
        .bind(to_json(&serde_json::json!({ "detail": event.detail })))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
