//! Repairs as signals, exposures and evidence for the incident store.
//!
//! A repair becomes one [`Signal`] on the root's site (an added script is a
//! web shell, everything else a defacement) with the quarantined bytes and a
//! JSON account of the repair as evidence. The signal names the plan's page
//! the file serves (`index.html` → `home`, see [`PageMap`]), so the engine
//! measures the exposure against the right indicator; a file that serves no
//! page of the plan, and a change of mode or owner only (the content did not
//! change), keep the file's path. [`exposure_for`] says when the exposure
//! began (the guard's event time) and when the guard put the approved file
//! back. Pure: the caller raises it.

use crate::pages::PageMap;
use crate::policy::Tamper;
use crate::repair::{Action, Repair};
use jiff::{SignedDuration, Timestamp};
use sitewarden_incident::{
    ExposureStart, Signal, SignalKind, SignalSource, StartBasis, timestamp_from_ms,
};
use sitewarden_store::EvidenceInput;
use std::path::Path;

/// When the tampered content of one repair could be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardExposure {
    /// The guard's event time: when it found the change (within
    /// milliseconds of the change, through inotify; at the full check
    /// after it otherwise).
    pub start: ExposureStart,
    /// When the guard had the approved version back (or the added file
    /// gone); `None` when the repair failed and the exposure goes on (a
    /// retry that succeeds ends it).
    pub restored_at: Option<Timestamp>,
}

/// How much earlier than the guard's event a file's change time must be to
/// count as a change made while nothing watched.
const UNWATCHED_GAP_MS: i64 = 1_000;

/// The exposure of a repair: from when the tampered file was in place —
/// its change time when that is earlier than the guard's event (a change
/// made while nothing watched), else the event — to the end of a
/// successful repair. A web shell is no exposure of a page (the engine
/// starts none), and ends none either.
pub fn exposure_for(repair: &Repair) -> GuardExposure {
    let detected = timestamp_from_ms(repair.detected_at_ms);
    // Within a second the guard's own event stands: that is inotify's
    // latency, not a change made while nothing watched.
    let start = match repair.changed_at_ms {
        Some(changed) if changed < repair.detected_at_ms - UNWATCHED_GAP_MS => ExposureStart {
            at: timestamp_from_ms(changed),
            basis: StartBasis::FileChanged,
        },
        _ => ExposureStart {
            at: detected,
            basis: StartBasis::GuardEvent,
        },
    };
    let repaired = !matches!(repair.action, Action::Failed) && repair.tamper != Tamper::AddedScript;
    let restored_at = repaired.then(|| {
        SignedDuration::try_from(repair.took)
            .ok()
            .and_then(|took| detected.checked_add(took).ok())
            .unwrap_or(detected)
    });
    GuardExposure { start, restored_at }
}

/// At most this many quarantined files go into the evidence register per
/// repair (a quarantined directory can hold thousands; all stay in the
/// guard's quarantine).
pub const MAX_EVIDENCE_FILES: usize = 32;

/// The signal and evidence for one repair of `root`, a web root of `site`
/// whose files serve the pages in `pages`.
pub fn signal_for(
    site: &str,
    pages: &PageMap,
    root: &Path,
    repair: &Repair,
) -> (Signal, Vec<EvidenceInput>) {
    let page = pages
        .page(&repair.path)
        .filter(|_| repair.tamper != Tamper::Metadata);
    let kind = if repair.tamper == Tamper::AddedScript {
        SignalKind::WebShell
    } else {
        SignalKind::Defacement
    };
    let score = match repair.tamper {
        Tamper::AddedScript => 100,
        Tamper::Metadata => 60,
        _ => 90,
    };
    let serves = match page {
        Some(page) if page.home => format!(" (the home page, {})", page.name),
        Some(page) => format!(" (page {})", page.name),
        None => String::new(),
    };
    let mut reasons = vec![format!(
        "guard: {}{serves} {} in {}: {} ({} µs)",
        repair.path,
        repair.tamper.as_str(),
        root.display(),
        match repair.action {
            Action::Restored => "restored",
            Action::QuarantinedAndRestored => "quarantined and restored",
            Action::Quarantined => "quarantined",
            Action::RevertedMetadata => "mode/owner reverted",
            Action::Failed => "REPAIR FAILED",
        },
        repair.took.as_micros()
    )];
    if let Some(approved) = &repair.approved {
        reasons.push(format!("approved: {approved}"));
    }
    if let Some(found) = &repair.found {
        reasons.push(format!("found: {found}"));
    }
    if let Some(error) = &repair.error {
        reasons.push(format!("error: {error}"));
    }
    reasons.push("actor: unknown (fanotify not in use)".to_string());
    let signal = Signal {
        site: site.to_string(),
        page: Some(page.map_or_else(|| repair.path.to_string(), |page| page.name.clone())),
        kind,
        source: SignalSource::Guard,
        score,
        reasons,
        observed_at_ms: repair.detected_at_ms,
        drill: false,
    };
    let mut evidence: Vec<EvidenceInput> = repair
        .quarantined
        .iter()
        .take(MAX_EVIDENCE_FILES)
        .flat_map(|item| {
            let first = EvidenceInput {
                kind: "quarantined_file".to_string(),
                content: item.bytes.as_ref().clone(),
                media_type: "application/octet-stream".to_string(),
                captured_at: repair.detected_at_ms,
                metadata: serde_json::json!({
                    "root": root.display().to_string(),
                    "path": item.path.to_string(),
                    "page": page.map(|page| page.name.clone()),
                    "kind": item.kind,
                    "blake3": item.blake3,
                    "size": item.size,
                }),
            };
            // Bytes written to the old inode after the first capture (see
            // `late`); only when the capture has finished — callers wait
            // for it with `Repair::wait_late_captures`.
            let late = item
                .late
                .as_ref()
                .and_then(|slot| slot.wait(std::time::Duration::ZERO))
                .map(|bytes| EvidenceInput {
                    kind: "quarantined_file_late_writes".to_string(),
                    content: bytes.as_ref().clone(),
                    media_type: "application/octet-stream".to_string(),
                    captured_at: repair.detected_at_ms,
                    metadata: serde_json::json!({
                        "root": root.display().to_string(),
                        "path": item.path.to_string(),
                        "kind": item.kind,
                        "blake3": crate::data::blake3_hex(&bytes),
                        "size": bytes.len(),
                        "note": "written to the file after the guard replaced or removed it",
                    }),
                });
            std::iter::once(first).chain(late)
        })
        .collect();
    evidence.push(EvidenceInput {
        kind: "guard_repair".to_string(),
        content: serde_json::to_vec_pretty(repair).unwrap_or_default(),
        media_type: "application/json".to_string(),
        captured_at: repair.detected_at_ms,
        metadata: serde_json::json!({
            "root": root.display().to_string(),
            "path": repair.path.to_string(),
            "page": page.map(|page| page.name.clone()),
            "quarantined_total": repair.quarantined.len(),
        }),
    });
    (signal, evidence)
}
