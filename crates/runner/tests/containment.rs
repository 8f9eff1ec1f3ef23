//! Containment seen by the real probe: a portal defaced, cut off by the
//! playbook's contain step through a real command backend (a script that
//! switches the origin on loopback to its 503 maintenance page), then
//! checked again and again while it waits for instructions — and reopened.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{Timestamp, ToSpan};
use sitewarden_contain::SiteState;
use sitewarden_demo_sites::{SampleSite, Variant, render_page};
use sitewarden_incident::{Incident, IncidentState, Rules, suggest_level};
use sitewarden_monitor::{CheckOutcome, DrillRegistry, Monitor, approve_baseline, now_ms};
use sitewarden_plan::Plan;
use sitewarden_runner::{Runner, SwitchRequest, switch_site};
use sitewarden_store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// The portal's web server: the sample portal's home page as `variant`
/// says, or its 503 maintenance page while the state file (written by the
/// containment command) says `maintenance`.
#[derive(Clone)]
struct Origin {
    variant: Arc<Mutex<Variant>>,
    state_file: PathBuf,
    visits: Arc<AtomicU64>,
}

async fn page(State(origin): State<Origin>, headers: HeaderMap) -> Response {
    let mode = std::fs::read_to_string(&origin.state_file).unwrap_or_default();
    if mode.trim() == "maintenance" {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "120")],
            "<html><body><h1>系统维护中</h1></body></html>",
        )
            .into_response();
    }
    let variant = *origin.variant.lock().unwrap();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let visit = origin.visits.fetch_add(1, Ordering::Relaxed);
    let html = render_page(
        SampleSite::Portal,
        "/",
        variant,
        visit,
        "2025-03-03",
        user_agent,
    )
    .expect("the portal has a home page");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn plan(port: u16, script: &std::path::Path) -> Plan {
    Plan::from_toml_str(&format!(
        r#"
[organisation]
name = "示例省财政厅"

[probe]
down_after_failures = 2
crawlers = []

[[sites]]
name = "portal"
importance = "特别重要"
tier = "provincial_government_portal"
pages = [{{ url = "http://127.0.0.1:{port}/" }}]

[sites.containment]
backend = "command"

[sites.containment.command]
argv = ["{script}", "{{state}}"]
timeout_seconds = 60
"#,
        script = script.display()
    ))
    .unwrap_or_else(|errors| panic!("test plan:\n{errors}"))
}

fn only(outcomes: Vec<CheckOutcome>) -> CheckOutcome {
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes.into_iter().next().unwrap()
}

/// (kind, start, start basis, end, ended by) of every exposure, as text so
/// that a difference shows what it is.
fn exposures(incident: &Incident) -> Vec<String> {
    incident
        .exposures
        .iter()
        .map(|exposure| {
            format!(
                "{:?} {:?} home={} from {} ({:?}) to {:?} ({:?})",
                exposure.kind,
                exposure.page,
                exposure.home,
                exposure.start.at,
                exposure.start.basis,
                exposure.ended_at,
                exposure.ended_by
            )
        })
        .collect()
}

/// Regression: once the contain step had cut the portal off, the probe
/// saw the maintenance page (503) on every check, raised a score-0
/// "defaced" signal and then an "unavailable" one, and the engine opened a
/// defacement and an outage exposure from the last clean check that ran as
/// long as the portal stayed cut off: a defacement contained in seconds
/// read hours, and the suggested level climbed while the duty officer
/// waited for instructions.
#[tokio::test]
async fn a_cut_off_site_keeps_its_exposure_and_level_while_the_probe_sees_the_maintenance_page() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("portal.state");
    let script = dir.path().join("switch-portal.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n",
            state_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let origin = Origin {
        variant: Arc::new(Mutex::new(Variant::Normal)),
        state_file: state_file.clone(),
        visits: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(page).with_state(origin.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let plan = Arc::new(plan(port, &script));
    let store = Store::open(&dir.path().join("data"))
        .await
        .unwrap()
        .with_plan(plan.clone())
        .unwrap();
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None)
        .await
        .unwrap();
    let target = &monitor.targets().pages[0];
    approve_baseline(
        monitor.prober(),
        monitor.targets(),
        target,
        &store,
        "test",
        now_ms(),
    )
    .await
    .unwrap();
    let (runner, _) = Runner::new(store.clone(), plan.clone()).unwrap();
    let rules = Rules::new(&plan).unwrap();

    let clean = only(monitor.check_all_once().await);
    assert_eq!(clean.verdict.as_str(), "clean", "{clean:?}");

    *origin.variant.lock().unwrap() = Variant::HackedTitle;
    let defaced = only(monitor.check_all_once().await);
    assert_eq!(defaced.verdict.as_str(), "defaced", "{defaced:?}");
    let incident_id = defaced
        .incident_id
        .expect("the defacement opened an incident");

    // The playbook's automatic contain step runs the command backend.
    let done = runner.tick(Timestamp::now()).await.unwrap();
    assert!(
        done.iter().any(|carried| carried.key.ends_with(":contain")),
        "{done:?}"
    );
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), "maintenance");
    let contained = store.engine_incident(incident_id).await.unwrap().unwrap();
    assert_eq!(contained.state, IncidentState::Contained);
    let contained_at = Timestamp::now();
    let before = (
        exposures(&contained),
        suggest_level(&rules, &contained, contained_at),
    );
    assert_eq!(before.0.len(), 1, "{:?}", before.0);
    assert!(before.0[0].contains("(Some(Contained))"), "{:?}", before.0);

    // The duty officer waits for instructions; the probe keeps checking.
    let mut checks = Vec::new();
    for _ in 0..4 {
        checks.push(only(monitor.check_all_once().await));
    }
    let waiting = store.engine_incident(incident_id).await.unwrap().unwrap();
    let three_hours_later = contained_at + 3.hours();
    assert_eq!(
        (
            exposures(&waiting),
            suggest_level(&rules, &waiting, three_hours_later)
        ),
        before,
        "three hours on, the exposure and the suggested level are what they were at containment"
    );
    assert_eq!(waiting.signal_count, contained.signal_count);
    for check in &checks {
        assert_eq!(check.http_status, Some(503), "{check:?}");
        assert_eq!(check.incident_id, None, "no signal: {check:?}");
        assert_eq!(check.verdict.as_str(), "contained", "{check:?}");
    }
    let state = store
        .page_states()
        .await
        .unwrap()
        .into_iter()
        .find(|state| state.site == "portal")
        .unwrap();
    assert_eq!(state.verdict, "contained");
    assert!(
        state.reasons[0].contains("`sitewarden release portal`"),
        "{:?}",
        state.reasons
    );

    // Reopened with the page still defaced: a new exposure, from the
    // reopening, not from the last clean check before the attack.
    let released = switch_site(
        &store,
        Some(&plan),
        &SwitchRequest {
            site: "portal".into(),
            to: SiteState::Serving,
            reason: "instruction received".into(),
            by: "组长".into(),
        },
    )
    .await
    .unwrap();
    assert!(released.in_force, "{released:?}");
    let reopened_at = Timestamp::now();
    let still_defaced = only(monitor.check_all_once().await);
    assert_eq!(
        still_defaced.verdict.as_str(),
        "defaced",
        "{still_defaced:?}"
    );
    assert_eq!(still_defaced.incident_id, Some(incident_id));
    let reopened = store.engine_incident(incident_id).await.unwrap().unwrap();
    assert_eq!(reopened.exposures.len(), 2, "{:?}", exposures(&reopened));
    let again = &reopened.exposures[1];
    assert_eq!(format!("{:?}", again.start.basis), "Reopened");
    assert!(again.start.at > contained_at && again.start.at <= reopened_at);
    assert!(again.is_open());

    // Put back: the probe sees it clean and the incident recovers.
    *origin.variant.lock().unwrap() = Variant::Normal;
    let put_back = only(monitor.check_all_once().await);
    assert_eq!(put_back.verdict.as_str(), "clean", "{put_back:?}");
    let recovered = store.engine_incident(incident_id).await.unwrap().unwrap();
    assert_eq!(recovered.state, IncidentState::Recovered);
    assert!(
        recovered
            .exposures
            .iter()
            .all(|exposure| !exposure.is_open())
    );

    server.abort();
    store.close().await;
}
