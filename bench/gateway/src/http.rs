//! A minimal HTTP/1.1 client for load generation: one kept-alive
//! connection from a chosen source address (bound before connecting, so a
//! flood can come from many loopback addresses), `GET` with a Host header,
//! the response read by `Content-Length`, chunked coding, or to the end of
//! the connection.
//!
//! Deliberately not a general client: no TLS, no redirects, no compression
//! (never asked for), no pipelining. It reads every byte of every response,
//! so a caller can compare bodies exactly.

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// One response as received.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The whole body (after chunked decoding).
    pub body: Vec<u8>,
    /// False when the server said `Connection: close` or the body ran to
    /// the end of the connection: the connection cannot be used again.
    pub keep_alive: bool,
}

/// How an exchange failed.
#[derive(Debug)]
pub enum Failure {
    /// Nothing of a response arrived: the connection was closed or reset
    /// first (on a kept-alive connection, a browser retries the request).
    BeforeResponse(io::Error),
    /// The status line (this status) arrived, then the connection failed
    /// before the whole header and body: a broken page for a person.
    Truncated(u16, io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::BeforeResponse(error) => write!(f, "before any response: {error}"),
            Failure::Truncated(status, error) => write!(f, "after status {status}: {error}"),
        }
    }
}

/// One client connection.
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<TcpStream>,
}

/// The bytes of `GET path` for `host`.
pub fn get_request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sitewarden-bench-gateway\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

impl Connection {
    /// Connects to `target` from `source` (any local address when None).
    pub async fn open(source: Option<IpAddr>, target: SocketAddr) -> io::Result<Connection> {
        let socket = match target {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(source) = source {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, stream),
        })
    }

    /// Sends `request` (from [`get_request`]) and reads the whole response.
    pub async fn send(&mut self, request: &[u8]) -> Result<Response, Failure> {
        let mut status = None;
        self.exchange(request, &mut status)
            .await
            .map_err(|error| match status {
                None => Failure::BeforeResponse(error),
                Some(status) => Failure::Truncated(status, error),
            })
    }

    async fn exchange(&mut self, request: &[u8], seen: &mut Option<u16>) -> io::Result<Response> {
        self.reader.get_mut().write_all(request).await?;
        let mut line = Vec::with_capacity(128);
        self.read_line(&mut line).await?;
        let status = parse_status(&line)?;
        *seen = Some(status);
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        let mut keep_alive = true;
        loop {
            self.read_line(&mut line).await?;
            let text = trim_crlf(&line);
            if text.is_empty() {
                break;
            }
            let Some(colon) = text.iter().position(|&b| b == b':') else {
                return Err(bad("a header line without a colon"));
            };
            let name = &text[..colon];
            let value = trim_spaces(&text[colon + 1..]);
            if name.eq_ignore_ascii_case(b"content-length") {
                let value = std::str::from_utf8(value).map_err(|_| bad("Content-Length"))?;
                content_length = Some(value.parse().map_err(|_| bad("Content-Length"))?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value.eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                keep_alive = !value.eq_ignore_ascii_case(b"close");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.read_line(&mut line).await?;
                let size = trim_crlf(&line);
                let size = size.split(|&b| b == b';').next().unwrap_or(size);
                let size = std::str::from_utf8(trim_spaces(size)).map_err(|_| bad("chunk size"))?;
                let size = usize::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        self.read_line(&mut line).await?;
                        if trim_crlf(&line).is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..]).await?;
                self.read_line(&mut line).await?;
            }
        } else if let Some(length) = content_length {
            body.resize(length, 0);
            self.reader.read_exact(&mut body).await?;
        } else if status != 204 && status != 304 {
            self.reader.read_to_end(&mut body).await?;
            keep_alive = false;
        }
        Ok(Response {
            status,
            body,
            keep_alive,
        })
    }

    async fn read_line(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        line.clear();
        let read = self.reader.read_until(b'\n', line).await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before a whole response",
            ));
        }
        if line.len() > 64 * 1024 {
            return Err(bad("a header line over 64 KiB"));
        }
        Ok(())
    }
}

fn parse_status(line: &[u8]) -> io::Result<u16> {
    // "HTTP/1.1 200 OK"
    let text = trim_crlf(line);
    if !text.starts_with(b"HTTP/1.") || text.len() < 12 {
        return Err(bad("not an HTTP/1 status line"));
    }
    std::str::from_utf8(&text[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status code"))
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn trim_spaces(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |end| end + 1);
    &text[start..end]
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad response: {what}"))
}
