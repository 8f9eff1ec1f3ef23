//! `sitewarden guard baseline` and `sitewarden guard watch` as a user runs
//! them, and `sitewarden serve` guarding the plan's web roots: the binary
//! spawned on a real web root in a temp dir, a page defaced (and a web
//! shell dropped) while it watches, polled with a deadline until repaired,
//! then stopped with SIGINT.

mod support;
use support::{interrupt, sitewarden, wait_until};

use sitewarden_demo_sites::{Encoding, SampleSite, SiteServer, loopback_plan_options};
use sitewarden_plan::sample_plan_with;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn guard_watch_restores_a_defaced_page_and_removes_a_web_shell() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("www");
    let data = temp.path().join("data");
    std::fs::create_dir_all(root.join("news")).unwrap();
    let home = "<html><body>示例省财政厅</body></html>".as_bytes();
    std::fs::write(root.join("index.html"), home).unwrap();
    std::fs::write(root.join("news/1.html"), b"<p>notice</p>").unwrap();
    let (root_arg, data_arg) = (root.to_str().unwrap(), data.to_str().unwrap());

    let baseline = sitewarden(&[
        "guard", "baseline", "--data", data_arg, "--root", root_arg, "--site", "portal",
    ])
    .output()
    .await
    .unwrap();
    assert!(
        baseline.status.success(),
        "baseline failed: {}",
        String::from_utf8_lossy(&baseline.stderr)
    );

    let mut watch = sitewarden(&["guard", "watch", "--data", data_arg, "--root", root_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("guarding") {
                return line;
            }
        }
        panic!("guard watch ended before it was ready");
    })
    .await
    .expect("guard watch ready within 30 s");
    assert!(ready.contains("site portal"), "{ready}");
    // Keep reading stdout so the watcher never blocks on a full pipe.
    let output = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });

    // Written beside the root and renamed in, so the guard sees the whole
    // attacker's file: a write in place can be caught (and quarantined)
    // between its truncation and its bytes.
    let plant = |name: &str, bytes: &[u8]| {
        let staged = temp.path().join("staged");
        std::fs::write(&staged, bytes).unwrap();
        std::fs::rename(&staged, root.join(name)).unwrap();
    };
    plant("index.html", b"<h1>hacked by nobody</h1>");
    plant("news/shell.php", b"<?php eval($_POST[1]); ?>");
    wait_until(
        "the page restored and the shell removed",
        Duration::from_secs(10),
        || {
            std::fs::read(root.join("index.html")).is_ok_and(|bytes| bytes == home)
                && !root.join("news/shell.php").exists()
        },
    )
    .await;

    let status = interrupt(&mut watch).await;
    let seen = output.await.unwrap();
    assert!(
        status.success(),
        "guard watch exited with {status}: {seen:?}"
    );
    assert!(
        seen.iter().any(|line| line.contains("index.html")),
        "the repair is reported: {seen:?}"
    );
    assert!(
        seen.iter().any(|line| line.contains("news/shell.php")),
        "the web shell is reported: {seen:?}"
    );

    // The attacker's bytes are in the quarantine, and the repairs are
    // incidents in the store.
    assert!(quarantine_holds(&data, b"hacked by nobody"));
    assert!(quarantine_holds(&data, b"eval($_POST[1])"));
    let incidents = sitewarden(&[
        "incident",
        "list",
        "--json",
        "--data",
        data_arg,
        "--plan",
        temp.path().join("no-plan.toml").to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    let listed = String::from_utf8_lossy(&incidents.stdout);
    assert!(
        incidents.status.success(),
        "{}",
        String::from_utf8_lossy(&incidents.stderr)
    );
    assert!(listed.contains("\"portal\""), "{listed}");
}

#[tokio::test]
async fn serve_guards_the_plans_web_roots_and_skips_one_without_a_baseline() {
    let portal = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .unwrap();
    let procurement = SiteServer::start(SampleSite::Procurement, Encoding::Gbk)
        .await
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("www-portal");
    let unapproved = temp.path().join("www-portal-en");
    std::fs::create_dir_all(root.join("uploads")).unwrap();
    std::fs::create_dir_all(&unapproved).unwrap();
    let home = "<html><body>门户</body></html>".as_bytes();
    std::fs::write(root.join("index.html"), home).unwrap();
    // The sample's web root becomes three: one never approved, one
    // missing, and the temp root, which keeps the sample's upload_dirs and
    // exclude.
    let sample_root = "path = \"/srv/www/portal\"\n";
    let text = sample_plan_with(&loopback_plan_options(&[&portal, &procurement], 60, None));
    assert!(text.contains(sample_root));
    let text = text.replace(
        sample_root,
        &format!(
            "path = \"{}\"\n\n[[sites.web_roots]]\npath = \"{}\"\n\n[[sites.web_roots]]\npath = \"{}\"\n",
            unapproved.display(),
            temp.path().join("www-missing").display(),
            root.display(),
        ),
    );
    let plan = temp.path().join("sitewarden.toml");
    std::fs::write(&plan, text).unwrap();
    let (plan_arg, data) = (plan.to_str().unwrap(), temp.path().join("data"));
    let data_arg = data.to_str().unwrap();

    let baseline = sitewarden(&["baseline", "--plan", plan_arg, "--data", data_arg])
        .output()
        .await
        .unwrap();
    assert!(
        baseline.status.success(),
        "{}",
        String::from_utf8_lossy(&baseline.stderr)
    );
    let guard_baseline = sitewarden(&[
        "guard",
        "baseline",
        "--data",
        data_arg,
        "--root",
        root.to_str().unwrap(),
        "--site",
        "portal",
        "--upload-dir",
        "uploads",
        "--exclude",
        "cache/**",
        "--exclude",
        "*.log",
    ])
    .output()
    .await
    .unwrap();
    assert!(guard_baseline.status.success());

    let mut serve = sitewarden(&["serve", "--plan", plan_arg, "--data", data_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let mut errors = BufReader::new(serve.stderr.take().unwrap()).lines();
    let stderr = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = errors.next_line().await {
            seen.push(line);
        }
        seen
    });
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("[guard portal] guarding") {
                return;
            }
        }
        panic!("serve ended before guarding the web root");
    })
    .await
    .expect("serve guards the root within 60 s");
    let stdout = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });

    std::fs::write(root.join("index.html"), b"<h1>hacked</h1>").unwrap();
    std::fs::write(root.join("uploads/photo.jpg"), b"\xff\xd8 an upload").unwrap();
    wait_until("the page restored", Duration::from_secs(10), || {
        std::fs::read(root.join("index.html")).is_ok_and(|bytes| bytes == home)
    })
    .await;

    let status = interrupt(&mut serve).await;
    let (out, err) = (stdout.await.unwrap(), stderr.await.unwrap());
    assert!(status.success(), "serve exited with {status}: {err:?}");
    assert!(
        out.iter()
            .any(|line| line.starts_with("[guard portal]") && line.contains("index.html")),
        "{out:?}"
    );
    // An allowed upload stays.
    assert!(root.join("uploads/photo.jpg").exists());
    // The unapproved and the missing root are reported and skipped.
    let unapproved_shown = unapproved.display().to_string();
    assert!(
        err.iter().any(|line| line.contains(&unapproved_shown)
            && line.contains("no approved version")
            && line.contains("sitewarden guard baseline")),
        "{err:?}"
    );
    assert!(
        err.iter()
            .any(|line| line.contains("www-missing") && line.contains("not guarded")),
        "{err:?}"
    );

    // The repair is an incident of the plan's site, run by the engine.
    let incidents = sitewarden(&[
        "incident", "list", "--json", "--plan", plan_arg, "--data", data_arg,
    ])
    .output()
    .await
    .unwrap();
    let listed = String::from_utf8_lossy(&incidents.stdout);
    assert!(incidents.status.success());
    assert!(listed.contains("\"portal\""), "{listed}");
    // Measured as the portal's home page (the file that serves `/`), from
    // the guard's event to its restore.
    assert_home_page_restored(&incidents.stdout);
}

/// The listed incident's exposure is the home page's, started at the
/// guard's event and ended by its restore.
fn assert_home_page_restored(listed: &[u8]) {
    let listed: serde_json::Value = serde_json::from_slice(listed).unwrap();
    let exposures = listed[0]["exposures"]
        .as_array()
        .unwrap_or_else(|| panic!("no exposures in {listed}"));
    assert!(
        exposures.iter().any(|exposure| exposure["page"] == "home"
            && exposure["home"] == true
            && exposure["start"]["basis"] == "guard_event"
            && exposure["ended_by"] == "restored"),
        "{exposures:#?}"
    );
}

/// `guard watch --plan` runs a root as `serve` does: its repairs name the
/// plan's pages and the incident engine measures them.
#[tokio::test]
async fn guard_watch_with_the_plan_measures_the_page_a_file_serves() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("www");
    let data = temp.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    let home = "<html><body>示例省财政厅</body></html>".as_bytes();
    std::fs::write(root.join("index.html"), home).unwrap();
    let plan = temp.path().join("sitewarden.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
[organisation]
name = "示例省财政厅"

[[sites]]
name = "portal"
tier = "provincial_government_portal"
pages = [{{ url = "https://portal.example.gov.test/" }}]
web_roots = [{{ path = "{}" }}]
"#,
            root.display()
        ),
    )
    .unwrap();
    let (root_arg, data_arg, plan_arg) = (
        root.to_str().unwrap(),
        data.to_str().unwrap(),
        plan.to_str().unwrap(),
    );
    let baseline = sitewarden(&[
        "guard", "baseline", "--data", data_arg, "--root", root_arg, "--plan", plan_arg,
    ])
    .output()
    .await
    .unwrap();
    assert!(
        baseline.status.success(),
        "{}",
        String::from_utf8_lossy(&baseline.stderr)
    );
    let mut watch = sitewarden(&[
        "guard", "watch", "--data", data_arg, "--root", root_arg, "--plan", plan_arg,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("guarding") {
                return;
            }
        }
        panic!("guard watch ended before it was ready");
    })
    .await
    .expect("guard watch ready within 60 s");
    let output = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });
    let staged = temp.path().join("staged");
    std::fs::write(&staged, b"<h1>hacked by nobody</h1>").unwrap();
    std::fs::rename(&staged, root.join("index.html")).unwrap();
    wait_until("the page restored", Duration::from_secs(30), || {
        std::fs::read(root.join("index.html")).is_ok_and(|bytes| bytes == home)
    })
    .await;
    // The signal is recorded off the repair path: wait for the incident.
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let incidents = sitewarden(&[
            "incident", "list", "--json", "--plan", plan_arg, "--data", data_arg,
        ])
        .output()
        .await
        .unwrap();
        assert!(
            incidents.status.success(),
            "{}",
            String::from_utf8_lossy(&incidents.stderr)
        );
        let listed: serde_json::Value = serde_json::from_slice(&incidents.stdout).unwrap();
        if listed[0]["exposures"]
            .as_array()
            .is_some_and(|exposures| !exposures.is_empty())
        {
            break incidents.stdout;
        }
        assert!(Instant::now() < deadline, "no incident: {listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = interrupt(&mut watch).await;
    let seen = output.await.unwrap();
    assert!(
        status.success(),
        "guard watch exited with {status}: {seen:?}"
    );
    assert_home_page_restored(&listed);
}

/// Whether some file under the quarantine contains `needle`.
fn quarantine_holds(data: &Path, needle: &[u8]) -> bool {
    let mut pending = vec![data.join("guard/quarantine")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle))
            {
                return true;
            }
        }
    }
    false
}
