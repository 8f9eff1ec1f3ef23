//! The hyper engine's connections to origins: one kept per client
//! connection, as the client's own connection to the site would be (the
//! common case — a browser or a benchmark on a kept-alive connection —
//! then costs no pool lookup and no lock shared between connections). A
//! new one is opened when the kept one closed or does not go to one of the
//! request's route's origins; the route's origins are tried in turn when
//! one does not connect, with pingora's connect timeouts.

use super::body::RequestBody;
use crate::config::Origin;
use crate::decide::Failure;
use crate::routes::Route;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a TCP connection to an origin may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a connection may take with its TLS handshake.
const TOTAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to an origin, ready for requests.
pub struct OriginLink {
    addr: SocketAddr,
    tls: bool,
    sender: SendRequest<RequestBody>,
}

impl OriginLink {
    /// Whether this link serves `origin` and can still carry a request.
    fn serves(&self, route: &Route) -> bool {
        !self.sender.is_closed()
            && route
                .origins
                .iter()
                .any(|origin| origin.addr == Some(self.addr) && origin.tls == self.tls)
    }
}

/// Sends `request` to `route`'s origins, on `kept` when it serves the
/// route (and keeping the connection there afterwards, unless the request
/// is an upgrade, which takes the connection over). `timeout` bounds the
/// wait for the response header.
pub async fn send(
    kept: &std::sync::Mutex<Option<OriginLink>>,
    route: &Route,
    request: http::Request<RequestBody>,
    timeout: Duration,
    upgrade: bool,
) -> Result<http::Response<Incoming>, Failure> {
    let reusable = kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .filter(|link| link.serves(route));
    let mut request = request;
    let mut link = match reusable {
        Some(link) => link,
        None => connect(route).await?,
    };
    let mut fresh_tried = false;
    loop {
        if link.sender.ready().await.is_err() {
            // Closed by the origin while idle: one fresh connection.
            if fresh_tried {
                return Err(Failure::OriginBroken);
            }
            fresh_tried = true;
            link = connect(route).await?;
            continue;
        }
        let sent = tokio::time::timeout(timeout, link.sender.try_send_request(request)).await;
        match sent {
            Err(_) => return Err(Failure::OriginSlow),
            Ok(Ok(response)) => {
                if !upgrade {
                    *kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
                }
                return Ok(response);
            }
            Ok(Err(mut error)) => match error.take_message() {
                // Not sent (the kept connection was closing): once more,
                // on a fresh one.
                Some(unsent) if !fresh_tried => {
                    fresh_tried = true;
                    request = unsent;
                    link = connect(route).await?;
                }
                _ => {
                    tracing::debug!("origin {}: {}", link.addr, error.error());
                    return Err(Failure::OriginBroken);
                }
            },
        }
    }
}

/// Connects to the route's origins in turn (round robin across requests);
/// 504 when the last one timed out, 502 when it refused.
async fn connect(route: &Route) -> Result<OriginLink, Failure> {
    let mut first = None;
    let mut attempt = 0;
    let mut failure = Failure::OriginBroken;
    while let Some(origin) = route.origin(attempt, &mut first) {
        attempt += 1;
        let Some(addr) = origin.addr else {
            tracing::warn!(
                "site {}: origin {} did not resolve",
                route.site,
                origin.authority
            );
            continue;
        };
        match tokio::time::timeout(TOTAL_CONNECT_TIMEOUT, open(origin, addr)).await {
            Ok(Ok(link)) => return Ok(link),
            Ok(Err(OpenError::TimedOut)) | Err(_) => failure = Failure::OriginSlow,
            Ok(Err(OpenError::Failed(error))) => {
                tracing::debug!("site {}: origin {addr}: {error}", route.site);
                failure = Failure::OriginBroken;
            }
        }
    }
    Err(failure)
}

enum OpenError {
    TimedOut,
    Failed(String),
}

async fn open(origin: &Origin, addr: SocketAddr) -> Result<OriginLink, OpenError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| OpenError::TimedOut)?
        .map_err(|error| OpenError::Failed(error.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let sender = if origin.tls {
        let name = rustls_pki_types::ServerName::try_from(origin.sni.clone())
            .map_err(|error| OpenError::Failed(error.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|error| OpenError::Failed(error.to_string()))?;
        handshake(tls).await?
    } else {
        handshake(tcp).await?
    };
    Ok(OriginLink {
        addr,
        tls: origin.tls,
        sender,
    })
}

/// HTTP/1.1 over `io`, its connection driven by its own task (upgrades
/// allowed: a WebSocket takes the connection over).
async fn handshake<T>(io: T) -> Result<SendRequest<RequestBody>, OpenError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|error| OpenError::Failed(error.to_string()))?;
    tokio::spawn(connection.with_upgrades());
    Ok(sender)
}

/// TLS to origins, verified against the system's roots (as pingora does).
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}
