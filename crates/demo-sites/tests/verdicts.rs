//! Every variant of the sample sites through the real analysis: defacements
//! must be found, benign changes must not be called defacements, and the GBK
//! twin of each page must get the same verdict as the UTF-8 page.

use sitewarden_analysis::{
    Assessment, Baseline, CompareContext, Fingerprint, Lexicon, Verdict, combine, compare,
    compare_crawler_view, decode_body, fingerprint, learn_baseline,
};
use sitewarden_demo_sites::{Encoding, SampleSite, Variant, encode_page, render_page};
use url::Url;

const DAY: &str = "2026-11-26";
const BROWSER: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
const BAIDU: &str =
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)";

/// How the bytes reach the analysis.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Utf8,
    /// GBK with the charset in the Content-Type header (and in the meta).
    GbkHeader,
    /// GBK with the charset only in `<meta charset>`.
    GbkMetaOnly,
}

fn page_fingerprint(
    site: SampleSite,
    variant: Variant,
    visit: u64,
    user_agent: &str,
    wire: Wire,
) -> Fingerprint {
    let html =
        render_page(site, "/", variant, visit, DAY, user_agent).expect("the home page exists");
    let (bytes, content_type) = match wire {
        Wire::Utf8 => (
            encode_page(&html, Encoding::Utf8),
            Encoding::Utf8.content_type(),
        ),
        Wire::GbkHeader => (
            encode_page(&html, Encoding::Gbk),
            Encoding::Gbk.content_type(),
        ),
        Wire::GbkMetaOnly => (encode_page(&html, Encoding::Gbk), "text/html"),
    };
    let decoded = decode_body(&bytes, Some(content_type));
    assert!(!decoded.had_errors, "{site:?} {variant:?} {wire:?}");
    let url = Url::parse(&format!("http://{}/", site.host())).expect("valid URL");
    fingerprint(&decoded, &url, &[])
}

/// The assessment of one variant, crawler view included, as the monitor
/// would make it. Visits 1 and 2 make the baseline; the variant is fetched
/// at visit 6 (a third banner, a higher counter).
fn assess(site: SampleSite, variant: Variant, wire: Wire) -> Assessment {
    let baseline: Baseline = learn_baseline(
        page_fingerprint(site, Variant::Normal, 1, BROWSER, wire),
        &page_fingerprint(site, Variant::Normal, 2, BROWSER, wire),
    );
    let lexicon = Lexicon::builtin();
    let url = Url::parse(&format!("http://{}/", site.host())).expect("valid URL");
    let ctx = CompareContext {
        lexicon: &lexicon,
        page_url: &url,
        trusted_domains: &[],
    };
    let browser = page_fingerprint(site, variant, 6, BROWSER, wire);
    let crawler = page_fingerprint(site, variant, 7, BAIDU, wire);
    let browser_assessment = compare(&baseline, &browser, &ctx);
    let crawler_assessment =
        compare_crawler_view(&baseline, &browser, &crawler, "Baiduspider", &ctx);
    combine(browser_assessment, crawler_assessment.into_iter().collect())
}

fn codes(assessment: &Assessment) -> Vec<String> {
    let mut codes: Vec<String> = assessment
        .reasons
        .iter()
        .map(|reason| reason.code.clone())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

#[test]
fn every_variant_gets_the_right_verdict_in_every_encoding() {
    for site in SampleSite::ALL {
        for variant in Variant::ALL {
            let utf8 = assess(site, variant, Wire::Utf8);
            if variant.is_defacement() {
                assert_eq!(
                    utf8.verdict,
                    Verdict::Defaced,
                    "{site:?} {variant:?}: {:#?}",
                    utf8.reasons
                );
                assert!(utf8.score >= 50, "{site:?} {variant:?}");
            } else {
                assert_ne!(
                    utf8.verdict,
                    Verdict::Defaced,
                    "{site:?} {variant:?}: {:#?}",
                    utf8.reasons
                );
            }
            if variant == Variant::Normal {
                assert_eq!(
                    utf8.verdict,
                    Verdict::Clean,
                    "{site:?}: {:#?}",
                    utf8.reasons
                );
            }
            for wire in [Wire::GbkHeader, Wire::GbkMetaOnly] {
                let gbk = assess(site, variant, wire);
                assert_eq!(
                    (gbk.verdict, gbk.score, codes(&gbk)),
                    (utf8.verdict, utf8.score, codes(&utf8)),
                    "{site:?} {variant:?} {wire:?}"
                );
            }
        }
    }
}

/// The benign variants individually: what each should look like.
#[test]
fn benign_changes_are_clean_or_changed_as_expected() {
    for site in SampleSite::ALL {
        let check = |variant: Variant, expected: Verdict| {
            let assessment = assess(site, variant, Wire::Utf8);
            assert_eq!(
                assessment.verdict, expected,
                "{site:?} {variant:?}: {:#?}",
                assessment.reasons
            );
        };
        check(Variant::NewNewsItem, Verdict::Changed);
        check(Variant::ReorderedNotices, Verdict::Clean);
        check(Variant::NextDay, Verdict::Clean);
    }
}

/// Cloaked spam is invisible to the browser view and found by the crawler view.
#[test]
fn crawler_only_spam_is_found_only_through_the_crawler_view() {
    let site = SampleSite::Portal;
    let baseline = learn_baseline(
        page_fingerprint(site, Variant::Normal, 1, BROWSER, Wire::Utf8),
        &page_fingerprint(site, Variant::Normal, 2, BROWSER, Wire::Utf8),
    );
    let lexicon = Lexicon::builtin();
    let url = Url::parse("http://portal.example.gov.test/").expect("valid URL");
    let ctx = CompareContext {
        lexicon: &lexicon,
        page_url: &url,
        trusted_domains: &[],
    };
    let browser = page_fingerprint(site, Variant::CrawlerOnlySpam, 3, BROWSER, Wire::Utf8);
    assert_eq!(compare(&baseline, &browser, &ctx).verdict, Verdict::Clean);
    let crawler = page_fingerprint(site, Variant::CrawlerOnlySpam, 4, BAIDU, Wire::Utf8);
    let cloaked = compare_crawler_view(&baseline, &browser, &crawler, "Baiduspider", &ctx)
        .expect("cloaking is found");
    assert_eq!(cloaked.verdict, Verdict::Defaced);
    assert!(
        cloaked
            .reasons
            .iter()
            .all(|reason| reason.code == "cloaked_content")
    );
    assert!(
        cloaked
            .reasons
            .iter()
            .any(|reason| reason.message.contains("Baiduspider"))
    );
}
