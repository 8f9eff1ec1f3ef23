//! What the proxy noticed and must be recorded: tamper sightings (raised
//! as incident signals with the origin's bytes as evidence) and bans (kept
//! in the store so they survive a restart). The proxy hands them to a
//! bounded queue and never waits; `server.rs` drains it into the store.

use crate::blocklist::BlockEntry;
use std::net::IpAddr;

/// One thing to record.
#[derive(Debug, Clone)]
pub enum GatewayEvent {
    /// The origin answered a guarded static path with something other than
    /// the approved file; the client got the approved file.
    Tamper(TamperSighting),
    /// The rate limiter banned a client.
    Banned(BlockEntry),
}

/// A tampered response caught in flight.
#[derive(Debug, Clone)]
pub struct TamperSighting {
    /// The plan's site name.
    pub site: String,
    /// The request path.
    pub url_path: String,
    /// The file within the guarded root.
    pub file: String,
    /// The approved content's BLAKE3.
    pub approved_blake3: String,
    /// The origin's status.
    pub origin_status: u16,
    /// The first differing byte.
    pub differs_at: usize,
    /// The origin body's length.
    pub origin_len: u64,
    /// The origin's bytes (capped).
    pub evidence: Vec<u8>,
    /// True when `evidence` is only the start of the body.
    pub evidence_truncated: bool,
    /// Who asked.
    pub client: IpAddr,
    /// Unix ms.
    pub at_ms: i64,
}
