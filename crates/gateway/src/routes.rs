//! Which site a request is for (by its Host), where that site's origins
//! are, and what its maintenance page says. Rebuilt as a whole on reload
//! and swapped in atomically; the containment switches live outside it
//! (in the [`Switchboard`]) so a reload never changes a site's mode.

use crate::config::{Origin, RouteConfig};
use crate::switch::{SiteSwitch, Switchboard};
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One site's route.
#[derive(Debug)]
pub struct Route {
    /// The plan's site name.
    pub site: String,
    /// Its origins, used in turn.
    pub origins: Vec<Origin>,
    next: AtomicUsize,
    /// The maintenance page, ready to send.
    pub maintenance_page: Bytes,
    /// `Retry-After` seconds in maintenance.
    pub retry_after: u32,
    /// The site's containment switch.
    pub switch: Arc<SiteSwitch>,
    /// Whether the site's static files are verified against a guarded root.
    pub guarded: bool,
}

impl Route {
    /// The origin for the `attempt`-th try of a request (0 first): round
    /// robin across requests, the next one on a retry.
    pub fn origin(&self, attempt: usize, start: &mut Option<usize>) -> Option<&Origin> {
        if attempt >= self.origins.len() {
            return None;
        }
        let first = *start
            .get_or_insert_with(|| self.next.fetch_add(1, Ordering::Relaxed) % self.origins.len());
        self.origins.get((first + attempt) % self.origins.len())
    }
}

/// Host name → route.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_host: HashMap<String, Arc<Route>>,
    sites: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Builds the table from the configuration, taking each site's switch
    /// from `switches`.
    pub fn build(routes: &[RouteConfig], switches: &Switchboard) -> RouteTable {
        let mut table = RouteTable::default();
        for config in routes {
            let route = Arc::new(Route {
                site: config.site.clone(),
                origins: config.origins.clone(),
                next: AtomicUsize::new(0),
                maintenance_page: Bytes::from(
                    config
                        .maintenance_page
                        .clone()
                        .unwrap_or_else(|| default_maintenance_page(&config.site)),
                ),
                retry_after: config.retry_after_seconds,
                switch: switches.switch(&config.site),
                guarded: config.guarded_root.is_some(),
            });
            for host in &config.hosts {
                table
                    .by_host
                    .insert(host.to_ascii_lowercase(), route.clone());
            }
            table.sites.push(route);
        }
        table
    }

    /// The route for a Host header value (`Portal.Example.gov.test:8080.`).
    pub fn lookup(&self, host: &str) -> Option<&Arc<Route>> {
        let (name, _) = crate::config::split_host_port(host.trim());
        let name = name.trim_end_matches('.');
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.by_host.get(&name.to_ascii_lowercase());
        }
        self.by_host.get(name)
    }

    /// The route of a site by its name or one of its host names.
    pub fn site(&self, site_or_host: &str) -> Option<&Arc<Route>> {
        self.sites
            .iter()
            .find(|route| route.site == site_or_host)
            .or_else(|| self.lookup(site_or_host))
    }

    /// Every route, in configuration order.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.sites
    }

    /// A copy with routes of its own (new `Arc`s, the same switches and
    /// pages), for one thread: see [`lookup_on_this_thread`].
    fn copy(&self) -> RouteTable {
        let mut table = RouteTable::default();
        let mut copies: HashMap<*const Route, Arc<Route>> = HashMap::new();
        for route in &self.sites {
            let copy = Arc::new(Route {
                site: route.site.clone(),
                origins: route.origins.clone(),
                next: AtomicUsize::new(route.next.load(Ordering::Relaxed)),
                maintenance_page: route.maintenance_page.clone(),
                retry_after: route.retry_after,
                switch: route.switch.clone(),
                guarded: route.guarded,
            });
            copies.insert(Arc::as_ptr(route), copy.clone());
            table.sites.push(copy);
        }
        for (host, route) in &self.by_host {
            if let Some(copy) = copies.get(&Arc::as_ptr(route)) {
                table.by_host.insert(host.clone(), copy.clone());
            }
        }
        table
    }
}

thread_local! {
    /// This thread's copy of the table it last looked in, and that table.
    static THIS_THREADS: RefCell<Option<(Arc<RouteTable>, RouteTable)>> =
        const { RefCell::new(None) };
}

/// The route for `host` in the `current` table, from this thread's own
/// copy of it (made again when the table was replaced by a reload).
///
/// Every request keeps its route (an `Arc`) for as long as it runs; with
/// one table for all threads, each request's clone and drop of its route
/// would move the route's reference count between cores. With a copy per
/// thread each count stays on its thread. Containment is unchanged: the
/// copies share the site's switch.
pub fn lookup_on_this_thread(current: &ArcSwap<RouteTable>, host: &str) -> Option<Arc<Route>> {
    let table = current.load();
    THIS_THREADS.with_borrow_mut(|copy| {
        let copy = match copy {
            Some((of, copy)) if Arc::ptr_eq(of, &table) => copy,
            _ => &mut copy.insert((Arc::clone(&table), table.copy())).1,
        };
        copy.lookup(host).cloned()
    })
}

/// The page served while a site is cut off: bilingual, no external
/// resources, nothing that reveals why.
pub fn default_maintenance_page(site: &str) -> String {
    let site = site
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>网站维护中 / Under maintenance</title></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:4em auto;text-align:center\">\
         <h1>网站维护中</h1><p>本网站正在进行系统维护，暂停访问，请稍后再试。给您带来不便，敬请谅解。</p>\
         <h2>Under maintenance</h2><p>This site is temporarily unavailable for maintenance. Please try again later.</p>\
         <p style=\"color:#888\"><small>{site}</small></p></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_route_flag;

    #[test]
    fn hosts_match_case_port_and_trailing_dot_insensitively() {
        let switches = Switchboard::default();
        let table = RouteTable::build(
            &[parse_route_flag("portal.example.gov.test=http://127.0.0.1:1").unwrap()],
            &switches,
        );
        for host in [
            "portal.example.gov.test",
            "Portal.Example.GOV.test:8080",
            "portal.example.gov.test.",
        ] {
            assert!(table.lookup(host).is_some(), "{host}");
        }
        assert!(table.lookup("other.example.gov.test").is_none());
        assert!(table.site("portal.example.gov.test").is_some());
    }

    #[test]
    fn origins_rotate_and_retries_move_on() {
        let switches = Switchboard::default();
        let table = RouteTable::build(
            &[parse_route_flag("a.test=http://127.0.0.1:1,http://127.0.0.1:2").unwrap()],
            &switches,
        );
        let route = table.lookup("a.test").unwrap();
        let mut first = None;
        let a = route.origin(0, &mut first).unwrap().authority.clone();
        let b = route.origin(1, &mut first).unwrap().authority.clone();
        assert_ne!(a, b);
        assert!(route.origin(2, &mut first).is_none());
        let mut second = None;
        assert_eq!(route.origin(0, &mut second).unwrap().authority, b);
    }

    #[test]
    fn the_default_page_escapes_the_site_name() {
        assert!(default_maintenance_page("<x>").contains("&lt;x&gt;"));
    }
}
