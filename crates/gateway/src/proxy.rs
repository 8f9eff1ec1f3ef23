//! The request path through the gateway, as pingora filter phases:
//!
//! 1. `request_filter`: framing checks (request smuggling, header limits),
//!    the client's address, allowlist/blocklist, rate limit and bans, the
//!    client's and the global in-flight caps, the route by Host, the
//!    containment switch (maintenance page from memory), and for an approved
//!    static file of a guarded site the answer itself, from the approved
//!    copy (the origin is checked in the background, `verify.rs`);
//!    `early_request_filter` before it starts the whole-body deadline, which
//!    `proxy_upstream_filter` and `request_body_filter` enforce;
//! 2. `upstream_peer` / `fail_to_connect`: the site's origins in turn;
//! 3. `upstream_request_filter`: forwarding headers;
//! 4. `response_filter`: an upgraded (WebSocket) connection is tied to its
//!    site's switch, and closed when the site is cut off;
//! 5. `fail_to_proxy`: 502 for an origin that is down or garbled, 504 for
//!    one too slow, 408 for a client too slow with its body;
//! 6. `logging`: the access log line.

use crate::access_log::{AccessLog, LogLine};
use crate::blocklist::{Blocklist, Verdict};
use crate::client_ip::client_ip;
use crate::conn::GuardedStream;
use crate::events::GatewayEvent;
use crate::integrity::{Integrity, content_type};
use crate::limiter::{ClientInFlight, InFlight, Limiter, RateVerdict};
use crate::now_ms;
use crate::routes::{Route, RouteTable};
use crate::switch::{SiteState, Switchboard};
use crate::verify::{OriginChecker, Visit};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use ipnet::IpNet;
use pingora::prelude::*;
use pingora_error::ErrorSource;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::FailToProxy;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod streamed;

/// Everything the proxy shares across requests and with the control side.
#[derive(Debug)]
pub struct Shared {
    /// Host → route; swapped whole on reload.
    pub routes: ArcSwap<RouteTable>,
    /// Containment switches.
    pub switches: Switchboard,
    /// Blocked and allowed addresses.
    pub blocklist: Blocklist,
    /// Rate, connection and in-flight limits.
    pub limiter: Arc<Limiter>,
    /// Approved files of guarded sites.
    pub integrity: Option<Arc<Integrity>>,
    /// Background checks of the origins behind verified paths.
    pub checker: Option<Arc<OriginChecker>>,
    /// Where request lines go.
    pub access_log: Option<AccessLog>,
    /// Where requests go for live log watching.
    pub tap: Option<Arc<crate::tap::RequestTap>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: ArcSwap<Vec<IpNet>>,
    /// Things to record in the store.
    pub events: tokio::sync::mpsc::Sender<GatewayEvent>,
    /// Counters for status and tests.
    pub stats: Stats,
    /// How long to wait for an origin's answer.
    pub origin_timeout: Duration,
}

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests seen.
    pub requests: AtomicU64,
    /// Answered with the maintenance page.
    pub maintenance: AtomicU64,
    /// Refused by the blocklist.
    pub blocked: AtomicU64,
    /// Refused for rate, or for too many requests in flight from one
    /// client (429).
    pub rate_limited: AtomicU64,
    /// Shed by the in-flight cap.
    pub shed: AtomicU64,
    /// Rejected as malformed or smuggling.
    pub rejected: AtomicU64,
    /// Verified paths answered from the approved copy.
    pub verified: AtomicU64,
    /// Events dropped because the recorder was behind.
    pub events_dropped: AtomicU64,
}

/// The pingora proxy implementation.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// Shared state.
    pub shared: Arc<Shared>,
}

/// Per-request state.
#[derive(Debug, Default)]
pub struct Ctx {
    started: Option<Instant>,
    started_ms: i64,
    client: Option<IpAddr>,
    route: Option<Arc<Route>>,
    in_flight: Option<InFlight>,
    attempt: usize,
    first_origin: Option<usize>,
    /// This request's slot of its client's in-flight cap.
    client_in_flight: Option<ClientInFlight>,
    /// When the whole request body must be in (once a connection is
    /// upgraded, what follows is the tunnel, not a body).
    body_deadline: Option<Instant>,
}

impl Gateway {
    async fn respond(
        &self,
        session: &mut Session,
        status: u16,
        extra: &[(&str, String)],
        body: Bytes,
        close: bool,
    ) -> Result<bool> {
        let mut header = ResponseHeader::build(status, Some(4 + extra.len()))?;
        header.insert_header("Content-Type", "text/html; charset=utf-8")?;
        header.insert_header("Content-Length", body.len().to_string())?;
        header.insert_header("Cache-Control", "no-store")?;
        for (name, value) in extra {
            header.insert_header(name.to_string(), value.as_str())?;
        }
        if close {
            session.set_keepalive(None);
            header.insert_header("Connection", "close")?;
        }
        let head = session.req_header().method == http::Method::HEAD;
        session
            .write_response_header(Box::new(header), head || body.is_empty())
            .await?;
        if !head && !body.is_empty() {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(true)
    }

    /// The 503 for a verified path whose approved copy cannot be read:
    /// fail closed — with no approved copy to serve, the origin's bytes are
    /// not served in its place.
    async fn approved_unavailable(
        &self,
        session: &mut Session,
        route: &Route,
        file: &crate::integrity::ApprovedFile,
        problem: &str,
    ) -> Result<bool> {
        log::error!(
            "site {}: approved copy of {} unavailable: {problem}",
            route.site,
            file.path
        );
        let body = Bytes::from_static(b"503 the approved copy of this page is unavailable\n");
        self.respond(session, 503, &[("Retry-After", "30".into())], body, false)
            .await
    }

    /// The response header of an approved copy of `len` bytes (counted as
    /// verified): 304 when the client's `If-None-Match` holds its ETag,
    /// else 200. Returns it and whether it is the 304.
    fn approved_header(
        &self,
        session: &Session,
        file: &crate::integrity::ApprovedFile,
        len: u64,
    ) -> Result<(ResponseHeader, bool)> {
        self.shared.stats.verified.fetch_add(1, Ordering::Relaxed);
        let etag = format!("\"sw-{}\"", &file.blake3[..16]);
        let not_modified = session
            .req_header()
            .headers
            .get_all(http::header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim() == etag || tag.trim() == "*");
        let status = if not_modified { 304 } else { 200 };
        let mut header = ResponseHeader::build(status, Some(6))?;
        header.insert_header("Content-Type", content_type(&file.path))?;
        if !not_modified {
            header.insert_header("Content-Length", len.to_string())?;
        }
        header.insert_header("ETag", etag)?;
        header.insert_header("Cache-Control", "no-cache")?;
        header.insert_header("X-Sitewarden-Verified", file.blake3[..16].to_string())?;
        Ok((header, not_modified))
    }

    /// Answers a verified path from the approved copy (never the origin's
    /// bytes), and has the origin checked in the background.
    async fn serve_approved(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        route: &Arc<Route>,
        integrity: Arc<Integrity>,
        file: crate::integrity::ApprovedFile,
        host: &str,
    ) -> Result<bool> {
        if integrity.streamed(&file) {
            return self
                .serve_approved_streamed(session, ctx, route, integrity, file, host)
                .await;
        }
        // From memory in the common case; the vault is read on the blocking
        // pool only on a miss (a thread hop per request cost a third of the
        // gateway's CPU in the benchmark).
        let loaded = match integrity.cached(&file) {
            Some(bytes) => Ok(Ok(bytes)),
            None => {
                let integrity = integrity.clone();
                let file = file.clone();
                tokio::task::spawn_blocking(move || integrity.body(&file)).await
            }
        };
        let approved = match loaded
            .map_err(|error| error.to_string())
            .and_then(|body| body)
        {
            Ok(approved) => approved,
            Err(problem) => {
                return self
                    .approved_unavailable(session, route, &file, &problem)
                    .await;
            }
        };
        let (header, not_modified) = self.approved_header(session, &file, approved.len() as u64)?;
        let head = session.req_header().method == http::Method::HEAD;
        let bodyless = head || not_modified || approved.is_empty();
        session
            .write_response_header(Box::new(header), bodyless)
            .await?;
        if !bodyless {
            session
                .write_response_body(Some(approved.clone()), true)
                .await?;
        }
        if let Some(checker) = &self.shared.checker {
            let target = session
                .req_header()
                .uri
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            checker.visited(
                Visit {
                    route: route.clone(),
                    file,
                    approved,
                    host: host.to_string(),
                    target,
                    client: ctx
                        .client
                        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                },
                integrity,
            );
        }
        Ok(true)
    }

    async fn refuse(&self, session: &mut Session, status: u16, why: &str) -> Result<bool> {
        self.shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
        let body = Bytes::from(format!("{status} {why}\n"));
        self.respond(session, status, &[], body, true).await
    }

    fn emit(&self, event: GatewayEvent) {
        if self.shared.events.try_send(event).is_err() {
            self.shared
                .stats
                .events_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Request framing that a proxy must not pass on (RFC 9112 §6.1, §6.3):
/// Transfer-Encoding together with Content-Length, or any Transfer-Encoding
/// other than a lone `chunked` — the classic smuggling vectors.
fn framing_problem(header: &RequestHeader) -> Option<&'static str> {
    let te: Vec<_> = header
        .headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .collect();
    let has_cl = header.headers.contains_key(http::header::CONTENT_LENGTH);
    if te.is_empty() {
        return None;
    }
    if has_cl {
        return Some("both Transfer-Encoding and Content-Length");
    }
    if te.len() != 1 || !te[0].as_bytes().eq_ignore_ascii_case(b"chunked") {
        return Some("unsupported Transfer-Encoding");
    }
    if header.version == http::Version::HTTP_10 {
        return Some("Transfer-Encoding in an HTTP/1.0 request");
    }
    None
}

fn header_bytes(header: &RequestHeader) -> usize {
    // The request target as received (not `uri.to_string()`: no
    // allocation on every request).
    header
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + header.raw_path().len()
}

/// The host the request is for: the authority of an absolute-form target,
/// else the `Host` header (borrowed: no allocation in the common case).
fn request_host(header: &RequestHeader) -> Option<Cow<'_, str>> {
    if let Some(host) = header.uri.host() {
        return Some(match header.uri.port_u16() {
            Some(port) => Cow::Owned(format!("{host}:{port}")),
            None => Cow::Borrowed(host),
        });
    }
    header
        .headers
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(Cow::Borrowed)
}

/// An address as a header value.
fn ip_header_value(ip: IpAddr) -> http::HeaderValue {
    http::HeaderValue::try_from(ip.to_string()).expect("an IP address is a valid header value")
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::default()
    }

    async fn early_request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<()> {
        // The whole body has a deadline, not only each read: a client that
        // sends a byte every few seconds never trips the per-read timeout.
        // It holds for a body pingora discards to keep the connection
        // (after an answer from `request_filter`) as well.
        let deadline = self.shared.limiter.limits().body_deadline;
        ctx.body_deadline = Some(Instant::now() + deadline);
        session.set_total_drain_timeout(Some(deadline));
        Ok(())
    }

    async fn proxy_upstream_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        // No read of the body may wait past its deadline.
        if let Some(deadline) = ctx.body_deadline {
            let per_read = self.shared.limiter.limits().body_timeout;
            let left = deadline.saturating_duration_since(Instant::now());
            session.set_read_timeout(Some(per_read.min(left).max(Duration::from_millis(1))));
        }
        Ok(true)
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let Some(deadline) = ctx.body_deadline else {
            return Ok(());
        };
        if session.was_upgraded() {
            // The bytes of a tunnel (WebSocket), not a body: not timed here.
            // Exempting upgrade *requests* instead would let any request
            // with an `Upgrade` header drip its body.
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            // Answered 408 by `fail_to_proxy`, and the connection closed.
            return Error::e_explain(
                ErrorType::HTTPStatus(408),
                "request body not received in time (slow client)",
            );
        }
        let per_read = self.shared.limiter.limits().body_timeout;
        session.set_read_timeout(Some(per_read.min(deadline - now)));
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let shared = &self.shared;
        ctx.started = Some(Instant::now());
        ctx.started_ms = now_ms();
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let limits = shared.limiter.limits().clone();
        // Timeouts first, so that every answer below — maintenance page,
        // refusal, 404 — leaves the connection with them: pingora keeps an
        // HTTP/1.1 connection alive for ever by default (`Some(0)`); None
        // (the client asked to close) stays None. A client that does not
        // read its response is cut off too.
        session.set_read_timeout(Some(limits.body_timeout));
        session.set_write_timeout(Some(limits.body_timeout));
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(limits.keepalive_timeout.as_secs().max(1)));
        }

        let peer = session
            .client_addr()
            .and_then(|addr| addr.as_inet())
            .map(|addr| addr.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let trusted = shared.trusted_proxies.load();
        // Every X-Forwarded-For line, joined: a trusted proxy may add its
        // own line after one the client sent.
        let forwarded: Vec<u8> = session
            .req_header()
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|value| value.as_bytes())
            .collect::<Vec<_>>()
            .join(&b',');
        let client = client_ip(
            peer,
            (!forwarded.is_empty()).then_some(forwarded.as_slice()),
            &trusted,
        );
        ctx.client = Some(client);

        // Framing and size before anything else: a smuggled or oversized
        // request is answered and the connection closed.
        let raw_problem = session
            .stream()
            .and_then(|stream| stream.as_any().downcast_ref::<GuardedStream>())
            .and_then(GuardedStream::framing_problem);
        if let Some(problem) = raw_problem.or_else(|| framing_problem(session.req_header())) {
            return self.refuse(session, 400, problem).await;
        }
        if limits.max_headers > 0 && session.req_header().headers.len() > limits.max_headers {
            return self.refuse(session, 431, "too many header fields").await;
        }
        if limits.max_header_bytes > 0
            && header_bytes(session.req_header()) > limits.max_header_bytes
        {
            return self.refuse(session, 431, "request header too large").await;
        }

        let allowed = match shared.blocklist.check(client, ctx.started_ms) {
            Verdict::Allowed => true,
            Verdict::Blocked(_) => {
                shared.stats.blocked.fetch_add(1, Ordering::Relaxed);
                let body = Bytes::from_static(b"403 Forbidden\n");
                return self.respond(session, 403, &[], body, true).await;
            }
            Verdict::Unlisted => false,
        };
        if !allowed {
            match shared
                .limiter
                .check_rate(client, Instant::now(), ctx.started_ms)
            {
                RateVerdict::Pass => {}
                verdict => {
                    shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if let RateVerdict::Ban(entry) = verdict {
                        shared.blocklist.insert(entry.clone());
                        self.emit(GatewayEvent::Banned(entry));
                    }
                    let body = Bytes::from_static(b"429 Too Many Requests\n");
                    return self
                        .respond(session, 429, &[("Retry-After", "1".into())], body, false)
                        .await;
                }
            }
        }
        if !allowed {
            // One client's share of the requests in flight, whatever
            // connections and HTTP/2 streams carry them.
            match shared.limiter.begin_client_request(client, ctx.started_ms) {
                Ok(slot) => ctx.client_in_flight = slot,
                Err(verdict) => {
                    shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if let RateVerdict::Ban(entry) = verdict {
                        shared.blocklist.insert(entry.clone());
                        self.emit(GatewayEvent::Banned(entry));
                    }
                    let body = Bytes::from_static(b"429 Too Many Requests (in flight)\n");
                    return self
                        .respond(session, 429, &[("Retry-After", "1".into())], body, false)
                        .await;
                }
            }
        }
        match shared.limiter.begin_request() {
            Some(slot) => ctx.in_flight = Some(slot),
            None => {
                shared.stats.shed.fetch_add(1, Ordering::Relaxed);
                let body = Bytes::from_static(b"503 Service Unavailable (busy)\n");
                return self
                    .respond(session, 503, &[("Retry-After", "5".into())], body, true)
                    .await;
            }
        }

        let routes = shared.routes.load();
        let route = request_host(session.req_header()).map(|host| routes.lookup(&host).cloned());
        let Some(route) = route else {
            return self.refuse(session, 400, "no Host").await;
        };
        let Some(route) = route else {
            let body = Bytes::from_static(b"404 no site is served under this host name\n");
            return self.respond(session, 404, &[], body, false).await;
        };
        ctx.route = Some(route.clone());

        if route.switch.mode() == SiteState::Maintenance {
            shared.stats.maintenance.fetch_add(1, Ordering::Relaxed);
            let retry = route.retry_after.to_string();
            return self
                .respond(
                    session,
                    503,
                    &[("Retry-After", retry)],
                    route.maintenance_page.clone(),
                    false,
                )
                .await;
        }

        let method = &session.req_header().method;
        let verifiable = *method == http::Method::GET || *method == http::Method::HEAD;
        if route.guarded
            && verifiable
            && let Some(integrity) = &shared.integrity
            && let Some(file) = integrity.lookup(&route.site, session.req_header().uri.path())
        {
            let host = request_host(session.req_header())
                .map(Cow::into_owned)
                .unwrap_or_default();
            return self
                .serve_approved(session, ctx, &route, integrity.clone(), file, &host)
                .await;
        }
        Ok(false)
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let route = ctx
            .route
            .clone()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no route"))?;
        let Some(origin) = route.origin(ctx.attempt, &mut ctx.first_origin) else {
            return Error::e_explain(
                ErrorType::ConnectNoRoute,
                format!("site {}: every origin failed", route.site),
            );
        };
        let addr = origin.addr.ok_or_else(|| {
            Error::explain(
                ErrorType::ConnectNoRoute,
                format!("origin {} did not resolve", origin.authority),
            )
        })?;
        let mut peer = HttpPeer::new(addr, origin.tls, origin.sni.clone());
        peer.options.connection_timeout = Some(Duration::from_secs(3));
        peer.options.total_connection_timeout = Some(Duration::from_secs(5));
        peer.options.read_timeout = Some(self.shared.origin_timeout);
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut Ctx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        ctx.attempt += 1;
        if let Some(route) = &ctx.route
            && ctx.attempt < route.origins.len()
        {
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let peer = session
            .client_addr()
            .and_then(|addr| addr.as_inet())
            .map(|addr| crate::blocklist::canonical(addr.ip()));
        let client = ctx.client.or(peer);
        // Formatted once: without a trusted proxy in front the client is the
        // peer, and both headers carry the same (shared) value.
        let client_value = client.map(ip_header_value);
        if let Some(value) = &client_value {
            upstream.insert_header("X-Real-IP", value.clone())?;
        }
        if let Some(peer) = peer {
            let trusted = self.shared.trusted_proxies.load();
            let chain = match upstream.headers.get("x-forwarded-for") {
                Some(existing) if trusted.iter().any(|net| net.contains(&peer)) => Some(format!(
                    "{}, {peer}",
                    String::from_utf8_lossy(existing.as_bytes())
                )),
                _ => None,
            };
            match (chain, &client_value) {
                (Some(chain), _) => upstream.insert_header("X-Forwarded-For", chain)?,
                (None, Some(value)) if client == Some(peer) => {
                    upstream.insert_header("X-Forwarded-For", value.clone())?
                }
                (None, _) => upstream.insert_header("X-Forwarded-For", ip_header_value(peer))?,
            }
        }
        let tls = session
            .digest()
            .and_then(|digest| digest.ssl_digest.as_ref())
            .is_some();
        upstream.insert_header("X-Forwarded-Proto", if tls { "https" } else { "http" })?;
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if upstream_response.status != http::StatusCode::SWITCHING_PROTOCOLS {
            return Ok(());
        }
        // What follows is a tunnel, not a body: no body deadline, and each
        // read waits the per-read timeout again.
        ctx.body_deadline = None;
        session.set_read_timeout(Some(self.shared.limiter.limits().body_timeout));
        // An upgraded connection (WebSocket) carries no further requests, so
        // the switch check above never sees it again: tie it to its site's
        // switch, to be closed the moment the site is cut off.
        if let Some(route) = &ctx.route
            && let Some(stream) = session
                .stream()
                .and_then(|stream| stream.as_any().downcast_ref::<GuardedStream>())
        {
            stream.close_when_cut_off(route.switch.clone());
        }
        Ok(())
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, _ctx: &mut Ctx) -> FailToProxy {
        // An origin that is down or garbled is a 502, one that is too slow
        // a 504 (as nginx says); a client that went away gets nothing.
        let code = match (e.esource(), e.etype()) {
            (_, ErrorType::HTTPStatus(code)) => *code,
            (
                ErrorSource::Upstream,
                ErrorType::ReadTimedout | ErrorType::ConnectTimedout | ErrorType::WriteTimedout,
            ) => 504,
            (ErrorSource::Upstream, _) => 502,
            // A body that stopped (or ran out of its deadline) mid-way.
            (ErrorSource::Downstream, ErrorType::ReadTimedout) => 408,
            (
                ErrorSource::Downstream,
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed,
            ) => 0,
            (ErrorSource::Downstream, _) => 400,
            _ => 500,
        };
        // Once a response went out — or a 101, after which the connection
        // is a tunnel — an error answer would land inside it.
        let answered = session
            .response_written()
            .is_some_and(|response| !response.status.is_informational() || response.status == 101);
        if code > 0 && !answered {
            let body = Bytes::from(match code {
                502 => "502 Bad Gateway: the site's web server did not answer properly\n",
                504 => "504 Gateway Timeout: the site's web server did not answer in time\n",
                408 => "408 Request Timeout: the request body was not received in time\n",
                _ => "error\n",
            });
            let _ = self.respond(session, code, &[], body, true).await;
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        ctx.in_flight = None;
        let log = self.shared.access_log.as_ref();
        let tap = self.shared.tap.as_ref();
        if log.is_none() && tap.is_none() {
            return;
        }
        let header = session.req_header();
        let target = header
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let version = match header.version {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let status = session
            .response_written()
            .map(|response| response.status.as_u16())
            .unwrap_or(0);
        let line = LogLine {
            client: ctx
                .client
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            at_ms: ctx.started_ms,
            method: header.method.as_str(),
            target,
            version,
            status,
            bytes: session.body_bytes_sent(),
            referer: session.get_header_bytes("referer"),
            user_agent: session.get_header_bytes("user-agent"),
        };
        if let Some(log) = log {
            log.log(&line);
        }
        if let Some(tap) = tap {
            // Requests refused before routing (rate, load) still count
            // for flood detection: find their site by host.
            match &ctx.route {
                Some(route) => tap.send(&route.site, &line),
                None => {
                    let routes = self.shared.routes.load();
                    let route = request_host(header).and_then(|host| routes.lookup(&host));
                    tap.send(route.map_or("", |route| route.site.as_str()), &line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut header = RequestHeader::build("POST", b"/", None).unwrap();
        for (name, value) in headers {
            header.append_header(name.to_string(), *value).unwrap();
        }
        header
    }

    #[test]
    fn smuggling_framings_are_named() {
        assert_eq!(framing_problem(&request(&[("Content-Length", "5")])), None);
        assert_eq!(
            framing_problem(&request(&[("Transfer-Encoding", "chunked")])),
            None
        );
        assert!(
            framing_problem(&request(&[
                ("Content-Length", "5"),
                ("Transfer-Encoding", "chunked")
            ]))
            .unwrap()
            .contains("both")
        );
        for odd in ["chunked, identity", "xchunked", "identity"] {
            assert!(framing_problem(&request(&[("Transfer-Encoding", odd)])).is_some());
        }
        assert!(
            framing_problem(&request(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "chunked")
            ]))
            .is_some()
        );
    }
}
