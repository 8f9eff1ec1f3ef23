//! The `[logwatch]` section: live watching of access logs under
//! `sitewarden serve` — the gateway's own requests and the plan's log
//! files — and what happens with what it finds.
//!
//! The detection settings are logwatch's own types (`detect`, `scenarios`,
//! `web_shells`, `flood`, `decisions`), so the plan, `sitewarden logs` and
//! the live watch read the same keys the same way; only where requests
//! come from and what to do with the findings are the plan's.

use serde::{Deserialize, Serialize};
use sitewarden_logwatch::{
    Config, DecisionConfig, DetectConfig, FloodConfig, LogFormat, scenario::ScenarioConfig,
    scenario::default_scenarios, shell::WebShellConfig, tail::StartAt,
};
use std::path::PathBuf;

/// `[logwatch]`. Absent: the defaults below (watch the gateway's requests
/// when a gateway runs; no files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogwatchSettings {
    /// Watch at all. Default true.
    pub enabled: bool,
    /// Put the addresses logwatch decides to block on the gateway's
    /// blocklist (with expiry). Default true. False: decisions are only
    /// reported.
    pub block: bool,
    /// Open (or join) an incident for a flood (DDoS) and for access to a
    /// likely web shell. Default true.
    pub signals: bool,
    /// Access to a likely web shell raises a signal when the detection is
    /// at least this sure (0–1). Default 0.8: a script requested right
    /// after an upload by the uploader (0.9), a known shell name or
    /// command parameter; a merely new script (0.6) is only recorded.
    pub web_shell_signal_confidence: f32,
    /// Access logs to follow, through rotation, resuming after a restart.
    pub files: Vec<LogFile>,
    /// Attack detection on single requests.
    pub detect: DetectConfig,
    /// Leaky-bucket scenarios (default: distinct 404s, login brute force).
    pub scenarios: Vec<ScenarioConfig>,
    /// New-script (web shell) detection.
    pub web_shells: WebShellConfig,
    /// Flood detection.
    pub flood: FloodConfig,
    /// Blocking decisions (ban length, allowlist, thresholds).
    pub decisions: DecisionConfig,
}

impl Default for LogwatchSettings {
    fn default() -> Self {
        LogwatchSettings {
            enabled: true,
            block: true,
            signals: true,
            web_shell_signal_confidence: 0.8,
            files: Vec::new(),
            detect: DetectConfig::default(),
            scenarios: default_scenarios(),
            web_shells: WebShellConfig::default(),
            flood: FloodConfig::default(),
            decisions: DecisionConfig::default(),
        }
    }
}

impl LogwatchSettings {
    /// The detection configuration the live detector runs with (the
    /// format is per file).
    pub fn config(&self) -> Config {
        Config {
            format: LogFormat::Auto,
            detect: self.detect.clone(),
            scenarios: self.scenarios.clone(),
            web_shells: self.web_shells.clone(),
            flood: self.flood.clone(),
            decisions: self.decisions.clone(),
            ..Config::default()
        }
    }
}

/// One followed access log (`[[logwatch.files]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogFile {
    /// The log's path (the live file, not a rotated one); relative paths
    /// are under the data directory.
    pub path: PathBuf,
    /// The plan's site whose requests this log holds. Absent: each
    /// request's site is found by its host (`vhost_combined`, `$host` in
    /// an nginx format, a JSON host field) among the sites' URLs and
    /// `hosts`.
    #[serde(default)]
    pub site: Option<String>,
    /// The format (default `auto`: guessed from the first lines).
    #[serde(default)]
    pub format: LogFormat,
    /// Where to begin in a file sitewarden has never read: `end` (default:
    /// only what is written from now on) or `beginning`.
    #[serde(default)]
    pub start_at: StartAt,
}
