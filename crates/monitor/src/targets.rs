//! The plan's pages resolved into what the monitor needs to check them:
//! parsed URLs, lexicons built once, trusted domains merged, intervals.

use sitewarden_analysis::Lexicon;
use sitewarden_plan::Plan;
use sitewarden_probe::ProbeConfig;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// One page to check, with everything resolved from the plan.
#[derive(Debug, Clone)]
pub struct PageTarget {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name.
    pub page: String,
    /// The page's URL.
    pub url: Url,
    /// Whether this is the site's home page (reports mark it).
    pub home: bool,
    /// CSS selectors of regions to ignore.
    pub volatile: Vec<String>,
    /// The lexicon for this page: built-in terms, the plan's, the page's.
    pub lexicon: Arc<Lexicon>,
    /// Domains never counted as external for this page.
    pub trusted_domains: Vec<String>,
    /// How often to check it.
    pub interval: Duration,
}

/// Every page of the plan, in plan order.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The pages.
    pub pages: Vec<PageTarget>,
    /// The browser user agent.
    pub browser_user_agent: String,
    /// The crawler user agents: (name, user agent string).
    pub crawlers: Vec<(String, String)>,
    /// Consecutive failures after which a page is down.
    pub down_after_failures: u32,
}

impl Targets {
    /// Resolves the plan's pages. The plan was validated when it was loaded,
    /// so a URL that does not parse here is skipped rather than fatal.
    pub fn from_plan(plan: &Plan) -> Targets {
        let plan_lexicon = |extra: &[String]| {
            let mut lexicon = Lexicon::builtin();
            for definition in &plan.lexicons {
                lexicon = lexicon.with_extra(&definition.category, &definition.terms);
            }
            if !extra.is_empty() {
                lexicon = lexicon.with_extra("plan", extra);
            }
            Arc::new(lexicon)
        };
        // Most pages share the plan-wide lexicon; only pages with terms of
        // their own get a lexicon built for them.
        let shared = plan_lexicon(&[]);
        let pages = plan
            .pages()
            .filter_map(|(site, page)| {
                let url = Url::parse(&page.url).ok()?;
                let mut trusted_domains = plan.trusted_domains.clone();
                trusted_domains.extend(site.trusted_domains.iter().cloned());
                Some(PageTarget {
                    site: site.name.clone(),
                    page: page.name.clone(),
                    url,
                    home: page.home,
                    volatile: page.volatile.clone(),
                    lexicon: if page.lexicon.is_empty() {
                        shared.clone()
                    } else {
                        plan_lexicon(&page.lexicon)
                    },
                    trusted_domains,
                    interval: plan.page_interval(page),
                })
            })
            .collect();
        Targets {
            pages,
            browser_user_agent: plan.probe.browser_user_agent.clone(),
            crawlers: plan
                .probe
                .crawlers
                .iter()
                .map(|crawler| (crawler.name.clone(), crawler.user_agent.clone()))
                .collect(),
            down_after_failures: plan.probe.down_after_failures.max(1),
        }
    }
}

/// The probe's settings from the plan.
pub fn probe_config(plan: &Plan) -> ProbeConfig {
    ProbeConfig {
        timeout: Duration::from_secs(u64::from(plan.probe.timeout_seconds)),
        max_body_bytes: plan.probe.max_body_bytes,
        max_redirects: plan.probe.max_redirects,
        resolve: plan
            .probe
            .resolve
            .iter()
            .filter_map(|(host, ip)| Some((host.clone(), ip.parse::<IpAddr>().ok()?)))
            .collect(),
        extra_ca_files: plan.probe.extra_ca_files.clone(),
    }
}
