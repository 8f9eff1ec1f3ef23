//! The blocklist as an nftables ruleset, so a flood can be dropped at the
//! firewall before it reaches the gateway (`nft -f FILE`).
//!
//! Two interval sets (IPv4, IPv6) in their own `inet sitewarden` table;
//! entries with an expiry carry an nftables `timeout` so the kernel drops
//! them at the same moment the gateway does. Loading the file replaces the
//! table as a whole (create, `delete`, define), so re-exporting is idempotent.

use crate::blocklist::BlockEntry;
use std::fmt::Write;

/// Renders `entries` (active at `now_ms`) as an nftables script.
pub fn render(entries: &[BlockEntry], now_ms: i64) -> String {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for entry in entries.iter().filter(|entry| entry.active(now_ms)) {
        let mut element = entry.net.to_string();
        if entry.net.prefix_len() == entry.net.max_prefix_len() {
            element = entry.net.addr().to_string();
        }
        if let Some(until) = entry.until_ms {
            // nftables timeouts are whole seconds; round up so the kernel
            // never lets a banned client in before the gateway would.
            let seconds = ((until - now_ms).max(1) + 999) / 1000;
            let _ = write!(element, " timeout {seconds}s");
        }
        match entry.net {
            ipnet::IpNet::V4(_) => v4.push(element),
            ipnet::IpNet::V6(_) => v6.push(element),
        }
    }
    let mut out = String::new();
    out.push_str("#!/usr/sbin/nft -f\n# Written by sitewarden: the gateway's blocklist.\n");
    out.push_str("table inet sitewarden\ndelete table inet sitewarden\n");
    out.push_str("table inet sitewarden {\n");
    for (name, kind, elements) in [
        ("blocked4", "ipv4_addr", &v4),
        ("blocked6", "ipv6_addr", &v6),
    ] {
        let _ = writeln!(
            out,
            "\tset {name} {{\n\t\ttype {kind}\n\t\tflags interval, timeout"
        );
        if !elements.is_empty() {
            let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(", "));
        }
        out.push_str("\t}\n");
    }
    out.push_str(
        "\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n\
         \t\tip saddr @blocked4 drop\n\t\tip6 saddr @blocked6 drop\n\t}\n}\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::parse_net;

    fn entry(net: &str, until_ms: Option<i64>) -> BlockEntry {
        BlockEntry {
            net: parse_net(net).unwrap(),
            until_ms,
            reason: "flood".into(),
            source: "gateway".into(),
            offences: 1,
        }
    }

    #[test]
    fn sets_carry_addresses_ranges_and_timeouts() {
        let text = render(
            &[
                entry("203.0.113.9", Some(90_500)),
                entry("198.51.100.0/24", None),
                entry("2001:db8::7", None),
                entry("192.0.2.1", Some(10)),
            ],
            1_000,
        );
        assert!(
            text.contains("elements = { 203.0.113.9 timeout 90s, 198.51.100.0/24 }"),
            "{text}"
        );
        assert!(text.contains("elements = { 2001:db8::7 }"), "{text}");
        assert!(!text.contains("192.0.2.1"), "expired entries are left out");
        assert!(text.contains("ip saddr @blocked4 drop"));
        assert!(text.contains("delete table inet sitewarden"));
    }
}
