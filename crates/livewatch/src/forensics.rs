//! The access-log timeline around an incident, as evidence: which logs
//! hold a site's requests, reading the window, and the evidence record.
//! Used by `sitewarden logs timeline` and by the playbook's
//! `preserve_evidence` step, so both attach the same thing.

use std::path::{Path, PathBuf};

use sitewarden_logwatch::{Config, LogwatchError, Timeline, records_between, timeline};
use sitewarden_plan::Plan;
use sitewarden_store::{EvidenceInput, Store};

/// The default access log of a gateway run by serve (see
/// `gateway.access_log`).
pub const GATEWAY_ACCESS_LOG: &str = "gateway-access.log";

/// The access logs that hold `site`'s requests and exist now: the plan's
/// `[[logwatch.files]]` for the site (or naming no site), and the gateway's
/// access log when the site is behind the gateway (that log holds every
/// routed site's requests).
pub fn site_logs(plan: &Plan, data_dir: &Path, site: &str) -> Vec<PathBuf> {
    let under_data = |path: &Path| {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            data_dir.join(path)
        }
    };
    let mut logs: Vec<PathBuf> = plan
        .logwatch
        .files
        .iter()
        .filter(|file| file.site.as_deref().is_none_or(|s| s == site))
        .map(|file| under_data(&file.path))
        .collect();
    let behind_gateway = plan
        .sites
        .iter()
        .any(|s| s.name == site && !s.origins.is_empty());
    if let Some(gateway) = &plan.gateway
        && behind_gateway
    {
        let path = gateway
            .access_log
            .as_deref()
            .map_or_else(|| data_dir.join(GATEWAY_ACCESS_LOG), under_data);
        logs.push(path);
    }
    logs.retain(|path| path.is_file());
    logs.dedup();
    logs
}

/// Reads every request of `logs` within `window_ms` of `around_ms` and
/// builds the timeline (all cores; blocking). Returns the requests read
/// and the timeline.
pub fn read_timeline(
    logs: &[PathBuf],
    config: &Config,
    around_ms: i64,
    window_ms: i64,
    path: Option<&str>,
) -> Result<(usize, Timeline), LogwatchError> {
    let records = records_between(logs, config, around_ms - window_ms, around_ms + window_ms)?;
    let timeline = timeline(&records, around_ms, window_ms, path);
    Ok((records.len(), timeline))
}

/// The timeline as an evidence record (`log_timeline`): the JSON, with a
/// readable summary in its metadata.
pub fn timeline_evidence(
    site: &str,
    logs: &[PathBuf],
    requests_read: usize,
    timeline: &Timeline,
) -> EvidenceInput {
    let text = timeline.to_text();
    EvidenceInput {
        kind: "log_timeline".into(),
        content: serde_json::to_vec_pretty(timeline).unwrap_or_default(),
        media_type: "application/json".into(),
        captured_at: jiff::Timestamp::now().as_millisecond(),
        metadata: serde_json::json!({
            "site": site,
            "around_ms": timeline.around_ms,
            "from_ms": timeline.from_ms,
            "to_ms": timeline.to_ms,
            "path": timeline.path,
            "logs": logs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "requests_read": requests_read,
            "suspects": timeline.suspects.len(),
            "summary": text.lines().take(40).collect::<Vec<_>>().join("\n"),
        }),
    }
}

/// Reads the timeline of `site` around `around_ms` (the window reaching
/// `before_ms` back and up to now) and attaches it to the incident, in the
/// background of the caller. Returns a line for the timeline of the step.
pub async fn attach_site_timeline(
    store: &Store,
    plan: &Plan,
    incident_id: i64,
    site: &str,
    around_ms: i64,
    window_ms: i64,
    actor: &str,
) -> Result<String, String> {
    let logs = site_logs(plan, store.data_dir(), site);
    if logs.is_empty() {
        return Ok(format!(
            "no access log of {site} to read (the gateway's, or [[logwatch.files]])"
        ));
    }
    let config = plan.logwatch.config();
    let read = logs.clone();
    let (requests, timeline) = tokio::task::spawn_blocking(move || {
        read_timeline(&read, &config, around_ms, window_ms, None)
    })
    .await
    .map_err(|error| format!("reading the logs: {error}"))?
    .map_err(|error| format!("reading the logs: {error}"))?;
    let evidence = timeline_evidence(site, &logs, requests, &timeline);
    let id = store
        .attach_evidence(
            incident_id,
            &evidence,
            actor,
            "access-log timeline around the incident",
        )
        .await
        .map_err(|error| format!("attaching the timeline: {error}"))?;
    Ok(format!(
        "access-log timeline of {site} attached as evidence #{id}: {requests} requests read from {} log(s), {} suspect(s)",
        logs.len(),
        timeline.suspects.len()
    ))
}
