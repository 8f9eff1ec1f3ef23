//! One accepted cleartext connection in the hyper engine: HTTP/2 with
//! prior knowledge (its connection preface) goes to pingora's app, which
//! serves h2c as it does on the TLS listeners; anything else takes its
//! client's connection slot, is wrapped with the header deadline, the
//! keep-alive and write timeouts and the raw-header check
//! ([`GuardedStream`]), and is served by hyper's HTTP/1 server until it
//! closes or the gateway stops (gracefully: the request in flight is
//! answered, then the connection closed).

use super::request::{ClientConnection, handle};
use crate::conn::{GuardedStream, HeaderNotes};
use crate::decide::{Admitted, Logged, log_request};
use crate::proxy::Shared;
use crate::server::GatewayApp;
use hyper_util::rt::TokioIo;
use pingora_core::apps::ServerApp;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one accepted connection.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    app: Arc<GatewayApp>,
    tasks: tokio_util::task::TaskTracker,
    stop: watch::Receiver<bool>,
    stopping: super::stop::Raised,
) {
    let _ = stream.set_nodelay(true);
    let limits = shared.limiter.limits().clone();
    let accepted = Instant::now();
    match starts_with_h2_preface(&stream, limits.header_timeout).await {
        Some(true) => {
            app.process_new(pingora_stream(stream, peer), &stop).await;
            return;
        }
        Some(false) => {}
        None => return,
    }
    let ip = crate::blocklist::canonical(peer.ip());
    let Ok(slot) = crate::decide::admit_connection(&shared, Some(ip)) else {
        return;
    };
    let io = GuardedStream::plain(
        stream,
        slot,
        limits.header_timeout.saturating_sub(accepted.elapsed()),
        Some(limits.keepalive_timeout),
        Some(limits.body_timeout),
    );
    let notes = io.notes();
    let client = Arc::new(ClientConnection {
        shared: shared.clone(),
        peer: crate::decide::Peer::new(ip),
        notes: io.notes(),
        origin: Arc::new(Mutex::new(None)),
        tasks,
        stop: stop.clone(),
    });
    let service = hyper::service::service_fn(move |request| handle(client.clone(), request));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The gateway's own limits answer with a body that says why (431);
    // hyper's parser only stops what is far beyond them.
    builder
        .max_headers(limits.max_headers.max(100).saturating_mul(2))
        .header_read_timeout(None::<Duration>);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::pin!(stopping);
    // The connection first: the stop is only looked at while it waits.
    let ended = tokio::select! {
        biased;
        ended = connection.as_mut() => ended,
        _ = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended
        && error.is_parse()
    {
        unparsed(&shared, ip, &notes, &error);
    }
}

/// A request hyper could not parse has had hyper's own answer (400, or
/// 414 / 431 for an overlong target or header) and its connection closed:
/// counted with the gateway's refusals of malformed requests, and logged
/// with what was sent of its first line, as nginx logs a bad request.
fn unparsed(shared: &Shared, client: IpAddr, notes: &HeaderNotes, error: &hyper::Error) {
    shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
    let status = if !error.is_parse_too_large() {
        400
    } else if error.to_string().contains("URI") {
        414
    } else {
        431
    };
    let line = notes.request_line();
    let admitted = Admitted {
        started_ms: crate::now_ms(),
        client: Some(client),
        ..Admitted::default()
    };
    let logged = Logged {
        // No method: the line is logged as sent.
        method: "",
        target: &line,
        version: http::Version::HTTP_11,
        host: None,
        referer: b"",
        user_agent: b"",
    };
    log_request(shared, &logged, &admitted, status, 0);
}

/// A socket as pingora's listener would hand it over: with its peer's
/// address in its digest (the client's address for everything else).
fn pingora_stream(stream: TcpStream, peer: SocketAddr) -> pingora_core::protocols::Stream {
    use pingora_core::protocols::{GetSocketDigest, SocketDigest};
    use std::os::fd::AsRawFd;
    let digest = SocketDigest::from_raw_fd(stream.as_raw_fd());
    let _ = digest.peer_addr.set(Some(peer.into()));
    let mut stream = pingora_core::protocols::l4::stream::Stream::from(stream);
    stream.set_socket_digest(digest);
    Box::new(stream)
}

/// Whether the connection starts with the HTTP/2 preface: peeks (reads
/// nothing) until the bytes can no longer be the preface — a short HTTP/1
/// request or garbage is known at its first byte. None when the client
/// sent nothing in time or closed.
async fn starts_with_h2_preface(stream: &TcpStream, within: Duration) -> Option<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let peek = async {
        loop {
            let n = stream.peek(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if !H2_PREFACE.starts_with(&buf[..n]) {
                return Some(false);
            }
            if n == H2_PREFACE.len() {
                return Some(true);
            }
            // A part of the preface: the rest is on its way.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(within, peek).await.ok().flatten()
}
