//! The plan's response sections: how an incident is levelled, who is told
//! and when, who is on duty, what runs by itself and what waits for a
//! commander, and how messages leave (PLAN §3–§7, REGULATIONS.md).
//!
//! Like `model`, this module only describes shapes and defaults; `validate`
//! judges the values (unknown roles, channels, levels, people). The
//! incident engine (`sitewarden-incident`) turns these into clocks,
//! escalations and approval requests.

use crate::model::{Importance, Role};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The kind of incident, in the words the playbooks, level rules and
/// escalation chains use. The incident engine maps its signal kinds onto
/// these names one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// 网页篡改: visible content tampered with.
    Defacement,
    /// 暗链: hidden links (SEO spam) planted in a page.
    HiddenLinks,
    /// 网页后门: a web shell planted in a web root.
    WebShell,
    /// 拒绝服务攻击: a traffic flood (DDoS).
    Ddos,
    /// 网站不可访问: the site is down, cause not (yet) known.
    Unavailable,
    /// Anything else a person reports.
    Other,
}

impl IncidentKind {
    /// Every kind, most typical first.
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::Defacement,
        IncidentKind::HiddenLinks,
        IncidentKind::WebShell,
        IncidentKind::Ddos,
        IncidentKind::Unavailable,
        IncidentKind::Other,
    ];

    /// The kind as spelled in the file ("hidden_links").
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Defacement => "defacement",
            IncidentKind::HiddenLinks => "hidden_links",
            IncidentKind::WebShell => "web_shell",
            IncidentKind::Ddos => "ddos",
            IncidentKind::Unavailable => "unavailable",
            IncidentKind::Other => "other",
        }
    }

    /// The kind in the plan's language.
    pub fn name_zh(self) -> &'static str {
        match self {
            IncidentKind::Defacement => "网页篡改",
            IncidentKind::HiddenLinks => "网页暗链",
            IncidentKind::WebShell => "网页后门",
            IncidentKind::Ddos => "拒绝服务攻击",
            IncidentKind::Unavailable => "网站不可访问",
            IncidentKind::Other => "其他事件",
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of website a site is, in the national grading guide's terms:
/// the guide's indicators name the kinds of site they apply to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SiteTier {
    /// 省级以上党政机关门户网站: a party or government portal at provincial
    /// level or above.
    ProvincialGovernmentPortal,
    /// 地市级党政机关门户网站: a city-level party or government portal.
    CityGovernmentPortal,
    /// 中央重点新闻网站: a central key news site.
    CentralNewsSite,
    /// 其他重点新闻网站: another key news site (provincial).
    NewsSite,
    /// 企事业单位门户网站: a company's or public institution's portal.
    CompanyPortal,
    /// Any other website.
    #[default]
    Other,
}

impl SiteTier {
    /// Every tier, from the one the guide weighs most.
    pub const ALL: [SiteTier; 6] = [
        SiteTier::ProvincialGovernmentPortal,
        SiteTier::CityGovernmentPortal,
        SiteTier::CentralNewsSite,
        SiteTier::NewsSite,
        SiteTier::CompanyPortal,
        SiteTier::Other,
    ];

    /// The tier as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteTier::ProvincialGovernmentPortal => "provincial_government_portal",
            SiteTier::CityGovernmentPortal => "city_government_portal",
            SiteTier::CentralNewsSite => "central_news_site",
            SiteTier::NewsSite => "news_site",
            SiteTier::CompanyPortal => "company_portal",
            SiteTier::Other => "other",
        }
    }

    /// The guide's words for the tier.
    pub fn name_zh(self) -> &'static str {
        match self {
            SiteTier::ProvincialGovernmentPortal => "省级以上党政机关门户网站",
            SiteTier::CityGovernmentPortal => "地市级党政机关门户网站",
            SiteTier::CentralNewsSite => "中央重点新闻网站",
            SiteTier::NewsSite => "重点新闻网站",
            SiteTier::CompanyPortal => "企事业单位门户网站",
            SiteTier::Other => "其他网站",
        }
    }
}

/// What kind of network operator the organisation is, which sets its
/// national reporting window (国家网络安全事件报告管理办法 第四条).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OperatorType {
    /// 关键信息基础设施运营者: reports to its protection department and the
    /// police within 1 hour.
    CriticalInfrastructure,
    /// 中央和国家机关各部门及其直属单位: reports to its department's
    /// cyberspace-affairs body within 2 hours.
    CentralStateOrgan,
    /// 其他网络运营者: reports to the provincial cyberspace administration
    /// within 4 hours.
    #[default]
    Other,
}

impl OperatorType {
    /// The type as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorType::CriticalInfrastructure => "critical_infrastructure",
            OperatorType::CentralStateOrgan => "central_state_organ",
            OperatorType::Other => "other",
        }
    }

    /// Whom the national report goes to, in the measures' words.
    pub fn report_to_zh(self) -> &'static str {
        match self {
            OperatorType::CriticalInfrastructure => "保护工作部门、公安机关",
            OperatorType::CentralStateOrgan => "本部门网信工作机构",
            OperatorType::Other => "属地省级网信部门",
        }
    }
}

/// The national rules beside the plan (REGULATIONS.md): the operator type,
/// the reporting windows and the grading guide's website indicators. Every
/// number is editable; every indicator names its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Regulatory {
    /// What kind of operator the organisation is; a site may override it
    /// with its own `operator_type`.
    pub operator_type: OperatorType,
    /// The most serious level that does *not* need a national report is
    /// the one after this: incidents at this level or a more serious one
    /// are reported (较大 III and above).
    pub report_from_level: String,
    /// Minutes from discovery to the national report, by operator type.
    pub reporting_windows: ReportingWindows,
    /// The rule the windows come from.
    pub source: String,
    /// The grading guide's website indicators: the default rules of the
    /// suggested level. Listing any `[[regulatory.indicators]]` replaces
    /// the shipped set.
    pub indicators: Vec<Indicator>,
}

/// The national reporting windows (第四条), in minutes from discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportingWindows {
    /// Critical information infrastructure: 1 hour.
    pub critical_infrastructure_minutes: u32,
    /// Central and state organs and units directly under them: 2 hours.
    pub central_state_organ_minutes: u32,
    /// Every other operator: 4 hours.
    pub other_minutes: u32,
}

impl ReportingWindows {
    /// The window for `operator`, in minutes.
    pub fn minutes_for(&self, operator: OperatorType) -> u32 {
        match operator {
            OperatorType::CriticalInfrastructure => self.critical_infrastructure_minutes,
            OperatorType::CentralStateOrgan => self.central_state_organ_minutes,
            OperatorType::Other => self.other_minutes,
        }
    }
}

impl Default for ReportingWindows {
    fn default() -> Self {
        ReportingWindows {
            critical_infrastructure_minutes: 60,
            central_state_organ_minutes: 120,
            other_minutes: 240,
        }
    }
}

/// The measures that set the reporting windows.
pub const REPORTING_MEASURES_SOURCE: &str = "国家网络安全事件报告管理办法（国家互联网信息办公室，\
     2025年9月11日公布，2025年11月1日施行）第四条";

impl Default for Regulatory {
    fn default() -> Self {
        Regulatory {
            operator_type: OperatorType::Other,
            report_from_level: "III".to_owned(),
            reporting_windows: ReportingWindows::default(),
            source: REPORTING_MEASURES_SOURCE.to_owned(),
            indicators: default_indicators(),
        }
    }
}

/// What an indicator measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The site could not be reached (因攻击、故障，导致…不能访问).
    Unreachable,
    /// Tampered content showed on a home page (在主页上出现并持续).
    DefacedHomePage,
    /// Tampered content showed on another page (在其他页面出现并持续).
    DefacedOtherPage,
}

impl Measure {
    /// The measure as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Unreachable => "unreachable",
            Measure::DefacedHomePage => "defaced_home_page",
            Measure::DefacedOtherPage => "defaced_other_page",
        }
    }
}

/// One of the grading guide's website indicators: an incident on a site
/// of one of `tiers` whose `measure` lasted `minutes` or more is at least
/// of `level` (the guide's "以上" includes the number itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// The level id (in `levels`) the indicator points to.
    pub level: String,
    /// What is measured.
    pub measure: Measure,
    /// The threshold, in minutes (inclusive).
    pub minutes: u32,
    /// The kinds of site the indicator applies to.
    pub tiers: Vec<SiteTier>,
    /// Where the number comes from.
    pub source: String,
    /// Whether the number was checked against the official text. Reports
    /// mark reasons that rest on an unverified number.
    #[serde(default)]
    pub verified: bool,
}

/// The 2025 grading guide, as the source of the verified grade I numbers.
pub const GRADING_GUIDE_2025_SOURCE: &str = "网络安全事件分级指南（国家网络安全事件报告管理办法附件，\
     国家互联网信息办公室 2025年9月11日）";

/// The 2023 draft annex, as the source of the grade II and III numbers.
pub const GRADING_GUIDE_2023_DRAFT_SOURCE: &str = "网络安全事件分级指南（网络安全事件报告管理办法\
     （征求意见稿）附件，国家互联网信息办公室 2023年12月8日）";

/// The shipped indicators. Grade I is the 2025 guide's (verified); grades
/// II and III are the 2023 draft's numbers, not verified against the 2025
/// text, and marked so.
pub fn default_indicators() -> Vec<Indicator> {
    use Measure::*;
    use SiteTier::*;
    let indicator =
        |level: &str, measure, minutes, tiers: &[SiteTier], verified: bool, clause: &str| {
            Indicator {
                level: level.to_owned(),
                measure,
                minutes,
                tiers: tiers.to_vec(),
                source: if verified {
                    format!("{GRADING_GUIDE_2025_SOURCE} {clause}")
                } else {
                    format!(
                        "{GRADING_GUIDE_2023_DRAFT_SOURCE} {clause}；未与2025年正式文本核对 \
                         (not verified against the 2025 text)"
                    )
                },
                verified,
            }
        };
    let grade_one_sites = [ProvincialGovernmentPortal, CentralNewsSite];
    let grade_two_sites = [
        ProvincialGovernmentPortal,
        CityGovernmentPortal,
        CentralNewsSite,
        NewsSite,
    ];
    let grade_three_sites = [
        ProvincialGovernmentPortal,
        CityGovernmentPortal,
        CentralNewsSite,
        NewsSite,
        CompanyPortal,
    ];
    vec![
        indicator(
            "I",
            Unreachable,
            24 * 60,
            &grade_one_sites,
            true,
            "一、通常情况下第1条",
        ),
        indicator(
            "I",
            DefacedHomePage,
            6 * 60,
            &grade_one_sites,
            true,
            "一、通常情况下第6条(1)",
        ),
        indicator(
            "I",
            DefacedOtherPage,
            24 * 60,
            &grade_one_sites,
            true,
            "一、通常情况下第6条(1)",
        ),
        indicator(
            "II",
            Unreachable,
            6 * 60,
            &grade_two_sites,
            false,
            "二、通常情况下第1条",
        ),
        indicator(
            "II",
            DefacedHomePage,
            2 * 60,
            &grade_two_sites,
            false,
            "二、通常情况下第7条(1)",
        ),
        indicator(
            "II",
            DefacedOtherPage,
            12 * 60,
            &grade_two_sites,
            false,
            "二、通常情况下第7条(1)",
        ),
        indicator(
            "III",
            Unreachable,
            2 * 60,
            &grade_three_sites,
            false,
            "三、通常情况下第1条",
        ),
        indicator(
            "III",
            DefacedHomePage,
            30,
            &grade_three_sites,
            false,
            "三、通常情况下第7条(1)",
        ),
        indicator(
            "III",
            DefacedOtherPage,
            2 * 60,
            &grade_three_sites,
            false,
            "三、通常情况下第7条(1)",
        ),
    ]
}

/// One of the organisation's own rules for the suggested level, beside the
/// national indicators. Every condition given must hold; a condition left
/// out holds always. The most serious level any rule or indicator gives is
/// the suggestion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelRule {
    /// The level id (in `levels`) the rule suggests.
    pub level: String,
    /// Why, in words for the report; a description of the conditions when
    /// left out.
    #[serde(default)]
    pub reason: Option<String>,
    /// The incident kinds the rule applies to; any when empty.
    #[serde(default)]
    pub kinds: Vec<IncidentKind>,
    /// The site importances it applies to; any when empty.
    #[serde(default)]
    pub importance: Vec<Importance>,
    /// The site tiers it applies to; any when empty.
    #[serde(default)]
    pub tiers: Vec<SiteTier>,
    /// At least this many sites affected at once.
    #[serde(default)]
    pub min_sites: Option<u32>,
    /// The longest exposure (defaced or unreachable) at least this long.
    #[serde(default)]
    pub min_exposure_minutes: Option<u32>,
    /// True: only when a home page is affected; false: only when none is.
    #[serde(default)]
    pub home_page: Option<bool>,
}

/// Who is called, in what order, until someone acknowledges (PLAN §4, §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Escalation {
    /// The chains; an incident follows the first chain whose `kinds`
    /// include its kind, else the first chain with no `kinds`.
    pub chains: Vec<EscalationChain>,
    /// Roles told at once when a deadline (initial report, risk assessment,
    /// national report, daily or progress report) is missed.
    pub on_missed_deadline: Vec<Role>,
    /// Roles reminded `deadlines.reminder_minutes` before each deadline.
    pub remind: Vec<Role>,
}

impl Default for Escalation {
    fn default() -> Self {
        let step = |after_minutes, role, repeat, min_level: Option<&str>| EscalationStep {
            after_minutes,
            roles: vec![role],
            repeat,
            repeat_every_minutes: if repeat > 0 { 5 } else { 0 },
            min_level: min_level.map(str::to_owned),
            ..EscalationStep::default()
        };
        Escalation {
            chains: vec![EscalationChain {
                name: "default".to_owned(),
                kinds: Vec::new(),
                steps: vec![
                    step(0, Role::DutyOfficer, 2, None),
                    step(10, Role::OfficeDirector, 1, None),
                    step(20, Role::DeputyLeader, 0, None),
                    step(30, Role::Leader, 0, Some("II")),
                ],
            }],
            on_missed_deadline: vec![Role::OfficeDirector, Role::DeputyLeader],
            remind: vec![Role::DutyOfficer, Role::OfficeDirector],
        }
    }
}

/// One escalation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationChain {
    /// A name for reports and the timeline.
    pub name: String,
    /// The incident kinds this chain is for; every kind when empty.
    #[serde(default)]
    pub kinds: Vec<IncidentKind>,
    /// The steps, each timed from the incident's discovery.
    #[serde(default)]
    pub steps: Vec<EscalationStep>,
}

/// One step of a chain: tell the people of `roles`, or give a person the
/// task of calling each of `contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EscalationStep {
    /// Minutes from discovery to the step.
    pub after_minutes: u32,
    /// The roles told; for `duty_officer`, whoever the duty schedule has
    /// on duty comes first.
    pub roles: Vec<Role>,
    /// `external_contacts` ids: each becomes a call/fax task for a person
    /// (the contact's `assignee` role), never an automatic message.
    pub contacts: Vec<String>,
    /// How many times the step is repeated after the first time.
    pub repeat: u32,
    /// Minutes between repeats.
    pub repeat_every_minutes: u32,
    /// The step only runs when the incident's level (decided, or else
    /// suggested) is this one or more serious.
    pub min_level: Option<String>,
    /// Whether an acknowledgement stops the step. External reports are
    /// duties, not alarms: set false for them.
    pub stop_on_ack: bool,
    /// Channel ids for this step instead of the roles' `routing`.
    pub channels: Vec<String>,
}

impl Default for EscalationStep {
    fn default() -> Self {
        EscalationStep {
            after_minutes: 0,
            roles: Vec::new(),
            contacts: Vec::new(),
            repeat: 0,
            repeat_every_minutes: 0,
            min_level: None,
            stop_on_ack: true,
            channels: Vec::new(),
        }
    }
}

/// An authority outside the organisation that a person phones or faxes
/// (PLAN §6: 电话报告属地网信办，随后传真; §7: 公安网监 for level III+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalContact {
    /// Short id that escalation steps refer to.
    pub id: String,
    /// The authority's name.
    pub name: String,
    /// What the authority is.
    #[serde(default)]
    pub kind: ContactKind,
    /// The phone number to call.
    #[serde(default)]
    pub phone: Option<String>,
    /// The fax number that follows the call.
    #[serde(default)]
    pub fax: Option<String>,
    /// The role of the person who makes the call.
    #[serde(default = "default_assignee")]
    pub assignee: Role,
    /// Only contacted when the level is this one or more serious.
    #[serde(default)]
    pub min_level: Option<String>,
}

fn default_assignee() -> Role {
    Role::OfficeDirector
}

/// What an external contact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// 网信办: the regional cyberspace affairs office.
    CyberspaceOffice,
    /// 公安网监: the police's network security department.
    Police,
    /// 行业主管部门: a sector regulator or protection department.
    Regulator,
    /// Anyone else.
    #[default]
    Other,
}

/// Who is on duty when (PLAN §3: 安全值班人员). With no shifts, every
/// roster member with the `duty_officer` role is called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Duty {
    /// The shifts, in the organisation's time zone. Where shifts overlap,
    /// everyone on any of them is on duty; where none covers a time, every
    /// duty officer is.
    pub shifts: Vec<Shift>,
    /// Days that are not staffed by their weekday's shifts: public holidays
    /// staffed like a Sunday, make-up working days (调休) staffed like a
    /// weekday, and days with their own people (节假日值班表). Empty by
    /// default: every day follows its weekday.
    pub calendar: Vec<CalendarEntry>,
}

/// One entry of the duty calendar (`[[duty.calendar]]`): one day (`date`)
/// or a run of days (`from` … `to`, inclusive), staffed either as another
/// weekday (`like`) or by named people all day (`people`).
///
/// Entries may overlap when they agree: a `people` day inside a `like`
/// run takes the day (its people replace the shifts that start on it);
/// two entries giving one day different weekdays, or two naming its
/// people, contradict each other and are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEntry {
    /// The one day, "YYYY-MM-DD" (a TOML date such as `2026-10-01`
    /// unquoted is read the same). Give `date`, or `from` and `to`.
    #[serde(default, deserialize_with = "date_text")]
    pub date: Option<String>,
    /// The first day of a run, "YYYY-MM-DD".
    #[serde(default, deserialize_with = "date_text")]
    pub from: Option<String>,
    /// The last day of a run, "YYYY-MM-DD", inclusive.
    #[serde(default, deserialize_with = "date_text")]
    pub to: Option<String>,
    /// The weekday whose shifts start on these days instead of their own
    /// (a holiday: `sun`; a make-up working day: `mon`).
    #[serde(default)]
    pub like: Option<Weekday>,
    /// Roster names on duty from 00:00 to 24:00 local on each of these
    /// days, the first called first. They replace every shift that starts
    /// on the day; a shift that started the day before still ends normally.
    #[serde(default)]
    pub people: Option<Vec<String>>,
    /// What the day is (国庆节, 春节调休上班), for people reading the plan and
    /// for hand-over notes.
    #[serde(default)]
    pub note: Option<String>,
}

impl CalendarEntry {
    /// The first and last day the entry covers (inclusive): `date` twice,
    /// or `from` and `to`. `None` when the entry does not say its days
    /// unambiguously with real dates, in order (validation reports why).
    pub fn days(&self) -> Option<(CalendarDate, CalendarDate)> {
        match (&self.date, &self.from, &self.to) {
            (Some(date), None, None) => {
                let date = CalendarDate::parse(date)?;
                Some((date, date))
            }
            (None, Some(from), Some(to)) => {
                let (from, to) = (CalendarDate::parse(from)?, CalendarDate::parse(to)?);
                (from <= to).then_some((from, to))
            }
            _ => None,
        }
    }
}

/// A day of the civil calendar as the plan writes it, "YYYY-MM-DD". Ordered
/// by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarDate {
    /// The year, 0000–9999.
    pub year: i16,
    /// The month, 1–12.
    pub month: i8,
    /// The day of the month, from 1.
    pub day: i8,
}

impl CalendarDate {
    /// Reads "YYYY-MM-DD": four, two and two ASCII digits, a month that
    /// exists and a day that exists in it (29 February only in leap years).
    /// The one reading of a date that validation and the engine share.
    pub fn parse(text: &str) -> Option<CalendarDate> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i16> {
            let part = &text[range];
            part.bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let year = number(0..4)?;
        let month = i8::try_from(number(5..7)?).ok()?;
        let day = i8::try_from(number(8..10)?).ok()?;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(CalendarDate { year, month, day })
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Reads a calendar date written as a string (`"2026-10-01"`) or as a TOML
/// local date (`2026-10-01`, unquoted), keeping its text: whether the text
/// is a date is `validate`'s judgement, reported with the other problems.
fn date_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct DateText;

    impl<'de> Visitor<'de> for DateText {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date \"YYYY-MM-DD\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            // toml hands its date-time values over as a one-key map.
            let datetime = toml::value::Datetime::deserialize(MapAccessDeserializer::new(map))?;
            Ok(datetime.to_string())
        }
    }

    deserializer.deserialize_any(DateText).map(Some)
}

/// One recurring shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// A name for hand-over notes ("weekday day").
    pub name: String,
    /// The days the shift starts on; every day when empty.
    #[serde(default)]
    pub days: Vec<Weekday>,
    /// Local start time, "HH:MM".
    pub start: String,
    /// Local end time, "HH:MM"; earlier than `start` means the next day.
    pub end: String,
    /// Roster names, the first called first.
    pub people: Vec<String>,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// The day as spelled in the file ("sun").
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// Monday = 1 … Sunday = 7.
    pub fn number_from_monday(self) -> u8 {
        match self {
            Weekday::Mon => 1,
            Weekday::Tue => 2,
            Weekday::Wed => 3,
            Weekday::Thu => 4,
            Weekday::Fri => 5,
            Weekday::Sat => 6,
            Weekday::Sun => 7,
        }
    }
}

/// What to do for one kind of incident (PLAN §5, §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playbook {
    /// The incident kind.
    pub kind: IncidentKind,
    /// The roles who may approve this playbook's `approval` steps.
    #[serde(default)]
    pub approvers: Vec<Role>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<PlaybookStep>,
}

/// One step of a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookStep {
    /// What the step does.
    pub action: PlaybookAction,
    /// Whether it runs by itself, waits for approval, or is a person's task.
    pub mode: StepMode,
    /// Who may approve this step, instead of the playbook's `approvers`.
    #[serde(default)]
    pub approvers: Vec<Role>,
    /// A note for the people doing it.
    #[serde(default)]
    pub note: Option<String>,
}

/// How a playbook step is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    /// sitewarden does it at once.
    Automatic,
    /// It waits for a commander's instruction (先报告，听指令).
    Approval,
    /// A person's task; tracked, not approved.
    Manual,
}

/// The actions a playbook can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaybookAction {
    /// Cut the site off from external service (立即切断网站对外服务网络).
    Contain,
    /// Keep the scene and the attack traces (保护现场和攻击痕迹).
    PreserveEvidence,
    /// Block the offending addresses.
    BlockOffenders,
    /// Notify the people of the escalation chain.
    Notify,
    /// Put back the backed-up pages (恢复网页).
    RestorePages,
    /// Take out a planted web shell.
    RemoveWebShell,
    /// Reopen the site to the public.
    ReopenSite,
    /// Report upward (to the group, then the cyberspace office).
    ReportUpward,
    /// Analyse the web server and security device logs (PLAN §7.2).
    AnalyseLogs,
    /// Fix the vulnerable code, rescan, tighten the WAF (PLAN §7.3).
    FixAndRescan,
    /// Ask the police to trace the source (PLAN §7.4, level III+).
    AskPolice,
    /// Ask the network operator to clean or block the traffic.
    AskOperator,
}

impl PlaybookAction {
    /// The action as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaybookAction::Contain => "contain",
            PlaybookAction::PreserveEvidence => "preserve_evidence",
            PlaybookAction::BlockOffenders => "block_offenders",
            PlaybookAction::Notify => "notify",
            PlaybookAction::RestorePages => "restore_pages",
            PlaybookAction::RemoveWebShell => "remove_web_shell",
            PlaybookAction::ReopenSite => "reopen_site",
            PlaybookAction::ReportUpward => "report_upward",
            PlaybookAction::AnalyseLogs => "analyse_logs",
            PlaybookAction::FixAndRescan => "fix_and_rescan",
            PlaybookAction::AskPolice => "ask_police",
            PlaybookAction::AskOperator => "ask_operator",
        }
    }

    /// The action in the plan's words (PLAN §5, §7).
    pub fn name_zh(self) -> &'static str {
        match self {
            PlaybookAction::Contain => "切断网站对外服务",
            PlaybookAction::PreserveEvidence => "保护现场、固定证据",
            PlaybookAction::BlockOffenders => "封禁攻击来源",
            PlaybookAction::Notify => "通知相关人员",
            PlaybookAction::RestorePages => "恢复被篡改网页",
            PlaybookAction::RemoveWebShell => "清除网页后门",
            PlaybookAction::ReopenSite => "恢复网站对外服务",
            PlaybookAction::ReportUpward => "向上级报告",
            PlaybookAction::AnalyseLogs => "分析网站和安全设备日志",
            PlaybookAction::FixAndRescan => "修复漏洞并复查",
            PlaybookAction::AskPolice => "报请公安机关侦查",
            PlaybookAction::AskOperator => "请网络运营商协助",
        }
    }
}

/// The playbooks of PLAN §5 and §7, one per kind.
pub fn default_playbooks() -> Vec<Playbook> {
    use PlaybookAction::*;
    use StepMode::*;
    let step = |action, mode| PlaybookStep {
        action,
        mode,
        approvers: Vec::new(),
        note: None,
    };
    let commanders = vec![Role::Leader, Role::DeputyLeader];
    let tampering = |kind| Playbook {
        kind,
        approvers: commanders.clone(),
        steps: vec![
            step(PreserveEvidence, Automatic),
            step(Contain, Automatic),
            step(Notify, Automatic),
            step(AnalyseLogs, Manual),
            step(RestorePages, Approval),
            step(FixAndRescan, Manual),
            step(ReopenSite, Approval),
            step(ReportUpward, Approval),
        ],
    };
    vec![
        tampering(IncidentKind::Defacement),
        tampering(IncidentKind::HiddenLinks),
        Playbook {
            kind: IncidentKind::WebShell,
            approvers: commanders.clone(),
            steps: vec![
                step(PreserveEvidence, Automatic),
                step(Contain, Automatic),
                step(Notify, Automatic),
                step(AnalyseLogs, Manual),
                step(RemoveWebShell, Approval),
                step(FixAndRescan, Manual),
                step(ReopenSite, Approval),
                step(ReportUpward, Approval),
            ],
        },
        Playbook {
            kind: IncidentKind::Ddos,
            approvers: commanders.clone(),
            steps: vec![
                step(PreserveEvidence, Automatic),
                step(BlockOffenders, Automatic),
                step(Notify, Automatic),
                step(AskOperator, Manual),
                step(AnalyseLogs, Manual),
                step(ReportUpward, Approval),
            ],
        },
        Playbook {
            kind: IncidentKind::Unavailable,
            approvers: commanders.clone(),
            steps: vec![
                step(PreserveEvidence, Automatic),
                step(Notify, Automatic),
                step(AnalyseLogs, Manual),
                step(ReportUpward, Approval),
            ],
        },
        Playbook {
            kind: IncidentKind::Other,
            approvers: commanders,
            steps: vec![
                step(Notify, Automatic),
                step(AnalyseLogs, Manual),
                step(ReportUpward, Approval),
            ],
        },
    ]
}

/// The shipped playbook for `kind` (see [`default_playbooks`]).
pub fn shipped_playbook(kind: IncidentKind) -> &'static Playbook {
    static SHIPPED: std::sync::OnceLock<Vec<Playbook>> = std::sync::OnceLock::new();
    let shipped = SHIPPED.get_or_init(default_playbooks);
    // Every kind has a shipped playbook (a test checks it); the first is a
    // fallback that is never used, so a lookup cannot panic.
    shipped
        .iter()
        .find(|playbook| playbook.kind == kind)
        .unwrap_or(&shipped[0])
}

/// One notification channel (config only: the notify crate sends). A flat
/// table with a `type`, so that a key that does not belong to the type is
/// reported by name rather than silently ignored. Secrets may be given
/// inline or, better, as the name of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Short id that `routing` and escalation steps refer to.
    pub id: String,
    /// What kind of channel.
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// webhook, dingtalk, wecom, feishu, sms: the URL posted to.
    #[serde(default)]
    pub url: Option<String>,
    /// email: the SMTP server's host name.
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// email: the SMTP port; by default 465 for `tls`, 587 for `starttls`
    /// and 25 for `none`.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// email: transport security, "starttls" (default), "tls" or "none".
    #[serde(default)]
    pub security: Option<SmtpSecurity>,
    /// email: the SMTP login.
    #[serde(default)]
    pub username: Option<String>,
    /// email: the SMTP password (prefer `password_env`).
    #[serde(default)]
    pub password: Option<String>,
    /// email: the environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// email: the From address.
    #[serde(default)]
    pub from: Option<String>,
    /// webhook (HMAC-SHA256), dingtalk (加签), feishu: the signing secret
    /// (prefer `secret_env`).
    #[serde(default)]
    pub secret: Option<String>,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// sms: the gateway's bearer token (prefer `token_env`).
    #[serde(default)]
    pub token: Option<String>,
    /// sms: the environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// sms: the JSON field for the phone number ("phone" when left out).
    #[serde(default)]
    pub phone_field: Option<String>,
    /// sms: the JSON field for the text ("text" when left out).
    #[serde(default)]
    pub text_field: Option<String>,
    /// All types: the least time between two messages on this channel, in
    /// milliseconds; 0 sends as fast as the channel answers. Left out: 3000
    /// for the dingtalk, wecom and feishu robots (about 20 messages a
    /// minute, their rate limit), 0 for the others. A paced channel never
    /// holds back the others.
    #[serde(default)]
    pub min_interval_ms: Option<u64>,
}

/// The kinds of notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// E-mail over SMTP.
    Email,
    /// A JSON webhook signed with HMAC-SHA256.
    Webhook,
    /// A DingTalk group robot (钉钉机器人).
    Dingtalk,
    /// A WeCom group robot (企业微信机器人).
    Wecom,
    /// A Feishu group robot (飞书机器人).
    Feishu,
    /// SMS through an HTTP gateway.
    Sms,
}

impl ChannelKind {
    /// The type as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Wecom => "wecom",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Sms => "sms",
        }
    }
}

/// How an e-mail channel reaches its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: a relay on the same host, or tests.
    None,
}

/// `[correlation]`: when signals on several sites are one incident.
/// Absent: the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Correlation {
    /// A signal on a site with no open incident joins the latest open
    /// incident of another site of the same kind (defacement and hidden
    /// links count as one) discovered at most this many minutes before:
    /// one attack on several sites is one incident, whose level rules
    /// count its sites (`min_sites`) and whose playbook cuts off each.
    /// 0: every site's incidents are its own.
    pub window_minutes: u32,
}

impl Default for Correlation {
    fn default() -> Self {
        Correlation { window_minutes: 60 }
    }
}

/// Longest accepted `correlation.window_minutes`: a day. Two attacks a
/// day apart are two incidents, whatever their kind.
pub const MAX_CORRELATION_MINUTES: u32 = 24 * 60;

/// `[notifications]`: how the messages read. Absent: the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notifications {
    /// The language of the messages: "zh-CN" (default, the plan's
    /// language), "en", or "both" (Chinese first, then English).
    pub language: MessageLanguage,
}

/// The language messages are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageLanguage {
    /// Simplified Chinese only (the default).
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English only.
    #[serde(rename = "en")]
    En,
    /// Chinese first, then English, in the same message.
    #[serde(rename = "both")]
    Both,
}

impl MessageLanguage {
    /// The value as spelled in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageLanguage::ZhCn => "zh-CN",
            MessageLanguage::En => "en",
            MessageLanguage::Both => "both",
        }
    }

    /// Whether messages carry the Chinese text.
    pub fn chinese(self) -> bool {
        matches!(self, MessageLanguage::ZhCn | MessageLanguage::Both)
    }

    /// Whether messages carry the English text.
    pub fn english(self) -> bool {
        matches!(self, MessageLanguage::En | MessageLanguage::Both)
    }
}

/// Per-role routing: a role name (or `default`) → the channel ids its
/// people are told through, in order of preference.
pub type Routing = BTreeMap<String, Vec<String>>;

/// The routing key that applies to roles with no entry of their own.
pub const DEFAULT_ROUTE: &str = "default";
