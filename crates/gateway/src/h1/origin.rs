//! The hyper engine's connections to origins: one kept per client
//! connection, as the client's own connection to the site would be (the
//! common case — a browser or a benchmark on a kept-alive connection —
//! then costs no pool lookup and no lock shared between connections),
//! driven by the client connection's own task rather than a task of its
//! own (see [`OriginLink`]). A
//! new one is opened when the kept one closed or does not go to one of the
//! request's route's origins; the route's origins are tried in turn when
//! one does not connect, with pingora's connect timeouts.

use super::body::RequestBody;
use super::wake::LinkWakers;
use crate::config::Origin;
use crate::decide::Failure;
use crate::rearm::Rearm;
use crate::routes::Route;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a TCP connection to an origin may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a connection may take with its TLS handshake.
const TOTAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The task-less half of a hyper client connection: its reads and writes.
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection to an origin, ready for requests. Its reads and writes
/// are driven by whoever holds it ([`OriginLink::drive`]) — the client
/// connection's own task, while it sends a request and then while it
/// passes the response body on — rather than by a task of its own: no
/// second task, and no wake-ups between tasks, per request.
pub struct OriginLink {
    addr: SocketAddr,
    tls: bool,
    sender: SendRequest<RequestBody>,
    driver: Driver,
    /// The driver has finished: the connection is closed.
    closed: bool,
    /// The wait for the origin: for a response header, then for each
    /// piece of its body — one timer for the connection's life.
    pub wait: Rearm,
    /// Its halves' wakers: see [`super::wake`].
    wakers: LinkWakers,
}

impl OriginLink {
    /// Whether this link serves `origin` and can still carry a request.
    fn serves(&self, route: &Route) -> bool {
        !self.closed
            && !self.sender.is_closed()
            && route
                .origins
                .iter()
                .any(|origin| origin.addr == Some(self.addr) && origin.tls == self.tls)
    }

    /// Moves the connection on (reads, writes), registering `cx` for it.
    /// Whatever it hands over (a response, a piece of body) is to be
    /// looked at next: see [`OriginLink::exchange`].
    pub fn drive(&mut self, cx: &mut Context<'_>) {
        if self.closed {
            return;
        }
        let driver = &mut self.driver;
        if self
            .wakers
            .driving(cx, |cx| driver.as_mut().poll(cx).is_ready())
        {
            self.closed = true;
        }
    }

    /// Drives the connection, then polls with `receive` what it hands
    /// over (the response, a piece of its body, its readiness for the
    /// next request); again while taking it woke the driver and it is not
    /// there yet — hyper's body tells the driver to read the next piece
    /// only as the last one is taken — so a whole exchange runs in one
    /// pass of the task. A drive still owed after a piece came is done by
    /// the next call, which every taker makes before it waits.
    pub fn exchange<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut receive: impl FnMut(&mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.exchange_with_sender(cx, |_, cx| receive(cx))
    }

    /// [`OriginLink::exchange`], with the sender at hand.
    fn exchange_with_sender<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut receive: impl FnMut(&mut SendRequest<RequestBody>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        for _ in 0..4 {
            self.drive(cx);
            let sender = &mut self.sender;
            let (polled, owed) = self.wakers.receiving(cx, |cx| receive(sender, cx));
            if polled.is_ready() || !owed {
                return polled;
            }
        }
        // Still owed after a few rounds: the task comes back for it.
        self.wakers.wake_task();
        Poll::Pending
    }

    /// The connection's driver, for a task of its own (an upgrade, which
    /// the driver completes).
    pub fn into_driver(self) -> impl Future<Output = ()> + Send {
        self.driver
    }

    async fn ready(&mut self) -> bool {
        std::future::poll_fn(|cx| self.exchange_with_sender(cx, |sender, cx| sender.poll_ready(cx)))
            .await
            .is_ok()
    }
}

/// Sends `request` to `route`'s origins, on `kept` when it serves the
/// route; returns the response head and the connection, which the caller
/// drives while it reads the body and puts back in `kept` when the body
/// is done. `timeout` bounds the wait for the response header.
pub async fn send(
    kept: &std::sync::Mutex<Option<OriginLink>>,
    route: &Route,
    request: http::Request<RequestBody>,
    timeout: Duration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(http::Response<Incoming>, OriginLink), Failure> {
    let reusable = kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .filter(|link| link.serves(route));
    let mut request = request;
    let mut link = match reusable {
        Some(link) => link,
        None => connect(route, tls).await?,
    };
    let mut fresh_tried = false;
    loop {
        if !link.ready().await {
            // Closed by the origin while idle: one fresh connection.
            if fresh_tried {
                return Err(Failure::OriginBroken);
            }
            fresh_tried = true;
            link = connect(route, tls).await?;
            continue;
        }
        let sender = &mut link.sender;
        let sent = link
            .wakers
            .handing_over(|| sender.try_send_request(request));
        let mut response = std::pin::pin!(sent);
        link.wait.arm(timeout);
        let answer =
            std::future::poll_fn(
                |cx| match link.exchange(cx, |cx| response.as_mut().poll(cx)) {
                    Poll::Ready(answer) => Poll::Ready(Some(answer)),
                    Poll::Pending if link.wait.poll_expired(cx) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                },
            )
            .await;
        link.wait.disarm();
        match answer {
            None => return Err(Failure::OriginSlow),
            Some(Ok(response)) => return Ok((response, link)),
            Some(Err(mut error)) => match error.take_message() {
                // Not sent (the kept connection was closing): once more,
                // on a fresh one.
                Some(unsent) if !fresh_tried => {
                    fresh_tried = true;
                    request = unsent;
                    link = connect(route, tls).await?;
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
async fn connect(route: &Route, tls: &Arc<rustls::ClientConfig>) -> Result<OriginLink, Failure> {
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
        match tokio::time::timeout(TOTAL_CONNECT_TIMEOUT, open(origin, addr, tls)).await {
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

async fn open(
    origin: &Origin,
    addr: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<OriginLink, OpenError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| OpenError::TimedOut)?
        .map_err(|error| OpenError::Failed(error.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let (sender, driver) = if origin.tls {
        let name = rustls_pki_types::ServerName::try_from(origin.sni.clone())
            .map_err(|error| OpenError::Failed(error.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(tls.clone())
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
        driver,
        closed: false,
        wait: Rearm::default(),
        wakers: LinkWakers::default(),
    })
}

/// HTTP/1.1 over `io`, and the driver of its connection (upgrades allowed:
/// a WebSocket takes the connection over).
async fn handshake<T>(io: T) -> Result<(SendRequest<RequestBody>, Driver), OpenError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|error| OpenError::Failed(error.to_string()))?;
    let driver = async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!("origin connection: {error}");
        }
    };
    Ok((sender, Box::pin(driver)))
}
