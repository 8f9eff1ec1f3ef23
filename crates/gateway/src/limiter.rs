//! Per-client limits: a token bucket of requests per address, a cap on open
//! connections per address, a cap on the requests one client has in flight
//! (over all its connections and HTTP/2 streams), and a global cap on
//! requests in flight that sheds load with 503 before the origin falls over.
//!
//! A client that keeps hitting its rate limit is banned; each further
//! offence doubles the ban (capped), and bans expire by themselves. The
//! state is sharded by address so a flood from many sources does not
//! serialise on one lock, and idle clients are swept so memory stays
//! bounded.

use crate::blocklist::{BlockEntry, canonical};
use crate::config::Limits;
use arc_swap::ArcSwap;
use ipnet::IpNet;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SHARDS: usize = 32;
/// Clients tracked per shard before idle ones are swept on insert.
const SHARD_SOFT_CAP: usize = 8192;

/// One shard's clients by address.
type Clients = HashMap<IpAddr, Client, foldhash::fast::RandomState>;

#[derive(Debug)]
struct Client {
    tokens: f64,
    refilled: Instant,
    /// Requests refused for rate since the last ban.
    refusals: u32,
    /// Bans so far (kept while the client is remembered).
    offences: u32,
    connections: usize,
    /// Requests of this client being handled now.
    in_flight: usize,
}

/// What the limiter says about one request.
#[derive(Debug, Clone, PartialEq)]
pub enum RateVerdict {
    /// Go ahead.
    Pass,
    /// Over the rate: answer 429.
    Refuse,
    /// Over the rate too often: answer 429 and ban with this entry.
    Ban(BlockEntry),
}

/// The per-address limits and the global in-flight cap.
#[derive(Debug)]
pub struct Limiter {
    /// Swapped whole when the configuration is reloaded; the per-client
    /// state (tokens, counts, offences) stays.
    limits: ArcSwap<Limits>,
    shards: Vec<Mutex<Clients>>,
    /// Picks an address's shard. foldhash rather than SipHash: every
    /// request hashes its client once or twice, and the seed is random
    /// per process.
    hasher: foldhash::fast::RandomState,
    in_flight: AtomicUsize,
}

impl Limiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits: ArcSwap::from_pointee(limits),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Clients::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> arc_swap::Guard<Arc<Limits>> {
        self.limits.load()
    }

    /// Puts new limits in force (a reload): for the next request and the
    /// next connection; what clients have used so far is kept.
    pub fn set_limits(&self, limits: Limits) {
        self.limits.store(Arc::new(limits));
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<Clients> {
        &self.shards[self.hasher.hash_one(ip) as usize % SHARDS]
    }

    fn with_client<R>(&self, ip: IpAddr, now: Instant, f: impl FnOnce(&mut Client) -> R) -> R {
        let mut shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= SHARD_SOFT_CAP && !shard.contains_key(&ip) {
            let limits = self.limits.load();
            let (burst, rate) = (limits.burst_per_ip, limits.rate_per_ip);
            shard.retain(|_, client| {
                client.connections > 0
                    || client.in_flight > 0
                    || client.offences > 0
                    || refilled(client, now, rate, burst) < burst
            });
        }
        let client = shard.entry(ip).or_insert_with(|| Client {
            tokens: self.limits.load().burst_per_ip,
            refilled: now,
            refusals: 0,
            offences: 0,
            connections: 0,
            in_flight: 0,
        });
        f(client)
    }

    /// Takes one request token for `ip`.
    pub fn check_rate(&self, ip: IpAddr, now: Instant, now_ms: i64) -> RateVerdict {
        let limits = self.limits.load();
        if limits.rate_per_ip <= 0.0 {
            return RateVerdict::Pass;
        }
        let ip = client_key(ip);
        self.with_client(ip, now, |client| {
            client.tokens = refilled(client, now, limits.rate_per_ip, limits.burst_per_ip);
            client.refilled = now;
            if client.tokens >= 1.0 {
                client.tokens -= 1.0;
                return RateVerdict::Pass;
            }
            client.refusals += 1;
            if limits.ban_after_refusals == 0 || client.refusals < limits.ban_after_refusals {
                return RateVerdict::Refuse;
            }
            client.refusals = 0;
            client.offences += 1;
            let ban = ban_length(&limits, client.offences);
            RateVerdict::Ban(BlockEntry {
                net: client_net(ip),
                until_ms: Some(now_ms + ban.as_millis() as i64),
                reason: format!(
                    "more than {} requests/s (burst {}) — offence {}, banned for {}",
                    limits.rate_per_ip,
                    limits.burst_per_ip,
                    client.offences,
                    humanize(ban)
                ),
                source: "gateway".into(),
                offences: client.offences,
            })
        })
    }

    /// Counts a new connection from `ip`; None when it is over its cap
    /// (the caller drops the connection).
    pub fn open_connection(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let ip = client_key(ip);
        let cap = self.limits.load().connections_per_ip;
        let admitted = self.with_client(ip, Instant::now(), |client| {
            if cap > 0 && client.connections >= cap {
                false
            } else {
                client.connections += 1;
                true
            }
        });
        admitted.then(|| ConnectionSlot {
            limiter: self.clone(),
            ip,
        })
    }

    fn close_connection(&self, ip: IpAddr) {
        let mut shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = shard.get_mut(&ip) {
            client.connections = client.connections.saturating_sub(1);
        }
    }

    /// Takes one of `ip`'s slots of the per-client in-flight cap: `Ok(None)`
    /// when there is no cap, an `Err` (429, and perhaps a ban) when the
    /// client already has its share of requests in flight. One HTTP/2
    /// connection carries many requests at once, so the connection cap
    /// alone does not bound them. Each refusal counts towards a ban as a
    /// rate refusal does: a client that keeps more requests open than any
    /// browser would is flooding.
    pub fn begin_client_request(
        self: &Arc<Self>,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<Option<ClientInFlight>, RateVerdict> {
        let limits = self.limits.load();
        let cap = limits.in_flight_per_ip;
        if cap == 0 {
            return Ok(None);
        }
        let ip = client_key(ip);
        self.with_client(ip, Instant::now(), |client| {
            if client.in_flight < cap {
                client.in_flight += 1;
                return Ok(());
            }
            client.refusals += 1;
            if limits.ban_after_refusals == 0 || client.refusals < limits.ban_after_refusals {
                return Err(RateVerdict::Refuse);
            }
            client.refusals = 0;
            client.offences += 1;
            let ban = ban_length(&limits, client.offences);
            Err(RateVerdict::Ban(BlockEntry {
                net: client_net(ip),
                until_ms: Some(now_ms + ban.as_millis() as i64),
                reason: format!(
                    "more than {cap} requests in flight at once — offence {}, banned for {}",
                    client.offences,
                    humanize(ban)
                ),
                source: "gateway".into(),
                offences: client.offences,
            }))
        })?;
        Ok(Some(ClientInFlight {
            limiter: self.clone(),
            ip,
        }))
    }

    fn end_client_request(&self, ip: IpAddr) {
        let mut shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = shard.get_mut(&ip) {
            client.in_flight = client.in_flight.saturating_sub(1);
        }
    }

    /// Requests `ip`'s client has in flight now.
    pub fn client_in_flight(&self, ip: IpAddr) -> usize {
        let ip = client_key(ip);
        let shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        shard.get(&ip).map_or(0, |client| client.in_flight)
    }

    /// Takes a slot of the global in-flight cap; None means shed (503).
    pub fn begin_request(self: &Arc<Self>) -> Option<InFlight> {
        let cap = self.limits.load().max_in_flight;
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if cap > 0 && before >= cap {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlight {
            limiter: self.clone(),
        })
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Clients remembered now (for memory bounds in tests and metrics).
    pub fn tracked_clients(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

fn refilled(client: &Client, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(client.refilled).as_secs_f64();
    (client.tokens + elapsed * rate).min(burst)
}

/// The key a client is limited by: its IPv4 address, or its IPv6 /64 (a
/// host usually holds a whole /64 and could otherwise rotate through it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The range a ban covers: the address (IPv4) or its /64 (IPv6).
fn client_net(key: IpAddr) -> IpNet {
    match key {
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix")),
        v4 => IpNet::from(v4),
    }
}

/// The ban for the `offences`-th offence: base × 2^(offences−1), capped.
pub fn ban_length(limits: &Limits, offences: u32) -> Duration {
    let doublings = offences.saturating_sub(1).min(30);
    limits
        .ban_base
        .saturating_mul(1u32 << doublings)
        .min(limits.ban_max)
}

fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs.is_multiple_of(3600) && secs >= 3600 {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// An open connection counted against its address; uncounted on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    limiter: Arc<Limiter>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limiter.close_connection(self.ip);
    }
}

/// A request counted against its client's in-flight cap; uncounted on
/// drop.
#[derive(Debug)]
pub struct ClientInFlight {
    limiter: Arc<Limiter>,
    ip: IpAddr,
}

impl Drop for ClientInFlight {
    fn drop(&mut self) {
        self.limiter.end_client_request(self.ip);
    }
}

/// A request counted against the global cap; uncounted on drop.
#[derive(Debug)]
pub struct InFlight {
    limiter: Arc<Limiter>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.limiter.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            rate_per_ip: 10.0,
            burst_per_ip: 5.0,
            connections_per_ip: 2,
            max_in_flight: 3,
            ban_after_refusals: 3,
            ban_base: Duration::from_secs(60),
            ban_max: Duration::from_secs(300),
            ..Limits::default()
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_refuses_then_bans_double() {
        let limiter = Limiter::new(limits());
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check_rate(ip, start, 0), RateVerdict::Pass);
        }
        assert_eq!(limiter.check_rate(ip, start, 0), RateVerdict::Refuse);
        assert_eq!(limiter.check_rate(ip, start, 0), RateVerdict::Refuse);
        let RateVerdict::Ban(first) = limiter.check_rate(ip, start, 0) else {
            panic!("third refusal bans");
        };
        assert_eq!(first.until_ms, Some(60_000));
        assert!(first.reason.contains("1 min"), "{}", first.reason);
        for _ in 0..2 {
            limiter.check_rate(ip, start, 0);
        }
        let RateVerdict::Ban(second) = limiter.check_rate(ip, start, 0) else {
            panic!("second offence bans again");
        };
        assert_eq!(second.until_ms, Some(120_000));
        assert_eq!(second.offences, 2);
        // After 100 ms at 10/s one token is back.
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.check_rate(ip, later, 0), RateVerdict::Pass);
        assert_eq!(ban_length(&limits(), 10), Duration::from_secs(300));
    }

    #[test]
    fn connections_and_in_flight_are_capped_and_released() {
        let limiter = Arc::new(Limiter::new(limits()));
        let ip: IpAddr = "127.0.0.10".parse().unwrap();
        let a = limiter.open_connection(ip).unwrap();
        let _b = limiter.open_connection(ip).unwrap();
        assert!(limiter.open_connection(ip).is_none());
        drop(a);
        assert!(limiter.open_connection(ip).is_some());
        let requests: Vec<_> = (0..3).map(|_| limiter.begin_request().unwrap()).collect();
        assert!(limiter.begin_request().is_none());
        drop(requests);
        assert_eq!(limiter.in_flight(), 0);
    }

    #[test]
    fn requests_in_flight_per_client_are_capped_refusals_ban_and_slots_come_back() {
        let limiter = Arc::new(Limiter::new(Limits {
            in_flight_per_ip: 2,
            ..limits()
        }));
        let ip: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:1:2::2".parse().unwrap();
        let a = limiter.begin_client_request(ip, 0).unwrap().unwrap();
        let _b = limiter.begin_client_request(neighbour, 0).unwrap().unwrap();
        // The same /64: one client, at its cap.
        assert_eq!(limiter.client_in_flight(ip), 2);
        assert_eq!(
            limiter.begin_client_request(ip, 0).unwrap_err(),
            RateVerdict::Refuse
        );
        assert_eq!(
            limiter.begin_client_request(ip, 0).unwrap_err(),
            RateVerdict::Refuse
        );
        let Err(RateVerdict::Ban(ban)) = limiter.begin_client_request(ip, 0) else {
            panic!("the third refusal bans");
        };
        assert_eq!(ban.net.to_string(), "2001:db8:1:2::/64");
        assert!(
            ban.reason.contains("2 requests in flight"),
            "{}",
            ban.reason
        );
        drop(a);
        assert!(limiter.begin_client_request(ip, 0).unwrap().is_some());
        let other: IpAddr = "127.0.0.11".parse().unwrap();
        assert!(limiter.begin_client_request(other, 0).unwrap().is_some());
        let uncapped = Arc::new(Limiter::new(Limits {
            in_flight_per_ip: 0,
            ..limits()
        }));
        assert!(uncapped.begin_client_request(ip, 0).unwrap().is_none());
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_slash_64() {
        let limiter = Limiter::new(limits());
        let start = Instant::now();
        let mut verdicts = Vec::new();
        for host in 0..20u16 {
            let ip: IpAddr = format!("2001:db8:1:2::{host:x}").parse().unwrap();
            verdicts.push(limiter.check_rate(ip, start, 0));
        }
        let RateVerdict::Ban(ban) = verdicts.last().unwrap().clone() else {
            panic!("rotating addresses in one /64 is one client: {verdicts:?}");
        };
        assert_eq!(ban.net.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            client_key("::ffff:203.0.113.9".parse().unwrap()),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn idle_clients_are_forgotten_when_a_shard_fills() {
        let limiter = Limiter::new(Limits {
            rate_per_ip: 1000.0,
            burst_per_ip: 1.0,
            ..limits()
        });
        let start = Instant::now();
        for i in 0..(SHARDS * SHARD_SOFT_CAP * 2) as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            limiter.check_rate(ip, start + Duration::from_millis(u64::from(i)), 0);
        }
        assert!(
            limiter.tracked_clients() <= SHARDS * SHARD_SOFT_CAP + SHARDS,
            "{}",
            limiter.tracked_clients()
        );
    }
}
