//! Keeps docs/plan.md's promise that every plan key has an example: every
//! ```toml block in it is read as a plan, and together the blocks must
//! spell every key of the plan's types.
//!
//! The list of keys is not written down here, where it would go stale: it
//! is read off a plan with every section and every optional table filled
//! in, serialized with serde (a field left `None` still serializes, as
//! `null`, so it is still listed). A field added to any of the plan's
//! structs therefore fails this test until docs/plan.md shows it.

use serde_json::Value as Json;
use sitewarden_logwatch::detect::{CustomRule, Part};
use sitewarden_logwatch::format::JsonFields;
use sitewarden_logwatch::{AttackClass, LogFormat, StartAt};
use sitewarden_plan::{
    CommandContainment, Containment, ContainmentBackend, GatewayEngine, GatewayLimits,
    GatewaySettings, GatewayTls, LevelRule, LogFile, NginxContainment, Plan, sample_plan,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

const PLAN_DOC: &str = include_str!("../../../docs/plan.md");

/// Tables whose keys are the plan's data (host names, role names), not
/// key names: an example must give one entry, any entry. Their paths are
/// written `TABLE.*`.
const DATA_KEYED_TABLES: [&str; 2] = ["probe.resolve", "routing"];

/// One ```toml block of the document.
struct Block {
    /// The line of the opening fence, from 1.
    line: usize,
    text: String,
}

fn toml_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match &mut open {
            None if line.trim_end() == "```toml" => {
                open = Some(Block {
                    line: index + 1,
                    text: String::new(),
                });
            }
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(open.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    assert!(
        open.is_none(),
        "docs/plan.md: a ```toml block is not closed"
    );
    blocks
}

/// Adds the key path of every key under `value` to `paths`: keys joined
/// by `.`, array elements under their array's path (no index).
fn key_paths(at: &str, value: &Json, paths: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            for (key, value) in map {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                paths.insert(path.clone());
                if DATA_KEYED_TABLES.contains(&path.as_str()) {
                    if value.as_object().is_some_and(|map| !map.is_empty()) {
                        paths.insert(format!("{path}.*"));
                    }
                } else {
                    key_paths(&path, value, paths);
                }
            }
        }
        Json::Array(elements) => {
            for element in elements {
                key_paths(at, element, paths);
            }
        }
        _ => {}
    }
}

/// The sample plan with every optional section, table and list that it
/// leaves out filled in, so that serializing it names every key.
fn plan_with_every_key() -> Plan {
    let mut plan = Plan::from_toml_str(&sample_plan())
        .unwrap_or_else(|errors| panic!("the sample plan does not load:\n{errors}"));
    plan.gateway = Some(GatewaySettings {
        listen: vec!["0.0.0.0:80".into()],
        tls: vec![GatewayTls {
            listen: "0.0.0.0:443".into(),
            cert: PathBuf::from("/etc/sitewarden/tls/portal.crt"),
            key: PathBuf::from("/etc/sitewarden/tls/portal.key"),
        }],
        access_log: None,
        origin_ca_files: Vec::new(),
        trusted_proxies: Vec::new(),
        allowlist: Vec::new(),
        blocklist: Vec::new(),
        threads: None,
        engine: Some(GatewayEngine::Hyper),
        limits: GatewayLimits::default(),
    });
    let site = plan.sites.first_mut().expect("the sample plan has sites");
    // Only one of `nginx` and `command` is valid at once; both are set
    // here only to list their keys.
    site.containment = Some(Containment {
        backend: ContainmentBackend::Nginx,
        nginx: Some(NginxContainment {
            include: PathBuf::from("/etc/nginx/sitewarden/portal.conf"),
            maintenance_page: None,
            binary: "nginx".into(),
            config: None,
            reload: None,
            timeout_seconds: 30,
        }),
        command: Some(CommandContainment {
            argv: vec!["/usr/local/bin/cut-off".into(), "{site}".into()],
            timeout_seconds: 30,
        }),
    });
    if plan.level_rules.is_empty() {
        plan.level_rules.push(LevelRule {
            level: "III".into(),
            ..LevelRule::default()
        });
    }
    let logwatch = &mut plan.logwatch;
    logwatch.files = vec![
        LogFile {
            path: PathBuf::from("/var/log/nginx/portal.log"),
            site: None,
            format: LogFormat::Nginx {
                format: "$remote_addr".into(),
            },
            start_at: StartAt::End,
        },
        LogFile {
            path: PathBuf::from("/var/log/caddy/zfcg.json"),
            site: None,
            format: LogFormat::Json {
                fields: JsonFields::default(),
            },
            start_at: StartAt::End,
        },
    ];
    logwatch.detect.rules = vec![CustomRule {
        id: "local-rule".into(),
        class: AttackClass::Probe,
        confidence: 0.5,
        part: Part::Path,
        post_only: false,
        keywords: vec!["/x".into()],
        pattern: "^/x".into(),
    }];
    // Lists the sample may leave empty; a failure here means the sample
    // changed and the filling above needs one more line.
    for (name, empty) in [
        ("lexicons", plan.lexicons.is_empty()),
        ("units", plan.units.is_empty()),
        ("roster", plan.roster.is_empty()),
        ("pages", plan.sites.iter().all(|site| site.pages.is_empty())),
        (
            "web_roots",
            plan.sites.iter().all(|site| site.web_roots.is_empty()),
        ),
        ("external_contacts", plan.external_contacts.is_empty()),
        ("duty.shifts", plan.duty.shifts.is_empty()),
        ("duty.calendar", plan.duty.calendar.is_empty()),
        ("channels", plan.channels.is_empty()),
        ("routing", plan.routing.is_empty()),
        ("probe.crawlers", plan.probe.crawlers.is_empty()),
        (
            "regulatory.indicators",
            plan.regulatory.indicators.is_empty(),
        ),
        ("logwatch.scenarios", plan.logwatch.scenarios.is_empty()),
        (
            "escalation.chains.steps",
            plan.escalation.chains.iter().all(|c| c.steps.is_empty()),
        ),
        (
            "playbooks.steps",
            plan.playbooks.iter().all(|p| p.steps.is_empty()),
        ),
    ] {
        assert!(!empty, "the filled-in plan has no {name}: fill it in here");
    }
    plan
}

fn plan_key_paths() -> BTreeSet<String> {
    let plan = serde_json::to_value(plan_with_every_key()).expect("a plan serializes");
    let mut paths = BTreeSet::new();
    key_paths("", &plan, &mut paths);
    // A data-keyed table is listed even when the plan's is empty.
    for table in DATA_KEYED_TABLES {
        paths.insert(format!("{table}.*"));
    }
    paths
}

fn toml_to_json(value: &toml::Value) -> Json {
    serde_json::to_value(value).expect("a TOML value converts to JSON")
}

#[test]
fn every_toml_block_of_the_plan_doc_is_a_plan_fragment_with_known_keys() {
    let blocks = toml_blocks(PLAN_DOC);
    assert!(blocks.len() > 20, "found only {} blocks", blocks.len());
    let mut problems = Vec::new();
    for block in &blocks {
        let mut table: toml::Table = match toml::from_str(&block.text) {
            Ok(table) => table,
            Err(error) => {
                problems.push(format!("line {}: not TOML: {error}", block.line));
                continue;
            }
        };
        // `organisation` is the one required section: a fragment without
        // it is read as if it had one.
        table.entry("organisation").or_insert_with(|| {
            let mut organisation = toml::Table::new();
            organisation.insert("name".into(), "示例省财政厅".into());
            toml::Value::Table(organisation)
        });
        let mut unknown = Vec::new();
        let read: Result<Plan, _> = serde_ignored::deserialize(toml::Value::Table(table), |path| {
            unknown.push(path.to_string())
        });
        if let Err(error) = read {
            problems.push(format!("line {}: not a plan: {error}", block.line));
        }
        for path in unknown {
            problems.push(format!("line {}: unknown key {path}", block.line));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/plan.md examples:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_plan_key_has_an_example_in_the_plan_doc() {
    let mut documented = BTreeSet::new();
    for block in toml_blocks(PLAN_DOC) {
        let value: toml::Value = toml::from_str(&block.text)
            .unwrap_or_else(|error| panic!("line {}: not TOML: {error}", block.line));
        key_paths("", &toml_to_json(&value), &mut documented);
    }
    let expected = plan_key_paths();
    // A sanity check that the walk sees nested keys at all.
    assert!(expected.contains("sites.containment.command.argv"));
    assert!(expected.contains("logwatch.files.format.json.fields.host"));
    let missing: Vec<&String> = expected.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "plan keys with no example in a ```toml block of docs/plan.md ({} of {}):\n{}",
        missing.len(),
        expected.len(),
        missing
            .iter()
            .map(|path| path.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
