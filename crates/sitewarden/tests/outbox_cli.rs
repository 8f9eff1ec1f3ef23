//! Delivery status as users see it: an incident's notifications in
//! `incident show` (text and JSON), the pending and dead counts in
//! `status`, `outbox list`, and `outbox retry` sending a dead letter again
//! with the retry recorded on the message and in the incident's timeline.

use sitewarden_store::{NewMessage, OutboxState, Store};
use std::process::Output;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");

async fn sitewarden(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn message(id: &str, channel: &str, recipient: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        incident_id: Some(1),
        channel: channel.into(),
        recipient: Some(recipient.into()),
        subject: "【IV级(建议)】首页出现博彩内容 — 事件通知".into(),
        body: "事件编号：#1".into(),
        created_at: jiff::Timestamp::now().as_millisecond(),
    }
}

const SENT: &str = "incident-1/notify:duty_officer:0/dingtalk/王小明";
const DEAD: &str = "incident-1/approval:7:report_upward/email/张丽";
const PENDING: &str = "incident-1/notify:duty_officer:0/sms/王小明";

#[tokio::test]
async fn dead_letters_are_shown_counted_and_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    assert!(sitewarden(&["init", dir_arg]).await.status.success());
    let plan = dir.path().join("sitewarden.toml");
    let plan = plan.to_str().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let out = sitewarden(&[
        "incident",
        "open",
        "--plan",
        plan,
        "--data",
        data,
        "--site",
        "portal",
        "--kind",
        "defacement",
        "--summary",
        "首页出现博彩内容",
        "--by",
        "王小明",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The outbox as a dispatcher leaves it: one sent, one dead after the
    // mail server refused it for good, one waiting for its next attempt.
    {
        let store = Store::open(dir.path().join("data").as_path())
            .await
            .unwrap();
        for (id, channel, recipient) in [
            (SENT, "dingtalk", "138-0000-0001"),
            (DEAD, "email", "zhang.li@example.gov.test"),
            (PENDING, "sms", "138-0000-0001"),
        ] {
            assert!(
                store
                    .enqueue_message(&message(id, channel, recipient))
                    .await
                    .unwrap()
            );
        }
        let now = jiff::Timestamp::now().as_millisecond();
        assert_eq!(
            store
                .claim_due_messages(now, 10, 60_000)
                .await
                .unwrap()
                .len(),
            3
        );
        store.mark_message_sent(SENT, now).await.unwrap();
        store
            .mark_message_failed(DEAD, "550 5.1.1 mailbox unavailable", None)
            .await
            .unwrap();
        store
            .mark_message_failed(PENDING, "HTTP 503: gateway busy", Some(now + 60_000))
            .await
            .unwrap();
        store.close().await;
    }

    // incident show --json: every message with its state, attempts and error.
    let detail = json(
        &sitewarden(&[
            "incident", "show", "1", "--plan", plan, "--data", data, "--json",
        ])
        .await,
    );
    let notifications = detail["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 3, "{detail}");
    let find = |id: &str| {
        notifications
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {notifications:?}"))
            .clone()
    };
    let dead = find(DEAD);
    assert_eq!(dead["state"], "dead");
    assert_eq!(dead["channel"], "email");
    assert_eq!(dead["recipient"], "zhang.li@example.gov.test");
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["last_error"], "550 5.1.1 mailbox unavailable");
    assert_eq!(find(SENT)["state"], "sent");
    assert!(find(SENT)["last_error"].is_null());
    assert_eq!(find(PENDING)["state"], "pending");
    assert_eq!(find(PENDING)["last_error"], "HTTP 503: gateway busy");

    // incident show: the same in words.
    let out = sitewarden(&["incident", "show", "1", "--plan", plan, "--data", data]).await;
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for expected in [
        "notifications: 1 sent, 1 pending, 0 sending, 1 dead",
        "zhang.li@example.gov.test",
        "last error: 550 5.1.1 mailbox unavailable",
        "last error: HTTP 503: gateway busy",
        DEAD,
        "sitewarden outbox retry",
    ] {
        assert!(
            shown.contains(expected),
            "{expected:?} missing from:\n{shown}"
        );
    }

    // status: the pending and dead counts.
    let out = sitewarden(&["status", "--plan", plan, "--data", data]).await;
    let status = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        status.contains("notifications: 1 pending, 0 sending, 1 dead"),
        "{status}"
    );

    // outbox list --state dead.
    let list = json(
        &sitewarden(&[
            "outbox", "list", "--data", data, "--state", "dead", "--json",
        ])
        .await,
    );
    let listed: Vec<_> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, [DEAD]);
    assert_eq!(list["counts"]["dead"], 1);
    let out = sitewarden(&["outbox", "list", "--data", data]).await;
    let table = text(&out.stdout);
    assert!(
        table.contains("1 pending, 0 sending, 1 sent, 1 dead") && table.contains(SENT),
        "{table}"
    );

    // Only dead letters are sent again; an unknown id is an error.
    let out = sitewarden(&[
        "outbox", "retry", SENT, "--plan", plan, "--data", data, "--by", "刘洋",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not dead"),
        "{}",
        text(&out.stderr)
    );
    let out = sitewarden(&[
        "outbox",
        "retry",
        "no-such-id",
        "--plan",
        plan,
        "--data",
        data,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no message"),
        "{}",
        text(&out.stderr)
    );

    // The dead letter goes back to pending, due now, its attempts from zero.
    let out = sitewarden(&[
        "outbox", "retry", DEAD, "--plan", plan, "--data", data, "--by", "刘洋",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("back to pending"),
        "{}",
        text(&out.stdout)
    );
    let list = json(&sitewarden(&["outbox", "list", "--data", data, "--json"]).await);
    let retried = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == DEAD)
        .unwrap()
        .clone();
    assert_eq!(retried["state"], "pending");
    assert_eq!(retried["attempts"], 0);
    assert_eq!(retried["retries"], 1);
    assert_eq!(retried["retried_by"], "刘洋");
    assert_eq!(list["counts"]["dead"], 0);
    {
        let store = Store::open(dir.path().join("data").as_path())
            .await
            .unwrap();
        let due = store
            .claim_due_messages(jiff::Timestamp::now().as_millisecond(), 10, 60_000)
            .await
            .unwrap();
        assert_eq!(
            due.iter()
                .map(|m| m.message.id.as_str())
                .collect::<Vec<_>>(),
            [DEAD],
            "the retried letter is due at once"
        );
        assert_eq!(due[0].state, OutboxState::Sending);
        store.close().await;
    }

    // The retry is in the incident's timeline, with who did it.
    let detail = json(
        &sitewarden(&[
            "incident", "show", "1", "--plan", plan, "--data", data, "--json",
        ])
        .await,
    );
    let noted = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| {
            event["detail"]["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains(DEAD) && detail.contains("sent again"))
        })
        .unwrap_or_else(|| panic!("no retry in the timeline: {}", detail["timeline"]))
        .clone();
    assert_eq!(noted["actor"], "刘洋");

    // --all-dead with none left says so.
    let out = sitewarden(&[
        "outbox",
        "retry",
        "--all-dead",
        "--plan",
        plan,
        "--data",
        data,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no dead letters"),
        "{}",
        text(&out.stdout)
    );
}
