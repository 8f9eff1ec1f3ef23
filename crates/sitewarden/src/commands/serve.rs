//! `sitewarden serve`: the probe loop, until Ctrl-C or SIGTERM.

use super::{load_plan, open_store_with_plan};
use crate::output;
use sitewarden_monitor::{DrillRegistry, Monitor, MonitorEvent};
use sitewarden_runner::Runner;
use std::path::Path;
use std::process::ExitCode;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Runs the monitor until interrupted; the checks in flight are recorded
/// before it exits.
pub async fn run(plan_path: &Path, data: &Path) -> anyhow::Result<ExitCode> {
    let plan = load_plan(plan_path)?;
    let store = open_store_with_plan(data, &plan).await?;
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None).await?;
    let missing = monitor.pages_without_baseline().await?;
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|(site, page)| format!("{site}/{page}"))
            .collect();
        anyhow::bail!(
            "no approved baseline for {}: run `sitewarden baseline --plan {} --data {}` first",
            names.join(", "),
            plan_path.display(),
            data.display()
        );
    }
    println!(
        "watching {} page{} of {} site{}; data in {}; Ctrl-C stops",
        monitor.targets().pages.len(),
        if monitor.targets().pages.len() == 1 {
            ""
        } else {
            "s"
        },
        plan.sites.len(),
        if plan.sites.len() == 1 { "" } else { "s" },
        data.display()
    );
    let cancel = CancellationToken::new();
    let (runner, problems) = Runner::new(store.clone(), std::sync::Arc::new(plan.clone()))?;
    for problem in &problems {
        eprintln!("warning: {problem}; its messages will wait in the outbox as dead letters");
    }
    let printer = tokio::spawn(print_events(monitor.subscribe(), cancel.clone()));
    let stopper = tokio::spawn(cancel_on_signal(cancel.clone()));
    let runner_task = tokio::spawn({
        let runner = runner.clone();
        let cancel = cancel.clone();
        async move { runner.run(cancel).await }
    });
    let waker = tokio::spawn(wake_runner_on_incidents(
        monitor.subscribe(),
        runner,
        cancel.clone(),
    ));
    monitor.run(cancel.clone()).await;
    cancel.cancel();
    let _ = printer.await;
    let _ = runner_task.await;
    let _ = waker.await;
    stopper.abort();
    store.close().await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Wakes the incident runner when a signal opens or joins an incident, so
/// the first notification does not wait for the next tick.
pub async fn wake_runner_on_incidents(
    mut events: broadcast::Receiver<MonitorEvent>,
    runner: Runner,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = cancel.cancelled() => return,
        };
        match event {
            Ok(MonitorEvent::IncidentOpened { .. } | MonitorEvent::SignalAttached { .. }) => {
                runner.wake()
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Cancels the token on Ctrl-C or SIGTERM.
pub async fn cancel_on_signal(cancel: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
        _ = cancel.cancelled() => return,
    }
    cancel.cancel();
}

/// Prints monitor events as lines until cancelled and the channel drains.
pub async fn print_events(
    mut events: broadcast::Receiver<MonitorEvent>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = cancel.cancelled() => break,
        };
        match event {
            Ok(event) => println!("{}", describe(&event)),
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                println!("({skipped} events not shown: output could not keep up)")
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// One event as one readable line (or a few).
pub fn describe(event: &MonitorEvent) -> String {
    let now = output::time(sitewarden_monitor::now_ms());
    match event {
        MonitorEvent::Checked {
            site,
            page,
            verdict,
            score,
            reasons,
            response_ms,
            drill,
        } => {
            let mut line = format!(
                "{now} {} {:<22} score {:>3}{}{}",
                output::verdict(*verdict),
                format!("{site}/{page}"),
                score,
                response_ms
                    .map(|ms| format!("  {ms} ms"))
                    .unwrap_or_default(),
                if *drill { "  [演练 drill]" } else { "" }
            );
            for reason in reasons
                .iter()
                .filter(|_| *score > 0 || *verdict != sitewarden_analysis::Verdict::Clean)
            {
                line.push_str(&format!("\n{:>20}- {reason}", ""));
            }
            line
        }
        MonitorEvent::IncidentOpened {
            incident_id, title, ..
        } => format!("{now} INCIDENT #{incident_id} opened: {title}"),
        MonitorEvent::SignalAttached {
            incident_id,
            site,
            page,
        } => format!("{now} incident #{incident_id}: new signal from {site}/{page}"),
        MonitorEvent::EvidenceStored { incident_id, items } => {
            let mut line = format!("{now} incident #{incident_id}: evidence stored");
            for (kind, sha256, size) in items {
                line.push_str(&format!(
                    "\n{:>20}- {kind}: sha256 {sha256} ({size} bytes)",
                    ""
                ));
            }
            line
        }
        MonitorEvent::Recovered { incident_id, site } => {
            format!(
                "{now} incident #{incident_id}: {site} is back to its approved content — recovered"
            )
        }
        MonitorEvent::Error {
            site,
            page,
            message,
        } => format!("{now} error {site}/{page}: {message}"),
    }
}
