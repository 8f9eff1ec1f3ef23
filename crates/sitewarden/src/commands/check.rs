//! `sitewarden check --once`: every page once, a table or one JSON document.

use super::{load_plan, open_store_with_plan};
use crate::output;
use sitewarden_analysis::Verdict;
use sitewarden_monitor::{DrillRegistry, Monitor, MonitorEvent};
use std::path::Path;
use std::process::ExitCode;

/// Checks every page once; exit 0 when all are clean or changed, 2 when any
/// is defaced, down or cut off, 1 on error.
pub async fn run(plan_path: &Path, data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plan = load_plan(plan_path)?;
    let store = open_store_with_plan(data, &plan).await?;
    // One attempt per page, so one failed fetch is already "down".
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), Some(1)).await?;
    super::require_baselines(&monitor, plan_path, data).await?;
    let mut events = monitor.subscribe();
    let outcomes = monitor.check_all_once().await;
    // Pages that could not be checked at all (a store failure) were reported
    // as events; they make the run an error.
    let mut errors = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let MonitorEvent::Error {
            site,
            page,
            message,
        } = event
        {
            errors.push(format!("{site}/{page}: {message}"));
        }
    }
    store.close().await;

    if json {
        let document = serde_json::json!({ "pages": outcomes, "errors": errors });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        for outcome in &outcomes {
            println!(
                "{} {:<24} {:>3}  {}",
                output::verdict(outcome.verdict),
                format!("{}/{}", outcome.site, outcome.page),
                outcome.score,
                outcome.url
            );
            for reason in &outcome.reasons {
                println!("           - {reason}");
            }
            if let Some(id) = outcome.incident_id {
                println!("           → incident #{id}");
            }
        }
        for error in &errors {
            eprintln!("error: {error}");
        }
    }
    if !errors.is_empty() {
        return Ok(ExitCode::from(1));
    }
    let alarming = outcomes.iter().any(|outcome| {
        matches!(
            outcome.verdict,
            Verdict::Defaced | Verdict::Down | Verdict::Contained
        )
    });
    Ok(if alarming {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
