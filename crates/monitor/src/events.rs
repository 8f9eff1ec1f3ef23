//! What the monitor tells whoever is watching (the CLI, later the
//! dashboard): every check, every incident opened or joined, every recovery.

use sitewarden_analysis::Verdict;

/// One thing that happened in the monitor.
#[derive(Debug, Clone)]
pub enum MonitorEvent {
    /// A page was checked.
    Checked {
        /// Site name.
        site: String,
        /// Page name.
        page: String,
        /// The recorded verdict.
        verdict: Verdict,
        /// Score.
        score: u32,
        /// Reasons (English).
        reasons: Vec<String>,
        /// Time to full body (ms), when a response came.
        response_ms: Option<u64>,
        /// Whether the site is under a drill.
        drill: bool,
    },
    /// A signal opened a new incident.
    IncidentOpened {
        /// Incident id.
        incident_id: i64,
        /// Site name.
        site: String,
        /// Incident title.
        title: String,
        /// Whether it is a drill incident.
        drill: bool,
    },
    /// A signal joined an incident that was already open.
    SignalAttached {
        /// Incident id.
        incident_id: i64,
        /// Site name.
        site: String,
        /// Page name.
        page: String,
    },
    /// Evidence was stored for an incident.
    EvidenceStored {
        /// Incident id.
        incident_id: i64,
        /// (kind, SHA-256, size) of each item.
        items: Vec<(String, String, usize)>,
    },
    /// All pages of a site are back to normal; its open incident is recovered.
    Recovered {
        /// Incident id.
        incident_id: i64,
        /// Site name.
        site: String,
    },
    /// Something failed while recording (the check itself is never lost
    /// silently: this says what and where).
    Error {
        /// Site name.
        site: String,
        /// Page name.
        page: String,
        /// What failed.
        message: String,
    },
}
