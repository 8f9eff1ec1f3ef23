//! What `sitewarden check-plan` reports: plan files in, the full list of
//! problems (or none) out, through the public API only.

use sitewarden_plan::{
    CalendarDate, Importance, IncidentKind, Measure, OperatorType, Plan, PlanErrors, Role,
    SiteTier, Weekday, default_levels,
};
use std::time::Duration;

/// Loads `input` and compares every reported problem, in order, with
/// `expected`; an empty `expected` means the plan must load.
fn check(input: &str, expected: &[&str]) {
    let actual: Vec<String> = match Plan::from_toml_str(input) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(actual, expected, "problems reported for:\n{input}");
}

fn load(input: &str) -> Plan {
    Plan::from_toml_str(input).unwrap_or_else(|errors| panic!("plan does not load:\n{errors}"))
}

const MINIMAL: &str = r##"
[organisation]
name = "示例单位"

[[sites]]
name = "portal"

[[sites.pages]]
url = "https://portal.example.gov.test/"
"##;

#[test]
fn minimal_plan_loads_with_the_plans_defaults() {
    let plan = load(MINIMAL);
    assert_eq!(plan.organisation.name, "示例单位");
    assert_eq!(plan.organisation.timezone, "Asia/Shanghai");
    assert_eq!(plan.deadlines.initial_report_minutes, 30);
    assert_eq!(plan.deadlines.risk_assessment_minutes, 60);
    assert_eq!(plan.deadlines.daily_report_time, "17:00");
    assert!(plan.deadlines.progress_report_on_change);
    assert_eq!(plan.levels, default_levels());
    let level_names: Vec<(&str, &str)> = plan
        .levels
        .iter()
        .map(|level| (level.id.as_str(), level.name_zh.as_str()))
        .collect();
    assert_eq!(
        level_names,
        [
            ("I", "特别重大"),
            ("II", "重大"),
            ("III", "较大"),
            ("IV", "一般")
        ]
    );
    assert_eq!(plan.probe.interval_seconds, 60);
    assert_eq!(plan.probe.timeout_seconds, 10);
    assert_eq!(plan.probe.max_body_bytes, 5 * 1024 * 1024);
    assert_eq!(plan.probe.concurrency, 64);
    assert_eq!(plan.probe.down_after_failures, 2);
    assert_eq!(plan.probe.max_redirects, 5);
    let crawlers: Vec<&str> = plan
        .probe
        .crawlers
        .iter()
        .map(|crawler| crawler.name.as_str())
        .collect();
    assert_eq!(crawlers, ["Baiduspider", "Googlebot"]);
    assert!(plan.probe.browser_user_agent.contains("Chrome/"));
    assert!(plan.probe.resolve.is_empty() && plan.units.is_empty() && plan.roster.is_empty());

    let site = plan.site("portal").expect("the site");
    assert_eq!(site.title, "portal", "title defaults to the name");
    assert_eq!(site.importance, Importance::General);
    let (_, page) = plan.pages().next().expect("the page");
    assert_eq!(page.name, "home");
    assert!(page.home);
    assert_eq!(plan.page_interval(page), Duration::from_secs(60));
    assert!(plan.site("zfcg").is_none());
}

#[test]
fn page_defaults_follow_the_url() {
    let plan = load(
        r##"
        [organisation]
        name = "x"
        [probe]
        interval_seconds = 30
        [[sites]]
        name = "a"
        pages = [
            { url = "https://a.test" },
            { url = "https://a.test/tzgg/index.html", interval_seconds = 300 },
            { url = "https://a.test/en/", home = true, name = "home-en" },
            { url = "https://a.test/", home = false, name = "root" },
        ]
        "##,
    );
    let pages: Vec<(&str, bool, Duration)> = plan
        .pages()
        .map(|(_, page)| (page.name.as_str(), page.home, plan.page_interval(page)))
        .collect();
    assert_eq!(
        pages,
        [
            ("home", true, Duration::from_secs(30)),
            ("/tzgg/index.html", false, Duration::from_secs(300)),
            ("home-en", true, Duration::from_secs(30)),
            ("root", false, Duration::from_secs(30)),
        ]
    );
}

#[test]
fn importance_accepts_chinese_and_english_and_writes_chinese() {
    for (spelling, expected) in [
        ("特别重要", Importance::Critical),
        ("critical", Importance::Critical),
        ("重要", Importance::Important),
        ("important", Importance::Important),
        ("一般", Importance::General),
        ("general", Importance::General),
    ] {
        let text = MINIMAL.replace(
            "name = \"portal\"",
            &format!("name = \"portal\"\nimportance = \"{spelling}\""),
        );
        let plan = load(&text);
        assert_eq!(
            plan.sites[0].importance, expected,
            "importance = {spelling:?}"
        );
    }
    assert_eq!(Importance::Critical.to_string(), "特别重要");
    assert_eq!(Importance::Important.name_en(), "important");
    assert_eq!(
        serde_json::to_string(&Importance::General).unwrap(),
        "\"一般\""
    );
    check(
        &MINIMAL.replace(
            "name = \"portal\"",
            "name = \"portal\"\nimportance = \"Critical\"",
        ),
        &[
            "sites[0].importance: unknown variant `Critical`, expected one of `critical`, `特别重要`, \
           `important`, `重要`, `general`, `一般` (line 7)",
        ],
    );
}

#[test]
fn roles_are_snake_case_with_chinese_names() {
    let names: Vec<(&str, &str)> = Role::ALL
        .iter()
        .map(|role| (role.as_str(), role.name_zh()))
        .collect();
    assert_eq!(
        names,
        [
            ("leader", "组长"),
            ("deputy_leader", "副组长"),
            ("office_director", "办公室主任"),
            ("office_member", "办公室成员"),
            ("duty_officer", "安全值班人员"),
            ("expert", "专家"),
        ]
    );
    for role in Role::ALL {
        assert_eq!(
            serde_json::to_string(&role).unwrap(),
            format!("\"{}\"", role.as_str())
        );
    }
}

#[test]
fn syntax_errors_are_one_error_with_line_and_column() {
    check(
        "[organisation]\nname = \"x\"\n\n[[sites]]\nname = \"门户 = \n",
        &["5:14: TOML syntax error: invalid basic string, expected `\"`"],
    );
    check(
        "[organisation]\nname = \"x\"\nname = \"y\"\n",
        &["3:1: TOML syntax error: duplicate key"],
    );
    check(
        "[organisation\n",
        &["1:14: TOML syntax error: unclosed table, expected `]`"],
    );
}

#[test]
fn structural_problems_are_reported_by_section() {
    check(
        "",
        &[
            "organisation: missing: the plan needs an [organisation] table with at least name = \"…\"",
            "sites: at least one site is required ([[sites]])",
        ],
    );
    check(
        "sites = 5\nunits = \"x\"\nlevels = []\norganisation = \"x\"\n",
        &[
            "sites: expected an array of tables, written [[sites]] (line 1)",
            "units: expected an array of tables, written [[units]] (line 2)",
            "levels: at least one level is required (line 3)",
            "organisation: invalid type: string \"x\", expected struct Organisation (line 4)",
        ],
    );
    check(
        r##"
[organisation]
name = " "
timezone = "+08:00"
[[sites]]
name = "a"
[[sites]]
name = "b"
pages = []
[[sites]]
name = "c"
pages = { url = "https://c.test/" }
"##,
        &[
            "organisation.name: must not be empty (line 3)",
            "organisation.timezone: \"+08:00\" is not an IANA time zone name such as \"Asia/Shanghai\" or \"UTC\" (line 4)",
            "sites[0].pages: at least one page is required ([[sites.pages]]) (line 5)",
            "sites[1].pages: at least one page is required ([[sites.pages]]) (line 9)",
            "sites[2].pages: expected an array of tables, written [[sites.pages]] (line 12)",
        ],
    );
}

#[test]
fn every_mistake_across_sites_pages_and_roster_is_reported_with_its_path() {
    check(
        r##"
[organisation]
name = "示例单位"

[deadlines]
initial_report_minutes = 0
risk_assessment_minutes = 60
daily_report_time = "5pm"

[probe]
interval_seconds = 90000
timeout_seconds = 0
concurrency = 0
max_body_bytes = 100
resolve = { "portal.example.gov.test" = "127.0.0.300" }

[[levels]]
id = "I"
name_zh = "特别重大"
name_en = "Especially serious"
description = "..."
[[levels]]
id = "I"
name_zh = "重大"
name_en = "Serious"
description = "..."

[[units]]
id = "office"
name = "办公室"
[[units]]
id = "it"
name = "信息中心"

[[sites]]
name = "Portal"
title = "门户"
importance = "特别重要"
[sites.units]
owner = "office"
hosting = "idc"
[[sites.pages]]
name = "home"
url = "portal.example.gov.test/"
volatile = ["#visit-count", "div[", ".date"]
[[sites.pages]]
name = "home"
url = "ftp://portal.example.gov.test/notices"
interval_seconds = 0

[[sites]]
name = "zfcg"
[[sites.pages]]
url = "https://zfcg.example.gov.test/"
lexicon = ["", "博彩"]

[[sites]]
name = "zfcg"
trusted_domains = ["https://cdn.example.test"]
[[sites.pages]]
url = "https://exa mple.test/"

[[roster]]
name = "王小明"
unit = "office"
roles = ["leader"]
phone = ""
email = "wangxiaoming"

[[roster]]
name = "李华"
unit = "vendor"
phone = "138-0000-0002"
"##,
        &[
            "deadlines.initial_report_minutes: must be at least 1 minute (line 6)",
            "deadlines.daily_report_time: \"5pm\" is not a 24-hour time \"HH:MM\" such as \"17:00\" (line 8)",
            "probe.interval_seconds: must be between 1 and 86400 seconds (one day), not 90000 (line 11)",
            "probe.timeout_seconds: must be at least 1 second (line 12)",
            "probe.concurrency: must be at least 1 (line 13)",
            "probe.max_body_bytes: must be between 1024 (1 KiB) and 1073741824 (1 GiB), not 100 (line 14)",
            "probe.resolve.\"portal.example.gov.test\": \"127.0.0.300\" is not an IP address (line 15)",
            // The two levels are both "I": the shipped deadlines, national
            // indicators and escalation name II and III.
            "levels: the shipped defaults name levels \"II\", \"III\" that [[levels]] does not \
             define: define them, or set deadlines.serious_levels, regulatory.report_from_level, \
             [[regulatory.indicators]] and the escalation steps' min_level to your own ids (line 17)",
            "levels[1].id: duplicate level id \"I\" (also levels[0]) (line 23)",
            "sites[0].name: \"Portal\" is not a valid site name: use lower-case letters, digits and \"-\", \
             starting with a letter or digit (line 36)",
            "sites[0].units.hosting: unknown unit \"idc\"; known units: office, it (line 41)",
            "sites[0].pages[0].url: not an absolute http(s) URL: \"portal.example.gov.test/\" (line 44)",
            "sites[0].pages[0].volatile[1]: invalid CSS selector \"div[\": Unexpected EOL (line 45)",
            "sites[0].pages[1].name: duplicate page name \"home\" in this site (also pages[0]); \
             give each page its own name = \"…\" (line 47)",
            "sites[0].pages[1].url: not an absolute http(s) URL: \"ftp://portal.example.gov.test/notices\" (line 48)",
            "sites[0].pages[1].interval_seconds: must be between 1 and 86400 seconds (one day), not 0 (line 49)",
            "sites[1].pages[0].lexicon[0]: must not be empty (line 55)",
            "sites[2].name: duplicate site name \"zfcg\" (also sites[1]) (line 58)",
            "sites[2].trusted_domains[0]: \"https://cdn.example.test\" is not a domain name such as \
             \"example.gov.cn\" (no scheme, port or path) (line 59)",
            "sites[2].pages[0].url: not an absolute http(s) URL: \"https://exa mple.test/\" (line 61)",
            "roster[0].phone: must not be empty (line 67)",
            "roster[0].email: \"wangxiaoming\" is not an e-mail address (line 68)",
            "roster[1].roles: at least one role is required (leader, deputy_leader, office_director, \
             office_member, duty_officer, expert) (line 70)",
            "roster[1].unit: unknown unit \"vendor\"; known units: office, it (line 72)",
        ],
    );
}

#[test]
fn unknown_keys_are_all_reported_at_every_depth() {
    check(
        r##"
colour = "red"
[organisation]
name = "x"
nmae = "y"
[deadlines]
daily_report = "17:00"
[probe]
intervall_seconds = 5
[[probe.crawlers]]
name = "Bingbot"
user_agent = "Mozilla/5.0 (compatible; bingbot/2.0)"
ua = "x"
[[units]]
id = "it"
name = "IT"
kind = "hosting"
fax = "1"
[[sites]]
name = "a"
pagez = []
units = { hosting = "it", backup = "it" }
[[sites.pages]]
url = "https://a.test/"
volatile_selectors = ["#x"]
[[sites.pages]]
url = "https://a.test/b"
[sites.pages.extra]
deep = 1
[[roster]]
name = "n"
unit = "it"
roles = ["duty_officer"]
phone = "1"
im = { dingtalk = "d", wechat = "w" }
"##,
        &[
            "colour: unknown key (line 2)",
            "organisation.nmae: unknown key (line 5)",
            "deadlines.daily_report: unknown key (line 7)",
            "probe.intervall_seconds: unknown key (line 9)",
            "probe.crawlers[0].ua: unknown key (line 13)",
            "units[0].fax: unknown key (line 18)",
            "sites[0].pagez: unknown key (line 21)",
            "sites[0].units.backup: unknown key (line 22)",
            "sites[0].pages[0].volatile_selectors: unknown key (line 25)",
            "sites[0].pages[1].extra: unknown key (line 28)",
            "roster[0].im.wechat: unknown key (line 35)",
        ],
    );
}

#[test]
fn a_type_error_in_one_site_does_not_hide_errors_in_another() {
    check(
        r##"
[organisation]
name = "x"
[[units]]
id = "it"
name = "IT"
[[sites]]
name = "a"
importance = "very"
units = { hosting = 5 }
[[sites.pages]]
url = 42
volatile = "#x"
[[sites.pages]]
url = "https://a.test/"
interval_seconds = "sixty"
[[sites]]
name = "b"
units = { owner = "nobody" }
[[sites.pages]]
url = "/relative"
"##,
        &[
            "sites[0].importance: unknown variant `very`, expected one of `critical`, `特别重要`, \
             `important`, `重要`, `general`, `一般` (line 9)",
            "sites[0].units.hosting: invalid type: integer `5`, expected a string (line 10)",
            "sites[0].pages[0].url: invalid type: integer `42`, expected a string (line 12)",
            "sites[0].pages[0].volatile: invalid type: string \"#x\", expected a sequence (line 13)",
            "sites[0].pages[1].interval_seconds: invalid type: string \"sixty\", expected u32 (line 16)",
            "sites[1].units.owner: unknown unit \"nobody\"; known units: it (line 19)",
            "sites[1].pages[0].url: not an absolute http(s) URL: \"/relative\" (line 21)",
        ],
    );
}

#[test]
fn missing_required_keys_are_all_named_and_the_rest_still_checked() {
    check(
        r##"
[organisation]
name_en = "x"
[[units]]
name = "no id"
[[sites]]
title = "no name"
[[sites.pages]]
name = "no url"
volatile = ["div["]
[[roster]]
roles = ["expert"]
email = "not-an-address"
[[lexicons]]
category = "no terms"
[[probe.crawlers]]
user_agent = 5
"##,
        &[
            "organisation.name: missing required key (line 2)",
            "units[0].id: missing required key (line 4)",
            "sites[0].name: missing required key (line 6)",
            "sites[0].pages[0].url: missing required key (line 8)",
            "sites[0].pages[0].volatile[0]: invalid CSS selector \"div[\": Unexpected EOL (line 10)",
            "roster[0].name: missing required key (line 11)",
            "roster[0].unit: missing required key (line 11)",
            "roster[0].phone: missing required key (line 11)",
            "roster[0].email: \"not-an-address\" is not an e-mail address (line 13)",
            "lexicons[0].terms: missing required key (line 14)",
            "probe.crawlers[0].name: missing required key (line 16)",
            "probe.crawlers[0].user_agent: invalid type: integer `5`, expected a string (line 17)",
        ],
    );
}

#[test]
fn references_to_a_unit_that_failed_to_load_are_not_reported_twice() {
    check(
        r##"
[organisation]
name = "x"
[[units]]
id = "it"
name = "IT"
kind = "datacentre"
[[sites]]
name = "a"
units = { hosting = "it" }
[[sites.pages]]
url = "https://a.test/"
"##,
        &[
            "units[0].kind: unknown variant `datacentre`, expected one of `owner`, `developer`, \
           `operator`, `hosting`, `security`, `authority`, `other` (line 7)",
        ],
    );
}

#[test]
fn errors_display_one_per_line_and_load_names_the_file() {
    let errors: PlanErrors = Plan::from_toml_str("x = 1\ny = 2\n[organisation]\nname = \"o\"\n")
        .expect_err("unknown keys and no site");
    assert_eq!(
        errors.to_string(),
        "x: unknown key (line 1)\ny: unknown key (line 2)\nsites: at least one site is required ([[sites]])"
    );

    let directory =
        std::env::temp_dir().join(format!("sitewarden-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("sitewarden.toml");
    std::fs::write(&file, "x = 1\n[organisation]\nname = \"o\"\n").unwrap();
    let invalid = Plan::load(&file).expect_err("invalid plan").to_string();
    std::fs::write(&file, MINIMAL).unwrap();
    let loaded = Plan::load(&file).map(|plan| plan.sites.len());
    std::fs::remove_dir_all(&directory).unwrap();
    let missing = Plan::load(&file).expect_err("no such file").to_string();

    let shown = file.display();
    assert_eq!(
        invalid,
        format!(
            "{shown}: x: unknown key (line 1)\n{shown}: sites: at least one site is required ([[sites]])"
        )
    );
    assert_eq!(loaded.ok(), Some(1));
    assert!(
        missing.starts_with(&format!("cannot read plan {shown}: ")),
        "{missing}"
    );
}

#[test]
fn a_plan_survives_a_round_trip_through_toml() {
    let plan = load(&sitewarden_plan::sample_plan());
    let text = toml::to_string(&plan).expect("serializes");
    assert!(text.contains("importance = \"特别重要\""), "{text}");
    let again = load(&text);
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        serde_json::to_value(&again).unwrap()
    );
}

#[test]
fn validate_checks_plans_built_in_code() {
    let mut plan = load(MINIMAL);
    assert_eq!(plan.validate(), Ok(()));
    plan.sites[0].pages[0].url = "not a url".into();
    plan.probe.concurrency = 0;
    let errors: Vec<String> = plan
        .validate()
        .expect_err("two problems")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "probe.concurrency: must be at least 1",
            "sites[0].pages[0].url: not an absolute http(s) URL: \"not a url\"",
        ]
    );
}

#[test]
fn deeply_nested_input_is_refused_without_crashing() {
    // Bad input never panics: a hostile file nests arrays or dotted keys
    // far deeper than any plan.
    let arrays = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Plan::from_toml_str(&arrays).is_err());
    let dotted = format!("{} = 1\n", vec!["k"; 100_000].join("."));
    assert!(Plan::from_toml_str(&dotted).is_err());
    let headers = format!("[{}]\n", vec!["k"; 100_000].join("."));
    assert!(Plan::from_toml_str(&headers).is_err());
}

#[test]
fn response_sections_default_to_the_plan_and_the_national_rules() {
    let plan = load(MINIMAL);
    assert_eq!(plan.deadlines.reminder_minutes, 5);
    assert_eq!(plan.deadlines.progress_report_minutes, 30);
    assert_eq!(plan.deadlines.serious_levels, ["I", "II"]);
    let regulatory = &plan.regulatory;
    assert_eq!(regulatory.operator_type, OperatorType::Other);
    assert_eq!(regulatory.report_from_level, "III");
    let windows = &regulatory.reporting_windows;
    assert_eq!(
        [
            windows.minutes_for(OperatorType::CriticalInfrastructure),
            windows.minutes_for(OperatorType::CentralStateOrgan),
            windows.minutes_for(OperatorType::Other),
        ],
        [60, 120, 240]
    );
    let indicators: Vec<(&str, Measure, u32, bool)> = regulatory
        .indicators
        .iter()
        .map(|indicator| {
            (
                indicator.level.as_str(),
                indicator.measure,
                indicator.minutes,
                indicator.verified,
            )
        })
        .collect();
    assert_eq!(
        indicators,
        [
            ("I", Measure::Unreachable, 1440, true),
            ("I", Measure::DefacedHomePage, 360, true),
            ("I", Measure::DefacedOtherPage, 1440, true),
            ("II", Measure::Unreachable, 360, false),
            ("II", Measure::DefacedHomePage, 120, false),
            ("II", Measure::DefacedOtherPage, 720, false),
            ("III", Measure::Unreachable, 120, false),
            ("III", Measure::DefacedHomePage, 30, false),
            ("III", Measure::DefacedOtherPage, 120, false),
        ]
    );
    assert!(
        regulatory
            .indicators
            .iter()
            .all(|indicator| !indicator.source.is_empty())
    );
    assert_eq!(plan.sites[0].tier, SiteTier::Other);
    assert_eq!(plan.sites[0].operator_type, None);
    let chain = &plan.escalation.chains[0];
    let steps: Vec<(u32, Vec<Role>)> = chain
        .steps
        .iter()
        .map(|step| (step.after_minutes, step.roles.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (0, vec![Role::DutyOfficer]),
            (10, vec![Role::OfficeDirector]),
            (20, vec![Role::DeputyLeader]),
            (30, vec![Role::Leader]),
        ]
    );
    let kinds: Vec<IncidentKind> = plan
        .playbooks
        .iter()
        .map(|playbook| playbook.kind)
        .collect();
    assert_eq!(kinds, IncidentKind::ALL);
    for kind in IncidentKind::ALL {
        assert_eq!(plan.playbook(kind).kind, kind);
    }
    assert!(plan.channels.is_empty() && plan.routing.is_empty() && plan.duty.shifts.is_empty());
}

#[test]
fn every_mistake_in_the_response_sections_is_reported_with_its_path() {
    let text = format!(
        "{MINIMAL}{}",
        r##"
[[roster]]
name = "刘洋"
unit = "office"
roles = ["office_member"]
phone = "1"

[[units]]
id = "office"
name = "办公室"

[deadlines]
serious_levels = ["I", "V"]
progress_report_minutes = 0

[regulatory]
operator_type = "bank"
report_from_level = "3"
[regulatory.reporting_windows]
other_minutes = 0
[[regulatory.indicators]]
level = "II"
measure = "defaced_home_page"
minutes = 0
tiers = []
source = ""

[[level_rules]]
level = "II"
min_sites = 0
kinds = ["flood"]

[escalation]
on_missed_deadline = ["chairman"]
[[escalation.chains]]
name = "main"
[[escalation.chains.steps]]
after_minutes = 5
repeat = 2
contacts = ["police"]
channels = ["pager"]
min_level = "VI"
[[escalation.chains]]
name = "main"

[[external_contacts]]
id = "Cac"
name = "网信办"

[[duty.shifts]]
name = "day"
start = "8:30"
end = "17:30"
people = ["刘洋", "无名"]
[[duty.shifts]]
name = "all"
start = "08:00"
end = "08:00"
people = []

[[playbooks]]
kind = "defacement"
[[playbooks.steps]]
action = "restore_pages"
mode = "approval"
[[playbooks]]
kind = "defacement"

[[channels]]
id = "mail"
type = "email"
url = "https://x.test/"
username = "u"
secret = "s"
secret_env = "MY-SECRET"
[[channels]]
id = "mail"
type = "wecom"
url = "not a url"
secret_env = "X"

[routing]
chairman = ["mail"]
leader = ["pager"]
duty_officer = []
"##
    );
    check(
        &text,
        &[
            "deadlines.serious_levels[1]: unknown level \"V\"; levels: I, II, III, IV (line 22)",
            "deadlines.progress_report_minutes: must be at least 1 minute (line 23)",
            "regulatory.operator_type: unknown variant `bank`, expected one of \
             `critical_infrastructure`, `central_state_organ`, `other` (line 26)",
            "regulatory.report_from_level: unknown level \"3\"; levels: I, II, III, IV (line 27)",
            "regulatory.reporting_windows.other_minutes: must be at least 1 minute (line 29)",
            "regulatory.indicators[0].minutes: must be at least 1 minute (line 33)",
            "regulatory.indicators[0].tiers: at least one site tier is required \
             (provincial_government_portal, city_government_portal, central_news_site, news_site, \
             company_portal, other) (line 34)",
            "regulatory.indicators[0].source: must not be empty (line 35)",
            "level_rules[0].min_sites: must be at least 1 (line 39)",
            "level_rules[0].kinds[0]: unknown variant `flood`, expected one of `defacement`, \
             `hidden_links`, `web_shell`, `ddos`, `unavailable`, `other` (line 40)",
            "escalation.on_missed_deadline[0]: unknown variant `chairman`, expected one of \
             `leader`, `deputy_leader`, `office_director`, `office_member`, `duty_officer`, \
             `expert` (line 43)",
            "escalation.chains[0].steps[0].repeat_every_minutes: must be at least 1 minute when \
             repeat is set (line 46)",
            "escalation.chains[0].steps[0].contacts[0]: unknown contact \"police\"; contacts: Cac (line 49)",
            "escalation.chains[0].steps[0].channels[0]: unknown channel \"pager\"; channels: mail (line 50)",
            "escalation.chains[0].steps[0].min_level: unknown level \"VI\"; levels: I, II, III, IV (line 51)",
            "escalation.chains[1].kinds: escalation.chains[0] already takes every kind; this chain \
             is never used: give it kinds = [\"…\"] (line 52)",
            "escalation.chains[1].steps: at least one step is required ([[escalation.chains.steps]]) (line 52)",
            "escalation.chains[1].name: duplicate chain name \"main\" (also escalation.chains[0]) (line 53)",
            "external_contacts[0]: a phone or a fax number is required: the contact becomes a \
             call/fax task (line 55)",
            "external_contacts[0].id: \"Cac\" is not a valid id: use lower-case letters, digits, \
             \"-\" and \"_\", starting with a letter or digit (line 56)",
            "duty.shifts[0].start: \"8:30\" is not a 24-hour time \"HH:MM\" such as \"08:30\" (line 61)",
            "duty.shifts[0].people[0]: \"刘洋\" does not hold the duty_officer role in the roster (line 63)",
            "duty.shifts[0].people[1]: unknown person \"无名\"; roster: 刘洋 (line 63)",
            "duty.shifts[1].end: a shift must not end when it starts (for a 24-hour shift, end one \
             minute earlier or split it) (line 67)",
            "duty.shifts[1].people: at least one person is required (line 68)",
            "playbooks[0].steps[0]: step \"restore_pages\" waits for approval but no one may \
             approve it: set approvers = [\"leader\", …] on the step or the playbook (line 72)",
            "playbooks[1].kind: duplicate playbook for \"defacement\" (also playbooks[0]) (line 76)",
            "channels[0].smtp_host: missing: a channel of type \"email\" needs it (line 78)",
            "channels[0].from: missing: a channel of type \"email\" needs it (line 78)",
            "channels[0].url: not used by a channel of type \"email\" (line 81)",
            "channels[0].username: a login needs password_env = \"…\" (or password) (line 82)",
            "channels[0].secret: not used by a channel of type \"email\" (line 83)",
            "channels[0].secret: give secret or secret_env, not both (line 83)",
            "channels[0].secret_env: not used by a channel of type \"email\" (line 84)",
            "channels[0].secret_env: \"MY-SECRET\" is not an environment variable name such as \
             \"SITEWARDEN_SECRET\" (line 84)",
            "channels[1].id: duplicate channel id \"mail\" (also channels[0]) (line 86)",
            "channels[1].url: not an absolute http(s) URL: \"not a url\" (line 88)",
            "channels[1].secret_env: not used by a channel of type \"wecom\" (line 89)",
            "routing.chairman: unknown role \"chairman\"; roles: leader, deputy_leader, \
             office_director, office_member, duty_officer, expert, or default (line 92)",
            "routing.leader[0]: unknown channel \"pager\"; channels: mail (line 93)",
            "routing.duty_officer: at least one channel id is required (line 94)",
        ],
    );
}

/// Two duty officers and a shift, for the duty calendar's cases.
const DUTY_ROSTER: &str = r##"
[[units]]
id = "office"
name = "办公室"

[[roster]]
name = "王五"
unit = "office"
roles = ["duty_officer"]
phone = "1"
[[roster]]
name = "赵六"
unit = "office"
roles = ["duty_officer"]
phone = "2"
[[roster]]
name = "刘洋"
unit = "office"
roles = ["office_member"]
phone = "3"

[[duty.shifts]]
name = "day"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:30"
end = "17:30"
people = ["王五"]
"##;

#[test]
fn the_duty_calendar_defaults_to_empty_and_reads_runs_days_and_people() {
    assert!(load(MINIMAL).duty.calendar.is_empty());
    let plan = load(&format!(
        "{MINIMAL}{DUTY_ROSTER}{}",
        r##"
[[duty.calendar]]
from = "2026-10-01"
to = "2026-10-07"
like = "sun"
note = "国庆节"
[[duty.calendar]]
# A TOML date, unquoted, reads as the same text.
date = 2026-10-10
like = "mon"
note = "国庆节调休上班"
[[duty.calendar]]
date = "2026-10-02"
people = ["赵六", "王五"]
"##
    ));
    let calendar = &plan.duty.calendar;
    let date = |text: &str| CalendarDate::parse(text).expect(text);
    let read: Vec<_> = calendar
        .iter()
        .map(|entry| {
            (
                entry.days(),
                entry.like,
                entry.people.clone(),
                entry.note.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                Some((date("2026-10-01"), date("2026-10-07"))),
                Some(Weekday::Sun),
                None,
                Some("国庆节"),
            ),
            (
                Some((date("2026-10-10"), date("2026-10-10"))),
                Some(Weekday::Mon),
                None,
                Some("国庆节调休上班"),
            ),
            (
                Some((date("2026-10-02"), date("2026-10-02"))),
                None,
                Some(vec!["赵六".to_owned(), "王五".to_owned()]),
                None,
            ),
        ]
    );
    assert_eq!(calendar[1].date.as_deref(), Some("2026-10-10"));
    // The calendar survives a round trip (the unquoted date comes back quoted).
    let again = load(&toml::to_string(&plan).expect("serializes"));
    assert_eq!(&again.duty.calendar, calendar);
}

#[test]
fn calendar_dates_are_real_days_written_yyyy_mm_dd() {
    for (text, expected) in [
        ("2026-10-01", Some((2026, 10, 1))),
        ("2024-02-29", Some((2024, 2, 29))),
        ("2000-02-29", Some((2000, 2, 29))),
        ("2026-12-31", Some((2026, 12, 31))),
        ("2026-02-29", None),
        ("1900-02-29", None),
        ("2026-04-31", None),
        ("2026-13-01", None),
        ("2026-00-10", None),
        ("2026-10-00", None),
        ("2026-1-01", None),
        ("26-10-01", None),
        ("2026/10/01", None),
        ("20261001", None),
        ("+2026-10-01", None),
        ("2026-10-01T08:00", None),
        ("２０２６-10-01", None),
        ("", None),
    ] {
        let read = CalendarDate::parse(text).map(|date| (date.year, date.month, date.day));
        assert_eq!(read, expected, "CalendarDate::parse({text:?})");
    }
    let date = CalendarDate::parse("0999-01-09").expect("a date");
    assert_eq!(date.to_string(), "0999-01-09");
    assert!(date < CalendarDate::parse("2026-01-01").expect("a date"));
}

#[test]
fn every_mistake_in_the_duty_calendar_is_reported_with_its_path() {
    let text = format!(
        "{MINIMAL}{DUTY_ROSTER}{}",
        r##"
[[duty.calendar]]
date = "2026-02-30"
like = "sun"
[[duty.calendar]]
from = "2026-10-07"
to = "2026-10-01"
like = "sun"
[[duty.calendar]]
date = "2026-10-01"
from = "2026-10-01"
to = "2026-10-03"
like = "sun"
[[duty.calendar]]
note = "国庆节"
[[duty.calendar]]
from = "2026-05-01"
like = "sun"
[[duty.calendar]]
date = "2026-10-02"
like = "sun"
people = ["无名", "刘洋"]
[[duty.calendar]]
date = "2026-10-03"
like = "sunday"
[[duty.calendar]]
date = 2026-10-04T08:00:00
like = "sun"
note = " "
[[duty.calendar]]
from = "2026-10-01"
to = "2026-10-07"
like = "sun"
[[duty.calendar]]
date = "2026-10-05"
like = "mon"
[[duty.calendar]]
date = "2026-10-06"
people = ["王五"]
[[duty.calendar]]
from = "2026-10-04"
to = "2026-10-08"
people = []
[[duty.calendar]]
to = "2026-10-09"
people = ["赵六"]
"##
    );
    check(
        &text,
        &[
            "duty.calendar[0].date: \"2026-02-30\" is not a date \"YYYY-MM-DD\" such as \
             \"2026-10-01\" (line 39)",
            "duty.calendar[1].to: \"2026-10-01\" is before from = \"2026-10-07\": the run would \
             have no days (line 43)",
            "duty.calendar[2].date: give date for one day, or from and to for several, not both \
             (line 46)",
            "duty.calendar[3].date: missing: give date = \"YYYY-MM-DD\" for one day, or from = \
             \"…\" and to = \"…\" for several (both inclusive) (line 50)",
            "duty.calendar[3].like: missing: give like = \"sun\" (the day is staffed as that \
             weekday) or people = [\"…\"] (these people are on duty all day) (line 50)",
            "duty.calendar[4].to: missing: from needs to = \"YYYY-MM-DD\", the last day \
             (inclusive) (line 52)",
            "duty.calendar[5].people: give like or people, not both: people replace every shift \
             that starts on the day, so like would change nothing (line 58)",
            "duty.calendar[5].people[0]: unknown person \"无名\"; roster: 王五, 赵六, 刘洋 (line 58)",
            "duty.calendar[5].people[1]: \"刘洋\" does not hold the duty_officer role in the \
             roster (line 58)",
            "duty.calendar[6].like: unknown variant `sunday`, expected one of `mon`, `tue`, \
             `wed`, `thu`, `fri`, `sat`, `sun` (line 61)",
            "duty.calendar[7].date: \"2026-10-04T08:00:00\" is not a date \"YYYY-MM-DD\" such \
             as \"2026-10-01\" (line 63)",
            "duty.calendar[7].note: must not be empty (line 65)",
            "duty.calendar[9].like: 2026-10-05 is staffed like \"mon\" here but like \"sun\" in \
             duty.calendar[8]: a day can follow one weekday only (line 72)",
            "duty.calendar[11].people: at least one person is required (line 79)",
            "duty.calendar[11].people: 2026-10-06 already has its people in duty.calendar[10]: \
             name the people of a day in one entry (line 79)",
            "duty.calendar[12].from: missing: to needs from = \"YYYY-MM-DD\", the first day \
             (line 80)",
        ],
    );
}

#[test]
fn web_roots_and_the_guard_default_to_none_and_five_minutes() {
    let plan = load(MINIMAL);
    assert_eq!(plan.guard.rescan_interval_seconds, 300);
    assert_eq!(plan.guard.rescan_interval(), Duration::from_secs(300));
    assert_eq!(plan.web_roots().count(), 0);
}

#[test]
fn web_roots_are_read_per_site_and_need_not_exist() {
    let plan = load(
        r##"
[organisation]
name = "示例单位"
[guard]
rescan_interval_seconds = 60
[[sites]]
name = "portal"
[[sites.pages]]
url = "https://portal.example.gov.test/"
[[sites.web_roots]]
path = "/nonexistent/sitewarden-test/portal"
upload_dirs = ["uploads", "files/2024/"]
exclude = ["cache/**", "*.log"]
[[sites.web_roots]]
path = "/nonexistent/sitewarden-test/portal-en"
"##,
    );
    assert_eq!(plan.guard.rescan_interval_seconds, 60);
    let roots: Vec<(&str, &str, usize, usize)> = plan
        .web_roots()
        .map(|(site, root)| {
            (
                site.name.as_str(),
                root.path.to_str().unwrap(),
                root.upload_dirs.len(),
                root.exclude.len(),
            )
        })
        .collect();
    assert_eq!(
        roots,
        [
            ("portal", "/nonexistent/sitewarden-test/portal", 2, 2),
            ("portal", "/nonexistent/sitewarden-test/portal-en", 0, 0),
        ]
    );
}

#[test]
fn every_mistake_in_web_roots_and_the_guard_is_reported_with_its_path() {
    check(
        r##"
[organisation]
name = "x"
[guard]
rescan_interval_seconds = 0
[[sites]]
name = "a"
[[sites.pages]]
url = "https://a.test/"
[[sites.web_roots]]
path = "www/a"
upload_dirs = ["/uploads", "", "up/../etc", "ok/"]
exclude = ["cache/[", " "]
[[sites.web_roots]]
path = "/srv/www/a"
[[sites.web_roots]]
path = "/"
[[sites.web_roots]]
path = "/srv/www/../etc"
[[sites]]
name = "b"
[[sites.pages]]
url = "https://b.test/"
[[sites.web_roots]]
path = "/srv/www/a"
[[sites.web_roots]]
path = "/srv/www/a/sub"
[[sites.web_roots]]
path = "/srv/www/b"
root = "/srv"
"##,
        &[
            "guard.rescan_interval_seconds: must be between 1 and 86400 seconds (one day), not 0 (line 5)",
            "sites[0].web_roots[0].path: \"www/a\" is not an absolute path such as \"/srv/www/portal\" (line 11)",
            "sites[0].web_roots[0].upload_dirs[0]: \"/uploads\" must be relative to the web root, such as \"uploads\" (no leading \"/\") (line 12)",
            "sites[0].web_roots[0].upload_dirs[1]: \"\" must not be empty (line 12)",
            "sites[0].web_roots[0].upload_dirs[2]: \"up/../etc\" must be a plain relative path: no empty, \".\" or \"..\" components (line 12)",
            "sites[0].web_roots[0].exclude[0]: invalid glob \"cache/[\": unclosed character class; missing ']' (line 13)",
            "sites[0].web_roots[0].exclude[1]: must not be empty (line 13)",
            "sites[0].web_roots[2].path: must not be the file system root \"/\": name the web root itself (line 17)",
            "sites[0].web_roots[3].path: \"/srv/www/../etc\" must not contain \".\" or \"..\" components (line 19)",
            "sites[1].web_roots[0].path: duplicate web root \"/srv/www/a\" (also sites[0].web_roots[1].path) (line 25)",
            "sites[1].web_roots[1].path: \"/srv/www/a/sub\" overlaps the web root \"/srv/www/a\" (sites[0].web_roots[1].path): a tree is guarded by one watcher; guard the outer root once and use exclude for what it must not restore (line 27)",
            "sites[1].web_roots[2].root: unknown key (line 30)",
        ],
    );
}

#[test]
fn the_gateway_and_containment_sections_load_with_their_defaults() {
    let plan = load(
        r##"
[organisation]
name = "示例单位"

[gateway]
listen = ["0.0.0.0:80", "[::]:80"]
trusted_proxies = ["10.0.0.0/8"]
allowlist = ["192.0.2.10"]
blocklist = ["198.51.100.0/24", "2001:db8::/32"]
[[gateway.tls]]
listen = "0.0.0.0:443"
cert = "/etc/sitewarden/portal.crt"
key = "/etc/sitewarden/portal.key"
[gateway.limits]
rate_per_ip = 20

[[sites]]
name = "portal"
origins = ["http://10.0.0.5:80", "http://10.0.0.6"]
hosts = ["www.example.gov.test"]
[[sites.pages]]
url = "https://portal.example.gov.test/"

[[sites]]
name = "zfcg"
[sites.containment]
backend = "nginx"
[sites.containment.nginx]
include = "/etc/nginx/sitewarden/zfcg.conf"
reload = ["systemctl", "reload", "nginx"]
[[sites.pages]]
url = "https://zfcg.example.gov.test/"

[[sites]]
name = "oa"
[sites.containment]
backend = "command"
command.argv = ["/usr/local/bin/cut-off", "{site}", "{state}"]
[[sites.pages]]
url = "https://oa.example.gov.test/"
"##,
    );
    let gateway = plan.gateway.as_ref().unwrap();
    assert_eq!(gateway.limits.rate_per_ip, 20.0);
    assert_eq!(gateway.limits.burst_per_ip, 100.0, "defaults fill the rest");
    assert_eq!(gateway.tls[0].listen, "0.0.0.0:443");
    use sitewarden_plan::ContainmentBackend;
    assert_eq!(
        plan.sites[0].containment_backend(),
        ContainmentBackend::Gateway
    );
    assert_eq!(
        plan.sites[0].host_names(),
        ["www.example.gov.test", "portal.example.gov.test"]
    );
    assert_eq!(
        plan.sites[1].containment_backend(),
        ContainmentBackend::Nginx
    );
    assert_eq!(
        plan.sites[1]
            .containment
            .as_ref()
            .unwrap()
            .nginx
            .as_ref()
            .unwrap()
            .timeout_seconds,
        30
    );
    assert_eq!(
        plan.sites[2].containment_backend(),
        ContainmentBackend::Command
    );
    assert!(load(MINIMAL).gateway.is_none());
    assert_eq!(
        load(MINIMAL).sites[0].containment_backend(),
        ContainmentBackend::None
    );
}

#[test]
fn gateway_and_containment_mistakes_are_reported_with_their_paths() {
    check(
        r##"
[organisation]
name = "示例单位"

[gateway]
listen = ["80"]
trusted_proxies = ["10.0.0.0/33"]
blocklist = ["not-an-ip"]
threads = 0
[gateway.limits]
burst_per_ip = 0
header_timeout_seconds = 0
body_deadline_seconds = 0
ban_base_seconds = 600
ban_max_seconds = 60
max_in_flight = 100
in_flight_per_ip = 500
h2_streams_per_connection = 0
colour = "red"

[[sites]]
name = "portal"
origins = ["ftp://10.0.0.5", "http://10.0.0.5/portal"]
[[sites.pages]]
url = "https://portal.example.gov.test/"

[[sites]]
name = "zfcg"
[sites.containment]
backend = "nginx"
[[sites.pages]]
url = "https://zfcg.example.gov.test/"

[[sites]]
name = "oa"
[sites.containment]
backend = "gateway"
[[sites.pages]]
url = "https://oa.example.gov.test/"
"##,
        &[
            "gateway.listen[0]: \"80\" is not an address and port (\"0.0.0.0:80\", \"[::]:443\") (line 6)",
            "gateway.trusted_proxies[0]: \"10.0.0.0/33\" is not an IP address or CIDR range (line 7)",
            "gateway.blocklist[0]: \"not-an-ip\" is not an IP address or CIDR range (line 8)",
            "gateway.threads: must be at least 1 (line 9)",
            "gateway.limits.burst_per_ip: must be at least 1 when rate_per_ip is set (line 11)",
            "gateway.limits.header_timeout_seconds: must be at least 1 (line 12)",
            "gateway.limits.body_deadline_seconds: must be at least 1 (line 13)",
            "gateway.limits.ban_max_seconds: must not be shorter than ban_base_seconds (line 15)",
            "gateway.limits.in_flight_per_ip: must not exceed max_in_flight (100), or one client could take every slot (line 17)",
            "gateway.limits.h2_streams_per_connection: must be between 1 and 1000 (line 18)",
            "gateway.limits.colour: unknown key (line 19)",
            "sites[0].origins[0]: \"ftp://10.0.0.5\": an origin starts with http:// or https:// (line 23)",
            "sites[0].origins[1]: \"http://10.0.0.5/portal\": an origin is scheme://host[:port], with no path (line 23)",
            "sites[1].containment.nginx: backend \"nginx\" needs [sites.containment.nginx] with include = \"/etc/nginx/…\" (line 29)",
            "sites[2].containment.backend: backend \"gateway\" needs the site's origins, so the gateway can serve it (line 37)",
        ],
    );
}

#[test]
fn the_logwatch_section_loads_with_its_defaults() {
    let plan = load(
        r##"
[organisation]
name = "示例单位"

[logwatch]
block = false
[logwatch.flood]
min_rps = 50
[logwatch.decisions]
allowlist = ["10.0.0.0/8"]
ban_minutes = 30
[[logwatch.files]]
path = "/var/log/nginx/portal.access.log"
site = "portal"
[[logwatch.files]]
path = "/var/log/nginx/zfcg.access.log"
format = { nginx = { format = '$remote_addr [$time_local] "$request" $status $host' } }
start_at = "beginning"

[[sites]]
name = "portal"
[[sites.pages]]
url = "https://portal.example.gov.test/"
"##,
    );
    let logwatch = &plan.logwatch;
    assert!(logwatch.enabled && logwatch.signals && !logwatch.block);
    assert_eq!(logwatch.flood.min_rps, 50.0);
    assert_eq!(logwatch.flood.quiet_seconds, 10, "defaults fill the rest");
    assert_eq!(logwatch.decisions.ban_minutes, 30);
    assert_eq!(logwatch.files[0].site.as_deref(), Some("portal"));
    assert_eq!(
        logwatch.files[1].start_at,
        sitewarden_logwatch::tail::StartAt::Beginning
    );
    assert_eq!(logwatch.files[1].format.name(), "nginx");
    let defaults = load(MINIMAL).logwatch;
    assert!(defaults.enabled && defaults.block && defaults.files.is_empty());
}

#[test]
fn logwatch_mistakes_are_reported_with_their_paths() {
    check(
        r##"
[organisation]
name = "示例单位"

[logwatch]
web_shell_signal_confidence = 2
[logwatch.flood]
min_rps = -1
min_rsp = 5
[logwatch.decisions]
ban_minutes = 0
[logwatch.detect]
disabled_rules = ["no-such-rule"]
[[logwatch.files]]
path = "/var/log/nginx/a.log"
site = "intranet"
[[logwatch.files]]
path = "/var/log/nginx/a.log"
format = { nginx = { format = "$status" } }
[[logwatch.files]]
path = "/var/log/nginx/b.log"
colour = "red"

[[sites]]
name = "portal"
[[sites.pages]]
url = "https://portal.example.gov.test/"
"##,
        &[
            "logwatch.web_shell_signal_confidence: must be between 0 and 1 (line 6)",
            "logwatch.flood.min_rps: must be a finite number ≥ 0 (line 8)",
            "logwatch.flood.min_rsp: unknown key (line 9)",
            "logwatch.decisions.ban_minutes: must be at least 1 (line 11)",
            "logwatch.detect.disabled_rules: no built-in rule \"no-such-rule\" (line 13)",
            "logwatch.files[0].site: no site named \"intranet\" in [[sites]] (line 16)",
            "logwatch.files[1].path: /var/log/nginx/a.log is followed twice (line 18)",
            "logwatch.files[1].format: log_format \"$status\": no $remote_addr (line 19)",
            "logwatch.files[2].colour: unknown key (line 22)",
        ],
    );
}

#[test]
fn notifications_are_in_chinese_unless_the_plan_says_otherwise() {
    use sitewarden_plan::MessageLanguage;
    assert_eq!(load(MINIMAL).notifications.language, MessageLanguage::ZhCn);
    for (value, language) in [
        ("zh-CN", MessageLanguage::ZhCn),
        ("en", MessageLanguage::En),
        ("both", MessageLanguage::Both),
    ] {
        let plan = load(&format!(
            "{MINIMAL}\n[notifications]\nlanguage = \"{value}\"\n"
        ));
        assert_eq!(plan.notifications.language, language, "{value}");
        assert_eq!(language.as_str(), value);
    }
    check(
        &format!("{MINIMAL}\n[notifications]\nlanguage = \"fr\"\nlangauge = \"en\"\n"),
        &[
            "notifications.language: unknown variant `fr`, expected one of `zh-CN`, `en`, `both` (line 12)",
            "notifications.langauge: unknown key (line 13)",
        ],
    );
}

#[test]
fn a_channel_may_set_its_pace_up_to_an_hour() {
    let channel = |interval: &str| {
        format!(
            "{MINIMAL}\n[[channels]]\nid = \"duty\"\ntype = \"dingtalk\"\n\
             url = \"https://oapi.dingtalk.example.test/robot/send?access_token=T\"\n{interval}"
        )
    };
    assert_eq!(load(&channel("")).channels[0].min_interval_ms, None);
    assert_eq!(
        load(&channel("min_interval_ms = 0\n")).channels[0].min_interval_ms,
        Some(0)
    );
    assert_eq!(
        load(&channel("min_interval_ms = 3600000\n")).channels[0].min_interval_ms,
        Some(3_600_000)
    );
    check(
        &channel("min_interval_ms = 3600001\n"),
        &[
            "channels[0].min_interval_ms: 3600001 ms is more than an hour between two messages: at most 3600000 (line 15)",
        ],
    );
    let negative = Plan::from_toml_str(&channel("min_interval_ms = -5\n"))
        .unwrap_err()
        .to_string();
    assert!(
        negative.contains("channels[0].min_interval_ms:"),
        "{negative}"
    );
}

/// A valid plan that would still fail people: roles the shipped chains
/// and playbooks name that nobody holds, and a person routed to e-mail
/// without an address. Warnings, with lines; the plan still loads.
#[test]
fn check_plan_warns_of_roles_nobody_holds_and_people_no_channel_reaches() {
    let text = r##"
[organisation]
name = "示例单位"

[[units]]
id = "office"
name = "办公室"

[[sites]]
name = "portal"

[[sites.pages]]
url = "https://portal.example.gov.test/"

[[roster]]
name = "王小明"
unit = "office"
roles = ["duty_officer", "leader", "deputy_leader", "office_director"]
phone = "138-0000-0001"

[[roster]]
name = "李建国"
unit = "office"
roles = ["office_member"]
phone = "138-0000-0002"
email = "lijianguo@example.gov.test"

[[channels]]
id = "mail"
type = "email"
smtp_host = "127.0.0.1"
from = "sitewarden@example.gov.test"

[routing]
default = ["mail"]
"##;
    let dir = std::env::temp_dir().join(format!("sitewarden-plan-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sitewarden.toml");
    std::fs::write(&file, text).unwrap();
    let (plan, warnings) = Plan::load_with_warnings(&file).expect("a valid plan");
    std::fs::remove_dir_all(&dir).unwrap();
    let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(plan.roster.len(), 2);
    assert_eq!(
        warnings,
        [
            "sites[0]: portal has no containment backend (no `origins` behind the gateway, no \
             [sites.containment]): the playbooks' automatic contain step (defacement, \
             hidden_links, web_shell) can only record the cut-off, a person must make it \
             (line 9)",
            "roster[0]: 王小明 cannot be told on every channel routed to them: no email for \
             channel mail (as duty_officer, leader, deputy_leader, office_director) (line 15)",
        ],
        "{warnings:#?}"
    );

    // Without the person holding them, the shipped chains' and playbooks'
    // roles are named, once each, at their first use.
    let unstaffed = text.replace(
        r#"roles = ["duty_officer", "leader", "deputy_leader", "office_director"]"#,
        r#"roles = ["duty_officer"]"#,
    );
    let plan = load(&unstaffed);
    let warnings: Vec<String> = plan.warnings().iter().map(ToString::to_string).collect();
    for role in [
        "leader (组长)",
        "deputy_leader (副组长)",
        "office_director (办公室主任)",
    ] {
        assert!(
            warnings
                .iter()
                .any(|warning| warning
                    .contains(&format!("nobody in the roster holds the role {role}"))),
            "{role}: {warnings:#?}"
        );
    }
    assert!(
        !warnings
            .iter()
            .any(|warning| warning.contains("office_member")
                || warning.contains("role duty_officer")),
        "{warnings:#?}"
    );
}
