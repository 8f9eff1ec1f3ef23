//! Bad input and safety (issue 3): non-UTF-8 names and deep trees, a
//! corrupt vault file, publishing to a running watcher, maintenance windows,
//! rollback, export and import, and repairs recorded as signals with their
//! evidence in the store.

use sitewarden_guard::{
    Action, Applied, ApproveOptions, Approved, GuardData, PageMap, Policy, Repairer, VaultLocation,
    WatchConfig, WatchEvent, approve, blake3_hex, diff, export, import, open_window, rollback,
    scan_tree, signal_for, verify, watch,
};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(15);

fn options(root: &Path) -> ApproveOptions {
    ApproveOptions {
        root: root.to_path_buf(),
        site: Some("portal".into()),
        approved_by: "test".into(),
        note: "baseline".into(),
        ..Default::default()
    }
}

fn differences(data: &GuardData, root: &Path) -> usize {
    let (root_data, _) = data.root(root).unwrap();
    let approved = root_data.current_manifest(root).unwrap();
    let policy = Policy::new(&approved.excludes, &approved.upload_dirs).unwrap();
    let live = scan_tree(root, &policy, None, &|_| {}).unwrap();
    diff(&approved.entries, &live.entries).len()
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

struct Running {
    cancel: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
    events: mpsc::Receiver<WatchEvent>,
}

impl Running {
    fn start(data: &GuardData, root: &Path) -> Running {
        let (sender, events) = mpsc::channel();
        let cancel = CancellationToken::new();
        let (data, mut config, token) = (data.clone(), WatchConfig::new(root), cancel.clone());
        config.tick = Duration::from_millis(20);
        let thread = std::thread::spawn(move || {
            let events = sender.clone();
            if let Err(error) = watch(&data, &config, &token, move |event| {
                let _ = events.send(event);
            }) {
                let _ = sender.send(WatchEvent::Warning(error.to_string()));
            }
        });
        let running = Running {
            cancel,
            thread: Some(thread),
            events,
        };
        running.wait(|event| matches!(event, WatchEvent::Ready { .. }));
        running
    }

    fn wait(&self, mut wanted: impl FnMut(&WatchEvent) -> bool) -> WatchEvent {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(WatchEvent::Warning(warning)) => panic!("{warning}"),
                Ok(event) if wanted(&event) => return event,
                Ok(event) if std::env::var_os("GUARD_TEST_TRACE").is_some() => {
                    eprintln!("skipped {event:?}")
                }
                Ok(_) => {}
                Err(_) => panic!("watcher event not seen in time"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn non_utf8_names_and_a_deep_tree_are_guarded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    let odd = root.join(OsStr::from_bytes(b"caf\xe9-\xff.html"));
    fs::create_dir_all(&root).unwrap();
    fs::write(&odd, b"latin-1 name").unwrap();
    let mut deep = root.clone();
    for level in 0..200 {
        deep = deep.join(format!("d{}", level % 10));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom.html"), b"deep page").unwrap();
    let data = GuardData::open(&tmp.path().join("data")).unwrap();
    let approval = approve(&data, &options(&root), &|_| {}).unwrap();
    assert_eq!(approval.files, 2);
    assert_eq!(approval.entries, 1 + 1 + 200 + 1);

    let running = Running::start(&data, &root);
    fs::write(&odd, b"defaced").unwrap();
    fs::remove_file(deep.join("bottom.html")).unwrap();
    wait_until("both restored", || {
        fs::read(&odd).is_ok_and(|b| b == b"latin-1 name") && deep.join("bottom.html").exists()
    });
    wait_until("tree approved", || differences(&data, &root) == 0);
    drop(running);
    // The manifest round-trips the name as bytes.
    let (root_data, _) = data.root(&root).unwrap();
    let text = fs::read_to_string(root_data.manifest_path(1)).unwrap();
    assert!(
        text.contains("caf%E9-%FF.html"),
        "escaped name in the manifest"
    );
}

/// A vault file whose bytes no longer match its hash is never restored
/// from, and the defaced page is not left up.
#[test]
fn a_corrupt_vault_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("index.html"), b"approved").unwrap();
    let data = GuardData::open(&tmp.path().join("data")).unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();
    // Bit rot (or an intruder) changes the stored bytes in place.
    let Some(VaultLocation::Packed { pack, offset, len }) =
        data.vault().locate(&blake3_hex(b"approved"))
    else {
        panic!("the approved content is packed");
    };
    assert_eq!(len, 8);
    let file = fs::OpenOptions::new().write(true).open(&pack).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"tampered", offset).unwrap();
    drop(file);
    fs::write(root.join("index.html"), b"defaced").unwrap();

    let (root_data, canonical) = data.root(&root).unwrap();
    let approved = Arc::new(Approved::new(root_data.current_manifest(&root).unwrap()).unwrap());
    let mut repairer =
        Repairer::new(&canonical, approved, data.vault(), data.quarantine()).unwrap();
    let repairs = repairer.check_all();
    let repair = repairs
        .iter()
        .find(|r| r.path.to_string() == "index.html")
        .unwrap();
    assert_eq!(repair.action, Action::Failed);
    let error = repair.error.as_deref().unwrap();
    assert!(
        error.contains("is corrupt")
            && error.contains("refusing to restore")
            && error.contains(&pack.display().to_string()),
        "the message names the problem and where: {error}"
    );
    assert!(
        !root.join("index.html").exists(),
        "the defaced page is not left up"
    );
    let kept = data.quarantine().path(&blake3_hex(b"defaced")).unwrap();
    assert_eq!(fs::read(kept).unwrap(), b"defaced");
    // Rolling back to a version with a corrupt file is refused outright.
    let refused = rollback(&data, &root, 1).unwrap_err().to_string();
    assert!(refused.contains("is corrupt"), "{refused}");
    // And a check of the whole data directory names it.
    let report = verify(&data).unwrap();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(
        report.problems[0].starts_with(&blake3_hex(b"approved")),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[1].contains("index.html names content"),
        "{:?}",
        report.problems
    );
}

#[test]
fn publish_from_staging_switches_a_running_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(root.join("news")).unwrap();
    fs::write(root.join("index.html"), b"v1").unwrap();
    fs::write(root.join("news/old.html"), b"old").unwrap();
    let data = GuardData::open(&tmp.path().join("data")).unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();
    let running = Running::start(&data, &root);

    let staging = tmp.path().join("staging");
    fs::create_dir_all(staging.join("news")).unwrap();
    fs::write(staging.join("index.html"), b"v2").unwrap();
    fs::write(staging.join("news/new.html"), b"new").unwrap();
    let publish = ApproveOptions {
        from: Some(staging.clone()),
        note: "publish".into(),
        ..options(&root)
    };
    let approval = approve(&data, &publish, &|_| {}).unwrap();
    assert_eq!(approval.version, 2);
    assert!(matches!(approval.applied, Some(Applied::ByWatcher)));
    assert_eq!(fs::read(root.join("index.html")).unwrap(), b"v2");
    assert_eq!(fs::read(root.join("news/new.html")).unwrap(), b"new");
    assert!(!root.join("news/old.html").exists());
    assert_eq!(differences(&data, &root), 0);

    // Roll back to version 1 while the watcher runs.
    assert!(matches!(
        rollback(&data, &root, 1).unwrap(),
        Applied::ByWatcher
    ));
    assert_eq!(fs::read(root.join("index.html")).unwrap(), b"v1");
    assert!(root.join("news/old.html").exists());
    drop(running);
}

#[test]
fn a_maintenance_window_pauses_repairs_until_approved_or_expired() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("index.html"), b"v1").unwrap();
    let data = GuardData::open(&tmp.path().join("data")).unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();
    let running = Running::start(&data, &root);

    open_window(&data, &root, 30, "editor").unwrap();
    running.wait(|event| matches!(event, WatchEvent::WindowOpen { .. }));
    fs::write(root.join("index.html"), b"edited during the window").unwrap();
    fs::write(root.join("new.html"), b"a new page").unwrap();
    // Approve the live tree: it becomes version 2 and the window closes.
    let approval = approve(
        &data,
        &ApproveOptions {
            note: "publish".into(),
            ..options(&root)
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(approval.version, 2);
    running.wait(|event| matches!(event, WatchEvent::Switched { version: 2 }));
    running.wait(|event| matches!(event, WatchEvent::FullCheck { .. }));
    assert_eq!(
        fs::read(root.join("index.html")).unwrap(),
        b"edited during the window"
    );
    assert!(root.join("new.html").exists());

    // A window that ends without approval rolls the changes back.
    let window = open_window(&data, &root, 30, "editor").unwrap();
    running.wait(|event| matches!(event, WatchEvent::WindowOpen { .. }));
    fs::write(root.join("index.html"), b"never approved").unwrap();
    // Let the window run out (as if 30 minutes had passed).
    let (root_data, _) = data.root(&root).unwrap();
    root_data
        .set_window(&sitewarden_guard::Window {
            until_ms: sitewarden_guard::now_ms() - 1,
            ..window
        })
        .unwrap();
    running.wait(|event| matches!(event, WatchEvent::WindowExpired));
    wait_until("rolled back", || {
        fs::read(root.join("index.html")).is_ok_and(|b| b == b"edited during the window")
    });
    drop(running);
}

#[test]
fn export_and_import_verify_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("index.html"), b"v1").unwrap();
    let data = GuardData::open(&tmp.path().join("data")).unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();
    fs::write(root.join("index.html"), b"v2").unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();

    let backup = tmp.path().join("backup");
    let report = export(&data, &backup).unwrap();
    assert_eq!(
        (report.roots, report.manifests, report.vault_files),
        (1, 2, 2)
    );

    let restored = GuardData::open(&tmp.path().join("data2")).unwrap();
    let report = import(&restored, &backup).unwrap();
    assert_eq!(report.manifests, 2);
    let (root_data, _) = restored.root(&root).unwrap();
    assert_eq!(root_data.versions().unwrap(), vec![1, 2]);
    assert_eq!(restored.vault().get(&blake3_hex(b"v1")).unwrap(), b"v1");
    let check = verify(&restored).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!((check.contents, check.roots, check.versions), (2, 1, 2));

    // A damaged copy is refused.
    let damaged = PathBuf::from(&backup)
        .join("vault/blake3")
        .join(&blake3_hex(b"v1")[..2])
        .join(&blake3_hex(b"v1")[2..]);
    fs::write(&damaged, b"bit rot").unwrap();
    let third = GuardData::open(&tmp.path().join("data3")).unwrap();
    assert!(import(&third, &backup).is_err());
}

#[tokio::test]
async fn a_repair_becomes_a_signal_with_the_attackers_bytes_as_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("index.html"), b"approved").unwrap();
    let data_dir = tmp.path().join("data");
    let data = GuardData::open(&data_dir).unwrap();
    approve(&data, &options(&root), &|_| {}).unwrap();
    fs::write(root.join("shell.aspx"), b"<%@ Page Language=\"C#\" %>").unwrap();

    let (root_data, canonical) = data.root(&root).unwrap();
    let approved = Arc::new(Approved::new(root_data.current_manifest(&root).unwrap()).unwrap());
    let mut repairer =
        Repairer::new(&canonical, approved, data.vault(), data.quarantine()).unwrap();
    let repairs = repairer.check_all();
    assert_eq!(repairs.len(), 1);

    let store = sitewarden_store::Store::open(&data_dir).await.unwrap();
    let (signal, evidence) = signal_for("portal", &PageMap::default(), &canonical, &repairs[0]);
    let outcome = store.raise_signal(&signal, &evidence).await.unwrap();
    assert!(outcome.opened);
    let detail = store.incident(outcome.incident_id).await.unwrap().unwrap();
    assert_eq!(detail.summary.kind, "web_shell");
    let quarantined = detail
        .evidence
        .iter()
        .find(|e| e.kind == "quarantined_file")
        .unwrap();
    assert_eq!(
        store.blobs().get(&quarantined.content_sha256).unwrap(),
        b"<%@ Page Language=\"C#\" %>"
    );
    store.close().await;
}
