//! The pages the benchmark serves, written as static files: the load corpus
//! (many slightly different copies of the sample portal's home page, spread
//! over many sites) and the detection corpus (one page per demo variant,
//! approved as normal and then rewritten in place to the variant).

use anyhow::{Context, Result};
use sitewarden_demo_sites::{SampleSite, Variant, render_page};
use sitewarden_plan::{BAIDUSPIDER_USER_AGENT, DEFAULT_BROWSER_USER_AGENT, GOOGLEBOT_USER_AGENT};
use std::path::Path;

/// The day every page shows (the benign `NextDay` variant shows the next).
pub const DAY: &str = "2026-11-26";

/// The visitor count of the detection corpus's approved pages.
const BASE_VISIT: u64 = 1_284_306;

/// The host name of the detection corpus's site.
pub const QUALITY_HOST: &str = "q.example.gov.test";

/// One page of the load corpus.
#[derive(Debug, Clone)]
pub struct CorpusPage {
    /// The plan's site name (`s07`).
    pub site: String,
    /// The site's host name (`s07.example.gov.test`).
    pub host: String,
    /// The plan's page name (`p0042`).
    pub name: String,
    /// The URL path (`/p0042.html`).
    pub path: String,
}

/// The host name of load site `index`.
pub fn site_host(index: usize) -> String {
    format!("s{index:02}.example.gov.test")
}

/// Writes `pages` pages spread evenly over `sites` sites under `www/HOST/`.
/// Every page is the portal's home page with its own visitor count and its
/// own number in the title, so no two bodies are equal. Returns the pages
/// and their total size in bytes.
pub fn write_load_corpus(www: &Path, pages: usize, sites: usize) -> Result<(Vec<CorpusPage>, u64)> {
    let sites = sites.clamp(1, pages.max(1));
    let mut written = Vec::with_capacity(pages);
    let mut bytes = 0u64;
    for index in 0..pages {
        let site_index = index % sites;
        let host = site_host(site_index);
        let dir = www.join(&host);
        std::fs::create_dir_all(&dir)?;
        let name = format!("p{:04}", index / sites);
        let path = format!("/{name}.html");
        let html = render_page(
            SampleSite::Portal,
            "/",
            Variant::Normal,
            100_000 + index as u64 * 7,
            DAY,
            DEFAULT_BROWSER_USER_AGENT,
        )
        .context("the demo portal has no home page")?;
        let html = html.replacen("<title>", &format!("<title>第{index}号 "), 1);
        bytes += html.len() as u64;
        std::fs::write(dir.join(format!("{name}.html")), html)?;
        written.push(CorpusPage {
            site: format!("s{site_index:02}"),
            host,
            name,
            path,
        });
    }
    Ok((written, bytes))
}

/// Whether a detection case must be found (a defacement) or must not raise
/// an alarm (a benign change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Must be `defaced`.
    Defacement,
    /// Must stay `clean` or `changed`.
    Benign,
}

/// One detection case: a page approved as normal that becomes `variant`.
#[derive(Debug, Clone)]
pub struct QualityCase {
    /// Stable name, also the page's name and file name.
    pub name: String,
    /// What the page switches to.
    pub variant: Variant,
    /// The visitor count after the switch.
    pub visit_after: u64,
    /// What a correct monitor says.
    pub expect: Expect,
    /// One line on what changes.
    pub description: &'static str,
}

impl QualityCase {
    /// The URL path of the case's page.
    pub fn path(&self) -> String {
        format!("/{}.html", self.name)
    }
}

/// Every defacement and benign variant of the demo sites, plus two controls:
/// the page unchanged, and only its visitor counter moved on (the number
/// changes; the rotating banner, which also follows the count, stays).
pub fn quality_cases() -> Vec<QualityCase> {
    let mut cases = Vec::new();
    for variant in Variant::DEFACEMENTS {
        cases.push(QualityCase {
            name: variant.name().to_string(),
            variant,
            visit_after: BASE_VISIT,
            expect: Expect::Defacement,
            description: describe(variant),
        });
    }
    for variant in Variant::BENIGN {
        cases.push(QualityCase {
            name: variant.name().to_string(),
            variant,
            visit_after: BASE_VISIT,
            expect: Expect::Benign,
            description: describe(variant),
        });
    }
    cases.push(QualityCase {
        name: "unchanged".into(),
        variant: Variant::Normal,
        visit_after: BASE_VISIT,
        expect: Expect::Benign,
        description: "control: the page as approved",
    });
    cases.push(QualityCase {
        name: "visitor_counter".into(),
        variant: Variant::Normal,
        // Three visits on: the same banner (they rotate by count modulo 3).
        visit_after: BASE_VISIT + 3,
        expect: Expect::Benign,
        description: "control: only the visitor counter moved on",
    });
    cases
}

fn describe(variant: Variant) -> &'static str {
    match variant {
        Variant::Normal => "the approved page",
        Variant::WholePageReplaced => "whole page replaced by a hacker's page",
        Variant::HiddenGamblingLinks => "hidden block of gambling links (暗链)",
        Variant::ForeignScript => "script from an attacker's domain",
        Variant::ForeignIframe => "zero-size iframe to a gambling site",
        Variant::MetaRefreshRedirect => "meta refresh to a gambling site",
        Variant::JsRedirect => "JavaScript redirect of search visitors",
        Variant::CrawlerOnlySpam => "gambling spam served only to Baiduspider",
        Variant::HackedTitle => "title replaced by a defacer's signature",
        Variant::GamblingParagraph => "visible gambling advertisement paragraph",
        Variant::NewNewsItem => "a new news item at the top of the list",
        Variant::ReorderedNotices => "notices in a different order",
        Variant::NextDay => "the date shown is the next day",
    }
}

fn render(variant: Variant, visit: u64, user_agent: &str) -> Result<String> {
    render_page(SampleSite::Portal, "/", variant, visit, DAY, user_agent)
        .context("the demo portal has no home page")
}

/// Writes every case's page as approved (normal, no crawler-only files).
pub fn write_quality_baseline(www: &Path, cases: &[QualityCase]) -> Result<()> {
    let dir = www.join(QUALITY_HOST);
    std::fs::create_dir_all(&dir)?;
    let normal = render(Variant::Normal, BASE_VISIT, DEFAULT_BROWSER_USER_AGENT)?;
    for case in cases {
        let file = dir.join(format!("{}.html", case.name));
        std::fs::write(&file, &normal)?;
        for suffix in ["baiduspider", "googlebot"] {
            let _ = std::fs::remove_file(file.with_extension(format!("html.{suffix}")));
        }
    }
    Ok(())
}

/// Rewrites every case's page in place to its variant; where a crawler
/// would be served something else, writes that as the crawler's file.
pub fn write_quality_switched(www: &Path, cases: &[QualityCase]) -> Result<()> {
    let dir = www.join(QUALITY_HOST);
    for case in cases {
        let file = dir.join(format!("{}.html", case.name));
        let browser = render(case.variant, case.visit_after, DEFAULT_BROWSER_USER_AGENT)?;
        for (suffix, user_agent) in [
            ("baiduspider", BAIDUSPIDER_USER_AGENT),
            ("googlebot", GOOGLEBOT_USER_AGENT),
        ] {
            let crawler = render(case.variant, case.visit_after, user_agent)?;
            if crawler != browser {
                std::fs::write(file.with_extension(format!("html.{suffix}")), crawler)?;
            }
        }
        std::fs::write(&file, browser)?;
    }
    Ok(())
}
