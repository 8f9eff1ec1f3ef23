//! The command backend against real programs: /bin/sh scripts written to a
//! temp dir. Scripts are run as `/bin/sh SCRIPT …` rather than executed
//! directly, so a test never trips over "text file busy" when another
//! test's fork still holds the script open for writing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sitewarden_contain::{
    Backend, CommandBackend, CommandConfig, ContainError, Exit, SiteState, Switch,
};

fn switch(to: SiteState, reason: &str) -> Switch {
    Switch {
        site: "portal".into(),
        hosts: vec![
            "portal.example.gov.test".into(),
            "www.portal.example.gov.test".into(),
        ],
        to,
        reason: reason.into(),
        by: "duty officer Li Ming".into(),
    }
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("set -u\n{body}\n")).expect("write the script");
    path.to_str().expect("UTF-8 temp path").to_owned()
}

fn backend(argv: &[&str], timeout: Duration) -> CommandBackend {
    let mut config = CommandConfig::new(argv.iter().map(|a| a.to_string()).collect());
    config.timeout = timeout;
    CommandBackend::new(config).expect("valid settings")
}

/// Arguments a script wrote NUL-separated with `printf '%s\0' "$@"`.
fn arguments_written(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("the script wrote its arguments");
    bytes
        .split(|&byte| byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8(part.to_vec()).expect("UTF-8"))
        .collect()
}

#[tokio::test]
async fn the_command_gets_the_switch_as_arguments_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args");
    let env_out = dir.path().join("env");
    let cut_off = script(
        dir.path(),
        "cut-off.sh",
        &format!(
            r#"printf '%s\0' "$@" > '{}'
printf '%s\n' "$SITEWARDEN_SITE" "$SITEWARDEN_STATE" "$SITEWARDEN_REASON" "$SITEWARDEN_BY" "$SITEWARDEN_HOSTS" > '{}'
echo "switched $SITEWARDEN_SITE""#,
            out.display(),
            env_out.display()
        ),
    );
    let backend = backend(
        &[
            "/bin/sh",
            &cut_off,
            "--site={site}",
            "{state}",
            "{hosts}",
            "{by}",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(backend.name(), "command");
    let applied = backend
        .apply(&switch(SiteState::Maintenance, "defaced home page"))
        .await
        .expect("the command exits 0");

    assert_eq!(
        arguments_written(&out),
        [
            "--site=portal",
            "maintenance",
            "portal.example.gov.test www.portal.example.gov.test",
            "duty officer Li Ming",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&env_out).unwrap(),
        "portal\nmaintenance\ndefaced home page\nduty officer Li Ming\nportal.example.gov.test www.portal.example.gov.test\n"
    );
    assert_eq!(applied.backend, "command");
    assert_eq!(applied.site, "portal");
    assert_eq!(applied.to, SiteState::Maintenance);
    assert!(applied.files_written.is_empty());
    let [run] = applied.commands.as_slice() else {
        panic!("one command run: {:?}", applied.commands)
    };
    assert_eq!(run.exit, Exit::Code(0));
    assert_eq!(run.stdout_tail, "switched portal");
    assert_eq!(run.argv[2], "--site=portal");

    let applied = backend
        .apply(&switch(SiteState::Serving, "cleaned and checked"))
        .await
        .expect("the command exits 0");
    assert_eq!(arguments_written(&out)[1], "serving");
    assert_eq!(applied.to, SiteState::Serving);
}

#[tokio::test]
async fn a_reason_with_shell_metacharacters_arrives_as_one_unexpanded_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args");
    let pwned = dir.path().join("pwned");
    let cut_off = script(
        dir.path(),
        "cut-off.sh",
        &format!(r#"printf '%s\0' "$@" > '{}'"#, out.display()),
    );
    let reason = format!(
        "defaced; $(touch {pwned}) `touch {pwned}` | touch {pwned} && echo \"quoted\" 'single' * ~ $HOME\n second line",
        pwned = pwned.display()
    );
    let backend = backend(
        &[
            "/bin/sh",
            &cut_off,
            "{site}",
            "{reason}",
            "reason: {reason}",
        ],
        Duration::from_secs(10),
    );
    backend
        .apply(&switch(SiteState::Maintenance, &reason))
        .await
        .expect("the command exits 0");

    assert_eq!(
        arguments_written(&out),
        [
            "portal".to_owned(),
            reason.clone(),
            format!("reason: {reason}")
        ]
    );
    assert!(
        !pwned.exists(),
        "the reason was run by a shell: {} exists",
        pwned.display()
    );
}

#[tokio::test]
async fn a_nonzero_exit_is_an_error_with_the_end_of_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let cut_off = script(
        dir.path(),
        "cut-off.sh",
        r#"i=1
while [ $i -le 30 ]; do echo "stderr line $i" >&2; i=$((i + 1)); done
echo "load balancer refused: 403 Forbidden" >&2
exit 7"#,
    );
    let backend = backend(&["/bin/sh", &cut_off, "{site}"], Duration::from_secs(10));
    let error = backend
        .apply(&switch(SiteState::Maintenance, "defaced"))
        .await
        .expect_err("exit 7 is a failure");

    let ContainError::Failed {
        backend: "command",
        site,
        step: "command",
        run,
    } = &error
    else {
        panic!("not a command failure: {error:?}")
    };
    assert_eq!(site, "portal");
    assert_eq!(run.exit, Exit::Code(7));
    let lines: Vec<&str> = run.stderr_tail.lines().collect();
    assert_eq!(lines.len(), 20, "{}", run.stderr_tail);
    assert_eq!(lines[0], "stderr line 12");
    assert_eq!(lines[19], "load balancer refused: 403 Forbidden");
    let message = error.to_string();
    assert!(
        message.starts_with("command backend, site portal: command failed: `/bin/sh "),
        "{message}"
    );
    assert!(
        message.contains("exit code 7: stderr line 12 | ")
            && message.ends_with("| load balancer refused: 403 Forbidden"),
        "{message}"
    );
}

/// The state of a process from /proc: None when it is gone. A killed
/// grandchild is reparented to a PID 1 that may never reap it, so a zombie
/// (`Z`) counts as gone too: it runs nothing.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE …"; COMM may hold spaces and parentheses.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    (state != 'Z' && state != 'X').then_some(state)
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

fn wait_until_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(state) = process_state(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) still runs (state {state})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let child_pid = dir.path().join("child.pid");
    let grandchild_pid = dir.path().join("grandchild.pid");
    let cut_off = script(
        dir.path(),
        "hang.sh",
        &format!(
            r#"echo $$ > '{}'
sleep 60 &
echo $! > '{}'
echo "waiting for the CDN" >&2
wait"#,
            child_pid.display(),
            grandchild_pid.display()
        ),
    );
    let timeout = Duration::from_secs(1);
    let backend = backend(&["/bin/sh", &cut_off], timeout);
    let started = Instant::now();
    let error = backend
        .apply(&switch(SiteState::Maintenance, "defaced"))
        .await
        .expect_err("the command hangs");
    let took = started.elapsed();

    let run = error.run().expect("a failed run");
    assert_eq!(run.exit, Exit::TimedOut, "{error}");
    assert!(
        took >= timeout,
        "returned after {took:?}, before the timeout"
    );
    assert!(
        took < timeout + Duration::from_secs(3),
        "returned after {took:?}"
    );
    assert_eq!(run.stderr_tail, "waiting for the CDN");
    assert!(
        error.to_string().contains("timed out, killed after"),
        "{error}"
    );
    // The script and its `sleep 60` are both gone: the whole process group
    // was killed, not only the script.
    wait_until_gone(read_pid(&child_pid), "the script");
    wait_until_gone(read_pid(&grandchild_pid), "the script's sleep");
}

#[tokio::test]
async fn a_command_that_leaves_a_process_holding_its_output_still_returns() {
    let dir = tempfile::tempdir().unwrap();
    let helper_pid = dir.path().join("helper.pid");
    // The background sleep inherits stdout and stderr, so they stay open
    // after the script exits.
    let cut_off = script(
        dir.path(),
        "detach.sh",
        &format!(
            r#"sleep 30 &
echo $! > '{}'
echo "switched""#,
            helper_pid.display()
        ),
    );
    let backend = backend(&["/bin/sh", &cut_off], Duration::from_secs(20));
    let started = Instant::now();
    let applied = backend
        .apply(&switch(SiteState::Maintenance, "defaced"))
        .await
        .expect("the script exits 0");
    let took = started.elapsed();
    // Cleanup first, so a failed assertion does not leave it running.
    let helper = read_pid(&helper_pid);
    let helper_state = process_state(helper);
    let _ = std::process::Command::new("kill")
        .arg(helper.to_string())
        .status();

    assert!(
        took < Duration::from_secs(5),
        "waited {took:?} for the helper"
    );
    assert_eq!(applied.commands[0].stdout_tail, "switched");
    assert!(
        helper_state.is_some(),
        "a process the command leaves after a normal exit is not killed"
    );
}

#[tokio::test]
async fn a_chatty_command_does_not_block_on_its_pipes() {
    let dir = tempfile::tempdir().unwrap();
    // 2 MB on each stream: far more than a pipe holds.
    let cut_off = script(
        dir.path(),
        "chatty.sh",
        r#"head -c 2000000 /dev/zero | tr '\0' 'o'
head -c 2000000 /dev/zero | tr '\0' 'e' >&2
echo
echo "done"
echo "stderr done" >&2"#,
    );
    let backend = backend(&["/bin/sh", &cut_off], Duration::from_secs(20));
    let applied = backend
        .apply(&switch(SiteState::Maintenance, "defaced"))
        .await
        .expect("the script exits 0");
    let run = &applied.commands[0];
    assert!(
        run.stdout_tail.ends_with("\ndone"),
        "{}",
        &run.stdout_tail[run.stdout_tail.len() - 40..]
    );
    assert!(run.stderr_tail.ends_with("stderr done"));
    assert!(run.stdout_tail.len() <= 4096 + '…'.len_utf8());
    assert!(run.stdout_tail.starts_with("…ooo"));
}

#[tokio::test]
async fn a_missing_program_is_found_by_prepare_and_reported_by_apply() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("cut-off");
    let missing = missing.to_str().unwrap();
    let backend = backend(&[missing, "{site}"], Duration::from_secs(5));

    let error = backend.prepare().await.expect_err("no such program");
    assert!(
        matches!(
            error,
            ContainError::InvalidConfig {
                backend: "command",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("is not an executable file"),
        "{error}"
    );

    let error = backend
        .apply(&switch(SiteState::Maintenance, "defaced"))
        .await
        .expect_err("no such program");
    let ContainError::Spawn { program, step, .. } = &error else {
        panic!("not a spawn error: {error:?}")
    };
    assert_eq!((program.as_str(), *step), (missing, "command"));
    assert!(
        error.to_string().starts_with(&format!(
            "command backend, site portal: command: could not start `{missing}`: "
        )),
        "{error}"
    );

    // A program named without a '/' is looked up in PATH.
    self::backend(&["sh"], Duration::from_secs(5))
        .prepare()
        .await
        .expect("sh is in PATH");
}
