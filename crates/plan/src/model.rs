//! The plan's data types: what `sitewarden.toml` holds once it has been read.
//!
//! Every number the emergency plan sets (deadlines, levels, probe cadence) is
//! a field with the plan's value as its default, so an organisation whose
//! plan differs edits the file, not the code. A minimal file (an
//! `[organisation]` with a `name` and one site with one page) is a complete
//! plan.
//!
//! This module only describes shapes and defaults. It does not read files
//! (see `load`), and it does not judge values (see `validate`): a `Plan`
//! deserialized directly with `toml::from_str` has not been validated.

use crate::response::{
    Channel, Correlation, Duty, Escalation, ExternalContact, IncidentKind, LevelRule,
    Notifications, OperatorType, Playbook, Regulatory, Routing, SiteTier, default_playbooks,
    shipped_playbook,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The organisation's emergency plan: who it is, which sites it watches, who
/// responds, and the numbers (deadlines, levels, probe cadence) it runs on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The organisation that owns the plan. The only required section.
    pub organisation: Organisation,
    /// The reporting deadlines of PLAN §4 (initial report, risk assessment,
    /// daily report).
    #[serde(default)]
    pub deadlines: Deadlines,
    /// The incident levels, most serious first. Defaults to the four levels
    /// of PLAN §2 (I 特别重大 … IV 一般).
    #[serde(default = "default_levels")]
    pub levels: Vec<LevelDef>,
    /// How the remote probe checks pages: cadence, limits, user agents,
    /// name resolution overrides.
    #[serde(default)]
    pub probe: ProbeSettings,
    /// How the web-root guard runs (its safety-net full check); the roots
    /// it guards are listed per site (`[[sites.web_roots]]`).
    #[serde(default)]
    pub guard: GuardSettings,
    /// Plan-wide extra sensitive terms, added to the built-in lexicons of the
    /// page analysis.
    #[serde(default)]
    pub lexicons: Vec<LexiconDef>,
    /// Plan-wide domains whose links are never counted as "external" (CDNs,
    /// the national government portal, statistics services).
    #[serde(default)]
    pub trusted_domains: Vec<String>,
    /// The units that own, build, host, carry and protect the sites (PLAN
    /// §3), referred to by `id` from sites and the roster.
    #[serde(default)]
    pub units: Vec<Unit>,
    /// The sites under the plan: the portal and its sub-sites (PLAN §1).
    #[serde(default)]
    pub sites: Vec<Site>,
    /// The contact roster of the leadership group, its office and the duty
    /// staff (PLAN §3).
    #[serde(default)]
    pub roster: Vec<Person>,
    /// The national rules beside the plan: operator type, reporting
    /// windows, the grading guide's website indicators (REGULATIONS.md).
    #[serde(default)]
    pub regulatory: Regulatory,
    /// The organisation's own rules for the suggested level, beside the
    /// national indicators. None by default.
    #[serde(default)]
    pub level_rules: Vec<LevelRule>,
    /// Who is told, in what order, until someone acknowledges.
    #[serde(default)]
    pub escalation: Escalation,
    /// Authorities outside the organisation that a person calls or faxes.
    #[serde(default)]
    pub external_contacts: Vec<ExternalContact>,
    /// Who is on duty when.
    #[serde(default)]
    pub duty: Duty,
    /// What runs by itself and what waits for approval, per incident kind.
    /// A kind listed here replaces its shipped playbook; the other kinds
    /// keep theirs (see [`Plan::playbook`]).
    #[serde(default = "default_playbooks")]
    pub playbooks: Vec<Playbook>,
    /// When signals on several sites are one incident.
    #[serde(default)]
    pub correlation: Correlation,
    /// How the notifications read (their language).
    #[serde(default)]
    pub notifications: Notifications,
    /// The notification channels (configuration only).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Role (or `default`) → channel ids.
    #[serde(default)]
    pub routing: Routing,
    /// sitewarden's reverse proxy in front of the sites with `origins`.
    /// Absent: no gateway runs.
    #[serde(default)]
    pub gateway: Option<crate::gateway::GatewaySettings>,
    /// Live watching of the gateway's requests and the plan's access logs.
    #[serde(default)]
    pub logwatch: crate::logwatch::LogwatchSettings,
}

impl Plan {
    /// Every page of every site, with the site it belongs to, in file order.
    pub fn pages(&self) -> impl Iterator<Item = (&Site, &Page)> {
        self.sites
            .iter()
            .flat_map(|site| site.pages.iter().map(move |page| (site, page)))
    }

    /// Every web root of every site, with the site it belongs to, in file
    /// order.
    pub fn web_roots(&self) -> impl Iterator<Item = (&Site, &WebRoot)> {
        self.sites
            .iter()
            .flat_map(|site| site.web_roots.iter().map(move |root| (site, root)))
    }

    /// The site with this `name`, if the plan has one.
    pub fn site(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.name == name)
    }

    /// How often to check `page`: its own `interval_seconds` when set,
    /// otherwise the plan-wide `probe.interval_seconds`.
    pub fn page_interval(&self, page: &Page) -> Duration {
        Duration::from_secs(u64::from(
            page.interval_seconds.unwrap_or(self.probe.interval_seconds),
        ))
    }

    /// The unit with this `id`, if the plan has one.
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|unit| unit.id == id)
    }

    /// The level with this `id` ("I" … "IV" by default), if the plan has one.
    pub fn level(&self, id: &str) -> Option<&LevelDef> {
        self.levels.iter().find(|level| level.id == id)
    }

    /// The roster members who hold `role`, in roster order.
    pub fn people_with_role(&self, role: Role) -> impl Iterator<Item = &Person> {
        self.roster
            .iter()
            .filter(move |person| person.roles.contains(&role))
    }

    /// The level's position in `levels`, 0 for the most serious; `None`
    /// for an id the plan does not have.
    pub fn level_rank(&self, id: &str) -> Option<usize> {
        self.levels.iter().position(|level| level.id == id)
    }

    /// The operator type that sets `site`'s national reporting window: the
    /// site's own, else the organisation's.
    pub fn operator_type_of(&self, site: &Site) -> OperatorType {
        site.operator_type.unwrap_or(self.regulatory.operator_type)
    }

    /// The roster member with this name, if any.
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.roster.iter().find(|person| person.name == name)
    }

    /// The channel with this id, if any.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.id == id)
    }

    /// The playbook for `kind`: the plan's own, else the shipped one.
    /// Listing a `[[playbooks]]` entry replaces the shipped playbook of that
    /// kind only.
    pub fn playbook(&self, kind: IncidentKind) -> &Playbook {
        self.playbooks
            .iter()
            .find(|playbook| playbook.kind == kind)
            .unwrap_or_else(|| shipped_playbook(kind))
    }

    /// The external contact with this id, if any.
    pub fn external_contact(&self, id: &str) -> Option<&ExternalContact> {
        self.external_contacts
            .iter()
            .find(|contact| contact.id == id)
    }
}

/// The organisation that owns and runs the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Organisation {
    /// The organisation's name as it appears on reports (e.g. 示例省财政厅).
    pub name: String,
    /// The organisation's English name, for English reports.
    #[serde(default)]
    pub name_en: Option<String>,
    /// The IANA time zone in which deadlines and daily reports are reckoned.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "Asia/Shanghai".to_owned()
}

/// The reporting deadlines of PLAN §4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deadlines {
    /// Minutes from discovery to the initial report (初次报告最迟不得超过半小时).
    pub initial_report_minutes: u32,
    /// Minutes from discovery to the risk assessment and the level decision
    /// (1小时内进行风险评估，判定事件等级).
    pub risk_assessment_minutes: u32,
    /// Local time ("HH:MM", 24-hour) of the daily report for level I and II
    /// incidents (日报告制度).
    pub daily_report_time: String,
    /// Whether a level I or II incident asks for a progress report whenever
    /// its situation changes (态势进程报告).
    pub progress_report_on_change: bool,
    /// Minutes from a change of situation (level, state) to its progress
    /// report.
    pub progress_report_minutes: u32,
    /// Minutes before each deadline that a reminder goes out; 0 for none.
    pub reminder_minutes: u32,
    /// The level ids that get progress reports and the daily report
    /// (PLAN §4: I and II).
    pub serious_levels: Vec<String>,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            initial_report_minutes: 30,
            risk_assessment_minutes: 60,
            daily_report_time: "17:00".to_owned(),
            progress_report_on_change: true,
            progress_report_minutes: 30,
            reminder_minutes: 5,
            serious_levels: vec!["I".to_owned(), "II".to_owned()],
        }
    }
}

/// One incident level (PLAN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelDef {
    /// The level's short id, used in incidents and reports ("I" … "IV").
    pub id: String,
    /// The level's Chinese name (特别重大, 重大, 较大, 一般).
    pub name_zh: String,
    /// The level's English name.
    pub name_en: String,
    /// When an incident is of this level, in the plan's words.
    pub description: String,
}

/// The four levels of PLAN §2, most serious first.
pub fn default_levels() -> Vec<LevelDef> {
    let level = |id: &str, name_zh: &str, name_en: &str, description: &str| LevelDef {
        id: id.to_owned(),
        name_zh: name_zh.to_owned(),
        name_en: name_en.to_owned(),
        description: description.to_owned(),
    };
    vec![
        level(
            "I",
            "特别重大",
            "Especially serious",
            "全区网站、网络和信息系统大面积瘫痪，事态发展超出本单位控制能力，\
             对国家安全、社会秩序、经济建设和公众利益造成特别严重损害。",
        ),
        level(
            "II",
            "重大",
            "Serious",
            "全区网站、网络和信息系统大面积瘫痪，对国家安全、社会秩序、\
             经济建设和公众利益造成严重损害，需要跨部门协同处置。",
        ),
        level(
            "III",
            "较大",
            "Relatively serious",
            "某一网站或信息系统瘫痪，对国家安全、社会秩序、经济建设和公众利益\
             造成一定损害，但不需要跨部门协同处置。",
        ),
        level(
            "IV",
            "一般",
            "General",
            "某一网站或信息系统受到一定程度的损坏，对公民、法人和其他组织的权益\
             有一定影响，但不危害社会秩序、经济建设和公众利益。",
        ),
    ]
}

/// How the remote probe checks pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeSettings {
    /// Seconds between two checks of a page, unless the page sets its own.
    pub interval_seconds: u32,
    /// Seconds before one check (connect, TLS, request, body) is abandoned.
    pub timeout_seconds: u32,
    /// Largest response body read, in bytes; the rest is not downloaded.
    pub max_body_bytes: u64,
    /// Most checks in flight at once, across all sites.
    pub concurrency: usize,
    /// Consecutive failed checks after which a page counts as down; one
    /// failure alone is often a network blip.
    pub down_after_failures: u32,
    /// The user agent of ordinary checks: a current desktop browser, so the
    /// site serves what visitors see.
    pub browser_user_agent: String,
    /// Search-engine crawlers to impersonate as well: defaced sites often
    /// show spam (SEO cloaking, 暗链) only to crawlers. Listing any
    /// `[[probe.crawlers]]` replaces the default Baiduspider and Googlebot;
    /// an empty list turns crawler checks off.
    pub crawlers: Vec<CrawlerAgent>,
    /// Host name → IP address to connect to instead of asking DNS, like
    /// `curl --resolve`; for checking an origin behind a CDN, or the demo.
    pub resolve: BTreeMap<String, String>,
    /// Extra PEM files of CA certificates to trust, for sites signed by a
    /// private or government CA.
    pub extra_ca_files: Vec<PathBuf>,
    /// Most redirects followed in one check.
    pub max_redirects: u32,
}

/// A desktop Chrome on Windows, as sent by a current stable release.
pub const DEFAULT_BROWSER_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
     AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36";

/// Baidu's web crawler, as it announces itself.
pub const BAIDUSPIDER_USER_AGENT: &str =
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)";

/// Google's web crawler, as it announces itself.
pub const GOOGLEBOT_USER_AGENT: &str =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval_seconds: 60,
            timeout_seconds: 10,
            max_body_bytes: 5 * 1024 * 1024,
            concurrency: 64,
            down_after_failures: 2,
            browser_user_agent: DEFAULT_BROWSER_USER_AGENT.to_owned(),
            crawlers: vec![
                CrawlerAgent {
                    name: "Baiduspider".to_owned(),
                    user_agent: BAIDUSPIDER_USER_AGENT.to_owned(),
                },
                CrawlerAgent {
                    name: "Googlebot".to_owned(),
                    user_agent: GOOGLEBOT_USER_AGENT.to_owned(),
                },
            ],
            resolve: BTreeMap::new(),
            extra_ca_files: Vec::new(),
            max_redirects: 5,
        }
    }
}

/// How the web-root guard runs (`[guard]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardSettings {
    /// Seconds between two full checks of a guarded root: a safety net
    /// behind the real-time (inotify) events, which repair within
    /// milliseconds. A full check only re-hashes files whose inode, size,
    /// mtime or ctime changed.
    pub rescan_interval_seconds: u32,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            rescan_interval_seconds: 300,
        }
    }
}

impl GuardSettings {
    /// The interval between full checks.
    pub fn rescan_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.rescan_interval_seconds))
    }
}

/// A web root of a site on this server, guarded against tampering
/// (`[[sites.web_roots]]`): `sitewarden serve` watches it and restores its
/// approved version (recorded by `sitewarden guard baseline`) on any change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebRoot {
    /// The web root's absolute path on this server (e.g. `/srv/www/portal`).
    /// It need not exist when the plan is checked: the guard reports a
    /// missing root when it starts.
    pub path: PathBuf,
    /// Directories, relative to the root, where new files may appear (user
    /// uploads); a script there is still a web shell and is quarantined.
    #[serde(default)]
    pub upload_dirs: Vec<String>,
    /// Globs, relative to the root, of paths that are not guarded (caches,
    /// logs), e.g. `cache/**`.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// A search-engine crawler the probe impersonates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlerAgent {
    /// A short name for reports ("Baiduspider").
    pub name: String,
    /// The `User-Agent` header sent.
    pub user_agent: String,
}

/// Extra sensitive terms of one category (gambling, porn, "hacked by", …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexiconDef {
    /// The category the terms belong to; reports name it when a term is found.
    pub category: String,
    /// The terms, matched as plain text.
    pub terms: Vec<String>,
}

/// A unit with duties under the plan (PLAN §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Short id that sites and the roster refer to (e.g. "info-centre").
    pub id: String,
    /// The unit's full name.
    pub name: String,
    /// What the unit is to the sites, when it is one kind only.
    #[serde(default)]
    pub kind: Option<UnitKind>,
    /// The unit's switchboard or duty phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// What a unit is to the sites (PLAN §3), or to the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 管理和使用单位: the business unit that owns and uses a site.
    Owner,
    /// 开发和建设单位: the developer that builds and fixes a site.
    Developer,
    /// 网络运营商: the network operator that carries a site's traffic.
    Operator,
    /// 运维单位: the hosting and operations unit (backups, restores).
    Hosting,
    /// 安全防护单位: the security service provider (analysis, tracing).
    Security,
    /// 主管部门: an authority reported to (网信办, 公安网监).
    Authority,
    /// Anything else.
    Other,
}

impl UnitKind {
    /// The plan's Chinese name for this kind of unit.
    pub fn name_zh(self) -> &'static str {
        match self {
            UnitKind::Owner => "管理和使用单位",
            UnitKind::Developer => "开发和建设单位",
            UnitKind::Operator => "网络运营商",
            UnitKind::Hosting => "运维单位",
            UnitKind::Security => "安全防护单位",
            UnitKind::Authority => "主管部门",
            UnitKind::Other => "其他",
        }
    }
}

/// A site under the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "SiteFields")]
pub struct Site {
    /// The site's unique id: lower-case letters, digits and `-`, starting
    /// with a letter or digit. Used in paths, URLs and the store.
    pub name: String,
    /// The site's human title (e.g. 示例省财政厅门户网站). Defaults to `name`.
    pub title: String,
    /// How much harm the site's compromise does (PLAN §1).
    pub importance: Importance,
    /// The units responsible for the site, by duty.
    pub units: ResponsibleUnits,
    /// Domains whose links are not "external" on this site, in addition to
    /// the plan-wide `trusted_domains` and the site's own host.
    pub trusted_domains: Vec<String>,
    /// The pages of the site that are checked.
    pub pages: Vec<Page>,
    /// The site's web roots on this server that the guard protects.
    pub web_roots: Vec<WebRoot>,
    /// What kind of website it is in the national grading guide's terms.
    pub tier: SiteTier,
    /// The site's operator type when it differs from the organisation's
    /// (`regulatory.operator_type`), e.g. a site that is critical
    /// information infrastructure.
    pub operator_type: Option<OperatorType>,
    /// The site's web servers, when it is served through sitewarden's
    /// gateway (`http://10.0.0.5:80`).
    pub origins: Vec<String>,
    /// Host names the gateway answers for the site, besides the hosts of
    /// its pages' URLs.
    pub hosts: Vec<String>,
    /// The HTML file served while the site is cut off; a built-in
    /// bilingual page when absent.
    pub maintenance_page: Option<PathBuf>,
    /// How the site is cut off from external service. Default: the gateway
    /// when the site has `origins`, otherwise nothing automatic.
    pub containment: Option<crate::gateway::Containment>,
}

/// The TOML shape of a site, before defaults that depend on other fields.
#[derive(Deserialize)]
struct SiteFields {
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    importance: Importance,
    #[serde(default)]
    units: ResponsibleUnits,
    #[serde(default)]
    trusted_domains: Vec<String>,
    #[serde(default)]
    pages: Vec<Page>,
    #[serde(default)]
    web_roots: Vec<WebRoot>,
    #[serde(default)]
    tier: SiteTier,
    #[serde(default)]
    operator_type: Option<OperatorType>,
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    maintenance_page: Option<PathBuf>,
    #[serde(default)]
    containment: Option<crate::gateway::Containment>,
}

impl From<SiteFields> for Site {
    fn from(fields: SiteFields) -> Self {
        Site {
            title: fields.title.unwrap_or_else(|| fields.name.clone()),
            name: fields.name,
            importance: fields.importance,
            units: fields.units,
            trusted_domains: fields.trusted_domains,
            pages: fields.pages,
            web_roots: fields.web_roots,
            tier: fields.tier,
            operator_type: fields.operator_type,
            origins: fields.origins,
            hosts: fields.hosts,
            maintenance_page: fields.maintenance_page,
            containment: fields.containment,
        }
    }
}

/// A site's importance (重要性): the harm its compromise does to national
/// security, social order, the economy, public interest and citizens'
/// rights (PLAN §1).
///
/// The TOML file accepts the Chinese words and their English equivalents;
/// it is written back in Chinese.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum Importance {
    /// 特别重要: e.g. the organisation's portal.
    #[serde(rename = "特别重要", alias = "critical")]
    Critical,
    /// 重要.
    #[serde(rename = "重要", alias = "important")]
    Important,
    /// 一般.
    #[default]
    #[serde(rename = "一般", alias = "general")]
    General,
}

impl Importance {
    /// The Chinese word, as in the plan and the file.
    pub fn name_zh(self) -> &'static str {
        match self {
            Importance::Critical => "特别重要",
            Importance::Important => "重要",
            Importance::General => "一般",
        }
    }

    /// The English word, also accepted in the file.
    pub fn name_en(self) -> &'static str {
        match self {
            Importance::Critical => "critical",
            Importance::Important => "important",
            Importance::General => "general",
        }
    }
}

impl fmt::Display for Importance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name_zh())
    }
}

/// The units responsible for one site, each an `id` from `units` (PLAN §3:
/// 谁主管谁负责，谁使用谁负责，谁建设谁负责，谁运营谁负责).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponsibleUnits {
    /// 管理和使用单位: keeps the business running without the system.
    pub owner: Option<String>,
    /// 开发和建设单位: fixes vulnerable code, rebuilds.
    pub developer: Option<String>,
    /// 网络运营商: monitors links, blocks attacks.
    pub operator: Option<String>,
    /// 运维单位: regular checks and backups, preserves the scene, restores
    /// service.
    pub hosting: Option<String>,
    /// 安全防护单位: finds the attack's form, traces its source.
    pub security: Option<String>,
}

impl ResponsibleUnits {
    /// Each duty with the unit id that holds it, for duties that are set.
    /// The duty is the field's name ("owner", "developer", …).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("owner", &self.owner),
            ("developer", &self.developer),
            ("operator", &self.operator),
            ("hosting", &self.hosting),
            ("security", &self.security),
        ]
        .into_iter()
        .filter_map(|(duty, unit)| unit.as_deref().map(|unit| (duty, unit)))
    }
}

/// One page of a site that the probe checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "PageFields")]
pub struct Page {
    /// The page's id, unique within its site. Defaults to "home" for the
    /// site root and to the URL's path otherwise.
    pub name: String,
    /// The absolute http(s) URL fetched.
    pub url: String,
    /// Seconds between checks of this page; the probe default when absent.
    pub interval_seconds: Option<u32>,
    /// CSS selectors of regions that change legitimately (visit counters,
    /// dates, rotating news), left out of the comparison with the baseline.
    pub volatile: Vec<String>,
    /// Extra sensitive terms for this page only.
    pub lexicon: Vec<String>,
    /// Whether this is a home page: defacement of a home page weighs more
    /// (PLAN §5, and the national grading guide's 6-hour home-page rule).
    /// Defaults to true when the URL's path is "/".
    pub home: bool,
}

/// The TOML shape of a page, before defaults that depend on the URL.
#[derive(Deserialize)]
struct PageFields {
    #[serde(default)]
    name: Option<String>,
    url: String,
    #[serde(default)]
    interval_seconds: Option<u32>,
    #[serde(default)]
    volatile: Vec<String>,
    #[serde(default)]
    lexicon: Vec<String>,
    #[serde(default)]
    home: Option<bool>,
}

impl From<PageFields> for Page {
    fn from(fields: PageFields) -> Self {
        // An unparsable URL gets no derived defaults; validation reports it.
        let path = url::Url::parse(&fields.url)
            .ok()
            .map(|url| url.path().to_owned());
        let is_root = path.as_deref() == Some("/");
        let name = fields.name.unwrap_or_else(|| match &path {
            Some(_) if is_root => "home".to_owned(),
            Some(path) => path.clone(),
            None => fields.url.clone(),
        });
        Page {
            name,
            url: fields.url,
            interval_seconds: fields.interval_seconds,
            volatile: fields.volatile,
            lexicon: fields.lexicon,
            home: fields.home.unwrap_or(is_root),
        }
    }
}

/// The files a web server may answer a directory URL (`/`, `/news/`) with,
/// in the order common servers try them: nginx's and Apache's default
/// `index.html`, then the other usual index names of static and dynamic
/// sites. All count: which one a server is configured to answer is not in
/// the plan, so a change to any of them is taken as a change to the page.
pub const INDEX_FILES: &[&str] = &[
    "index.html",
    "index.htm",
    "index.shtml",
    "default.html",
    "default.htm",
    "index.php",
    "index.jsp",
    "default.aspx",
    "default.asp",
];

impl Page {
    /// The files, relative to the site's web root, that a web server may
    /// answer this page's URL with: the file a path names (`/about.html`
    /// → `about.html`); for a directory path (`/`, `/news/`) each of its
    /// [`INDEX_FILES`]; for a path that may be either (`/news`: no
    /// trailing slash, no extension) both. Percent-escapes are decoded to
    /// the bytes they stand for (a GBK-encoded path stays GBK bytes), the
    /// query is ignored, and `.` and `..` are resolved as a server does.
    /// Empty when the URL does not parse.
    pub fn web_root_files(&self) -> Vec<Vec<u8>> {
        let Ok(url) = url::Url::parse(&self.url) else {
            return Vec::new();
        };
        let decoded = percent_decode(url.path());
        let mut segments: Vec<&[u8]> = Vec::new();
        for segment in decoded.split(|byte| *byte == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => {
                    segments.pop();
                }
                other => segments.push(other),
            }
        }
        let path = segments.join(&b'/');
        let names_a_directory = decoded.ends_with(b"/") || segments.is_empty();
        let may_be_a_directory =
            names_a_directory || segments.last().is_some_and(|last| !last.contains(&b'.'));
        let mut files = Vec::new();
        if !names_a_directory {
            files.push(path.clone());
        }
        if may_be_a_directory {
            for index in INDEX_FILES {
                let mut file = path.clone();
                if !file.is_empty() {
                    file.push(b'/');
                }
                file.extend_from_slice(index.as_bytes());
                files.push(file);
            }
        }
        files
    }
}

/// `%XX` escapes to their bytes; a malformed escape is kept as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let hex = |byte: u8| (byte as char).to_digit(16).map(|digit| digit as u8);
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            decoded.push(high << 4 | low);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    decoded
}

/// A member of the contact roster (PLAN §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The person's name.
    pub name: String,
    /// The `id` of the person's unit in `units`.
    pub unit: String,
    /// The person's roles in the response; at least one.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// A phone that reaches the person at any hour.
    pub phone: String,
    /// The person's e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// The person's instant-messaging handles, for notifications.
    #[serde(default)]
    pub im: ImHandles,
}

/// A person's instant-messaging handles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImHandles {
    /// DingTalk (钉钉) user id or mobile number.
    pub dingtalk: Option<String>,
    /// WeCom (企业微信) user id.
    pub wecom: Option<String>,
    /// Feishu (飞书) user id, open id or e-mail.
    pub feishu: Option<String>,
}

/// A person's role in the response (PLAN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 组长: leads the leadership group; starts the plan.
    Leader,
    /// 副组长: deputy leader, from a business unit that owns sites.
    DeputyLeader,
    /// 办公室主任: directs the group's office, which executes the plan.
    OfficeDirector,
    /// 办公室成员: member of the office (one per unit and vendor).
    OfficeMember,
    /// 安全值班人员: watches the sites and acts first.
    DutyOfficer,
    /// 专家: technical expert added to the response.
    Expert,
}

impl Role {
    /// Every role, in the plan's order of seniority.
    pub const ALL: [Role; 6] = [
        Role::Leader,
        Role::DeputyLeader,
        Role::OfficeDirector,
        Role::OfficeMember,
        Role::DutyOfficer,
        Role::Expert,
    ];

    /// The plan's Chinese name of the role.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::Leader => "组长",
            Role::DeputyLeader => "副组长",
            Role::OfficeDirector => "办公室主任",
            Role::OfficeMember => "办公室成员",
            Role::DutyOfficer => "安全值班人员",
            Role::Expert => "专家",
        }
    }

    /// The role as spelled in the file ("duty_officer").
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::DeputyLeader => "deputy_leader",
            Role::OfficeDirector => "office_director",
            Role::OfficeMember => "office_member",
            Role::DutyOfficer => "duty_officer",
            Role::Expert => "expert",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name_zh())
    }
}

impl Site {
    /// The backend that cuts this site off: as configured, else the
    /// gateway when the site is behind it, else none.
    pub fn containment_backend(&self) -> crate::gateway::ContainmentBackend {
        match &self.containment {
            Some(containment) => containment.backend,
            None if !self.origins.is_empty() => crate::gateway::ContainmentBackend::Gateway,
            None => crate::gateway::ContainmentBackend::None,
        }
    }

    /// Every host name of the site: `hosts`, then the hosts of its pages'
    /// URLs, lower case, without repeats.
    pub fn host_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let from_pages = self.pages.iter().filter_map(|page| {
            url::Url::parse(&page.url)
                .ok()?
                .host_str()
                .map(str::to_string)
        });
        for name in self.hosts.iter().cloned().chain(from_pages) {
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

#[cfg(test)]
mod web_root_file_tests {
    use super::*;

    fn page(url: &str) -> Page {
        Page::from(PageFields {
            name: None,
            url: url.to_owned(),
            interval_seconds: None,
            volatile: Vec::new(),
            lexicon: Vec::new(),
            home: None,
        })
    }

    fn check(url: &str, expected: Vec<String>) {
        let files: Vec<String> = page(url)
            .web_root_files()
            .iter()
            .map(|file| String::from_utf8_lossy(file).into_owned())
            .collect();
        assert_eq!(files, expected, "{url}");
    }

    /// `dir`'s index files, after `before`.
    fn indexes(before: &[&str], dir: &str) -> Vec<String> {
        let mut files: Vec<String> = before.iter().map(|file| file.to_string()).collect();
        files.extend(INDEX_FILES.iter().map(|index| format!("{dir}{index}")));
        files
    }

    #[test]
    fn a_page_is_served_by_the_file_its_path_names_or_the_directory_index() {
        check("https://portal.example.gov.test/", indexes(&[], ""));
        check("https://portal.example.gov.test", indexes(&[], ""));
        check(
            "https://portal.example.gov.test/news/?page=2#top",
            indexes(&[], "news/"),
        );
        check(
            "https://portal.example.gov.test/about.html",
            vec!["about.html".into()],
        );
        check(
            "https://portal.example.gov.test/zwgk/./tzgg/../index.htm",
            vec!["zwgk/index.htm".into()],
        );
        check(
            "https://portal.example.gov.test/tzgg",
            indexes(&["tzgg"], "tzgg/"),
        );
        check(
            "https://portal.example.gov.test/%E9%80%9A%E7%9F%A5.html",
            vec!["通知.html".into()],
        );
    }

    #[test]
    fn escapes_decode_to_bytes_even_when_they_are_not_utf8() {
        assert_eq!(
            page("http://zfcg.example.gov.test/%CD%A8%D6%AA.htm").web_root_files(),
            vec![b"\xCD\xA8\xD6\xAA.htm".to_vec()]
        );
        assert_eq!(percent_decode("a%2"), b"a%2");
        assert_eq!(percent_decode("%zz%41"), b"%zzA");
    }
}
