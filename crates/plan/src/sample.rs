//! The sample plan that `sitewarden init` writes: a complete, valid,
//! fully commented `sitewarden.toml` for an invented organisation, with
//! comments in Chinese and English that explain each key and cite the
//! plan's sections.
//!
//! Everything in it (the organisation 示例省财政厅, its units, its people,
//! their phones and e-mail addresses, the `.test` domains) is invented.
//!
//! [`sample_plan_with`] adapts the same text for the demo, which serves the
//! sample sites on loopback: a shorter probe interval, a `[probe.resolve]`
//! table pointing the sample hosts at 127.0.0.1, and page URLs with the
//! demo's ports. This module only produces text; it writes no file.

use crate::path;

/// How [`sample_plan_with`] adapts the sample plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleOptions {
    /// The probe's default check interval, in seconds; the sample's 60
    /// when `None`.
    pub interval_seconds: Option<u32>,
    /// `(host, IP address)` pairs written as the `[probe.resolve]` table, in
    /// this order; the table is only shown as a comment when empty.
    pub resolve: Vec<(String, String)>,
    /// `(host, port)` pairs: page URLs on that host get the port. A page
    /// URL with a port uses plain `http`, since the demo serves its sites on
    /// loopback without TLS; without a port it stays `https`.
    pub ports: Vec<(String, u16)>,
}

/// The sample plan's portal host.
pub const SAMPLE_PORTAL_HOST: &str = "portal.example.gov.test";
/// The sample plan's sub-site (government procurement) host.
pub const SAMPLE_ZFCG_HOST: &str = "zfcg.example.gov.test";

/// The commented sample plan, as `sitewarden init` writes it.
pub fn sample_plan() -> String {
    sample_plan_with(&SampleOptions::default())
}

/// The commented sample plan with the demo's interval, name resolution and
/// ports.
pub fn sample_plan_with(options: &SampleOptions) -> String {
    let interval = options.interval_seconds.unwrap_or(60);
    TEMPLATE
        .replace("@INTERVAL@", &interval.to_string())
        .replace("@RESOLVE@", &resolve_table(&options.resolve))
        .replace("@PORTAL@", &origin(SAMPLE_PORTAL_HOST, &options.ports))
        .replace("@ZFCG@", &origin(SAMPLE_ZFCG_HOST, &options.ports))
}

/// `https://host` or, with a port, `http://host:port`.
fn origin(host: &str, ports: &[(String, u16)]) -> String {
    match ports.iter().find(|(port_host, _)| port_host == host) {
        Some((_, port)) => format!("http://{host}:{port}"),
        None => format!("https://{host}"),
    }
}

fn resolve_table(resolve: &[(String, String)]) -> String {
    if resolve.is_empty() {
        return "# [probe.resolve]\n\
                # \"portal.example.gov.test\" = \"192.0.2.10\"\n"
            .to_owned();
    }
    let mut table = String::from("[probe.resolve]\n");
    for (host, address) in resolve {
        table.push_str(&format!(
            "{} = {}\n",
            path::quoted(host),
            path::quoted(address)
        ));
    }
    table
}

const TEMPLATE: &str = r##"# sitewarden.toml — 网站安全应急保障预案（可执行版）
# The website security emergency response plan, as sitewarden runs it.
#
# 本文件由 `sitewarden init` 生成。单位、人员、电话、邮箱和域名均为虚构示例，
# 请替换为本单位的实际信息。
# Written by `sitewarden init`. Every unit, person, phone number, e-mail
# address and domain below is invented: replace them with your own.
#
# 检查本文件：sitewarden check-plan sitewarden.toml
# Check this file with: sitewarden check-plan sitewarden.toml
# 所有问题一次列出，并给出位置（如 sites[1].pages[0].url）；拼错的键名也是错误。
# Every problem is listed at once with its place (e.g. sites[1].pages[0].url);
# a misspelt key is an error, not silently ignored.
#
# "PLAN §N" 指预案摘要 PLAN.md 的章节。"PLAN §N" cites the sections of PLAN.md.

# ──────────────────── 可信域名 Trusted domains ────────────────────
# 这些域名的链接不算"外部链接"（CDN、国家政务服务平台、统计服务等）；
# 各网站自身的域名总是可信的。"*.x" 或 ".x" 表示含子域名。
# Links to these domains are never "external" (CDNs, the national government
# portal, statistics); each site's own host always is trusted. "*.x" or ".x"
# includes subdomains. (A top-level key: it must come before the first
# [table] header, or TOML puts it inside that table.)
trusted_domains = ["www.gov.cn", "*.example-cdn.test"]

# ───────────────────────────── 单位 Organisation ─────────────────────────────
[organisation]
# 单位名称，用于各类报告抬头。The organisation's name, on every report.
name = "示例省财政厅"
# 英文名称，用于英文报告（可省略）。English name, for English reports (optional).
name_en = "Example Provincial Department of Finance"
# 计算报告时限和日报时间所用的时区（IANA 名称）。
# Time zone in which deadlines and the daily report are reckoned (IANA name).
timezone = "Asia/Shanghai"

# ──────────────────── 报告时限 Reporting deadlines (PLAN §4) ────────────────────
[deadlines]
# 初次报告最迟不得超过半小时 (PLAN §4)。
# The initial report is due at most 30 minutes after discovery.
initial_report_minutes = 30
# 1小时内进行风险评估，判定事件等级 (PLAN §4)。
# Assess the risk and decide the level within 1 hour.
risk_assessment_minutes = 60
# I、II 级事件实行日报告制度：每日报告时间，24 小时制 "HH:MM" (PLAN §4)。
# Level I and II incidents get a daily report at this local time ("HH:MM").
daily_report_time = "17:00"
# I、II 级事件实行态势进程报告：态势变化时即报告 (PLAN §4)。
# Level I and II incidents get a progress report whenever the situation changes.
progress_report_on_change = true

# ──────────────────── 事件分级 Incident levels (PLAN §2) ────────────────────
# 由重到轻排列。id：事件记录和报告中使用的等级标识；name_zh / name_en：中英文名称；
# description：何种情况属于该等级。省略全部 [[levels]] 时即为以下四级。
# Most serious first. id: the level's id in incidents and reports; name_zh /
# name_en: its Chinese and English names; description: when an incident is of
# this level. Leaving out every [[levels]] gives exactly these four.
[[levels]]
id = "I"
name_zh = "特别重大"
name_en = "Especially serious"
description = "全区网站、网络和信息系统大面积瘫痪，事态发展超出本单位控制能力，对国家安全、社会秩序、经济建设和公众利益造成特别严重损害。"

[[levels]]
id = "II"
name_zh = "重大"
name_en = "Serious"
description = "全区网站、网络和信息系统大面积瘫痪，对国家安全、社会秩序、经济建设和公众利益造成严重损害，需要跨部门协同处置。"

[[levels]]
id = "III"
name_zh = "较大"
name_en = "Relatively serious"
description = "某一网站或信息系统瘫痪，对国家安全、社会秩序、经济建设和公众利益造成一定损害，但不需要跨部门协同处置。"

[[levels]]
id = "IV"
name_zh = "一般"
name_en = "General"
description = "某一网站或信息系统受到一定程度的损坏，对公民、法人和其他组织的权益有一定影响，但不危害社会秩序、经济建设和公众利益。"

# ─────────────── 远程监测 Remote monitoring (PLAN §4: 早发现、早报告、早处置) ───────────────
[probe]
# 每个页面的默认检查间隔（秒，1–86400）；页面可用 interval_seconds 单独设置。
# Seconds between two checks of a page (1–86400); a page may set its own.
interval_seconds = @INTERVAL@
# 单次检查的超时（秒）。Seconds before one check is abandoned.
timeout_seconds = 10
# 最多读取的响应体字节数（1 KiB–1 GiB）。Largest body read, in bytes (1 KiB–1 GiB).
max_body_bytes = 5242880
# 同时进行的检查数上限。Most checks in flight at once.
concurrency = 64
# 连续失败几次才判定页面不可访问（避免网络抖动误报）。
# Consecutive failures before a page counts as down (one is often a blip).
down_after_failures = 2
# 单次检查最多跟随的重定向次数。Most redirects followed in one check.
max_redirects = 5
# 普通检查使用的浏览器 User-Agent，使网站返回访客看到的内容。
# The browser user agent of ordinary checks, so the site serves what visitors see.
browser_user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
# 额外信任的 CA 证书（PEM 文件），用于私有或政务 CA 签发证书的网站。
# Extra CA certificates (PEM files) for sites signed by a private or government CA.
extra_ca_files = []
# extra_ca_files = ["/etc/sitewarden/gov-ca.pem"]

# 同时以搜索引擎爬虫身份检查：被篡改网站常只对爬虫显示暗链和博彩内容 (PLAN §5)。
# Also check as search-engine crawlers: defaced sites often show hidden links
# and gambling spam to crawlers only (SEO cloaking).
# name：报告中的名称；user_agent：发送的 User-Agent。
# name: shown in reports; user_agent: the User-Agent header sent.
[[probe.crawlers]]
name = "Baiduspider"
user_agent = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"

[[probe.crawlers]]
name = "Googlebot"
user_agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# 主机名 = IP 地址：直连该地址而不查询 DNS（同 curl --resolve），
# 用于绕过 CDN 检查源站，或演示环境。
# Host name = IP address to connect to instead of asking DNS (like
# curl --resolve): to check an origin behind a CDN, or for the demo.
@RESOLVE@
# ──────────────────── 敏感词 Sensitive terms ────────────────────
# 在内置词库（博彩、色情、"hacked by"、政治有害信息等）之外，本单位补充的词语。
# 出现即视为内容被篡改的迹象 (PLAN §4: 数据篡改)。
# Terms added to the built-in lexicons (gambling, porn, "hacked by", harmful
# political content); finding one is a sign of tampering.
# category：类别，发现时在报告中注明；terms：词语，按原文匹配。
# category: named in reports when a term is found; terms: matched as plain text.
[[lexicons]]
category = "gambling"
terms = ["在线博彩", "真人娱乐", "百家乐"]

# ──────────────────── 责任单位 Responsible units (PLAN §3) ────────────────────
# 谁主管谁负责，谁使用谁负责，谁建设谁负责，谁运营谁负责 (PLAN §1)。
# 网站和通讯录通过 id 引用这些单位。kind 可选：owner（管理和使用单位）、
# developer（开发和建设单位）、operator（网络运营商）、hosting（运维单位）、
# security（安全防护单位）、authority（主管部门）、other。
# Sites and the roster refer to units by id. kind is optional: owner,
# developer, operator, hosting, security, authority, other.
[[units]]
id = "office"
name = "示例省财政厅办公室"
kind = "owner"
phone = "0000-66000001"

[[units]]
id = "procurement"
name = "示例省财政厅政府采购监督管理处"
kind = "owner"
phone = "0000-66000002"

[[units]]
id = "info-centre"
# 运维单位：定期检查、定期备份、保护现场、恢复服务 (PLAN §3)。
# Hosting and operations: regular checks and backups, preserves the scene, restores service.
name = "示例省财政厅信息中心"
kind = "hosting"
phone = "0000-66000003"

[[units]]
id = "devco"
# 开发和建设单位：修复漏洞代码、重建系统 (PLAN §3, §7)。
# Developer: fixes the vulnerable code, rebuilds.
name = "示例软件开发有限公司"
kind = "developer"
phone = "0000-66000004"

[[units]]
id = "telecom"
# 网络运营商：监测线路、封堵攻击流量 (PLAN §3)。
# Network operator: monitors the links, blocks attack traffic.
name = "示例电信示例省分公司"
kind = "operator"
phone = "0000-66000005"

[[units]]
id = "secvendor"
# 安全防护单位：分析攻击形式、追踪溯源 (PLAN §3, §7)。
# Security service provider: analyses the attack, traces its source.
name = "示例网络安全技术有限公司"
kind = "security"
phone = "0000-66000006"

[[units]]
id = "cac"
# 情况严重时电话报告属地网信办，随后传真 (PLAN §6)。
# Phoned (then faxed) by the group when an incident is serious.
name = "示例省委网信办"
kind = "authority"
phone = "0000-66000007"

# ──────────────────── 网站 Sites (PLAN §1) ────────────────────
# name：网站标识，小写字母、数字和 "-"。title：网站名称。
# importance（重要性）："特别重要"、"重要" 或 "一般"（也可写 critical / important / general），
# 取决于网站被破坏后对国家安全、社会秩序、经济建设、公众利益和公民权益的危害 (PLAN §1)。
# [sites.units]：各项职责的责任单位 id (PLAN §3)。
# name: the site's id (lower-case letters, digits, "-"). title: its name.
# importance: "特别重要", "重要" or "一般" (or critical / important / general),
# by the harm its compromise does. [sites.units]: the unit id for each duty.
[[sites]]
name = "portal"
title = "示例省财政厅门户网站"
importance = "特别重要"
# 本网站额外的可信域名。Extra trusted domains for this site only.
trusted_domains = ["stats.example-analytics.test"]

[sites.units]
owner = "office"
developer = "devco"
operator = "telecom"
hosting = "info-centre"
security = "secvendor"

# 被检查的页面。首页被篡改后果最重，务必列入 (PLAN §5)。
# The pages checked. Defacement of the home page weighs most: always list it.
# name：站内唯一的页面标识（省略时首页为 "home"，其余为 URL 路径）。
# url：http(s) 绝对地址。home：是否首页（省略时 URL 路径为 "/" 即为首页）。
# volatile：合法变化区域的 CSS 选择器（访问计数、日期、滚动新闻），比对基线时忽略。
# lexicon：仅用于本页的补充敏感词。interval_seconds：本页单独的检查间隔（秒）。
# name: the page's id within the site ("home" for "/", else the URL path, when
# left out). url: absolute http(s) URL. home: whether it is a home page (when
# left out: the URL path is "/"). volatile: CSS selectors of regions that change
# legitimately (visit counters, dates, tickers), ignored when comparing with the
# baseline. lexicon: extra terms for this page. interval_seconds: its own interval.
[[sites.pages]]
name = "home"
url = "@PORTAL@/"
volatile = ["#visit-count", ".date"]

[[sites.pages]]
name = "notices"
url = "@PORTAL@/tzgg/index.html"
volatile = [".date"]
lexicon = ["示例省财政厅网站已被入侵"]
# interval_seconds = 300

[[sites]]
name = "zfcg"
title = "示例省政府采购网"
importance = "重要"

[sites.units]
owner = "procurement"
developer = "devco"
operator = "telecom"
hosting = "info-centre"
security = "secvendor"

[[sites.pages]]
name = "home"
url = "@ZFCG@/"
volatile = [".date"]

# ──────────────────── 通讯录 Contact roster (PLAN §3) ────────────────────
# 领导小组（组长、副组长）、办公室（主任、成员）、安全值班人员和专家。
# unit：所属单位 id。roles：leader（组长）、deputy_leader（副组长）、
# office_director（办公室主任）、office_member（办公室成员）、
# duty_officer（安全值班人员）、expert（专家），至少一项。
# phone：随时可接通的电话。email：电子邮箱（可省略）。
# im：钉钉 / 企业微信 / 飞书账号（dingtalk / wecom / feishu），用于通知。
# The leadership group, its office, the duty staff and experts. unit: the
# unit's id. roles: at least one of leader, deputy_leader, office_director,
# office_member, duty_officer, expert. phone: reachable at any hour. email:
# optional. im: DingTalk / WeCom / Feishu handles for notifications.
[[roster]]
name = "王小明"
unit = "office"
roles = ["leader"]
phone = "138-0000-0001"
email = "wangxiaoming@example.gov.test"

[[roster]]
name = "李建国"
unit = "procurement"
roles = ["deputy_leader"]
phone = "138-0000-0002"
email = "lijianguo@example.gov.test"

[[roster]]
name = "张丽"
unit = "office"
roles = ["office_director"]
phone = "138-0000-0003"
email = "zhangli@example.gov.test"
im = { dingtalk = "zhangli-example" }

[[roster]]
name = "刘洋"
unit = "info-centre"
roles = ["office_member", "duty_officer"]
phone = "138-0000-0004"
email = "liuyang@example.gov.test"
im = { wecom = "LiuYang" }

[[roster]]
name = "陈静"
unit = "info-centre"
roles = ["duty_officer"]
phone = "138-0000-0005"
email = "chenjing@example.gov.test"

[[roster]]
name = "赵磊"
unit = "secvendor"
roles = ["office_member", "expert"]
phone = "138-0000-0006"
email = "zhaolei@example.gov.test"
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Deadlines, Importance, Plan, ProbeSettings, Role, default_levels};
    use std::time::Duration;

    fn options(
        interval: Option<u32>,
        resolve: &[(&str, &str)],
        ports: &[(&str, u16)],
    ) -> SampleOptions {
        SampleOptions {
            interval_seconds: interval,
            resolve: resolve
                .iter()
                .map(|(host, address)| ((*host).to_owned(), (*address).to_owned()))
                .collect(),
            ports: ports
                .iter()
                .map(|(host, port)| ((*host).to_owned(), *port))
                .collect(),
        }
    }

    /// What a loaded sample plan must show for the options it was made with.
    struct Expected {
        interval: Duration,
        resolve: &'static [(&'static str, &'static str)],
        portal_home: &'static str,
        portal_notices: &'static str,
        zfcg_home: &'static str,
    }

    fn check(text: &str, expected: Expected) {
        let plan = match Plan::from_toml_str(text) {
            Ok(plan) => plan,
            Err(errors) => panic!("the sample plan does not load:\n{errors}"),
        };
        assert_eq!(plan.organisation.name, "示例省财政厅");
        assert_eq!(
            plan.levels,
            default_levels(),
            "the sample spells out the default levels"
        );
        assert_eq!(
            plan.deadlines,
            Deadlines::default(),
            "the sample spells out the default deadlines"
        );
        let mut probe = ProbeSettings {
            interval_seconds: u32::try_from(expected.interval.as_secs()).expect("a small interval"),
            ..ProbeSettings::default()
        };
        for (host, address) in expected.resolve {
            probe
                .resolve
                .insert((*host).to_owned(), (*address).to_owned());
        }
        assert_eq!(
            plan.probe, probe,
            "the sample spells out the default probe settings"
        );
        let resolve: Vec<(&str, &str)> = plan
            .probe
            .resolve
            .iter()
            .map(|(host, address)| (host.as_str(), address.as_str()))
            .collect();
        assert_eq!(resolve, expected.resolve);
        let urls: Vec<(&str, &str, &str, bool)> = plan
            .pages()
            .map(|(site, page)| {
                (
                    site.name.as_str(),
                    page.name.as_str(),
                    page.url.as_str(),
                    page.home,
                )
            })
            .collect();
        assert_eq!(
            urls,
            [
                ("portal", "home", expected.portal_home, true),
                ("portal", "notices", expected.portal_notices, false),
                ("zfcg", "home", expected.zfcg_home, true),
            ]
        );
        for (_, page) in plan.pages() {
            assert_eq!(plan.page_interval(page), expected.interval);
        }
        assert_eq!(
            plan.site("portal").map(|site| site.importance),
            Some(Importance::Critical)
        );
        assert_eq!(
            plan.site("zfcg").map(|site| site.importance),
            Some(Importance::Important)
        );
        for role in [
            Role::Leader,
            Role::DeputyLeader,
            Role::OfficeDirector,
            Role::DutyOfficer,
        ] {
            assert!(
                plan.people_with_role(role).next().is_some(),
                "no {role:?} in the sample roster"
            );
        }
        assert!(plan.validate().is_ok());
    }

    #[test]
    fn sample_plans_load_and_validate() {
        check(
            &sample_plan(),
            Expected {
                interval: Duration::from_secs(60),
                resolve: &[],
                portal_home: "https://portal.example.gov.test/",
                portal_notices: "https://portal.example.gov.test/tzgg/index.html",
                zfcg_home: "https://zfcg.example.gov.test/",
            },
        );
        check(
            &sample_plan_with(&options(
                Some(2),
                &[
                    ("portal.example.gov.test", "127.0.0.1"),
                    ("zfcg.example.gov.test", "::1"),
                ],
                &[
                    ("portal.example.gov.test", 41234),
                    ("zfcg.example.gov.test", 41235),
                ],
            )),
            Expected {
                interval: Duration::from_secs(2),
                resolve: &[
                    ("portal.example.gov.test", "127.0.0.1"),
                    ("zfcg.example.gov.test", "::1"),
                ],
                portal_home: "http://portal.example.gov.test:41234/",
                portal_notices: "http://portal.example.gov.test:41234/tzgg/index.html",
                zfcg_home: "http://zfcg.example.gov.test:41235/",
            },
        );
        // A port for one host only; a resolve entry for a host with no page.
        check(
            &sample_plan_with(&options(
                None,
                &[("other.test", "192.0.2.1")],
                &[("zfcg.example.gov.test", 8080), ("unknown.test", 1)],
            )),
            Expected {
                interval: Duration::from_secs(60),
                resolve: &[("other.test", "192.0.2.1")],
                portal_home: "https://portal.example.gov.test/",
                portal_notices: "https://portal.example.gov.test/tzgg/index.html",
                zfcg_home: "http://zfcg.example.gov.test:8080/",
            },
        );
    }

    #[test]
    fn sample_plan_is_the_default_options() {
        assert_eq!(sample_plan(), sample_plan_with(&SampleOptions::default()));
        for placeholder in ["@INTERVAL@", "@RESOLVE@", "@PORTAL@", "@ZFCG@"] {
            assert!(
                !sample_plan().contains(placeholder),
                "{placeholder} left in the sample"
            );
        }
    }

    #[test]
    fn bad_demo_options_are_reported_not_hidden() {
        // The sample text does not judge its options; the plan's rules do.
        let text = sample_plan_with(&options(
            Some(0),
            &[("portal.example.gov.test", "localhost")],
            &[],
        ));
        let errors = Plan::from_toml_str(&text).expect_err("interval 0 and a non-IP address");
        let paths: Vec<&str> = errors.iter().map(|error| error.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "probe.interval_seconds",
                "probe.resolve.\"portal.example.gov.test\""
            ]
        );
    }

    #[test]
    fn every_key_of_the_sample_is_explained_in_a_comment() {
        // The sample is a teaching file: every key it uses has a comment
        // just above it or is named in some comment, and the deadlines cite
        // the plan.
        let text = sample_plan_with(&options(
            None,
            &[("portal.example.gov.test", "127.0.0.1")],
            &[],
        ));
        assert!(text.contains("# 初次报告最迟不得超过半小时 (PLAN §4)"));
        assert!(text.contains("# 1小时内进行风险评估，判定事件等级 (PLAN §4)"));
        let comments: Vec<&str> = text
            .lines()
            .filter(|line| line.trim_start().starts_with('#'))
            .collect();
        let names_key = |comment: &str, key: &str| {
            comment.match_indices(key).any(|(at, _)| {
                let is_word = |character: Option<char>| {
                    character.is_some_and(|character| {
                        character.is_ascii_alphanumeric() || character == '_'
                    })
                };
                !is_word(comment[..at].chars().next_back())
                    && !is_word(comment[at + key.len()..].chars().next())
            })
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut unexplained: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| !line.trim_start().starts_with(['#', '[', '"']))
            .filter_map(|(number, line)| line.split_once('=').map(|(key, _)| (number, key.trim())))
            .filter(|&(number, key)| {
                let commented_above = number > 0 && lines[number - 1].trim_start().starts_with('#');
                !key.is_empty()
                    && !commented_above
                    && !comments.iter().any(|comment| names_key(comment, key))
            })
            .map(|(_, key)| key)
            .collect();
        unexplained.sort_unstable();
        unexplained.dedup();
        assert_eq!(unexplained, Vec::<&str>::new(), "keys no comment names");
    }
}
