//! A downstream connection as the gateway holds it: counted against its
//! client's connection cap for as long as it is open, and with a deadline
//! for each request header, so a slow client (slowloris) that dribbles a
//! header a byte at a time is cut off instead of holding a connection for
//! ever. pingora's own read timeout applies per read; this one applies to
//! the whole header.
//!
//! HTTP/1 only: an HTTP/2 connection (ALPN `h2` or the cleartext preface)
//! has no header block to time on the wire, and is left to the h2 idle
//! timeout.

use crate::limiter::ConnectionSlot;
use async_trait::async_trait;
use pingora_core::protocols::{ALPN, TimingDigest, l4::socket::SocketAddr};
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// Where the connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request header; the deadline runs.
    Header,
    /// The header is in; body and response follow without this deadline.
    AfterHeader,
    /// HTTP/2: not timed here.
    H2,
}

/// A connection wrapped with its slot and header deadline.
#[derive(Debug)]
pub struct GuardedStream {
    inner: Stream,
    _slot: Option<ConnectionSlot>,
    header_timeout: Duration,
    phase: Phase,
    deadline: Option<Pin<Box<Sleep>>>,
    /// The current request header's bytes so far (up to
    /// [`MAX_KEPT_HEADER`]), to find its end and check its framing.
    header: Vec<u8>,
    /// What is wrong with the framing of the last complete header.
    framing: Option<&'static str>,
}

/// Header bytes kept for the framing check; pingora refuses far larger
/// headers itself, and the proxy refuses anything over its own limit.
const MAX_KEPT_HEADER: usize = 64 * 1024;

impl GuardedStream {
    /// Wraps `inner`; the first header must be complete within
    /// `header_timeout` of now.
    pub fn new(inner: Stream, slot: Option<ConnectionSlot>, header_timeout: Duration) -> Self {
        let h2 = matches!(inner.selected_alpn_proto(), Some(ALPN::H2));
        GuardedStream {
            inner,
            _slot: slot,
            header_timeout,
            phase: if h2 { Phase::H2 } else { Phase::Header },
            deadline: (!h2).then(|| Box::pin(tokio::time::sleep(header_timeout))),
            header: Vec::new(),
            framing: None,
        }
    }

    /// What was wrong with the framing of the last request header on this
    /// connection, as the client sent it (before pingora tidied it).
    pub fn framing_problem(&self) -> Option<&'static str> {
        self.framing
    }

    fn next_request(&mut self) {
        self.phase = Phase::Header;
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
            self.deadline = None;
            return;
        }
        if self.deadline.is_none() {
            // The next request on a kept-alive connection: its clock starts
            // with its first byte (idle time is the keep-alive timeout's).
            self.deadline = Some(Box::pin(tokio::time::sleep(self.header_timeout)));
        }
        // Search from just before this read's bytes, so an end split across
        // two reads is found.
        let from = self.header.len().saturating_sub(3);
        let room = MAX_KEPT_HEADER.saturating_sub(self.header.len());
        self.header
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        if let Some(end) = find_end(&self.header[from..]) {
            let header = &self.header[..from + end];
            self.framing = raw_framing_problem(header);
            self.phase = Phase::AfterHeader;
            self.deadline = None;
            self.header.clear();
        } else if room < bytes.len() {
            // Larger than anything we accept: let pingora refuse it.
            self.framing = Some("request header too large");
        }
    }
}

fn find_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
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

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.observe(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if this.phase == Phase::Header
                    && let Some(deadline) = this.deadline.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request header not received in time (slow client)",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        // An interim answer (`100 Continue`) is not the response: the body
        // follows, and must not be timed as the next request's header.
        let interim = buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1");
        if this.phase == Phase::AfterHeader && !interim && matches!(result, Poll::Ready(Ok(_))) {
            // A response is going out: the next bytes read start a new
            // request header (its clock starts at its first byte).
            this.next_request();
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
        let interim = bufs.first().is_some_and(|first| {
            first.starts_with(b"HTTP/1.1 1") || first.starts_with(b"HTTP/1.0 1")
        });
        if this.phase == Phase::AfterHeader && !interim && matches!(result, Poll::Ready(Ok(_))) {
            this.next_request();
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
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        // pingora peeks for the HTTP/2 preface before reading a request,
        // waiting for all of its 24 bytes: a slow client must not be able
        // to hold the connection there either.
        match (self.phase, self.deadline.as_ref()) {
            (Phase::Header, Some(deadline)) => {
                let until = deadline.deadline();
                match tokio::time::timeout_at(until, self.inner.try_peek(buf)).await {
                    Ok(result) => result,
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request header not received in time (slow client)",
                    )),
                }
            }
            _ => self.inner.try_peek(buf).await,
        }
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
}
