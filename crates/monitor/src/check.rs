//! One check of one page: fetch it as a browser and as each crawler at the
//! same time, and judge every view against the approved baseline.

use crate::targets::{PageTarget, Targets};
use futures_util::future::join_all;
use sitewarden_analysis::{
    Assessment, Baseline, CompareContext, Reason, Verdict, combine, compare, compare_crawler_view,
    decode_body, fingerprint,
};
use sitewarden_probe::{FetchedPage, Hop, Prober, TlsDetails};

/// One view of the page as fetched with one user agent, kept for evidence.
#[derive(Debug, Clone)]
pub struct CapturedView {
    /// `browser`, or the crawler's name (`Baiduspider`…).
    pub agent_name: String,
    /// The user-agent string sent.
    pub user_agent: String,
    /// What came back.
    pub page: FetchedPage,
    /// SHA-256 of the body as received.
    pub body_sha256: String,
    /// Whether this crawler view showed content the browser view does not
    /// (cloaked spam): such a view is evidence in its own right.
    pub cloaking_found: bool,
}

/// The outcome of one check, before health tracking decides whether a
/// failure already means "down".
#[derive(Debug, Clone)]
pub struct PageCheck {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name.
    pub page: String,
    /// The URL checked.
    pub url: String,
    /// When the check began (Unix ms).
    pub started_at_ms: i64,
    /// When the check finished (Unix ms).
    pub checked_at_ms: i64,
    /// The verdict of the analysis; `Down` when the browser fetch failed.
    pub verdict: Verdict,
    /// Score 0–100.
    pub score: u32,
    /// Reasons, most important first.
    pub reasons: Vec<Reason>,
    /// Visible-text similarity to the baseline, when analysed.
    pub similarity: Option<f64>,
    /// The browser view's final status.
    pub http_status: Option<u16>,
    /// The browser view's time to full body (ms).
    pub response_ms: Option<u64>,
    /// The server certificate, for HTTPS.
    pub tls: Option<TlsDetails>,
    /// The browser view's redirect chain.
    pub redirects: Vec<Hop>,
    /// SHA-256 of the browser view's body.
    pub body_sha256: Option<String>,
    /// Why the fetch counts as failed (error or HTTP error status).
    pub failure: Option<String>,
    /// Every view fetched, browser first.
    pub views: Vec<CapturedView>,
}

impl PageCheck {
    /// Reasons as plain English lines (for the store and the CLI).
    pub fn reason_lines(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|reason| reason.message.clone())
            .collect()
    }
}

/// Checks one page against its baseline. Never fails: a fetch error is a
/// `Down` verdict with the error as its reason.
pub async fn check_page(
    prober: &Prober,
    targets: &Targets,
    target: &PageTarget,
    baseline: &Baseline,
    now_ms: impl Fn() -> i64,
) -> PageCheck {
    let started_at_ms = now_ms();
    let mut agents = vec![("browser".to_string(), targets.browser_user_agent.clone())];
    agents.extend(targets.crawlers.iter().cloned());
    let fetches = join_all(
        agents
            .iter()
            .map(|(_, user_agent)| prober.fetch(&target.url, user_agent)),
    )
    .await;

    let mut check = PageCheck {
        site: target.site.clone(),
        page: target.page.clone(),
        url: target.url.to_string(),
        started_at_ms,
        checked_at_ms: 0,
        verdict: Verdict::Clean,
        score: 0,
        reasons: Vec::new(),
        similarity: None,
        http_status: None,
        response_ms: None,
        tls: None,
        redirects: Vec::new(),
        body_sha256: None,
        failure: None,
        views: Vec::new(),
    };

    let mut fetches = agents.into_iter().zip(fetches);
    let (_, browser) = fetches.next().expect("the browser view is always fetched");
    let browser = match browser {
        Ok(page) => page,
        Err(error) => {
            check.verdict = Verdict::Down;
            check.score = 100;
            check.failure = Some(error.to_string());
            check.reasons.push(reason(
                "fetch_failed",
                100,
                format!("fetch failed: {error}"),
                format!("无法获取页面：{error}"),
            ));
            check.checked_at_ms = now_ms();
            return check;
        }
    };
    check.http_status = Some(browser.status);
    check.response_ms = Some(browser.elapsed.as_millis() as u64);
    check.tls = browser.tls.clone();
    check.redirects = browser.redirects.clone();
    let browser_sha = sha256_hex(&browser.body);
    check.body_sha256 = Some(browser_sha.clone());

    if browser.status >= 400 {
        check.verdict = Verdict::Down;
        check.score = 100;
        check.failure = Some(format!("HTTP {}", browser.status));
        check.reasons.push(reason(
            "http_error",
            100,
            format!("the page answers HTTP {}", browser.status),
            format!("页面返回 HTTP {}", browser.status),
        ));
        check.views.push(view(
            "browser",
            &targets.browser_user_agent,
            browser,
            browser_sha,
            false,
        ));
        check.checked_at_ms = now_ms();
        return check;
    }

    let context = CompareContext {
        lexicon: &target.lexicon,
        page_url: &target.url,
        trusted_domains: &target.trusted_domains,
    };
    let browser_print = fingerprint(
        &decode_body(&browser.body, browser.content_type()),
        &browser.final_url,
        &target.volatile,
    );
    let mut assessment = compare(baseline, &browser_print, &context);
    if browser.truncated {
        assessment
            .reasons
            .push(truncated_reason(browser.body.len()));
    }

    let mut crawler_assessments: Vec<Assessment> = Vec::new();
    let mut crawler_views = Vec::new();
    for ((name, user_agent), fetched) in fetches {
        // A crawler view that cannot be fetched says nothing about cloaking;
        // the browser view decides availability.
        let Ok(page) = fetched else { continue };
        let sha = sha256_hex(&page.body);
        let mut cloaking_found = false;
        // Identical bytes cannot hide anything from the browser view.
        if sha != browser_sha && page.status < 400 {
            let crawler_print = fingerprint(
                &decode_body(&page.body, page.content_type()),
                &page.final_url,
                &target.volatile,
            );
            if let Some(found) =
                compare_crawler_view(baseline, &browser_print, &crawler_print, &name, &context)
            {
                crawler_assessments.push(found);
                cloaking_found = true;
            }
        }
        crawler_views.push(view(&name, &user_agent, page, sha, cloaking_found));
    }
    let assessment = combine(assessment, crawler_assessments);
    check.verdict = assessment.verdict;
    check.score = assessment.score;
    check.reasons = assessment.reasons;
    check.similarity = Some(assessment.similarity);
    check.views.push(view(
        "browser",
        &targets.browser_user_agent,
        browser,
        browser_sha,
        false,
    ));
    check.views.extend(crawler_views);
    check.checked_at_ms = now_ms();
    check
}

fn view(
    agent_name: &str,
    user_agent: &str,
    page: FetchedPage,
    body_sha256: String,
    cloaking_found: bool,
) -> CapturedView {
    CapturedView {
        agent_name: agent_name.to_string(),
        user_agent: user_agent.to_string(),
        page,
        body_sha256,
        cloaking_found,
    }
}

/// A reason the monitor adds itself (fetch failures, truncation).
pub(crate) fn reason(code: &str, weight: u32, message: String, message_zh: String) -> Reason {
    Reason {
        code: code.to_string(),
        weight,
        message,
        message_zh,
    }
}

fn truncated_reason(kept: usize) -> Reason {
    reason(
        "body_truncated",
        0,
        format!("the body is larger than the plan's cap; the first {kept} bytes were analysed"),
        format!("页面超过计划规定的大小上限，仅分析了前 {kept} 字节"),
    )
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
