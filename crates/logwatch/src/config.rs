//! Configuration, as the plan's `[logwatch]` section holds it: serde
//! structs with explicit defaults (the nested tables leave unknown keys to
//! the plan's loader, which names each one with its line; [`Config`]
//! itself refuses them), then
//! [`Config::resolve`] — compiling the format and the rules once and
//! reporting every problem — into what the analysis and the live detector
//! run with.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::decision::DecisionConfig;
use crate::detect::{CustomRule, RuleSet};
use crate::error::{LogwatchError, Result};
use crate::flood::FloodConfig;
use crate::format::LogFormat;
use crate::scenario::{ScenarioConfig, default_scenarios, validate_scenarios};
use crate::shell::WebShellConfig;

/// Logwatch settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The log format (`auto` guesses per file).
    pub format: LogFormat,
    /// Attack detection on single requests.
    pub detect: DetectConfig,
    /// Leaky-bucket scenarios (default: distinct 404s, login brute force).
    pub scenarios: Vec<ScenarioConfig>,
    /// New-script (web shell) detection.
    pub web_shells: WebShellConfig,
    /// Flood detection.
    pub flood: FloodConfig,
    /// Blocking decisions.
    pub decisions: DecisionConfig,
    /// What the batch report holds.
    pub report: ReportConfig,
    /// Worker threads for batch analysis (default: all cores).
    pub threads: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: LogFormat::Auto,
            detect: DetectConfig::default(),
            scenarios: default_scenarios(),
            web_shells: WebShellConfig::default(),
            flood: FloodConfig::default(),
            decisions: DecisionConfig::default(),
            report: ReportConfig::default(),
            threads: None,
        }
    }
}

/// Attack detection settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DetectConfig {
    /// Run attack detection at all.
    pub enabled: bool,
    /// Built-in rules to switch off, by id.
    pub disabled_rules: Vec<String>,
    /// The plan's own rules.
    pub rules: Vec<CustomRule>,
    /// Hits below this confidence are not reported as attacks.
    pub min_confidence: f32,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            disabled_rules: Vec::new(),
            rules: Vec::new(),
            min_confidence: 0.3,
        }
    }
}

/// What the batch report keeps.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ReportConfig {
    /// Length of the top-N lists.
    pub top: usize,
    /// Attacks listed one by one (the rest are counted).
    pub max_attacks: usize,
    /// Examples per attack class.
    pub examples_per_class: usize,
    /// Bad lines kept as samples.
    pub bad_line_samples: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            top: 20,
            max_attacks: 10_000,
            examples_per_class: 5,
            bad_line_samples: 20,
        }
    }
}

/// A configuration checked and compiled.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration as given.
    pub config: Config,
    /// The compiled rules (shared by every worker).
    pub rules: Arc<RuleSet>,
}

impl Config {
    /// Checks everything and compiles the format and the rules; every
    /// problem is listed in the error.
    pub fn resolve(&self) -> Result<Resolved> {
        let mut errors = Vec::new();
        if let Err(e) = self.format.compile() {
            errors.push(format!("format: {e}"));
        }
        let rules = match RuleSet::new(&self.detect.disabled_rules, &self.detect.rules) {
            Ok(rules) => Some(rules),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        };
        if !(0.0..=1.0).contains(&self.detect.min_confidence) {
            errors.push("detect.min_confidence: must be between 0 and 1".into());
        }
        errors.extend(validate_scenarios(&self.scenarios));
        errors.extend(self.flood.validate());
        let d = &self.decisions;
        if !(0.0..=1.0).contains(&d.confident_attack) || !(0.0..=1.0).contains(&d.min_confidence) {
            errors.push(
                "decisions.confident_attack and decisions.min_confidence: must be between 0 and 1"
                    .into(),
            );
        }
        if d.ban_minutes == 0 {
            errors.push("decisions.ban_minutes: must be at least 1".into());
        }
        if self.threads == Some(0) {
            errors.push("threads: must be at least 1".into());
        }
        match rules {
            Some(rules) if errors.is_empty() => Ok(Resolved {
                config: self.clone(),
                rules: Arc::new(rules),
            }),
            _ => Err(LogwatchError::Config(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        Config::default().resolve().unwrap();
    }

    #[test]
    fn plan_section_parses_and_every_problem_is_reported() {
        let text = r#"{
            "format": {"nginx": {"format": "$remote_addr [$time_local] \"$request\" $status"}},
            "decisions": {"allowlist": ["10.0.0.0/8", "2001:db8::/32"], "ban_minutes": 30},
            "flood": {"min_rps": 50}
        }"#;
        let config: Config = serde_json::from_str(text).unwrap();
        assert_eq!(config.decisions.allowlist.len(), 2);
        config.resolve().unwrap();
        assert!(
            serde_json::from_str::<Config>(r#"{"formatt": "iis"}"#).is_err(),
            "unknown keys are refused"
        );
        let bad = Config {
            format: LogFormat::Nginx {
                format: "$status".into(),
            },
            detect: DetectConfig {
                disabled_rules: vec!["nope".into()],
                ..DetectConfig::default()
            },
            decisions: DecisionConfig {
                ban_minutes: 0,
                ..DecisionConfig::default()
            },
            threads: Some(0),
            ..Config::default()
        };
        let LogwatchError::Config(errors) = bad.resolve().unwrap_err() else {
            panic!()
        };
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
