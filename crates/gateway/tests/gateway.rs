//! The gateway against real origins on loopback: routing, the containment
//! switch on an open keep-alive connection, persistence across restarts,
//! integrity-verified serving of a guarded root, rate limits and bans from
//! distinct 127.0.0.x addresses, slow clients, request smuggling, header
//! limits, HTTP/2 and TLS, the access log.

mod support;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sitewarden_gateway::control::{self, Request};
use sitewarden_gateway::{
    Engine, GatewayConfig, GatewayHandle, Limits, SiteState, parse_route_flag,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A static web server over a directory, counting the requests it serves.
struct Origin {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
    /// The most `/very-slow` requests it had in hand at once.
    peak: Arc<AtomicU64>,
}

#[derive(Clone)]
struct OriginState {
    root: PathBuf,
    hits: Arc<AtomicU64>,
    label: &'static str,
    in_hand: Arc<AtomicU64>,
    peak: Arc<AtomicU64>,
}

async fn serve_file(
    State(state): State<OriginState>,
    headers: axum::http::HeaderMap,
    path: Option<UrlPath<String>>,
) -> impl IntoResponse {
    state.hits.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    match path.as_ref().map(|UrlPath(p)| p.as_str()) {
        Some("echo") => {
            let text = format!(
                "x-real-ip={} x-forwarded-for={} x-forwarded-proto={}",
                header("x-real-ip"),
                header("x-forwarded-for"),
                header("x-forwarded-proto")
            );
            return (StatusCode::OK, text).into_response();
        }
        Some("slow") => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return (StatusCode::OK, "slow").into_response();
        }
        Some("very-slow") => {
            let now = state.in_hand.fetch_add(1, Ordering::SeqCst) + 1;
            state.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            state.in_hand.fetch_sub(1, Ordering::SeqCst);
            return (StatusCode::OK, "very slow").into_response();
        }
        _ => {}
    }
    let relative = path.map(|UrlPath(p)| p).unwrap_or_default();
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative
    };
    match std::fs::read(state.root.join(&relative)) {
        Ok(bytes) => (
            StatusCode::OK,
            [
                ("content-type", "text/html; charset=utf-8"),
                ("x-origin", state.label),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            format!("{} has no {relative}\n", state.label),
        )
            .into_response(),
    }
}

/// Reads a whole request body, then says how long it was.
async fn upload(body: axum::body::Bytes) -> String {
    format!("got {} bytes", body.len())
}

fn start_origin(root: &Path, label: &'static str) -> Origin {
    let hits = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let state = OriginState {
        root: root.to_path_buf(),
        hits: hits.clone(),
        label,
        in_hand: Arc::new(AtomicU64::new(0)),
        peak: peak.clone(),
    };
    let addr = support::serve_on_own_thread(|listener| async move {
        let app = Router::new()
            .route("/", axum::routing::get(serve_file))
            .route("/upload", axum::routing::post(upload))
            .route("/{*path}", axum::routing::get(serve_file).post(serve_file))
            .with_state(state);
        axum::serve(listener, app).await.unwrap();
    });
    Origin { addr, hits, peak }
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn config(engine: Engine, routes: &[String], limits: Limits) -> GatewayConfig {
    GatewayConfig {
        engine,
        listen: vec![free_port()],
        routes: routes
            .iter()
            .map(|r| parse_route_flag(r).unwrap())
            .collect(),
        limits,
        threads: 2,
        grace: Duration::from_secs(1),
        ..GatewayConfig::default()
    }
}

/// An origin answering `portal home` for `/`, from a root of its own (kept
/// while the returned directory lives).
fn portal_origin() -> (tempfile::TempDir, Origin) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "portal home").unwrap();
    let origin = start_origin(root.path(), "portal");
    (root, origin)
}

/// A gateway configuration routing `portal.example.gov.test` to `origin`.
fn portal_config(engine: Engine, origin: &Origin, limits: Limits) -> GatewayConfig {
    config(
        engine,
        &[format!("portal.example.gov.test=http://{}", origin.addr)],
        limits,
    )
}

fn start(config: GatewayConfig, data: &Path) -> GatewayHandle {
    let handle = sitewarden_gateway::start(config, data, None).unwrap();
    handle.wait_ready(Duration::from_secs(10)).unwrap();
    handle
}

/// One HTTP/1.1 request on an open connection; returns (status, headers, body).
fn exchange(stream: &mut TcpStream, request: &str) -> (u16, String, Vec<u8>) {
    stream.write_all(request.as_bytes()).unwrap();
    read_response(stream)
}

/// A response's status line and header, read a byte at a time (nothing of
/// what follows is consumed); returns (status, header).
fn read_head(stream: &mut TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert!(
            n > 0,
            "connection closed mid-header: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).unwrap();
    (head[9..12].parse().unwrap(), head)
}

fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let (status, head) = read_head(stream);
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, head, body)
}

fn get(host: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gateway-test\r\n\r\n")
}

async fn send(data: &Path, request: Request) -> control::Response {
    control::send(data, &request)
        .await
        .unwrap()
        .expect("a gateway answers on the control socket")
}

fn switch(site: &str, mode: SiteState) -> Request {
    Request::Switch {
        site: site.into(),
        mode,
        reason: "home page defaced".into(),
        by: "duty officer 王五".into(),
    }
}

fn routes_by_host_to_each_sites_origin(engine: Engine) {
    let a_root = tempfile::tempdir().unwrap();
    let b_root = tempfile::tempdir().unwrap();
    std::fs::write(a_root.path().join("index.html"), "portal home").unwrap();
    std::fs::write(b_root.path().join("index.html"), "procurement home").unwrap();
    let a = start_origin(a_root.path(), "a");
    let b = start_origin(b_root.path(), "b");
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        config(
            engine,
            &[
                format!("portal.example.gov.test=http://{}", a.addr),
                format!("zfcg.example.gov.test=http://{}", b.addr),
            ],
            Limits::default(),
        ),
        data.path(),
    );
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    let (status, head, body) = exchange(&mut conn, &get("portal.example.gov.test"));
    assert_eq!(
        (status, body.as_slice()),
        (200, b"portal home".as_slice()),
        "{head}"
    );
    let (status, _, body) = exchange(&mut conn, &get("ZFCG.example.gov.test:8080"));
    assert_eq!(
        (status, body.as_slice()),
        (200, b"procurement home".as_slice())
    );
    let (status, _, _) = exchange(&mut conn, &get("unknown.example.gov.test"));
    assert_eq!(status, 404);
    assert_eq!(a.hits.load(Ordering::Relaxed), 1);
    assert_eq!(b.hits.load(Ordering::Relaxed), 1);
}

async fn containment_reaches_an_open_keep_alive_connection_on_its_next_request(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(engine, &origin, Limits::default()),
        data.path(),
    );
    let addr = gateway.listen()[0];
    let mut conn = tokio::task::spawn_blocking(move || TcpStream::connect(addr).unwrap())
        .await
        .unwrap();
    let request = get("portal.example.gov.test");
    let (status, _, _) = exchange(&mut conn, &request);
    assert_eq!(status, 200);

    let answer = send(
        data.path(),
        switch("portal.example.gov.test", SiteState::Maintenance),
    )
    .await;
    assert!(answer.ok, "{answer:?}");
    // The very next request on the same connection: maintenance.
    let (status, head, body) = exchange(&mut conn, &request);
    assert_eq!(status, 503, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 300"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("网站维护中"));
    let hits_while_contained = origin.hits.load(Ordering::Relaxed);

    let answer = send(
        data.path(),
        switch("portal.example.gov.test", SiteState::Serving),
    )
    .await;
    assert!(answer.ok);
    let (status, _, body) = exchange(&mut conn, &request);
    assert_eq!((status, body.as_slice()), (200, b"portal home".as_slice()));
    assert_eq!(
        hits_while_contained, 1,
        "the origin saw nothing while contained"
    );

    // The switch takes effect in well under a millisecond once answered:
    // measure the round trip of switch + next request on a warm connection.
    let mut worst = Duration::ZERO;
    for mode in [SiteState::Maintenance, SiteState::Serving].repeat(10) {
        let started = Instant::now();
        assert!(
            send(data.path(), switch("portal.example.gov.test", mode))
                .await
                .ok
        );
        worst = worst.max(started.elapsed());
        let (status, _, _) = exchange(&mut conn, &request);
        assert_eq!(
            status,
            if mode == SiteState::Maintenance {
                503
            } else {
                200
            }
        );
    }
    eprintln!("slowest switch acknowledged in {worst:?}");

    let unknown = send(data.path(), switch("nowhere", SiteState::Maintenance)).await;
    assert!(!unknown.ok);
    assert!(unknown.error.unwrap().contains("nowhere"));
}

async fn a_switch_in_the_store_survives_a_restart(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let routes = [format!("portal.example.gov.test=http://{}", origin.addr)];
    let store = sitewarden_store::Store::open(data.path()).await.unwrap();
    store
        .record_switch(&sitewarden_store::SwitchEvent {
            switch: sitewarden_store::SiteSwitchRecord {
                site: "portal.example.gov.test".into(),
                mode: "maintenance".into(),
                reason: "defaced".into(),
                by: "commander".into(),
                at_ms: 1,
            },
            backend: "gateway".into(),
            outcome: "recorded".into(),
            detail: String::new(),
        })
        .await
        .unwrap();
    for _ in 0..2 {
        let data_dir = data.path().to_path_buf();
        let config = config(engine, &routes, Limits::default());
        let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
            .await
            .unwrap();
        let addr = gateway.listen()[0];
        let (status, _, body) = tokio::task::spawn_blocking(move || {
            let mut conn = TcpStream::connect(addr).unwrap();
            exchange(&mut conn, &get("portal.example.gov.test"))
        })
        .await
        .unwrap();
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        tokio::task::spawn_blocking(move || gateway.stop())
            .await
            .unwrap();
    }
    assert_eq!(origin.hits.load(Ordering::Relaxed), 0);
}

async fn a_tampered_static_file_is_never_served_and_is_reported(engine: Engine) {
    let root = tempfile::tempdir().unwrap();
    let approved = "<html><body>示例省门户 approved home page</body></html>".repeat(200);
    std::fs::write(root.path().join("index.html"), &approved).unwrap();
    std::fs::create_dir(root.path().join("news")).unwrap();
    std::fs::write(root.path().join("news/a.html"), "approved news").unwrap();
    std::fs::write(root.path().join("app.php"), "dynamic").unwrap();
    let data = tempfile::tempdir().unwrap();
    let guard = sitewarden_guard::GuardData::open(data.path()).unwrap();
    sitewarden_guard::approve(
        &guard,
        &sitewarden_guard::ApproveOptions {
            root: root.path().to_path_buf(),
            from: None,
            site: Some("portal".into()),
            excludes: None,
            upload_dirs: None,
            approved_by: "test".into(),
            note: "baseline".into(),
        },
        &|_| {},
    )
    .unwrap();
    let origin = start_origin(root.path(), "portal");
    let mut config = portal_config(engine, &origin, Limits::default());
    config.routes[0].site = "portal".into();
    config.routes[0].guarded_root = Some(root.path().to_path_buf());
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let base = format!("http://{}", gateway.listen()[0]);
    let client = reqwest::Client::builder()
        .resolve("portal.example.gov.test", gateway.listen()[0])
        .build()
        .unwrap();
    let url = |path: &str| {
        format!(
            "http://portal.example.gov.test:{}{path}",
            gateway.listen()[0].port()
        )
    };
    let _ = base;

    // Untouched: the approved page, verified, with a validator.
    let response = client.get(url("/")).send().await.unwrap();
    assert!(response.headers().contains_key("x-sitewarden-verified"));
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(response.text().await.unwrap(), approved);
    let response = client
        .get(url("/index.html"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);

    // Defaced on the origin: the client still gets the approved bytes.
    std::fs::write(
        root.path().join("index.html"),
        "<html><body>hacked by someone <a href=http://casino.example>x</a></body></html>",
    )
    .unwrap();
    for path in [
        "/",
        "/index.html",
        "/./index.html",
        "//index.html?x=1",
        "/news/..",
        "/%69ndex.html",
    ] {
        let response = client
            .get(url(path))
            .header("Accept-Encoding", "gzip")
            .header("Range", "bytes=0-5")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), approved, "{path}");
    }
    // Deleted on the origin: served as approved.
    std::fs::remove_file(root.path().join("news/a.html")).unwrap();
    let response = client.get(url("/news/a.html")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "approved news");
    // HEAD: approved length, no body.
    let response = client.head(url("/index.html")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        approved.len().to_string()
    );
    // Dynamic pages pass through as the origin sends them.
    std::fs::write(root.path().join("app.php"), "changed output").unwrap();
    let response = client.get(url("/app.php")).send().await.unwrap();
    assert!(!response.headers().contains_key("x-sitewarden-verified"));
    assert_eq!(response.text().await.unwrap(), "changed output");

    // The sightings reach the store as defacement signals with the
    // origin's bytes as evidence (the origin is checked in the background,
    // within a second of a visit).
    let store = sitewarden_store::Store::open(data.path()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let incidents = store.incidents().await.unwrap();
        if let Some(incident) = incidents.into_iter().find(|i| i.site == "portal") {
            let detail = store.incident(incident.id).await.unwrap().unwrap();
            let reasons: Vec<&String> = detail
                .signals
                .iter()
                .flat_map(|signal| signal.reasons.iter())
                .collect();
            let changed = reasons
                .iter()
                .any(|reason| reason.contains("different from the approved version"));
            let deleted = reasons
                .iter()
                .any(|reason| reason.contains("it was deleted"));
            if changed && deleted {
                assert!(
                    detail
                        .evidence
                        .iter()
                        .any(|item| item.kind == "gateway_tampered_response"),
                    "{:?}",
                    detail.evidence
                );
                break;
            }
            assert!(Instant::now() < deadline, "{reasons:?}");
        }
        assert!(Instant::now() < deadline, "no incident recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = control::send(data.path(), &Request::Status)
        .await
        .unwrap()
        .unwrap()
        .status
        .unwrap();
    assert!(status.tampered >= 1, "{status:?}");
    assert!(status.verified >= 9, "{status:?}");
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

async fn a_flooding_address_is_limited_then_banned_while_others_are_served(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let limits = Limits {
        rate_per_ip: 5.0,
        burst_per_ip: 10.0,
        ban_after_refusals: 20,
        ban_base: Duration::from_secs(30),
        ..Limits::default()
    };
    let config = portal_config(engine, &origin, limits);
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let gateway_addr = gateway.listen()[0];
    let client_from = |source: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(source))
            .resolve("portal.example.gov.test", gateway_addr)
            .build()
            .unwrap()
    };
    let url = format!("http://portal.example.gov.test:{}/", gateway_addr.port());
    let flooder = client_from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..60 {
        // 0: the connection was dropped at the door (banned).
        let status = match flooder.get(&url).send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        };
        statuses.push(status);
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert!((10..=12).contains(&ok), "burst then rate: {statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let first_refusal = statuses.iter().position(|&s| s == 429).unwrap();
    assert!(
        statuses[first_refusal..].iter().all(|&s| s != 200),
        "no success after the limit bit: {statuses:?}"
    );
    // Banned after 20 refusals: refused at the door from then on.
    let after = flooder.get(&url).send().await;
    let banned = match after {
        Ok(response) => response.status().as_u16() == 403,
        Err(_) => true, // the connection is dropped before a byte is read
    };
    assert!(banned, "the flooder is banned");
    // Another address is served normally.
    let neighbour = client_from([127, 0, 0, 3]);
    assert_eq!(neighbour.get(&url).send().await.unwrap().status(), 200);

    // The ban is in the store with its escalation and expiry.
    let store = sitewarden_store::Store::open(data.path()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let blocks = store
            .active_blocks(sitewarden_guard::now_ms())
            .await
            .unwrap();
        if let Some(block) = blocks.iter().find(|b| b.net == "127.0.0.2/32") {
            assert_eq!(block.source, "gateway");
            assert!(block.until_ms.is_some());
            assert!(block.reason.contains("offence 1"), "{}", block.reason);
            break;
        }
        assert!(Instant::now() < deadline, "ban not recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Lifting it by hand lets the client back in.
    let answer = send(
        data.path(),
        Request::Unban {
            net: "127.0.0.2".into(),
        },
    )
    .await;
    assert!(answer.ok, "{answer:?}");
    let _ = store.remove_block("127.0.0.2/32").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fresh = client_from([127, 0, 0, 2]);
    assert_eq!(fresh.get(&url).send().await.unwrap().status(), 200);
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

fn a_slow_client_is_cut_off_and_a_prompt_one_is_not(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(
            engine,
            &origin,
            Limits {
                header_timeout: Duration::from_millis(800),
                keepalive_timeout: Duration::from_secs(1),
                ..Limits::default()
            },
        ),
        data.path(),
    );
    let mut slow = TcpStream::connect(gateway.listen()[0]).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let request = get("portal.example.gov.test");
    // A header that would take ~30 s at this pace: without the deadline the
    // client would hold the connection for all of it.
    let dribble = format!(
        "GET / HTTP/1.1\r\nHost: portal.example.gov.test\r\nX-Pad: {}\r\n",
        "a".repeat(200)
    );
    let mut cut_off = None;
    for byte in dribble.as_bytes() {
        if slow.write_all(&[*byte]).is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 64];
        match slow.read(&mut buf) {
            Ok(0) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Ok(_) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                cut_off = Some(started.elapsed());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut_off = cut_off.expect("the slow client was never cut off");
    // The deadline is 0.8 s; the margin is for a loaded 2-core machine.
    assert!(
        cut_off < Duration::from_secs(10),
        "cut off after {cut_off:?}"
    );
    assert_eq!(origin.hits.load(Ordering::Relaxed), 0);
    // A kept-alive connection idle between prompt requests is fine…
    let mut prompt = TcpStream::connect(gateway.listen()[0]).unwrap();
    for _ in 0..3 {
        let (status, _, _) = exchange(&mut prompt, &request);
        assert_eq!(status, 200);
        std::thread::sleep(Duration::from_millis(500));
    }
    // …until it has been idle longer than the keep-alive timeout.
    std::thread::sleep(Duration::from_millis(2500));
    prompt
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let read = prompt.read_to_end(&mut rest);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "an idle connection is closed: {read:?} {rest:?}"
    );
}

fn smuggling_and_oversized_headers_are_refused_and_the_gateway_stays_up(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("access.log");
    let mut config = portal_config(engine, &origin, Limits::default());
    config.access_log = Some(log.clone());
    let gateway = start(config, data.path());
    let rejected = || {
        gateway
            .shared()
            .stats
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let attempts = [
        "POST / HTTP/1.1\r\nHost: portal.example.gov.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        "POST / HTTP/1.1\r\nHost: portal.example.gov.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: portal.example.gov.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: portal.example.gov.test\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    ];
    for attempt in attempts {
        let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
        conn.write_all(attempt.as_bytes()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400"), "{attempt:?} → {text:?}");
        assert_eq!(
            text.matches("HTTP/1.1").count(),
            1,
            "one answer, then closed"
        );
    }
    let big = "x".repeat(20 * 1024);
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    let (status, _, _) = exchange(
        &mut conn,
        &format!("GET / HTTP/1.1\r\nHost: portal.example.gov.test\r\nX-Big: {big}\r\n\r\n"),
    );
    assert_eq!(status, 431);
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    let (status, _, _) = exchange(
        &mut conn,
        &format!("GET / HTTP/1.1\r\nHost: portal.example.gov.test\r\n{many}\r\n"),
    );
    assert_eq!(status, 431);
    // Garbage that is not HTTP at all: 400 and the connection closed;
    // never a crash, a hang, or a request to the origin — and counted and
    // logged like the gateway's own refusals.
    let rejected_before = rejected();
    for garbage in [
        b"NOT A REQUEST\r\n\r\n".as_slice(),
        b"GET / HTTP/1.1\r\nHost portal.example.gov.test\r\n\r\n".as_slice(),
        b"\x00\x01\x02 binary\r\n\r\n".as_slice(),
    ] {
        let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
        conn.write_all(garbage).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{garbage:?} → {answer:?}"
        );
    }
    assert_eq!(
        origin.hits.load(Ordering::Relaxed),
        0,
        "nothing reached the origin"
    );
    // pingora answers what it cannot parse without a callback to count or
    // log it; it serves only the TLS listeners (and h2c) now.
    if engine == Engine::Hyper {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            // As nginx logs it: the line as sent, escaped.
            if rejected() - rejected_before == 3
                && text.contains("\"NOT A REQUEST\" 400 0 ")
                && text.contains("\"\\x00\\x01\\x02 binary\" 400 0 ")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "rejected {}, access log: {text}",
                rejected() - rejected_before
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    assert_eq!(exchange(&mut conn, &get("portal.example.gov.test")).0, 200);
}

/// An `https` web server inside, its certificate (for 127.0.0.1) signed by
/// nobody the system trusts — a private CA, as far as the gateway knows;
/// answers every request with `secure origin`. Returns its address and
/// the certificate (PEM).
fn start_tls_origin() -> (SocketAddr, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = certified.cert.pem();
    let cert = certified.cert.der().clone();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let addr = support::serve_on_own_thread(|listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate hangs up.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        "secure origin".to_string(),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, pem)
}

fn an_https_origin_on_a_private_ca_is_reached_once_its_ca_is_trusted(engine: Engine) {
    let (origin, ca_pem) = start_tls_origin();
    let data = tempfile::tempdir().unwrap();
    let ca_file = data.path().join("gov-ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let route = format!("portal.example.gov.test=https://{origin}");
    // Not trusted: the gateway refuses to talk to it (502), never
    // unverified.
    let untrusting = start(
        config(engine, std::slice::from_ref(&route), Limits::default()),
        data.path(),
    );
    let mut conn = TcpStream::connect(untrusting.listen()[0]).unwrap();
    assert_eq!(exchange(&mut conn, &get("portal.example.gov.test")).0, 502);
    drop(untrusting);
    // With its CA in `origin_ca_files`: answered, on kept connections too.
    let data = tempfile::tempdir().unwrap();
    let mut trusting = config(engine, &[route], Limits::default());
    trusting.origin_ca_files = vec![ca_file];
    let gateway = start(trusting, data.path());
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    for _ in 0..3 {
        let (status, _, body) = exchange(&mut conn, &get("portal.example.gov.test"));
        assert_eq!(
            (status, body.as_slice()),
            (200, b"secure origin".as_slice())
        );
    }
}

async fn origin_down_is_a_502_and_http2_and_the_access_log_work(engine: Engine) {
    let (_root, origin) = portal_origin();
    let dead = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut config = config(
        engine,
        &[
            format!("portal.example.gov.test=http://{}", origin.addr),
            format!("down.example.gov.test=http://{dead}"),
        ],
        Limits::default(),
    );
    let log = data.path().join("access.log");
    config.access_log = Some(log.clone());
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let addr = gateway.listen()[0];
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .resolve("portal.example.gov.test", addr)
        .resolve("down.example.gov.test", addr)
        .build()
        .unwrap();
    let response = h2
        .get(format!(
            "http://portal.example.gov.test:{}/?q=1",
            addr.port()
        ))
        .header("User-Agent", "Mozilla/5.0 (test)")
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "portal home");
    let response = h2
        .get(format!("http://down.example.gov.test:{}/", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 {
            break text;
        }
        assert!(Instant::now() < deadline, "access log: {text:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Lines are written when each request ends, by whichever worker ran
    // it: find them by content, not order.
    let served = text
        .lines()
        .find(|line| line.contains("GET /?q=1"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(served.starts_with("127.0.0.1 - - ["), "{served}");
    assert!(
        served.contains("\"GET /?q=1 HTTP/2.0\" 200 11 \"-\" \"Mozilla/5.0 (test)\""),
        "{served}"
    );
    assert!(text.lines().any(|line| line.contains("\" 502 ")), "{text}");
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

/// A raw TCP "origin" that answers every connection with `reply` (or
/// nothing, holding the connection, when None).
fn start_raw_origin(reply: Option<&'static [u8]>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            match reply {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                }
                None => held.push(stream),
            }
        }
    });
    addr
}

async fn a_garbled_or_silent_origin_is_a_502_or_504_and_overload_is_shed(engine: Engine) {
    let garbage = start_raw_origin(Some(b"HELLO THIS IS NOT HTTP\r\n\r\n"));
    let silent = start_raw_origin(None);
    let root = tempfile::tempdir().unwrap();
    let origin = start_origin(root.path(), "slow");
    let data = tempfile::tempdir().unwrap();
    let mut config = config(
        engine,
        &[
            format!("garbage.example.gov.test=http://{garbage}"),
            format!("silent.example.gov.test=http://{silent}"),
            format!("slow.example.gov.test=http://{}", origin.addr),
        ],
        Limits {
            max_in_flight: 1,
            ..Limits::default()
        },
    );
    config.origin_timeout = Duration::from_millis(1500);
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let addr = gateway.listen()[0];
    let client = reqwest::Client::builder()
        .resolve("garbage.example.gov.test", addr)
        .resolve("silent.example.gov.test", addr)
        .resolve("slow.example.gov.test", addr)
        .build()
        .unwrap();
    let url = |host: &str, path: &str| format!("http://{host}:{}{path}", addr.port());
    let response = client
        .get(url("garbage.example.gov.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let started = Instant::now();
    let response = client
        .get(url("silent.example.gov.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // One request in flight at most: a second one at the same time is shed.
    // (First let the slot of the 504 above go: it is released just after
    // its response went out.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while gateway.shared().limiter.in_flight() > 0 {
        assert!(Instant::now() < deadline, "a slot was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slow = client.get(url("slow.example.gov.test", "/slow")).send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client
            .get(url("slow.example.gov.test", "/slow"))
            .send()
            .await
    };
    let (first, second) = tokio::join!(slow, second);
    assert_eq!(first.unwrap().status(), 200);
    let second = second.unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "5");
    // And the gateway is fine afterwards (once the first request's slot is
    // released, just after its response went out).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = client
            .get(url("slow.example.gov.test", "/slow"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(
            Instant::now() < deadline,
            "the in-flight slot was never released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

fn connections_per_address_are_capped(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(
            engine,
            &origin,
            Limits {
                connections_per_ip: 2,
                ..Limits::default()
            },
        ),
        data.path(),
    );
    let request = get("portal.example.gov.test");
    // `wait_ready`'s probe connections count against the cap until the
    // gateway has seen them close: retry each of the two until it is served.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open: Vec<TcpStream> = Vec::new();
    while open.len() < 2 {
        let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
        let _ = conn.write_all(request.as_bytes());
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if let Ok(response) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_response(&mut conn)))
        {
            assert_eq!(response.0, 200);
            open.push(conn);
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "two connections never got through"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A third connection from the same address is closed without an answer.
    let mut third = TcpStream::connect(gateway.listen()[0]).unwrap();
    let _ = third.write_all(request.as_bytes());
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    // Closing one lets a new one in (once the gateway has seen it close).
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut fourth = TcpStream::connect(gateway.listen()[0]).unwrap();
        let _ = fourth.write_all(request.as_bytes());
        fourth
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = [0u8; 12];
        if fourth.read_exact(&mut head).is_ok() {
            assert_eq!(&head[9..12], b"200");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection's slot never came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn tls_with_http2_and_forwarded_headers_reach_the_origin(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["portal.example.gov.test".to_string()]).unwrap();
    let cert_path = data.path().join("portal.crt");
    let key_path = data.path().join("portal.key");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let mut config = portal_config(engine, &origin, Limits::default());
    let tls_addr = free_port();
    config.tls.push(sitewarden_gateway::TlsListener {
        addr: tls_addr,
        cert: cert_path.clone(),
        key: key_path.clone(),
    });
    // A trusted proxy (this machine) may pass the client's address on.
    config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("portal.example.gov.test", tls_addr)
        .build()
        .unwrap();
    let response = client
        .get(format!(
            "https://portal.example.gov.test:{}/",
            tls_addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.version(),
        reqwest::Version::HTTP_2,
        "ALPN picks h2"
    );
    assert_eq!(response.text().await.unwrap(), "portal home");
    let echoed = client
        .get(format!(
            "https://portal.example.gov.test:{}/echo",
            tls_addr.port()
        ))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        echoed,
        "x-real-ip=203.0.113.9 x-forwarded-for=203.0.113.9, 127.0.0.1 x-forwarded-proto=https"
    );
    // A bad certificate file is a clear error at start, not a panic.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    let mut bad = self::config(
        engine,
        &["a.test=http://127.0.0.1:1".to_string()],
        Limits::default(),
    );
    bad.tls.push(sitewarden_gateway::TlsListener {
        addr: free_port(),
        cert: cert_path,
        key: key_path,
    });
    let error = sitewarden_gateway::start(bad, data.path(), None).unwrap_err();
    assert!(error.to_string().contains("portal.crt"), "{error}");
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

/// An HTTP/2 connection from `source` (prior knowledge), its driver spawned.
async fn h2_connect(source: [u8; 4], gateway: SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((std::net::Ipv4Addr::from(source), 0)))
        .unwrap();
    let stream = socket.connect(gateway).await.unwrap();
    let (send, connection) = h2::client::handshake(stream).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// Sends a GET on an HTTP/2 connection and reads the whole answer in its
/// own task; returns the status.
async fn h2_get(
    send: &mut h2::client::SendRequest<bytes::Bytes>,
    host: &str,
    path: &str,
) -> tokio::task::JoinHandle<u16> {
    let ready = send.clone().ready().await.unwrap();
    *send = ready;
    let request = http::Request::get(format!("http://{host}{path}"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    tokio::spawn(async move {
        let response = response.await.unwrap();
        let status = response.status().as_u16();
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        status
    })
}

/// Regression: a client's HTTP/2 connection carried as many requests at
/// once as it liked (100 streams by default), beside its connection cap.
async fn one_clients_requests_in_flight_are_capped_across_http2_streams(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let config = portal_config(
        engine,
        &origin,
        Limits {
            in_flight_per_ip: 4,
            h2_streams_per_connection: 8,
            ..Limits::default()
        },
    );
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let addr = gateway.listen()[0];
    let host = "portal.example.gov.test";

    // One connection. Once its first answer is in, the client has the
    // gateway's SETTINGS, with the stream cap.
    let mut flooder = h2_connect([127, 0, 0, 2], addr).await;
    let status = h2_get(&mut flooder, host, "/").await.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(flooder.current_max_send_streams(), 8);
    // Twenty requests at once to a page that takes 3 s.
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(h2_get(&mut flooder, host, "/very-slow").await);
    }
    // While the flooder holds its four, a neighbour is served.
    let flooder_ip: std::net::IpAddr = [127, 0, 0, 2].into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gateway.shared().limiter.client_in_flight(flooder_ip) < 4 {
        assert!(
            Instant::now() < deadline,
            "the flooder never had 4 in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut neighbour = h2_connect([127, 0, 0, 3], addr).await;
    let status = h2_get(&mut neighbour, host, "/").await.await.unwrap();
    assert_eq!(status, 200, "another client is not limited by the flooder");

    let mut statuses = Vec::new();
    for answer in answers {
        statuses.push(answer.await.unwrap());
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(ok + refused, statuses.len(), "{statuses:?}");
    assert!(ok >= 1 && refused >= 1, "{statuses:?}");
    assert!(
        origin.peak.load(Ordering::SeqCst) <= 4,
        "the origin had {} of one client's requests at once",
        origin.peak.load(Ordering::SeqCst)
    );
    // Every slot came back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gateway.shared().limiter.client_in_flight(flooder_ip) > 0 {
        assert!(
            Instant::now() < deadline,
            "a client slot was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = h2_get(&mut flooder, host, "/").await.await.unwrap();
    assert_eq!(status, 200);
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

/// Regression: a body dripped a byte at a time never tripped the per-read
/// body timeout, so one client could hold a connection (and an origin
/// request) for as long as it liked.
fn a_body_dripped_a_byte_at_a_time_is_cut_off_with_408_at_its_deadline(engine: Engine) {
    let root = tempfile::tempdir().unwrap();
    let origin = start_origin(root.path(), "portal");
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(
            engine,
            &origin,
            Limits {
                body_deadline: Duration::from_secs(2),
                ..Limits::default()
            },
        ),
        data.path(),
    );
    // A prompt upload is served.
    let mut prompt = TcpStream::connect(gateway.listen()[0]).unwrap();
    let body = "x".repeat(1000);
    let (status, _, answer) = exchange(
        &mut prompt,
        &format!(
            "POST /upload HTTP/1.1\r\nHost: portal.example.gov.test\r\nContent-Length: 1000\r\n\r\n{body}"
        ),
    );
    assert_eq!(
        (status, answer.as_slice()),
        (200, b"got 1000 bytes".as_slice())
    );

    // 1000 bytes at one per 200 ms would take 200 s; every byte comes well
    // within the 15 s per-read timeout.
    let mut slow = TcpStream::connect(gateway.listen()[0]).unwrap();
    slow.write_all(
        b"POST /upload HTTP/1.1\r\nHost: portal.example.gov.test\r\nContent-Length: 1000\r\n\r\n",
    )
    .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut closed = false;
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(60) {
        if sent < 1000 && slow.write_all(b"x").is_ok() {
            sent += 1;
        }
        let mut buf = [0u8; 1024];
        match slow.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "{text:?} after {elapsed:?}"
    );
    assert!(closed, "the connection is closed after the 408: {text:?}");
    assert!(sent < 1000, "cut off before the body was complete");
    // The deadline is 2 s; the margin is for a loaded machine.
    assert!(
        elapsed < Duration::from_secs(30),
        "cut off after {elapsed:?}"
    );
}

/// A raw origin that answers an upgrade request with `101` and then echoes
/// what it is sent; counts the tunnels it has open.
fn start_echo_upgrade_origin() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicU64::new(0));
    let counter = open.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let open = counter.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                );
                open.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, open)
}

/// Opens a WebSocket-style upgrade through the gateway; returns the
/// connection and the status line of the answer.
async fn upgrade(gateway: SocketAddr) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(gateway).await.unwrap();
    conn.write_all(
        b"GET /chat HTTP/1.1\r\nHost: portal.example.gov.test\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut byte))
            .await
            .expect("an answer to the upgrade")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed mid-header: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.lines().next().unwrap_or_default().to_string();
    (conn, status)
}

/// Regression: a WebSocket opened before a site was cut off stayed open
/// after it (only new requests saw the switch).
async fn an_open_websocket_is_closed_when_its_site_is_cut_off_and_new_ones_are_refused(
    engine: Engine,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (origin, open_tunnels) = start_echo_upgrade_origin();
    let data = tempfile::tempdir().unwrap();
    let config = config(
        engine,
        &[format!("portal.example.gov.test=http://{origin}")],
        // Long enough that nothing but the switch closes an idle tunnel
        // within the test; the body deadline, short, is not for tunnels.
        Limits {
            body_timeout: Duration::from_secs(120),
            body_deadline: Duration::from_secs(1),
            ..Limits::default()
        },
    );
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || start(config, &data_dir))
        .await
        .unwrap();
    let addr = gateway.listen()[0];

    let (mut tunnel, status) = upgrade(addr).await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    tunnel.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), tunnel.read_exact(&mut echoed))
        .await
        .expect("the echo")
        .unwrap();
    assert_eq!(&echoed, b"hello");
    // Past the body deadline, the tunnel carries on.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    tunnel.write_all(b"still").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), tunnel.read_exact(&mut echoed))
        .await
        .expect("the echo")
        .unwrap();
    assert_eq!(&echoed, b"still");
    assert_eq!(open_tunnels.load(Ordering::SeqCst), 1);

    let answer = send(
        data.path(),
        switch("portal.example.gov.test", SiteState::Maintenance),
    )
    .await;
    assert!(answer.ok, "{answer:?}");
    // The idle tunnel is closed by the gateway, not by anything it sends.
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tunnel.read_to_end(&mut rest))
        .await
        .expect("the tunnel was not closed when its site was cut off");
    // Closed, with nothing written into the tunnel.
    assert!(
        rest.is_empty() && (matches!(read, Ok(0)) || read.is_err()),
        "{read:?} {:?}",
        String::from_utf8_lossy(&rest)
    );
    eprintln!("tunnel closed {:?} after the switch", started.elapsed());
    // …both ways: the origin's side of the tunnel is closed too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_tunnels.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < deadline, "the origin's side stayed open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // New upgrades get the maintenance answer.
    let (_refused, status) = upgrade(addr).await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    assert_eq!(open_tunnels.load(Ordering::SeqCst), 0);

    // Serving again: upgrades work, and a switch of another kind (serving
    // → serving) does not close them.
    assert!(
        send(
            data.path(),
            switch("portal.example.gov.test", SiteState::Serving)
        )
        .await
        .ok
    );
    let (mut tunnel, status) = upgrade(addr).await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    assert!(
        send(
            data.path(),
            switch("portal.example.gov.test", SiteState::Serving)
        )
        .await
        .ok
    );
    tunnel.write_all(b"again").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), tunnel.read_exact(&mut echoed))
        .await
        .expect("the echo")
        .unwrap();
    assert_eq!(&echoed, b"again");
    drop(tunnel);
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

/// Writes `bytes` on a fresh connection and reads until the gateway closes
/// it (10 s at most); returns what it answered.
fn answer_to(gateway: SocketAddr, bytes: &[u8]) -> String {
    let mut conn = TcpStream::connect(gateway).unwrap();
    conn.write_all(bytes).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Regression: bytes that are not HTTP got the connection closed without
/// an answer (nginx answers 400). pingora peeks for the 24-byte HTTP/2
/// preface before it parses anything and waited for all 24 bytes, so
/// anything shorter — garbage, or a short valid request — sat there until
/// the header deadline.
fn garbage_instead_of_a_request_gets_400_and_a_short_request_is_answered(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(
            engine,
            &origin,
            // Longer than the answers are waited for: a connection left
            // to the deadline fails the test rather than passing late.
            Limits {
                header_timeout: Duration::from_secs(60),
                ..Limits::default()
            },
        ),
        data.path(),
    );
    let addr = gateway.listen()[0];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for length in [1, 2, 7, 16, 23, 24, 25, 64, 300, 2000] {
        for _ in 0..3 {
            let mut garbage = Vec::with_capacity(length);
            while garbage.len() < length {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                garbage.extend_from_slice(&seed.to_le_bytes());
            }
            garbage.truncate(length);
            // Random bytes that happen to start like a method name are
            // made certainly not HTTP.
            garbage[0] = 0x16 + (garbage[0] % 8);
            let answer = answer_to(addr, &garbage);
            assert!(
                answer.starts_with("HTTP/1.1 400"),
                "{garbage:?} → {answer:?}"
            );
            assert_eq!(
                answer.matches("HTTP/1.1").count(),
                1,
                "one answer, then closed"
            );
        }
    }
    // A TLS ClientHello on the plain port is not HTTP either.
    let answer = answer_to(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    // A valid request shorter than the HTTP/2 preface is answered too.
    let answer = answer_to(addr, b"GET / HTTP/1.0\r\n\r\n");
    // (hyper answers an HTTP/1.0 request in HTTP/1.0, pingora in 1.1.)
    assert!(
        answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.0 400"),
        "no Host: {answer:?}"
    );
    let answer = answer_to(addr, b"GET /\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert_eq!(origin.hits.load(Ordering::Relaxed), 0);
    // HTTP/2 with prior knowledge still works beside it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        let mut h2 = h2_connect([127, 0, 0, 1], addr).await;
        h2_get(&mut h2, "portal.example.gov.test", "/")
            .await
            .await
            .unwrap()
    });
    assert_eq!(status, 200);
    let mut conn = TcpStream::connect(addr).unwrap();
    assert_eq!(exchange(&mut conn, &get("portal.example.gov.test")).0, 200);
}

/// The HTTP/1.1 details a proxy must pass through intact, on one kept-alive
/// connection: HEAD (a length, no body), two pipelined requests (with the
/// hyper engine), a chunked
/// upload, and `Expect: 100-continue` (the interim answer first, then the
/// body, then the origin's answer).
fn http1_details_pass_through_on_one_connection(engine: Engine) {
    let (_root, origin) = portal_origin();
    let data = tempfile::tempdir().unwrap();
    let gateway = start(
        portal_config(engine, &origin, Limits::default()),
        data.path(),
    );
    let host = "portal.example.gov.test";
    let mut conn = TcpStream::connect(gateway.listen()[0]).unwrap();
    // HEAD: the GET's length, and no body (the next answer must start
    // right after the header).
    conn.write_all(format!("HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .unwrap();
    let (status, head) = read_head(&mut conn);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {}", "portal home".len())),
        "{head}"
    );
    // Two requests in one write: two answers, in order. (pingora 0.9.1
    // leaves pipelining off unless a session enables it, and drops such a
    // connection: hyper's engine only.)
    if engine == Engine::Hyper {
        let pipelined = format!("{}{}", get(host), get(host));
        conn.write_all(pipelined.as_bytes()).unwrap();
        for _ in 0..2 {
            let (status, _, body) = read_response(&mut conn);
            assert_eq!((status, body.as_slice()), (200, b"portal home".as_slice()));
        }
    }
    // A chunked upload reaches the origin whole.
    let (status, _, body) = exchange(
        &mut conn,
        &format!(
            "POST /upload HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        ),
    );
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, "got 11 bytes")
    );
    // Expect: 100-continue: the body is sent only after the interim answer.
    conn.write_all(
        format!(
            "POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(read_head(&mut conn).0, 100);
    conn.write_all(b"hello").unwrap();
    let (status, _, body) = read_response(&mut conn);
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, "got 5 bytes")
    );
}

/// Runs each scenario once with each engine of the cleartext listeners
/// (TLS is always pingora's): `scenario::hyper` and `scenario::pingora`.
macro_rules! with_each_engine {
    ($(fn $sync:ident;)* $(async fn $async_scenario:ident;)*) => {
        $(mod $sync {
            #[test]
            fn hyper() {
                super::$sync(super::Engine::Hyper)
            }
            #[test]
            fn pingora() {
                super::$sync(super::Engine::Pingora)
            }
        })*
        $(mod $async_scenario {
            fn run(engine: super::Engine) {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(super::$async_scenario(engine))
            }
            #[test]
            fn hyper() {
                run(super::Engine::Hyper)
            }
            #[test]
            fn pingora() {
                run(super::Engine::Pingora)
            }
        })*
    };
}

with_each_engine! {
    fn routes_by_host_to_each_sites_origin;
    fn a_slow_client_is_cut_off_and_a_prompt_one_is_not;
    fn smuggling_and_oversized_headers_are_refused_and_the_gateway_stays_up;
    fn an_https_origin_on_a_private_ca_is_reached_once_its_ca_is_trusted;
    fn connections_per_address_are_capped;
    fn a_body_dripped_a_byte_at_a_time_is_cut_off_with_408_at_its_deadline;
    fn garbage_instead_of_a_request_gets_400_and_a_short_request_is_answered;
    fn http1_details_pass_through_on_one_connection;
    async fn containment_reaches_an_open_keep_alive_connection_on_its_next_request;
    async fn a_switch_in_the_store_survives_a_restart;
    async fn a_tampered_static_file_is_never_served_and_is_reported;
    async fn a_flooding_address_is_limited_then_banned_while_others_are_served;
    async fn origin_down_is_a_502_and_http2_and_the_access_log_work;
    async fn a_garbled_or_silent_origin_is_a_502_or_504_and_overload_is_shed;
    async fn tls_with_http2_and_forwarded_headers_reach_the_origin;
    async fn one_clients_requests_in_flight_are_capped_across_http2_streams;
    async fn an_open_websocket_is_closed_when_its_site_is_cut_off_and_new_ones_are_refused;
}
