//! The live detector's memory survives a restart of the watch: saved when
//! it stops (and every minute), taken up when it starts, so the web-shell
//! learning period runs from the first start, not from each restart. A
//! file that is not a memory is set aside, not lost, and learning starts
//! afresh.

use sitewarden_livewatch::LiveWatch;
use sitewarden_livewatch::memory::{MEMORY_FILE, load};
use sitewarden_plan::Plan;
use sitewarden_store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn plan(log: &Path) -> Plan {
    Plan::from_toml_str(&format!(
        r#"
[organisation]
name = "示例单位"

[[sites]]
name = "portal"

[[sites.pages]]
url = "https://portal.example.gov.test/"

[[logwatch.files]]
path = "{}"
site = "portal"
format = "combined"
start_at = "beginning"
"#,
        log.display()
    ))
    .expect("valid plan")
}

/// Starts the watch, lets it read the log, stops it.
async fn run_once(plan: &Arc<Plan>, data: &Path) -> u64 {
    let store = Store::open(data)
        .await
        .unwrap()
        .with_plan(plan.clone())
        .unwrap();
    let watch = LiveWatch::start(plan, store, data, None)
        .unwrap()
        .expect("a file to watch");
    tokio::time::sleep(Duration::from_millis(600)).await;
    watch.stop().await.watch.requests
}

#[tokio::test]
async fn the_detectors_memory_is_kept_across_restarts_and_a_bad_file_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "192.0.2.10 - - [26/Nov/2026:08:00:00 +0800] \"GET /index.php HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
    )
    .unwrap();
    let plan = Arc::new(plan(&log));

    assert_eq!(run_once(&plan, &data).await, 1);
    let first = load(&data).expect("saved when the watch stopped");
    assert!(
        first.scripts.iter().any(|(path, _)| path == "/index.php"),
        "{first:?}"
    );

    // Restarted later: the learning period still runs from the first start.
    tokio::time::sleep(Duration::from_millis(20)).await;
    run_once(&plan, &data).await;
    let second = load(&data).unwrap();
    assert_eq!(second.learning_started_ms, first.learning_started_ms);
    assert!(second.saved_at_ms > first.saved_at_ms);
    assert!(second.scripts.iter().any(|(path, _)| path == "/index.php"));

    // A damaged file: kept aside as .bad, and a fresh memory saved.
    std::fs::write(data.join(MEMORY_FILE), b"{\"saved_at_ms\": 1,").unwrap();
    run_once(&plan, &data).await;
    assert_eq!(
        std::fs::read(data.join(format!("{MEMORY_FILE}.bad"))).unwrap(),
        b"{\"saved_at_ms\": 1,"
    );
    let fresh = load(&data).expect("a fresh memory");
    assert!(fresh.learning_started_ms > first.learning_started_ms);
}
