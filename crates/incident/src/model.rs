//! Plain types shared by the detectors, the store and (later) the incident
//! engine: signals and incident states.

use serde::{Deserialize, Serialize};
use sitewarden_plan::IncidentKind;
use std::fmt;
use std::str::FromStr;

/// What a detector observed, in the plan's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A page's content was tampered with (网页篡改): defaced text, hidden
    /// links, injected scripts or iframes, redirects, cloaked spam.
    Defacement,
    /// A page could not be fetched, or answered with an error, for as many
    /// consecutive checks as the plan allows.
    Unavailable,
    /// A script file appeared in a web root (a web shell, 网页木马/后门).
    WebShell,
    /// Hidden links (暗链, SEO spam) were planted in a page: tampering that
    /// visitors do not see.
    HiddenLinks,
    /// A traffic flood (DDoS), as the logs or a person report it.
    Ddos,
    /// Anything else a person reports.
    Other,
}

impl SignalKind {
    /// Stable name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Defacement => "defacement",
            SignalKind::Unavailable => "unavailable",
            SignalKind::WebShell => "web_shell",
            SignalKind::HiddenLinks => "hidden_links",
            SignalKind::Ddos => "ddos",
            SignalKind::Other => "other",
        }
    }

    /// Every kind.
    pub const ALL: [SignalKind; 6] = [
        SignalKind::Defacement,
        SignalKind::Unavailable,
        SignalKind::WebShell,
        SignalKind::HiddenLinks,
        SignalKind::Ddos,
        SignalKind::Other,
    ];

    /// The plan's name for this kind, which its playbooks, level rules and
    /// escalation chains use.
    pub fn plan_kind(self) -> IncidentKind {
        match self {
            SignalKind::Defacement => IncidentKind::Defacement,
            SignalKind::Unavailable => IncidentKind::Unavailable,
            SignalKind::WebShell => IncidentKind::WebShell,
            SignalKind::HiddenLinks => IncidentKind::HiddenLinks,
            SignalKind::Ddos => IncidentKind::Ddos,
            SignalKind::Other => IncidentKind::Other,
        }
    }

    /// Whether a signal of this kind on one site and an incident of `other`
    /// on another can be one attack on several sites: the same kind, with
    /// defacement and hidden links counted as one (both tamper with pages).
    pub fn correlates_with(self, other: SignalKind) -> bool {
        self == other || (self.is_tampering() && other.is_tampering())
    }

    /// Whether the kind is tampered content that visitors could be served,
    /// whose exposure the grading guide measures.
    pub fn is_tampering(self) -> bool {
        matches!(self, SignalKind::Defacement | SignalKind::HiddenLinks)
    }

    /// How serious the kind is when signals of different kinds meet in one
    /// incident: the incident takes the classification of the worst one.
    pub fn severity(self) -> u8 {
        match self {
            SignalKind::Other => 0,
            SignalKind::Unavailable => 1,
            SignalKind::Ddos => 2,
            SignalKind::HiddenLinks => 3,
            SignalKind::Defacement => 4,
            SignalKind::WebShell => 5,
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The stable names, and the spellings a person types on the command
        // line (`--kind hidden-links`, `webshell`, `outage`).
        match s {
            "defacement" => Ok(SignalKind::Defacement),
            "unavailable" | "outage" => Ok(SignalKind::Unavailable),
            "web_shell" | "web-shell" | "webshell" => Ok(SignalKind::WebShell),
            "hidden_links" | "hidden-links" => Ok(SignalKind::HiddenLinks),
            "ddos" => Ok(SignalKind::Ddos),
            "other" => Ok(SignalKind::Other),
            other => Err(format!(
                "unknown incident kind {other:?}: expected defacement, hidden_links, web_shell, \
                 ddos, unavailable or other"
            )),
        }
    }
}

/// Which sensor produced a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// The remote probe (HTTP checks from outside).
    Probe,
    /// The web-root integrity guard on the server itself.
    Guard,
    /// The access-log watcher.
    Logwatch,
    /// A person reported it.
    Manual,
    /// The gateway caught a tampered response in flight.
    Gateway,
}

impl SignalSource {
    /// Stable name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalSource::Probe => "probe",
            SignalSource::Guard => "guard",
            SignalSource::Logwatch => "logwatch",
            SignalSource::Manual => "manual",
            SignalSource::Gateway => "gateway",
        }
    }
}

/// One observation with a verdict and the reasons for it, ready to be folded
/// into an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name within the site, when the signal is about a page.
    pub page: Option<String>,
    /// What was observed.
    pub kind: SignalKind,
    /// Which sensor saw it.
    pub source: SignalSource,
    /// The detector's score, 0–100.
    pub score: u32,
    /// Human-readable reasons, most important first.
    pub reasons: Vec<String>,
    /// When it was observed (Unix milliseconds): the time of discovery for a
    /// new incident.
    pub observed_at_ms: i64,
    /// True when the signal comes from a drill, so the incident is marked as
    /// one and never mistaken for a real attack.
    pub drill: bool,
}

/// Where an incident stands in the plan's procedure (PLAN §4–§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Found; nothing done yet.
    Detected,
    /// The site is cut off from external service (or the threat blocked).
    Contained,
    /// The initial report went up.
    Reported,
    /// Risk assessed and level decided.
    Assessed,
    /// Pages being restored, service coming back.
    Recovering,
    /// Service restored and verified.
    Recovered,
    /// The investigation and assessment report is written.
    Reviewed,
    /// Nothing more to do.
    Closed,
}

impl IncidentState {
    /// All states in procedural order.
    pub const ALL: [IncidentState; 8] = [
        IncidentState::Detected,
        IncidentState::Contained,
        IncidentState::Reported,
        IncidentState::Assessed,
        IncidentState::Recovering,
        IncidentState::Recovered,
        IncidentState::Reviewed,
        IncidentState::Closed,
    ];

    /// Stable name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Detected => "detected",
            IncidentState::Contained => "contained",
            IncidentState::Reported => "reported",
            IncidentState::Assessed => "assessed",
            IncidentState::Recovering => "recovering",
            IncidentState::Recovered => "recovered",
            IncidentState::Reviewed => "reviewed",
            IncidentState::Closed => "closed",
        }
    }

    /// The state's name in the plan's own language.
    pub fn name_zh(self) -> &'static str {
        match self {
            IncidentState::Detected => "已发现",
            IncidentState::Contained => "已处置隔离",
            IncidentState::Reported => "已报告",
            IncidentState::Assessed => "已评估定级",
            IncidentState::Recovering => "恢复中",
            IncidentState::Recovered => "已恢复",
            IncidentState::Reviewed => "已总结评估",
            IncidentState::Closed => "已关闭",
        }
    }

    /// An incident still takes new signals until its service is recovered:
    /// a page defaced again while the first defacement is being handled is
    /// the same incident, one defaced after recovery is a new one.
    pub fn takes_new_signals(self) -> bool {
        matches!(
            self,
            IncidentState::Detected
                | IncidentState::Contained
                | IncidentState::Reported
                | IncidentState::Assessed
                | IncidentState::Recovering
        )
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IncidentState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown incident state {s:?}"))
    }
}

/// What folding needs to know about an incident that is already open.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    /// The incident's id in the store.
    pub id: i64,
    /// The site it was opened for.
    pub site: String,
    /// Every site it covers, the first one first.
    pub sites: Vec<String>,
    /// When it was discovered (Unix milliseconds).
    pub discovered_at_ms: i64,
    /// The kind of its most serious signal so far.
    pub kind: SignalKind,
    /// Where it stands.
    pub state: IncidentState,
    /// Whether it is a drill.
    pub drill: bool,
}
