//! The guard's repairs as the incident engine sees them, through
//! `guard_root` as `serve` runs it: a real web root in a temp dir, the
//! real watcher, a store opened with the plan. A repaired file is
//! measured as the plan's page it serves (`index.html` is the home page),
//! from the guard's event time to the restore.

use sitewarden_guard::{
    ApproveOptions, GuardData, GuardReport, PageMap, Repair, WatchConfig, WatchEvent, approve,
    guard_root,
};
use sitewarden_incident::{
    EndBasis, ExposureKind, Incident, Rules, StartBasis, suggest_level, timestamp_from_ms,
};
use sitewarden_plan::Plan;
use sitewarden_store::Store;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Generous: the machine may be loaded.
const DEADLINE: Duration = Duration::from_secs(60);

fn plan(root: &Path) -> Plan {
    Plan::from_toml_str(&format!(
        r#"
[organisation]
name = "示例省财政厅"

[[sites]]
name = "portal"
tier = "provincial_government_portal"
pages = [
    {{ url = "https://portal.example.gov.test/" }},
    {{ name = "notices", url = "https://portal.example.gov.test/tzgg/" }},
]
web_roots = [{{ path = "{}" }}]
"#,
        root.display()
    ))
    .unwrap_or_else(|errors| panic!("test plan:\n{errors}"))
}

/// What the test hears from `guard_root`.
enum Heard {
    Ready,
    Raised { incident: i64, repair: Box<Repair> },
    Failed(String),
}

struct Guarded {
    store: Store,
    plan: Arc<Plan>,
    root: std::path::PathBuf,
    heard: mpsc::UnboundedReceiver<Heard>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// Stops the watcher when a failed assertion drops the fixture (the
    /// runtime waits for its blocking thread before the test can end).
    _stop_on_drop: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

impl Guarded {
    async fn start() -> Guarded {
        let mut guarded = Guarded::start_after(|_| {}).await;
        match guarded.next().await {
            Heard::Ready => {}
            _ => panic!("the start-up check found something to repair"),
        }
        guarded
    }

    /// Approves the root, runs `meanwhile` on it (a change made while no
    /// guard watches), then starts the guard; nothing heard yet.
    async fn start_after(meanwhile: impl FnOnce(&Path)) -> Guarded {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        fs::create_dir_all(root.join("tzgg")).unwrap();
        fs::create_dir_all(root.join("css")).unwrap();
        fs::write(root.join("index.html"), b"<html>portal home</html>").unwrap();
        fs::write(root.join("tzgg/index.html"), b"<html>notices</html>").unwrap();
        fs::write(root.join("css/site.css"), b"body { color: black }").unwrap();
        let data_dir = dir.path().join("data");
        let data = GuardData::open(&data_dir).unwrap();
        approve(
            &data,
            &ApproveOptions {
                root: root.clone(),
                site: Some("portal".into()),
                approved_by: "test".into(),
                note: "baseline".into(),
                ..Default::default()
            },
            &|_| {},
        )
        .unwrap();
        meanwhile(&root);
        let plan = Arc::new(plan(&root));
        let store = Store::open(&data_dir)
            .await
            .unwrap()
            .with_plan(plan.clone())
            .unwrap();
        let (tell, heard) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let mut config = WatchConfig::new(&root);
        config.tick = Duration::from_millis(20);
        let running = guard_root(
            data,
            config,
            Some("portal".into()),
            PageMap::for_site(&plan.sites[0]),
            store.clone(),
            cancel.clone(),
            move |report| {
                let heard = match report {
                    GuardReport::Event(WatchEvent::Ready { .. }) => Heard::Ready,
                    GuardReport::Raised {
                        repair, outcome, ..
                    } => Heard::Raised {
                        incident: outcome.incident_id,
                        repair: Box::new(repair.clone()),
                    },
                    GuardReport::RaiseFailed { error, .. } => Heard::Failed(error.to_string()),
                    _ => return,
                };
                let _ = tell.send(heard);
            },
        );
        let task = tokio::spawn(async move {
            running.await.expect("the guard runs");
        });
        Guarded {
            store,
            plan,
            root,
            heard,
            _stop_on_drop: cancel.clone().drop_guard(),
            cancel,
            task,
            _dir: dir,
        }
    }

    async fn next(&mut self) -> Heard {
        tokio::time::timeout(DEADLINE, self.heard.recv())
            .await
            .expect("the guard reported in time")
            .expect("the guard is running")
    }

    /// Puts `bytes` at `path` and waits for the repair's signal. Written
    /// beside the root and renamed in, so the guard sees the whole file at
    /// once (a write in place can be caught between its truncation and its
    /// bytes, and repaired twice).
    async fn tamper(&mut self, path: &str, bytes: &[u8]) -> (i64, Repair) {
        let staged = self.root.with_file_name("staged");
        fs::write(&staged, bytes).unwrap();
        fs::rename(&staged, self.root.join(path)).unwrap();
        loop {
            match self.next().await {
                Heard::Raised { incident, repair } if repair.path.to_string() == path => {
                    return (incident, *repair);
                }
                Heard::Failed(error) => panic!("not recorded: {error}"),
                _ => {}
            }
        }
    }

    async fn incident(&self, id: i64) -> Incident {
        self.store.engine_incident(id).await.unwrap().unwrap()
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap();
        self.store.close().await;
    }
}

/// Regression: the guard named the file (`index.html`) as the page, so a
/// defaced home page was measured against the grading guide's "other
/// page" indicator (2 h for level III instead of 30 min); the exposure
/// started at the signal labelled as a probe's first bad check; and the
/// restore, made within milliseconds, did not end it — it ran until
/// containment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repaired_home_page_is_the_home_pages_exposure_from_the_event_to_the_restore() {
    let mut guarded = Guarded::start().await;
    let (id, repair) = guarded
        .tamper("index.html", b"<html>hacked by someone</html>")
        .await;
    let incident = guarded.incident(id).await;
    // (A write the guard saw in two steps may be repaired twice: each
    // repair then has its own short exposure, after the previous one.)
    assert!(
        incident
            .exposures
            .iter()
            .all(|exposure| !exposure.is_open()),
        "{:#?}",
        incident.exposures
    );
    let exposure = &incident.exposures[0];
    assert_eq!(
        (exposure.page.as_deref(), exposure.home, exposure.kind),
        (Some("home"), true, ExposureKind::Defaced)
    );
    let event = timestamp_from_ms(repair.detected_at_ms);
    assert_eq!(
        (exposure.start.at, exposure.start.basis),
        (event, StartBasis::GuardEvent)
    );
    let ended = exposure.ended_at.expect("the restore ended the exposure");
    assert_eq!(exposure.ended_by, Some(EndBasis::Restored));
    assert!(
        ended >= event && ended.duration_since(event) < jiff::SignedDuration::from_secs(5),
        "{event} → {ended}"
    );
    assert_eq!(
        fs::read(guarded.root.join("index.html")).unwrap(),
        b"<html>portal home</html>"
    );
    // Measured against the home page's indicator, and over: hours later
    // the suggestion is what it was.
    let rules = Rules::new(&guarded.plan).unwrap();
    let later = suggest_level(
        &rules,
        &incident,
        event + jiff::SignedDuration::from_hours(3),
    );
    assert_eq!(later.level, "IV", "{:#?}", later.reasons);
    assert!(
        later.reasons.iter().any(|reason| reason
            .text_en
            .starts_with("home page of portal showed defaced content for 0 s: below the 30 min indicator for level III")),
        "{:#?}",
        later.reasons
    );
    let detail = guarded.store.incident(id).await.unwrap().unwrap();
    assert_eq!(detail.signals[0].page.as_deref(), Some("home"));
    assert!(
        detail.signals[0].reasons[0].contains("index.html (the home page, home)"),
        "{:?}",
        detail.signals[0].reasons
    );
    guarded.stop().await;
}

/// Another page's index file is that page; a file that serves no page of
/// the plan keeps its path; each exposure ends at its own restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_measured_as_the_pages_they_serve() {
    let mut guarded = Guarded::start().await;
    let (id, _) = guarded
        .tamper("tzgg/index.html", b"<html>notices, defaced</html>")
        .await;
    let (same, _) = guarded
        .tamper("css/site.css", b"body { display: none }")
        .await;
    assert_eq!(same, id, "one incident for the site");
    let incident = guarded.incident(id).await;
    let pages: std::collections::HashSet<(Option<&str>, bool, Option<EndBasis>)> = incident
        .exposures
        .iter()
        .map(|exposure| (exposure.page.as_deref(), exposure.home, exposure.ended_by))
        .collect();
    assert_eq!(
        pages,
        [
            (Some("notices"), false, Some(EndBasis::Restored)),
            (Some("css/site.css"), false, Some(EndBasis::Restored)),
        ]
        .into_iter()
        .collect()
    );
    guarded.stop().await;
}

/// A page defaced while no guard watched (serve was down) is found by the
/// start-up check; its exposure starts when the file changed (its ctime),
/// not when the guard came back and looked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_unwatched_is_exposed_from_the_files_change_time() {
    let changed = std::cell::Cell::new(0i64);
    let mut guarded = Guarded::start_after(|root| {
        fs::write(root.join("index.html"), b"<html>hacked while down</html>").unwrap();
        let ctime = {
            use std::os::unix::fs::MetadataExt;
            let meta = fs::metadata(root.join("index.html")).unwrap();
            meta.ctime() * 1000 + meta.ctime_nsec() / 1_000_000
        };
        changed.set(ctime);
        // Down for a while.
        std::thread::sleep(Duration::from_millis(1_500));
    })
    .await;
    let (id, repair) = loop {
        match guarded.next().await {
            Heard::Raised { incident, repair } => break (incident, repair),
            Heard::Failed(error) => panic!("not recorded: {error}"),
            Heard::Ready => {}
        }
    };
    assert_eq!(repair.changed_at_ms, Some(changed.get()));
    assert!(repair.detected_at_ms - changed.get() >= 1_500, "{repair:?}");
    let incident = guarded.incident(id).await;
    let exposure = &incident.exposures[0];
    assert_eq!(exposure.page.as_deref(), Some("home"));
    assert_eq!(
        (exposure.start.at, exposure.start.basis),
        (timestamp_from_ms(changed.get()), StartBasis::FileChanged)
    );
    assert!(exposure.seconds(exposure.ended_at.unwrap()) >= 1);
    guarded.stop().await;
}
