//! Detection → first notification, end to end: the invented sample sites on
//! loopback, the probe loop checking every second, the incident runner and
//! the dispatcher, and the duty-room webhook receiver. Each round defaces
//! the portal home page (a drill), takes the moment the probe's check says
//! `defaced` as detection, and measures until the first message of that
//! incident reaches the receiver; then puts the page back and waits for
//! the recovery. Prints one JSON line with the figures.
//!
//! Usage: sitewarden-bench-notify [ROUNDS]   (default 20; bounded: each
//! round times out after 30 s)

use sitewarden_analysis::Verdict;
use sitewarden_demo_sites::{
    DutyRoom, Encoding, SampleSite, SiteServer, Variant, loopback_plan_options,
};
use sitewarden_monitor::{DrillRegistry, Monitor, MonitorEvent, approve_baseline, now_ms};
use sitewarden_plan::{Plan, sample_plan_with};
use sitewarden_runner::Runner;
use sitewarden_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20);
    let portal = SiteServer::start(SampleSite::Portal, Encoding::Utf8).await?;
    let procurement = SiteServer::start(SampleSite::Procurement, Encoding::Gbk).await?;
    let duty_room = DutyRoom::start("bench-secret").await?;
    let text = sample_plan_with(&loopback_plan_options(
        &[&portal, &procurement],
        1,
        Some(&duty_room),
    ));
    let plan = Arc::new(Plan::from_toml_str(&text).map_err(|errors| anyhow::anyhow!("{errors}"))?);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?.with_plan(plan.clone())?;
    let drills = DrillRegistry::default();
    let monitor = Monitor::new(&plan, store.clone(), drills.clone(), None).await?;
    for target in &monitor.targets().pages {
        approve_baseline(
            monitor.prober(),
            monitor.targets(),
            target,
            &store,
            "bench",
            now_ms(),
        )
        .await?;
    }
    let (runner, problems) = Runner::new(store.clone(), plan.clone())?;
    anyhow::ensure!(problems.is_empty(), "{problems:?}");

    let cancel = CancellationToken::new();
    let mut events = monitor.subscribe();
    let mut wake_events = monitor.subscribe();
    let mut messages = duty_room.subscribe();
    let tasks = [
        tokio::spawn({
            let monitor = monitor.clone();
            let cancel = cancel.clone();
            async move { monitor.run(cancel).await }
        }),
        tokio::spawn({
            let runner = runner.clone();
            let cancel = cancel.clone();
            async move { runner.run(cancel).await }
        }),
        tokio::spawn({
            // What `sitewarden serve` does: wake the runner on a new incident.
            let runner = runner.clone();
            let cancel = cancel.clone();
            async move {
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        event = wake_events.recv() => match event {
                            Ok(MonitorEvent::IncidentOpened { .. }) => runner.wake(),
                            Err(broadcast::error::RecvError::Closed) => return,
                            _ => {}
                        }
                    }
                }
            }
        }),
    ];
    drills.start("portal", "notification latency bench");

    let mut latencies_ms: Vec<f64> = Vec::with_capacity(rounds);
    for round in 0..rounds {
        portal.set_variant(Variant::HackedTitle);
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        // Detection: the check that says defaced.
        let (detected, incident_id) = loop {
            let event = tokio::time::timeout_at(deadline, events.recv()).await??;
            if let MonitorEvent::Checked {
                site,
                page,
                verdict: Verdict::Defaced,
                ..
            } = &event
                && site == "portal"
                && page == "home"
            {
                let detected = Instant::now();
                let incident_id = loop {
                    if let MonitorEvent::IncidentOpened { incident_id, .. } =
                        tokio::time::timeout_at(deadline, events.recv()).await??
                    {
                        break incident_id;
                    }
                };
                break (detected, incident_id);
            }
        };
        let prefix = format!("incident-{incident_id}/");
        loop {
            let message = tokio::time::timeout_at(deadline, messages.recv()).await??;
            if message.id.starts_with(&prefix) {
                latencies_ms.push(detected.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        portal.set_variant(Variant::Normal);
        loop {
            if let MonitorEvent::Recovered {
                incident_id: id, ..
            } = tokio::time::timeout_at(deadline, events.recv()).await??
                && id == incident_id
            {
                break;
            }
        }
        eprintln!("round {}: {:.1} ms", round + 1, latencies_ms[round]);
    }
    cancel.cancel();
    for task in tasks {
        let _ = task.await;
    }
    let mut sorted = latencies_ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "rounds": rounds,
            "median_ms": pick(0.5),
            "p95_ms": pick(0.95),
            "max_ms": sorted.last(),
            "min_ms": sorted.first(),
            "target_ms": 2000,
        })
    );
    Ok(())
}
