//! A restore that cannot be written: "report it, keep trying, never leave
//! a half-written file". The real `sitewarden guard watch` runs under a
//! file size limit (`RLIMIT_FSIZE`, set on the running process with
//! util-linux `prlimit`, `SIGXFSZ` ignored through the shell that starts
//! it), so writing the approved 10 MiB page back fails for real with
//! `EFBIG` after 4 MiB — the same path a full disk (`ENOSPC`) or an I/O
//! error takes. No privileges needed, so it runs in CI as it runs here.

mod support;
use support::{BIN, sitewarden, wait_until};

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LIMIT: u64 = 4 << 20;

/// Sets the soft file size limit of a running process (`None`: unlimited).
fn set_file_size_limit(pid: u32, soft: Option<u64>) {
    let soft = soft.map_or("unlimited".to_string(), |bytes| bytes.to_string());
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={soft}:unlimited"),
        ])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit failed: {status}");
}

/// Bytes a process has written so far (`wchar` of /proc/PID/io).
fn bytes_written(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|line| line.strip_prefix("wchar: "))
        .and_then(|value| value.trim().parse().ok())
        .expect("wchar in /proc/PID/io")
}

/// The names in `dir` other than `expected`.
fn unexpected_names(dir: &Path, expected: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.contains(&name.as_str()))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_restore_that_cannot_be_written_leaves_nothing_behind_is_reported_once_and_retried_until_it_succeeds()
 {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("www");
    let data = temp.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), b"<html>home</html>").unwrap();
    // Larger than the limit: its restore cannot be written.
    let big: Vec<u8> = (0..10 << 20).map(|i| b"<p>notice</p>\n"[i % 14]).collect();
    std::fs::write(root.join("big.html"), &big).unwrap();
    let (root_arg, data_arg) = (root.to_str().unwrap(), data.to_str().unwrap());
    let baseline = sitewarden(&[
        "guard", "baseline", "--data", data_arg, "--root", root_arg, "--site", "portal",
    ])
    .output()
    .await
    .unwrap();
    assert!(
        baseline.status.success(),
        "{}",
        String::from_utf8_lossy(&baseline.stderr)
    );

    // The shell ignores SIGXFSZ and execs the watcher, which inherits that:
    // an oversized write then fails with EFBIG instead of killing it.
    let mut watch = Command::new("sh")
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["guard", "watch", "--data", data_arg, "--root", root_arg])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = watch.id().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let collected = seen.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            collected.lock().unwrap().push(line);
        }
    });
    let lines_with = |needles: &[&str]| -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .cloned()
            .collect()
    };
    wait_until("the watcher is ready", Duration::from_secs(30), || {
        !lines_with(&["guarding"]).is_empty()
    })
    .await;
    set_file_size_limit(pid, Some(LIMIT));

    // Deface the big page (the whole file at once, renamed in).
    let staged = temp.path().join("staged");
    std::fs::write(&staged, b"<h1>hacked</h1>").unwrap();
    std::fs::rename(&staged, root.join("big.html")).unwrap();

    wait_until(
        "the failed restore is reported",
        Duration::from_secs(15),
        || !lines_with(&["big.html", "Failed", "File too large"]).is_empty(),
    )
    .await;
    // The defaced page is not left up (it is in the quarantine).
    wait_until(
        "the defaced page is taken down",
        Duration::from_secs(5),
        || !root.join("big.html").exists(),
    )
    .await;
    // The watcher keeps trying: each attempt writes up to the limit before
    // it fails, which the kernel counts in /proc/PID/io. Meanwhile nothing
    // half-written ever appears in the root.
    let written_before = bytes_written(pid);
    let give_up = Instant::now() + Duration::from_secs(20);
    while bytes_written(pid) < written_before + 3 * LIMIT {
        let stray = unexpected_names(&root, &["index.html"]);
        assert!(
            stray.is_empty(),
            "left in the root while failing: {stray:?}"
        );
        assert!(
            Instant::now() < give_up,
            "the restore is not retried (3 more attempts within 20 s)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Space again: the next retry restores the page.
    set_file_size_limit(pid, None);
    wait_until(
        "the page is restored once it can be written",
        Duration::from_secs(20),
        || std::fs::read(root.join("big.html")).is_ok_and(|bytes| bytes == big),
    )
    .await;
    wait_until("the restore is reported", Duration::from_secs(5), || {
        !lines_with(&["big.html", "Restored"]).is_empty()
    })
    .await;
    let stray = unexpected_names(&root, &["index.html", "big.html"]);
    assert!(stray.is_empty(), "left in the root: {stray:?}");
    // Every report before the restore's has been printed by now: the
    // failure was reported once, not once per attempt.
    let failures = lines_with(&["big.html", "Failed"]);
    assert_eq!(failures.len(), 1, "reported once: {failures:?}");

    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(30), watch.wait())
        .await
        .expect("stops within 30 s of SIGINT")
        .unwrap();
    reader.await.unwrap();
    assert!(status.success(), "guard watch exited with {status}");

    // Both the failure (with its error) and the restore are signals of the
    // site's incident.
    let shown = sitewarden(&[
        "incident",
        "show",
        "1",
        "--json",
        "--data",
        data_arg,
        "--plan",
        temp.path().join("no-plan.toml").to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let detail: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let reasons: Vec<String> = detail["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|signal| signal["reasons"].to_string())
        .filter(|reasons| reasons.contains("big.html"))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("REPAIR FAILED") && r.contains("File too large")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("restored")),
        "{reasons:?}"
    );
}
