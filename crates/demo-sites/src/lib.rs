//! Invented sample sites for the demo, the tests and the benchmarks: a
//! provincial finance department's portal (示例省财政厅,
//! portal.example.gov.test) and its procurement sub-site (示例省政府采购网,
//! zfcg.example.gov.test), each with benign changes and defacement variants.
//!
//! [`render_page`] is pure: the HTML of one page at one variant, visit count,
//! day and user agent. [`SiteServer`] serves a site on loopback, counting
//! visits, rotating the banner on every request and switching variants on
//! demand, in UTF-8 or GBK.
//!
//! Every name, phone number, registration number and domain here is
//! invented; domains end in the reserved `.test` top-level domain. This
//! crate deliberately contains no detection logic: it only produces pages,
//! so that tests cannot accidentally agree with the analysis by sharing code.

mod calendar;
mod duty_room;
mod render;
mod server;

pub use calendar::{format_chinese_date, next_day};
pub use duty_room::{DutyMessage, DutyRoom};

/// Options that make the sample plan watch these running sample sites on
/// loopback: their hosts resolved to 127.0.0.1, their ports in the page
/// URLs, the given check interval, and every notification sent to the
/// duty room when one is given (so no sample channel host is contacted).
pub fn loopback_plan_options(
    sites: &[&SiteServer],
    interval_seconds: u32,
    duty_room: Option<&DutyRoom>,
) -> sitewarden_plan::SampleOptions {
    sitewarden_plan::SampleOptions {
        interval_seconds: Some(interval_seconds),
        resolve: sites
            .iter()
            .map(|site| (site.host().to_string(), "127.0.0.1".to_string()))
            .collect(),
        ports: sites
            .iter()
            .map(|site| (site.host().to_string(), site.addr().port()))
            .collect(),
        notify_webhook: duty_room.map(|room| (room.url(), room.secret().to_string())),
        gateway: None,
        without_web_root: false,
    }
}
pub use render::render_page;
pub use server::SiteServer;

/// One of the two sample sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleSite {
    /// 示例省财政厅 — the provincial finance department's portal.
    Portal,
    /// 示例省政府采购网 — its government procurement sub-site.
    Procurement,
}

impl SampleSite {
    /// Both sites.
    pub const ALL: [SampleSite; 2] = [SampleSite::Portal, SampleSite::Procurement];

    /// The site's (invented) host name.
    pub fn host(self) -> &'static str {
        match self {
            SampleSite::Portal => "portal.example.gov.test",
            SampleSite::Procurement => "zfcg.example.gov.test",
        }
    }

    /// The site's Chinese name.
    pub fn name(self) -> &'static str {
        match self {
            SampleSite::Portal => "示例省财政厅",
            SampleSite::Procurement => "示例省政府采购网",
        }
    }

    /// The paths of the pages the site serves; the first is the home page.
    pub fn paths(self) -> &'static [&'static str] {
        match self {
            SampleSite::Portal => &["/", "/tzgg/index.html"],
            SampleSite::Procurement => &["/", "/cggg/index.html"],
        }
    }
}

/// How a site's pages are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// UTF-8, `<meta charset="utf-8">`.
    Utf8,
    /// GBK (as many older Chinese government sites still are),
    /// `<meta charset="gbk">`.
    Gbk,
}

impl Encoding {
    /// The `Content-Type` header value that names this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Utf8 => "text/html; charset=utf-8",
            Encoding::Gbk => "text/html; charset=GBK",
        }
    }

    /// The label used in the page's `<meta charset>`.
    pub fn meta_label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

/// The bytes of a page rendered by [`render_page`] in `encoding`: the
/// `<meta charset="utf-8">` is rewritten to name the encoding, then the text
/// is encoded (characters GBK lacks become numeric character references, as
/// encoding_rs does for HTML).
pub fn encode_page(html: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => html.as_bytes().to_vec(),
        Encoding::Gbk => {
            let relabelled = html.replacen(render::META_CHARSET_UTF8, "<meta charset=\"gbk\">", 1);
            encoding_rs::GBK.encode(&relabelled).0.into_owned()
        }
    }
}

/// What a site looks like at one moment: normal, defaced in one of the ways
/// attackers deface Chinese government sites, or changed in a benign way
/// that must not raise an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The approved page.
    Normal,
    /// The whole home page replaced by a hacker's page.
    WholePageReplaced,
    /// A hidden block (a class hidden by a `<style>` rule) with dozens of
    /// links to gambling sites (暗链).
    HiddenGamblingLinks,
    /// A `<script src>` from an attacker's domain in the head.
    ForeignScript,
    /// A zero-size iframe to a gambling site.
    ForeignIframe,
    /// A meta refresh to a gambling site.
    MetaRefreshRedirect,
    /// A script sending visitors from search engines to a gambling site.
    JsRedirect,
    /// Gambling title, keywords and links served only when the User-Agent
    /// contains "Baiduspider" (cloaking); browsers see the normal page.
    CrawlerOnlySpam,
    /// The title replaced with a defacer's signature.
    HackedTitle,
    /// A visible gambling advertisement paragraph above the news.
    GamblingParagraph,
    /// Benign: a new news item at the top of the list (the oldest drops off).
    NewNewsItem,
    /// Benign: the notices list in a different order (one pinned to the top).
    ReorderedNotices,
    /// Benign: the date shown is the next day.
    NextDay,
}

impl Variant {
    /// Every defacement variant.
    pub const DEFACEMENTS: [Variant; 9] = [
        Variant::WholePageReplaced,
        Variant::HiddenGamblingLinks,
        Variant::ForeignScript,
        Variant::ForeignIframe,
        Variant::MetaRefreshRedirect,
        Variant::JsRedirect,
        Variant::CrawlerOnlySpam,
        Variant::HackedTitle,
        Variant::GamblingParagraph,
    ];

    /// Every benign-change variant.
    pub const BENIGN: [Variant; 3] = [
        Variant::NewNewsItem,
        Variant::ReorderedNotices,
        Variant::NextDay,
    ];

    /// Every variant, `Normal` first.
    pub const ALL: [Variant; 13] = [
        Variant::Normal,
        Variant::WholePageReplaced,
        Variant::HiddenGamblingLinks,
        Variant::ForeignScript,
        Variant::ForeignIframe,
        Variant::MetaRefreshRedirect,
        Variant::JsRedirect,
        Variant::CrawlerOnlySpam,
        Variant::HackedTitle,
        Variant::GamblingParagraph,
        Variant::NewNewsItem,
        Variant::ReorderedNotices,
        Variant::NextDay,
    ];

    /// True for the defacement variants.
    pub fn is_defacement(self) -> bool {
        Variant::DEFACEMENTS.contains(&self)
    }

    /// A stable snake_case name, e.g. "hidden_gambling_links".
    pub fn name(self) -> &'static str {
        match self {
            Variant::Normal => "normal",
            Variant::WholePageReplaced => "whole_page_replaced",
            Variant::HiddenGamblingLinks => "hidden_gambling_links",
            Variant::ForeignScript => "foreign_script",
            Variant::ForeignIframe => "foreign_iframe",
            Variant::MetaRefreshRedirect => "meta_refresh_redirect",
            Variant::JsRedirect => "js_redirect",
            Variant::CrawlerOnlySpam => "crawler_only_spam",
            Variant::HackedTitle => "hacked_title",
            Variant::GamblingParagraph => "gambling_paragraph",
            Variant::NewNewsItem => "new_news_item",
            Variant::ReorderedNotices => "reordered_notices",
            Variant::NextDay => "next_day",
        }
    }

    /// The variant with this [`Variant::name`].
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL
            .into_iter()
            .find(|variant| variant.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_lists_are_consistent() {
        for variant in Variant::ALL {
            assert_eq!(Variant::from_name(variant.name()), Some(variant));
            assert_eq!(
                variant.is_defacement(),
                Variant::DEFACEMENTS.contains(&variant)
            );
            let listed = usize::from(Variant::DEFACEMENTS.contains(&variant))
                + usize::from(Variant::BENIGN.contains(&variant))
                + usize::from(variant == Variant::Normal);
            assert_eq!(listed, 1, "{variant:?}");
        }
        assert_eq!(Variant::from_name("no_such_variant"), None);
    }

    #[test]
    fn gbk_pages_name_their_encoding() {
        let html = render_page(
            SampleSite::Portal,
            "/",
            Variant::Normal,
            1,
            "2026-11-26",
            "Mozilla/5.0",
        )
        .unwrap_or_default();
        let bytes = encode_page(&html, Encoding::Gbk);
        let (decoded, _, had_errors) = encoding_rs::GBK.decode(&bytes);
        assert!(!had_errors);
        assert!(decoded.contains("<meta charset=\"gbk\">"));
        assert!(decoded.contains("示例省财政厅"));
        assert_eq!(encode_page(&html, Encoding::Utf8), html.as_bytes());
    }
}
