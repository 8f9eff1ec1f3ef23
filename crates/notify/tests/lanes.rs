//! Each channel is sent on its own: a channel whose receiver takes five
//! seconds does not delay another channel's message, and a paced robot
//! keeps its pace while the other channels go at once. Real receivers on
//! loopback, the dispatcher's own `run` loop.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use sitewarden_notify::{
    Channel, ChannelConfig, Dispatcher, RetryPolicy, build_channel, with_min_interval,
};
use sitewarden_store::{NewMessage, OutboxState, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// (path, message id or robot text, when it arrived), in arrival order.
type Arrivals = Arc<Mutex<Vec<(String, String, Instant)>>>;

async fn arrive(arrivals: &Arrivals, path: &str, body: &[u8]) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    let what = json["id"]
        .as_str()
        .or_else(|| json["markdown"]["content"].as_str())
        .unwrap_or("")
        .to_string();
    arrivals
        .lock()
        .unwrap()
        .push((path.to_string(), what, Instant::now()));
}

async fn receivers(arrivals: Arrivals) -> String {
    let router = Router::new()
        .route(
            "/slow",
            post(|State(arrivals): State<Arrivals>, body: Bytes| async move {
                arrive(&arrivals, "/slow", &body).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
                "ok"
            }),
        )
        .route(
            "/fast",
            post(|State(arrivals): State<Arrivals>, body: Bytes| async move {
                arrive(&arrivals, "/fast", &body).await;
                "ok"
            }),
        )
        .route(
            "/robot",
            post(|State(arrivals): State<Arrivals>, body: Bytes| async move {
                arrive(&arrivals, "/robot", &body).await;
                r#"{"errcode":0,"errmsg":"ok"}"#
            }),
        )
        .with_state(arrivals);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn webhook(url: String) -> Arc<dyn Channel> {
    build_channel(
        &ChannelConfig::Webhook { url, secret: None },
        Duration::from_secs(20),
        &[],
    )
    .unwrap()
}

fn message(id: &str, channel: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        incident_id: None,
        channel: channel.into(),
        recipient: None,
        subject: format!("【网页篡改】{id}"),
        body: "发现时间 09:00；已切断对外服务。".into(),
        created_at: 0,
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        max_attempts: 20,
        lease: Duration::from_secs(60),
        concurrency: 4,
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn arrived(arrivals: &Arrivals, path: &str) -> Vec<(String, Instant)> {
    arrivals
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _, _)| at == path)
        .map(|(_, what, when)| (what.clone(), *when))
        .collect()
}

/// Regression: a pass claimed a batch and waited for all of its sends, so
/// a message for one channel waited for a slow send on another.
#[tokio::test]
async fn a_slow_channel_does_not_hold_back_another() {
    let arrivals: Arrivals = Arc::default();
    let url = receivers(arrivals.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        HashMap::from([
            ("slow".to_string(), webhook(format!("{url}/slow"))),
            ("fast".to_string(), webhook(format!("{url}/fast"))),
        ]),
        policy(),
    );
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let dispatcher = dispatcher.clone();
        let cancel = cancel.clone();
        async move { dispatcher.run(cancel).await }
    });

    store
        .enqueue_message(&message("slow-1", "slow"))
        .await
        .unwrap();
    dispatcher.wake();
    wait_for("the slow channel's send", || {
        !arrived(&arrivals, "/slow").is_empty()
    })
    .await;

    // The slow channel's receiver now takes 5 s to answer.
    let enqueued = Instant::now();
    store
        .enqueue_message(&message("fast-1", "fast"))
        .await
        .unwrap();
    dispatcher.wake();
    wait_for("the fast channel's message", || {
        !arrived(&arrivals, "/fast").is_empty()
    })
    .await;
    let latency = arrived(&arrivals, "/fast")[0].1 - enqueued;
    // About a second at most on a loaded machine; waiting for the slow
    // send would take about 5 s.
    assert!(
        latency < Duration::from_millis(1500),
        "the fast channel's message took {latency:?}"
    );
    assert_eq!(
        store.outbox_message("slow-1").await.unwrap().unwrap().state,
        OutboxState::Sending,
        "the slow send is still in flight"
    );

    // On cancellation the send in flight finishes and is recorded.
    cancel.cancel();
    running.await.unwrap();
    for id in ["slow-1", "fast-1"] {
        assert_eq!(
            store.outbox_message(id).await.unwrap().unwrap().state,
            OutboxState::Sent,
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_paced_robot_keeps_its_pace_and_the_others_go_at_once() {
    let arrivals: Arrivals = Arc::default();
    let url = receivers(arrivals.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let pace = Duration::from_millis(1000);
    let robot = build_channel(
        &ChannelConfig::WeCom {
            url: format!("{url}/robot"),
        },
        Duration::from_secs(20),
        &[],
    )
    .unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        HashMap::from([
            // min_interval_ms = 1000 in the plan.
            (
                "duty-group".to_string(),
                with_min_interval(robot, Some(pace)),
            ),
            ("fast".to_string(), webhook(format!("{url}/fast"))),
        ]),
        policy(),
    );
    for n in 1..=4 {
        store
            .enqueue_message(&message(&format!("robot-{n}"), "duty-group"))
            .await
            .unwrap();
    }
    for n in 1..=3 {
        store
            .enqueue_message(&message(&format!("fast-{n}"), "fast"))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let dispatcher = dispatcher.clone();
        let cancel = cancel.clone();
        async move { dispatcher.run(cancel).await }
    });
    wait_for("every message", || {
        arrived(&arrivals, "/robot").len() == 4 && arrived(&arrivals, "/fast").len() == 3
    })
    .await;
    cancel.cancel();
    running.await.unwrap();

    let robot = arrived(&arrivals, "/robot");
    for (n, (text, _)) in robot.iter().enumerate() {
        assert!(
            text.contains(&format!("robot-{}", n + 1)),
            "in order: {text}"
        );
    }
    for pair in robot.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        // Sends start at least a second apart; a few ms of loopback jitter
        // between start and arrival is allowed for.
        assert!(
            gap >= pace - Duration::from_millis(50),
            "robot messages {gap:?} apart"
        );
    }
    let last_fast = arrived(&arrivals, "/fast")
        .iter()
        .map(|(_, when)| *when)
        .max()
        .unwrap();
    assert!(
        last_fast < robot[1].1,
        "the other channel's messages do not wait behind the robot's pace"
    );
    assert!(
        last_fast - started < Duration::from_millis(1500),
        "took {:?}",
        last_fast - started
    );
    assert_eq!(
        store
            .messages_in_state(OutboxState::Sent)
            .await
            .unwrap()
            .len(),
        7
    );
}
