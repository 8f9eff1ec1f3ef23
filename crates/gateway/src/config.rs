//! What a gateway is told to do: where it listens, which host goes to which
//! origin, whom it trusts for client addresses, and its limits. Built from
//! the plan's `[gateway]` section and its sites, or from `--route` flags.

use crate::error::GatewayError;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration of one gateway process.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Plain-HTTP listeners (HTTP/1.1, and HTTP/2 with prior knowledge).
    pub listen: Vec<SocketAddr>,
    /// TLS listeners (HTTP/1.1 and HTTP/2 by ALPN).
    pub tls: Vec<TlsListener>,
    /// One route per site.
    pub routes: Vec<RouteConfig>,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, CDNs).
    pub trusted_proxies: Vec<IpNet>,
    /// Where the access log goes, in the nginx `combined` format.
    pub access_log: Option<PathBuf>,
    /// Request, connection and time limits against floods and slow clients.
    pub limits: Limits,
    /// Addresses never limited or banned (monitoring, the office network).
    pub allowlist: Vec<IpNet>,
    /// Addresses always refused, from the plan.
    pub blocklist: Vec<IpNet>,
    /// Worker threads of the proxy.
    pub threads: usize,
    /// How long a graceful shutdown waits for requests in flight.
    pub grace: Duration,
    /// How long the gateway waits for an origin's answer (each read).
    pub origin_timeout: Duration,
    /// Extra PEM files of CA certificates `https` origins are verified
    /// against, besides the system's.
    pub origin_ca_files: Vec<PathBuf>,
    /// Where every answered request goes for live log watching, when
    /// `sitewarden serve` runs the gateway in-process.
    pub tap: Option<std::sync::Arc<crate::tap::RequestTap>>,
    /// The HTTP engine of the cleartext listeners (TLS listeners are
    /// always pingora's).
    pub engine: Engine,
}

/// The HTTP engine serving the cleartext listeners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// hyper's HTTP/1 server on per-thread `SO_REUSEPORT` listeners, one
    /// origin connection per client connection; HTTP/2 with prior
    /// knowledge is handed to pingora. The default: it reaches nginx's
    /// throughput where pingora's path did not (BENCHMARKS.md).
    #[default]
    Hyper,
    /// pingora's proxy, as on the TLS listeners.
    Pingora,
}

/// A TLS listener and its certificate.
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// How one site is served.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// The plan's site name (the containment switch is keyed by it).
    pub site: String,
    /// Host names answered for this site (without port), lower case.
    pub hosts: Vec<String>,
    /// Origin servers, tried in turn.
    pub origins: Vec<Origin>,
    /// The HTML served while the site is cut off; a built-in bilingual page
    /// when None.
    pub maintenance_page: Option<String>,
    /// The guarded web root whose approved files are verified in responses.
    pub guarded_root: Option<PathBuf>,
    /// Seconds clients are told to wait (`Retry-After`) in maintenance.
    pub retry_after_seconds: u32,
}

/// One origin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `host:port` to connect to.
    pub authority: String,
    /// Whether to speak TLS to it.
    pub tls: bool,
    /// The SNI / certificate name for TLS origins.
    pub sni: String,
    /// The address connected to: resolved when the route is built, so no
    /// request waits on name resolution. None when it did not resolve.
    pub addr: Option<SocketAddr>,
}

impl Origin {
    /// Parses `http://host:port` or `https://host[:port]`.
    pub fn parse(url: &str) -> Result<Origin, GatewayError> {
        let bad = |why: &str| GatewayError::Config(format!("origin {url:?}: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad("must be scheme://host[:port] with no path"));
        }
        let (host, port) = split_host_port(authority);
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let authority = if bare.contains(':') {
            format!("[{bare}]:{port}")
        } else {
            format!("{bare}:{port}")
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(authority.as_str())
            .ok()
            .and_then(|mut addrs| addrs.next());
        Ok(Origin {
            authority,
            tls,
            sni: bare.to_string(),
            addr,
        })
    }
}

/// Splits `host:port`, keeping IPv6 brackets on the host.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(end) = authority.find(']') {
        let (host, rest) = authority.split_at(end + 1);
        return (host, rest.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

/// Limits against floods and slow clients. Zero means "no limit" for the
/// counts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests per second one client address may make on average.
    pub rate_per_ip: f64,
    /// How many requests one client may make in a burst above the rate.
    pub burst_per_ip: f64,
    /// Open connections one client address may hold.
    pub connections_per_ip: usize,
    /// Requests handled at once across the gateway; more are shed with 503
    /// before the origin falls over.
    pub max_in_flight: usize,
    /// Requests one client (its IPv4 address, its IPv6 /64) may have in
    /// flight at once, over all its connections and HTTP/2 streams; more
    /// are refused with 429 and count towards a ban like rate refusals.
    pub in_flight_per_ip: usize,
    /// Concurrent streams one HTTP/2 connection may open (advertised in
    /// its SETTINGS; the client queues the rest).
    pub h2_streams_per_connection: u32,
    /// Largest request header block, in bytes.
    pub max_header_bytes: usize,
    /// Most request header fields.
    pub max_headers: usize,
    /// Time a client has to send a whole request header.
    pub header_timeout: Duration,
    /// Time the gateway waits for each piece of a request body.
    pub body_timeout: Duration,
    /// Time a client has to send a whole request body (a client that drips
    /// a byte at a time never trips `body_timeout`); 408 after it.
    pub body_deadline: Duration,
    /// How long a kept-alive connection may sit idle between requests
    /// (pingora's own default is for ever).
    pub keepalive_timeout: Duration,
    /// Requests refused (for rate, or over the client's in-flight cap)
    /// before a client is banned.
    pub ban_after_refusals: u32,
    /// First ban; each further offence doubles it.
    pub ban_base: Duration,
    /// Longest ban.
    pub ban_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_ip: 50.0,
            burst_per_ip: 100.0,
            connections_per_ip: 64,
            max_in_flight: 4096,
            in_flight_per_ip: 256,
            h2_streams_per_connection: 100,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            body_deadline: Duration::from_secs(120),
            keepalive_timeout: Duration::from_secs(75),
            ban_after_refusals: 200,
            ban_base: Duration::from_secs(60),
            ban_max: Duration::from_secs(24 * 3600),
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: Vec::new(),
            tls: Vec::new(),
            routes: Vec::new(),
            trusted_proxies: Vec::new(),
            access_log: None,
            limits: Limits::default(),
            allowlist: Vec::new(),
            blocklist: Vec::new(),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            grace: Duration::from_secs(5),
            origin_timeout: Duration::from_secs(60),
            origin_ca_files: Vec::new(),
            tap: None,
            engine: Engine::default(),
        }
    }
}

impl GatewayConfig {
    /// Checks what the proxy cannot work without.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.listen.is_empty() && self.tls.is_empty() {
            return Err(GatewayError::Config("no listen address".into()));
        }
        if self.routes.is_empty() {
            return Err(GatewayError::Config("no routes".into()));
        }
        let mut seen = std::collections::HashMap::new();
        for route in &self.routes {
            if route.origins.is_empty() {
                return Err(GatewayError::Config(format!(
                    "site {}: no origin",
                    route.site
                )));
            }
            for host in &route.hosts {
                if let Some(other) = seen.insert(host.clone(), route.site.clone()) {
                    return Err(GatewayError::Config(format!(
                        "host {host} is routed to both {other} and {}",
                        route.site
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Parses a `--route HOST=URL` flag into a route named after the host.
pub fn parse_route_flag(flag: &str) -> Result<RouteConfig, GatewayError> {
    let (host, url) = flag.split_once('=').ok_or_else(|| {
        GatewayError::Config(format!(
            "--route {flag:?}: expected HOST=http://ORIGIN:PORT"
        ))
    })?;
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return Err(GatewayError::Config(format!("--route {flag:?}: no host")));
    }
    let origins = url
        .split(',')
        .map(|url| Origin::parse(url.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RouteConfig {
        site: host.clone(),
        hosts: vec![host],
        origins,
        maintenance_page: None,
        guarded_root: None,
        retry_after_seconds: 300,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_with_default_ports_and_ipv6() {
        let plain = Origin::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(plain.authority, "127.0.0.1:9000");
        assert!(!plain.tls);
        // (No host names here: resolving one would leave the loopback.)
        let tls = Origin::parse("https://127.0.0.1/").unwrap();
        assert_eq!(tls.authority, "127.0.0.1:443");
        assert!(tls.tls);
        let v6 = Origin::parse("http://[::1]:8080").unwrap();
        assert_eq!(v6.authority, "[::1]:8080");
        assert_eq!(v6.addr, Some("[::1]:8080".parse().unwrap()));
        assert!(Origin::parse("ftp://x").is_err());
        assert!(Origin::parse("http://x/path").is_err());
        assert!(Origin::parse("http://x:notaport").is_err());
    }

    #[test]
    fn route_flags_name_the_site_after_the_host() {
        let route = parse_route_flag("Portal.Example.gov.test=http://127.0.0.1:9000").unwrap();
        assert_eq!(route.site, "portal.example.gov.test");
        assert_eq!(route.hosts, ["portal.example.gov.test"]);
        assert!(parse_route_flag("nohost").is_err());
    }

    #[test]
    fn a_host_on_two_routes_is_refused() {
        let mut config = GatewayConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            ..GatewayConfig::default()
        };
        config
            .routes
            .push(parse_route_flag("a.test=http://127.0.0.1:1").unwrap());
        let mut second = parse_route_flag("a.test=http://127.0.0.1:2").unwrap();
        second.site = "other".into();
        config.routes.push(second);
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("a.test"), "{error}");
    }
}
