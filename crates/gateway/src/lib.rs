//! The gateway: a reverse proxy in front of the organisation's web servers
//! that carries out the plan's containment and keeps the sites serving
//! under a flood. Its cleartext listeners are served by hyper (`h1`), its
//! TLS listeners and HTTP/2 by Cloudflare's pingora (`proxy`); see
//! ARCHITECTURE.md for why.
//!
//! - [`switch`]: per-site containment switch, serving ↔ maintenance, in
//!   force for the next request on every connection;
//! - [`integrity`], [`verify`]: static files of guarded web roots are
//!   served only as approved, from memory; the origin behind them is
//!   checked in the background and a difference reported;
//! - [`blocklist`], [`limiter`], [`conn`]: block/allow lists with expiry,
//!   per-client rate and connection caps with escalating bans, a global
//!   in-flight cap, header limits and slow-client deadlines; [`nft`]
//!   exports the blocklist for the firewall;
//! - [`decide`]: what is done with a request, whatever engine carries it;
//!   [`proxy`]: the pingora filter phases that carry it on the TLS
//!   listeners (and on the cleartext ones with `engine = "pingora"`);
//!   `h1`: the hyper engine of the cleartext listeners;
//! - [`access_log`]: nginx `combined` lines for logwatch; [`tap`]: the
//!   same requests, with their site, to live log watching in-process;
//! - [`control`]: the Unix socket through which the CLI and the runner
//!   steer a running gateway;
//! - [`server`]: starting, reloading and stopping it, and recording what
//!   it saw in the store.

#![warn(missing_docs)]

pub mod access_log;
pub mod blocklist;
pub mod client_ip;
pub mod config;
pub mod conn;
pub mod control;
pub mod decide;
mod error;
pub mod events;
mod h1;
pub mod integrity;
pub mod limiter;
pub mod nft;
mod origin_tls;
pub mod proxy;
mod rearm;
pub mod routes;
pub mod server;
mod striped;
pub mod switch;
pub mod tap;
pub mod verify;

pub use config::{
    Engine, GatewayConfig, Limits, Origin, RouteConfig, TlsListener, parse_route_flag,
};
pub use error::GatewayError;
pub use server::{GatewayHandle, Reloader, start};
pub use switch::{SiteState, SwitchNote};

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
