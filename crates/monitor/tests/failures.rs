//! Failed checks of a defaced page over real HTTP on loopback: a check
//! that got an HTTP error saw nothing of the page, so it raises no
//! defacement and starts no exposure, whether or not the site was cut off.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sitewarden_demo_sites::{SampleSite, Variant, render_page};
use sitewarden_monitor::{CheckOutcome, DrillRegistry, Monitor, approve_baseline, now_ms};
use sitewarden_plan::Plan;
use sitewarden_store::{SiteSwitchRecord, Store, SwitchEvent};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What the origin answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Page(Variant),
    Unavailable,
}

#[derive(Clone)]
struct Origin {
    answer: Arc<Mutex<Answer>>,
    visits: Arc<AtomicU64>,
}

async fn page(State(origin): State<Origin>) -> Response {
    match *origin.answer.lock().unwrap() {
        Answer::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "<h1>系统维护中</h1>").into_response()
        }
        Answer::Page(variant) => {
            let visit = origin.visits.fetch_add(1, Ordering::Relaxed);
            let html = render_page(SampleSite::Portal, "/", variant, visit, "2025-03-03", "")
                .expect("the portal has a home page");
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    }
}

struct Fixture {
    origin: Origin,
    store: Store,
    monitor: Monitor,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let origin = Origin {
        answer: Arc::new(Mutex::new(Answer::Page(Variant::Normal))),
        visits: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(page).with_state(origin.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let plan = Arc::new(
        Plan::from_toml_str(&format!(
            r#"
[organisation]
name = "示例省财政厅"

[probe]
down_after_failures = 3
crawlers = []

[[sites]]
name = "portal"
tier = "provincial_government_portal"
pages = [{{ url = "http://127.0.0.1:{port}/" }}]
"#
        ))
        .unwrap_or_else(|errors| panic!("test plan:\n{errors}")),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path())
        .await
        .unwrap()
        .with_plan(plan.clone())
        .unwrap();
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None)
        .await
        .unwrap();
    approve_baseline(
        monitor.prober(),
        monitor.targets(),
        &monitor.targets().pages[0],
        &store,
        "test",
        now_ms(),
    )
    .await
    .unwrap();
    Fixture {
        origin,
        store,
        monitor,
        _dir: dir,
    }
}

impl Fixture {
    async fn check(&self, answer: Answer) -> CheckOutcome {
        *self.origin.answer.lock().unwrap() = answer;
        let mut outcomes = self.monitor.check_all_once().await;
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        outcomes.remove(0)
    }
}

/// Regression: a failed check before the page counts as down keeps the
/// page's last verdict; when that was "defaced", its reasons (now the
/// failure's) differed from the signalled ones, so a score-0 defacement
/// was signalled from a check that never saw the page.
#[tokio::test]
async fn a_failed_check_of_a_defaced_page_signals_nothing() {
    let f = fixture().await;
    assert_eq!(
        f.check(Answer::Page(Variant::Normal))
            .await
            .verdict
            .as_str(),
        "clean"
    );
    let defaced = f.check(Answer::Page(Variant::HackedTitle)).await;
    let incident_id = defaced.incident_id.expect("an incident");
    let failed = f.check(Answer::Unavailable).await;
    assert_eq!(failed.http_status, Some(503));
    assert_eq!(failed.incident_id, None, "{failed:?}");
    assert_eq!(failed.verdict.as_str(), "defaced", "kept until down");
    // The same defacement seen again is not news either.
    let again = f.check(Answer::Page(Variant::HackedTitle)).await;
    assert_eq!(again.incident_id, None, "{again:?}");
    let detail = f.store.incident(incident_id).await.unwrap().unwrap();
    assert_eq!(detail.signals.len(), 1, "{:?}", detail.signals);
}

/// A site switched to maintenance (here recorded as the gateway records
/// it) answers 503: recorded as "contained", neither a defacement nor a
/// failure towards "down", and no signal however long it lasts. The first
/// check once it serves again is judged as always.
#[tokio::test]
async fn checks_of_a_cut_off_site_are_contained_and_raise_nothing() {
    let f = fixture().await;
    f.check(Answer::Page(Variant::Normal)).await;
    let incident_id = f
        .check(Answer::Page(Variant::HackedTitle))
        .await
        .incident_id
        .expect("an incident");
    let switch = |mode: &str| SwitchEvent {
        switch: SiteSwitchRecord {
            site: "portal".into(),
            mode: mode.into(),
            reason: "defaced home page".into(),
            by: "sitewarden (playbook)".into(),
            at_ms: now_ms(),
        },
        backend: "gateway".into(),
        outcome: "applied".into(),
        detail: "switched by the running gateway".into(),
    };
    f.store.record_switch(&switch("maintenance")).await.unwrap();
    for _ in 0..5 {
        let outcome = f.check(Answer::Unavailable).await;
        assert_eq!(outcome.verdict.as_str(), "contained", "{outcome:?}");
        assert_eq!(outcome.incident_id, None, "{outcome:?}");
        assert_eq!(outcome.score, 0);
    }
    let state = f.store.page_states().await.unwrap().remove(0);
    assert_eq!((state.consecutive_failures, state.up), (0, true));
    let detail = f.store.incident(incident_id).await.unwrap().unwrap();
    assert_eq!(detail.signals.len(), 1, "{:?}", detail.signals);

    // Serving again, still defaced: signalled again (the same reasons as
    // before the cut-off are news now), from the reopening.
    f.store.record_switch(&switch("serving")).await.unwrap();
    let reopened = f.check(Answer::Page(Variant::HackedTitle)).await;
    assert_eq!(reopened.verdict.as_str(), "defaced");
    assert_eq!(reopened.incident_id, Some(incident_id));
    let detail = f.store.incident(incident_id).await.unwrap().unwrap();
    assert_eq!(detail.signals.len(), 2, "{:?}", detail.signals);
}
