//! Who is refused and who is never refused: the blocklist (single
//! addresses and CIDR ranges, IPv4 and IPv6, each with an optional expiry)
//! and the allowlist, which always wins.
//!
//! Entries come from the plan, the control socket (people, logwatch
//! decisions) and the gateway's own rate limiter. Expired entries are
//! ignored at lookup and swept by [`Blocklist::sweep`].

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One blocked address or range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    /// The address (as a /32 or /128) or range.
    pub net: IpNet,
    /// Unix ms after which it no longer applies; None for ever.
    pub until_ms: Option<i64>,
    /// Why: "rate limit exceeded 3 times", "logwatch: sql injection", …
    pub reason: String,
    /// Who put it there: "plan", "gateway", "logwatch", a user.
    pub source: String,
    /// How many times this address has offended (ban times double).
    pub offences: u32,
}

impl BlockEntry {
    /// Whether the entry applies at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.until_ms.is_none_or(|until| until > now_ms)
    }
}

/// The blocklist and allowlist.
#[derive(Debug, Default)]
pub struct Blocklist {
    /// Single addresses, looked up by hash: the common case under a flood.
    hosts: RwLock<HashMap<IpAddr, BlockEntry>>,
    /// Ranges, scanned in order: few in practice.
    ranges: RwLock<Vec<BlockEntry>>,
    allow: RwLock<Vec<IpNet>>,
    /// How many entries each list has, kept under its write lock, so that
    /// every request's check skips an empty list without its lock — most
    /// of the time all three are empty, and a read lock shared by every
    /// thread is a cache line moved between cores on every request.
    sizes: Sizes,
}

#[derive(Debug, Default)]
struct Sizes {
    hosts: AtomicUsize,
    ranges: AtomicUsize,
    allow: AtomicUsize,
}

/// What the blocklist says about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On the allowlist: never limited.
    Allowed,
    /// Blocked by this entry.
    Blocked(BlockEntry),
    /// Neither.
    Unlisted,
}

impl Blocklist {
    /// Replaces the allowlist.
    pub fn set_allowlist(&self, nets: Vec<IpNet>) {
        let mut allow = self.allow.write().unwrap_or_else(|e| e.into_inner());
        *allow = nets;
        self.sizes.allow.store(allow.len(), Ordering::Release);
    }

    /// Adds or replaces an entry.
    pub fn insert(&self, entry: BlockEntry) {
        if is_single(&entry.net) {
            let mut hosts = self.hosts.write().unwrap_or_else(|e| e.into_inner());
            hosts.insert(entry.net.addr(), entry);
            self.sizes.hosts.store(hosts.len(), Ordering::Release);
        } else {
            let mut ranges = self.ranges.write().unwrap_or_else(|e| e.into_inner());
            ranges.retain(|existing| existing.net != entry.net);
            ranges.push(entry);
            self.sizes.ranges.store(ranges.len(), Ordering::Release);
        }
    }

    /// Removes an entry; true when there was one.
    pub fn remove(&self, net: &IpNet) -> bool {
        if is_single(net) {
            let mut hosts = self.hosts.write().unwrap_or_else(|e| e.into_inner());
            let removed = hosts.remove(&net.addr()).is_some();
            self.sizes.hosts.store(hosts.len(), Ordering::Release);
            removed
        } else {
            let mut ranges = self.ranges.write().unwrap_or_else(|e| e.into_inner());
            let before = ranges.len();
            ranges.retain(|existing| &existing.net != net);
            self.sizes.ranges.store(ranges.len(), Ordering::Release);
            ranges.len() != before
        }
    }

    /// The entry for exactly this address or range, active or not.
    pub fn get(&self, net: &IpNet) -> Option<BlockEntry> {
        if is_single(net) {
            self.hosts
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&net.addr())
                .cloned()
        } else {
            self.ranges
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|entry| &entry.net == net)
                .cloned()
        }
    }

    /// Whether `ip` is allowed, blocked or neither at `now_ms`.
    pub fn check(&self, ip: IpAddr, now_ms: i64) -> Verdict {
        let ip = canonical(ip);
        let listed = |size: &AtomicUsize| size.load(Ordering::Acquire) > 0;
        if listed(&self.sizes.allow)
            && self
                .allow
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|net| net.contains(&ip))
        {
            return Verdict::Allowed;
        }
        if listed(&self.sizes.hosts)
            && let Some(entry) = self
                .hosts
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&ip)
                .filter(|entry| entry.active(now_ms))
        {
            return Verdict::Blocked(entry.clone());
        }
        if listed(&self.sizes.ranges)
            && let Some(entry) = self
                .ranges
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|entry| entry.net.contains(&ip) && entry.active(now_ms))
        {
            return Verdict::Blocked(entry.clone());
        }
        Verdict::Unlisted
    }

    /// Drops entries that expired before `now_ms`; returns how many.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut hosts = self.hosts.write().unwrap_or_else(|e| e.into_inner());
        let before = hosts.len();
        hosts.retain(|_, entry| entry.active(now_ms));
        let mut removed = before - hosts.len();
        self.sizes.hosts.store(hosts.len(), Ordering::Release);
        drop(hosts);
        let mut ranges = self.ranges.write().unwrap_or_else(|e| e.into_inner());
        let before = ranges.len();
        ranges.retain(|entry| entry.active(now_ms));
        self.sizes.ranges.store(ranges.len(), Ordering::Release);
        removed += before - ranges.len();
        removed
    }

    /// Every active entry, ranges first, then addresses, each sorted.
    pub fn entries(&self, now_ms: i64) -> Vec<BlockEntry> {
        let mut ranges: Vec<_> = self
            .ranges
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|entry| entry.active(now_ms))
            .cloned()
            .collect();
        ranges.sort_by_key(|entry| entry.net);
        let mut hosts: Vec<_> = self
            .hosts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|entry| entry.active(now_ms))
            .cloned()
            .collect();
        hosts.sort_by_key(|entry| entry.net);
        ranges.extend(hosts);
        ranges
    }
}

fn is_single(net: &IpNet) -> bool {
    net.prefix_len() == net.max_prefix_len()
}

/// IPv4-mapped IPv6 addresses (`::ffff:203.0.113.9`, what a dual-stack
/// socket reports) are treated as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Parses `203.0.113.9`, `198.51.100.0/24` or `2001:db8::/32`.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(|ip| IpNet::from(canonical(ip)))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, until_ms: Option<i64>) -> BlockEntry {
        BlockEntry {
            net: parse_net(net).unwrap(),
            until_ms,
            reason: "test".into(),
            source: "plan".into(),
            offences: 1,
        }
    }

    #[test]
    fn addresses_and_ranges_block_until_they_expire() {
        let list = Blocklist::default();
        list.insert(entry("203.0.113.9", Some(1_000)));
        list.insert(entry("198.51.100.0/24", None));
        list.insert(entry("2001:db8::/32", None));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(matches!(
            list.check(ip("203.0.113.9"), 999),
            Verdict::Blocked(_)
        ));
        assert_eq!(list.check(ip("203.0.113.9"), 1_000), Verdict::Unlisted);
        assert!(matches!(
            list.check(ip("198.51.100.77"), 0),
            Verdict::Blocked(_)
        ));
        assert!(matches!(
            list.check(ip("2001:db8::5"), 0),
            Verdict::Blocked(_)
        ));
        assert!(matches!(
            list.check(ip("::ffff:198.51.100.1"), 0),
            Verdict::Blocked(_)
        ));
        assert_eq!(list.check(ip("192.0.2.1"), 0), Verdict::Unlisted);
        assert_eq!(list.sweep(2_000), 1);
        assert_eq!(list.entries(2_000).len(), 2);
        assert!(list.remove(&parse_net("198.51.100.0/24").unwrap()));
        assert_eq!(list.check(ip("198.51.100.77"), 0), Verdict::Unlisted);
    }

    #[test]
    fn the_allowlist_always_wins() {
        let list = Blocklist::default();
        list.insert(entry("10.0.0.0/8", None));
        list.set_allowlist(vec![parse_net("10.1.2.3").unwrap()]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(list.check(ip("10.1.2.3"), 0), Verdict::Allowed);
        assert!(matches!(list.check(ip("10.1.2.4"), 0), Verdict::Blocked(_)));
    }

    #[test]
    fn bad_addresses_are_named() {
        assert!(parse_net("not-an-ip").unwrap_err().contains("not-an-ip"));
        assert_eq!(
            parse_net("198.51.100.7/24").unwrap().to_string(),
            "198.51.100.0/24"
        );
    }
}
