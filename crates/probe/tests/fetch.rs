//! The probe against real servers on loopback port 0.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sitewarden_probe::{FetchError, ProbeConfig, Prober};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use url::Url;

fn config() -> ProbeConfig {
    ProbeConfig {
        timeout: Duration::from_secs(2),
        max_body_bytes: 1024 * 1024,
        max_redirects: 5,
        resolve: vec![],
        extra_ca_files: vec![],
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move {
                let agent = headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    format!("<p>hello {agent}</p>"),
                )
            }),
        )
        .route(
            "/a",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/b")]) }),
        )
        .route(
            "/b",
            get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/")]) }),
        )
        .route(
            "/loop1",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop2")]) }),
        )
        .route(
            "/loop2",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop1")]) }),
        )
        .route(
            "/ftp",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "ftp://x/")]) }),
        )
        .route(
            "/big",
            get(|| async { vec![b'x'; 50 * 1024 * 1024].into_response() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "gone") }),
        )
}

#[tokio::test]
async fn fetches_with_user_agent_and_records_redirects() {
    let addr = serve(app()).await;
    let prober = Prober::new(config()).unwrap();
    let page = prober
        .fetch(
            &Url::parse(&format!("http://{addr}/a")).unwrap(),
            "Baiduspider-test",
        )
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.body, b"<p>hello Baiduspider-test</p>");
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    let hops: Vec<_> = page
        .redirects
        .iter()
        .map(|hop| (hop.url.as_str(), hop.status))
        .collect();
    assert_eq!(
        hops,
        [
            (format!("http://{addr}/a").as_str(), 302),
            (format!("http://{addr}/b").as_str(), 301)
        ]
    );
    assert_eq!(page.final_url.path(), "/");
    assert!(page.tls.is_none());

    let missing = prober
        .fetch(&Url::parse(&format!("http://{addr}/missing")).unwrap(), "x")
        .await
        .unwrap();
    assert_eq!(
        missing.status, 404,
        "an error status is a response, judged by the caller"
    );
}

#[tokio::test]
async fn bad_servers_give_clear_errors() {
    let addr = serve(app()).await;
    let prober = Prober::new(config()).unwrap();
    let fetch = |path: &str| {
        let url = Url::parse(&format!("http://{addr}{path}")).unwrap();
        let prober = prober.clone();
        async move { prober.fetch(&url, "x").await }
    };
    match fetch("/loop1").await {
        Err(FetchError::RedirectLoop(chain)) => assert_eq!(chain.len(), 3, "{chain:?}"),
        other => panic!("expected a redirect loop, got {other:?}"),
    }
    assert!(matches!(
        fetch("/ftp").await,
        Err(FetchError::BadRedirect { .. })
    ));
    assert!(matches!(fetch("/slow").await, Err(FetchError::Timeout(_))));

    let big = fetch("/big").await.unwrap();
    assert!(big.truncated);
    assert_eq!(big.body.len(), 1024 * 1024);

    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let url = Url::parse(&format!("http://{closed_addr}/")).unwrap();
    assert!(matches!(
        prober.fetch(&url, "x").await,
        Err(FetchError::Connect(_))
    ));
}

#[tokio::test]
async fn resolve_sends_a_host_name_to_loopback() {
    let addr = serve(app()).await;
    let mut config = config();
    config.resolve = vec![(
        "portal.example.gov.test".into(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    )];
    let prober = Prober::new(config).unwrap();
    let url = Url::parse(&format!("http://portal.example.gov.test:{}/", addr.port())).unwrap();
    let page = prober.fetch(&url, "browser").await.unwrap();
    assert_eq!(page.status, 200);
}

/// A TLS server on loopback with a certificate for `localhost` signed by a
/// CA made here; returns its address and the CA's PEM.
async fn tls_server() -> (SocketAddr, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf_params.not_after = rcgen::date_time_ymd(2031, 1, 2);
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buffer = [0u8; 4096];
                let _ = tls.read(&mut buffer).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<p>ok</p>")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca.pem())
}

#[tokio::test]
async fn tls_errors_are_named_and_expiry_is_read() {
    let (addr, ca_pem) = tls_server().await;
    let url = Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap();
    let mut config = config();
    config.resolve = vec![("localhost".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];

    // Not trusted: a TLS error, not a generic one.
    let untrusting = Prober::new(config.clone()).unwrap();
    match untrusting.fetch(&url, "x").await {
        Err(FetchError::Tls(message)) => assert!(message.contains("certificate"), "{message}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }

    // Trusted through the plan's extra CA file: fetched, expiry read.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    config.extra_ca_files = vec![ca_file];
    let trusting = Prober::new(config).unwrap();
    let page = trusting.fetch(&url, "x").await.unwrap();
    assert_eq!(page.body, b"<p>ok</p>");
    let tls = page.tls.expect("certificate details");
    // 2031-01-02T00:00:00Z
    assert_eq!(tls.expires_at_ms, 1_925_078_400_000);
}
