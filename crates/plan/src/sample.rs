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
    /// `(url, secret)` of a webhook that takes every notification instead
    /// of the sample's channels (the demo's duty-room screen on loopback):
    /// the sample's `.test` channel hosts are never contacted.
    pub notify_webhook: Option<(String, String)>,
    /// A real `[gateway]` section and each site's `origins` (the demo's
    /// gateway in front of its sample sites); commented examples when None.
    pub gateway: Option<SampleGateway>,
    /// The portal's `[[sites.web_roots]]` example commented out: the demo
    /// serves its sites from memory, and a web root that does not exist
    /// on the machine only earns a warning.
    pub without_web_root: bool,
}

/// The demo's gateway: where it listens and each host's origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleGateway {
    /// The listen address (`127.0.0.1:8080`).
    pub listen: String,
    /// `(host, origin URL)` pairs.
    pub origins: Vec<(String, String)>,
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
    let text = TEMPLATE
        .replace("@INTERVAL@", &interval.to_string())
        .replace("@RESOLVE@", &resolve_table(&options.resolve))
        .replace("@PORTAL@", &origin(SAMPLE_PORTAL_HOST, &options.ports))
        .replace("@ZFCG@", &origin(SAMPLE_ZFCG_HOST, &options.ports))
        .replace("@GATEWAY@", &gateway_section(options.gateway.as_ref()))
        .replace(
            "@PORTAL_ORIGINS@",
            &origins_line(SAMPLE_PORTAL_HOST, options.gateway.as_ref()),
        )
        .replace(
            "@ZFCG_ORIGINS@",
            &origins_line(SAMPLE_ZFCG_HOST, options.gateway.as_ref()),
        );
    let text = if options.without_web_root {
        text.replace(WEB_ROOT, &commented(WEB_ROOT))
    } else {
        text
    };
    match &options.notify_webhook {
        Some((url, secret)) => with_only_webhook(&text, url, secret),
        None => text,
    }
}

/// The portal's web root in the template.
const WEB_ROOT: &str = "[[sites.web_roots]]\npath = \"/srv/www/portal\"\nupload_dirs = [\"uploads\"]\nexclude = [\"cache/**\", \"*.log\"]\n";

/// `text` with each line commented out.
fn commented(text: &str) -> String {
    text.lines().map(|line| format!("# {line}\n")).collect()
}

/// The channels section is the template's last: it is replaced whole, with
/// the routing that names its channels.
const CHANNELS_HEADER: &str = "# ──────────────── 通知渠道 Notification channels ────────────────";

fn with_only_webhook(text: &str, url: &str, secret: &str) -> String {
    let cut = text.find(CHANNELS_HEADER).unwrap_or(text.len());
    format!(
        "{}{CHANNELS_HEADER}\n\
         # 演示：所有通知发往本机的值班室屏幕（一个 Webhook 接收器）。\n\
         # Demo: every notification goes to the duty-room screen, a webhook receiver on this machine.\n\
         [[channels]]\n\
         id = \"duty-room\"\n\
         type = \"webhook\"\n\
         url = {}\n\
         secret = {}\n\
         \n\
         [routing]\n\
         default = [\"duty-room\"]\n",
        &text[..cut],
        path::quoted(url),
        path::quoted(secret)
    )
}

/// `https://host` or, with a port, `http://host:port`.
fn origin(host: &str, ports: &[(String, u16)]) -> String {
    match ports.iter().find(|(port_host, _)| port_host == host) {
        Some((_, port)) => format!("http://{host}:{port}"),
        None => format!("https://{host}"),
    }
}

fn gateway_section(gateway: Option<&SampleGateway>) -> String {
    match gateway {
        Some(gateway) => format!(
            "[gateway]\nlisten = [{}]\n[gateway.limits]\nrate_per_ip = 50\n",
            path::quoted(&gateway.listen)
        ),
        None => "# [gateway]\n\
                 # listen = [\"0.0.0.0:80\"]\n\
                 # trusted_proxies = [\"10.0.0.0/8\"]\n\
                 # blocklist = [\"198.51.100.0/24\"]\n\
                 # [[gateway.tls]]\n\
                 # listen = \"0.0.0.0:443\"\n\
                 # cert = \"/etc/sitewarden/tls/portal.crt\"\n\
                 # key = \"/etc/sitewarden/tls/portal.key\"\n\
                 # [gateway.limits]\n\
                 # rate_per_ip = 50\n\
                 # burst_per_ip = 100\n\
                 # connections_per_ip = 64\n"
            .to_owned(),
    }
}

fn origins_line(host: &str, gateway: Option<&SampleGateway>) -> String {
    match gateway.and_then(|g| g.origins.iter().find(|(h, _)| h == host)) {
        Some((_, url)) => format!("origins = [{}]", path::quoted(url)),
        None => "# origins = [\"http://10.0.0.5:80\"]".to_owned(),
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
# 态势变化（定级、处置、恢复）后多少分钟内报送进程报告。
# Minutes from a change of situation (level, containment, recovery) to its progress report.
progress_report_minutes = 30
# 每个时限到期前多少分钟发出提醒；0 表示不提醒。
# Minutes before each deadline that a reminder goes out; 0 for none.
reminder_minutes = 5
# 实行进程报告和日报告的事件等级 (PLAN §4: I、II 级)。
# The levels that get progress reports and the daily report (PLAN §4: I and II).
serious_levels = ["I", "II"]

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

# ──────────────── 网页防篡改 Web-root guard (PLAN §7) ────────────────
# 在网站服务器上运行 sitewarden serve 时，守护各网站 [[sites.web_roots]] 列出的网站根目录：
# 任何改动在毫秒内恢复为核准版本，攻击者留下的文件隔离保存为证据。
# rescan_interval_seconds：全量核查的间隔（秒，1–86400），作为实时事件之外的兜底。
# On the web server, sitewarden serve guards the roots listed in [[sites.web_roots]]:
# any change is restored to the approved version within milliseconds, and what the
# attacker left is kept as evidence. rescan_interval_seconds: seconds between full
# checks (1–86400), a safety net behind the real-time events.
[guard]
rescan_interval_seconds = 300

# ──────────────── 网关 Gateway (PLAN §5, §7) ────────────────
# sitewarden 的反向代理，部署在网站服务器之前：发现篡改时立即切断网站对外服务（返回维护页），
# 只发送核准版本的静态文件，抵御 DDoS（封禁名单、按 IP 限速、慢速连接超时）。见 docs/gateway.md。
# listen：监听地址。[[gateway.tls]]：HTTPS 监听及证书。trusted_proxies：其 X-Forwarded-For 可信的前端。
# allowlist / blocklist：永不限制 / 总是拒绝的地址或网段。[gateway.limits]：限速与超时。
# 网站经网关服务时，在网站中写 origins（源站地址）。
# sitewarden's reverse proxy in front of the web servers: cuts a defaced site off at
# once (maintenance page), serves only approved static files, and holds up under a
# flood (blocklist, per-address limits, slow-client timeouts). See docs/gateway.md.
# Sites served through it list their web servers in `origins`.
@GATEWAY@
# ──────────────── 日志监测 Log watching (PLAN §7.2) ────────────────
# serve 实时分析网关收到的每个请求，以及下面列出的访问日志：发现 DDoS（流量洪水）即开事件，
# 发现 Webshell 访问即开事件，攻击来源自动加入网关封禁名单（到期自动解除）。见 docs/logwatch.md。
# serve analyses every request the gateway answers, and the access logs listed here:
# a flood opens a DDoS incident, access to a web shell a web-shell incident, and the
# attackers go on the gateway's blocklist (with expiry). See docs/logwatch.md.
# [logwatch]
# block = true                          # false：只报告，不封禁 / only report decisions
# [logwatch.flood]
# min_rps = 100                         # 低于此每秒请求数不算洪水 / no flood below this rate
# [logwatch.decisions]
# allowlist = ["10.0.0.0/8"]            # 永不封禁 / never blocked
# ban_minutes = 60
# [[logwatch.files]]                    # 未经网关的网站的 nginx 日志 / a site's own nginx log
# path = "/var/log/nginx/zfcg.access.log"
# site = "zfcg"
# format = "combined"                   # auto、combined、common、iis、{ nginx = { format = "…" } }

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
# 网站类型（国家《网络安全事件分级指南》的网站指标按类型适用）：
# provincial_government_portal（省级以上党政机关门户网站）、city_government_portal
# （地市级党政机关门户网站）、central_news_site（中央重点新闻网站）、news_site
# （重点新闻网站）、company_portal（企事业单位门户网站）、other（其他，默认）。
# tier: the kind of site in the national grading guide's terms (its website
# indicators apply by tier): provincial_government_portal, city_government_portal,
# central_news_site, news_site, company_portal, other (the default).
tier = "provincial_government_portal"
# 本网站的运营者类型与单位不同时填写（如本网站属关键信息基础设施），见 [regulatory]。
# operator_type: only when this site's differs from the organisation's (e.g. the
# site is critical information infrastructure); see [regulatory].
# operator_type = "critical_infrastructure"
# 本网站额外的可信域名。Extra trusted domains for this site only.
trusted_domains = ["stats.example-analytics.test"]
# 经网关服务时的源站（网站服务器）地址；此时"切断对外服务"由网关执行。
# 不经网关的网站可用 [sites.containment] 指定 nginx 或命令（见 docs/gateway.md）。
# The site's web servers when it is served through the gateway, which then cuts it
# off. A site not behind the gateway can name its own nginx or a command in
# [sites.containment] (docs/gateway.md).
@PORTAL_ORIGINS@

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

# 本网站在这台服务器上的网站根目录，由防篡改守护（见 docs/guard.md）。先用
# sitewarden guard baseline --root 路径 --site portal 核准当前内容；检查计划时不要求目录存在。
# path：绝对路径。upload_dirs：允许出现新文件的上传目录（相对根目录）；上传目录中的脚本
# （.php、.jsp 等）仍视为网页木马隔离。exclude：不守护的路径（相对根目录的 glob，如缓存、日志）。
# The site's web root on this server, guarded against tampering (docs/guard.md).
# Approve its content first with sitewarden guard baseline --root PATH --site portal;
# checking the plan does not need the directory to exist. path: absolute.
# upload_dirs: directories (relative to the root) where new files may appear; a
# script there (.php, .jsp…) is still quarantined as a web shell. exclude: globs,
# relative to the root, of paths not guarded (caches, logs).
[[sites.web_roots]]
path = "/srv/www/portal"
upload_dirs = ["uploads"]
exclude = ["cache/**", "*.log"]

[[sites]]
name = "zfcg"
title = "示例省政府采购网"
importance = "重要"
# 业务子站，不是门户网站：分级指南的网站指标不适用，按本单位规则定级。
# A business sub-site, not a portal: the guide's website indicators do not apply.
tier = "other"
@ZFCG_ORIGINS@
# [sites.containment]
# backend = "nginx"
# [sites.containment.nginx]
# include = "/etc/nginx/sitewarden/zfcg.conf"

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

# ──────────── 国家规定 National rules beside the plan (REGULATIONS.md) ────────────
# 《国家网络安全事件报告管理办法》（2025年11月1日施行）及其附件《网络安全事件分级指南》。
# 每个数字均可修改；每条指标注明出处。与本预案时限并行计算，以先到者为准。
# The 2025 national incident-reporting measures and their grading guide. Every
# number is editable and every indicator names its source; the national clock
# runs beside the plan's own, and the earlier deadline is the one that counts.
[regulatory]
# 运营者类型，决定国家报告时限：critical_infrastructure（关键信息基础设施，1小时）、
# central_state_organ（中央和国家机关各部门及其直属单位，2小时）、other（其他，4小时）。
# The operator type sets the national reporting window: critical_infrastructure
# (1 h), central_state_organ (2 h) or other (4 h).
operator_type = "other"
# 该等级及以上须在时限内向国家规定的部门报告（较大 III 级及以上）。
# Incidents at this level or more serious get the national report (III and above).
report_from_level = "III"
# 时限的出处。The rule the windows come from.
source = "国家网络安全事件报告管理办法（国家互联网信息办公室，2025年9月11日公布，2025年11月1日施行）第四条"

# 各类运营者的报告时限（分钟，自发现时起）：critical_infrastructure_minutes（1小时）、
# central_state_organ_minutes（2小时）、other_minutes（4小时）。
# Minutes from discovery, by operator type: critical_infrastructure_minutes,
# central_state_organ_minutes, other_minutes.
[regulatory.reporting_windows]
critical_infrastructure_minutes = 60
central_state_organ_minutes = 120
other_minutes = 240

# 分级指南的网站指标，作为建议等级的默认规则："以上"包括本数。
# level：指向的等级；measure：unreachable（不能访问）、defaced_home_page（主页出现篡改内容）、
# defaced_other_page（其他页面出现篡改内容）；minutes：持续分钟数；tiers：适用的网站类型；
# source：出处；verified：是否已与正式文本核对（I 级已核对；II、III 级取自2023年征求意见稿，未核对）。
# 列出任何一条即替换全部内置指标。
# The guide's website indicators, the default rules of the suggested level
# ("or more" includes the number). level: the level it points to; measure:
# unreachable, defaced_home_page or defaced_other_page; minutes: how long;
# tiers: the kinds of site it applies to; source: where the number comes from;
# verified: checked against the official text (grade I is; II and III come
# from the 2023 draft and are not). Listing any replaces the shipped set.
[[regulatory.indicators]]
level = "I"
measure = "unreachable"
minutes = 1440
tiers = ["provincial_government_portal", "central_news_site"]
source = "网络安全事件分级指南（国家网络安全事件报告管理办法附件，国家互联网信息办公室 2025年9月11日） 一、通常情况下第1条"
verified = true

[[regulatory.indicators]]
level = "I"
measure = "defaced_home_page"
minutes = 360
tiers = ["provincial_government_portal", "central_news_site"]
source = "网络安全事件分级指南（国家网络安全事件报告管理办法附件，国家互联网信息办公室 2025年9月11日） 一、通常情况下第6条(1)"
verified = true

[[regulatory.indicators]]
level = "I"
measure = "defaced_other_page"
minutes = 1440
tiers = ["provincial_government_portal", "central_news_site"]
source = "网络安全事件分级指南（国家网络安全事件报告管理办法附件，国家互联网信息办公室 2025年9月11日） 一、通常情况下第6条(1)"
verified = true

[[regulatory.indicators]]
level = "II"
measure = "unreachable"
minutes = 360
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 二、通常情况下第1条；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

[[regulatory.indicators]]
level = "II"
measure = "defaced_home_page"
minutes = 120
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 二、通常情况下第7条(1)；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

[[regulatory.indicators]]
level = "II"
measure = "defaced_other_page"
minutes = 720
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 二、通常情况下第7条(1)；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

[[regulatory.indicators]]
level = "III"
measure = "unreachable"
minutes = 120
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site", "company_portal"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 三、通常情况下第1条；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

[[regulatory.indicators]]
level = "III"
measure = "defaced_home_page"
minutes = 30
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site", "company_portal"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 三、通常情况下第7条(1)；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

[[regulatory.indicators]]
level = "III"
measure = "defaced_other_page"
minutes = 120
tiers = ["provincial_government_portal", "city_government_portal", "central_news_site", "news_site", "company_portal"]
source = "网络安全事件分级指南（网络安全事件报告管理办法（征求意见稿）附件，国家互联网信息办公室 2023年12月8日） 三、通常情况下第7条(1)；未与2025年正式文本核对 (not verified against the 2025 text)"
verified = false

# ──────────────── 本单位定级规则 The organisation's level rules (PLAN §2) ────────────────
# 与国家指标并列；取所有满足的规则和指标中最严重的等级为建议等级，由领导小组最终判定。
# 所列条件须同时满足，省略的条件不限：kinds（事件类型：defacement、hidden_links、
# web_shell、ddos、unavailable、other）、importance（网站重要性）、tiers（网站类型）、
# min_sites（受影响网站数下限）、min_exposure_minutes（暴露时长下限）、
# home_page（true：涉及首页；false：不涉及首页）。reason：报告中的理由。
# Beside the national indicators; the most serious level any rule or indicator
# meets is the suggestion, which the group then decides. Every condition given
# must hold, a condition left out always holds: kinds, importance, tiers,
# min_sites, min_exposure_minutes, home_page. reason: the words in the report.
[[level_rules]]
level = "III"
reason = "重要网站被植入网页后门，攻击者可控制网站 (a web shell on an important site)"
kinds = ["web_shell"]
importance = ["特别重要", "重要"]

# ──────────────── 跨网站关联 Several sites, one incident ────────────────
# window_minutes：某网站尚无未结事件时，若另一网站的同类事件（篡改与暗链视为同类）在此分钟数内
# 发现且仍未恢复，则并入该事件：同一攻击波及多个网站即为一个事件，定级规则的 min_sites
# 按其网站数计算，预案对每个网站执行隔离。0：不关联，每个网站各自立事件。
# window_minutes: a signal on a site with no open incident joins another site's
# open incident of the same kind (defacement and hidden links count as one)
# discovered at most this many minutes before: one attack on several sites is
# one incident, level rules count its sites (min_sites), the playbook cuts off
# each. 0: every site's incidents are its own.
[correlation]
window_minutes = 60

# ──────────────── 外部联系单位 External contacts (PLAN §6, §7) ────────────────
# 由专人电话报告（随后传真）的上级和外部单位：升级链中的这些步骤生成"打电话/发传真"任务，
# 而不是自动消息。kind：cyberspace_office（网信办）、police（公安网监）、regulator（行业主管部门）、
# other。assignee：负责打电话的角色。min_level：该等级及以上才联系。phone / fax：电话、传真。
# Authorities a person phones (then faxes): escalation steps naming them make a
# call/fax task for a person, never an automatic message. kind:
# cyberspace_office, police, regulator, other. assignee: the role that calls.
# min_level: only for this level or more serious. phone / fax: the numbers.
[[external_contacts]]
id = "cac"
name = "示例省委网信办"
kind = "cyberspace_office"
phone = "0000-66000007"
fax = "0000-66000008"
assignee = "office_director"
min_level = "III"

[[external_contacts]]
id = "police"
# III 级及以上请公安网监溯源立案 (PLAN §7)。Level III and above: ask the police to trace and open a case.
name = "示例省公安厅网络安全保卫总队"
kind = "police"
phone = "0000-66000110"
assignee = "office_director"
min_level = "III"

# ──────────────── 升级链 Escalation (PLAN §4, §6) ────────────────
# remind：每个时限到期前提醒的角色。on_missed_deadline：时限已过仍未完成时立即通知的角色。
# remind: roles reminded before each deadline. on_missed_deadline: roles told at
# once when a deadline passes undone.
[escalation]
remind = ["duty_officer", "office_director"]
on_missed_deadline = ["office_director", "deputy_leader"]

# 事件按 kinds 选择升级链（省略 kinds 的链适用其余所有类型）。每一步自发现时起
# after_minutes 分钟后执行：通知 roles 中的人员（duty_officer 先找当班人员），或为 contacts
# 中的外部单位生成电话任务；repeat / repeat_every_minutes：重复次数和间隔；
# min_level：该等级及以上才执行；stop_on_ack：有人确认后停止（默认 true，对外报告应为 false）；
# channels：本步使用的通知渠道（省略时按 [routing]）。
# An incident follows the chain whose kinds include its kind (a chain without
# kinds takes the rest). Each step runs after_minutes after discovery: it tells
# the people of roles (the duty officer on duty first) or makes call tasks for
# the contacts; repeat / repeat_every_minutes: how often and how far apart;
# min_level: only for this level or more serious; stop_on_ack: an
# acknowledgement stops it (default true; false for duties to authorities);
# channels: channel ids for this step instead of [routing].
[[escalation.chains]]
name = "default"
kinds = []

[[escalation.chains.steps]]
after_minutes = 0
roles = ["duty_officer"]
repeat = 2
repeat_every_minutes = 5

[[escalation.chains.steps]]
after_minutes = 10
roles = ["office_director"]
repeat = 1
repeat_every_minutes = 5

[[escalation.chains.steps]]
after_minutes = 20
roles = ["deputy_leader"]

[[escalation.chains.steps]]
after_minutes = 30
roles = ["leader"]
min_level = "II"

[[escalation.chains.steps]]
# 情况严重时电话报告属地网信办，随后传真；III 级及以上请公安网监介入 (PLAN §6, §7)。
# Serious incidents: phone the cyberspace office, then fax; III and above: the police.
after_minutes = 30
contacts = ["cac", "police"]
stop_on_ack = false

# ──────────────── 值班表 Duty schedule (PLAN §3: 安全值班人员) ────────────────
# 当班人员最先被通知；交接班时，未结束的事件向接班人员交接。name：班次名称；
# days：开始日（mon…sun，省略为每天）；start / end：本地时间 "HH:MM"，end 早于 start 表示次日；
# people：通讯录中持 duty_officer 角色的人员，先列者先通知。未被任何班次覆盖的时间通知全部值班人员。
# The person on duty is called first; at a hand-over, open incidents are
# handed to the incoming officer. name: the shift's name; days: the days it
# starts on (mon…sun, every day when left out); start / end: local "HH:MM", an
# end before the start is the next day; people: roster names holding the
# duty_officer role, the first called first. Times no shift covers call every
# duty officer.
[[duty.shifts]]
name = "工作日白班 weekday day"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:30"
end = "17:30"
people = ["刘洋"]

[[duty.shifts]]
name = "周末白班 weekend day"
days = ["sat", "sun"]
start = "08:30"
end = "17:30"
people = ["陈静"]

[[duty.shifts]]
name = "夜班 night"
start = "17:30"
end = "08:30"
people = ["陈静", "刘洋"]

# 值班日历：按国务院办公厅每年公布的部分节假日安排填写，每年更新（下例为 2026 年国庆节：
# 10月1日至7日放假调休，9月20日（周日）、10月10日（周六）上班）。date：某一天 "YYYY-MM-DD"；
# from / to：连续多天（含首尾两天）；like：这些天按星期几排班（节假日 "sun"，调休上班 "mon"）；
# people：当天 00:00 至 24:00 值班的人员（节假日值班表），取代当天开始的班次，前一天开始的
# 夜班照常到点结束；note：说明。同一天可以既在 like 的范围内又有 people，以 people 为准。
# The duty calendar, from the State Council's holiday notice for each year; update it every
# year (below: National Day 2026, 1–7 October off, Sunday 20 September and Saturday 10 October
# worked). date: one day, "YYYY-MM-DD"; from / to: a run of days, both inclusive; like: the
# weekday those days are staffed as (a holiday "sun", a make-up working day "mon"); people: on
# duty 00:00–24:00 that day (the holiday roster), replacing the shifts that start on it, while
# a night shift from the evening before still ends normally; note: what the day is. A people
# day inside a like run takes the day.
[[duty.calendar]]
from = "2026-10-01"
to = "2026-10-07"
like = "sun"
note = "国庆节 National Day"

[[duty.calendar]]
date = "2026-09-20"
like = "mon"
note = "国庆节调休上班 make-up working day"

[[duty.calendar]]
date = "2026-10-10"
like = "mon"
note = "国庆节调休上班 make-up working day"

[[duty.calendar]]
date = "2026-10-01"
people = ["刘洋", "陈静"]
note = "国庆节当日值班 National Day duty"

# ──────────────── 处置预案 Playbooks (PLAN §5, §7) ────────────────
# 每类事件一个：kind（事件类型）；approvers：可批准"待批准"步骤的角色；steps：步骤。
# action：contain（立即切断对外服务）、preserve_evidence（保护现场和攻击痕迹）、
# block_offenders（封堵攻击来源）、notify（通知）、restore_pages（恢复网页）、
# remove_web_shell（清除后门）、reopen_site（恢复对外服务）、report_upward（向上级报告）、
# analyse_logs（分析日志）、fix_and_rescan（修复漏洞并复测）、ask_police（请公安网监介入）、
# ask_operator（请运营商清洗流量）。mode：automatic（自动执行）、approval（先报告，听指令：
# 待指挥长批准）、manual（人工任务）。步骤可用 approvers 单独指定批准人。
# 此处列出的类型替换内置预案，未列出的类型（hidden_links、web_shell、ddos、unavailable、
# other）使用内置预案。
# One per kind: kind; approvers: the roles who may approve its approval steps;
# steps. action: contain, preserve_evidence, block_offenders, notify,
# restore_pages, remove_web_shell, reopen_site, report_upward, analyse_logs,
# fix_and_rescan, ask_police, ask_operator. mode: automatic, approval (report
# first, act on instruction) or manual (a person's task). A step may name its own
# approvers. A kind listed here replaces its shipped playbook; kinds not listed
# keep theirs.
[[playbooks]]
kind = "defacement"
approvers = ["leader", "deputy_leader"]

[[playbooks.steps]]
action = "preserve_evidence"
mode = "automatic"

[[playbooks.steps]]
# 发现网页篡改，立即切断网站对外服务网络 (PLAN §5)。
# Defacement found: cut the site off from external service at once.
action = "contain"
mode = "automatic"

[[playbooks.steps]]
action = "notify"
mode = "automatic"

[[playbooks.steps]]
action = "analyse_logs"
mode = "manual"
# note：给处置人员的说明。note: a word for the people doing it.
note = "安全防护单位分析网站服务器日志和安全设备日志 (PLAN §7)"

[[playbooks.steps]]
action = "restore_pages"
mode = "approval"

[[playbooks.steps]]
action = "fix_and_rescan"
mode = "manual"

[[playbooks.steps]]
action = "reopen_site"
mode = "approval"

[[playbooks.steps]]
action = "report_upward"
mode = "approval"
approvers = ["leader"]

# ──────────────── 通知 Notifications ────────────────
# language：通知语言，"zh-CN"（默认，仅中文）、"en"（仅英文）或 "both"（先中文后英文）。
# language: the messages' language: "zh-CN" (default, Chinese only), "en"
# (English only) or "both" (Chinese first, then English).
[notifications]
language = "zh-CN"

# ──────────────── 通知渠道 Notification channels ────────────────
# id：渠道标识；type：email（SMTP）、webhook（JSON，HMAC-SHA256 签名）、dingtalk（钉钉机器人，加签）、
# wecom（企业微信机器人）、feishu（飞书机器人，签名校验）、sms（短信 HTTP 网关）。
# 密钥建议用环境变量名给出（password_env / secret_env / token_env），不要写入本文件。
# 与类型无关的键会报错。
# id: the channel's id; type: email, webhook, dingtalk, wecom, feishu, sms.
# Give secrets as environment variable names (password_env / secret_env /
# token_env) rather than in this file. A key the type does not use is an error.
[[channels]]
id = "email"
type = "email"
# smtp_host / smtp_port：SMTP 服务器；security：starttls（默认）、tls、none。
# smtp_host / smtp_port: the SMTP server; security: starttls (default), tls or none.
smtp_host = "smtp.example.gov.test"
smtp_port = 465
security = "tls"
# username / password_env：登录名和存放密码的环境变量；from：发件人。
# username / password_env: the login and the variable holding its password; from: the sender.
username = "sitewarden@example.gov.test"
password_env = "SITEWARDEN_SMTP_PASSWORD"
from = "sitewarden@example.gov.test"

[[channels]]
id = "dingtalk"
type = "dingtalk"
# url：机器人 Webhook 地址；secret_env：加签密钥所在的环境变量。
# url: the robot's webhook; secret_env: the variable holding its signing secret.
url = "https://oapi.dingtalk.example.test/robot/send?access_token=EXAMPLE"
secret_env = "SITEWARDEN_DINGTALK_SECRET"
# min_interval_ms：本渠道两条消息之间的最短间隔（毫秒）。机器人默认 3000（约每分钟 20 条，
# 即其限流），其他渠道默认 0。一个渠道慢或限速，不会耽误其他渠道的消息。
# min_interval_ms: the least time between two messages on this channel, in ms. Robots
# default to 3000 (about 20 a minute, their rate limit), other channels to 0. A slow or
# paced channel never holds back the messages of the others.
min_interval_ms = 3000

[[channels]]
id = "wecom"
type = "wecom"
url = "https://qyapi.weixin.example.test/cgi-bin/webhook/send?key=EXAMPLE"

[[channels]]
id = "feishu"
type = "feishu"
url = "https://open.feishu.example.test/open-apis/bot/v2/hook/EXAMPLE"
secret_env = "SITEWARDEN_FEISHU_SECRET"

[[channels]]
id = "webhook"
type = "webhook"
url = "https://soc.example.gov.test/hooks/sitewarden"
secret_env = "SITEWARDEN_WEBHOOK_SECRET"

[[channels]]
id = "sms"
type = "sms"
# token_env：网关令牌所在的环境变量；phone_field / text_field：网关 JSON 中手机号和正文的字段名。
# token_env: the variable holding the gateway's token; phone_field / text_field:
# the gateway's JSON fields for the number and the text.
url = "https://sms.example.gov.test/api/send"
token_env = "SITEWARDEN_SMS_TOKEN"
phone_field = "phone"
text_field = "text"

# ──────────────── 按角色路由 Routing by role ────────────────
# 角色 = 渠道 id 列表，每条消息经列出的每个渠道各发一份；default 适用于未列出的角色。
# role = channel ids; every message goes out on each listed channel; default applies
# to roles not listed.
[routing]
duty_officer = ["dingtalk", "sms"]
office_director = ["dingtalk", "email"]
deputy_leader = ["sms", "email"]
leader = ["sms", "email"]
default = ["email", "webhook"]
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Deadlines, Importance, IncidentKind, Plan, ProbeSettings, Regulatory, Role, SiteTier,
        default_levels, shipped_playbook,
    };
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
            notify_webhook: None,
            gateway: None,
            without_web_root: false,
        }
    }

    #[test]
    fn the_demo_plan_guards_no_directory_it_does_not_have() {
        let demo = sample_plan_with(&SampleOptions {
            without_web_root: true,
            ..SampleOptions::default()
        });
        let plan = Plan::from_toml_str(&demo).unwrap_or_else(|errors| panic!("{errors}"));
        assert!(plan.sites.iter().all(|site| site.web_roots.is_empty()));
        // Still shown, as an example.
        assert!(demo.contains("# path = \"/srv/www/portal\""));
        let sample = Plan::from_toml_str(&sample_plan()).unwrap();
        assert_eq!(sample.sites[0].web_roots.len(), 1);
    }

    #[test]
    fn the_demo_webhook_replaces_every_channel() {
        let text = sample_plan_with(&SampleOptions {
            notify_webhook: Some(("http://127.0.0.1:9/hook".into(), "s".into())),
            gateway: None,
            ..SampleOptions::default()
        });
        let plan = Plan::from_toml_str(&text).unwrap_or_else(|errors| panic!("{errors}"));
        let ids: Vec<_> = plan
            .channels
            .iter()
            .map(|channel| channel.id.as_str())
            .collect();
        assert_eq!(ids, ["duty-room"]);
        assert!(
            !text.contains("example.test/robot"),
            "no sample channel host is left"
        );
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
        // The response sections are all spelled out.
        assert_eq!(
            plan.regulatory,
            Regulatory::default(),
            "the sample spells out the regulatory profile"
        );
        assert_eq!(plan.escalation.chains.len(), 1);
        assert_eq!(plan.external_contacts.len(), 2);
        assert_eq!(plan.duty.shifts.len(), 3);
        assert_eq!(plan.duty.calendar.len(), 4);
        assert_eq!(plan.channels.len(), 6);
        assert_eq!(plan.routing.len(), 5);
        assert_eq!(plan.level_rules.len(), 1);
        assert_eq!(
            plan.site("portal").map(|site| site.tier),
            Some(SiteTier::ProvincialGovernmentPortal)
        );
        // Kinds the sample does not list keep their shipped playbooks.
        assert_eq!(
            plan.playbook(IncidentKind::Ddos),
            shipped_playbook(IncidentKind::Ddos)
        );
        assert_eq!(plan.playbook(IncidentKind::Defacement).steps.len(), 8);
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
    fn the_demo_gateway_puts_the_sites_behind_it() {
        let text = sample_plan_with(&SampleOptions {
            gateway: Some(SampleGateway {
                listen: "127.0.0.1:18080".into(),
                origins: vec![
                    (
                        "portal.example.gov.test".into(),
                        "http://127.0.0.1:41234".into(),
                    ),
                    (
                        "zfcg.example.gov.test".into(),
                        "http://127.0.0.1:41235".into(),
                    ),
                ],
            }),
            ..SampleOptions::default()
        });
        let plan = Plan::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(plan.gateway.unwrap().listen, ["127.0.0.1:18080"]);
        assert_eq!(plan.sites[0].origins, ["http://127.0.0.1:41234"]);
        assert_eq!(plan.sites[1].origins, ["http://127.0.0.1:41235"]);
        assert_eq!(
            plan.sites[0].containment_backend(),
            crate::ContainmentBackend::Gateway
        );
        // Without the option the sample only shows the keys in comments.
        let plain = Plan::from_toml_str(&sample_plan()).unwrap();
        assert!(plain.gateway.is_none());
        assert!(plain.sites.iter().all(|site| site.origins.is_empty()));
        assert!(sample_plan().contains("# [gateway]"));
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
