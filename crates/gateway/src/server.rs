//! Starting, steering and stopping a gateway.
//!
//! The proxy: with the hyper engine (the default), `threads` threads of
//! `h1` on the cleartext listeners, bound here so that `start` knows their
//! ports, and pingora's server (its own runtimes) for the TLS listeners
//! when there are any, both handing HTTP/2 to the same pingora app; with
//! the pingora engine, pingora's server for every listener. Beside it a
//! control plane thread with a small tokio runtime that owns the store: it restores switches and bans at start,
//! serves the control socket, records what the proxy noticed (tamper
//! sightings as signals with evidence, bans), follows the guard's approved
//! versions, expires bans and picks up switches and bans written to the
//! store by other processes.

use crate::access_log::AccessLog;
use crate::blocklist::{BlockEntry, Blocklist, parse_net};
use crate::config::{Engine, GatewayConfig};
use crate::conn;
use crate::control;
use crate::error::GatewayError;
use crate::events::{GatewayEvent, TamperSighting};
use crate::integrity::Integrity;
use crate::limiter::Limiter;
use crate::origin_tls::OriginTrust;
use crate::proxy::{Gateway, Shared, Stats};
use crate::routes::RouteTable;
use crate::switch::{SiteState, SwitchNote, Switchboard};
use crate::verify::OriginChecker;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::listeners::tls::TlsSettings;
use pingora_core::protocols::Stream;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora_core::services::listening::Service;
use pingora_proxy::HttpProxy;
use sitewarden_incident::{Signal, SignalKind, SignalSource};
use sitewarden_store::{BlockRecord, EvidenceInput, Store};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// Builds a fresh configuration on `reload` (re-reading the plan).
pub type Reloader = Arc<dyn Fn() -> Result<GatewayConfig, String> + Send + Sync>;

/// A running gateway.
pub struct GatewayHandle {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    stop_control: watch::Sender<bool>,
    proxy_thread: Option<JoinHandle<()>>,
    control_thread: Option<JoinHandle<()>>,
    listen: Vec<SocketAddr>,
    reload: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("listen", &self.listen)
            .finish()
    }
}

impl GatewayHandle {
    /// The shared state (switches, blocklist, counters).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Every address listened on (plain and TLS).
    pub fn listen(&self) -> &[SocketAddr] {
        &self.listen
    }

    /// Waits until every listener accepts connections.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), GatewayError> {
        let deadline = std::time::Instant::now() + timeout;
        for addr in &self.listen {
            while std::net::TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
                if std::time::Instant::now() > deadline {
                    return Err(GatewayError::Config(format!(
                        "the gateway did not start listening on {addr}"
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Re-reads routes, trusted proxies, the allow- and blocklist, the
    /// limits and approved files.
    pub fn reload(&self) -> Result<(), String> {
        (self.reload)()
    }

    /// The reload, to run from elsewhere (a signal handler's task) while
    /// the handle stays with its owner for `stop`.
    pub fn reloader(&self) -> Arc<dyn Fn() -> Result<(), String> + Send + Sync> {
        self.reload.clone()
    }

    /// Stops gracefully: listeners close, requests in flight finish (up to
    /// the configured grace), then the threads end.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        // The proxy first: while it finishes the requests in flight, the
        // control plane still records what they raise and still answers
        // `contain`.
        let _ = self.stop.send(true);
        if let Some(thread) = self.proxy_thread.take() {
            let _ = thread.join();
        }
        let _ = self.stop_control.send(true);
        if let Some(thread) = self.control_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Starts a gateway on `data_dir` (store, guard data, control socket).
pub fn start(
    config: GatewayConfig,
    data_dir: &Path,
    reloader: Option<Reloader>,
) -> Result<GatewayHandle, GatewayError> {
    config.validate()?;
    for tls in &config.tls {
        check_tls_files(&tls.cert, &tls.key)?;
    }
    // Bind each address once ourselves so "address in use" is a clear
    // error here rather than a failure inside pingora's runtime.
    for addr in config
        .listen
        .iter()
        .chain(config.tls.iter().map(|t| &t.addr))
        .filter(|addr| addr.port() != 0)
    {
        std::net::TcpListener::bind(addr).map_err(|source| GatewayError::Io {
            path: PathBuf::from(addr.to_string()),
            source,
        })?;
    }
    // The hyper engine's sockets are bound here, so that port 0 is
    // resolved before `start` returns.
    let cleartext = match config.engine {
        Engine::Hyper if !config.listen.is_empty() => {
            Some(crate::h1::listen::bind(&config.listen, config.threads)?)
        }
        _ => None,
    };
    std::fs::create_dir_all(data_dir).map_err(|source| GatewayError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;

    let (events_tx, events_rx) = tokio::sync::mpsc::channel(4096);
    let switches = Switchboard::default();
    let routes = RouteTable::build(&config.routes, &switches);
    let integrity = Arc::new(Integrity::open(data_dir).map_err(|error| {
        GatewayError::Config(format!("guard data in {}: {error}", data_dir.display()))
    })?);
    let origin_trust = OriginTrust::load(&config.origin_ca_files)?;
    let checker = OriginChecker::new(
        Duration::from_secs(1),
        config.origin_timeout,
        &config.origin_ca_files,
        events_tx.clone(),
    )
    .map_err(|error| GatewayError::Tls(format!("origin checks: {error}")))?;
    let blocklist = Blocklist::default();
    blocklist.set_allowlist(config.allowlist.clone());
    let access_log = match &config.access_log {
        Some(path) => Some(AccessLog::open(path).map_err(|source| GatewayError::Io {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let shared = Arc::new(Shared {
        routes: ArcSwap::from_pointee(routes),
        switches,
        blocklist,
        limiter: Arc::new(Limiter::new(config.limits.clone())),
        integrity: Some(integrity),
        checker: Some(Arc::new(checker)),
        access_log,
        tap: config.tap.clone(),
        trusted_proxies: ArcSwap::from_pointee(config.trusted_proxies.clone()),
        events: events_tx,
        stats: Stats::default(),
        origin_timeout: config.origin_timeout,
        origin_trust,
    });
    apply_config_parts(&shared, &config);

    // The control plane first: switches and bans from the store must be in
    // force before the first request is accepted.
    // One reload, for the handle (SIGHUP) and the control socket.
    let reload: Arc<dyn Fn() -> Result<(), String> + Send + Sync> = {
        let shared = shared.clone();
        Arc::new(move || reload_now(&shared, reloader.as_ref()))
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stop_control_tx, stop_control_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let control_thread = {
        let shared = shared.clone();
        let dir = data_dir.to_path_buf();
        let stop = stop_control_rx;
        let reload = reload.clone();
        std::thread::Builder::new()
            .name("sitewarden-gateway-control".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(GatewayError::Config(error.to_string())));
                        return;
                    }
                };
                runtime.block_on(control_plane(
                    shared, dir, reload, events_rx, stop, ready_tx,
                ));
            })
            .map_err(|source| GatewayError::Io {
                path: data_dir.to_path_buf(),
                source,
            })?
    };
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            let _ = stop_control_tx.send(true);
            let _ = control_thread.join();
            return Err(error);
        }
        Err(_) => {
            return Err(GatewayError::Control(
                "the control plane stopped while starting".into(),
            ));
        }
    }

    // pingora's app for the hyper engine's HTTP/2 connections, made here:
    // making it installs the process's default TLS provider, which other
    // parts (reqwest) may need as soon as `start` returns.
    let cleartext = cleartext.map(|listeners| {
        let conf = Arc::new(server_conf(&config));
        let app = Arc::new(gateway_app(&config, shared.clone(), conf));
        (listeners, app)
    });
    let mut listen = match &cleartext {
        Some((listeners, _)) => listeners.addrs.clone(),
        None => config.listen.clone(),
    };
    listen.extend(config.tls.iter().map(|tls| tls.addr));
    let proxy_thread = {
        let shared = shared.clone();
        let config = config.clone();
        let stop = stop_rx.clone();
        std::thread::Builder::new()
            .name("sitewarden-gateway".into())
            .spawn(move || match cleartext {
                Some((listeners, app)) => run_engines(config, listeners, app, shared, stop),
                None => run_proxy(config, shared, stop),
            })
            .map_err(|source| GatewayError::Io {
                path: data_dir.to_path_buf(),
                source,
            })?
    };

    Ok(GatewayHandle {
        shared,
        stop: stop_tx,
        stop_control: stop_control_tx,
        proxy_thread: Some(proxy_thread),
        control_thread: Some(control_thread),
        listen,
        reload,
    })
}

/// The source of blocklist entries from the plan's `[gateway] blocklist`.
const PLAN_SOURCE: &str = "plan";

/// The parts of a configuration that can change while running.
fn apply_config_parts(shared: &Shared, config: &GatewayConfig) {
    shared.routes.store(Arc::new(RouteTable::build(
        &config.routes,
        &shared.switches,
    )));
    shared
        .trusted_proxies
        .store(Arc::new(config.trusted_proxies.clone()));
    shared.blocklist.set_allowlist(config.allowlist.clone());
    // Limits for the next request and connection; the listeners, threads
    // and HTTP/2 settings stay as started.
    shared.limiter.set_limits(config.limits.clone());
    // Ranges the plan no longer lists are lifted (bans from elsewhere stay).
    for entry in shared.blocklist.entries(crate::now_ms()) {
        if entry.source == PLAN_SOURCE && !config.blocklist.contains(&entry.net) {
            shared.blocklist.remove(&entry.net);
        }
    }
    for net in &config.blocklist {
        shared.blocklist.insert(BlockEntry {
            net: *net,
            until_ms: None,
            reason: "listed in the plan".into(),
            source: PLAN_SOURCE.into(),
            offences: 0,
        });
    }
    if let Some(integrity) = &shared.integrity {
        let roots: HashMap<String, PathBuf> = config
            .routes
            .iter()
            .filter_map(|route| Some((route.site.clone(), route.guarded_root.clone()?)))
            .collect();
        for problem in integrity.set_roots(roots) {
            tracing::warn!("integrity verification off for {problem}");
        }
    }
}

fn reload_now(shared: &Shared, reloader: Option<&Reloader>) -> Result<(), String> {
    let Some(reloader) = reloader else {
        // Routes from the command line: only the approved files can change.
        if let Some(integrity) = &shared.integrity {
            for problem in integrity.refresh() {
                tracing::warn!("integrity verification off for {problem}");
            }
        }
        return Ok(());
    };
    let config = reloader()?;
    config.validate().map_err(|e| e.to_string())?;
    apply_config_parts(shared, &config);
    tracing::info!(
        "gateway configuration reloaded ({} routes)",
        config.routes.len()
    );
    Ok(())
}

fn check_tls_files(cert: &Path, key: &Path) -> Result<(), GatewayError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", cert.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(GatewayError::Tls(format!(
            "{}: no certificate in the file",
            cert.display()
        )));
    }
    PrivateKeyDer::from_pem_file(key)
        .map_err(|e| GatewayError::Tls(format!("{}: {e}", key.display())))?;
    Ok(())
}

/// Shuts pingora down when our stop flag is raised.
struct StopWatch(watch::Receiver<bool>);

#[async_trait]
impl ShutdownSignalWatch for StopWatch {
    async fn recv(&self) -> ShutdownSignal {
        let mut stop = self.0.clone();
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        ShutdownSignal::GracefulTerminate
    }
}

/// Refuses connections from blocked addresses as they are accepted, before
/// a TLS handshake is spent on them.
#[derive(Debug)]
struct RefuseBlocked(Arc<Shared>);

#[async_trait]
impl pingora_core::listeners::ConnectionFilter for RefuseBlocked {
    async fn should_accept(&self, addr: Option<&SocketAddr>) -> bool {
        addr.is_none_or(|addr| !crate::decide::refused_at_accept(&self.0, addr.ip()))
    }
}

/// The app pingora calls for each connection: limits and wraps it, then
/// hands it to the HTTP proxy. The hyper engine hands it its HTTP/2
/// connections too.
pub(crate) struct GatewayApp {
    proxy: Arc<HttpProxy<Gateway>>,
    shared: Arc<Shared>,
}

#[async_trait]
impl ServerApp for GatewayApp {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let stream = if conn::is_guarded(&stream) {
            stream
        } else {
            let peer = conn::peer_of(&stream).map(|addr| addr.ip());
            let slot = crate::decide::admit_connection(&self.shared, peer).ok()?;
            conn::guard(stream, slot, self.shared.limiter.limits().header_timeout)
        };
        self.proxy.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.proxy.cleanup().await
    }
}

/// pingora's server configuration for this gateway.
fn server_conf(config: &GatewayConfig) -> ServerConf {
    ServerConf {
        threads: config.threads.max(1),
        grace_period_seconds: Some(config.grace.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.grace.as_secs().max(1)),
        ..ServerConf::default()
    }
}

/// pingora's HTTP proxy with the gateway's phases and HTTP/2 settings,
/// wrapped in the connection app.
fn gateway_app(config: &GatewayConfig, shared: Arc<Shared>, conf: Arc<ServerConf>) -> GatewayApp {
    let mut proxy = HttpProxy::new(
        Gateway {
            shared: shared.clone(),
        },
        conf,
    );
    proxy.handle_init_modules();
    let mut options = pingora_core::apps::HttpServerOptions::default();
    options.h2c = true;
    options.h2_idle_timeout = Some(config.limits.keepalive_timeout);
    proxy.server_options = Some(options);
    // pingora's bounded defaults (header list size), with our stream cap.
    let mut h2 = pingora_core::protocols::http::v2::server::default_h2_options();
    h2.max_concurrent_streams(config.limits.h2_streams_per_connection.max(1));
    proxy.h2_options = Some(h2);
    GatewayApp {
        proxy: Arc::new(proxy),
        shared,
    }
}

/// pingora's server on the listeners it serves (all of them with the
/// pingora engine, else the TLS ones), until the stop.
fn run_proxy(config: GatewayConfig, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut server = Server::new_with_opt_and_conf(None, server_conf(&config));
    server.bootstrap();
    let conf = server.configuration.clone();
    let app = gateway_app(&config, shared.clone(), conf);
    let mut service = Service::new("sitewarden gateway".to_string(), app);
    service.set_connection_filter(Arc::new(RefuseBlocked(shared)));
    if config.engine == Engine::Pingora {
        for addr in &config.listen {
            service.add_tcp(&addr.to_string());
        }
    }
    for tls in &config.tls {
        let mut settings = match TlsSettings::intermediate(
            &tls.cert.to_string_lossy(),
            &tls.key.to_string_lossy(),
        ) {
            Ok(settings) => settings,
            Err(error) => {
                tracing::error!("TLS listener {}: {error}", tls.addr);
                continue;
            }
        };
        settings.enable_h2();
        service.add_tls_with_settings(&tls.addr.to_string(), None, settings);
    }
    server.add_service(service);
    server.run(RunArgs {
        shutdown_signal: Box::new(StopWatch(stop)),
    });
}

/// The hyper engine on the cleartext listeners, and pingora's server on
/// the TLS ones (when there are any), until the stop.
fn run_engines(
    config: GatewayConfig,
    listeners: crate::h1::listen::Listeners,
    app: Arc<GatewayApp>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let threads = match crate::h1::start(listeners, shared.clone(), app, stop.clone(), config.grace)
    {
        Ok(threads) => threads,
        Err(error) => {
            tracing::error!("gateway: starting the proxy threads: {error}");
            Vec::new()
        }
    };
    if !config.tls.is_empty() {
        run_proxy(config, shared, stop);
    }
    for thread in threads {
        let _ = thread.join();
    }
}

async fn control_plane(
    shared: Arc<Shared>,
    data_dir: PathBuf,
    reload: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
    mut events: tokio::sync::mpsc::Receiver<GatewayEvent>,
    mut stop: watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<Result<(), GatewayError>>,
) {
    let started = async {
        let lock = control::lock(&data_dir)?;
        let store = Store::open(&data_dir).await?;
        let listener = control::bind(&control::socket_path(&data_dir)).await?;
        sync_from_store(&shared, &store).await?;
        Ok::<_, GatewayError>((lock, store, listener))
    };
    let (_lock, store, listener) = match started.await {
        Ok(started) => started,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let _ = ready.send(Ok(()));

    let socket = tokio::spawn(control::serve(
        listener,
        shared.clone(),
        store.clone(),
        reload,
        stop.clone(),
    ));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recorder = Recorder::default();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => recorder.record(&store, event).await,
                None => break,
            },
            _ = tick.tick() => {
                if let Some(integrity) = &shared.integrity {
                    let _ = integrity.refresh();
                }
                shared.blocklist.sweep(crate::now_ms());
                if let Err(error) = sync_from_store(&shared, &store).await {
                    tracing::warn!("gateway: reading switches and bans: {error}");
                }
            }
            _ = stop.changed() => break,
        }
    }
    // Record what is still queued before going.
    while let Ok(event) = events.try_recv() {
        recorder.record(&store, event).await;
    }
    socket.abort();
    let _ = std::fs::remove_file(control::socket_path(&data_dir));
    store.close().await;
}

/// Applies switches and bans written to the store (by the CLI, the runner,
/// logwatch or another gateway) that this gateway does not have yet.
async fn sync_from_store(shared: &Shared, store: &Store) -> Result<(), GatewayError> {
    for record in store.site_switches().await? {
        let Some(mode) = SiteState::parse(&record.mode) else {
            continue;
        };
        let current = shared.switches.switch(&record.site).note();
        if current
            .as_ref()
            .is_none_or(|note| note.at_ms < record.at_ms)
        {
            shared.switches.set(
                &record.site,
                SwitchNote {
                    mode,
                    reason: record.reason,
                    by: record.by,
                    at_ms: record.at_ms,
                },
            );
        }
    }
    let now = crate::now_ms();
    for record in store.active_blocks(now).await? {
        let Ok(net) = parse_net(&record.net) else {
            continue;
        };
        let entry = BlockEntry {
            net,
            until_ms: record.until_ms,
            reason: record.reason,
            source: record.source,
            offences: record.offences,
        };
        if shared.blocklist.get(&net).as_ref() != Some(&entry) {
            shared.blocklist.insert(entry);
        }
    }
    Ok(())
}

/// Writes events to the store, raising one signal per distinct tampered
/// body a minute (a tampered page fetched a thousand times is one sighting).
#[derive(Default)]
struct Recorder {
    recent: HashMap<(String, String, String), i64>,
}

const SIGHTING_REPEAT_MS: i64 = 60_000;

impl Recorder {
    async fn record(&mut self, store: &Store, event: GatewayEvent) {
        match event {
            GatewayEvent::Banned(entry) => {
                let record = BlockRecord {
                    net: entry.net.to_string(),
                    until_ms: entry.until_ms,
                    reason: entry.reason,
                    source: entry.source,
                    offences: entry.offences,
                };
                if let Err(error) = store.put_block(&record, crate::now_ms()).await {
                    tracing::warn!("gateway: recording the ban of {}: {error}", record.net);
                }
            }
            GatewayEvent::Tamper(sighting) => {
                let body_hash = blake3::hash(&sighting.evidence).to_hex().to_string();
                let key = (sighting.site.clone(), sighting.file.clone(), body_hash);
                let last = self.recent.get(&key).copied().unwrap_or(i64::MIN);
                if sighting.at_ms.saturating_sub(last) < SIGHTING_REPEAT_MS {
                    return;
                }
                self.recent.insert(key, sighting.at_ms);
                self.recent
                    .retain(|_, at| sighting.at_ms.saturating_sub(*at) < SIGHTING_REPEAT_MS);
                let (signal, evidence) = tamper_signal(&sighting);
                if let Err(error) = store.raise_signal(&signal, &evidence).await {
                    tracing::error!(
                        "gateway: recording the tampered response of {} {}: {error}",
                        sighting.site,
                        sighting.url_path
                    );
                }
            }
        }
    }
}

fn tamper_signal(sighting: &TamperSighting) -> (Signal, Vec<EvidenceInput>) {
    let what = if sighting.origin_status == 404 {
        format!(
            "the origin answered 404 for the approved file {} ({}): it was deleted",
            sighting.file, sighting.url_path
        )
    } else {
        format!(
            "the origin served {} ({}) different from the approved version from byte {} ({} bytes)",
            sighting.file, sighting.url_path, sighting.differs_at, sighting.origin_len
        )
    };
    let signal = Signal {
        site: sighting.site.clone(),
        page: None,
        kind: SignalKind::Defacement,
        source: SignalSource::Gateway,
        score: 90,
        reasons: vec![
            what,
            format!(
                "the gateway served the approved copy (BLAKE3 {}) instead, to {}",
                &sighting.approved_blake3[..16],
                sighting.client
            ),
        ],
        observed_at_ms: sighting.at_ms,
        drill: false,
    };
    let evidence = vec![EvidenceInput {
        kind: "gateway_tampered_response".into(),
        content: sighting.evidence.clone(),
        media_type: "application/octet-stream".into(),
        captured_at: sighting.at_ms,
        metadata: serde_json::json!({
            "site": sighting.site,
            "url_path": sighting.url_path,
            "file": sighting.file,
            "approved_blake3": sighting.approved_blake3,
            "origin_status": sighting.origin_status,
            "differs_at": sighting.differs_at,
            "origin_len": sighting.origin_len,
            "truncated": sighting.evidence_truncated,
            "client": sighting.client.to_string(),
        }),
    }];
    (signal, evidence)
}
