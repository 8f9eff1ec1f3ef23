//! `sitewarden serve`: the probe loop, the incident runner and a guard
//! watcher for every web root of the plan, and the gateway when the plan
//! has one, until Ctrl-C or SIGTERM; SIGHUP reloads the gateway's
//! configuration from the plan.

use super::guard::print_guard_report;
use super::{load_plan, open_store_with_plan};
use crate::output;
use anyhow::Context;
use sitewarden_guard::{GuardData, GuardReport, PageMap, RelPath, WatchConfig, guard_root};
use sitewarden_monitor::{DrillRegistry, Monitor, MonitorEvent};
use sitewarden_plan::{Plan, Site, WebRoot};
use sitewarden_runner::Runner;
use sitewarden_store::Store;
use std::path::Path;
use std::process::ExitCode;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Runs the monitor until interrupted; the checks in flight are recorded
/// before it exits.
pub async fn run(plan_path: &Path, data: &Path) -> anyhow::Result<ExitCode> {
    // Taken over first, so a SIGHUP from now on reloads rather than ends
    // serve (its default action).
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot listen for SIGHUP")?;
    let plan = load_plan(plan_path)?;
    // What would fail people in an incident, said where the operator
    // starting serve sees it (check-plan gives the lines).
    for warning in plan.warnings() {
        eprintln!("warning: {} {warning}", plan_path.display());
    }
    let store = open_store_with_plan(data, &plan).await?;
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None).await?;
    super::require_baselines(&monitor, plan_path, data).await?;
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
        runner.clone(),
        cancel.clone(),
    ));
    let guards = start_guards(&plan, data, &store, &runner, &cancel);
    prepare_backends(&plan).await;
    let front = match Front::start(&plan, plan_path, data, &store).await {
        Ok(front) => front,
        Err(error) => {
            cancel.cancel();
            return Err(error);
        }
    };
    let reloads = tokio::spawn(reload_gateway_on_hangup(
        hangup,
        front.gateway_reloader(),
        cancel.clone(),
    ));
    monitor.run(cancel.clone()).await;
    cancel.cancel();
    let _ = reloads.await;
    front.stop().await?;
    let _ = printer.await;
    for guard in guards {
        let _ = guard.await;
    }
    let _ = runner_task.await;
    let _ = waker.await;
    stopper.abort();
    store.close().await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Prepares the nginx and command containment backends of the plan's
/// sites (the include exists and nginx reads it; the command is
/// executable), so a missing include line shows now, not during an
/// incident. A problem is a warning: the rest of serve runs.
async fn prepare_backends(plan: &Plan) {
    use sitewarden_plan::ContainmentBackend;
    for site in &plan.sites {
        if !matches!(
            site.containment_backend(),
            ContainmentBackend::Nginx | ContainmentBackend::Command
        ) {
            continue;
        }
        let result = match sitewarden_runner::containment::build_backend(site) {
            Ok(backend) => backend.prepare().await.map_err(|error| error.to_string()),
            Err(problem) => Err(problem),
        };
        match result {
            Ok(()) => println!(
                "containment of {} ready ({})",
                site.name,
                site.containment_backend().as_str()
            ),
            Err(problem) => eprintln!(
                "warning: containment of {} ({}) is not ready: {problem}",
                site.name,
                site.containment_backend().as_str()
            ),
        }
    }
}

/// What stands in front of the sites and watches their traffic: the
/// gateway (when the plan has `[gateway]`) and live log watching of its
/// requests and the plan's `[[logwatch.files]]`.
pub struct Front {
    gateway: Option<sitewarden_gateway::GatewayHandle>,
    logwatch: Option<sitewarden_livewatch::LiveWatch>,
}

/// Lines the gateway's tap holds for live log watching before it drops.
const TAP_CAPACITY: usize = 65_536;

impl Front {
    /// Starts the gateway, then live log watching. A gateway that cannot
    /// start (its address taken, a bad certificate) stops serve:
    /// containment depends on it; so does a log file that cannot be
    /// followed.
    /// The gateway's reload re-reads `plan_path`.
    pub async fn start(
        plan: &Plan,
        plan_path: &Path,
        data: &Path,
        store: &Store,
    ) -> anyhow::Result<Front> {
        let watch_logs = plan.logwatch.enabled;
        let (tap, tap_lines) = if plan.gateway.is_some() && watch_logs {
            let (tap, lines) = sitewarden_gateway::tap::RequestTap::channel(TAP_CAPACITY);
            (Some(std::sync::Arc::new(tap)), Some(lines))
        } else {
            (None, None)
        };
        let gateway = match &plan.gateway {
            None => None,
            Some(_) => {
                let mut config = super::gateway::config_from_plan(plan, data)?;
                config.tap = tap;
                let data_dir = data.to_path_buf();
                let reloader = super::gateway::plan_reloader(plan_path, data);
                let handle = tokio::task::spawn_blocking(move || {
                    let handle = sitewarden_gateway::start(config, &data_dir, Some(reloader))?;
                    handle.wait_ready(std::time::Duration::from_secs(10))?;
                    Ok::<_, sitewarden_gateway::GatewayError>(handle)
                })
                .await?
                .map_err(|error| anyhow::anyhow!("the gateway cannot start: {error}"))?;
                for addr in handle.listen() {
                    println!("gateway listening on {addr}");
                }
                Some(handle)
            }
        };
        let logwatch =
            match sitewarden_livewatch::LiveWatch::start(plan, store.clone(), data, tap_lines) {
                Ok(logwatch) => logwatch,
                Err(problem) => {
                    if let Some(gateway) = gateway {
                        tokio::task::spawn_blocking(move || gateway.stop()).await?;
                    }
                    anyhow::bail!("live log watching cannot start: {problem}");
                }
            };
        if let Some(logwatch) = &logwatch {
            println!("watching access logs: {}", logwatch.watching.join("; "));
        }
        Ok(Front { gateway, logwatch })
    }

    /// The running gateway's reload (from the plan), for SIGHUP.
    pub fn gateway_reloader(
        &self,
    ) -> Option<std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>> {
        self.gateway.as_ref().map(|gateway| gateway.reloader())
    }

    /// Stops the gateway (in-flight requests finish), then log watching
    /// (the offsets are saved, what it found is recorded).
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(gateway) = self.gateway {
            tokio::task::spawn_blocking(move || gateway.stop()).await?;
        }
        if let Some(logwatch) = self.logwatch {
            let stats = logwatch.stop().await;
            println!(
                "log watching stopped: {} requests read, {} attacks, {} floods, {} signals, {} addresses blocked",
                stats.watch.requests,
                stats.recorder.attacks,
                stats.recorder.floods,
                stats.recorder.signals,
                stats.recorder.blocks
            );
        }
        Ok(())
    }
}

/// Reloads the gateway's configuration from the plan on every SIGHUP
/// (routes, trusted proxies, allow- and blocklist, limits, approved files),
/// without dropping a connection, until serve stops. The rest of serve
/// keeps the plan it started with. A plan that does not load, or gives no
/// valid gateway configuration, is refused and the running one stays.
async fn reload_gateway_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    reload: Option<std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            received = hangup.recv() => if received.is_none() { return },
        }
        let Some(reload) = reload.clone() else {
            println!(
                "SIGHUP: the plan has no [gateway] to reload; restart serve for other changes"
            );
            continue;
        };
        // The plan is read and origins resolved on a blocking thread.
        match tokio::task::spawn_blocking(move || reload()).await {
            Ok(Ok(())) => println!("gateway configuration reloaded from the plan"),
            Ok(Err(problem)) => {
                eprintln!("gateway reload refused, the running configuration stays: {problem}")
            }
            Err(error) => eprintln!("gateway reload failed: {error}"),
        }
    }
}

/// Starts a guard watcher for every web root of the plan that has an
/// approved version, on the store serve opened (so each repair runs the
/// incident engine and its notifications, like a probe signal), with its
/// files mapped to the site's pages, and with the same cancellation token.
/// A root that cannot be guarded (missing, no approved version, already
/// guarded by a `guard watch`) is reported on stderr and skipped; the probe
/// loop and the other roots carry on.
fn start_guards(
    plan: &Plan,
    data: &Path,
    store: &Store,
    runner: &Runner,
    cancel: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if plan.web_roots().next().is_none() {
        return tasks;
    }
    let guard = match GuardData::open(data) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!(
                "warning: web roots not guarded: cannot open the guard's data in {}: {error}",
                data.display()
            );
            return tasks;
        }
    };
    for (site, web_root) in plan.web_roots() {
        let label = format!("[guard {}] ", site.name);
        if !ready_to_guard(&guard, data, site, web_root) {
            continue;
        }
        let mut config = WatchConfig::new(&web_root.path);
        config.rescan_interval = plan.guard.rescan_interval();
        let runner = runner.clone();
        let root = web_root.path.clone();
        let task = guard_root(
            guard.clone(),
            config,
            Some(site.name.clone()),
            PageMap::for_site(site),
            store.clone(),
            cancel.clone(),
            move |report| {
                print_guard_report(&label, &report);
                if let GuardReport::Raised { .. } = report {
                    runner.wake();
                }
            },
        );
        tasks.push(tokio::spawn(async move {
            match task.await {
                Ok(summary) if summary.raise_failures > 0 => eprintln!(
                    "error: {} repair(s) of {} could not be recorded in the store",
                    summary.raise_failures,
                    root.display()
                ),
                Ok(_) => {}
                Err(error) => eprintln!(
                    "error: stopped guarding {}: {error}; the probe loop goes on",
                    root.display()
                ),
            }
        }));
    }
    tasks
}

/// Whether `web_root` can be guarded now; says why not on stderr. Also
/// warns when the approved version was recorded with other upload
/// directories, excludes or site than the plan's (the recorded ones are
/// enforced until the next `guard baseline` or `guard publish`).
fn ready_to_guard(guard: &GuardData, data: &Path, site: &Site, web_root: &WebRoot) -> bool {
    let root = web_root.path.display();
    let baseline_command = || {
        let mut command = format!(
            "sitewarden guard baseline --data {} --root {root} --site {}",
            data.display(),
            site.name
        );
        for dir in &web_root.upload_dirs {
            command.push_str(&format!(" --upload-dir '{dir}'"));
        }
        for pattern in &web_root.exclude {
            command.push_str(&format!(" --exclude '{pattern}'"));
        }
        command
    };
    let root_data = match guard.root(&web_root.path) {
        Ok((root_data, _)) => root_data,
        Err(error) => {
            eprintln!(
                "warning: web root {root} of site {} is not guarded: {error}",
                site.name
            );
            return false;
        }
    };
    let manifest = match root_data.current() {
        Ok(Some(version)) => root_data.load(version),
        Ok(None) => {
            eprintln!(
                "warning: web root {root} of site {} is not guarded: it has no approved version; \
                 run `{}` first",
                site.name,
                baseline_command()
            );
            return false;
        }
        Err(error) => Err(error),
    };
    let manifest = match manifest {
        Ok(manifest) => manifest,
        Err(error) => {
            eprintln!(
                "warning: web root {root} of site {} is not guarded: {error}",
                site.name
            );
            return false;
        }
    };
    let planned_uploads: Option<Vec<RelPath>> = web_root
        .upload_dirs
        .iter()
        .map(|dir| RelPath::parse(dir.trim_matches('/')).ok())
        .collect();
    let mut recorded_uploads = manifest.upload_dirs.clone();
    recorded_uploads.sort();
    let mut recorded_excludes = manifest.excludes.clone();
    recorded_excludes.sort();
    let mut planned_excludes = web_root.exclude.clone();
    planned_excludes.sort();
    let uploads_differ = planned_uploads.is_none_or(|mut planned| {
        planned.sort();
        planned != recorded_uploads
    });
    if uploads_differ || planned_excludes != recorded_excludes {
        eprintln!(
            "warning: web root {root}: the approved version {} was recorded with upload \
             directories [{}] and excludes [{}], the plan says [{}] and [{}]; the recorded \
             ones are enforced until `{}` approves the root again",
            manifest.version,
            recorded_uploads
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            recorded_excludes.join(", "),
            web_root.upload_dirs.join(", "),
            web_root.exclude.join(", "),
            baseline_command()
        );
    }
    if manifest.site != site.name {
        eprintln!(
            "warning: web root {root} was approved for site {}; its repairs are signalled on \
             the plan's site {}",
            manifest.site, site.name
        );
    }
    true
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
