//! The gateway and containment sections of the plan: where sitewarden's
//! reverse proxy listens and its limits (`[gateway]`), which origin each
//! site behind it has (`sites.origins`), and how each site is cut off from
//! external service (`[sites.containment]`: the gateway, the
//! organisation's own nginx, or a command).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[gateway]`: sitewarden's reverse proxy. Absent: no gateway runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// Plain-HTTP listen addresses (`"0.0.0.0:80"`, `"[::]:80"`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// TLS listeners with their certificate files.
    #[serde(default)]
    pub tls: Vec<GatewayTls>,
    /// The access log (nginx `combined` format); relative paths are under
    /// the data directory. Default `gateway-access.log` there.
    #[serde(default)]
    pub access_log: Option<PathBuf>,
    /// Extra PEM files of CA certificates that `https` origins'
    /// certificates are verified against, besides the system's: for web
    /// servers inside signed by a private or government CA.
    #[serde(default)]
    pub origin_ca_files: Vec<PathBuf>,
    /// Load balancers or CDNs in front of the gateway whose
    /// `X-Forwarded-For` is believed (addresses or CIDR ranges).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Addresses or ranges never limited or banned (monitoring, the office).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Addresses or ranges always refused.
    #[serde(default)]
    pub blocklist: Vec<String>,
    /// Proxy worker threads; default: one per core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// The HTTP engine of the plain-HTTP listeners (the TLS listeners are
    /// always pingora's); default: the gateway's own choice (hyper).
    #[serde(default)]
    pub engine: Option<GatewayEngine>,
    /// Limits against floods and slow clients.
    #[serde(default)]
    pub limits: GatewayLimits,
}

/// `[gateway] engine`: what serves the plain-HTTP listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayEngine {
    /// hyper's HTTP/1 server, one origin connection per client connection
    /// (HTTP/2 with prior knowledge is handed to pingora).
    Hyper,
    /// pingora's proxy, as on the TLS listeners.
    Pingora,
}

/// A TLS listener (`[[gateway.tls]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayTls {
    /// Address to listen on (`"0.0.0.0:443"`).
    pub listen: String,
    /// PEM certificate chain file.
    pub cert: PathBuf,
    /// PEM private key file.
    pub key: PathBuf,
}

/// `[gateway.limits]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayLimits {
    /// Requests per second one client address may make on average.
    pub rate_per_ip: f64,
    /// Requests one client may make in a burst above the rate.
    pub burst_per_ip: f64,
    /// Open connections per client address (0: no cap).
    pub connections_per_ip: usize,
    /// Requests handled at once; more are shed with 503 (0: no cap).
    pub max_in_flight: usize,
    /// Requests one client address (an IPv6 client: its /64) may have in
    /// flight at once, over all its connections and HTTP/2 streams; more
    /// get 429 (0: no cap).
    pub in_flight_per_ip: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_streams_per_connection: u32,
    /// Largest request header block in bytes.
    pub max_header_bytes: usize,
    /// Most request header fields.
    pub max_headers: usize,
    /// Seconds a client has to send a whole request header.
    pub header_timeout_seconds: u32,
    /// Seconds the gateway waits for each piece of a request body.
    pub body_timeout_seconds: u32,
    /// Seconds a client has to send a whole request body.
    pub body_deadline_seconds: u32,
    /// Seconds a kept-alive connection may sit idle between requests.
    pub keepalive_timeout_seconds: u32,
    /// Refusals (over the rate, or over `in_flight_per_ip`) before a client
    /// is banned (0: never ban).
    pub ban_after_refusals: u32,
    /// The first ban in seconds; each further offence doubles it.
    pub ban_base_seconds: u32,
    /// The longest ban in seconds.
    pub ban_max_seconds: u32,
}

impl Default for GatewayLimits {
    fn default() -> Self {
        GatewayLimits {
            rate_per_ip: 50.0,
            burst_per_ip: 100.0,
            connections_per_ip: 64,
            max_in_flight: 4096,
            in_flight_per_ip: 256,
            h2_streams_per_connection: 100,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            header_timeout_seconds: 10,
            body_timeout_seconds: 15,
            body_deadline_seconds: 120,
            keepalive_timeout_seconds: 75,
            ban_after_refusals: 200,
            ban_base_seconds: 60,
            ban_max_seconds: 24 * 3600,
        }
    }
}

/// How a site is cut off (`[sites.containment]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Containment {
    /// Which backend carries out "cut off external service".
    pub backend: ContainmentBackend,
    /// For `backend = "nginx"`.
    #[serde(default)]
    pub nginx: Option<NginxContainment>,
    /// For `backend = "command"`.
    #[serde(default)]
    pub command: Option<CommandContainment>,
}

/// The containment backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainmentBackend {
    /// sitewarden's gateway serves the maintenance page (the site must have
    /// `origins`).
    Gateway,
    /// The organisation's nginx: a maintenance include, `nginx -t`, reload.
    Nginx,
    /// A command run with the site as argument.
    Command,
    /// Nothing automatic: people cut the site off by hand.
    None,
}

impl ContainmentBackend {
    /// The plan's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainmentBackend::Gateway => "gateway",
            ContainmentBackend::Nginx => "nginx",
            ContainmentBackend::Command => "command",
            ContainmentBackend::None => "none",
        }
    }
}

/// `[sites.containment.nginx]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NginxContainment {
    /// The include file sitewarden writes, included by the operator inside
    /// the site's `server {}` block.
    pub include: PathBuf,
    /// The maintenance page written beside it; the site's
    /// `maintenance_page` when absent, else a built-in bilingual page.
    #[serde(default)]
    pub maintenance_page: Option<PathBuf>,
    /// The nginx binary.
    #[serde(default = "default_nginx")]
    pub binary: String,
    /// The main configuration (`nginx -c`); nginx's default when absent.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// The reload command; default `nginx [-c CONFIG] -s reload`.
    #[serde(default)]
    pub reload: Option<Vec<String>>,
    /// Seconds each nginx command may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

/// `[sites.containment.command]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandContainment {
    /// The program and its arguments, run without a shell; `{site}`,
    /// `{state}`, `{reason}`, `{by}` and `{hosts}` are replaced wherever
    /// they appear in an argument, and a value never splits an argument.
    pub argv: Vec<String>,
    /// Seconds it may take before it is killed.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

fn default_nginx() -> String {
    "nginx".into()
}

fn default_timeout() -> u32 {
    30
}
