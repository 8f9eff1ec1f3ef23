//! Bad input from a monitored site — a 50 MB page, a binary body, broken
//! HTML, a redirect loop, a TLS error, an unreachable host — gives a clear
//! verdict or error, never a panic, and never loses what is stored.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sitewarden_analysis::Verdict;
use sitewarden_monitor::{DrillRegistry, Monitor, approve_baseline, now_ms};
use sitewarden_plan::Plan;
use sitewarden_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::net::TcpListener;

const NORMAL: u8 = 0;
const HUGE: u8 = 1;
const BINARY: u8 = 2;
const BROKEN: u8 = 3;
const LOOP: u8 = 4;
const EMPTY: u8 = 5;

const PAGE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>示例县人民政府</title></head>
<body><div class="news"><ul><li><a href="/a.html">关于开展安全生产检查的通知</a></li>
<li><a href="/b.html">示例县召开常务会议</a></li><li><a href="/c.html">政务公开目录</a></li></ul></div>
<p class="footer">主办单位：示例县人民政府办公室 电话：0000-12345678</p></body></html>"#;

async fn page(mode: Arc<AtomicU8>) -> Response {
    match mode.load(Ordering::SeqCst) {
        HUGE => {
            // 50 MB: the page as usual, then a flood of padding.
            let mut body = PAGE.as_bytes().to_vec();
            body.resize(50 * 1024 * 1024, b' ');
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
        }
        BINARY => {
            let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
            png.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
            ([(header::CONTENT_TYPE, "application/octet-stream")], png).into_response()
        }
        BROKEN => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><div><ul><li>关于开展安全生产检查的通知<li><a href='/b.html'>示例县召开常务会议</b></i></table><<<>>><script>var x = '</div>",
        )
            .into_response(),
        LOOP => (StatusCode::FOUND, [(header::LOCATION, "/")]).into_response(),
        EMPTY => ([(header::CONTENT_TYPE, "text/html")], "").into_response(),
        _ => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response(),
    }
}

fn plan(port: u16, dead_port: u16) -> Plan {
    Plan::from_toml_str(&format!(
        r#"
[organisation]
name = "示例县人民政府"

[probe]
timeout_seconds = 5
max_body_bytes = 1048576
down_after_failures = 1

[probe.resolve]
"www.example.gov.test" = "127.0.0.1"
"gone.example.gov.test" = "127.0.0.1"

[[sites]]
name = "county"
title = "示例县人民政府门户网站"
importance = "重要"

[[sites.pages]]
name = "home"
url = "http://www.example.gov.test:{port}/"

[[sites]]
name = "gone"
title = "已关闭的示例站点"
importance = "一般"

[[sites.pages]]
name = "home"
url = "http://gone.example.gov.test:{dead_port}/"
"#
    ))
    .expect("valid plan")
}

#[tokio::test]
async fn bad_pages_get_clear_verdicts_and_lose_nothing() {
    let mode = Arc::new(AtomicU8::new(NORMAL));
    let app = Router::new().fallback({
        let mode = mode.clone();
        move || page(mode.clone())
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let monitor = Monitor::new(
        &plan(port, dead_port),
        store.clone(),
        DrillRegistry::default(),
        None,
    )
    .await
    .unwrap();
    let targets = monitor.targets();
    let county = &targets.pages[0];
    let gone = &targets.pages[1];

    approve_baseline(monitor.prober(), targets, county, &store, "test", now_ms())
        .await
        .unwrap();
    // An unreachable page cannot be approved: a clear error, nothing stored.
    let error = approve_baseline(monitor.prober(), targets, gone, &store, "test", now_ms())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("gone/home") && error.contains("cannot connect"),
        "{error}"
    );
    assert!(
        store
            .current_baseline("gone", "home")
            .await
            .unwrap()
            .is_none()
    );
    // Approve it against the live server instead, then let it die.
    store
        .approve_baseline(
            "gone",
            "home",
            gone.url.as_str(),
            &serde_json::to_string(&monitor.baseline("county", "home").await.unwrap().unwrap())
                .unwrap(),
            PAGE.as_bytes(),
            "test",
            now_ms(),
        )
        .await
        .unwrap();

    let check = |expected_mode: u8| {
        let monitor = monitor.clone();
        let mode = mode.clone();
        async move {
            mode.store(expected_mode, Ordering::SeqCst);
            monitor.check_all_once().await
        }
    };

    let outcomes = check(NORMAL).await;
    assert_eq!(outcomes[0].verdict, Verdict::Clean, "{:?}", outcomes[0]);
    let gone_outcome = &outcomes[1];
    assert_eq!(gone_outcome.verdict, Verdict::Down);
    assert!(
        gone_outcome.reasons[0].contains("cannot connect"),
        "{gone_outcome:?}"
    );

    let huge = &check(HUGE).await[0];
    assert_eq!(
        huge.verdict,
        Verdict::Clean,
        "the first MiB is the approved page: {huge:?}"
    );
    assert!(
        huge.reasons
            .iter()
            .any(|r| r.contains("first 1048576 bytes")),
        "{huge:?}"
    );

    let binary = &check(BINARY).await[0];
    assert_eq!(binary.verdict, Verdict::Defaced, "{binary:?}");

    let broken = &check(BROKEN).await[0];
    assert_ne!(
        broken.verdict,
        Verdict::Down,
        "broken HTML is still a page: {broken:?}"
    );

    let looping = &check(LOOP).await[0];
    assert_eq!(looping.verdict, Verdict::Down, "{looping:?}");
    assert!(looping.reasons[0].contains("redirect loop"), "{looping:?}");

    let empty = &check(EMPTY).await[0];
    assert_eq!(
        empty.verdict,
        Verdict::Defaced,
        "an emptied home page is defaced: {empty:?}"
    );

    assert_eq!(check(NORMAL).await[0].verdict, Verdict::Clean);

    // Nothing stored was lost on the way.
    assert_eq!(
        store
            .baseline_versions("county", "home")
            .await
            .unwrap()
            .len(),
        1
    );
    let verified = store
        .verify_evidence()
        .await
        .unwrap()
        .expect("evidence intact");
    assert!(
        verified >= 2,
        "binary and empty defacements left evidence ({verified})"
    );
}
