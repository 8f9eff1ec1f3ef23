//! The bodies the hyper engine passes on: the client's request body on its
//! way to the origin, with a deadline for the whole body and a timeout for
//! each piece (a client that drips its body is cut off with 408); and the
//! response body on its way to the client — the gateway's own answer, the
//! origin's body with a timeout for each piece (driving the origin
//! connection it comes over, one piece read ahead), or an approved copy
//! streamed from the vault — which counts the bytes sent and writes the
//! request's access-log line when it is done or dropped (a client that
//! goes away mid-body is logged too, with what it got).

use super::origin::OriginLink;
use super::request::ClientConnection;
use crate::decide::{Admitted, Logged, log_request};
use crate::rearm::Rearm;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Instant;

/// What went wrong with a request body, for the answer: the hyper client
/// only reports that the body failed.
#[derive(Debug, Default)]
pub struct BodyFault(AtomicU8);

const FAULT_SLOW: u8 = 1;
const FAULT_GONE: u8 = 2;

impl BodyFault {
    /// The client's body stopped or ran past its deadline.
    pub fn slow(&self) -> bool {
        self.0.load(Ordering::Relaxed) == FAULT_SLOW
    }

    /// The client went away mid-body.
    pub fn gone(&self) -> bool {
        self.0.load(Ordering::Relaxed) == FAULT_GONE
    }
}

/// A client's request body, timed. A request without a body (a GET)
/// costs no timer and no fault record: both are made at the first wait.
pub struct RequestBody {
    inner: Incoming,
    per_read: Duration,
    whole: Duration,
    /// When the whole body is due: `whole` after the first wait for it
    /// (which comes as soon as the request is sent on).
    deadline: Option<Instant>,
    timer: Rearm,
    fault: Option<Arc<BodyFault>>,
}

impl RequestBody {
    /// `inner`, which must be in within `whole`, each piece within
    /// `per_read` of the last; and where its failure will be told, if it
    /// has a body that can fail.
    pub fn new(
        inner: Incoming,
        per_read: Duration,
        whole: Duration,
    ) -> (Self, Option<Arc<BodyFault>>) {
        let fault = (!inner.is_end_stream()).then(Arc::default);
        let body = RequestBody {
            inner,
            per_read,
            whole,
            deadline: None,
            timer: Rearm::default(),
            fault: fault.clone(),
        };
        (body, fault)
    }

    fn fault(&self, fault: u8) {
        if let Some(record) = &self.fault {
            record.0.store(fault, Ordering::Relaxed);
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.timer.disarm();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.fault(FAULT_GONE);
                Poll::Ready(Some(Err(io::Error::other(error))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if !this.timer.is_armed() {
                    let now = Instant::now();
                    let deadline = *this.deadline.get_or_insert(now + this.whole);
                    this.timer.arm_at((now + this.per_read).min(deadline));
                }
                if !this.timer.poll_expired(cx) {
                    return Poll::Pending;
                }
                this.fault(FAULT_SLOW);
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body not received in time (slow client)",
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where a response body comes from.
// The origin's variant is the large one and the common one (every proxied
// response): boxing it would cost an allocation per request to save a few
// bytes on the rarer answers from memory.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// Bytes in memory (taken once).
    Full(Option<Bytes>),
    /// The origin's body; each piece within `per_read` of the last.
    Origin {
        /// The body.
        body: Incoming,
        /// The origin's per-read timeout, timed with the link's `wait`.
        per_read: Duration,
        /// The connection it comes over, driven here, and put back in
        /// `home` (the client connection's slot) once the body is done.
        link: Option<OriginLink>,
        /// Where the link goes back to.
        home: Arc<Mutex<Option<OriginLink>>>,
        /// The piece read ahead.
        ahead: Option<Piece>,
    },
    /// Chunks read from the vault by a blocking task; an error ends the
    /// body short of its length.
    Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, String>>),
}

/// What is needed to log a request once its body is done.
pub struct Finish {
    /// The client connection, and through it the shared state (log, tap,
    /// routes): its own count, not the shared state's, which every
    /// thread's requests would move between cores.
    pub connection: Arc<ClientConnection>,
    /// The admitted request: client, route, and the in-flight slots,
    /// released with this.
    pub admitted: Admitted,
    /// The method.
    pub method: http::Method,
    /// The request target.
    pub uri: http::Uri,
    /// The version.
    pub version: http::Version,
    /// The fields the log reads: `Host`, `Referer`, `User-Agent`.
    pub fields: [Option<HeaderValue>; 3],
    /// The response's status.
    pub status: u16,
}

impl Finish {
    /// Keeps what the log needs of `parts`.
    pub fn new(
        connection: Arc<ClientConnection>,
        admitted: Admitted,
        parts: &http::request::Parts,
        status: u16,
    ) -> Finish {
        let shared = &connection.shared;
        let logged = shared.access_log.is_some() || shared.tap.is_some();
        let field = |name| logged.then(|| parts.headers.get(name).cloned()).flatten();
        Finish {
            fields: [
                field(header::HOST),
                field(header::REFERER),
                field(header::USER_AGENT),
            ],
            connection,
            admitted,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            status,
        }
    }

    fn write(&self, bytes: usize) {
        let [host, referer, user_agent] = &self.fields;
        fn raw(field: &Option<HeaderValue>) -> &[u8] {
            field.as_ref().map_or(&[][..], |value| value.as_bytes())
        }
        let logged = Logged {
            method: self.method.as_str(),
            target: self.uri.path_and_query().map_or("/", |pq| pq.as_str()),
            version: self.version,
            host: self
                .uri
                .host()
                .or_else(|| host.as_ref().and_then(|host| host.to_str().ok()))
                .map(std::borrow::Cow::Borrowed),
            referer: raw(referer),
            user_agent: raw(user_agent),
        };
        log_request(
            &self.connection.shared,
            &logged,
            &self.admitted,
            self.status,
            bytes,
        );
    }
}

/// A response body to the client, logged when done.
pub struct ResponseBody {
    source: Source,
    sent: usize,
    // Inline, not boxed: every response has one, and a box would be an
    // allocation per request.
    finish: Option<Finish>,
}

impl ResponseBody {
    /// A body from `source`, logged with `finish` when done or dropped.
    pub fn new(source: Source, finish: Option<Finish>) -> ResponseBody {
        ResponseBody {
            source,
            sent: 0,
            finish,
        }
    }

    /// An empty body.
    pub fn empty(finish: Option<Finish>) -> ResponseBody {
        ResponseBody::new(Source::Full(None), finish)
    }

    fn done(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.write(self.sent);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // A body hyper did not poll to its end because it had none (HEAD,
        // 304) is done too: its connection can carry the next request.
        if let Source::Origin {
            body, link, home, ..
        } = &mut self.source
            && body.is_end_stream()
        {
            give_back(link, home);
        }
        self.done();
    }
}

/// A piece of an origin's body, or its end or error.
type Piece = Option<Result<Frame<Bytes>, hyper::Error>>;

/// The origin's next piece of body, its connection driven first (the
/// piece is read there); with a piece in hand, the one after it is read
/// ahead if it is there, so the origin is read while the client's write
/// waits, as a connection task of its own would.
fn poll_origin(
    body: &mut Incoming,
    link: &mut Option<OriginLink>,
    ahead: &mut Option<Piece>,
    cx: &mut Context<'_>,
) -> Poll<Piece> {
    let piece = match ahead.take() {
        Some(piece) => piece,
        None => ready!(drive_then_poll(body, link, cx)),
    };
    if matches!(piece, Some(Ok(_)))
        && !body.is_end_stream()
        && let Poll::Ready(next) = drive_then_poll(body, link, cx)
    {
        *ahead = Some(next);
    }
    Poll::Ready(piece)
}

/// Drives the link (if it is still there), then polls the body it hands
/// pieces of over, as the link's receiver.
fn drive_then_poll(
    body: &mut Incoming,
    link: &mut Option<OriginLink>,
    cx: &mut Context<'_>,
) -> Poll<Piece> {
    match link.as_mut() {
        Some(link) => link.exchange(cx, |cx| Pin::new(&mut *body).poll_frame(cx)),
        None => Pin::new(&mut *body).poll_frame(cx),
    }
}

/// Puts an origin connection whose response is done back in its client
/// connection's slot.
fn give_back(link: &mut Option<OriginLink>, home: &Mutex<Option<OriginLink>>) {
    if let Some(link) = link.take() {
        *home.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let polled = match &mut this.source {
            Source::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Source::Origin {
                body,
                per_read,
                link,
                home,
                ahead,
            } => match poll_origin(body, link, ahead, cx) {
                Poll::Ready(frame) => {
                    if let Some(link) = link.as_mut() {
                        link.wait.disarm();
                    }
                    if frame.is_none() {
                        give_back(link, home);
                    }
                    Poll::Ready(frame.map(|frame| frame.map_err(io::Error::other)))
                }
                Poll::Pending => {
                    // The link is there until the body ends.
                    let Some(wait) = link.as_mut().map(|link| &mut link.wait) else {
                        return Poll::Pending;
                    };
                    if !wait.is_armed() {
                        wait.arm(*per_read);
                    }
                    if !wait.poll_expired(cx) {
                        return Poll::Pending;
                    }
                    Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the origin's body stalled",
                    ))))
                }
            },
            Source::Chunks(chunks) => match ready!(chunks.poll_recv(cx)) {
                Some(Ok(bytes)) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Some(Err(problem)) => Poll::Ready(Some(Err(io::Error::other(problem)))),
                None => Poll::Ready(None),
            },
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len();
                }
            }
            Poll::Ready(None) => this.done(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Source::Origin { body, ahead, .. } => match ahead {
                Some(piece) => piece.is_none(),
                None => body.is_end_stream(),
            },
            Source::Chunks(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Source::Origin { body, .. } => body.size_hint(),
            Source::Chunks(_) => SizeHint::default(),
        }
    }
}
