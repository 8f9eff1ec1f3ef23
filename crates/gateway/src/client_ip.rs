//! The client's address: the TCP peer, unless the peer is a trusted proxy,
//! in which case `X-Forwarded-For` is walked from the right past every
//! trusted hop (the nginx `real_ip_recursive on` rule). A client cannot
//! forge its address by sending its own `X-Forwarded-For` to a gateway
//! that faces the internet directly: that header is then ignored.

use crate::blocklist::canonical;
use ipnet::IpNet;
use std::net::IpAddr;

/// The address limits, bans and the access log use for this request.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&[u8]>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for.and_then(|bytes| std::str::from_utf8(bytes).ok()) else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Some(ip) = parse_hop(hop) else {
            // A malformed hop ends the walk: what lies left of it cannot be
            // trusted.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // `[2001:db8::1]:443` or `203.0.113.9:51000`
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let header = b"198.51.100.20, 203.0.113.9, 10.0.0.2".as_slice();
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("192.0.2.7"), Some(header), &trusted),
            ip("192.0.2.7")
        );
        // From a trusted peer, the rightmost untrusted hop is the client.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some(header), &trusted),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.1"), None, &trusted), ip("10.0.0.1"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some(b"evil, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some(b"[2001:db8::1]:443"), &trusted),
            ip("2001:db8::1")
        );
    }
}
