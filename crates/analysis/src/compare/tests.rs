//! Rule-by-rule tests of [`super::compare`] on small government-style pages.

use super::*;
use crate::baseline::learn_baseline;
use crate::decode::decode_body;
use crate::fingerprint::fingerprint;

const PAGE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{TITLE}</title>
<script src="/js/jquery.min.js"></script><script>var menu = "main";</script>{HEAD}</head>
<body><div id="top"><span class="date">今天是：{DATE}</span></div>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a>
<ul class="sub" style="display:none"><li><a href="/zwgk/ys/">预算公开</a></li></ul></li></ul>
<div id="news"><h2>要闻动态</h2><ul>{NEWS}</ul></div>
<div id="notice"><h2>通知公告</h2><ul>{NOTICES}</ul></div>
{EXTRA}
<div id="footer"><p>主办单位：示例省财政厅　联系电话：0000-12345678</p>
<p class="counter">访问量：{COUNTER}</p><p><a href="http://www.other-gov.test/">示例省人民政府</a></p></div>
</body></html>"#;

const NEWS: [&str; 10] = [
    "示例省财政厅召开2026年度全省财政工作会议",
    "全省财政系统深入开展预算绩效管理培训",
    "省财政厅下达2026年第一批农业发展资金",
    "示例省出台支持中小企业发展的财政政策措施",
    "省财政厅组织开展政府采购领域专项检查",
    "全省国有资产管理工作推进会在示例市召开",
    "省财政厅党组理论学习中心组举行集体学习",
    "示例省2026年1至10月财政收支情况通报",
    "省财政厅开展“财政开放日”活动",
    "省财政厅举办会计人员继续教育专题讲座",
];

const NOTICES: [&str; 4] = [
    "关于做好2027年度部门预算编制工作的通知",
    "关于公开征求《示例省财政专项资金管理办法》意见的公告",
    "关于开展2026年度会计信息质量检查的通知",
    "关于印发《示例省政府采购内部控制规范》的通知",
];

struct Page<'a> {
    title: &'a str,
    head: &'a str,
    date: &'a str,
    news: Vec<&'a str>,
    notices: Vec<&'a str>,
    extra: &'a str,
    counter: u64,
}

impl Page<'_> {
    fn normal() -> Page<'static> {
        Page {
            title: "示例省财政厅",
            head: "",
            date: "2026年11月26日 星期四",
            news: NEWS.to_vec(),
            notices: NOTICES.to_vec(),
            extra: "",
            counter: 1000,
        }
    }

    fn html(&self) -> String {
        let items = |items: &[&str], prefix: &str| {
            items
                .iter()
                .enumerate()
                .map(|(index, text)| format!("<li><a href=\"/{prefix}/{index}.html\">{text}</a><span>2026-11-{:02}</span></li>", 20 - index % 10))
                .collect::<String>()
        };
        PAGE.replace("{TITLE}", self.title)
            .replace("{HEAD}", self.head)
            .replace("{DATE}", self.date)
            .replace("{NEWS}", &items(&self.news, "ywdt"))
            .replace(
                "{NOTICES}",
                &self
                    .notices
                    .iter()
                    .map(|text| {
                        format!(
                            "<li><a href=\"/tzgg/{}.html\">{text}</a></li>",
                            text.chars().count()
                        )
                    })
                    .collect::<String>(),
            )
            .replace("{EXTRA}", self.extra)
            .replace("{COUNTER}", &self.counter.to_string())
    }
}

fn page_url() -> Url {
    Url::parse("http://portal.example.gov.test/").expect("valid test URL")
}

fn fingerprint_html(html: &str) -> Fingerprint {
    fingerprint(
        &decode_body(html.as_bytes(), Some("text/html; charset=utf-8")),
        &page_url(),
        &[],
    )
}

/// A baseline learned from two normal fetches with different counters.
fn baseline_of(page: &Page) -> Baseline {
    let first = fingerprint_html(&page.html());
    let second = fingerprint_html(
        &Page {
            counter: page.counter + 1,
            ..clone(page)
        }
        .html(),
    );
    learn_baseline(first, &second)
}

fn clone<'a>(page: &Page<'a>) -> Page<'a> {
    Page {
        title: page.title,
        head: page.head,
        date: page.date,
        news: page.news.clone(),
        notices: page.notices.clone(),
        extra: page.extra,
        counter: page.counter,
    }
}

fn assess(baseline: &Baseline, html: &str, trusted: &[&str]) -> Assessment {
    let lexicon = Lexicon::builtin();
    let url = page_url();
    let trusted: Vec<String> = trusted.iter().map(|domain| domain.to_string()).collect();
    let ctx = CompareContext {
        lexicon: &lexicon,
        page_url: &url,
        trusted_domains: &trusted,
    };
    compare(baseline, &fingerprint_html(html), &ctx)
}

fn codes(assessment: &Assessment) -> Vec<&str> {
    let mut codes: Vec<&str> = assessment
        .reasons
        .iter()
        .map(|reason| reason.code.as_str())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Compares `current` with the normal page's baseline.
fn check(name: &str, current: Page, expected: Verdict, expected_codes: &[&str]) {
    check_with(
        name,
        &baseline_of(&Page::normal()),
        &current.html(),
        &[],
        expected,
        expected_codes,
    );
}

fn check_with(
    name: &str,
    baseline: &Baseline,
    html: &str,
    trusted: &[&str],
    expected: Verdict,
    expected_codes: &[&str],
) {
    let assessment = assess(baseline, html, trusted);
    assert_eq!(
        (assessment.verdict, codes(&assessment)),
        (expected, expected_codes.to_vec()),
        "{name}: {:#?}",
        assessment.reasons
    );
    assert_eq!(
        assessment.verdict == Verdict::Defaced,
        assessment.score >= STRONG_WEIGHT,
        "{name}: score {}",
        assessment.score
    );
    assert!(assessment.score <= 100);
    for reason in &assessment.reasons {
        assert!(
            !reason.message.is_empty() && !reason.message_zh.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn benign_changes() {
    check("identical", Page::normal(), Verdict::Clean, &[]);
    check(
        "counter",
        Page {
            counter: 98_765,
            ..Page::normal()
        },
        Verdict::Clean,
        &[],
    );
    check(
        "next day",
        Page {
            date: "2026年11月27日 星期五",
            ..Page::normal()
        },
        Verdict::Clean,
        &[],
    );
    let mut reordered = Page::normal();
    reordered.notices.rotate_left(2);
    check("reordered notices", reordered, Verdict::Clean, &[]);

    let mut news = Page::normal();
    news.news
        .insert(0, "省财政厅召开全省财政支持乡村振兴工作推进会");
    news.news.pop();
    check("new news item", news, Verdict::Changed, &["text_changed"]);

    let mut edited = Page::normal();
    edited.notices[1] = "关于公开征求《示例省财政专项资金管理办法（修订稿）》意见的公告";
    check("edited notice", edited, Verdict::Changed, &["text_changed"]);

    check(
        "title edited",
        Page {
            title: "示例省财政厅门户网站",
            ..Page::normal()
        },
        Verdict::Changed,
        &["title_changed"],
    );
    check(
        "friendly link to a new government site",
        Page {
            extra: "<p><a href=\"http://www.neighbour-gov.test/\">邻省财政厅</a></p>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_external_links", "text_changed"],
    );
    check(
        "another page of a known domain",
        Page {
            extra: "<p><a href=\"http://www.other-gov.test/zwgk/\">省政府信息公开</a></p>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["text_changed"],
    );
    check(
        "new submenu entry in a hidden dropdown",
        Page {
            extra: "<ul style=\"display:none\"><li><a href=\"/zwgk/js/\">决算公开</a></li></ul>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["hidden_internal_links"],
    );
    check(
        "new inline script",
        Page {
            head: "<script>var banner = 'spring';</script>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_inline_script"],
    );
    check(
        "upgraded local script",
        Page {
            head: "<script src=\"/js/jquery-3.7.min.js\"></script>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_script"],
    );
    check(
        "script from a sibling sub-site",
        Page {
            head: "<script src=\"http://zfcg.example.gov.test/js/common.js\"></script>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_script"],
    );
    check(
        "frame from the site itself",
        Page {
            extra: "<iframe src=\"/map.html\" width=\"600\" height=\"400\"></iframe>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_iframe"],
    );
    check(
        "redirect to another page of the site",
        Page {
            head: "<meta http-equiv=\"refresh\" content=\"0;url=/index.shtml\">",
            ..Page::normal()
        },
        Verdict::Changed,
        &["new_redirect"],
    );
    check(
        "new hidden text without links",
        Page {
            extra: "<div class=\"tab\" hidden><p>第二页签的内容</p></div>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["hidden_text"],
    );
    check(
        "crackdown news mentions gambling",
        Page {
            extra: "<p>关于严厉打击跨境赌博和网络赌博违法犯罪活动的通告</p>",
            ..Page::normal()
        },
        Verdict::Changed,
        &["text_changed"],
    );
}

#[test]
fn trusted_domains_are_not_external() {
    let baseline = baseline_of(&Page::normal());
    let html = Page {
        head: "<script src=\"https://hm.stats-trusted.test/hm.js\"></script>",
        ..Page::normal()
    }
    .html();
    check_with(
        "trusted statistics script",
        &baseline,
        &html,
        &["stats-trusted.test"],
        Verdict::Changed,
        &["new_script"],
    );
    check_with(
        "untrusted statistics script",
        &baseline,
        &html,
        &[],
        Verdict::Defaced,
        &["foreign_script"],
    );
}

#[test]
fn defacements() {
    let gambling_links: String = (0..24)
        .map(|index| {
            format!(
                "<a href=\"http://www.xpj{}-casino.test/\">澳门新葡京{index}</a> ",
                index % 6
            )
        })
        .collect();
    let hidden_gambling =
        format!("<div style=\"position:absolute;left:-9999px;top:-9999px\">{gambling_links}</div>");
    check(
        "hidden gambling links",
        Page {
            extra: &hidden_gambling,
            ..Page::normal()
        },
        Verdict::Defaced,
        &["hidden_links", "lexicon_hit"],
    );

    let plain_links: String = (0..5)
        .map(|index| format!("<a href=\"http://link{index}.spam.test/\">友情链接{index}</a>"))
        .collect();
    let hidden_plain =
        format!("<style>.yqlj{{display:none}}</style><div class=\"yqlj\">{plain_links}</div>");
    check(
        "hidden links without sensitive words",
        Page {
            extra: &hidden_plain,
            ..Page::normal()
        },
        Verdict::Defaced,
        &["hidden_links"],
    );

    let many_internal: String = (0..12)
        .map(|index| format!("<a href=\"/upload/bet{index}.html\">页面{index}</a>"))
        .collect();
    let hidden_internal = format!("<div style=\"display:none\">{many_internal}</div>");
    check(
        "many hidden links to uploaded pages",
        Page {
            extra: &hidden_internal,
            ..Page::normal()
        },
        Verdict::Defaced,
        &["hidden_links"],
    );

    check(
        "foreign script",
        Page {
            head: "<script src=\"http://js.tongji-cdn.test/t.js\"></script>",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["foreign_script"],
    );
    check(
        "foreign iframe",
        Page {
            extra: "<iframe src=\"http://www.xpj-example.test/\" width=\"0\" height=\"0\"></iframe>",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["foreign_iframe"],
    );
    check(
        "meta refresh",
        Page {
            head: "<meta http-equiv=\"refresh\" content=\"0;url=http://www.dc-example.test/\">",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["external_redirect"],
    );
    check(
        "script redirect",
        Page {
            head: "<script>if(document.referrer.indexOf('baidu')>0){window.location.href='http://www.dc-example.test/';}</script>",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["external_redirect", "new_inline_script"],
    );
    check(
        "hacked title",
        Page {
            title: "Hacked By Ghost Team",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["lexicon_hit", "title_changed"],
    );
    check(
        "gambling paragraph",
        Page {
            extra: "<p>澳门新葡京娱乐城，真人百家乐，注册送彩金！<a href=\"/\">点击进入</a></p>",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["lexicon_hit", "text_changed"],
    );
    check(
        "gambling keywords in meta",
        Page {
            head: "<meta name=\"keywords\" content=\"百家乐,新葡京\">",
            ..Page::normal()
        },
        Verdict::Defaced,
        &["hidden_text", "lexicon_hit"],
    );
    let many_domains: String = (0..12)
        .map(|index| format!("<a href=\"http://site{index}.links.test/\">站点{index}</a> "))
        .collect();
    let link_farm = format!("<p>{many_domains}</p>");
    check(
        "visible link farm",
        Page {
            extra: &link_farm,
            ..Page::normal()
        },
        Verdict::Defaced,
        &["new_external_links", "text_changed"],
    );

    let baseline = baseline_of(&Page::normal());
    let replaced = "<html><head><title>Hacked</title></head><body><h1>Your site was tested by Ghost Team</h1><p>contact: ghost@mail.test</p></body></html>";
    check_with(
        "whole page replaced",
        &baseline,
        replaced,
        &[],
        Verdict::Defaced,
        &["text_replaced", "title_changed"],
    );
    check_with(
        "blank page",
        &baseline,
        "<html><head><title>示例省财政厅</title></head><body></body></html>",
        &[],
        Verdict::Defaced,
        &["text_replaced"],
    );
}

#[test]
fn binary_body() {
    let baseline = baseline_of(&Page::normal());
    let decoded = decode_body(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("image/png"));
    let lexicon = Lexicon::builtin();
    let url = page_url();
    let ctx = CompareContext {
        lexicon: &lexicon,
        page_url: &url,
        trusted_domains: &[],
    };
    let assessment = compare(&baseline, &fingerprint(&decoded, &url, &[]), &ctx);
    assert_eq!(
        (assessment.verdict, codes(&assessment)),
        (Verdict::Defaced, vec!["binary_body"])
    );
    // A file that was binary when approved and still is: nothing to report.
    let binary_baseline = Baseline::from_single(fingerprint(&decoded, &url, &[]));
    let assessment = compare(&binary_baseline, &fingerprint(&decoded, &url, &[]), &ctx);
    assert_eq!((assessment.verdict, assessment.score), (Verdict::Clean, 0));
}

#[test]
fn only_new_lexicon_hits_count() {
    let warning = "<p>本站提示：谨防冒用“新葡京”名义的诈骗网站</p>";
    let baseline = baseline_of(&Page {
        extra: warning,
        ..Page::normal()
    });
    let mut reordered = Page {
        extra: warning,
        ..Page::normal()
    };
    reordered.notices.reverse();
    check_with(
        "same count as baseline",
        &baseline,
        &reordered.html(),
        &[],
        Verdict::Clean,
        &[],
    );
    let twice = format!("{warning}<p>新葡京</p>");
    let html = Page {
        extra: &twice,
        ..Page::normal()
    }
    .html();
    check_with(
        "one more than baseline",
        &baseline,
        &html,
        &[],
        Verdict::Defaced,
        &["lexicon_hit", "text_changed"],
    );
}

#[test]
fn learned_volatile_blocks_are_ignored_but_still_searched() {
    let rotating = |caption: &str| format!("<p class=\"banner-title\">{caption}</p>");
    let first = fingerprint_html(
        &Page {
            extra: &rotating("学习贯彻全会精神"),
            ..Page::normal()
        }
        .html(),
    );
    let second = fingerprint_html(
        &Page {
            extra: &rotating("优化营商环境"),
            ..Page::normal()
        }
        .html(),
    );
    let baseline = learn_baseline(first, &second);
    assert!(
        baseline
            .learned_volatile
            .iter()
            .any(|path| path.ends_with("p.banner-title")),
        "{:?}",
        baseline.learned_volatile
    );
    let third = Page {
        extra: &rotating("财政惠民政策解读"),
        ..Page::normal()
    }
    .html();
    check_with("third caption", &baseline, &third, &[], Verdict::Clean, &[]);
    let spam = Page {
        extra: &rotating("真人百家乐"),
        ..Page::normal()
    }
    .html();
    check_with(
        "spam in the volatile block",
        &baseline,
        &spam,
        &[],
        Verdict::Defaced,
        &["lexicon_hit"],
    );
}

#[test]
fn messages_are_specific() {
    let baseline = baseline_of(&Page::normal());
    let links: String = (0..3)
        .map(|index| format!("<a href=\"http://bet{}.spam.test/\">链接</a>", index % 2))
        .collect();
    let html = Page {
        extra: &format!("<div style=\"display:none\">{links}</div>"),
        ..Page::normal()
    }
    .html();
    let assessment = assess(&baseline, &html, &[]);
    let hidden = assessment
        .reasons
        .iter()
        .find(|reason| reason.code == "hidden_links")
        .expect("hidden links reported");
    assert_eq!(
        hidden.message,
        "3 hidden links to 2 new domains: bet0.spam.test, bet1.spam.test"
    );
    assert_eq!(
        hidden.message_zh,
        "新增 3 个隐藏链接（暗链），指向 2 个新域名：bet0.spam.test、bet1.spam.test"
    );
    let lexicon = Page {
        title: "百家乐 百家乐",
        ..Page::normal()
    }
    .html();
    let assessment = assess(&baseline, &lexicon, &[]);
    let hit = assessment
        .reasons
        .iter()
        .find(|reason| reason.code == "lexicon_hit")
        .expect("lexicon hit reported");
    assert_eq!(hit.message, "new gambling terms: 百家乐 ×2 (in title)");
    assert_eq!(hit.message_zh, "新增赌博类敏感词：百家乐 ×2（位于标题）");
}

#[test]
fn crawler_view() {
    let baseline = baseline_of(&Page::normal());
    let browser = fingerprint_html(
        &Page {
            counter: 1500,
            ..Page::normal()
        }
        .html(),
    );
    let lexicon = Lexicon::builtin();
    let url = page_url();
    let ctx = CompareContext {
        lexicon: &lexicon,
        page_url: &url,
        trusted_domains: &[],
    };
    // The crawler is shown the same page, fetched a little later.
    let same = fingerprint_html(
        &Page {
            counter: 1501,
            ..Page::normal()
        }
        .html(),
    );
    assert_eq!(
        compare_crawler_view(&baseline, &browser, &same, "Baiduspider", &ctx),
        None
    );
    // A news item published between the two fetches is not cloaking.
    let mut news = Page {
        counter: 1501,
        ..Page::normal()
    };
    news.news
        .insert(0, "省财政厅召开全省财政支持乡村振兴工作推进会");
    assert_eq!(
        compare_crawler_view(
            &baseline,
            &browser,
            &fingerprint_html(&news.html()),
            "Baiduspider",
            &ctx
        ),
        None
    );

    let spam_links: String = (0..6)
        .map(|index| format!("<a href=\"http://www.amxpj{index}.test/\">百家乐</a>"))
        .collect();
    let spam = Page {
        title: "澳门新葡京-百家乐",
        extra: &format!("<p>{spam_links}</p>"),
        ..Page::normal()
    };
    let crawler = fingerprint_html(&spam.html());
    let assessment = compare_crawler_view(&baseline, &browser, &crawler, "Baiduspider", &ctx)
        .expect("cloaking found");
    assert_eq!(assessment.verdict, Verdict::Defaced);
    assert!(
        assessment.reasons.iter().all(
            |reason| reason.code == "cloaked_content" && reason.message.contains("Baiduspider")
        )
    );
    assert!(
        assessment
            .reasons
            .iter()
            .any(|reason| reason.message.contains("6 links to 6 domains")),
        "{:#?}",
        assessment.reasons
    );

    let redirect = Page {
        head: "<script>location.replace('http://www.dc-example.test/')</script>",
        ..Page::normal()
    };
    let assessment = compare_crawler_view(
        &baseline,
        &browser,
        &fingerprint_html(&redirect.html()),
        "Googlebot",
        &ctx,
    )
    .expect("cloaked redirect");
    assert!(
        assessment
            .reasons
            .iter()
            .any(|reason| reason.weight == 70
                && reason.message.starts_with("Googlebot is redirected"))
    );

    // Combined with a clean browser assessment, the page is defaced.
    let clean = compare(&baseline, &browser, &ctx);
    assert_eq!(clean.verdict, Verdict::Clean);
    let combined = combine(clean, vec![assessment]);
    assert_eq!(combined.verdict, Verdict::Defaced);
    assert_eq!(combined.score, 70);
}

#[test]
fn combine_takes_the_most_severe_verdict_and_caps_the_score() {
    let make = |verdict, score, code: &str| Assessment {
        verdict,
        score,
        reasons: vec![reason(code, score, code.to_string(), code.to_string())],
        similarity: 0.9,
    };
    let combined = combine(
        make(Verdict::Changed, 30, "a"),
        vec![make(Verdict::Changed, 40, "b")],
    );
    assert_eq!(
        (combined.verdict, combined.score, combined.reasons.len()),
        (Verdict::Changed, 49, 2)
    );
    let combined = combine(
        make(Verdict::Defaced, 80, "a"),
        vec![
            make(Verdict::Defaced, 70, "b"),
            make(Verdict::Changed, 10, "c"),
        ],
    );
    assert_eq!(
        (combined.verdict, combined.score, combined.reasons.len()),
        (Verdict::Defaced, 100, 3)
    );
    let combined = combine(
        make(Verdict::Down, 0, "a"),
        vec![make(Verdict::Defaced, 60, "b")],
    );
    assert_eq!(combined.verdict, Verdict::Defaced);
    assert_eq!(
        combine(make(Verdict::Clean, 0, "a"), Vec::new()).similarity,
        0.9
    );
}

#[test]
fn verdict_names_and_order() {
    for (verdict, name) in [
        (Verdict::Clean, "clean"),
        (Verdict::Changed, "changed"),
        (Verdict::Defaced, "defaced"),
        (Verdict::Down, "down"),
    ] {
        assert_eq!(verdict.to_string(), name);
        assert_eq!(name.parse::<Verdict>(), Ok(verdict));
        assert_eq!(
            serde_json::to_string(&verdict).ok(),
            Some(format!("\"{name}\""))
        );
    }
    assert_eq!(" DEFACED ".parse::<Verdict>(), Ok(Verdict::Defaced));
    assert_eq!(
        "broken".parse::<Verdict>(),
        Err(ParseVerdictError("broken".to_string()))
    );
    assert!(
        Verdict::Clean < Verdict::Changed
            && Verdict::Changed < Verdict::Down
            && Verdict::Down < Verdict::Defaced
    );
}

#[test]
fn volatile_token_normalisation() {
    for (text, expected) in [
        ("访问量：12345", "访问量：0"),
        ("2026年11月26日 星期四", "0年0月0日 星期0"),
        ("２０２６年", "0年"),
        ("礼拜天 周五 上午 9:30", "礼拜0 周0 午 0:0"),
        ("Thursday, November 26, 2026 10:15 AM", "W, W 0, 0 0:0 W"),
        ("周知", "周知"),
        ("下载", "下载"),
    ] {
        assert_eq!(normalize_volatile_tokens(text), expected, "{text}");
    }
}

#[test]
fn site_families() {
    for (host, expected) in [
        ("portal.example.gov.test", "example.gov.test"),
        ("www.sz.gov.cn", "sz.gov.cn"),
        ("example.gov.cn", "example.gov.cn"),
        ("example.com", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
    ] {
        assert_eq!(site_family(host), expected, "{host}");
    }
    assert!(is_same_or_subdomain(
        "a.example.gov.test",
        "example.gov.test"
    ));
    assert!(!is_same_or_subdomain(
        "badexample.gov.test",
        "example.gov.test"
    ));
}

#[test]
fn bigram_similarity_scores() {
    for (a, b, expected) in [
        ("财政厅", "财政厅", 1.0),
        ("财政厅", "教育厅", 0.0),
        ("关于做好预算工作", "关于做好决算工作", 5.0 / 7.0),
        ("a", "b", 0.0),
    ] {
        assert!((bigram_similarity(a, b) - expected).abs() < 1e-9, "{a} {b}");
    }
}
