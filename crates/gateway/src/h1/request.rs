//! One request on a cleartext HTTP/1 connection of the hyper engine: the
//! decisions of `decide.rs` turned into a response — the gateway's own
//! answer, the approved copy of a verified path (from memory, or streamed
//! from the vault), or the origin's response, with the client's body
//! passed on under its deadlines and upgrades tunnelled.

use super::body::{Finish, RequestBody, ResponseBody, Source};
use super::origin::{self, OriginLink};
use super::tunnel;
use crate::conn::HeaderNotes;
use crate::decide::{
    Admitted, Answer, Decision, Failure, Forwarding, Peer, RequestView, admit, approved_head,
    approved_unavailable, visited,
};
use crate::integrity::{ApprovedFile, Integrity};
use crate::proxy::Shared;
use crate::verify::Visit;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// What the requests of one client connection share.
pub struct ClientConnection {
    /// The gateway's shared state.
    pub shared: Arc<Shared>,
    /// The peer's address (canonical), formatted once for the forwarding
    /// headers.
    pub peer: Peer,
    /// What the raw request headers showed.
    pub notes: Arc<HeaderNotes>,
    /// The origin connection kept for this client connection.
    pub origin: Arc<Mutex<Option<OriginLink>>>,
    /// The thread's tasks (a tunnel outlives its request).
    pub tasks: tokio_util::task::TaskTracker,
    /// Raised when the gateway stops (a tunnel ends with it).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// A response to the client.
pub type Reply = http::Response<ResponseBody>;

/// Answers one request.
pub async fn handle(
    connection: Arc<ClientConnection>,
    request: http::Request<Incoming>,
) -> Result<Reply, Infallible> {
    let shared = &connection.shared;
    // Read once and not held: a guard of the limits kept across the
    // origin's answer would pin one of arc-swap's few fast slots.
    let (body_timeout, body_deadline) = {
        let limits = shared.limiter.limits();
        // The whole body has a deadline, not only each read: a client
        // that sends a byte every few seconds never trips the per-read
        // timeout.
        (limits.body_timeout, limits.body_deadline)
    };
    let (parts, body) = request.into_parts();
    let mut admitted = Admitted::default();
    let decision = admit(
        shared,
        &view(&parts),
        connection.peer.ip,
        connection.notes.framing(),
        &mut admitted,
    );
    let finish = Finish::new(connection.clone(), admitted, &parts, 0);
    Ok(match decision {
        Decision::Answer(answer) => answered(answer, &parts, finish),
        Decision::Approved {
            integrity,
            file,
            host,
        } => approved(shared, &parts, finish, integrity, file, host).await,
        Decision::Forward => {
            let (body, fault) = RequestBody::new(body, body_timeout, body_deadline);
            let forwarded = forward(&connection, parts, body, finish).await;
            match forwarded {
                Ok(reply) => reply,
                Err((failure, parts, finish)) => {
                    // The client's own body is to blame before the origin.
                    let failure = if fault.as_ref().is_some_and(|fault| fault.slow()) {
                        Failure::ClientSlow
                    } else if fault.as_ref().is_some_and(|fault| fault.gone()) {
                        Failure::ClientGone
                    } else {
                        failure
                    };
                    failed(failure, &parts, finish)
                }
            }
        }
    })
}

/// The parts of a request the decisions read.
fn view(parts: &Parts) -> RequestView<'_> {
    RequestView {
        method: &parts.method,
        uri: &parts.uri,
        version: parts.version,
        headers: &parts.headers,
        target_len: parts.uri.path_and_query().map_or(1, |pq| pq.as_str().len())
            + parts.uri.authority().map_or(0, |a| a.as_str().len()),
    }
}

/// One of the gateway's own answers.
fn answered(answer: Answer, parts: &Parts, mut finish: Finish) -> Reply {
    finish.status = answer.status;
    let body = (parts.method != http::Method::HEAD).then_some(answer.body.clone());
    let mut reply = http::Response::new(ResponseBody::new(Source::Full(body), Some(finish)));
    *reply.status_mut() = status(answer.status);
    let headers = reply.headers_mut();
    for (name, value) in answer.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(HeaderName::from_static(lower(name)), value);
        }
    }
    reply
}

/// The answer for a failure: its status, or (for a client that went away)
/// an empty answer nobody reads, logged with status 0 as pingora does.
fn failed(failure: Failure, parts: &Parts, mut finish: Finish) -> Reply {
    match failure.answer() {
        Some(answer) => answered(answer, parts, finish),
        None => {
            finish.status = 0;
            let mut reply = http::Response::new(ResponseBody::empty(Some(finish)));
            *reply.status_mut() = http::StatusCode::BAD_REQUEST;
            reply
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            reply
        }
    }
}

fn status(code: u16) -> http::StatusCode {
    http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// The answers' header names, as `HeaderName::from_static` wants them.
fn lower(name: &'static str) -> &'static str {
    match name {
        "Content-Type" => "content-type",
        "Content-Length" => "content-length",
        "Cache-Control" => "cache-control",
        "Retry-After" => "retry-after",
        "Connection" => "connection",
        _ => "x-sitewarden-unknown",
    }
}

/// Answers a verified path from the approved copy (never the origin's
/// bytes), and has the origin checked in the background.
async fn approved(
    shared: &Arc<Shared>,
    parts: &Parts,
    finish: Finish,
    integrity: Arc<Integrity>,
    file: ApprovedFile,
    host: String,
) -> Reply {
    let Some(route) = finish.admitted.route.clone() else {
        return failed(Failure::Internal, parts, finish);
    };
    let streamed = integrity.streamed(&file);
    let (source, len) = if streamed {
        match open_streamed(&integrity, &file).await {
            Ok(chunks) => (Source::Chunks(chunks), file.size),
            Err(problem) => {
                return answered(approved_unavailable(&route, &file, &problem), parts, finish);
            }
        }
    } else {
        // From memory in the common case; the vault is read on the
        // blocking pool only on a miss.
        let loaded = match integrity.cached(&file) {
            Some(bytes) => Ok(bytes),
            None => {
                let integrity = integrity.clone();
                let file = file.clone();
                tokio::task::spawn_blocking(move || integrity.body(&file))
                    .await
                    .map_err(|error| error.to_string())
                    .and_then(|body| body)
            }
        };
        match loaded {
            Ok(bytes) => {
                let len = bytes.len() as u64;
                (Source::Full(Some(bytes)), len)
            }
            Err(problem) => {
                return answered(approved_unavailable(&route, &file, &problem), parts, finish);
            }
        }
    };
    let head = approved_head(shared, &parts.headers, &file, len);
    let bodyless = parts.method == http::Method::HEAD || head.not_modified || len == 0;
    let approved_bytes = match &source {
        Source::Full(Some(bytes)) => bytes.clone(),
        _ => Bytes::new(),
    };
    let visit = Visit {
        route,
        file,
        approved: approved_bytes,
        host,
        target: view(parts).target().to_string(),
        client: finish.admitted.client_or_unspecified(),
    };
    visited(shared, integrity, visit);
    let mut finish = finish;
    finish.status = head.status;
    let source = if bodyless { Source::Full(None) } else { source };
    let mut reply = http::Response::new(ResponseBody::new(source, Some(finish)));
    *reply.status_mut() = status(head.status);
    reply.headers_mut().extend(head.headers);
    reply
}

/// Opens a large approved file and streams it from the vault, a chunk at a
/// time, from the blocking pool; a vault copy that changes while it is
/// sent ends the body short of its length.
async fn open_streamed(
    integrity: &Arc<Integrity>,
    file: &ApprovedFile,
) -> Result<tokio::sync::mpsc::Receiver<Result<Bytes, String>>, String> {
    let opened = {
        let integrity = integrity.clone();
        let file = file.clone();
        tokio::task::spawn_blocking(move || integrity.open_streamed(&file)).await
    };
    let mut reader = opened.map_err(|error| error.to_string())??;
    let (chunks, receiver) = tokio::sync::mpsc::channel(2);
    let path = file.path.clone();
    tokio::task::spawn_blocking(move || {
        while !reader.done() {
            match reader.next_chunk() {
                Ok(Some(bytes)) => {
                    if chunks.blocking_send(Ok(bytes)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(problem) => {
                    log::error!("approved copy of {path} changed while it was sent: {problem}");
                    let _ = chunks.blocking_send(Err(problem));
                    return;
                }
            }
        }
    });
    Ok(receiver)
}

/// A failure, with what is needed to answer it.
type Failed = (Failure, Parts, Finish);

/// Forwards a request to its route's origins.
async fn forward(
    connection: &ClientConnection,
    mut parts: Parts,
    body: RequestBody,
    mut finish: Finish,
) -> Result<Reply, Failed> {
    let shared = &connection.shared;
    let Some(route) = finish.admitted.route.clone() else {
        return Err((Failure::Internal, parts, finish));
    };
    let client_upgrade = wants_upgrade(&parts.headers)
        .then(|| parts.extensions.remove::<hyper::upgrade::OnUpgrade>())
        .flatten();
    let upgrade = client_upgrade.is_some();
    let mut outgoing = http::Request::new(body);
    *outgoing.method_mut() = parts.method.clone();
    *outgoing.uri_mut() = origin_form(&parts.uri);
    let mut headers = std::mem::take(&mut parts.headers);
    strip_hop_by_hop(&mut headers, upgrade);
    // Room for the forwarding headers at once, not a regrowth for each.
    headers.reserve(3);
    let forwarding = Forwarding::new(
        &headers,
        finish.admitted.client,
        Some(&connection.peer),
        &shared.trusted_proxies.load(),
        false,
    );
    for (name, value) in forwarding.fields() {
        headers.insert(name, value);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    *outgoing.headers_mut() = headers;
    let sent = origin::send(
        &connection.origin,
        &route,
        outgoing,
        shared.origin_timeout,
        &shared.origin_trust.rustls,
    )
    .await;
    let (mut response, link) = match sent {
        Ok(sent) => sent,
        Err(failure) => return Err((failure, parts, finish)),
    };
    finish.status = response.status().as_u16();
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        let Some(client) = client_upgrade else {
            return Err((Failure::OriginBroken, parts, finish));
        };
        let origin = hyper::upgrade::on(&mut response);
        // The upgrade is completed by the connection's driver, which the
        // tunnel then owns.
        connection.tasks.spawn(link.into_driver());
        let client_idle = shared.limiter.limits().body_timeout;
        let mut stop = connection.stop.clone();
        let tunnel = tunnel::run(
            client,
            origin,
            route.switch.clone(),
            client_idle,
            shared.origin_timeout,
        );
        connection.tasks.spawn(async move {
            tokio::select! {
                _ = tunnel => {}
                _ = super::stopped(&mut stop) => {}
            }
        });
        let (head, _) = response.into_parts();
        return Ok(http::Response::from_parts(
            head,
            ResponseBody::empty(Some(finish)),
        ));
    }
    let (mut head, body) = response.into_parts();
    strip_hop_by_hop(&mut head.headers, false);
    let source = Source::Origin {
        body,
        per_read: shared.origin_timeout,
        link: Some(link),
        home: connection.origin.clone(),
        ahead: None,
    };
    Ok(http::Response::from_parts(
        head,
        ResponseBody::new(source, Some(finish)),
    ))
}

/// Whether a request asks to switch protocols (`Connection: upgrade` with
/// an `Upgrade` header).
fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// The request target as an origin wants it: path and query.
fn origin_form(uri: &http::Uri) -> http::Uri {
    match uri.path_and_query() {
        Some(_) if uri.authority().is_none() => uri.clone(),
        Some(pq) => http::Uri::from(pq.clone()),
        None => http::Uri::from_static("/"),
    }
}

/// Removes the headers that belong to one hop (RFC 9110 §7.6.1), and those
/// `Connection` names; an upgrade keeps its `Upgrade`.
///
/// One pass over the names finds what is there, so the common cases — no
/// such header (a benchmark's request), or only `Connection: keep-alive`
/// (most browsers' requests and most origins' responses) — cost one
/// removal or none rather than a hashed lookup for every name a hop may
/// use.
fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let (mut connection, mut others) = (false, false);
    for name in headers.keys() {
        if name == header::CONNECTION {
            connection = true;
        } else if is_hop_by_hop(name, upgrade) {
            others = true;
        }
    }
    if connection {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            // Not header names here: the connection's own options.
            .filter(|token| {
                !token.eq_ignore_ascii_case("keep-alive") && !token.eq_ignore_ascii_case("close")
            })
            .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
            .filter(|name| !(upgrade && name == header::UPGRADE))
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(header::CONNECTION);
    }
    if others {
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        if !upgrade {
            headers.remove(header::UPGRADE);
        }
    }
}

/// The fields that belong to one hop, besides `Connection` and `Upgrade`.
const HOP_BY_HOP: [HeaderName; 5] = [
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

fn is_hop_by_hop(name: &HeaderName, upgrade: bool) -> bool {
    (!upgrade && name == header::UPGRADE) || HOP_BY_HOP.iter().any(|hop| hop == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn check_stripped(fields: &[(&str, &str)], upgrade: bool, kept: &[&str]) {
        let mut map = headers(fields);
        strip_hop_by_hop(&mut map, upgrade);
        let mut names: Vec<_> = map.keys().map(|name| name.as_str().to_string()).collect();
        names.sort();
        assert_eq!(names, kept, "{fields:?}");
    }

    #[test]
    fn hop_by_hop_headers_stay_on_their_hop() {
        check_stripped(
            &[
                ("Host", "a"),
                ("Connection", "keep-alive, X-Secret"),
                ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"),
                ("Transfer-Encoding", "chunked"),
                ("TE", "trailers"),
                ("Proxy-Connection", "keep-alive"),
            ],
            false,
            &["host"],
        );
        // An upgrade keeps what the origin needs to switch.
        check_stripped(
            &[("Connection", "Upgrade"), ("Upgrade", "websocket")],
            true,
            &["upgrade"],
        );
        check_stripped(&[("Upgrade", "h2c")], false, &[]);
    }

    #[test]
    fn upgrades_are_recognised_by_both_headers() {
        assert!(wants_upgrade(&headers(&[
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "websocket")
        ])));
        assert!(!wants_upgrade(&headers(&[("Upgrade", "websocket")])));
        assert!(!wants_upgrade(&headers(&[("Connection", "upgrade")])));
    }

    #[test]
    fn targets_reach_the_origin_in_origin_form() {
        for (target, expected) in [
            ("/a?b=1", "/a?b=1"),
            ("http://portal.example.gov.test/a?b=1", "/a?b=1"),
            ("http://portal.example.gov.test", "/"),
        ] {
            let uri: http::Uri = target.parse().unwrap();
            assert_eq!(origin_form(&uri).to_string(), expected, "{target}");
        }
    }
}
