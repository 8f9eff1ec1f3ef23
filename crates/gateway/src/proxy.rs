//! The request path through the gateway, as pingora filter phases (the
//! decisions themselves are `decide.rs`'s, shared with the hyper engine):
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

use crate::access_log::AccessLog;
use crate::blocklist::Blocklist;
use crate::conn::GuardedStream;
use crate::decide::{
    Admitted, Answer, Decision, Failure, Forwarding, Peer, RequestView, admit, approved_head,
    approved_unavailable, log_request, visited,
};
use crate::events::GatewayEvent;
use crate::integrity::Integrity;
use crate::limiter::Limiter;
use crate::routes::RouteTable;
use crate::switch::Switchboard;
use crate::verify::{OriginChecker, Visit};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use ipnet::IpNet;
use pingora::prelude::*;
use pingora_error::ErrorSource;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::FailToProxy;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
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
    /// What `https` origins are verified against.
    pub origin_trust: crate::origin_tls::OriginTrust,
}

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests seen (counted per thread: every request adds to it).
    pub requests: crate::striped::Counter,
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
    pub verified: crate::striped::Counter,
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
    /// The client, route and in-flight slots of an admitted request.
    admitted: Admitted,
    attempt: usize,
    first_origin: Option<usize>,
    /// When the whole request body must be in (once a connection is
    /// upgraded, what follows is the tunnel, not a body).
    body_deadline: Option<Instant>,
}

impl Gateway {
    /// Writes one of the gateway's own answers.
    async fn respond(&self, session: &mut Session, answer: Answer) -> Result<bool> {
        let mut header = ResponseHeader::build(answer.status, Some(4 + answer.extra.len()))?;
        for (name, value) in answer.headers() {
            header.insert_header(name, value.as_ref())?;
        }
        if answer.close {
            session.set_keepalive(None);
        }
        let head = session.req_header().method == http::Method::HEAD;
        let bodyless = head || answer.body.is_empty();
        session
            .write_response_header(Box::new(header), bodyless)
            .await?;
        if !bodyless {
            session.write_response_body(Some(answer.body), true).await?;
        }
        Ok(true)
    }

    /// The response header of an approved copy of `len` bytes, and whether
    /// it is the 304.
    fn approved_header(
        &self,
        session: &Session,
        file: &crate::integrity::ApprovedFile,
        len: u64,
    ) -> Result<(ResponseHeader, bool)> {
        let approved = approved_head(&self.shared, &session.req_header().headers, file, len);
        let mut header = ResponseHeader::build(approved.status, Some(approved.headers.len()))?;
        for (name, value) in approved.headers {
            header.insert_header(name, value)?;
        }
        Ok((header, approved.not_modified))
    }

    /// Answers a verified path from the approved copy (never the origin's
    /// bytes), and has the origin checked in the background.
    async fn serve_approved(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        integrity: Arc<Integrity>,
        file: crate::integrity::ApprovedFile,
        host: &str,
    ) -> Result<bool> {
        let route = ctx
            .admitted
            .route
            .clone()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no route"))?;
        if integrity.streamed(&file) {
            return self
                .serve_approved_streamed(session, ctx, &route, integrity, file, host)
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
                let answer = approved_unavailable(&route, &file, &problem);
                return self.respond(session, answer).await;
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
        let target = view(session.req_header()).target();
        let client = ctx.admitted.client_or_unspecified();
        let visit = Visit {
            route,
            file,
            approved,
            host: host.to_string(),
            target: target.to_string(),
            client,
        };
        visited(&self.shared, integrity, visit);
        Ok(true)
    }
}

/// The parts of pingora's request header the decisions read.
fn view(header: &RequestHeader) -> RequestView<'_> {
    RequestView {
        method: &header.method,
        uri: &header.uri,
        version: header.version,
        headers: &header.headers,
        // The request target as received (not `uri.to_string()`: no
        // allocation on every request).
        target_len: header.raw_path().len(),
    }
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
        // pingora tidies some smuggling framings away; the raw header
        // still shows them.
        let raw_framing = session
            .stream()
            .and_then(|stream| stream.as_any().downcast_ref::<GuardedStream>())
            .and_then(GuardedStream::framing_problem);
        let decision = admit(
            shared,
            &view(session.req_header()),
            peer,
            raw_framing,
            &mut ctx.admitted,
        );
        match decision {
            Decision::Answer(answer) => self.respond(session, answer).await,
            Decision::Approved {
                integrity,
                file,
                host,
            } => {
                self.serve_approved(session, ctx, integrity, file, &host)
                    .await
            }
            Decision::Forward => Ok(false),
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let route = ctx
            .admitted
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
        if origin.tls
            && let Some(cas) = &self.shared.origin_trust.pingora
        {
            peer.options.ca = Some(cas.clone());
        }
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
        if let Some(route) = &ctx.admitted.route
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
        let tls = session
            .digest()
            .and_then(|digest| digest.ssl_digest.as_ref())
            .is_some();
        let forwarding = Forwarding::new(
            &upstream.headers,
            ctx.admitted.client,
            peer.map(Peer::new).as_ref(),
            &self.shared.trusted_proxies.load(),
            tls,
        );
        for (name, value) in forwarding.fields() {
            upstream.insert_header(name, value)?;
        }
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
        if let Some(route) = &ctx.admitted.route
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
        let failure = match (e.esource(), e.etype()) {
            (_, ErrorType::HTTPStatus(code)) => Failure::Status(*code),
            (
                ErrorSource::Upstream,
                ErrorType::ReadTimedout | ErrorType::ConnectTimedout | ErrorType::WriteTimedout,
            ) => Failure::OriginSlow,
            (ErrorSource::Upstream, _) => Failure::OriginBroken,
            // A body that stopped (or ran out of its deadline) mid-way.
            (ErrorSource::Downstream, ErrorType::ReadTimedout) => Failure::ClientSlow,
            (
                ErrorSource::Downstream,
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed,
            ) => Failure::ClientGone,
            (ErrorSource::Downstream, _) => Failure::ClientBroken,
            _ => Failure::Internal,
        };
        // Once a response went out — or a 101, after which the connection
        // is a tunnel — an error answer would land inside it.
        let answered = session
            .response_written()
            .is_some_and(|response| !response.status.is_informational() || response.status == 101);
        if !answered && let Some(answer) = failure.answer() {
            let _ = self.respond(session, answer).await;
        }
        FailToProxy {
            error_code: failure.status(),
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        ctx.admitted.in_flight = None;
        let status = session
            .response_written()
            .map(|response| response.status.as_u16())
            .unwrap_or(0);
        log_request(
            &self.shared,
            &view(session.req_header()).logged(),
            &ctx.admitted,
            status,
            session.body_bytes_sent(),
        );
    }
}
