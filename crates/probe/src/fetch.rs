//! One fetch of one URL as one user agent, following redirects by hand.

use crate::tls::{self, TlsDetails, TlsSetupError};
use reqwest::header::{self, HeaderMap};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use url::Url;

/// How the probe fetches. Built from the plan's `[probe]` section.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The whole fetch, all redirects and the body included, must finish in this.
    pub timeout: Duration,
    /// Bodies are read up to this many bytes; the rest is not downloaded.
    pub max_body_bytes: u64,
    /// Redirects followed before giving up.
    pub max_redirects: u32,
    /// Host names answered without DNS (like curl's --resolve).
    pub resolve: Vec<(String, IpAddr)>,
    /// PEM files of extra CAs to trust.
    pub extra_ca_files: Vec<PathBuf>,
}

/// One hop of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The URL requested.
    pub url: String,
    /// The status it answered with.
    pub status: u16,
}

/// A page as fetched.
#[derive(Debug, Clone)]
pub struct FetchedPage {
    /// The URL that finally answered (after redirects).
    pub final_url: Url,
    /// Its HTTP status.
    pub status: u16,
    /// Its response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, at most `max_body_bytes`.
    pub body: Vec<u8>,
    /// True when the body was longer than the cap and was cut.
    pub truncated: bool,
    /// Every redirect taken, first first (empty when none).
    pub redirects: Vec<Hop>,
    /// Time from the first request to the end of the body.
    pub elapsed: Duration,
    /// The server certificate, for HTTPS.
    pub tls: Option<TlsDetails>,
}

impl FetchedPage {
    /// The Content-Type header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a fetch failed. Each says what a duty officer would want to know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Nothing complete arrived in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No connection could be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TLS handshake or certificate check failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The redirects went round in a circle.
    #[error("redirect loop: {}", .0.join(" → "))]
    RedirectLoop(Vec<String>),
    /// More redirects than the plan allows.
    #[error("more than {limit} redirects: {}", .chain.join(" → "))]
    TooManyRedirects {
        /// The limit.
        limit: u32,
        /// The URLs visited.
        chain: Vec<String>,
    },
    /// A redirect pointed at something that is not an http(s) URL.
    #[error("bad redirect from {from} to {location:?}")]
    BadRedirect {
        /// Where it came from.
        from: String,
        /// The Location header.
        location: String,
    },
    /// The exchange failed in another way (reset, malformed response…).
    #[error("HTTP error: {0}")]
    Http(String),
}

/// A reusable fetcher with its connection pool. Clone is cheap.
#[derive(Debug, Clone)]
pub struct Prober {
    client: reqwest::Client,
    config: ProbeConfig,
}

impl Prober {
    /// Builds the HTTP client.
    pub fn new(config: ProbeConfig) -> Result<Prober, TlsSetupError> {
        let tls = tls::client_config(&config.extra_ca_files)?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .tls_info(true)
            // Redirects are followed in `fetch`, hop by hop.
            .redirect(reqwest::redirect::Policy::none())
            // Monitoring goes straight to the site: a proxy from the
            // environment would measure the proxy, not the site.
            .no_proxy()
            .connect_timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(90));
        for (host, ip) in &config.resolve {
            // The port is ignored by reqwest; the URL's port is used.
            builder = builder.resolve(host, SocketAddr::new(*ip, 0));
        }
        let client = builder
            .build()
            .map_err(|error| TlsSetupError::Config(rustls::Error::General(error.to_string())))?;
        Ok(Prober { client, config })
    }

    /// The configuration this prober was built with.
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }

    /// Fetches a URL as the given user agent, following redirects, within the
    /// configured timeout. Never panics on what a server sends.
    pub async fn fetch(&self, url: &Url, user_agent: &str) -> Result<FetchedPage, FetchError> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.fetch_inner(url, user_agent)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn fetch_inner(&self, url: &Url, user_agent: &str) -> Result<FetchedPage, FetchError> {
        let started = Instant::now();
        let mut current = url.clone();
        let mut redirects: Vec<Hop> = Vec::new();
        loop {
            let response = self
                .client
                .get(current.clone())
                .header(header::USER_AGENT, user_agent)
                .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
                .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9,en;q=0.8")
                .send()
                .await
                .map_err(classify_error)?;
            let status = response.status().as_u16();
            if response.status().is_redirection()
                && let Some(location) = location(response.headers())
            {
                let next = current
                    .join(&location)
                    .ok()
                    .filter(|next| matches!(next.scheme(), "http" | "https"))
                    .ok_or_else(|| FetchError::BadRedirect {
                        from: current.to_string(),
                        location: location.clone(),
                    })?;
                redirects.push(Hop {
                    url: current.to_string(),
                    status,
                });
                let mut chain: Vec<String> = redirects.iter().map(|hop| hop.url.clone()).collect();
                if next == *url || redirects.iter().any(|hop| hop.url == next.as_str()) {
                    chain.push(next.to_string());
                    return Err(FetchError::RedirectLoop(chain));
                }
                if redirects.len() as u32 > self.config.max_redirects {
                    chain.push(next.to_string());
                    return Err(FetchError::TooManyRedirects {
                        limit: self.config.max_redirects,
                        chain,
                    });
                }
                current = next;
                continue;
            }
            let tls = response
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|info| info.peer_certificate())
                .and_then(tls::details);
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let (body, truncated) = read_capped(response, self.config.max_body_bytes).await?;
            return Ok(FetchedPage {
                final_url: current,
                status,
                headers,
                body,
                truncated,
                redirects,
                elapsed: started.elapsed(),
                tls,
            });
        }
    }
}

fn location(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Reads the body chunk by chunk and stops at the cap, so a 50 MB page costs
/// at most the cap in memory and download.
async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<(Vec<u8>, bool), FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify_error)? {
        let room = cap.saturating_sub(body.len() as u64) as usize;
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Turns reqwest's error into one a person can act on, naming TLS problems
/// as such (reqwest reports them as connect errors with a rustls source).
fn classify_error(error: reqwest::Error) -> FetchError {
    // reqwest and hyper wrap the cause in layers that repeat the URL
    // ("error sending request for url (…)", "client error (Connect)"); the
    // duty officer needs the causes underneath.
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(&error);
    let mut is_tls = false;
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if cause.downcast_ref::<rustls::Error>().is_some()
            || cause_text.contains("certificate")
            || cause_text.contains("tls handshake")
        {
            is_tls = true;
        }
        let wrapper = cause_text.starts_with("client error (");
        if !wrapper && !parts.iter().any(|part| part.contains(&cause_text)) {
            parts.push(cause_text);
        }
        source = cause.source();
    }
    let text = if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    };
    if is_tls {
        FetchError::Tls(text)
    } else if error.is_timeout() {
        FetchError::Timeout(Duration::ZERO)
    } else if error.is_connect() {
        FetchError::Connect(text)
    } else {
        FetchError::Http(text)
    }
}
