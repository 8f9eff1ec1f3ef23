//! The HTML of the sample sites' pages, as a pure function of the site, the
//! path, the variant, the visit count, the day and the user agent.
//!
//! The pages are laid out like a real provincial government portal (header,
//! navigation with a hidden drop-down menu, rotating banner, news and notice
//! lists, 政务公开 links, related links, footer with 主办单位, ICP number,
//! phone and visitor counter). Variants change the home page only; inner
//! pages are always normal, except that [`Variant::ReorderedNotices`] and
//! [`Variant::NextDay`] apply to them as well, as they would on a real site.
//!
//! It deliberately contains no detection logic.

use std::fmt::Write as _;

use crate::calendar::{format_chinese_date, next_day};
use crate::{SampleSite, Variant};

/// The charset declaration every rendered page carries; [`crate::encode_page`]
/// rewrites it for GBK.
pub(crate) const META_CHARSET_UTF8: &str = "<meta charset=\"utf-8\">";

/// Invented gambling sites the defacement variants link to.
const GAMBLING_DOMAINS: [&str; 12] = [
    "www.amxpj0.bet-example.test",
    "www.amxpj1.bet-example.test",
    "www.tyc88.casino-example.test",
    "www.js777.casino-example.test",
    "www.hgty.sport-bet.test",
    "www.wnsr.sport-bet.test",
    "m.bjl365.play-example.test",
    "m.lhc49.play-example.test",
    "www.ylc8.fun-example.test",
    "www.xpjyl.fun-example.test",
    "vip.agzr.live-bet.test",
    "vip.bbin.live-bet.test",
];

/// Anchor texts of the planted gambling links.
const GAMBLING_TEXTS: [&str; 6] = [
    "澳门新葡京",
    "真人百家乐",
    "太阳城娱乐",
    "皇冠体育",
    "金沙娱乐",
    "注册送彩金",
];

/// The page at `path` of `site`, or `None` when the site has no such page.
///
/// `visit` is the visitor count shown in the footer; it also picks the
/// banner (three banners rotate). `day` is the date shown, as `YYYY-MM-DD`
/// (anything else is shown verbatim, and then [`Variant::NextDay`] has no
/// effect). `user_agent` matters only for [`Variant::CrawlerOnlySpam`].
pub fn render_page(
    site: SampleSite,
    path: &str,
    variant: Variant,
    visit: u64,
    day: &str,
    user_agent: &str,
) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let home = path == "/" || path == "/index.html";
    let inner = site.paths().iter().skip(1).any(|known| *known == path);
    if !home && !inner {
        return None;
    }
    let shown_day = match variant {
        Variant::NextDay => next_day(day).unwrap_or_else(|| day.to_string()),
        _ => day.to_string(),
    };
    let crawler = user_agent.to_ascii_lowercase().contains("baiduspider");
    let effective = match variant {
        Variant::CrawlerOnlySpam if !crawler => Variant::Normal,
        _ if !home && !matches!(variant, Variant::ReorderedNotices | Variant::NextDay) => {
            Variant::Normal
        }
        other => other,
    };
    if effective == Variant::WholePageReplaced {
        return Some(hacker_page());
    }
    let page = Page {
        site,
        variant: effective,
        visit,
        date_text: escape(&format_chinese_date(&shown_day)),
    };
    Some(if home { page.home() } else { page.list_page() })
}

struct Page {
    site: SampleSite,
    variant: Variant,
    visit: u64,
    date_text: String,
}

impl Page {
    fn home(&self) -> String {
        let mut main = String::new();
        if self.variant == Variant::GamblingParagraph {
            main.push_str(&gambling_paragraph());
        }
        if self.variant == Variant::CrawlerOnlySpam {
            main.push_str(&crawler_spam_block());
        }
        match self.site {
            SampleSite::Portal => {
                main.push_str(&news_box(
                    "ywdt",
                    "要闻动态",
                    "/ywdt/",
                    &self.news(),
                    "news-list",
                ));
                main.push_str(&news_box(
                    "tzgg",
                    "通知公告",
                    "/tzgg/index.html",
                    &self.notices(),
                    "notice-list",
                ));
                main.push_str(&link_box("zwgk", "政务公开", &PORTAL_OPENNESS));
            }
            SampleSite::Procurement => {
                main.push_str(&news_box(
                    "cggg",
                    "采购公告",
                    "/cggg/index.html",
                    &self.news(),
                    "news-list",
                ));
                main.push_str(&news_box(
                    "zbgg",
                    "中标（成交）结果公告",
                    "/zbgg/",
                    &self.notices(),
                    "notice-list",
                ));
                main.push_str(&link_box("bszn", "办事指南", &PROCUREMENT_GUIDES));
            }
        }
        main.push_str(&link_box("xglj", "相关链接", &RELATED_LINKS));
        self.layout(&main, true)
    }

    fn list_page(&self) -> String {
        let (heading, items) = match self.site {
            SampleSite::Portal => ("通知公告", self.notices_page_items()),
            SampleSite::Procurement => (
                "采购公告",
                PROCUREMENT_NOTICES
                    .iter()
                    .chain(&PROCUREMENT_NEWS)
                    .map(|item| item.to_owned())
                    .collect(),
            ),
        };
        let mut main = String::new();
        let _ = write!(
            main,
            "<div class=\"location\">当前位置：<a href=\"/\">首页</a> &gt; {heading}</div>\n<div class=\"list-box\"><h2>{heading}</h2>\n{}<div class=\"pages\">共 {} 条　第 1/1 页</div></div>\n",
            list(&items, "list"),
            items.len()
        );
        self.layout(&main, false)
    }

    /// The news list of the home page (ten items).
    fn news(&self) -> Vec<Item> {
        let source: &[Item] = match self.site {
            SampleSite::Portal => &PORTAL_NEWS,
            SampleSite::Procurement => &PROCUREMENT_NOTICES,
        };
        let mut items: Vec<Item> = source.to_vec();
        if self.variant == Variant::NewNewsItem {
            let fresh = match self.site {
                SampleSite::Portal => Item(
                    "省财政厅召开全省财政支持乡村振兴工作推进会",
                    "/ywdt/202611/t20261121_4123.html",
                    "2026-11-21",
                ),
                SampleSite::Procurement => Item(
                    "示例省第三人民医院医用耗材集中采购项目公开招标公告",
                    "/cggg/202611/t20261121_9035.html",
                    "2026-11-21",
                ),
            };
            items.insert(0, fresh);
            items.truncate(source.len());
        }
        items
    }

    /// The notices list of the home page.
    fn notices(&self) -> Vec<Item> {
        let source: &[Item] = match self.site {
            SampleSite::Portal => &PORTAL_NOTICES[..6],
            SampleSite::Procurement => &PROCUREMENT_NEWS,
        };
        let mut items = source.to_vec();
        if self.variant == Variant::ReorderedNotices {
            // An older notice is pinned to the top (置顶).
            items.rotate_right(2);
        }
        items
    }

    fn notices_page_items(&self) -> Vec<Item> {
        let mut items = PORTAL_NOTICES.to_vec();
        if self.variant == Variant::ReorderedNotices {
            items.rotate_right(2);
        }
        items
    }

    fn layout(&self, main: &str, home: bool) -> String {
        let site = self.site;
        let title = match (self.variant, home) {
            (Variant::HackedTitle, true) => format!("Hacked By Shadow Team - {}", site.name()),
            (Variant::CrawlerOnlySpam, true) => {
                format!("澳门新葡京_真人百家乐_娱乐城_{}", site.name())
            }
            (_, true) => site.name().to_string(),
            (_, false) => format!(
                "{}_{}",
                if site == SampleSite::Portal {
                    "通知公告"
                } else {
                    "采购公告"
                },
                site.name()
            ),
        };
        let keywords = if self.variant == Variant::CrawlerOnlySpam {
            "澳门新葡京,真人百家乐,太阳城娱乐,注册送彩金"
        } else {
            match site {
                SampleSite::Portal => "示例省财政厅,财政,预算,决算,政府采购,政务公开",
                SampleSite::Procurement => "示例省政府采购网,政府采购,采购公告,中标公告",
            }
        };
        let head_extra = match self.variant {
            Variant::ForeignScript => "<script type=\"text/javascript\" src=\"http://js.cdn-jquery.test/jquery.min.js?v=3.6\"></script>\n".to_string(),
            Variant::MetaRefreshRedirect => "<meta http-equiv=\"refresh\" content=\"0;url=http://www.amxpj0.bet-example.test/\">\n".to_string(),
            Variant::JsRedirect => concat!(
                "<script type=\"text/javascript\">\n",
                "var s = document.referrer;\n",
                "if (s.indexOf(\"baidu\") > 0 || s.indexOf(\"sogou\") > 0 || s.indexOf(\"so.com\") > 0) {\n",
                "  window.location.href = \"http://www.amxpj0.bet-example.test/\";\n",
                "}\n</script>\n"
            )
            .to_string(),
            Variant::HiddenGamblingLinks => "<style>.yqlj{display:none}</style>\n".to_string(),
            _ => String::new(),
        };
        let body_top = if self.variant == Variant::ForeignIframe {
            "<iframe src=\"http://www.tyc88.casino-example.test/ad.html\" width=\"0\" height=\"0\" frameborder=\"0\"></iframe>\n"
        } else {
            ""
        };
        let footer_extra = if self.variant == Variant::HiddenGamblingLinks {
            hidden_gambling_links()
        } else {
            String::new()
        };
        let (nav, footer_unit) = match site {
            SampleSite::Portal => (&PORTAL_NAV[..], "示例省财政厅信息中心"),
            SampleSite::Procurement => (&PROCUREMENT_NAV[..], "示例省政府采购中心"),
        };
        let banner = self.banner();

        let mut html = String::with_capacity(16 * 1024);
        let _ = write!(
            html,
            r##"<!DOCTYPE html>
<html lang="zh-CN">
<head>
{META_CHARSET_UTF8}
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{title}</title>
<meta name="keywords" content="{keywords}">
<meta name="description" content="{name}门户网站">
<link rel="stylesheet" href="/css/style.css">
<style>
.sub-menu{{display:none;position:absolute}}
#nav li:hover .sub-menu{{display:block}}
.news-list li span, .notice-list li span{{float:right;color:#999}}
</style>
<script type="text/javascript" src="/js/jquery.min.js"></script>
{head_extra}</head>
<body>
{body_top}<div id="top-bar"><span class="today">今天是：{date}</span><span class="top-links"><a href="/">首页</a> | <a href="/wzdt/">网站地图</a> | <a href="/wza/">无障碍浏览</a> | <a href="/m/">手机版</a></span></div>
<div id="header"><h1><a href="/"><img src="/images/logo.png" alt="{name}"></a></h1>
<form id="search" action="/search/" method="get"><input type="text" name="q" placeholder="请输入关键词"><button type="submit">搜索</button></form></div>
<div id="nav"><ul>
{nav}</ul></div>
{banner}<div id="main">
{main}</div>
<div id="footer">
<p><a href="/gywm/">关于我们</a> | <a href="/lxwm/">联系我们</a> | <a href="/wzsm/">网站声明</a></p>
<p>主办单位：示例省财政厅　承办单位：{footer_unit}</p>
<p>地址：示例省示例市政务路1号　邮编：000000　联系电话：0000-12345678　值班电话：138-0000-0001</p>
<p>ICP备案号：<a href="http://beian.example-icp.test/">示ICP备00000000号-1</a>　政府网站标识码：0000000001</p>
<p class="visit">您是本站第 <span id="counter">{visit}</span> 位访问者</p>
{footer_extra}</div>
<script type="text/javascript">
$(function () {{
  $("#nav > ul > li").hover(function () {{ $(this).children(".sub-menu").show(); }}, function () {{ $(this).children(".sub-menu").hide(); }});
}});
</script>
</body>
</html>
"##,
            name = site.name(),
            date = self.date_text,
            nav = nav_html(nav),
            visit = self.visit,
        );
        html
    }

    /// The rotating banner: which one shows depends on the visit count.
    fn banner(&self) -> String {
        const BANNERS: [(&str, &str); 3] = [
            ("czgg", "深化财政体制改革 推动高质量发展"),
            ("yshj", "持续优化营商环境 助力市场主体发展"),
            ("hmzc", "财政惠民政策解读"),
        ];
        let (slug, caption) = BANNERS[(self.visit % 3) as usize];
        format!(
            "<div id=\"banner\"><a href=\"/ztzl/{slug}/\"><img src=\"/images/banner/{slug}.jpg?v={}\" alt=\"{caption}\"></a><p class=\"banner-title\">{caption}</p></div>\n",
            self.visit
        )
    }
}

/// A navigation entry: (text, link, drop-down entries as (text, link)).
type NavEntry = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// A list item: (title, link, date).
#[derive(Clone, Copy)]
struct Item(&'static str, &'static str, &'static str);

const PORTAL_NAV: [NavEntry; 7] = [
    ("首页", "/", &[]),
    (
        "机构概况",
        "/jggk/",
        &[
            ("领导信息", "/jggk/ldxx/"),
            ("内设机构", "/jggk/nsjg/"),
            ("直属单位", "/jggk/zsdw/"),
        ],
    ),
    (
        "政务公开",
        "/zwgk/",
        &[
            ("信息公开指南", "/zwgk/xxgkzn/"),
            ("财政预决算", "/zwgk/czyjs/"),
            ("政府信息公开年报", "/zwgk/nb/"),
        ],
    ),
    ("要闻动态", "/ywdt/", &[]),
    ("通知公告", "/tzgg/index.html", &[]),
    ("政府采购", "http://zfcg.example.gov.test/", &[]),
    (
        "互动交流",
        "/hdjl/",
        &[("厅长信箱", "/hdjl/tzxx/"), ("在线访谈", "/hdjl/zxft/")],
    ),
];

const PROCUREMENT_NAV: [NavEntry; 6] = [
    ("首页", "/", &[]),
    (
        "采购公告",
        "/cggg/index.html",
        &[
            ("公开招标", "/cggg/gkzb/"),
            ("竞争性磋商", "/cggg/jzxcs/"),
            ("单一来源", "/cggg/dyly/"),
        ],
    ),
    ("结果公告", "/zbgg/", &[]),
    ("政策法规", "/zcfg/", &[]),
    ("办事指南", "/bszn/", &[]),
    ("财政厅首页", "http://portal.example.gov.test/", &[]),
];

const PORTAL_NEWS: [Item; 10] = [
    Item(
        "示例省财政厅召开2026年度全省财政工作会议",
        "/ywdt/202611/t20261120_4101.html",
        "2026-11-20",
    ),
    Item(
        "全省财政系统深入开展预算绩效管理专题培训",
        "/ywdt/202611/t20261119_4098.html",
        "2026-11-19",
    ),
    Item(
        "省财政厅下达2026年第二批农业产业发展资金",
        "/ywdt/202611/t20261118_4095.html",
        "2026-11-18",
    ),
    Item(
        "示例省出台支持中小企业发展的若干财政政策措施",
        "/ywdt/202611/t20261117_4090.html",
        "2026-11-17",
    ),
    Item(
        "省财政厅组织开展政府采购领域专项检查",
        "/ywdt/202611/t20261114_4086.html",
        "2026-11-14",
    ),
    Item(
        "全省国有资产管理工作推进会在示例市召开",
        "/ywdt/202611/t20261113_4081.html",
        "2026-11-13",
    ),
    Item(
        "省财政厅党组理论学习中心组举行集体学习",
        "/ywdt/202611/t20261112_4077.html",
        "2026-11-12",
    ),
    Item(
        "示例省2026年1至10月财政收支情况通报",
        "/ywdt/202611/t20261111_4072.html",
        "2026-11-11",
    ),
    Item(
        "省财政厅举办“财政开放日”活动",
        "/ywdt/202611/t20261107_4066.html",
        "2026-11-07",
    ),
    Item(
        "省财政厅举办会计人员继续教育专题讲座",
        "/ywdt/202611/t20261105_4060.html",
        "2026-11-05",
    ),
];

const PORTAL_NOTICES: [Item; 10] = [
    Item(
        "关于做好2027年度省级部门预算编制工作的通知",
        "/tzgg/202611/t20261120_4102.html",
        "2026-11-20",
    ),
    Item(
        "关于公开征求《示例省财政专项资金管理办法（征求意见稿）》意见的公告",
        "/tzgg/202611/t20261118_4096.html",
        "2026-11-18",
    ),
    Item(
        "关于开展2026年度会计信息质量检查工作的通知",
        "/tzgg/202611/t20261116_4093.html",
        "2026-11-16",
    ),
    Item(
        "关于印发《示例省政府采购内部控制规范》的通知",
        "/tzgg/202611/t20261112_4078.html",
        "2026-11-12",
    ),
    Item(
        "关于2026年度全省会计专业技术资格考试合格人员名单的公示",
        "/tzgg/202611/t20261109_4070.html",
        "2026-11-09",
    ),
    Item(
        "示例省财政厅2026年公开招聘事业单位工作人员拟聘用人员公示",
        "/tzgg/202611/t20261104_4058.html",
        "2026-11-04",
    ),
    Item(
        "关于做好2026年度财政决算编审工作的通知",
        "/tzgg/202610/t20261030_4049.html",
        "2026-10-30",
    ),
    Item(
        "关于开展财政票据专项检查的通知",
        "/tzgg/202610/t20261027_4043.html",
        "2026-10-27",
    ),
    Item(
        "关于调整省级行政事业单位差旅费标准的通知",
        "/tzgg/202610/t20261021_4035.html",
        "2026-10-21",
    ),
    Item(
        "关于防范冒用财政部门名义实施诈骗的提示",
        "/tzgg/202610/t20261015_4028.html",
        "2026-10-15",
    ),
];

const PROCUREMENT_NOTICES: [Item; 10] = [
    Item(
        "示例省人民医院医疗设备采购项目公开招标公告",
        "/cggg/202611/t20261120_9031.html",
        "2026-11-20",
    ),
    Item(
        "示例省教育厅2026年教学仪器设备采购项目竞争性磋商公告",
        "/cggg/202611/t20261119_9027.html",
        "2026-11-19",
    ),
    Item(
        "示例省财政厅信息化运维服务采购项目公开招标公告",
        "/cggg/202611/t20261118_9024.html",
        "2026-11-18",
    ),
    Item(
        "示例市第一中学食堂食材配送服务采购项目公告",
        "/cggg/202611/t20261117_9020.html",
        "2026-11-17",
    ),
    Item(
        "示例省交通运输厅公路养护机械采购项目公开招标公告",
        "/cggg/202611/t20261114_9016.html",
        "2026-11-14",
    ),
    Item(
        "示例省图书馆数字资源采购项目单一来源公示",
        "/cggg/202611/t20261113_9012.html",
        "2026-11-13",
    ),
    Item(
        "示例省疾控中心检测试剂采购项目更正公告",
        "/cggg/202611/t20261112_9009.html",
        "2026-11-12",
    ),
    Item(
        "示例省档案馆档案数字化加工服务项目招标公告",
        "/cggg/202611/t20261111_9005.html",
        "2026-11-11",
    ),
    Item(
        "示例省农业农村厅农机购置补贴系统运维项目磋商公告",
        "/cggg/202611/t20261107_9001.html",
        "2026-11-07",
    ),
    Item(
        "示例省机关事务管理局公务用车采购项目公开招标公告",
        "/cggg/202611/t20261105_8996.html",
        "2026-11-05",
    ),
];

const PROCUREMENT_NEWS: [Item; 5] = [
    Item(
        "示例省人民医院影像设备采购项目中标结果公告",
        "/zbgg/202611/t20261120_9030.html",
        "2026-11-20",
    ),
    Item(
        "示例省水利厅水文监测设备采购项目成交结果公告",
        "/zbgg/202611/t20261118_9023.html",
        "2026-11-18",
    ),
    Item(
        "示例省财政厅办公家具采购项目中标结果公告",
        "/zbgg/202611/t20261116_9018.html",
        "2026-11-16",
    ),
    Item(
        "示例市第二中学多媒体教室改造项目成交结果公告",
        "/zbgg/202611/t20261112_9008.html",
        "2026-11-12",
    ),
    Item(
        "示例省气象局气象观测设备采购项目中标结果公告",
        "/zbgg/202611/t20261109_9002.html",
        "2026-11-09",
    ),
];

const PORTAL_OPENNESS: [(&str, &str); 8] = [
    ("信息公开指南", "/zwgk/xxgkzn/"),
    ("信息公开目录", "/zwgk/xxgkml/"),
    ("信息公开年报", "/zwgk/nb/"),
    ("依申请公开", "/zwgk/ysqgk/"),
    ("财政预决算", "/zwgk/czyjs/"),
    ("政府债务", "/zwgk/zfzw/"),
    ("政策解读", "/zwgk/zcjd/"),
    ("建议提案办理", "/zwgk/jyta/"),
];

const PROCUREMENT_GUIDES: [(&str, &str); 5] = [
    ("供应商注册", "/bszn/gyszc/"),
    ("采购流程", "/bszn/cglc/"),
    ("质疑投诉", "/bszn/zyts/"),
    ("评审专家管理", "/bszn/zjgl/"),
    ("常见问题", "/bszn/cjwt/"),
];

/// Links present in the approved pages, including one external government
/// site (财政部, invented domain) that is therefore not new.
const RELATED_LINKS: [(&str, &str); 4] = [
    ("财政部（示例）", "http://www.mof.example-central.gov.test/"),
    ("示例省人民政府", "http://www.example.gov.test/"),
    ("示例省政府采购网", "http://zfcg.example.gov.test/"),
    ("示例省财政厅", "http://portal.example.gov.test/"),
];

fn nav_html(nav: &[NavEntry]) -> String {
    let mut html = String::new();
    for (text, href, children) in nav {
        let _ = write!(html, "<li><a href=\"{href}\">{text}</a>");
        if !children.is_empty() {
            html.push_str("<ul class=\"sub-menu\">");
            for (child_text, child_href) in children.iter() {
                let _ = write!(html, "<li><a href=\"{child_href}\">{child_text}</a></li>");
            }
            html.push_str("</ul>");
        }
        html.push_str("</li>\n");
    }
    html
}

fn list(items: &[Item], class: &str) -> String {
    let mut html = format!("<ul class=\"{class}\">\n");
    for Item(title, href, date) in items {
        let _ = writeln!(
            html,
            "<li><a href=\"{href}\" title=\"{title}\" target=\"_blank\">{title}</a><span>{date}</span></li>"
        );
    }
    html.push_str("</ul>\n");
    html
}

fn news_box(id: &str, heading: &str, more: &str, items: &[Item], class: &str) -> String {
    format!(
        "<div class=\"news-box\" id=\"{id}\"><h2>{heading}<a class=\"more\" href=\"{more}\">更多&gt;&gt;</a></h2>\n{}</div>\n",
        list(items, class)
    )
}

fn link_box(id: &str, heading: &str, links: &[(&str, &str)]) -> String {
    let mut html = format!("<div class=\"box\" id=\"{id}\"><h2>{heading}</h2><ul>");
    for (text, href) in links {
        let _ = write!(
            html,
            "<li><a href=\"{href}\" target=\"_blank\">{text}</a></li>"
        );
    }
    html.push_str("</ul></div>\n");
    html
}

fn hidden_gambling_links() -> String {
    let mut html = String::from("<div class=\"yqlj\">");
    for index in 0..36 {
        let domain = GAMBLING_DOMAINS[index % GAMBLING_DOMAINS.len()];
        let text = GAMBLING_TEXTS[index % GAMBLING_TEXTS.len()];
        let _ = write!(html, "<a href=\"http://{domain}/?id={index}\">{text}</a> ");
    }
    html.push_str("</div>\n");
    html
}

fn gambling_paragraph() -> String {
    format!(
        "<p class=\"ad\">澳门新葡京娱乐城开业大酬宾：真人百家乐、皇冠体育，注册送彩金88元，24小时在线客服！<a href=\"http://{}/\">立即注册</a></p>\n",
        GAMBLING_DOMAINS[0]
    )
}

fn crawler_spam_block() -> String {
    let mut html = String::from("<div class=\"hot\"><h2>热门推荐</h2><p>");
    for (index, domain) in GAMBLING_DOMAINS.iter().enumerate() {
        let text = GAMBLING_TEXTS[index % GAMBLING_TEXTS.len()];
        let _ = write!(html, "<a href=\"http://{domain}/\">{text}</a> ");
    }
    html.push_str("</p></div>\n");
    html
}

/// What an attacker put in place of the home page.
fn hacker_page() -> String {
    format!(
        r#"<!DOCTYPE html>
<html>
<head>
{META_CHARSET_UTF8}
<title>Hacked By Shadow Team</title>
</head>
<body style="background:#000;color:#0f0;text-align:center">
<h1>Hacked By Shadow Team</h1>
<p>Your security is low. Patch your system!</p>
<p>我们只是来测试一下安全性，管理员请尽快修补漏洞。</p>
<p>Greetz: Ghost, Zero, Phantom</p>
</body>
</html>
"#
    )
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: &str = "2026-11-26";
    const BROWSER: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
    const BAIDU: &str =
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)";

    fn home(site: SampleSite, variant: Variant, user_agent: &str) -> String {
        render_page(site, "/", variant, 1_234_567, DAY, user_agent).unwrap_or_default()
    }

    /// Checks that the page contains (or lacks) a piece of markup.
    fn check(site: SampleSite, variant: Variant, user_agent: &str, needle: &str, expected: bool) {
        let html = home(site, variant, user_agent);
        assert_eq!(
            html.contains(needle),
            expected,
            "{site:?} {variant:?} {needle}"
        );
    }

    #[test]
    fn home_pages_look_like_a_government_portal() {
        for site in SampleSite::ALL {
            for needle in [
                "<title>",
                "今天是：2026年11月26日 星期四",
                "主办单位：示例省财政厅",
                "ICP备案号",
                "0000-12345678",
                "1234567",
                "class=\"sub-menu\"",
                "http://www.mof.example-central.gov.test/",
                "banner-title",
            ] {
                check(site, Variant::Normal, BROWSER, needle, true);
            }
        }
        let html = home(SampleSite::Portal, Variant::Normal, BROWSER);
        assert_eq!(html.matches("class=\"news-list\"").count(), 1);
        assert_eq!(html.matches("/ywdt/202611/").count(), 10);
    }

    #[test]
    fn variants_change_the_home_page() {
        let site = SampleSite::Portal;
        check(
            site,
            Variant::WholePageReplaced,
            BROWSER,
            "Hacked By Shadow Team",
            true,
        );
        check(
            site,
            Variant::HiddenGamblingLinks,
            BROWSER,
            ".yqlj{display:none}",
            true,
        );
        check(
            site,
            Variant::ForeignScript,
            BROWSER,
            "js.cdn-jquery.test",
            true,
        );
        check(
            site,
            Variant::ForeignIframe,
            BROWSER,
            "<iframe src=\"http://www.tyc88",
            true,
        );
        check(
            site,
            Variant::MetaRefreshRedirect,
            BROWSER,
            "http-equiv=\"refresh\"",
            true,
        );
        check(
            site,
            Variant::JsRedirect,
            BROWSER,
            "window.location.href",
            true,
        );
        check(site, Variant::CrawlerOnlySpam, BROWSER, "百家乐", false);
        check(
            site,
            Variant::CrawlerOnlySpam,
            BAIDU,
            "<title>澳门新葡京",
            true,
        );
        check(
            site,
            Variant::HackedTitle,
            BROWSER,
            "<title>Hacked By Shadow Team",
            true,
        );
        check(
            site,
            Variant::GamblingParagraph,
            BROWSER,
            "注册送彩金88元",
            true,
        );
        check(site, Variant::NewNewsItem, BROWSER, "乡村振兴", true);
        check(
            site,
            Variant::NextDay,
            BROWSER,
            "今天是：2026年11月27日 星期五",
            true,
        );
        assert_ne!(
            home(site, Variant::ReorderedNotices, BROWSER),
            home(site, Variant::Normal, BROWSER)
        );
        let new_item = home(site, Variant::NewNewsItem, BROWSER);
        assert_eq!(new_item.matches("/ywdt/202611/").count(), 10);
    }

    #[test]
    fn banner_and_counter_change_per_visit() {
        let first = render_page(SampleSite::Portal, "/", Variant::Normal, 1, DAY, BROWSER)
            .unwrap_or_default();
        let second = render_page(SampleSite::Portal, "/", Variant::Normal, 2, DAY, BROWSER)
            .unwrap_or_default();
        assert!(
            first.contains("/images/banner/yshj.jpg?v=1")
                && second.contains("/images/banner/hmzc.jpg?v=2")
        );
        assert!(second.contains("<span id=\"counter\">2</span>"));
    }

    #[test]
    fn inner_pages_and_unknown_paths() {
        for site in SampleSite::ALL {
            for path in site.paths() {
                assert!(
                    render_page(site, path, Variant::Normal, 1, DAY, BROWSER).is_some(),
                    "{site:?} {path}"
                );
            }
            assert!(
                render_page(
                    site,
                    "/index.html?from=menu",
                    Variant::Normal,
                    1,
                    DAY,
                    BROWSER
                )
                .is_some()
            );
            assert_eq!(
                render_page(site, "/admin/", Variant::Normal, 1, DAY, BROWSER),
                None
            );
        }
        let inner = render_page(
            SampleSite::Portal,
            "/tzgg/index.html",
            Variant::HackedTitle,
            1,
            DAY,
            BROWSER,
        )
        .unwrap_or_default();
        assert!(!inner.contains("Hacked"));
        assert!(inner.contains("关于防范冒用财政部门名义实施诈骗的提示"));
    }

    #[test]
    fn day_is_escaped() {
        let html = render_page(
            SampleSite::Portal,
            "/",
            Variant::Normal,
            1,
            "<b>明天</b>",
            BROWSER,
        )
        .unwrap_or_default();
        assert!(html.contains("今天是：&lt;b&gt;明天&lt;/b&gt;"));
    }
}
