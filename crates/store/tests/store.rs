//! The store against a real SQLite file in a temp directory.

use sitewarden_incident::{IncidentState, Signal, SignalKind, SignalSource};
use sitewarden_store::{CheckRecord, EvidenceInput, Store};

fn signal(site: &str, kind: SignalKind, at: i64, drill: bool) -> Signal {
    Signal {
        site: site.into(),
        page: Some("home".into()),
        kind,
        source: SignalSource::Probe,
        score: 90,
        reasons: vec!["title changed to \"hacked by x\"".into()],
        observed_at_ms: at,
        drill,
    }
}

fn snapshot(body: &[u8], at: i64) -> EvidenceInput {
    EvidenceInput {
        kind: "page_snapshot".into(),
        content: body.to_vec(),
        media_type: "text/html".into(),
        captured_at: at,
        metadata: serde_json::json!({"url": "http://portal.example.gov.test/"}),
    }
}

#[tokio::test]
async fn signals_fold_into_one_incident_with_chained_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();

    let first = store
        .raise_signal(
            &signal("portal", SignalKind::Unavailable, 1_000, false),
            &[],
        )
        .await
        .unwrap();
    assert!(first.opened);
    let second = store
        .raise_signal(
            &signal("portal", SignalKind::Defacement, 2_000, false),
            &[snapshot(b"<h1>hacked</h1>", 2_000)],
        )
        .await
        .unwrap();
    assert!(!second.opened);
    assert_eq!(second.incident_id, first.incident_id);
    assert_eq!(second.evidence_ids.len(), 1);

    // A drill on the same site never joins the real incident.
    let drill = store
        .raise_signal(&signal("portal", SignalKind::Defacement, 3_000, true), &[])
        .await
        .unwrap();
    assert!(drill.opened);

    let detail = store.incident(first.incident_id).await.unwrap().unwrap();
    assert_eq!(
        detail.summary.kind, "defacement",
        "reclassified by the worse signal"
    );
    assert_eq!(detail.summary.subcategory, "信息篡改事件");
    assert_eq!(detail.summary.discovered_at, 1_000);
    assert_eq!(detail.summary.state, IncidentState::Detected);
    assert_eq!(detail.signals.len(), 2);
    let kinds: Vec<_> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["detected", "signal", "reclassified", "signal"]);
    let evidence = &detail.evidence[0];
    assert_eq!(
        store.blobs().get(&evidence.content_sha256).unwrap(),
        b"<h1>hacked</h1>"
    );

    // After recovery, a new defacement is a new incident.
    store
        .mark_recovered(first.incident_id, "probe", 4_000, &serde_json::json!({}))
        .await
        .unwrap();
    let third = store
        .raise_signal(&signal("portal", SignalKind::Defacement, 5_000, false), &[])
        .await
        .unwrap();
    assert!(third.opened);
    assert_ne!(third.incident_id, first.incident_id);

    assert_eq!(store.verify_evidence().await.unwrap(), Ok(1));
}

#[tokio::test]
async fn evidence_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for at in [1_000, 2_000, 3_000] {
        store
            .raise_signal(
                &signal("portal", SignalKind::Defacement, at, false),
                &[snapshot(format!("defaced at {at}").as_bytes(), at)],
            )
            .await
            .unwrap();
    }
    assert_eq!(store.verify_evidence().await.unwrap(), Ok(3));

    // Someone edits a record's metadata behind sitewarden's back.
    let db =
        sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("store.db").display()))
            .await
            .unwrap();
    sqlx::query("UPDATE evidence SET captured_at = 999 WHERE id = 2")
        .execute(&db)
        .await
        .unwrap();
    let problems = store.verify_evidence().await.unwrap().unwrap_err();
    assert_eq!(problems, ["evidence #2: record was altered"]);
}

#[tokio::test]
async fn baselines_keep_versions_and_checks_keep_history_of_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let url = "http://portal.example.gov.test/";
    assert_eq!(
        store
            .approve_baseline("portal", "home", url, "{}", b"v1", "admin", 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .approve_baseline("portal", "home", url, "{}", b"v2", "admin", 2)
            .await
            .unwrap(),
        2
    );
    let current = store
        .current_baseline("portal", "home")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version, 2);
    assert_eq!(store.blobs().get(&current.body_sha256).unwrap(), b"v2");
    assert_eq!(
        store
            .baseline_versions("portal", "home")
            .await
            .unwrap()
            .len(),
        2
    );

    let mut check = CheckRecord {
        site: "portal".into(),
        page: "home".into(),
        url: url.into(),
        checked_at: 10,
        verdict: "clean".into(),
        score: 0,
        reasons: vec![],
        http_status: Some(200),
        response_ms: Some(12),
        tls_expires_at: None,
        redirects: vec![],
        body_sha256: None,
        error: None,
        consecutive_failures: 0,
        up: true,
    };
    for (at, verdict) in [
        (10, "clean"),
        (20, "clean"),
        (30, "defaced"),
        (40, "clean"),
        (50, "clean"),
    ] {
        check.checked_at = at;
        check.verdict = verdict.into();
        store.record_check(&check).await.unwrap();
    }
    // First clean, the defaced one, and the return to clean.
    assert_eq!(store.check_history_len("portal", "home").await.unwrap(), 3);
    let states = store.page_states().await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].checked_at, 50);

    // Reopening the same directory keeps everything.
    store.close().await;
    let reopened = Store::open(dir.path()).await.unwrap();
    assert_eq!(
        reopened
            .baseline_versions("portal", "home")
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The guard's repair: the signal and the restore of its page commit
/// together, so a crash between them cannot leave an exposure running for
/// a file that was put back within milliseconds.
#[tokio::test]
async fn a_restored_signal_ends_its_pages_exposure_in_the_same_transaction() {
    use sitewarden_incident::{EndBasis, ExposureStart, StartBasis, timestamp_from_ms};
    let plan = sitewarden_plan::Plan::from_toml_str(
        r#"
[organisation]
name = "示例省财政厅"

[[sites]]
name = "portal"
pages = [{ url = "https://portal.example.gov.test/" }]
"#,
    )
    .expect("valid plan");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path())
        .await
        .unwrap()
        .with_plan(std::sync::Arc::new(plan))
        .unwrap();
    let mut guard_signal = signal("portal", SignalKind::Defacement, 1_000, false);
    guard_signal.source = SignalSource::Guard;
    let start = ExposureStart {
        at: timestamp_from_ms(1_000),
        basis: StartBasis::GuardEvent,
    };
    let outcome = store
        .raise_restored_signal(&guard_signal, Some(start), timestamp_from_ms(1_003), &[])
        .await
        .unwrap();
    let incident = store
        .engine_incident(outcome.incident_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.exposures.len(), 1);
    let exposure = &incident.exposures[0];
    assert_eq!(exposure.start, start);
    assert!(exposure.home, "the plan's page at / is a home page");
    assert_eq!(
        (exposure.ended_at, exposure.ended_by),
        (Some(timestamp_from_ms(1_003)), Some(EndBasis::Restored))
    );
}

/// A dead letter sent again by a person: back to pending with a fresh
/// attempt budget, the retry recorded on the message and in the
/// incident's timeline; anything not dead is left alone.
#[tokio::test]
async fn retrying_a_dead_letter_puts_it_back_and_records_who_did() {
    use sitewarden_store::{NewMessage, OutboxState, RetrySelection};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let incident = store
        .raise_signal(&signal("portal", SignalKind::Defacement, 1_000, false), &[])
        .await
        .unwrap()
        .incident_id;
    for id in ["dead-1", "sent-1"] {
        store
            .enqueue_message(&NewMessage {
                id: id.into(),
                incident_id: Some(incident),
                channel: "email".into(),
                recipient: Some("wang.xiaoming@example.gov.test".into()),
                subject: "s".into(),
                body: "b".into(),
                created_at: 1_000,
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .claim_due_messages(2_000, 10, 60_000)
            .await
            .unwrap()
            .len(),
        2
    );
    store
        .mark_message_failed("dead-1", "550 mailbox unavailable", None)
        .await
        .unwrap();
    store.mark_message_sent("sent-1", 2_500).await.unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.dead), (0, 1, 1));

    let none = store
        .retry_dead_messages(&RetrySelection::One("sent-1".into()), "刘洋", 3_000)
        .await
        .unwrap();
    assert!(none.is_empty(), "a sent message is not sent again");
    let retried = store
        .retry_dead_messages(&RetrySelection::AllDead, "刘洋", 3_000)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].state, OutboxState::Dead, "as it was");

    let message = store.outbox_message("dead-1").await.unwrap().unwrap();
    assert_eq!(message.state, OutboxState::Pending);
    assert_eq!(message.attempts, 0);
    assert_eq!(message.next_attempt_at, 3_000);
    assert_eq!(message.retries, 1);
    assert_eq!(message.retried, Some((3_000, "刘洋".to_string())));
    assert_eq!(
        message.last_error.as_deref(),
        Some("550 mailbox unavailable"),
        "kept until the next attempt"
    );
    assert_eq!(store.outbox_counts().await.unwrap().dead, 0);
    let due = store.claim_due_messages(3_000, 10, 60_000).await.unwrap();
    assert_eq!(due.len(), 1);

    let events = store.incident(incident).await.unwrap().unwrap().events;
    let note = events
        .iter()
        .find(|event| event.kind == "note")
        .expect("the retry is in the timeline");
    assert_eq!(note.actor, "刘洋");
    let detail = note.detail["detail"].as_str().unwrap();
    assert!(
        detail.contains("dead-1") && detail.contains("550 mailbox unavailable"),
        "{detail}"
    );
}
