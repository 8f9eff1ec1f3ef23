//! Approved files too large for the gateway's cache, served from the vault
//! a chunk at a time: correct bytes, memory that does not grow with the
//! number of visitors, the origin still checked byte for byte, and a vault
//! copy that no longer matches its hash refused.
//!
//! A test binary of its own: it measures the process's memory, which other
//! tests running beside it would disturb.

mod support;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use sitewarden_gateway::{Engine, GatewayConfig, Limits, parse_route_flag};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIG: usize = 24 * 1024 * 1024;
const CLIENTS: usize = 8;

/// Deterministic bytes that do not compress and are not all alike.
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes.extend_from_slice(&seed.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The process's resident memory now, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// An origin serving `/big.pdf` from a shared buffer (no copy per request,
/// so it does not weigh on the measurement), swappable to play a defaced
/// origin.
fn start_origin(body: Arc<Mutex<Bytes>>) -> SocketAddr {
    async fn big(State(body): State<Arc<Mutex<Bytes>>>) -> impl IntoResponse {
        let bytes = body.lock().unwrap().clone();
        ([("content-type", "application/pdf")], bytes)
    }
    support::serve_on_own_thread(|listener| async move {
        let app = Router::new()
            .route("/big.pdf", axum::routing::get(big))
            .with_state(body);
        axum::serve(listener, app).await.unwrap();
    })
}

fn approve(root: &Path, data: &Path) {
    let guard = sitewarden_guard::GuardData::open(data).unwrap();
    sitewarden_guard::approve(
        &guard,
        &sitewarden_guard::ApproveOptions {
            root: root.to_path_buf(),
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
}

/// Downloads `url` a piece at a time, slowly enough that the downloads
/// overlap; returns the status, the Content-Length and the BLAKE3 of the
/// body.
async fn download(client: reqwest::Client, url: String) -> (u16, Option<u64>, blake3::Hash) {
    let mut response = client.get(&url).send().await.unwrap();
    let status = response.status().as_u16();
    let length = response.content_length();
    let mut hasher = blake3::Hasher::new();
    let mut since_pause = 0usize;
    while let Some(chunk) = response.chunk().await.unwrap() {
        hasher.update(&chunk);
        since_pause += chunk.len();
        if since_pause >= 256 * 1024 {
            since_pause = 0;
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    (status, length, hasher.finalize())
}

/// Regression: an approved file over 16 MiB (too large for the cache) was
/// read whole from the vault for every request, so memory grew by its size
/// with every visitor downloading it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_approved_file_is_streamed_correctly_in_bounded_memory() {
    // One engine after the other: the memory bound is measured on the
    // whole process.
    for engine in [Engine::Hyper, Engine::Pingora] {
        streamed_in_bounded_memory(engine).await;
    }
}

async fn streamed_in_bounded_memory(engine: Engine) {
    let root = tempfile::tempdir().unwrap();
    let approved = pseudo_random(BIG, 0x5eed_1234_abcd_0001);
    let approved_hash = blake3::hash(&approved);
    std::fs::write(root.path().join("big.pdf"), &approved).unwrap();
    std::fs::write(root.path().join("index.html"), "home").unwrap();
    let data = tempfile::tempdir().unwrap();
    approve(root.path(), data.path());
    let served = Arc::new(Mutex::new(Bytes::from(approved)));
    let origin = start_origin(served.clone());

    let mut config = GatewayConfig {
        listen: vec![{
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        }],
        routes: vec![
            parse_route_flag(&format!("portal.example.gov.test=http://{origin}")).unwrap(),
        ],
        limits: Limits::default(),
        threads: 2,
        grace: Duration::from_secs(1),
        engine,
        ..GatewayConfig::default()
    };
    config.routes[0].site = "portal".into();
    config.routes[0].guarded_root = Some(root.path().to_path_buf());
    let data_dir = data.path().to_path_buf();
    let gateway = tokio::task::spawn_blocking(move || {
        let handle = sitewarden_gateway::start(config, &data_dir, None).unwrap();
        handle.wait_ready(Duration::from_secs(10)).unwrap();
        handle
    })
    .await
    .unwrap();
    let addr = gateway.listen()[0];
    let client = reqwest::Client::builder()
        .resolve("portal.example.gov.test", addr)
        .build()
        .unwrap();
    let url = format!("http://portal.example.gov.test:{}/big.pdf", addr.port());

    // One download first: the vault copy is hashed in full once, and the
    // runtime's threads and buffers are warm before the measurement.
    let (status, length, hash) = download(client.clone(), url.clone()).await;
    assert_eq!((status, length), (200, Some(BIG as u64)));
    assert_eq!(hash, approved_hash);

    // Eight visitors at once, sampled for the process's peak memory.
    let baseline = resident_bytes();
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = std::thread::spawn({
        let peak = peak.clone();
        let sampling = sampling.clone();
        move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(resident_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let started = Instant::now();
    let downloads: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(download(client.clone(), url.clone())))
        .collect();
    for download in downloads {
        let (status, length, hash) = download.await.unwrap();
        assert_eq!((status, length), (200, Some(BIG as u64)));
        assert_eq!(hash, approved_hash, "the approved bytes, whole");
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "{CLIENTS} downloads of {} MiB in {:?}; peak memory {} MiB above the baseline",
        BIG >> 20,
        started.elapsed(),
        grew >> 20
    );
    // Read whole per request, the eight downloads would hold 8 × 24 MiB
    // at once; streamed, they hold a few chunks each.
    assert!(
        grew < 64 * 1024 * 1024,
        "memory grew by {} MiB while {CLIENTS} visitors downloaded a {} MiB file",
        grew >> 20,
        BIG >> 20
    );

    // HEAD and a validator work as for cached files.
    let response = client.head(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        BIG.to_string()
    );
    let etag = response.headers()["etag"].clone();
    let response = client
        .get(&url)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);

    // The origin defaced 20 MiB into the file: visitors still get the
    // approved bytes, and the background check, comparing window by window
    // with the vault copy, finds where.
    {
        let mut defaced = served.lock().unwrap().to_vec();
        defaced[20 * 1024 * 1024..20 * 1024 * 1024 + 6].copy_from_slice(b"HACKED");
        *served.lock().unwrap() = Bytes::from(defaced);
    }
    let (status, _, hash) = download(client.clone(), url.clone()).await;
    assert_eq!((status, hash), (200, approved_hash));
    let store = sitewarden_store::Store::open(data.path()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let incidents = store.incidents().await.unwrap();
        if let Some(incident) = incidents.into_iter().find(|i| i.site == "portal") {
            let detail = store.incident(incident.id).await.unwrap().unwrap();
            let reasons: Vec<&String> = detail
                .signals
                .iter()
                .flat_map(|signal| signal.reasons.iter())
                .collect();
            if reasons
                .iter()
                .any(|reason| reason.contains(&format!("from byte {}", 20 * 1024 * 1024)))
            {
                break;
            }
            assert!(Instant::now() < deadline, "{reasons:?}");
        }
        assert!(Instant::now() < deadline, "no tamper signal recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A vault copy whose bytes no longer match its hash is never served:
    // 503, not the changed bytes.
    let guard = sitewarden_guard::GuardData::open(data.path()).unwrap();
    let location = guard
        .vault()
        .locate(&approved_hash.to_hex())
        .expect("the file is in the vault");
    let (pack, offset) = match location {
        sitewarden_guard::VaultLocation::Packed { pack, offset, .. } => (pack, offset),
        sitewarden_guard::VaultLocation::Loose(path) => (path, 0),
    };
    corrupt_byte(&pack, offset + 1000);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 503);
    tokio::task::spawn_blocking(move || gateway.stop())
        .await
        .unwrap();
}

/// Flips one byte of a file in our own temporary data directory, refusing
/// to follow a symlink.
fn corrupt_byte(path: &Path, offset: u64) {
    use rustix::fs::{Mode, OFlags};
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "{} is not a regular file",
        path.display()
    );
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let mut byte = [0u8; 1];
    rustix::io::pread(&fd, &mut byte, offset).unwrap();
    byte[0] ^= 0xff;
    rustix::io::pwrite(&fd, &byte, offset).unwrap();
}
