//! What the CLI tests share: the binary, polling with a deadline, and
//! stopping a child the way a person does (SIGINT).
#![allow(dead_code)] // each test binary uses its own part of it

use std::time::{Duration, Instant};
use tokio::process::Command;

/// The `sitewarden` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");

/// The binary with `args`, without colours.
pub fn sitewarden(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).env("NO_COLOR", "1");
    command
}

/// Runs the binary to the end: success, stdout and stderr.
pub async fn run(args: &[&str]) -> (bool, String, String) {
    let out = sitewarden(args).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `done` every 10 ms until it holds or `deadline` passes.
pub async fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < give_up, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends SIGINT and waits (at most 30 s) for the child to stop.
pub async fn interrupt(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().expect("still running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s of SIGINT")
        .unwrap()
}
