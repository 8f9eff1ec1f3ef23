//! What `sitewarden check-plan` reports: plan files in, the full list of
//! problems (or none) out, through the public API only.

use sitewarden_plan::{Importance, Plan, PlanErrors, Role, default_levels};
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
