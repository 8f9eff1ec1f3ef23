//! Which plan site a request belongs to, from the host a log line records
//! (or the site name the gateway's tap writes there).

use std::collections::HashMap;

use sitewarden_plan::Plan;

/// Host names and site names → the plan's site name.
#[derive(Debug, Clone, Default)]
pub struct SiteMap {
    by_name: HashMap<String, String>,
}

impl SiteMap {
    /// Every site's name and host names (from `hosts` and its pages' URLs).
    pub fn of(plan: &Plan) -> SiteMap {
        let mut by_name = HashMap::new();
        for site in &plan.sites {
            by_name.insert(site.name.clone(), site.name.clone());
        }
        // Host names after names: a site named like another's host keeps
        // its own name.
        for site in &plan.sites {
            for host in site.host_names() {
                by_name.entry(host).or_insert_with(|| site.name.clone());
            }
        }
        SiteMap { by_name }
    }

    /// The site of `host` as logged (any case, with or without a port).
    pub fn site_of(&self, host: &[u8]) -> Option<&str> {
        if host.is_empty() || host == b"-" {
            return None;
        }
        let text = String::from_utf8_lossy(host);
        if let Some(site) = self.by_name.get(text.as_ref()) {
            return Some(site);
        }
        let lower = text.to_ascii_lowercase();
        let bare = match lower.rsplit_once(':') {
            // `host:port`, not an IPv6 literal's last group.
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => lower.as_str(),
        };
        self.by_name
            .get(bare.trim_end_matches('.'))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hosts_and_ports() {
        let plan = sitewarden_plan::sample_plan();
        let plan = Plan::from_toml_str(&plan).unwrap();
        let map = SiteMap::of(&plan);
        let site = &plan.sites[0];
        let host = site.host_names().remove(0);
        assert_eq!(map.site_of(site.name.as_bytes()), Some(site.name.as_str()));
        assert_eq!(map.site_of(host.as_bytes()), Some(site.name.as_str()));
        assert_eq!(
            map.site_of(format!("{}:443", host.to_uppercase()).as_bytes()),
            Some(site.name.as_str())
        );
        assert_eq!(map.site_of(b"-"), None);
        assert_eq!(map.site_of(b"other.example.test"), None);
    }
}
