//! What the gateway decides about a request, whatever HTTP engine carries
//! it (pingora's proxy for TLS, hyper for the cleartext listeners — see
//! ARCHITECTURE.md): plain functions over `http` types and [`Shared`], so
//! both engines make the same decisions and only turn them into bytes
//! their own way.
//!
//! - [`admit`]: framing and size checks, the client's address, allow- and
//!   blocklist, rate limit and bans, the client's and the global in-flight
//!   caps, the route by host, the maintenance page, the verified-path
//!   lookup — an [`Decision`] the engine answers, serves or forwards;
//! - [`Forwarding`]: `X-Real-IP`, `X-Forwarded-For`, `X-Forwarded-Proto`;
//! - [`approved_head`], [`approved_unavailable`], [`visited`]: the answer
//!   from an approved copy, its fail-closed 503, and the background check
//!   of the origin behind it;
//! - [`Failure`]: the status for an origin or client that failed;
//! - [`log_request`]: the access-log and tap line.
//!
//! Not here: reading or writing a connection, timers, origin connections.

use crate::access_log::LogLine;
use crate::blocklist::Verdict;
use crate::client_ip::client_ip;
use crate::events::GatewayEvent;
use crate::integrity::{ApprovedFile, Integrity, content_type};
use crate::limiter::{ClientInFlight, ConnectionSlot, InFlight, RateVerdict};
use crate::proxy::Shared;
use crate::routes::Route;
use crate::switch::SiteState;
use crate::verify::Visit;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The parts of a request header the decisions read.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The request target, parsed.
    pub uri: &'a http::Uri,
    /// HTTP/1.0, 1.1 or 2.
    pub version: http::Version,
    /// The header fields.
    pub headers: &'a HeaderMap,
    /// Length of the request target as received.
    pub target_len: usize,
}

impl<'a> RequestView<'a> {
    /// The host the request is for: the authority of an absolute-form
    /// target, else the `Host` header (borrowed: no allocation in the
    /// common case).
    pub fn host(&self) -> Option<Cow<'a, str>> {
        if let Some(host) = self.uri.host() {
            return Some(match self.uri.port_u16() {
                Some(port) => Cow::Owned(format!("{host}:{port}")),
                None => Cow::Borrowed(host),
            });
        }
        self.headers
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(Cow::Borrowed)
    }

    /// The path and query, as the access log and the origin check want it.
    pub fn target(&self) -> &'a str {
        self.uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
    }

    /// Request framing that a proxy must not pass on (RFC 9112 §6.1,
    /// §6.3): Transfer-Encoding together with Content-Length, or any
    /// Transfer-Encoding other than a lone `chunked` — the classic
    /// smuggling vectors.
    pub fn framing_problem(&self) -> Option<&'static str> {
        let mut te = self.headers.get_all(http::header::TRANSFER_ENCODING).iter();
        let first = te.next()?;
        if self.headers.contains_key(http::header::CONTENT_LENGTH) {
            return Some("both Transfer-Encoding and Content-Length");
        }
        if te.next().is_some() || !first.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Some("unsupported Transfer-Encoding");
        }
        if self.version == http::Version::HTTP_10 {
            return Some("Transfer-Encoding in an HTTP/1.0 request");
        }
        None
    }

    /// The size of the header block, as near as the parsed form tells.
    pub fn header_bytes(&self) -> usize {
        self.headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
            + self.target_len
    }
}

/// An answer the gateway gives itself (refusals, the maintenance page,
/// errors): an HTML body, `no-store`.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers beside `Content-Type`, `Content-Length` and `Cache-Control`.
    pub extra: Vec<(&'static str, String)>,
    /// The body (left out for HEAD).
    pub body: Bytes,
    /// Whether the connection is closed after it.
    pub close: bool,
}

impl Answer {
    fn new(status: u16, body: Bytes) -> Answer {
        Answer {
            status,
            extra: Vec::new(),
            body,
            close: false,
        }
    }

    fn closing(mut self) -> Answer {
        self.close = true;
        self
    }

    fn retry_after(mut self, seconds: String) -> Answer {
        self.extra.push(("Retry-After", seconds));
        self
    }

    /// The header fields of this answer, in order (`Connection: close`
    /// included when it closes).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, Cow<'_, str>)> {
        [
            ("Content-Type", Cow::Borrowed("text/html; charset=utf-8")),
            ("Content-Length", Cow::Owned(self.body.len().to_string())),
            ("Cache-Control", Cow::Borrowed("no-store")),
        ]
        .into_iter()
        .chain(
            self.extra
                .iter()
                .map(|(name, value)| (*name, Cow::Borrowed(value.as_str()))),
        )
        .chain(self.close.then_some(("Connection", Cow::Borrowed("close"))))
    }
}

/// What the engine does with a request.
#[derive(Debug)]
pub enum Decision {
    /// Answer it with this.
    Answer(Answer),
    /// Answer it from the approved copy of `file` ([`approved_head`]).
    Approved {
        /// The approved files.
        integrity: Arc<Integrity>,
        /// The file the path resolves to.
        file: ApprovedFile,
        /// The host asked for (for the origin check).
        host: String,
    },
    /// Forward it to the route's origins.
    Forward,
}

/// What admitting a request holds for its engine until it is done: the
/// client's address, the route and the in-flight slots (released on drop).
#[derive(Debug, Default)]
pub struct Admitted {
    /// When the request was admitted (Unix milliseconds).
    pub started_ms: i64,
    /// The client's address (the peer, or from a trusted proxy's
    /// `X-Forwarded-For`).
    pub client: Option<IpAddr>,
    /// The route, once found.
    pub route: Option<Arc<Route>>,
    /// This request's slot of the global in-flight cap.
    pub in_flight: Option<InFlight>,
    /// This request's slot of its client's in-flight cap.
    pub client_in_flight: Option<ClientInFlight>,
}

impl Admitted {
    /// The client, or the unspecified address before it is known.
    pub fn client_or_unspecified(&self) -> IpAddr {
        self.client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Whether a new connection from `peer` is refused as it is accepted,
/// before a byte is read (or a TLS handshake spent): a blocked address
/// that is not a trusted proxy.
pub fn refused_at_accept(shared: &Shared, peer: IpAddr) -> bool {
    let ip = crate::blocklist::canonical(peer);
    if shared
        .trusted_proxies
        .load()
        .iter()
        .any(|net| net.contains(&ip))
    {
        return false;
    }
    let blocked = matches!(
        shared.blocklist.check(ip, crate::now_ms()),
        Verdict::Blocked(_)
    );
    if blocked {
        shared.stats.blocked.fetch_add(1, Ordering::Relaxed);
    }
    blocked
}

/// A connection dropped as it was accepted (blocked, or over its cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// Admits a new connection from `peer`: its slot of its address's
/// connection cap (`Ok(None)` when it is not capped), or `Err` when it is
/// blocked or over its cap and is to be dropped. A trusted proxy carries
/// many clients: it is neither capped nor refused by its own address (its
/// clients are, per request); an allowlisted address is not capped.
pub fn admit_connection(
    shared: &Shared,
    peer: Option<IpAddr>,
) -> Result<Option<ConnectionSlot>, Refused> {
    let Some(ip) = peer.map(crate::blocklist::canonical) else {
        return Ok(None);
    };
    if shared
        .trusted_proxies
        .load()
        .iter()
        .any(|net| net.contains(&ip))
    {
        return Ok(None);
    }
    match shared.blocklist.check(ip, crate::now_ms()) {
        Verdict::Blocked(_) => {
            // Refused before a byte is read: the cheapest answer.
            shared.stats.blocked.fetch_add(1, Ordering::Relaxed);
            Err(Refused)
        }
        Verdict::Allowed => Ok(None),
        Verdict::Unlisted => shared.limiter.open_connection(ip).map(Some).ok_or(Refused),
    }
}

/// Decides what to do with a request from `peer`; `raw_framing` is what
/// the engine's look at the raw header bytes found wrong (parsers quietly
/// repair some smuggling framings).
pub fn admit(
    shared: &Shared,
    request: &RequestView<'_>,
    peer: IpAddr,
    raw_framing: Option<&'static str>,
    admitted: &mut Admitted,
) -> Decision {
    admitted.started_ms = crate::now_ms();
    shared.stats.requests.add(1);
    let limits = shared.limiter.limits();
    let trusted = shared.trusted_proxies.load();
    // Every X-Forwarded-For line, joined: a trusted proxy may add its
    // own line after one the client sent.
    let mut lines = request.headers.get_all("x-forwarded-for").iter();
    let client = match (lines.next(), lines.next()) {
        (None, _) => client_ip(peer, None, &trusted),
        (Some(only), None) => client_ip(peer, Some(only.as_bytes()), &trusted),
        (Some(_), Some(_)) => {
            let joined = request
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .map(|value| value.as_bytes())
                .collect::<Vec<_>>()
                .join(&b',');
            client_ip(peer, Some(&joined), &trusted)
        }
    };
    admitted.client = Some(client);

    // Framing and size before anything else: a smuggled or oversized
    // request is answered and the connection closed.
    if let Some(problem) = raw_framing.or_else(|| request.framing_problem()) {
        return refuse(shared, 400, problem);
    }
    if limits.max_headers > 0 && request.headers.len() > limits.max_headers {
        return refuse(shared, 431, "too many header fields");
    }
    if limits.max_header_bytes > 0 && request.header_bytes() > limits.max_header_bytes {
        return refuse(shared, 431, "request header too large");
    }

    let allowed = match shared.blocklist.check(client, admitted.started_ms) {
        Verdict::Allowed => true,
        Verdict::Blocked(_) => {
            shared.stats.blocked.fetch_add(1, Ordering::Relaxed);
            let body = Bytes::from_static(b"403 Forbidden\n");
            return Decision::Answer(Answer::new(403, body).closing());
        }
        Verdict::Unlisted => false,
    };
    if !allowed {
        let verdict = shared
            .limiter
            .check_rate(client, Instant::now(), admitted.started_ms);
        if verdict != RateVerdict::Pass {
            return too_many(shared, verdict, "429 Too Many Requests\n");
        }
        // One client's share of the requests in flight, whatever
        // connections and HTTP/2 streams carry them.
        match shared
            .limiter
            .begin_client_request(client, admitted.started_ms)
        {
            Ok(slot) => admitted.client_in_flight = slot,
            Err(verdict) => {
                return too_many(shared, verdict, "429 Too Many Requests (in flight)\n");
            }
        }
    }
    match shared.limiter.begin_request() {
        Some(slot) => admitted.in_flight = Some(slot),
        None => {
            shared.stats.shed.fetch_add(1, Ordering::Relaxed);
            let body = Bytes::from_static(b"503 Service Unavailable (busy)\n");
            return Decision::Answer(Answer::new(503, body).retry_after("5".into()).closing());
        }
    }

    let host = request.host();
    let Some(host) = host else {
        return refuse(shared, 400, "no Host");
    };
    let Some(route) = crate::routes::lookup_on_this_thread(&shared.routes, &host) else {
        let body = Bytes::from_static(b"404 no site is served under this host name\n");
        return Decision::Answer(Answer::new(404, body));
    };
    admitted.route = Some(route.clone());

    if route.switch.mode() == SiteState::Maintenance {
        shared.stats.maintenance.fetch_add(1, Ordering::Relaxed);
        return Decision::Answer(
            Answer::new(503, route.maintenance_page.clone())
                .retry_after(route.retry_after.to_string()),
        );
    }

    let verifiable = *request.method == http::Method::GET || *request.method == http::Method::HEAD;
    if route.guarded
        && verifiable
        && let Some(integrity) = &shared.integrity
        && let Some(file) = integrity.lookup(&route.site, request.uri.path())
    {
        return Decision::Approved {
            integrity: integrity.clone(),
            file,
            host: host.into_owned(),
        };
    }
    Decision::Forward
}

/// A refusal for a malformed request: counted, and the connection closed.
fn refuse(shared: &Shared, status: u16, why: &str) -> Decision {
    shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
    let body = Bytes::from(format!("{status} {why}\n"));
    Decision::Answer(Answer::new(status, body).closing())
}

/// A 429 for a client over its rate or its in-flight share, banning it
/// when the limiter says so.
fn too_many(shared: &Shared, verdict: RateVerdict, body: &'static str) -> Decision {
    shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
    if let RateVerdict::Ban(entry) = verdict {
        shared.blocklist.insert(entry.clone());
        emit(shared, GatewayEvent::Banned(entry));
    }
    Decision::Answer(Answer::new(429, Bytes::from_static(body.as_bytes())).retry_after("1".into()))
}

/// Hands an event to the control plane, counting it when the recorder is
/// behind.
pub fn emit(shared: &Shared, event: GatewayEvent) {
    if shared.events.try_send(event).is_err() {
        shared.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// The forwarding headers of a request to an origin.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// `X-Real-IP`: the client.
    pub real_ip: Option<HeaderValue>,
    /// `X-Forwarded-For`: the chain a trusted proxy sent with its own
    /// address added, else the peer.
    pub forwarded_for: Option<HeaderValue>,
    /// `X-Forwarded-Proto`.
    pub proto: HeaderValue,
}

/// A connection's peer, with its address formatted for the forwarding
/// headers once (a kept-alive connection carries many requests).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The address.
    pub ip: IpAddr,
    /// The address as a header value.
    pub formatted: HeaderValue,
}

impl Peer {
    /// `ip`, formatted.
    pub fn new(ip: IpAddr) -> Peer {
        Peer {
            ip,
            formatted: ip_header_value(ip),
        }
    }
}

impl Forwarding {
    /// The headers for a request with `headers` from `client` over a
    /// connection from `peer`.
    pub fn new(
        headers: &HeaderMap,
        client: Option<IpAddr>,
        peer: Option<&Peer>,
        trusted: &[IpNet],
        tls: bool,
    ) -> Forwarding {
        let formatted = peer.map(|peer| &peer.formatted);
        let peer = peer.map(|peer| peer.ip);
        let client = client.or(peer);
        // Formatted once: without a trusted proxy in front the client is
        // the peer, and both headers carry the same (shared) value.
        let client_value = client.map(|client| match formatted {
            Some(formatted) if Some(client) == peer => formatted.clone(),
            _ => ip_header_value(client),
        });
        let forwarded_for = peer.map(|peer| {
            let chain = match headers.get("x-forwarded-for") {
                Some(existing) if trusted.iter().any(|net| net.contains(&peer)) => {
                    HeaderValue::try_from(format!(
                        "{}, {peer}",
                        String::from_utf8_lossy(existing.as_bytes())
                    ))
                    .ok()
                }
                _ => None,
            };
            match (chain, &client_value) {
                (Some(chain), _) => chain,
                (None, Some(value)) if client == Some(peer) => value.clone(),
                (None, _) => ip_header_value(peer),
            }
        });
        Forwarding {
            real_ip: client_value,
            forwarded_for,
            proto: HeaderValue::from_static(if tls { "https" } else { "http" }),
        }
    }

    /// The headers to set, by name.
    pub fn fields(self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        [
            (HeaderName::from_static("x-real-ip"), self.real_ip),
            (
                HeaderName::from_static("x-forwarded-for"),
                self.forwarded_for,
            ),
            (
                HeaderName::from_static("x-forwarded-proto"),
                Some(self.proto),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }
}

/// An address as a header value.
fn ip_header_value(ip: IpAddr) -> HeaderValue {
    HeaderValue::try_from(ip.to_string()).expect("an IP address is a valid header value")
}

/// The head of an answer from an approved copy.
#[derive(Debug)]
pub struct ApprovedHead {
    /// 200, or 304 when the client holds the current version.
    pub status: u16,
    /// Whether it is the 304 (no body).
    pub not_modified: bool,
    /// Its header fields.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The response head of an approved copy of `len` bytes (counted as
/// verified): 304 when the client's `If-None-Match` holds its ETag, else
/// 200.
pub fn approved_head(
    shared: &Shared,
    request: &HeaderMap,
    file: &ApprovedFile,
    len: u64,
) -> ApprovedHead {
    shared.stats.verified.add(1);
    let etag = format!("\"sw-{}\"", &file.blake3[..16]);
    let not_modified = request
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    let value = |text: String| HeaderValue::try_from(text).expect("a hex digest is a header value");
    let mut headers = vec![(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file.path)),
    )];
    if !not_modified {
        headers.push((http::header::CONTENT_LENGTH, HeaderValue::from(len)));
    }
    headers.push((http::header::ETAG, value(etag)));
    headers.push((
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    ));
    headers.push((
        HeaderName::from_static("x-sitewarden-verified"),
        value(file.blake3[..16].to_string()),
    ));
    ApprovedHead {
        status: if not_modified { 304 } else { 200 },
        not_modified,
        headers,
    }
}

/// The 503 for a verified path whose approved copy cannot be read: fail
/// closed — with no approved copy to serve, the origin's bytes are not
/// served in its place.
pub fn approved_unavailable(route: &Route, file: &ApprovedFile, problem: &str) -> Answer {
    log::error!(
        "site {}: approved copy of {} unavailable: {problem}",
        route.site,
        file.path
    );
    let body = Bytes::from_static(b"503 the approved copy of this page is unavailable\n");
    Answer::new(503, body).retry_after("30".into())
}

/// Has the origin behind a verified path checked in the background, after
/// its approved copy was served (`visit.approved` is empty for a copy
/// streamed from the vault: compared as it streams in, never held whole).
pub fn visited(shared: &Shared, integrity: Arc<Integrity>, visit: Visit) {
    if let Some(checker) = &shared.checker {
        checker.visited(visit, integrity);
    }
}

/// Why proxying a request failed, as far as the answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The origin refused, dropped or garbled the exchange.
    OriginBroken,
    /// The origin did not connect or answer in time.
    OriginSlow,
    /// The client's body stopped or ran past its deadline.
    ClientSlow,
    /// The client went away: nothing to answer.
    ClientGone,
    /// The client sent something unusable.
    ClientBroken,
    /// A status decided on the way.
    Status(u16),
    /// Anything else.
    Internal,
}

impl Failure {
    /// The status to answer with; 0 for none. An origin that is down or
    /// garbled is a 502, one that is too slow a 504 (as nginx says).
    pub fn status(self) -> u16 {
        match self {
            Failure::Status(code) => code,
            Failure::OriginSlow => 504,
            Failure::OriginBroken => 502,
            Failure::ClientSlow => 408,
            Failure::ClientGone => 0,
            Failure::ClientBroken => 400,
            Failure::Internal => 500,
        }
    }

    /// The answer, when there is one to give (the connection is closed
    /// after it).
    pub fn answer(self) -> Option<Answer> {
        let code = self.status();
        let body = match code {
            0 => return None,
            502 => "502 Bad Gateway: the site's web server did not answer properly\n",
            504 => "504 Gateway Timeout: the site's web server did not answer in time\n",
            408 => "408 Request Timeout: the request body was not received in time\n",
            _ => "error\n",
        };
        Some(Answer::new(code, Bytes::from_static(body.as_bytes())).closing())
    }
}

/// What the access log and the tap read of a request.
#[derive(Debug, Clone)]
pub struct Logged<'a> {
    /// The method.
    pub method: &'a str,
    /// The request target as received (path and query).
    pub target: &'a str,
    /// The version.
    pub version: http::Version,
    /// `Host` (or the absolute target's authority).
    pub host: Option<Cow<'a, str>>,
    /// `Referer`, raw.
    pub referer: &'a [u8],
    /// `User-Agent`, raw.
    pub user_agent: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// What the log reads of this request.
    pub fn logged(&self) -> Logged<'a> {
        let header = |name: &str| {
            self.headers
                .get(name)
                .map_or(&[][..], |value| value.as_bytes())
        };
        Logged {
            method: self.method.as_str(),
            target: self.target(),
            version: self.version,
            host: self.host(),
            referer: header("referer"),
            user_agent: header("user-agent"),
        }
    }
}

/// Writes a request's access-log line and sends it to the tap.
pub fn log_request(
    shared: &Shared,
    request: &Logged<'_>,
    admitted: &Admitted,
    status: u16,
    bytes: usize,
) {
    let log = shared.access_log.as_ref();
    let tap = shared.tap.as_ref();
    if log.is_none() && tap.is_none() {
        return;
    }
    let version = match request.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let line = LogLine {
        client: admitted.client_or_unspecified(),
        at_ms: admitted.started_ms,
        method: request.method,
        target: request.target,
        version,
        status,
        bytes,
        referer: request.referer,
        user_agent: request.user_agent,
    };
    if let Some(log) = log {
        log.log(&line);
    }
    if let Some(tap) = tap {
        // Requests refused before routing (rate, load) still count for
        // flood detection: find their site by host.
        match &admitted.route {
            Some(route) => tap.send(&route.site, &line),
            None => {
                let routes = shared.routes.load();
                let route = request
                    .host
                    .as_deref()
                    .and_then(|host| routes.lookup(host).cloned());
                tap.send(
                    route.as_ref().map_or("", |route| route.site.as_str()),
                    &line,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_framing(headers: &[(&str, &str)], version: http::Version, problem: Option<&str>) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let uri = http::Uri::from_static("/");
        let view = RequestView {
            method: &http::Method::POST,
            uri: &uri,
            version,
            headers: &map,
            target_len: 1,
        };
        let found = view.framing_problem();
        match problem {
            None => assert_eq!(found, None, "{headers:?}"),
            Some(words) => assert!(
                found.is_some_and(|found| found.contains(words)),
                "{headers:?}: {found:?}"
            ),
        }
    }

    #[test]
    fn smuggling_framings_are_named() {
        let v11 = http::Version::HTTP_11;
        check_framing(&[("Content-Length", "5")], v11, None);
        check_framing(&[("Transfer-Encoding", "chunked")], v11, None);
        check_framing(
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
            v11,
            Some("both"),
        );
        for odd in ["chunked, identity", "xchunked", "identity"] {
            check_framing(&[("Transfer-Encoding", odd)], v11, Some("unsupported"));
        }
        check_framing(
            &[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "chunked"),
            ],
            v11,
            Some("unsupported"),
        );
        check_framing(
            &[("Transfer-Encoding", "chunked")],
            http::Version::HTTP_10,
            Some("HTTP/1.0"),
        );
    }

    #[test]
    fn failures_map_to_nginx_statuses() {
        assert_eq!(Failure::OriginBroken.status(), 502);
        assert_eq!(Failure::OriginSlow.status(), 504);
        assert_eq!(Failure::ClientSlow.status(), 408);
        assert!(Failure::ClientGone.answer().is_none());
        assert!(Failure::OriginSlow.answer().unwrap().close);
    }

    #[test]
    fn forwarding_headers_follow_the_trust_rules() {
        let peer: IpAddr = "127.0.0.9".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        let fields = |trusted: &[IpNet], client| {
            Forwarding::new(
                &headers,
                Some(client),
                Some(&Peer::new(peer)),
                trusted,
                false,
            )
            .fields()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect::<Vec<_>>()
        };
        // An untrusted peer's chain is replaced by the peer.
        assert_eq!(
            fields(&[], peer),
            [
                ("x-real-ip".into(), "127.0.0.9".into()),
                ("x-forwarded-for".into(), "127.0.0.9".into()),
                ("x-forwarded-proto".into(), "http".into()),
            ]
        );
        // A trusted one's chain is kept, with the peer added.
        let trusted = ["127.0.0.0/8".parse().unwrap()];
        assert_eq!(
            fields(&trusted, client)[..2],
            [
                ("x-real-ip".into(), "203.0.113.7".into()),
                ("x-forwarded-for".into(), "203.0.113.7, 127.0.0.9".into()),
            ]
        );
    }
}
