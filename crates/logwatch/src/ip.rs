//! Client addresses as one `u128` (IPv4 mapped into IPv6 as `::ffff:a.b.c.d`),
//! so counting per address hashes and compares one integer instead of a
//! string, and CIDR blocks for the allowlist.
//!
//! Parsing works on bytes and never allocates. A field that is not an
//! address (`-`, a host name when `HostnameLookups` is on) is not an error
//! for the parsers: the record keeps its raw bytes and [`IpKey::UNKNOWN`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A client address as one integer; IPv4 addresses are mapped into IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IpKey(pub u128);

const V4_MAPPED: u128 = 0xffff_u128 << 32;

impl IpKey {
    /// The key of a field that held no parsable address (`::`).
    pub const UNKNOWN: IpKey = IpKey(0);

    /// Parses an IPv4 or IPv6 address (an IPv6 zone or brackets are
    /// accepted and dropped). Returns `None` for anything else.
    pub fn parse(bytes: &[u8]) -> Option<IpKey> {
        if let Some(v4) = parse_v4(bytes) {
            return Some(IpKey(V4_MAPPED | u128::from(v4)));
        }
        let bytes = bytes.strip_prefix(b"[").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"]").unwrap_or(bytes);
        let bytes = match memchr::memchr(b'%', bytes) {
            Some(zone) => &bytes[..zone],
            None => bytes,
        };
        if bytes.len() < 2 || bytes.len() > 45 || !bytes.contains(&b':') {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let v6: Ipv6Addr = text.parse().ok()?;
        Some(IpKey(u128::from(v6)))
    }

    /// The key of a standard address.
    pub fn from_ip(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(v4) => IpKey(V4_MAPPED | u128::from(u32::from(v4))),
            IpAddr::V6(v6) => IpKey(u128::from(v6)),
        }
    }

    /// The standard address again (IPv4 for mapped keys).
    pub fn to_ip(self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::from(self.0 as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.0))
        }
    }

    /// True for an IPv4 address.
    pub fn is_v4(self) -> bool {
        self.0 >> 32 == 0xffff
    }
}

impl fmt::Display for IpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == IpKey::UNKNOWN {
            return f.write_str("unknown");
        }
        self.to_ip().fmt(f)
    }
}

impl Serialize for IpKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IpKey::parse(text.as_bytes())
            .ok_or_else(|| serde::de::Error::custom(format!("not an IP address: {text:?}")))
    }
}

/// Parses dotted-quad IPv4 by hand: four decimal octets, no leading `+`,
/// at most three digits each.
fn parse_v4(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 7 || bytes.len() > 15 {
        return None;
    }
    let mut value: u32 = 0;
    let mut octet: u32 = 0;
    let mut digits = 0;
    let mut dots = 0;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                octet = octet * 10 + u32::from(b - b'0');
                digits += 1;
                if digits > 3 || octet > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || dots == 3 {
                    return None;
                }
                value = (value << 8) | octet;
                octet = 0;
                digits = 0;
                dots += 1;
            }
            _ => return None,
        }
    }
    if dots != 3 || digits == 0 {
        return None;
    }
    Some((value << 8) | octet)
}

/// An address block: `203.0.113.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    /// Prefix length in the 128-bit space (IPv4 lengths are shifted by 96).
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let key = IpKey::parse(address.trim().as_bytes())
            .ok_or_else(|| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if key.is_v4() { 32 } else { 128 };
        let prefix: u8 = match prefix {
            Some(p) => p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix length must be 0–{max}"))?,
            None => max,
        };
        let prefix = if key.is_v4() { prefix + 96 } else { prefix };
        let mask = mask(prefix);
        Ok(Cidr {
            network: key.0 & mask,
            prefix,
        })
    }

    /// True when the address is inside the block.
    pub fn contains(&self, ip: IpKey) -> bool {
        ip.0 & mask(self.prefix) == self.network
    }
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = IpKey(self.network);
        if key.is_v4() && self.prefix >= 96 {
            write!(f, "{}/{}", key, self.prefix - 96)
        } else {
            write!(f, "{}/{}", Ipv6Addr::from(self.network), self.prefix)
        }
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Cidr::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let parsed = IpKey::parse(input.as_bytes()).map(|k| k.to_string());
        assert_eq!(parsed.as_deref(), expected, "input {input:?}");
    }

    #[test]
    fn parses_addresses() {
        check("203.0.113.7", Some("203.0.113.7"));
        check("10.0.0.1", Some("10.0.0.1"));
        check("2001:db8::1", Some("2001:db8::1"));
        check("[2001:db8::1]", Some("2001:db8::1"));
        check("fe80::1%eth0", Some("fe80::1"));
        check("256.0.0.1", None);
        check("1.2.3", None);
        check("1.2.3.4.5", None);
        check("01234.1.1.1", None);
        check("-", None);
        check("example.gov.test", None);
        check("", None);
    }

    #[test]
    fn cidr_membership() {
        let block = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(block.contains(IpKey::parse(b"203.0.113.200").unwrap()));
        assert!(!block.contains(IpKey::parse(b"203.0.114.1").unwrap()));
        assert!(!block.contains(IpKey::parse(b"2001:db8::1").unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(IpKey::parse(b"2001:db8:1::5").unwrap()));
        assert_eq!(block.to_string(), "203.0.113.0/24");
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
        let everything = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(IpKey::parse(b"198.51.100.1").unwrap()));
    }
}
