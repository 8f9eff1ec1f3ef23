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
use crate::decide::{Admitted, RequestView, log_request};
use crate::proxy::Shared;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

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

/// A client's request body, timed.
pub struct RequestBody {
    inner: Incoming,
    per_read: Duration,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    fault: Arc<BodyFault>,
}

impl RequestBody {
    /// `inner`, which must be in by `deadline`, each piece within
    /// `per_read` of the last.
    pub fn new(inner: Incoming, per_read: Duration, deadline: Instant) -> (Self, Arc<BodyFault>) {
        let fault = Arc::new(BodyFault::default());
        let first = (Instant::now() + per_read).min(deadline);
        let body = RequestBody {
            inner,
            per_read,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(first)),
            fault: fault.clone(),
        };
        (body, fault)
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
                let next = (Instant::now() + this.per_read).min(this.deadline);
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.fault.0.store(FAULT_GONE, Ordering::Relaxed);
                Poll::Ready(Some(Err(io::Error::other(error))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                this.fault.0.store(FAULT_SLOW, Ordering::Relaxed);
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
        /// The origin's per-read timeout.
        per_read: Duration,
        /// Armed while a piece is awaited.
        timer: Option<Pin<Box<Sleep>>>,
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
    /// The shared state (log, tap, routes).
    pub shared: Arc<Shared>,
    /// The admitted request: client, route, and the in-flight slots,
    /// released with this.
    pub admitted: Admitted,
    /// The method.
    pub method: http::Method,
    /// The request target.
    pub uri: http::Uri,
    /// The version.
    pub version: http::Version,
    /// The headers the log reads (`Host`, `Referer`, `User-Agent`).
    pub headers: http::HeaderMap,
    /// The response's status.
    pub status: u16,
}

impl Finish {
    /// Keeps what the log needs of `parts`.
    pub fn new(
        shared: Arc<Shared>,
        admitted: Admitted,
        parts: &http::request::Parts,
        status: u16,
    ) -> Finish {
        let mut headers = http::HeaderMap::new();
        if shared.access_log.is_some() || shared.tap.is_some() {
            for name in [
                http::header::HOST,
                http::header::REFERER,
                http::header::USER_AGENT,
            ] {
                if let Some(value) = parts.headers.get(&name) {
                    headers.insert(name, value.clone());
                }
            }
        }
        Finish {
            shared,
            admitted,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers,
            status,
        }
    }

    fn write(&self, bytes: usize) {
        let view = RequestView {
            method: &self.method,
            uri: &self.uri,
            version: self.version,
            headers: &self.headers,
            target_len: 0,
        };
        log_request(&self.shared, &view, &self.admitted, self.status, bytes);
    }
}

/// A response body to the client, logged when done.
pub struct ResponseBody {
    source: Source,
    sent: usize,
    finish: Option<Box<Finish>>,
}

impl ResponseBody {
    /// A body from `source`, logged with `finish` when done or dropped.
    pub fn new(source: Source, finish: Option<Finish>) -> ResponseBody {
        ResponseBody {
            source,
            sent: 0,
            finish: finish.map(Box::new),
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
        None => {
            if let Some(link) = link.as_mut() {
                link.drive(cx);
            }
            ready!(Pin::new(&mut *body).poll_frame(cx))
        }
    };
    if matches!(piece, Some(Ok(_))) && !body.is_end_stream() {
        if let Some(link) = link.as_mut() {
            link.drive(cx);
        }
        if let Poll::Ready(next) = Pin::new(&mut *body).poll_frame(cx) {
            *ahead = Some(next);
        }
    }
    Poll::Ready(piece)
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
                timer,
                link,
                home,
                ahead,
            } => match poll_origin(body, link, ahead, cx) {
                Poll::Ready(frame) => {
                    *timer = None;
                    if frame.is_none() {
                        give_back(link, home);
                    }
                    Poll::Ready(frame.map(|frame| frame.map_err(io::Error::other)))
                }
                Poll::Pending => {
                    let timer =
                        timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(*per_read)));
                    ready!(timer.as_mut().poll(cx));
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
