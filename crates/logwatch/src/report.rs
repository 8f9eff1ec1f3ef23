//! The batch report: what `sitewarden logs analyze` prints as JSON (this
//! exact shape is the CLI's contract) and renders as HTML.
//!
//! ```json
//! {"lines":N,"bad_lines":N,
//!  "attacks":[{"ip":..,"class":..,"time":..,"request":..,"rule":..,"confidence":..,"status":..,"evidence":..}],
//!  "floods":[{"start":..,"end":..,"peak_rps":..,"top_sources":[{"ip":..,"requests":..,"share":..,"new":..}],...}],
//!  "decisions":[...], "requests_per_minute":[...], "status_mix":{...}, "top_ips":[...], ...}
//! ```

use serde::Serialize;

use crate::decision::Decision;
use crate::detect::{Attack, AttackClass};
use crate::flood::{Baseline, Counted, Flood};
use crate::ip::IpKey;
use crate::time::rfc3339;

/// The result of analysing one or more log files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Lines read (blank lines and directives included).
    pub lines: u64,
    /// Lines that were not requests in the file's format (and overlong
    /// lines): counted, sampled, never fatal.
    pub bad_lines: u64,
    /// Requests parsed.
    pub requests: u64,
    /// Attack requests, in time order (at most `report.max_attacks`).
    pub attacks: Vec<Attack>,
    /// Floods found.
    pub floods: Vec<Flood>,
    /// Addresses to block, with their expiry and explanation.
    pub decisions: Vec<Decision>,
    /// Decisions the allowlist prevented.
    pub spared: Vec<Decision>,
    /// All attack requests (the list above may be cut).
    pub attacks_total: u64,
    /// Attacks by class, with examples.
    pub attacks_by_class: Vec<ClassSummary>,
    /// First request time.
    #[serde(serialize_with = "rfc3339::option::serialize")]
    pub first_time: Option<i64>,
    /// Last request time.
    #[serde(serialize_with = "rfc3339::option::serialize")]
    pub last_time: Option<i64>,
    /// Requests per minute over the whole span.
    pub requests_per_minute: Vec<MinuteCount>,
    /// Status classes and codes.
    pub status_mix: StatusMix,
    /// The busiest clients.
    pub top_ips: Vec<TopIp>,
    /// The most requested paths (without query).
    pub top_paths: Vec<Counted>,
    /// The most frequent user agents.
    pub top_user_agents: Vec<Counted>,
    /// True when a top list was pruned for memory (counts are then lower
    /// bounds for the values listed).
    pub top_lists_approximate: bool,
    /// Per file: format, size, problems.
    pub files: Vec<FileSummary>,
    /// Samples of bad lines.
    pub bad_line_samples: Vec<BadLine>,
    /// Time problems: lines without time, clocks that jumped back.
    pub clock: ClockReport,
    /// The learned requests-per-second baseline per site, for live
    /// detection to start from.
    pub baselines: Vec<SiteBaseline>,
}

/// Requests in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinuteCount {
    /// The minute's start.
    #[serde(rename = "minute", serialize_with = "rfc3339::serialize")]
    pub minute_ms: i64,
    /// Requests.
    pub requests: u64,
}

/// Status classes and the individual codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct StatusMix {
    /// 1xx responses.
    #[serde(rename = "1xx")]
    pub informational: u64,
    /// 2xx responses.
    #[serde(rename = "2xx")]
    pub success: u64,
    /// 3xx responses.
    #[serde(rename = "3xx")]
    pub redirect: u64,
    /// 4xx responses.
    #[serde(rename = "4xx")]
    pub client_error: u64,
    /// 5xx responses.
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// No or odd status.
    pub other: u64,
    /// Each code and its count, most frequent first.
    pub codes: Vec<(u16, u64)>,
}

/// A busy client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopIp {
    /// The address.
    pub ip: IpKey,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
    /// First request.
    #[serde(rename = "first_seen", serialize_with = "rfc3339::serialize")]
    pub first_ms: i64,
    /// Last request.
    #[serde(rename = "last_seen", serialize_with = "rfc3339::serialize")]
    pub last_ms: i64,
}

/// One attack class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassSummary {
    /// The class.
    pub class: AttackClass,
    /// Attack requests.
    pub requests: u64,
    /// Distinct clients.
    pub ips: u64,
    /// The first few.
    pub examples: Vec<Attack>,
}

/// One file of the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    /// The format used (detected when `auto`).
    pub format: String,
    /// Gzip-compressed.
    pub gzip: bool,
    /// Bytes of log text.
    pub bytes: u64,
    /// Why it ended early, if it did (truncated gzip…).
    pub broken: Option<String>,
}

/// A sample of a bad line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// The file.
    pub file: String,
    /// Byte offset of the line in the (decompressed) file.
    pub offset: u64,
    /// Why it was bad.
    pub reason: String,
    /// Its first 200 bytes, readable.
    pub sample: String,
}

/// Time problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ClockReport {
    /// Requests without a parsable time (formats without one).
    pub requests_without_time: u64,
    /// Times more than a minute earlier than the line before.
    pub backward_jumps: u64,
    /// The largest such jump, in seconds.
    pub largest_backward_jump_seconds: u64,
}

/// A site's learned baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteBaseline {
    /// The virtual host ("" when the log has none).
    pub site: String,
    /// Requests per second by hour of day.
    pub baseline: Baseline,
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}
