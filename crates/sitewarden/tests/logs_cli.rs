//! `sitewarden logs analyze` and `logs timeline` as a user runs them, on a
//! log written by logwatch's seeded generator (invented addresses), with
//! what it planted checked in the output.

use sitewarden_logwatch::fixture::{FixtureSpec, generate};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");

async fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn analyze_finds_the_planted_attacks_flood_and_defacement_and_the_timeline_is_evidence() {
    let temp = tempfile::tempdir().unwrap();
    let log = temp.path().join("access.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let truth = generate(&FixtureSpec::day(7, 60_000), &mut file).unwrap();
    drop(file);
    let log_arg = log.to_str().unwrap();

    let html = temp.path().join("report.html");
    let (ok, stdout, stderr) = run(&[
        "logs",
        "analyze",
        log_arg,
        "--json",
        "--html",
        html.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["lines"].as_u64().unwrap(), truth.lines);
    assert_eq!(report["bad_lines"], 0);
    let classes: Vec<&str> = report["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|attack| attack["class"].as_str())
        .collect();
    for class in [
        "sqli",
        "xss",
        "path_traversal",
        "rce",
        "scanner",
        "web_shell",
    ] {
        assert!(classes.contains(&class), "{class} not found in {classes:?}");
    }
    // Every planted attacker is found; no address of normal traffic is.
    for attacker in &truth.attackers {
        let ip = attacker.to_string();
        assert!(
            report["attacks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|attack| attack["ip"] == ip.as_str()),
            "attacker {ip} missed"
        );
    }
    assert!(
        report["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|attack| !attack["ip"].as_str().unwrap().starts_with("10.0.")),
        "normal traffic flagged as an attack"
    );
    assert!(!report["floods"].as_array().unwrap().is_empty());
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));

    // A bad file is a clear error.
    let (ok, _, stderr) = run(&["logs", "analyze", "/nonexistent/access.log"]).await;
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/access.log"), "{stderr}");

    // The timeline around the defacement, attached to the portal's incident.
    let story = truth.defacement.expect("the fixture plants a defacement");
    let plan = temp.path().join("sitewarden.toml");
    std::fs::write(&plan, sitewarden_plan::sample_plan()).unwrap();
    let data = temp.path().join("data");
    let (plan_arg, data_arg) = (plan.to_str().unwrap(), data.to_str().unwrap());
    let at = jiff::Timestamp::from_millisecond(story.changed_ms)
        .unwrap()
        .to_string();
    let (ok, _, stderr) = run(&[
        "incident",
        "open",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--site",
        "portal",
        "--kind",
        "defacement",
        "--summary",
        "首页被篡改",
        "--discovered-at",
        &at,
        "--by",
        "王小明",
    ])
    .await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run(&[
        "logs",
        "timeline",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--site",
        "portal",
        "--around",
        &at,
        "--path",
        &story.page_path,
        "--log",
        log_arg,
    ])
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&story.attacker.to_string()), "{stdout}");
    assert!(stdout.contains(&story.shell_path), "{stdout}");
    assert!(stderr.contains("attached to incident #1"), "{stderr}");
    let (ok, stdout, _) = run(&[
        "incident", "show", "1", "--plan", plan_arg, "--data", data_arg,
    ])
    .await;
    assert!(ok);
    assert!(stdout.contains("log_timeline"), "{stdout}");
    let (ok, stdout, stderr) = run(&["evidence", "verify", "--data", data_arg]).await;
    assert!(ok, "{stdout}{stderr}");
}
