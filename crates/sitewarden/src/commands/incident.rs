//! `sitewarden incident list|show`.

use super::open_existing_store;
use crate::output;
use sitewarden_store::{IncidentDetail, IncidentSummary};
use std::path::Path;
use std::process::ExitCode;

fn summary_json(incident: &IncidentSummary) -> serde_json::Value {
    serde_json::json!({
        "id": incident.id,
        "site": incident.site,
        "kind": incident.kind,
        "title": incident.title,
        "category": incident.category,
        "subcategory": incident.subcategory,
        "state": incident.state.as_str(),
        "drill": incident.drill,
        "false_alarm": incident.false_alarm,
        "discovered_at_ms": incident.discovered_at,
        "updated_at_ms": incident.updated_at,
        "signals": incident.signal_count,
    })
}

/// Lists all incidents, newest first.
pub async fn list(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing_store(data).await?;
    let incidents = store.incidents().await?;
    store.close().await;
    if json {
        let list: Vec<_> = incidents.iter().map(summary_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "incidents": list }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        println!("no incidents in {}", data.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<5} {:<10} {:<12} {:<19} {:>7}  TITLE",
        "ID", "SITE", "STATE", "DISCOVERED", "SIGNALS"
    );
    for incident in &incidents {
        println!(
            "{:<5} {:<10} {:<12} {:<19} {:>7}  {}",
            incident.id,
            incident.site,
            incident.state.as_str(),
            output::time(incident.discovered_at),
            incident.signal_count,
            incident.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows one incident: classification, signals with reasons, timeline, evidence.
pub async fn show(data: &Path, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing_store(data).await?;
    let detail = store.incident(id).await?;
    let blob_paths: Vec<String> = match &detail {
        Some(detail) => detail
            .evidence
            .iter()
            .map(|item| {
                store
                    .blobs()
                    .path(&item.content_sha256)
                    .map(|path| path.display().to_string())
                    .unwrap_or_default()
            })
            .collect(),
        None => Vec::new(),
    };
    store.close().await;
    let Some(detail) = detail else {
        anyhow::bail!("no incident #{id} in {}", data.display());
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&detail_json(&detail, &blob_paths))?
        );
    } else {
        print_detail(&detail, &blob_paths);
    }
    Ok(ExitCode::SUCCESS)
}

fn detail_json(detail: &IncidentDetail, blob_paths: &[String]) -> serde_json::Value {
    serde_json::json!({
        "incident": summary_json(&detail.summary),
        "signals": detail.signals.iter().map(|signal| serde_json::json!({
            "id": signal.id,
            "page": signal.page,
            "kind": signal.kind,
            "source": signal.source,
            "score": signal.score,
            "reasons": signal.reasons,
            "observed_at_ms": signal.observed_at,
        })).collect::<Vec<_>>(),
        "timeline": detail.events.iter().map(|event| serde_json::json!({
            "at_ms": event.at,
            "actor": event.actor,
            "kind": event.kind,
            "detail": event.detail,
        })).collect::<Vec<_>>(),
        "evidence": detail.evidence.iter().zip(blob_paths).map(|(item, path)| serde_json::json!({
            "id": item.id,
            "kind": item.kind,
            "sha256": item.content_sha256,
            "size": item.size,
            "media_type": item.media_type,
            "captured_at_ms": item.captured_at,
            "metadata": item.metadata,
            "record_hash": item.record_hash,
            "path": path,
        })).collect::<Vec<_>>(),
    })
}

fn print_detail(detail: &IncidentDetail, blob_paths: &[String]) {
    let incident = &detail.summary;
    println!("incident #{}: {}", incident.id, incident.title);
    println!("  site:        {}", incident.site);
    println!(
        "  category:    {} / {} (GB/Z 20986-2007)",
        incident.category, incident.subcategory
    );
    println!(
        "  state:       {} ({})",
        incident.state.name_zh(),
        incident.state.as_str()
    );
    println!("  discovered:  {}", output::time(incident.discovered_at));
    if incident.drill {
        println!("  drill:       yes — 演练，非真实事件");
    }
    println!();
    println!("signals:");
    for signal in &detail.signals {
        println!(
            "  {} {} {} score {} ({})",
            output::time(signal.observed_at),
            signal.page.as_deref().unwrap_or("-"),
            signal.kind,
            signal.score,
            signal.source
        );
        for reason in &signal.reasons {
            println!("      - {reason}");
        }
    }
    println!();
    println!("timeline:");
    for event in &detail.events {
        println!(
            "  {} {:<13} by {}",
            output::time(event.at),
            event.kind,
            event.actor
        );
    }
    println!();
    println!("evidence:");
    for (item, path) in detail.evidence.iter().zip(blob_paths) {
        println!(
            "  #{} {} {} bytes, sha256 {}\n      {}",
            item.id, item.kind, item.size, item.content_sha256, path
        );
    }
}
