//! The runner over a real store and a real webhook receiver on loopback:
//! an incident's first notification reaches the duty officer's channel,
//! nothing is sent twice, a reminder comes before the initial-report
//! deadline and an escalation after it is missed, and an acknowledgement
//! stops the chain.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use jiff::{Timestamp, ToSpan};
use sitewarden_incident::{Command, SignalKind};
use sitewarden_plan::Plan;
use sitewarden_runner::Runner;
use sitewarden_store::{OutboxState, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

type Inbox = Arc<Mutex<Vec<serde_json::Value>>>;

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> &'static str {
    let signature = headers
        .get("x-sitewarden-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let timestamp: i64 = headers
        .get("x-sitewarden-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        signature,
        sitewarden_notify::webhook_signature("duty-room-secret", timestamp, &body)
    );
    inbox
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    "ok"
}

fn plan(url: &str) -> Plan {
    Plan::from_toml_str(&format!(
        r#"
[organisation]
name = "示例县人民政府"

[[units]]
id = "office"
name = "示例县人民政府办公室"

[[sites]]
name = "county"
title = "示例县人民政府门户网站"
importance = "重要"

[[sites.pages]]
name = "home"
url = "https://www.example.gov.test/"

[[roster]]
name = "王小明"
unit = "office"
roles = ["duty_officer"]
phone = "138-0000-0001"

[[roster]]
name = "李建国"
unit = "office"
roles = ["office_director"]
phone = "138-0000-0002"

[[roster]]
name = "张丽"
unit = "office"
roles = ["deputy_leader"]
phone = "138-0000-0003"

[[channels]]
id = "duty-room"
type = "webhook"
url = "{url}"
secret = "duty-room-secret"

[routing]
default = ["duty-room"]
"#
    ))
    .expect("valid plan")
}

#[tokio::test]
async fn the_runner_notifies_reminds_escalates_and_stops_on_acknowledgement() {
    let inbox: Inbox = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(inbox.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let plan = Arc::new(plan(&url));
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_plan(dir.path(), &plan).await;
    let (runner, problems) = Runner::new(store.clone(), plan).unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    let discovered: Timestamp = "2026-11-26T01:00:00Z".parse().unwrap();
    let incident = store
        .open_reported_incident(
            "county",
            Some("home"),
            SignalKind::Defacement,
            "首页被篡改",
            "王小明",
            discovered,
            false,
        )
        .await
        .unwrap()
        .0;

    // Detection → the duty officer's message handed to the channel.
    let started = std::time::Instant::now();
    let first = runner.tick(discovered).await.unwrap();
    assert!(first.iter().any(|done| done.messages > 0), "{first:?}");
    runner.dispatcher().deliver_due().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let received = inbox.lock().unwrap().clone();
    // The chain's first step tells the duty officer; the playbook's
    // approval steps ask the approvers (the deputy leader here) at once.
    // The site has no containment backend: the duty officer is also told
    // to cut it off by hand.
    let by_hand = received
        .iter()
        .filter(|m| m["recipient"] == "王小明")
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .contains("自动切断未生效，请立即人工切断：county")
        })
        .count();
    assert_eq!(by_hand, 1, "{received:?}");
    let to_duty_officer: Vec<_> = received
        .iter()
        .filter(|m| m["recipient"] == "王小明" && m["id"].as_str().unwrap().contains("/chain:"))
        .collect();
    assert_eq!(to_duty_officer.len(), 1, "{received:?}");
    let subject = to_duty_officer[0]["subject"].as_str().unwrap();
    assert!(
        subject.contains("首页被篡改") && subject.contains("事件通知"),
        "{subject}"
    );
    let body = to_duty_officer[0]["body"].as_str().unwrap();
    assert!(
        body.contains("初次报告：2026-11-26 09:30"),
        "times in the plan's zone: {body}"
    );
    assert!(body.contains("下一截止：初次报告"), "{body}");
    assert!(
        !body.contains("Next deadline"),
        "Chinese only unless the plan asks for English: {body}"
    );
    // An approval request tells its approver the exact command to answer it.
    let approval = received
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("请审批"))
        .unwrap_or_else(|| panic!("no approval request in {received:?}"));
    assert_eq!(approval["recipient"], "张丽");
    let approval_body = approval["body"].as_str().unwrap();
    assert!(
        approval_body.contains(&format!(
            "sitewarden incident approve {} --request ",
            incident.id
        )) && approval_body.contains(" --by 张丽"),
        "{approval_body}"
    );
    let approvals = store
        .engine_incident(incident.id)
        .await
        .unwrap()
        .unwrap()
        .approvals;
    assert!(
        !approvals.is_empty(),
        "approval requests are recorded in the incident"
    );

    // The same tick again does nothing twice.
    assert!(runner.tick(discovered).await.unwrap().is_empty());

    // 25 minutes in: the reminder before the 30-minute initial report.
    let reminders = runner.tick(discovered + 25.minutes()).await.unwrap();
    assert!(
        reminders.iter().any(|done| done.key.contains("remind")),
        "{reminders:?}"
    );

    // 31 minutes in, no report: escalated to the people above.
    let escalations = runner.tick(discovered + 31.minutes()).await.unwrap();
    assert!(
        escalations
            .iter()
            .any(|done| done.detail.starts_with("escalated: initial_report")),
        "{escalations:?}"
    );

    // An acknowledgement stops the chain's later steps.
    store
        .apply_command(
            incident.id,
            Command::Acknowledge,
            "李建国",
            discovered + 32.minutes(),
        )
        .await
        .unwrap();
    let after_ack = runner.tick(discovered + 45.minutes()).await.unwrap();
    assert!(
        after_ack
            .iter()
            .all(|done| !done.detail.starts_with("chain")),
        "{after_ack:?}"
    );

    runner.dispatcher().deliver_due().await.unwrap();
    let sent = store.messages_in_state(OutboxState::Sent).await.unwrap();
    assert_eq!(
        sent.len(),
        inbox.lock().unwrap().len(),
        "every message sent exactly once"
    );
    let timeline = store
        .engine_incident(incident.id)
        .await
        .unwrap()
        .unwrap()
        .timeline;
    assert!(
        timeline
            .events()
            .iter()
            .any(|event| event.detail.contains("message(s) to the outbox"))
    );
}

/// The store at `data`, with `plan`'s rules.
async fn store_with_plan(data: &std::path::Path, plan: &Arc<Plan>) -> Store {
    Store::open(data)
        .await
        .unwrap()
        .with_plan(plan.clone())
        .unwrap()
}

/// The playbook's automatic contain step runs the site's containment
/// command (a real script), records what it did, and marks the incident
/// contained; a command that fails leaves it uncontained and says so.
/// The probe's defacement signal for a site's home page at `at`.
fn probe_defacement(site: &str, at: Timestamp) -> sitewarden_incident::Signal {
    sitewarden_incident::Signal {
        site: site.into(),
        page: Some("home".into()),
        kind: SignalKind::Defacement,
        source: sitewarden_incident::SignalSource::Probe,
        score: 90,
        reasons: vec!["博彩内容 gambling text".into()],
        observed_at_ms: at.as_millisecond(),
        drill: false,
    }
}

/// An executable shell script at `path`.
fn script(path: &std::path::Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The command containment backend running `argv`.
fn command_backend(argv: Vec<String>) -> Option<sitewarden_plan::Containment> {
    Some(sitewarden_plan::Containment {
        backend: sitewarden_plan::ContainmentBackend::Command,
        nginx: None,
        command: Some(sitewarden_plan::CommandContainment {
            argv,
            timeout_seconds: 10,
        }),
    })
}

/// A script that logs each cut-off as "site|state[|reason]" lines in `log`.
fn logging_backend(
    dir: &std::path::Path,
    log: &std::path::Path,
    reason: bool,
) -> Option<sitewarden_plan::Containment> {
    let path = dir.join("cut-off.sh");
    let format = if reason { "%s|%s|%s\\n" } else { "%s|%s\\n" };
    let extra = if reason {
        " \"$SITEWARDEN_REASON\""
    } else {
        ""
    };
    script(
        &path,
        &format!(
            "printf '{format}' \"$1\" \"$2\"{extra} >> {}",
            log.display()
        ),
    );
    command_backend(vec![
        path.display().to_string(),
        "{site}".into(),
        "{state}".into(),
    ])
}

#[tokio::test]
async fn the_contain_step_runs_the_sites_backend_and_marks_the_incident_contained() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cut-off.log");
    let failing = dir.path().join("broken.sh");
    script(&failing, "echo 'CDN API refused' >&2\nexit 3");

    let mut plan = plan("http://127.0.0.1:9/hook");
    let mut broken_site = plan.sites[0].clone();
    plan.sites[0].containment = logging_backend(dir.path(), &log, true);
    broken_site.name = "oa".into();
    broken_site.pages[0].url = "https://oa.example.gov.test/".into();
    broken_site.containment = command_backend(vec![failing.display().to_string()]);
    plan.sites.push(broken_site);
    // Two separate incidents, one per backend: not joined as one attack.
    plan.correlation.window_minutes = 0;
    plan.validate().unwrap();
    let plan = Arc::new(plan);
    let data = dir.path().join("data");
    let store = store_with_plan(&data, &plan).await;
    let (runner, _) = Runner::new(store.clone(), plan).unwrap();
    let now = Timestamp::now();
    let county = store
        .open_reported_incident(
            "county",
            Some("home"),
            SignalKind::Defacement,
            "首页被篡改",
            "王小明",
            now,
            false,
        )
        .await
        .unwrap()
        .0
        .id;
    let oa = store
        .open_reported_incident(
            "oa",
            Some("home"),
            SignalKind::Defacement,
            "首页被篡改",
            "王小明",
            now,
            false,
        )
        .await
        .unwrap()
        .0
        .id;
    let done = runner.tick(now).await.unwrap();
    let contain = |id: i64| {
        done.iter()
            .find(|d| d.incident_id == id && d.key.ends_with(":contain"))
            .unwrap_or_else(|| panic!("no contain step for #{id}: {done:?}"))
            .detail
            .clone()
    };
    assert!(
        contain(county).contains("county: command"),
        "{}",
        contain(county)
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("county|maintenance|incident #{county}: 首页被篡改\n")
    );
    let detail = store.engine_incident(county).await.unwrap().unwrap();
    assert_eq!(detail.state, sitewarden_incident::IncidentState::Contained);
    let switches = store.site_switches().await.unwrap();
    assert_eq!(switches.len(), 1, "only the switch that worked is current");
    assert_eq!(switches[0].mode, "maintenance");

    assert!(contain(oa).contains("FAILED"), "{}", contain(oa));
    assert!(contain(oa).contains("CDN API refused"), "{}", contain(oa));
    let detail = store.engine_incident(oa).await.unwrap().unwrap();
    assert_eq!(detail.state, sitewarden_incident::IncidentState::Detected);
    let history = store.switch_events(Some("oa"), 10).await.unwrap();
    assert_eq!(history[0].outcome, "failed");
    // The duty officer on duty is told at once to cut it off by hand.
    let told: Vec<_> = store
        .incident_messages(oa)
        .await
        .unwrap()
        .into_iter()
        .filter(|message| message.message.subject.contains("自动切断未生效"))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].message.id.ends_with("/王小明"),
        "{}",
        told[0].message.id
    );
    assert!(
        store
            .incident_messages(county)
            .await
            .unwrap()
            .iter()
            .all(|message| !message.message.subject.contains("自动切断未生效")),
        "county was cut off: nothing to do by hand"
    );

    // Ticking again does not run the step twice.
    runner.tick(now).await.unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

/// One attack on two sites: the second site's defacement, minutes after
/// the first, joins the first site's incident ([correlation]); the plan's
/// `min_sites = 2` rule now suggests level II; the playbook's contain step
/// runs again, for the site that joined, and only once.
#[tokio::test]
async fn one_attack_on_two_sites_is_one_incident_whose_playbook_cuts_off_each() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cut-off.log");
    let mut plan = plan("http://127.0.0.1:9/hook");
    plan.sites[0].containment = logging_backend(dir.path(), &log, false);
    let mut second = plan.sites[0].clone();
    second.name = "oa".into();
    second.pages[0].url = "https://oa.example.gov.test/".into();
    plan.sites.push(second);
    plan.level_rules.push(sitewarden_plan::LevelRule {
        level: "II".into(),
        reason: Some("两个以上网站被篡改 (two or more sites defaced)".into()),
        kinds: vec![sitewarden_plan::IncidentKind::Defacement],
        importance: Vec::new(),
        tiers: Vec::new(),
        min_sites: Some(2),
        min_exposure_minutes: None,
        home_page: None,
    });
    plan.validate().unwrap();
    assert_eq!(plan.correlation.window_minutes, 60, "the default");
    let plan = Arc::new(plan);
    let store = store_with_plan(&dir.path().join("data"), &plan).await;
    let (runner, _) = Runner::new(store.clone(), plan.clone()).unwrap();
    let rules = sitewarden_incident::Rules::new(&plan).unwrap();

    let discovered = Timestamp::now() - 10.minutes();
    let defaced = probe_defacement;
    let first = store
        .raise_signal(&defaced("county", discovered), &[])
        .await
        .unwrap();
    assert!(first.opened);
    let now = discovered + 1.minute();
    runner.tick(now).await.unwrap();
    let engine = store
        .engine_incident(first.incident_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        sitewarden_incident::effective_level(&rules, &engine, now),
        "II"
    );

    let joined = store
        .raise_signal(&defaced("oa", discovered + 5.minutes()), &[])
        .await
        .unwrap();
    assert_eq!(joined.incident_id, first.incident_id, "one incident");
    assert!(!joined.opened);
    let open = store.open_incidents("oa").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].sites, ["county", "oa"]);
    assert_eq!(open[0].sites_short(), "county +1");

    let now = discovered + 6.minutes();
    let done = runner.tick(now).await.unwrap();
    let contain = done
        .iter()
        .find(|carried| carried.key.ends_with(":contain@oa"))
        .unwrap_or_else(|| panic!("no contain step for oa: {done:?}"));
    assert!(contain.detail.contains("oa: command"), "{}", contain.detail);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "county|maintenance\noa|maintenance\n"
    );
    let engine = store
        .engine_incident(first.incident_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(engine.sites, ["county", "oa"]);
    let suggestion = sitewarden_incident::suggest_level(&rules, &engine, now);
    assert_eq!(suggestion.level, "II", "{:?}", suggestion.reasons);
    assert!(
        suggestion
            .reasons
            .iter()
            .any(|reason| reason.met && reason.text_zh.contains("两个以上网站被篡改")),
        "{:?}",
        suggestion.reasons
    );

    // Nothing runs twice.
    runner.tick(now + 1.minute()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

/// Regression (audit): a real detection after an incident was judged a
/// false alarm vanished into it — no clocks, no messages. And a person's
/// report on a site already in an open incident started a second set of
/// clocks and approvals; it joins instead, like a detection.
#[tokio::test]
async fn a_false_alarm_takes_no_signals_and_a_report_joins_the_open_incident() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(plan("http://127.0.0.1:9/hook"));
    let store = store_with_plan(&dir.path().join("data"), &plan).await;
    let now = Timestamp::now();
    let defaced = |at: Timestamp| probe_defacement("county", at);
    let first = store
        .raise_signal(&defaced(now - 10.minutes()), &[])
        .await
        .unwrap();
    store
        .apply_command(
            first.incident_id,
            Command::FalseAlarm {
                reason: "运维更新首页".into(),
            },
            "王小明",
            now - 9.minutes(),
        )
        .await
        .unwrap();
    let real = store
        .raise_signal(&defaced(now - 5.minutes()), &[])
        .await
        .unwrap();
    assert!(real.opened, "a new incident, not the false alarm");
    assert_ne!(real.incident_id, first.incident_id);

    let (reported, joined) = store
        .open_reported_incident(
            "county",
            Some("home"),
            SignalKind::Defacement,
            "群众来电：首页有博彩链接",
            "李建国",
            now,
            false,
        )
        .await
        .unwrap();
    assert!(joined);
    assert_eq!(reported.id, real.incident_id);
    let detail = store.incident(real.incident_id).await.unwrap().unwrap();
    assert!(
        detail.signals.iter().any(|signal| signal.source == "manual"
            && signal
                .reasons
                .iter()
                .any(|reason| reason == "reported by 李建国")),
        "{:?}",
        detail.signals
    );
    assert_eq!(store.incidents().await.unwrap().len(), 2);
}

/// Regression (audit): no path led to "recovering" (恢复中). The approved
/// restore is where recovery begins.
#[tokio::test]
async fn an_approved_restore_puts_the_incident_into_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(plan("http://127.0.0.1:9/hook"));
    let store = store_with_plan(&dir.path().join("data"), &plan).await;
    let (runner, _) = Runner::new(store.clone(), plan).unwrap();
    let now = Timestamp::now();
    let (incident, _) = store
        .open_reported_incident(
            "county",
            Some("home"),
            SignalKind::Defacement,
            "首页被篡改",
            "王小明",
            now - 5.minutes(),
            false,
        )
        .await
        .unwrap();
    runner.tick(now - 4.minutes()).await.unwrap();
    let asked = store.engine_incident(incident.id).await.unwrap().unwrap();
    let request = asked
        .approvals
        .iter()
        .position(|request| request.action == sitewarden_plan::PlaybookAction::RestorePages)
        .expect("restore asked for");
    store
        .apply_command(
            incident.id,
            Command::AnswerApproval {
                request,
                approved: true,
                roles: vec![sitewarden_plan::Role::DeputyLeader],
                note: "从备份恢复".into(),
            },
            "张丽",
            now - 3.minutes(),
        )
        .await
        .unwrap();
    runner.tick(now).await.unwrap();
    let recovering = store.engine_incident(incident.id).await.unwrap().unwrap();
    assert_eq!(
        recovering.state,
        sitewarden_incident::IncidentState::Recovering
    );
}
