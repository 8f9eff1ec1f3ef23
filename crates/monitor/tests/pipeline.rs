//! The monitoring pipeline end to end over real HTTP: invented sample sites
//! on loopback port 0 switch to each defacement and each benign change, and
//! the verdict, the incident, the evidence and the recovery are asserted.

use sitewarden_analysis::Verdict;
use sitewarden_demo_sites::{Encoding, SampleSite, SiteServer, Variant, loopback_plan_options};
use sitewarden_monitor::{
    CheckOutcome, DrillRegistry, Monitor, MonitorEvent, approve_baseline, now_ms,
};
use sitewarden_plan::{Plan, sample_plan_with};
use sitewarden_store::Store;
use std::time::Duration;

struct Fixture {
    portal: SiteServer,
    procurement: SiteServer,
    store: Store,
    monitor: Monitor,
    drills: DrillRegistry,
    _dir: tempfile::TempDir,
}

fn plan_for(servers: &[&SiteServer], interval_seconds: u32) -> Plan {
    let text = sample_plan_with(&loopback_plan_options(servers, interval_seconds, None));
    Plan::from_toml_str(&text).expect("the sample plan is valid")
}

async fn fixture(
    portal_encoding: Encoding,
    interval_seconds: u32,
    down_after: Option<u32>,
) -> Fixture {
    let portal = SiteServer::start(SampleSite::Portal, portal_encoding)
        .await
        .unwrap();
    let procurement = SiteServer::start(SampleSite::Procurement, Encoding::Gbk)
        .await
        .unwrap();
    let plan = plan_for(&[&portal, &procurement], interval_seconds);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let drills = DrillRegistry::default();
    let monitor = Monitor::new(&plan, store.clone(), drills.clone(), down_after)
        .await
        .unwrap();
    for target in &monitor.targets().pages {
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
    }
    Fixture {
        portal,
        procurement,
        store,
        monitor,
        drills,
        _dir: dir,
    }
}

fn outcome<'a>(outcomes: &'a [CheckOutcome], site: &str, page: &str) -> &'a CheckOutcome {
    outcomes
        .iter()
        .find(|o| o.site == site && o.page == page)
        .unwrap_or_else(|| panic!("no outcome for {site}/{page} in {outcomes:?}"))
}

/// Every defacement is found, opens an incident with the defaced body as
/// evidence, and the incident recovers when the page is put back; every
/// benign change stays clean or changed and opens nothing.
async fn every_variant_gets_its_verdict(encoding: Encoding) {
    let f = fixture(encoding, 60, Some(1)).await;
    let first = f.monitor.check_all_once().await;
    assert_eq!(first.len(), 3);
    for o in &first {
        assert_eq!(o.verdict, Verdict::Clean, "{o:?}");
    }

    for variant in Variant::BENIGN {
        f.portal.set_variant(variant);
        let outcomes = f.monitor.check_all_once().await;
        let home = outcome(&outcomes, "portal", "home");
        assert!(
            matches!(home.verdict, Verdict::Clean | Verdict::Changed),
            "{encoding:?} benign {variant:?} must not alarm: {home:?}"
        );
        assert_eq!(home.incident_id, None);
    }
    f.portal.set_variant(Variant::Normal);
    f.monitor.check_all_once().await;
    assert!(
        f.store.incidents().await.unwrap().is_empty(),
        "benign changes opened an incident"
    );

    for variant in Variant::DEFACEMENTS {
        f.portal.set_variant(variant);
        let outcomes = f.monitor.check_all_once().await;
        let home = outcome(&outcomes, "portal", "home");
        assert_eq!(
            home.verdict,
            Verdict::Defaced,
            "{encoding:?} {variant:?}: {home:?}"
        );
        assert!(!home.reasons.is_empty());
        let incident_id = home
            .incident_id
            .unwrap_or_else(|| panic!("{variant:?} opened no incident"));
        let detail = f.store.incident(incident_id).await.unwrap().unwrap();
        assert_eq!(detail.summary.subcategory, "信息篡改事件");
        let snapshot = detail
            .evidence
            .iter()
            .find(|item| item.kind == "page_snapshot")
            .unwrap_or_else(|| panic!("{variant:?}: no page snapshot in evidence"));
        let body = f.store.blobs().get(&snapshot.content_sha256).unwrap();
        assert!(!body.is_empty());
        assert!(
            detail
                .evidence
                .iter()
                .any(|item| item.kind == "fetch_metadata")
        );
        if variant == Variant::CrawlerOnlySpam {
            // The crawler's view is what proves cloaking: it is kept too.
            let agents: Vec<_> = detail
                .evidence
                .iter()
                .filter(|item| item.kind == "page_snapshot")
                .map(|item| item.metadata["agent"].as_str().unwrap_or("").to_string())
                .collect();
            assert!(
                agents.iter().any(|agent| agent == "Baiduspider"),
                "{agents:?}"
            );
        }

        f.portal.set_variant(Variant::Normal);
        let outcomes = f.monitor.check_all_once().await;
        assert_eq!(outcome(&outcomes, "portal", "home").verdict, Verdict::Clean);
        let detail = f.store.incident(incident_id).await.unwrap().unwrap();
        assert_eq!(detail.summary.state.as_str(), "recovered", "{variant:?}");
    }
    assert_eq!(
        f.store.incidents().await.unwrap().len(),
        Variant::DEFACEMENTS.len(),
        "one incident per defacement"
    );
    assert!(f.store.verify_evidence().await.unwrap().is_ok());
}

#[tokio::test]
async fn utf8_portal_every_variant() {
    every_variant_gets_its_verdict(Encoding::Utf8).await;
}

#[tokio::test]
async fn gbk_portal_every_variant() {
    every_variant_gets_its_verdict(Encoding::Gbk).await;
}

#[tokio::test]
async fn a_site_that_stops_answering_is_down_after_consecutive_failures() {
    let f = fixture(Encoding::Utf8, 60, None).await;
    let procurement_url = f.procurement.addr();
    f.procurement.shutdown().await;
    // The sample plan allows one failure before down (down_after_failures = 2).
    let first = f.monitor.check_all_once().await;
    let zfcg = outcome(&first, "zfcg", "home");
    assert_ne!(
        zfcg.verdict,
        Verdict::Down,
        "one failure is not an outage yet: {zfcg:?}"
    );
    assert!(
        zfcg.reasons.iter().any(|r| r.contains("1 of 2")),
        "{zfcg:?}"
    );
    assert_eq!(zfcg.incident_id, None);
    let second = f.monitor.check_all_once().await;
    let zfcg = outcome(&second, "zfcg", "home");
    assert_eq!(zfcg.verdict, Verdict::Down, "{zfcg:?} ({procurement_url})");
    let incident = f
        .store
        .incident(zfcg.incident_id.expect("an outage opens an incident"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.summary.kind, "unavailable");
    assert_eq!(incident.summary.subcategory, "其他设备设施故障");
    // The portal is unaffected.
    assert_eq!(outcome(&second, "portal", "home").verdict, Verdict::Clean);
    drop(f.portal);
}

/// The serve loop finds a defacement within one check interval, marks it a
/// drill when the site is under a drill, and keeps one incident while the
/// page stays defaced.
#[tokio::test]
async fn the_probe_loop_finds_a_defacement_within_one_interval() {
    let f = fixture(Encoding::Utf8, 1, None).await;
    let mut events = f.monitor.subscribe();
    let cancel = tokio_util::sync::CancellationToken::new();
    let monitor = f.monitor.clone();
    let loop_cancel = cancel.clone();
    let probe_loop = tokio::spawn(async move { monitor.run(loop_cancel).await });

    // Wait for the first clean check of the home page, then deface it.
    wait_for(&mut events, |e| {
        matches!(e, MonitorEvent::Checked { site, page, .. } if site == "portal" && page == "home")
            .then_some(())
    })
    .await;
    f.drills.start("portal", "test drill");
    f.portal.set_variant(Variant::HackedTitle);
    let defaced_at = std::time::Instant::now();
    let incident_id = wait_for(&mut events, |e| match e {
        MonitorEvent::IncidentOpened {
            incident_id,
            site,
            drill,
            ..
        } if site == "portal" => {
            assert!(*drill, "a drill signal opens a drill incident");
            Some(*incident_id)
        }
        _ => None,
    })
    .await;
    // One interval (1 s) plus the check itself.
    assert!(
        defaced_at.elapsed() < Duration::from_secs(3),
        "took {:?}",
        defaced_at.elapsed()
    );

    // Stays defaced for a few more checks: still one incident, no new signals
    // for the same content.
    let mut defaced_checks = 0;
    wait_for(&mut events, |e| {
        if matches!(e, MonitorEvent::Checked { site, page, verdict: Verdict::Defaced, .. } if site == "portal" && page == "home") {
            defaced_checks += 1;
        }
        (defaced_checks >= 2).then_some(())
    })
    .await;
    let detail = f.store.incident(incident_id).await.unwrap().unwrap();
    assert!(detail.summary.drill);
    assert_eq!(
        detail.signals.len(),
        1,
        "the same defaced content is signalled once"
    );

    f.portal.set_variant(Variant::Normal);
    wait_for(&mut events, |e| {
        matches!(e, MonitorEvent::Recovered { incident_id: id, .. } if *id == incident_id)
            .then_some(())
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), probe_loop)
        .await
        .unwrap()
        .unwrap();
}

async fn wait_for<T>(
    events: &mut tokio::sync::broadcast::Receiver<MonitorEvent>,
    mut matcher: impl FnMut(&MonitorEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("timed out waiting for a monitor event")
            .expect("the monitor's event channel closed");
        if let Some(found) = matcher(&event) {
            return found;
        }
    }
}
