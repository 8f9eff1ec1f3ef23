//! A downstream connection as the gateway holds it: counted against its
//! client's connection cap for as long as it is open, and with a deadline
//! for each request header, so a slow client (slowloris) that dribbles a
//! header a byte at a time is cut off instead of holding a connection for
//! ever. pingora's own read timeout applies per read; this one applies to
//! the whole header.
//!
//! The same wrapper serves both engines: around pingora's `Stream`, and
//! around a plain socket for the hyper engine, which also has it time the
//! idle wait between requests (the keep-alive timeout) and writes to a
//! client that does not read; the raw header's findings reach the request
//! through [`HeaderNotes`].
//!
//! HTTP/1 only: an HTTP/2 connection (ALPN `h2` or the cleartext preface)
//! has no header block to time on the wire, and is left to the h2 idle
//! timeout.
//!
//! A connection upgraded to a tunnel (WebSocket) no longer goes through
//! the per-request containment check; it is tied to its site's switch
//! ([`GuardedStream::close_when_cut_off`]) and its reads fail, which ends
//! the tunnel both ways, the moment the site is cut off.

use crate::limiter::ConnectionSlot;
use crate::rearm::Rearm;
use crate::switch::{SiteState, SiteSwitch};
use async_trait::async_trait;
use pingora_core::protocols::{ALPN, TimingDigest, l4::socket::SocketAddr};
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType,
};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";
/// The whole HTTP/2 connection preface (RFC 9113 §3.4), which pingora
/// peeks for on a plain connection.
const H2_CONNECTION_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where the connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request header; the deadline runs.
    Header,
    /// The header is in; body and response follow without this deadline.
    AfterHeader,
    /// HTTP/2: not timed here.
    H2,
    /// Switched to another protocol (`101`, a WebSocket): a tunnel, not
    /// requests.
    Tunnel,
}

/// A connection wrapped with its slot and header deadline: pingora's
/// [`Stream`] by default, or a plain socket for the hyper engine.
#[derive(Debug)]
pub struct GuardedStream<S = Stream> {
    inner: S,
    _slot: Option<ConnectionSlot>,
    header_timeout: Duration,
    phase: Phase,
    /// Runs while a request header is awaited (from its first byte; for
    /// the first request, from the accept).
    deadline: Rearm,
    /// How long the connection may sit idle between requests (None:
    /// the engine times it).
    idle_timeout: Option<Duration>,
    /// Runs while the connection waits for the next request's first byte.
    idle: Rearm,
    /// How long a write may wait for the client to read (None: the engine
    /// times it).
    write_timeout: Option<Duration>,
    /// Runs while a write waits.
    write_timer: Rearm,
    /// The current request header's bytes so far (up to
    /// [`MAX_KEPT_HEADER`]), to find its end and check its framing.
    header: Vec<u8>,
    /// What is wrong with the framing of the last complete header, for
    /// whoever handles the request.
    notes: Arc<HeaderNotes>,
    /// Once upgraded (WebSocket): the site whose containment switch ends
    /// the tunnel.
    tunnel_site: OnceLock<Arc<SiteSwitch>>,
    /// Resolves when that site is cut off (polled while reads wait). A
    /// mutex only to be `Sync`: it is reached through `&mut self`.
    tunnel_cut: CutOff,
    /// Bytes read by [`Peek::try_peek`], handed out first by reads.
    peeked: Vec<u8>,
}

/// What the raw bytes of a connection's last request header showed, shared
/// with the code that handles the request (which sees only the parsed
/// header).
#[derive(Debug, Default)]
pub struct HeaderNotes {
    notes: Mutex<Notes>,
}

#[derive(Debug, Default)]
struct Notes {
    framing: Option<&'static str>,
    /// The start of the last request's first line, as sent (up to
    /// [`MAX_KEPT_LINE`] bytes): what the log shows of a request too
    /// malformed to parse.
    line: Vec<u8>,
}

/// Bytes of a request line kept for the log of a malformed request.
const MAX_KEPT_LINE: usize = 256;

impl HeaderNotes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Notes> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is wrong with the framing of the last complete header.
    pub fn framing(&self) -> Option<&'static str> {
        self.lock().framing
    }

    /// The last request's first line as sent (its start), for the log of
    /// a request that could not be parsed.
    pub fn request_line(&self) -> String {
        String::from_utf8_lossy(&self.lock().line).into_owned()
    }

    fn set_framing(&self, framing: Option<&'static str>) {
        self.lock().framing = framing;
    }

    /// A new request starts with `bytes`; with `framing`, its header is
    /// already complete.
    fn begin(&self, bytes: &[u8], framing: Option<Option<&'static str>>) {
        let end = memchr::memchr2(b'\r', b'\n', bytes).unwrap_or(bytes.len());
        let mut notes = self.lock();
        notes.line.clear();
        notes
            .line
            .extend_from_slice(&bytes[..end.min(MAX_KEPT_LINE)]);
        if let Some(framing) = framing {
            notes.framing = framing;
        }
    }
}

/// The wait for a tunnel's site to be cut off.
#[derive(Default)]
struct CutOff(Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>);

impl std::fmt::Debug for CutOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CutOff")
    }
}

/// Header bytes kept for the framing check; pingora refuses far larger
/// headers itself, and the proxy refuses anything over its own limit.
const MAX_KEPT_HEADER: usize = 64 * 1024;

impl GuardedStream {
    /// Wraps `inner`; the first header must be complete within
    /// `header_timeout` of now.
    pub fn new(inner: Stream, slot: Option<ConnectionSlot>, header_timeout: Duration) -> Self {
        let h2 = matches!(inner.selected_alpn_proto(), Some(ALPN::H2));
        let mut stream = GuardedStream::plain(inner, slot, header_timeout, None, None);
        if h2 {
            stream.phase = Phase::H2;
            stream.deadline.disarm();
        }
        stream
    }
}

impl<S> GuardedStream<S> {
    /// Wraps an HTTP/1 connection; the first header must be complete
    /// within `header_timeout` of now. With `idle_timeout`, the connection
    /// is closed when it waits longer for the next request's first byte;
    /// with `write_timeout`, when a write waits longer for the client to
    /// read.
    pub fn plain(
        inner: S,
        slot: Option<ConnectionSlot>,
        header_timeout: Duration,
        idle_timeout: Option<Duration>,
        write_timeout: Option<Duration>,
    ) -> Self {
        GuardedStream {
            inner,
            _slot: slot,
            header_timeout,
            phase: Phase::Header,
            deadline: Rearm::armed(header_timeout),
            idle_timeout,
            idle: Rearm::default(),
            write_timeout,
            write_timer: Rearm::default(),
            header: Vec::new(),
            notes: Arc::default(),
            tunnel_site: OnceLock::new(),
            tunnel_cut: CutOff::default(),
            peeked: Vec::new(),
        }
    }

    /// What the raw request headers show, shared with the request's
    /// handler.
    pub fn notes(&self) -> Arc<HeaderNotes> {
        self.notes.clone()
    }

    /// Ends this connection, whatever it is carrying, when `site` is cut
    /// off: for a connection upgraded to a tunnel (WebSocket), which no
    /// longer passes through the per-request containment check.
    pub fn close_when_cut_off(&self, site: Arc<SiteSwitch>) {
        let _ = self.tunnel_site.set(site);
    }

    /// For a tunnel: an error once its site is cut off, registering for
    /// the switch while nothing else wakes the read.
    fn poll_cut_off(&mut self, cx: &mut Context<'_>, pending: bool) -> Option<io::Error> {
        let site = self.tunnel_site.get()?;
        let cut_off = if site.mode() == SiteState::Maintenance {
            true
        } else if pending {
            let waiting = self
                .tunnel_cut
                .0
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| {
                    let site = site.clone();
                    Box::pin(async move { site.cut_off().await })
                });
            waiting.as_mut().poll(cx).is_ready()
        } else {
            false
        };
        cut_off.then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the site was cut off (maintenance): tunnel closed",
            )
        })
    }

    /// What was wrong with the framing of the last request header on this
    /// connection, as the client sent it (before pingora tidied it).
    pub fn framing_problem(&self) -> Option<&'static str> {
        self.notes.framing()
    }

    fn next_request(&mut self) {
        self.phase = Phase::Header;
        self.header.clear();
        self.idle.disarm();
    }

    /// Notes a response going out in `first` (the start of a write).
    fn wrote(&mut self, first: &[u8]) {
        if self.phase != Phase::AfterHeader {
            return;
        }
        if first.starts_with(b"HTTP/1.1 101") {
            // What follows is a tunnel: no more request headers to time.
            self.phase = Phase::Tunnel;
            return;
        }
        // An interim answer (`100 Continue`) is not the response: the body
        // follows, and must not be timed as the next request's header.
        let interim = first.starts_with(b"HTTP/1.1 1") || first.starts_with(b"HTTP/1.0 1");
        if !interim {
            // A response is going out: the next bytes read start a new
            // request header (its clock starts at its first byte).
            self.next_request();
        }
    }

    /// Times a write that waits; an error once it has waited too long.
    fn poll_write_timer(&mut self, cx: &mut Context<'_>, pending: bool) -> Option<io::Error> {
        if !pending {
            self.write_timer.disarm();
            return None;
        }
        let timeout = self.write_timeout?;
        if !self.write_timer.is_armed() {
            self.write_timer.arm(timeout);
        }
        self.write_timer.poll_expired(cx).then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read its response in time",
            )
        })
    }

    /// Times a read that waits: the header deadline, or the idle timeout
    /// between requests.
    fn poll_read_timers(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.phase != Phase::Header {
            return None;
        }
        if self.deadline.is_armed() {
            return self.deadline.poll_expired(cx).then(|| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request header not received in time (slow client)",
                )
            });
        }
        let timeout = self.idle_timeout?;
        if !self.idle.is_armed() {
            self.idle.arm(timeout);
        }
        self.idle.poll_expired(cx).then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection was idle longer than the keep-alive timeout",
            )
        })
    }

    /// A request header is complete (its framing noted): its clock stops.
    fn header_done(&mut self) {
        self.phase = Phase::AfterHeader;
        self.deadline.disarm();
        self.header.clear();
    }

    /// Notes newly read bytes: the end of a header stops the clock.
    fn observe(&mut self, bytes: &[u8]) {
        if self.phase != Phase::Header || bytes.is_empty() {
            return;
        }
        if self.header.is_empty()
            && bytes.len() >= H2_PREFACE.len()
            && bytes.starts_with(H2_PREFACE)
        {
            self.phase = Phase::H2;
            self.deadline.disarm();
            return;
        }
        // The next request on a kept-alive connection: its clock starts
        // with its first byte (idle time is the keep-alive timeout's) —
        // armed below only when the header does not end in this read.
        let first_bytes = !self.deadline.is_armed();
        self.idle.disarm();
        if self.header.is_empty()
            && let Some(end) = find_end(bytes)
            && end <= MAX_KEPT_HEADER
        {
            // The whole header in one read, the common case: checked where
            // it lies, not copied.
            self.notes
                .begin(bytes, Some(raw_framing_problem(&bytes[..end])));
            self.header_done();
            return;
        }
        // Search from just before this read's bytes, so an end split across
        // two reads is found.
        let from = self.header.len().saturating_sub(3);
        let room = MAX_KEPT_HEADER.saturating_sub(self.header.len());
        self.header
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        // A header that comes in pieces: its line as far as it has come
        // (a rare case, so noted again at each piece).
        if from < MAX_KEPT_LINE {
            self.notes.begin(&self.header, None);
        }
        if let Some(end) = find_end(&self.header[from..]) {
            let problem = raw_framing_problem(&self.header[..from + end]);
            self.notes.set_framing(problem);
            self.header_done();
            return;
        }
        if first_bytes {
            self.deadline.arm(self.header_timeout);
        }
        if room < bytes.len() {
            // Larger than anything we accept: let pingora refuse it.
            self.notes.set_framing(Some("request header too large"));
        }
    }
}

fn find_end(bytes: &[u8]) -> Option<usize> {
    memchr::memmem::find(bytes, b"\r\n\r\n")
}

/// Framing a proxy must refuse rather than repair (RFC 9112 §6.1, §6.3):
/// pingora resolves Content-Length beside Transfer-Encoding by dropping
/// the former, which is correct but hides a smuggling attempt; the raw
/// header still shows it.
pub fn raw_framing_problem(header: &[u8]) -> Option<&'static str> {
    let mut content_length = 0;
    let mut transfer_encoding = 0;
    for line in header.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Some("obsolete header line folding");
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.ends_with(b" ") || name.ends_with(b"\t") {
            return Some("whitespace before a header colon");
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length += 1;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding += 1;
        }
    }
    if content_length > 0 && transfer_encoding > 0 {
        return Some("both Transfer-Encoding and Content-Length");
    }
    if transfer_encoding > 1 {
        return Some("more than one Transfer-Encoding");
    }
    None
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.poll_cut_off(cx, false) {
            return Poll::Ready(Err(error));
        }
        if !this.peeked.is_empty() {
            let n = this.peeked.len().min(buf.remaining());
            let bytes: Vec<u8> = this.peeked.drain(..n).collect();
            buf.put_slice(&bytes);
            this.observe(&bytes);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.observe(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if let Some(error) = this.poll_cut_off(cx, true) {
                    return Poll::Ready(Err(error));
                }
                match this.poll_read_timers(cx) {
                    Some(error) => Poll::Ready(Err(error)),
                    None => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Some(error) = this.poll_write_timer(cx, result.is_pending()) {
            return Poll::Ready(Err(error));
        }
        if matches!(result, Poll::Ready(Ok(_))) {
            this.wrote(buf);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Some(error) = this.poll_write_timer(cx, result.is_pending()) {
            return Poll::Ready(Err(error));
        }
        if matches!(result, Poll::Ready(Ok(_)))
            && let Some(first) = bufs.iter().find(|buf| !buf.is_empty())
        {
            this.wrote(first);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for GuardedStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for GuardedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedStream {
    fn get_ssl(&self) -> Option<&pingora_core::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora_core::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for GuardedStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for GuardedStream {
    fn get_proxy_digest(&self) -> Option<Arc<pingora_core::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for GuardedStream {
    fn get_socket_digest(&self) -> Option<Arc<pingora_core::protocols::SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for GuardedStream {
    /// pingora peeks for the HTTP/2 connection preface before it reads a
    /// request on a plain connection, and its own peek waits for all 24
    /// bytes: a request shorter than that, or a few bytes of garbage, sat
    /// there unanswered until the header deadline. This peek reads only
    /// until the bytes can no longer be the preface (or the client stops
    /// sending), and hands them to the reads that follow; whatever does
    /// not match fills the rest of `buf`, so pingora goes on with HTTP/1
    /// and answers what it cannot parse with 400.
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        use tokio::io::AsyncReadExt;
        let until = match self.phase {
            Phase::Header => self.deadline.deadline(),
            _ => None,
        };
        let fill = async {
            while self.peeked.len() < buf.len() && H2_CONNECTION_PREFACE.starts_with(&self.peeked) {
                let mut more = [0u8; 64];
                let want = (buf.len() - self.peeked.len()).min(more.len());
                let n = self.inner.read(&mut more[..want]).await?;
                if n == 0 {
                    break;
                }
                self.peeked.extend_from_slice(&more[..n]);
            }
            Ok::<_, io::Error>(())
        };
        match until {
            Some(until) => tokio::time::timeout_at(until, fill).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request header not received in time (slow client)",
                )
            })??,
            None => fill.await?,
        }
        let n = self.peeked.len().min(buf.len());
        buf[..n].copy_from_slice(&self.peeked[..n]);
        buf[n..].fill(0);
        Ok(true)
    }
}

impl GuardedStream {
    /// The client's address as the socket reports it.
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        peer_of(&self.inner)
    }
}

/// The TCP peer of a downstream stream.
pub fn peer_of(stream: &Stream) -> Option<std::net::SocketAddr> {
    let digest = stream.get_socket_digest()?;
    match digest.peer_addr()? {
        SocketAddr::Inet(addr) => Some(*addr),
        _ => None,
    }
}

/// Whether a stream is already one of ours (a kept-alive connection comes
/// back to the app for its next request).
pub fn is_guarded(stream: &Stream) -> bool {
    stream.as_any().is::<GuardedStream>()
}

/// Wraps a stream, boxing it back into pingora's stream type.
pub fn guard(inner: Stream, slot: Option<ConnectionSlot>, header_timeout: Duration) -> Stream {
    Box::new(GuardedStream::new(inner, slot, header_timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_headers_show_smuggling_attempts() {
        let clean = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n";
        assert_eq!(raw_framing_problem(clean), None);
        let both =
            b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nTransfer-Encoding: chunked\r\n";
        assert!(raw_framing_problem(both).unwrap().contains("both"));
        let folded = b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  continued\r\n";
        assert!(raw_framing_problem(folded).unwrap().contains("folding"));
        let spaced = b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n";
        assert!(raw_framing_problem(spaced).unwrap().contains("colon"));
        let twice =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n";
        assert!(raw_framing_problem(twice).is_some());
    }

    #[test]
    fn header_ends_are_found_across_reads() {
        assert_eq!(find_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(14));
        assert_eq!(find_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[tokio::test]
    async fn each_requests_first_line_and_framing_are_noted_whole_or_in_pieces() {
        let mut stream = GuardedStream::plain((), None, Duration::from_secs(10), None, None);
        let notes = stream.notes();
        // In one read: noted where it lies; the header clock stops.
        stream.observe(
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(notes.request_line(), "POST /a HTTP/1.1");
        assert_eq!(
            notes.framing(),
            Some("both Transfer-Encoding and Content-Length")
        );
        assert!(!stream.deadline.is_armed());
        // The next request dribbled in: its line as far as it has come,
        // and its clock running from its first byte until its end.
        stream.next_request();
        for piece in [&b"GE"[..], b"T /b", b" HTTP/1.1\r", b"\nHost: x\r\n"] {
            stream.observe(piece);
            assert!(stream.deadline.is_armed());
        }
        assert_eq!(notes.request_line(), "GET /b HTTP/1.1");
        stream.observe(b"\r\n");
        assert!(!stream.deadline.is_armed());
        assert_eq!(notes.framing(), None);
    }
}
