//! Semantic rules over a plan whose shape is right: every value that the
//! types accept but the plan cannot work with (a relative URL, an unknown
//! unit, a zero deadline, a CSS selector that does not parse).
//!
//! The rules run over [`Parts`], a view of whatever did load, so that a
//! type error in one site does not hide a bad URL in another: the loader
//! builds `Parts` from the elements that deserialized, keeping their
//! positions in the file; [`crate::Plan::validate`] builds it from a whole
//! plan. Every problem is collected; nothing stops at the first.
//!
//! This module does no I/O: it does not check that CA files exist or that
//! hosts resolve.

use crate::error::PlanError;
use crate::model::{
    Deadlines, GuardSettings, LevelDef, LexiconDef, Organisation, Page, Person, Plan,
    ProbeSettings, Site, Unit, WebRoot,
};
use crate::path;
use crate::response::{
    Channel, Correlation, Duty, Escalation, ExternalContact, LevelRule, Playbook, Regulatory,
    Routing,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::path::{Component, Path};

mod gateway_rules;
mod logwatch_rules;
mod response_rules;

/// What is wrong with `dir` as a directory relative to a web root, if
/// anything: the guard takes it one component at a time under the root.
fn relative_dir_problem(dir: &str) -> Option<&'static str> {
    if dir.trim().is_empty() {
        return Some("must not be empty");
    }
    if dir.starts_with('/') {
        return Some("must be relative to the web root, such as \"uploads\" (no leading \"/\")");
    }
    let dir = dir.trim_end_matches('/');
    if dir.contains('\0') {
        return Some("must not contain a NUL character");
    }
    if dir
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Some("must be a plain relative path: no empty, \".\" or \"..\" components");
    }
    None
}

/// Longest accepted check interval: a page checked less than once a day is
/// not being monitored.
pub const MAX_INTERVAL_SECONDS: u32 = 24 * 60 * 60;
/// Smallest accepted `probe.max_body_bytes`: below this not even an error
/// page fits.
pub const MIN_BODY_BYTES: u64 = 1024;
/// Largest accepted `probe.max_body_bytes`: a web page is never this big,
/// and the probe holds bodies in memory.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024 * 1024;

/// The elements of one array section that loaded, with their index in the
/// file, and how many elements the file has.
pub(crate) struct Items<'a, T> {
    pub loaded: Vec<(usize, &'a T)>,
    pub total: usize,
}

impl<'a, T> Items<'a, T> {
    fn all(items: &'a [T]) -> Self {
        Items {
            loaded: items.iter().enumerate().collect(),
            total: items.len(),
        }
    }
}

/// One site: its own fields (when they loaded; its `pages` are ignored)
/// and the pages that loaded.
pub(crate) struct SiteParts<'a> {
    pub index: usize,
    pub site: Option<&'a Site>,
    pub pages: Items<'a, Page>,
}

/// What loaded of a plan, for validation. A section that failed to load is
/// `None` (its errors are already reported).
pub(crate) struct Parts<'a> {
    pub organisation: Option<&'a Organisation>,
    pub deadlines: Option<&'a Deadlines>,
    pub levels: Items<'a, LevelDef>,
    pub probe: Option<&'a ProbeSettings>,
    pub guard: Option<&'a GuardSettings>,
    /// `Some(None)`: no gateway section; `None`: it failed to load.
    pub gateway: Option<&'a Option<crate::gateway::GatewaySettings>>,
    /// `[logwatch]`; `None`: it failed to load.
    pub logwatch: Option<&'a crate::logwatch::LogwatchSettings>,
    pub lexicons: Items<'a, LexiconDef>,
    pub trusted_domains: Option<&'a [String]>,
    pub units: Items<'a, Unit>,
    /// Every unit id in the file, including those of units that failed to
    /// load, so that their references are not reported as unknown too.
    pub unit_ids: Vec<&'a str>,
    pub sites: Vec<SiteParts<'a>>,
    /// `sites` is not an array at all (reported); whether it is empty is
    /// unknown.
    pub sites_unreadable: bool,
    pub roster: Items<'a, Person>,
    pub response: ResponseParts<'a>,
}

/// What loaded of the response sections. A section that failed to load is
/// `None` (its errors are already reported).
pub(crate) struct ResponseParts<'a> {
    pub regulatory: Option<&'a Regulatory>,
    pub level_rules: Items<'a, LevelRule>,
    pub escalation: Option<&'a Escalation>,
    pub external_contacts: Items<'a, ExternalContact>,
    /// Every external contact id in the file, loaded or not.
    pub contact_ids: Vec<&'a str>,
    pub duty: Option<&'a Duty>,
    pub playbooks: Items<'a, Playbook>,
    pub channels: Items<'a, Channel>,
    /// Every channel id in the file, loaded or not.
    pub channel_ids: Vec<&'a str>,
    pub routing: Option<&'a Routing>,
    pub correlation: Option<&'a Correlation>,
}

impl<'a> Parts<'a> {
    /// A whole plan.
    pub(crate) fn of(plan: &'a Plan) -> Self {
        Parts {
            organisation: Some(&plan.organisation),
            deadlines: Some(&plan.deadlines),
            levels: Items::all(&plan.levels),
            probe: Some(&plan.probe),
            guard: Some(&plan.guard),
            gateway: Some(&plan.gateway),
            logwatch: Some(&plan.logwatch),
            lexicons: Items::all(&plan.lexicons),
            trusted_domains: Some(&plan.trusted_domains),
            units: Items::all(&plan.units),
            unit_ids: plan.units.iter().map(|unit| unit.id.as_str()).collect(),
            sites: plan
                .sites
                .iter()
                .enumerate()
                .map(|(index, site)| SiteParts {
                    index,
                    site: Some(site),
                    pages: Items::all(&site.pages),
                })
                .collect(),
            sites_unreadable: false,
            roster: Items::all(&plan.roster),
            response: ResponseParts {
                regulatory: Some(&plan.regulatory),
                level_rules: Items::all(&plan.level_rules),
                escalation: Some(&plan.escalation),
                external_contacts: Items::all(&plan.external_contacts),
                contact_ids: plan
                    .external_contacts
                    .iter()
                    .map(|contact| contact.id.as_str())
                    .collect(),
                duty: Some(&plan.duty),
                playbooks: Items::all(&plan.playbooks),
                channels: Items::all(&plan.channels),
                channel_ids: plan
                    .channels
                    .iter()
                    .map(|channel| channel.id.as_str())
                    .collect(),
                routing: Some(&plan.routing),
                correlation: Some(&plan.correlation),
            },
        }
    }
}

/// Every semantic problem in `parts`, in section order.
pub(crate) fn validate(parts: &Parts<'_>) -> Vec<PlanError> {
    let mut checker = Checker { errors: Vec::new() };
    if let Some(organisation) = parts.organisation {
        checker.organisation(organisation);
    }
    if let Some(deadlines) = parts.deadlines {
        checker.deadlines(deadlines);
    }
    checker.levels(&parts.levels);
    if let Some(probe) = parts.probe {
        checker.probe(probe);
    }
    if let Some(guard) = parts.guard {
        checker.interval(
            "guard.rescan_interval_seconds".into(),
            guard.rescan_interval_seconds,
        );
    }
    if let Some(Some(gateway)) = parts.gateway {
        checker.gateway(gateway, &parts.sites);
    }
    if let Some(logwatch) = parts.logwatch {
        checker.logwatch(logwatch, &parts.sites);
    }
    checker.lexicons(&parts.lexicons);
    if let Some(domains) = parts.trusted_domains {
        checker.domains("trusted_domains", domains);
    }
    checker.units(&parts.units);
    let gateway = parts.gateway.map(|gateway| gateway.is_some());
    checker.sites(
        &parts.sites,
        parts.sites_unreadable,
        &parts.unit_ids,
        gateway,
    );
    checker.roster(&parts.roster, &parts.unit_ids);
    let context = response_rules::Context::of(parts);
    if let Some(deadlines) = parts.deadlines {
        checker.deadline_levels(deadlines, &context);
    }
    checker.response(&parts.response, &context);
    checker.errors
}

struct Checker {
    errors: Vec<PlanError>,
}

impl Checker {
    fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(PlanError::new(path, message));
    }

    fn not_blank(&mut self, path: String, value: &str) {
        if value.trim().is_empty() {
            self.report(path, "must not be empty");
        }
    }

    fn organisation(&mut self, organisation: &Organisation) {
        self.not_blank("organisation.name".into(), &organisation.name);
        if !is_time_zone_name(&organisation.timezone) {
            self.report(
                "organisation.timezone",
                format!(
                    "{} is not an IANA time zone name such as \"Asia/Shanghai\" or \"UTC\"",
                    path::quoted(&organisation.timezone)
                ),
            );
        }
    }

    fn deadlines(&mut self, deadlines: &Deadlines) {
        for (key, minutes) in [
            ("initial_report_minutes", deadlines.initial_report_minutes),
            ("risk_assessment_minutes", deadlines.risk_assessment_minutes),
        ] {
            if minutes == 0 {
                self.report(path::key("deadlines", key), "must be at least 1 minute");
            }
        }
        if parse_hh_mm(&deadlines.daily_report_time).is_none() {
            self.report(
                "deadlines.daily_report_time",
                format!(
                    "{} is not a 24-hour time \"HH:MM\" such as \"17:00\"",
                    path::quoted(&deadlines.daily_report_time)
                ),
            );
        }
    }

    fn levels(&mut self, levels: &Items<'_, LevelDef>) {
        if levels.total == 0 {
            self.report("levels", "at least one level is required");
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &(index, level) in &levels.loaded {
            let at = path::index("levels", index);
            self.not_blank(path::key(&at, "id"), &level.id);
            self.not_blank(path::key(&at, "name_zh"), &level.name_zh);
            if let Some(first) = repeat_of(&mut seen, level.id.as_str(), index) {
                self.report(
                    path::key(&at, "id"),
                    format!(
                        "duplicate level id {} (also levels[{first}])",
                        path::quoted(&level.id)
                    ),
                );
            }
        }
    }

    fn interval(&mut self, path: String, seconds: u32) {
        if !(1..=MAX_INTERVAL_SECONDS).contains(&seconds) {
            self.report(
                path,
                format!(
                    "must be between 1 and {MAX_INTERVAL_SECONDS} seconds (one day), not {seconds}"
                ),
            );
        }
    }

    fn probe(&mut self, probe: &ProbeSettings) {
        self.interval("probe.interval_seconds".into(), probe.interval_seconds);
        if probe.timeout_seconds == 0 {
            self.report("probe.timeout_seconds", "must be at least 1 second");
        }
        if probe.concurrency == 0 {
            self.report("probe.concurrency", "must be at least 1");
        }
        if probe.down_after_failures == 0 {
            self.report("probe.down_after_failures", "must be at least 1");
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&probe.max_body_bytes) {
            self.report(
                "probe.max_body_bytes",
                format!(
                    "must be between {MIN_BODY_BYTES} (1 KiB) and {MAX_BODY_BYTES} (1 GiB), not {}",
                    probe.max_body_bytes
                ),
            );
        }
        self.not_blank("probe.browser_user_agent".into(), &probe.browser_user_agent);
        for (index, crawler) in probe.crawlers.iter().enumerate() {
            let at = path::index("probe.crawlers", index);
            self.not_blank(path::key(&at, "name"), &crawler.name);
            self.not_blank(path::key(&at, "user_agent"), &crawler.user_agent);
        }
        for (host, address) in &probe.resolve {
            let at = path::key("probe.resolve", host);
            if !is_host_name(host) {
                self.report(
                    at.clone(),
                    format!("{} is not a host name", path::quoted(host)),
                );
            }
            if address.trim().parse::<IpAddr>().is_err() {
                self.report(
                    at,
                    format!("{} is not an IP address", path::quoted(address)),
                );
            }
        }
    }

    fn lexicons(&mut self, lexicons: &Items<'_, LexiconDef>) {
        for &(index, lexicon) in &lexicons.loaded {
            let at = path::index("lexicons", index);
            self.not_blank(path::key(&at, "category"), &lexicon.category);
            self.terms(&path::key(&at, "terms"), &lexicon.terms);
        }
    }

    fn terms(&mut self, at: &str, terms: &[String]) {
        for (index, term) in terms.iter().enumerate() {
            self.not_blank(path::index(at, index), term);
        }
    }

    fn domains(&mut self, at: &str, domains: &[String]) {
        for (index, domain) in domains.iter().enumerate() {
            if !is_domain_pattern(domain) {
                self.report(
                    path::index(at, index),
                    format!(
                        "{} is not a domain name such as \"example.gov.cn\" (no scheme, port or path)",
                        path::quoted(domain)
                    ),
                );
            }
        }
    }

    fn units(&mut self, units: &Items<'_, Unit>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &(index, unit) in &units.loaded {
            let at = path::index("units", index);
            self.not_blank(path::key(&at, "id"), &unit.id);
            self.not_blank(path::key(&at, "name"), &unit.name);
            if let Some(first) = repeat_of(&mut seen, unit.id.as_str(), index) {
                self.report(
                    path::key(&at, "id"),
                    format!(
                        "duplicate unit id {} (also units[{first}])",
                        path::quoted(&unit.id)
                    ),
                );
            }
        }
    }

    fn unit_reference(&mut self, at: String, id: &str, unit_ids: &[&str]) {
        if unit_ids.contains(&id) {
            return;
        }
        let known = if unit_ids.is_empty() {
            "no units are defined ([[units]])".to_owned()
        } else {
            let mut known: Vec<&str> = Vec::with_capacity(unit_ids.len());
            for id in unit_ids {
                if !known.contains(id) {
                    known.push(id);
                }
            }
            format!("known units: {}", known.join(", "))
        };
        self.report(at, format!("unknown unit {}; {known}", path::quoted(id)));
    }

    fn sites(
        &mut self,
        sites: &[SiteParts<'_>],
        unreadable: bool,
        unit_ids: &[&str],
        gateway: Option<bool>,
    ) {
        if sites.is_empty() && !unreadable {
            self.report("sites", "at least one site is required ([[sites]])");
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        // Every web root so far, with its place, across sites: one root is
        // guarded by one watcher.
        let mut roots: Vec<(String, &Path)> = Vec::new();
        for parts in sites {
            let at = path::index("sites", parts.index);
            if let Some(site) = parts.site {
                self.site(&at, site, unit_ids);
                self.site_gateway(&at, site, gateway);
                self.web_roots(&path::key(&at, "web_roots"), &site.web_roots, &mut roots);
                if let Some(first) = repeat_of(&mut seen, site.name.as_str(), parts.index) {
                    self.report(
                        path::key(&at, "name"),
                        format!(
                            "duplicate site name {} (also sites[{first}])",
                            path::quoted(&site.name)
                        ),
                    );
                }
            }
            self.pages(&path::key(&at, "pages"), &parts.pages);
        }
    }

    fn site(&mut self, at: &str, site: &Site, unit_ids: &[&str]) {
        if !is_site_name(&site.name) {
            self.report(
                path::key(at, "name"),
                format!(
                    "{} is not a valid site name: use lower-case letters, digits and \"-\", \
                     starting with a letter or digit",
                    path::quoted(&site.name)
                ),
            );
        }
        // The title defaults to the name: a blank name is reported once.
        if !site.name.trim().is_empty() {
            self.not_blank(path::key(at, "title"), &site.title);
        }
        let units_at = path::key(at, "units");
        for (duty, id) in site.units.iter() {
            self.unit_reference(path::key(&units_at, duty), id, unit_ids);
        }
        self.domains(&path::key(at, "trusted_domains"), &site.trusted_domains);
    }

    /// A site's web roots: the shape only. A root need not exist when the
    /// plan is checked (the plan is often written before the server is set
    /// up); the guard reports a missing root when it starts.
    fn web_roots<'a>(
        &mut self,
        at: &str,
        web_roots: &'a [WebRoot],
        roots: &mut Vec<(String, &'a Path)>,
    ) {
        for (index, root) in web_roots.iter().enumerate() {
            let root_at = path::index(at, index);
            let path_at = path::key(&root_at, "path");
            let shown = path::quoted(&root.path.to_string_lossy());
            if root.path.as_os_str().is_empty() {
                self.report(path_at, "must not be empty");
            } else if !root.path.is_absolute() {
                self.report(
                    path_at,
                    format!("{shown} is not an absolute path such as \"/srv/www/portal\""),
                );
            } else if root
                .path
                .components()
                .any(|component| matches!(component, Component::ParentDir | Component::CurDir))
            {
                self.report(
                    path_at,
                    format!("{shown} must not contain \".\" or \"..\" components"),
                );
            } else if root.path.parent().is_none() {
                self.report(
                    path_at,
                    "must not be the file system root \"/\": name the web root itself",
                );
            } else {
                let overlap = roots.iter().find(|(_, other)| {
                    root.path.starts_with(other) || other.starts_with(&root.path)
                });
                match overlap {
                    Some((other_at, other)) if *other == root.path.as_path() => self.report(
                        path_at,
                        format!("duplicate web root {shown} (also {other_at})"),
                    ),
                    Some((other_at, other)) => self.report(
                        path_at,
                        format!(
                            "{shown} overlaps the web root {} ({other_at}): a tree is guarded \
                             by one watcher; guard the outer root once and use exclude for \
                             what it must not restore",
                            path::quoted(&other.to_string_lossy())
                        ),
                    ),
                    None => roots.push((path::key(&root_at, "path"), &root.path)),
                }
            }
            let uploads_at = path::key(&root_at, "upload_dirs");
            for (index, dir) in root.upload_dirs.iter().enumerate() {
                if let Some(problem) = relative_dir_problem(dir) {
                    self.report(
                        path::index(&uploads_at, index),
                        format!("{} {problem}", path::quoted(dir)),
                    );
                }
            }
            let exclude_at = path::key(&root_at, "exclude");
            for (index, pattern) in root.exclude.iter().enumerate() {
                if pattern.trim().is_empty() {
                    self.report(path::index(&exclude_at, index), "must not be empty");
                } else if let Err(error) = globset::Glob::new(pattern) {
                    self.report(
                        path::index(&exclude_at, index),
                        format!("invalid glob {}: {}", path::quoted(pattern), error.kind()),
                    );
                }
            }
        }
    }

    fn pages(&mut self, at: &str, pages: &Items<'_, Page>) {
        if pages.total == 0 {
            self.report(at, "at least one page is required ([[sites.pages]])");
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for &(index, page) in &pages.loaded {
            let page_at = path::index(at, index);
            self.page(&page_at, page);
            if let Some(first) = repeat_of(&mut seen, page.name.as_str(), index) {
                self.report(
                    path::key(&page_at, "name"),
                    format!(
                        "duplicate page name {} in this site (also pages[{first}]); \
                         give each page its own name = \"…\"",
                        path::quoted(&page.name)
                    ),
                );
            }
        }
    }

    fn page(&mut self, at: &str, page: &Page) {
        // The name defaults to the URL's path: a blank URL is reported once.
        if !page.url.trim().is_empty() {
            self.not_blank(path::key(at, "name"), &page.name);
        }
        if !is_http_url(&page.url) {
            self.report(
                path::key(at, "url"),
                format!("not an absolute http(s) URL: {}", path::quoted(&page.url)),
            );
        }
        if let Some(seconds) = page.interval_seconds {
            self.interval(path::key(at, "interval_seconds"), seconds);
        }
        let volatile_at = path::key(at, "volatile");
        for (index, selector) in page.volatile.iter().enumerate() {
            if let Err(error) = scraper::Selector::parse(selector) {
                self.report(
                    path::index(&volatile_at, index),
                    format!(
                        "invalid CSS selector {}: {}",
                        path::quoted(selector),
                        selector_error(&error)
                    ),
                );
            }
        }
        self.terms(&path::key(at, "lexicon"), &page.lexicon);
    }

    fn roster(&mut self, roster: &Items<'_, Person>, unit_ids: &[&str]) {
        for &(index, person) in &roster.loaded {
            let at = path::index("roster", index);
            self.not_blank(path::key(&at, "name"), &person.name);
            self.unit_reference(path::key(&at, "unit"), &person.unit, unit_ids);
            if person.roles.is_empty() {
                self.report(
                    path::key(&at, "roles"),
                    "at least one role is required (leader, deputy_leader, office_director, \
                     office_member, duty_officer, expert)",
                );
            }
            self.not_blank(path::key(&at, "phone"), &person.phone);
            if let Some(email) = &person.email
                && !is_email(email)
            {
                self.report(
                    path::key(&at, "email"),
                    format!("{} is not an e-mail address", path::quoted(email)),
                );
            }
        }
    }
}

/// The start of every "unknown level" message, so the loader can tell them
/// apart (see [`unknown_level_id`]).
pub(crate) const UNKNOWN_LEVEL: &str = "unknown level ";

/// The level id an "unknown level" message is about, if it is one.
pub(crate) fn unknown_level_id(message: &str) -> Option<&str> {
    let rest = message.strip_prefix(UNKNOWN_LEVEL)?.strip_prefix('"')?;
    rest.split_once("\";").map(|(id, _)| id)
}

/// The index of the earlier element with this `key`, or `None` (and `key`
/// remembered at `index`) when it is the first.
fn repeat_of<'a>(seen: &mut HashMap<&'a str, usize>, key: &'a str, index: usize) -> Option<usize> {
    match seen.entry(key) {
        Entry::Occupied(entry) => Some(*entry.get()),
        Entry::Vacant(entry) => {
            entry.insert(index);
            None
        }
    }
}

/// `[a-z0-9][a-z0-9-]*`.
fn is_site_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// An absolute `http` or `https` URL with a host.
pub(crate) fn is_http_url(text: &str) -> bool {
    match url::Url::parse(text) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|host| !host.is_empty())
        }
        Err(_) => false,
    }
}

/// A DNS name or an IP address, as it may appear in a URL's host.
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(['/', ':', '@', ' ', '?', '#'])
        && url::Host::parse(text).is_ok()
}

/// A domain for `trusted_domains`: a host name, optionally with a leading
/// `*.` or `.` meaning "and its subdomains".
fn is_domain_pattern(text: &str) -> bool {
    let host = text
        .strip_prefix("*.")
        .or_else(|| text.strip_prefix('.'))
        .unwrap_or(text);
    is_host_name(host)
}

/// Something before and after one `@`, no spaces: a typo catcher, not RFC 5322.
pub(crate) fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// `HH:MM`, 24-hour, two digits each: the hour and minute.
pub(crate) fn parse_hh_mm(text: &str) -> Option<(u8, u8)> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let hours: u8 = hours.parse().ok()?;
    let minutes: u8 = minutes.parse().ok()?;
    (hours < 24 && minutes < 60).then_some((hours, minutes))
}

/// The shape of an IANA zone name ("UTC", "Asia/Shanghai",
/// "America/Argentina/Buenos_Aires", "Etc/GMT+8"). Whether the zone exists
/// is left to the code that loads the time zone database: this crate has
/// none.
fn is_time_zone_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|character: char| character.is_ascii_alphabetic())
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'+'))
        })
}

/// The selector parser's error on one line (one of its variants prints a
/// multi-line debug dump).
fn selector_error(error: &scraper::error::SelectorErrorKind) -> String {
    let text = error.to_string();
    match text.split_once('\n') {
        Some(_) => format!("{error:?}").replace('\n', " "),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_hh_mm(input: &str, expected: Option<(u8, u8)>) {
        assert_eq!(parse_hh_mm(input), expected, "parse_hh_mm({input:?})");
    }

    #[test]
    fn daily_report_time_is_two_digit_hours_and_minutes() {
        check_hh_mm("17:00", Some((17, 0)));
        check_hh_mm("00:00", Some((0, 0)));
        check_hh_mm("23:59", Some((23, 59)));
        check_hh_mm("24:00", None);
        check_hh_mm("12:60", None);
        check_hh_mm("7:00", None);
        check_hh_mm("17:00:00", None);
        check_hh_mm("+1:00", None);
        check_hh_mm("", None);
        check_hh_mm("１７:００", None);
    }

    fn check_predicate(predicate: fn(&str) -> bool, name: &str, cases: &[(&str, bool)]) {
        for &(input, expected) in cases {
            assert_eq!(predicate(input), expected, "{name}({input:?})");
        }
    }

    #[test]
    fn value_shapes() {
        check_predicate(
            is_site_name,
            "is_site_name",
            &[
                ("portal", true),
                ("zfcg", true),
                ("site-2", true),
                ("2site", true),
                ("-site", false),
                ("Portal", false),
                ("my_site", false),
                ("", false),
                ("门户", false),
            ],
        );
        check_predicate(
            is_http_url,
            "is_http_url",
            &[
                ("https://portal.example.gov.test/", true),
                ("http://127.0.0.1:8080/a?b=c", true),
                ("http://[::1]/", true),
                ("ftp://portal.example.gov.test/", false),
                ("portal.example.gov.test/", false),
                ("/tzgg/index.html", false),
                ("https://", false),
                ("file:///etc/passwd", false),
                ("", false),
            ],
        );
        check_predicate(
            is_email,
            "is_email",
            &[
                ("wang@example.gov.test", true),
                ("wang", false),
                ("@example.gov.test", false),
                ("wang@", false),
                ("a@b@c", false),
                ("wang xiao@example.gov.test", false),
            ],
        );
        check_predicate(
            is_domain_pattern,
            "is_domain_pattern",
            &[
                ("www.gov.cn", true),
                ("*.example-cdn.test", true),
                (".example-cdn.test", true),
                ("https://www.gov.cn", false),
                ("www.gov.cn/path", false),
                ("www.gov.cn:443", false),
                ("", false),
            ],
        );
        check_predicate(
            is_time_zone_name,
            "is_time_zone_name",
            &[
                ("Asia/Shanghai", true),
                ("UTC", true),
                ("America/Argentina/Buenos_Aires", true),
                ("Etc/GMT+8", true),
                ("", false),
                ("Asia/", false),
                ("+08:00", false),
                ("Asia Shanghai", false),
            ],
        );
    }
}
