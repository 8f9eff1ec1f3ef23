//! Semantic rules over the `[gateway]` section and each site's `origins`
//! and `containment`: addresses parse, limits make sense, each backend has
//! what it needs, and a gateway has sites to serve.

use super::{Checker, SiteParts};
use crate::model::Site;
use crate::path;

impl Checker {
    pub(super) fn gateway(
        &mut self,
        gateway: &crate::gateway::GatewaySettings,
        sites: &[SiteParts<'_>],
    ) {
        if gateway.listen.is_empty() && gateway.tls.is_empty() {
            self.report(
                "gateway.listen",
                "the gateway needs at least one listen address (listen = [\"0.0.0.0:80\"]) or a [[gateway.tls]] listener",
            );
        }
        for (index, address) in gateway.listen.iter().enumerate() {
            self.socket_address(path::index("gateway.listen", index), address);
        }
        for (index, tls) in gateway.tls.iter().enumerate() {
            let at = path::index("gateway.tls", index);
            self.socket_address(path::key(&at, "listen"), &tls.listen);
        }
        for key in ["trusted_proxies", "allowlist", "blocklist"] {
            let list = match key {
                "trusted_proxies" => &gateway.trusted_proxies,
                "allowlist" => &gateway.allowlist,
                _ => &gateway.blocklist,
            };
            for (index, net) in list.iter().enumerate() {
                if !is_ip_or_cidr(net) {
                    self.report(
                        path::index(&format!("gateway.{key}"), index),
                        format!("{} is not an IP address or CIDR range", path::quoted(net)),
                    );
                }
            }
        }
        if gateway.threads == Some(0) {
            self.report("gateway.threads", "must be at least 1");
        }
        let limits = &gateway.limits;
        if !(limits.rate_per_ip >= 0.0 && limits.rate_per_ip.is_finite()) {
            self.report(
                "gateway.limits.rate_per_ip",
                "must be a number ≥ 0 (0: no rate limit)",
            );
        }
        if limits.rate_per_ip > 0.0
            && !(limits.burst_per_ip >= 1.0 && limits.burst_per_ip.is_finite())
        {
            self.report(
                "gateway.limits.burst_per_ip",
                "must be at least 1 when rate_per_ip is set",
            );
        }
        for (key, value) in [
            ("header_timeout_seconds", limits.header_timeout_seconds),
            ("body_timeout_seconds", limits.body_timeout_seconds),
            ("body_deadline_seconds", limits.body_deadline_seconds),
            (
                "keepalive_timeout_seconds",
                limits.keepalive_timeout_seconds,
            ),
            ("ban_base_seconds", limits.ban_base_seconds),
            ("ban_max_seconds", limits.ban_max_seconds),
        ] {
            if value == 0 {
                self.report(format!("gateway.limits.{key}"), "must be at least 1");
            }
        }
        if limits.ban_max_seconds < limits.ban_base_seconds {
            self.report(
                "gateway.limits.ban_max_seconds",
                "must not be shorter than ban_base_seconds",
            );
        }
        if limits.max_in_flight != 0 && limits.in_flight_per_ip > limits.max_in_flight {
            self.report(
                "gateway.limits.in_flight_per_ip",
                format!(
                    "must not exceed max_in_flight ({}), or one client could take every slot",
                    limits.max_in_flight
                ),
            );
        }
        if !(1..=1000).contains(&limits.h2_streams_per_connection) {
            self.report(
                "gateway.limits.h2_streams_per_connection",
                "must be between 1 and 1000",
            );
        }
        if limits.max_header_bytes != 0 && limits.max_header_bytes < 1024 {
            self.report(
                "gateway.limits.max_header_bytes",
                "must be at least 1024 (or 0: no limit)",
            );
        }
        let behind = sites
            .iter()
            .filter_map(|parts| parts.site)
            .any(|site| !site.origins.is_empty());
        if !behind && !sites.is_empty() {
            self.report(
                "gateway",
                "no site has origins: list each site's web servers in origins = [\"http://…\"] to serve it through the gateway",
            );
        }
    }

    fn socket_address(&mut self, at: String, address: &str) {
        if address.parse::<std::net::SocketAddr>().is_err() {
            self.report(
                at,
                format!(
                    "{} is not an address and port (\"0.0.0.0:80\", \"[::]:443\")",
                    path::quoted(address)
                ),
            );
        }
    }

    pub(super) fn site_gateway(&mut self, at: &str, site: &Site, gateway: Option<bool>) {
        for (index, origin) in site.origins.iter().enumerate() {
            if let Err(why) = origin_shape(origin) {
                self.report(
                    path::index(&path::key(at, "origins"), index),
                    format!("{}: {why}", path::quoted(origin)),
                );
            }
        }
        if gateway == Some(false) && !site.origins.is_empty() {
            self.report(
                path::key(at, "origins"),
                "the site has origins but the plan has no [gateway] section to serve them",
            );
        }
        let Some(containment) = &site.containment else {
            return;
        };
        let at = path::key(at, "containment");
        use crate::gateway::ContainmentBackend;
        match containment.backend {
            ContainmentBackend::Gateway => {
                if site.origins.is_empty() {
                    self.report(
                        path::key(&at, "backend"),
                        "backend \"gateway\" needs the site's origins, so the gateway can serve it",
                    );
                }
            }
            ContainmentBackend::Nginx => match &containment.nginx {
                None => self.report(
                    path::key(&at, "nginx"),
                    "backend \"nginx\" needs [sites.containment.nginx] with include = \"/etc/nginx/…\"",
                ),
                Some(nginx) => {
                    if !nginx.include.is_absolute() {
                        self.report(path::key(&path::key(&at, "nginx"), "include"), "must be an absolute path");
                    }
                    if nginx.timeout_seconds == 0 {
                        self.report(path::key(&path::key(&at, "nginx"), "timeout_seconds"), "must be at least 1");
                    }
                    if nginx.reload.as_ref().is_some_and(|argv| argv.is_empty()) {
                        self.report(path::key(&path::key(&at, "nginx"), "reload"), "must name a program");
                    }
                }
            },
            ContainmentBackend::Command => match &containment.command {
                None => self.report(
                    path::key(&at, "command"),
                    "backend \"command\" needs [sites.containment.command] with argv = [\"/usr/local/bin/…\", \"{site}\"]",
                ),
                Some(command) => {
                    if command.argv.first().is_none_or(|program| program.trim().is_empty()) {
                        self.report(path::key(&path::key(&at, "command"), "argv"), "must name a program");
                    }
                    if command.timeout_seconds == 0 {
                        self.report(path::key(&path::key(&at, "command"), "timeout_seconds"), "must be at least 1");
                    }
                }
            },
            ContainmentBackend::None => {}
        }
    }
}

/// An origin is `http(s)://host[:port]`, nothing after.
fn origin_shape(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or("an origin starts with http:// or https://")?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err("no host");
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err("an origin is scheme://host[:port], with no path");
    }
    if url::Url::parse(origin).is_err() {
        return Err("not a valid URL");
    }
    Ok(())
}

fn is_ip_or_cidr(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = address.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|prefix| prefix.parse::<u8>().is_ok_and(|bits| bits <= max))
}
