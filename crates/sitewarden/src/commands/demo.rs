//! `sitewarden demo`: the whole pipeline on invented sample sites on
//! loopback — a plan, approved baselines, the probe loop, a defacement drill
//! that opens an incident with evidence, and the page put back.

use super::serve::{cancel_on_signal, describe};
use sitewarden_analysis::Verdict;
use sitewarden_demo_sites::{
    DutyMessage, DutyRoom, Encoding, SampleSite, SiteServer, Variant, loopback_plan_options,
};
use sitewarden_incident::Command;
use sitewarden_monitor::{DrillRegistry, Monitor, MonitorEvent, approve_baseline, now_ms};
use sitewarden_plan::{Plan, PlaybookAction, Role, SampleGateway, sample_plan_with};
use sitewarden_runner::Runner;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The demo's check interval: short, so the drill plays out in seconds.
const DEMO_INTERVAL_SECONDS: u32 = 2;
/// How long any one step of the drill may take before the demo says it failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the demo. With `exit_after_drill`, stops when the drill is over;
/// otherwise keeps watching until Ctrl-C.
pub async fn run(dir: Option<PathBuf>, exit_after_drill: bool) -> anyhow::Result<ExitCode> {
    let dir = match dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("sitewarden-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");

    let portal = SiteServer::start(SampleSite::Portal, Encoding::Utf8).await?;
    // The sub-site is served in GBK, as many Chinese government sites still are.
    let procurement = SiteServer::start(SampleSite::Procurement, Encoding::Gbk).await?;
    // Every notification goes to this screen on loopback, never to the
    // sample plan's invented channel hosts.
    let duty_room = DutyRoom::start("demo-duty-room-secret").await?;
    // The gateway in front of both sample sites, on a free loopback port.
    let gateway_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut options = loopback_plan_options(
        &[&portal, &procurement],
        DEMO_INTERVAL_SECONDS,
        Some(&duty_room),
    );
    // Its sites are served from memory: no directory here for the guard.
    options.without_web_root = true;
    options.gateway = Some(SampleGateway {
        listen: gateway_addr.to_string(),
        origins: [&portal, &procurement]
            .iter()
            .map(|site| (site.host().to_string(), format!("http://{}", site.addr())))
            .collect(),
    });
    let plan_path = dir.join("sitewarden.toml");
    std::fs::write(&plan_path, sample_plan_with(&options))?;
    let plan = super::load_plan(&plan_path)?;
    println!("sitewarden demo — everything below is invented sample data, on loopback only");
    println!(
        "  sample portal    http://{}/ (served on {}, UTF-8)",
        portal.host(),
        portal.addr()
    );
    println!(
        "  sample sub-site  http://{}/ (served on {}, GBK)",
        procurement.host(),
        procurement.addr()
    );
    println!(
        "  gateway          http://{gateway_addr}/ in front of both (Host header picks the site)"
    );
    println!(
        "  duty-room screen {} (every notification lands here)",
        duty_room.url()
    );
    println!("  plan             {}", plan_path.display());
    println!("  data             {}", data.display());
    println!();

    let store = super::open_store_with_plan(&data, &plan).await?;
    let drills = DrillRegistry::default();
    let monitor = Monitor::new(&plan, store.clone(), drills.clone(), None).await?;
    approve_all(&monitor, &store, &plan).await?;
    let front = super::serve::Front::start(&plan, &plan_path, &data, &store).await?;
    println!();

    let cancel = CancellationToken::new();
    // One receiver both prints and drives the drill, so what the terminal
    // shows is in the order things happened.
    let mut events = monitor.subscribe();
    let stopper = tokio::spawn(cancel_on_signal(cancel.clone()));
    let loop_monitor = monitor.clone();
    let loop_cancel = cancel.clone();
    let probe_loop = tokio::spawn(async move { loop_monitor.run(loop_cancel).await });
    let (runner, problems) = Runner::new(store.clone(), std::sync::Arc::new(plan.clone()))?;
    for problem in problems {
        println!("warning: {problem}");
    }
    let runner_task = tokio::spawn({
        let runner = runner.clone();
        let cancel = cancel.clone();
        async move { runner.run(cancel).await }
    });
    let waker = tokio::spawn(super::serve::wake_runner_on_incidents(
        monitor.subscribe(),
        runner.clone(),
        cancel.clone(),
    ));
    let screen = tokio::spawn(print_duty_room(duty_room.subscribe(), cancel.clone()));
    let mut notifications = duty_room.subscribe();

    let drill = tokio::select! {
        result = drill(&portal, &drills, &mut events, &mut notifications, Contained {
            gateway: gateway_addr,
            store: &store,
            plan: &plan,
        }) => Some(result),
        _ = cancel.cancelled() => None,
    };
    let drill = match drill {
        Some(Ok(incident_id)) => tokio::select! {
            result = scanner_drill(gateway_addr, &store, portal.host()) => {
                Some(result.map(|()| incident_id))
            }
            _ = cancel.cancelled() => None,
        },
        other => other,
    };
    let outcome = match drill {
        Some(Ok(incident_id)) => {
            println!();
            println!(
                "drill complete: the defacement was found, incident #{incident_id} opened with its evidence, and the page restored."
            );
            println!(
                "  see it:          sitewarden incident show {incident_id} --plan {} --data {}",
                plan_path.display(),
                data.display()
            );
            println!(
                "  all incidents:   sitewarden incident list --plan {} --data {}",
                plan_path.display(),
                data.display()
            );
            println!(
                "  site status:     sitewarden status --plan {} --data {}",
                plan_path.display(),
                data.display()
            );
            println!(
                "  evidence intact: sitewarden evidence verify --data {}",
                data.display()
            );
            if !exit_after_drill {
                println!();
                println!("still watching; Ctrl-C stops.");
                super::serve::print_events(events, cancel.clone()).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(error)) => Err(error),
        None => Ok(ExitCode::SUCCESS),
    };
    cancel.cancel();
    front.stop().await?;
    let _ = probe_loop.await;
    let _ = runner_task.await;
    let _ = waker.await;
    let _ = screen.await;
    stopper.abort();
    duty_room.shutdown().await;
    store.close().await;
    portal.shutdown().await;
    procurement.shutdown().await;
    println!("demo stopped; its files stay in {}", dir.display());
    outcome
}

async fn approve_all(
    monitor: &Monitor,
    store: &sitewarden_store::Store,
    plan: &Plan,
) -> anyhow::Result<()> {
    println!(
        "approving baselines for {} pages of \"{}\":",
        monitor.targets().pages.len(),
        plan.organisation.name
    );
    for target in &monitor.targets().pages {
        let approved = approve_baseline(
            monitor.prober(),
            monitor.targets(),
            target,
            store,
            "demo",
            now_ms(),
        )
        .await?;
        println!(
            "  {}/{} version {} ({} text blocks, {} volatile regions learned, {})",
            approved.site,
            approved.page,
            approved.version,
            approved.blocks,
            approved.learned_volatile,
            approved.encoding
        );
    }
    Ok(())
}

/// Where the drill watches containment happen.
struct Contained<'a> {
    gateway: SocketAddr,
    store: &'a sitewarden_store::Store,
    plan: &'a Plan,
}

/// The scripted drill: two clean rounds, the defacement, the incident with
/// its evidence, the site cut off at the gateway, the page put back, the
/// incident recovered, the site reopened.
async fn drill(
    portal: &SiteServer,
    drills: &DrillRegistry,
    events: &mut broadcast::Receiver<MonitorEvent>,
    notifications: &mut broadcast::Receiver<DutyMessage>,
    contained: Contained<'_>,
) -> anyhow::Result<i64> {
    let mut clean_checks = 0;
    wait_for(
        events,
        "two clean checks of the portal home page",
        |event| {
            if let MonitorEvent::Checked {
                site,
                page,
                verdict: Verdict::Clean,
                ..
            } = event
                && site == "portal"
                && page == "home"
            {
                clean_checks += 1;
            }
            clean_checks >= 2
        },
    )
    .await?;

    println!();
    println!(
        ">>> 演练 DRILL: an attacker plants hidden gambling links (暗链) on the portal home page"
    );
    println!();
    drills.start("portal", "demo defacement drill");
    portal.set_variant(Variant::HiddenGamblingLinks);

    let mut incident = None;
    let mut evidence_seen = false;
    wait_for(events, "the incident with its evidence", |event| {
        match event {
            MonitorEvent::IncidentOpened {
                incident_id, site, ..
            } if site == "portal" => incident = Some(*incident_id),
            MonitorEvent::EvidenceStored { incident_id, .. } if Some(*incident_id) == incident => {
                evidence_seen = true
            }
            _ => {}
        }
        incident.is_some() && evidence_seen
    })
    .await?;
    let incident_id = incident.expect("waited for it");
    let opened = tokio::time::Instant::now();
    let notified = tokio::time::timeout(STEP_TIMEOUT, async {
        loop {
            match notifications.recv().await {
                // The escalation chain's messages (not the approval
                // requests to the commanders): its first step is the
                // duty officer.
                Ok(message)
                    if message
                        .id
                        .starts_with(&format!("incident-{incident_id}/chain:")) =>
                {
                    return Some(message);
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| {
        anyhow::anyhow!("no notification reached the duty room within {STEP_TIMEOUT:?}")
    })?;
    println!(
        ">>> the duty officer ({}) was notified {} ms after the incident opened",
        notified.recipient,
        opened.elapsed().as_millis()
    );

    // The playbook cuts the site off by itself: visitors through the
    // gateway get the maintenance page.
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while gateway_status(contained.gateway, portal.host()).await? != 503 {
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the gateway did not cut the portal off within {STEP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        ">>> 切断 CONTAIN: visitors through the gateway now get the maintenance page (503), {} ms after the incident opened",
        opened.elapsed().as_millis()
    );

    println!();
    println!(">>> 恢复 RESTORE: the approved page is put back");
    println!();
    portal.set_variant(Variant::Normal);
    wait_for(events, "the portal to check clean again", |event| {
        matches!(event, MonitorEvent::Recovered { incident_id: id, .. } if *id == incident_id)
    })
    .await?;
    drills.stop("portal");

    // Reopening waits for a commander's instruction (PLAN §5): here the
    // demo's leader gives it, and the playbook carries it out.
    let incident = contained
        .store
        .engine_incident(incident_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("incident #{incident_id} has no engine state"))?;
    let request = incident
        .approvals
        .iter()
        .position(|r| r.action == PlaybookAction::ReopenSite && r.answer.is_none())
        .ok_or_else(|| anyhow::anyhow!("no approval of reopen_site was asked"))?;
    let leader = contained
        .plan
        .roster
        .iter()
        .find(|person| person.roles.contains(&Role::Leader))
        .map_or_else(|| "组长".to_string(), |person| person.name.clone());
    contained
        .store
        .apply_command(
            incident_id,
            Command::AnswerApproval {
                request,
                approved: true,
                roles: vec![Role::Leader],
                note: "网页已恢复并复核，同意恢复对外服务（演练）".into(),
            },
            &leader,
            jiff::Timestamp::now(),
        )
        .await
        .map_err(|error| anyhow::anyhow!("approving the reopening: {error}"))?;
    println!(
        ">>> 批准 APPROVE: {leader} (leader) approves reopening the site: `sitewarden incident approve {incident_id} --request {request} --by {leader}`"
    );
    let approved = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let status = loop {
        let status = gateway_status(contained.gateway, portal.host()).await?;
        if status != 503 {
            break status;
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the playbook did not reopen the portal within {STEP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        ">>> 恢复服务 REOPEN: the playbook reopened the portal {} ms after the approval — the gateway answers {status} again",
        approved.elapsed().as_millis()
    );
    Ok(incident_id)
}

/// The second drill: a scanner (127.0.0.9) sends SQL injection probes to
/// the portal through the gateway; live log watching sees them in the
/// gateway's requests and blocks the address at the gateway.
async fn scanner_drill(
    gateway: SocketAddr,
    store: &sitewarden_store::Store,
    host: &str,
) -> anyhow::Result<()> {
    let scanner: std::net::IpAddr = [127, 0, 0, 9].into();
    println!();
    println!(
        ">>> 演练 DRILL 2: a scanner at {scanner} probes the portal through the gateway with SQL injection"
    );
    let started = std::time::Instant::now();
    for probe in 1..=3 {
        let target = format!("/news.php?id=-{probe}%20union%20select%201,2,3--");
        let status = gateway_status_from(gateway, Some(scanner), host, &target).await;
        println!(
            "    GET {target} → {}",
            status.map_or_else(|_| "refused".to_string(), |code| code.to_string())
        );
    }
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let block = loop {
        let blocks = store.active_blocks(now_ms()).await?;
        if let Some(block) = blocks.into_iter().find(|b| b.net.starts_with("127.0.0.9")) {
            break block;
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("live log watching did not block the scanner within {STEP_TIMEOUT:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    println!(
        ">>> 封禁 BLOCKED: {} at the gateway {} ms after the first probe, until {} — {}",
        block.net,
        started.elapsed().as_millis(),
        block
            .until_ms
            .map(crate::output::time)
            .unwrap_or_else(|| "lifted by hand".into()),
        block.reason
    );
    let again = gateway_status_from(gateway, Some(scanner), host, "/").await;
    println!(
        "    its next request: {}; everyone else: {}",
        again.map_or_else(
            |_| "refused at the gateway".to_string(),
            |code| code.to_string()
        ),
        gateway_status(gateway, host).await?
    );
    Ok(())
}

/// The status the gateway answers for `host`'s home page (HTTP/1.0, so
/// the answer ends with the connection).
async fn gateway_status(gateway: SocketAddr, host: &str) -> anyhow::Result<u16> {
    gateway_status_from(gateway, None, host, "/").await
}

/// The status the gateway answers for `target` on `host`, asked from
/// `source` (a loopback address) when given.
async fn gateway_status_from(
    gateway: SocketAddr,
    source: Option<std::net::IpAddr>,
    host: &str,
    target: &str,
) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let mut stream = socket.connect(gateway).await?;
    stream
        .write_all(
            format!("GET {target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: demo-scanner\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    answer
        .get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("the gateway sent no HTTP status"))
}

/// Prints events as they come until `done` says so, or fails after [`STEP_TIMEOUT`].
async fn wait_for(
    events: &mut broadcast::Receiver<MonitorEvent>,
    what: &str,
    mut done: impl FnMut(&MonitorEvent) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| anyhow::anyhow!("the demo waited {STEP_TIMEOUT:?} for {what} in vain"))?;
        match event {
            Ok(event) => {
                println!("{}", describe(&event));
                if done(&event) {
                    return Ok(());
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => {
                anyhow::bail!("the monitor stopped before {what}")
            }
        }
    }
}

/// Prints every notification the duty room receives.
async fn print_duty_room(
    mut messages: broadcast::Receiver<DutyMessage>,
    cancel: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            message = messages.recv() => message,
            _ = cancel.cancelled() => return,
        };
        match message {
            Ok(message) => println!(
                "{} NOTIFIED {} (duty-room webhook): {}",
                crate::output::time(sitewarden_monitor::now_ms()),
                message.recipient,
                message.subject
            ),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
