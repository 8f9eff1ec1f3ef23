//! Repairs as signals and evidence for the incident store.
//!
//! A repair becomes one [`Signal`] on the root's site (an added script is a
//! web shell, everything else a defacement) with the quarantined bytes and a
//! JSON account of the repair as evidence. Pure: the caller raises it.

use crate::policy::Tamper;
use crate::repair::{Action, Repair};
use sitewarden_incident::{Signal, SignalKind, SignalSource};
use sitewarden_store::EvidenceInput;
use std::path::Path;

/// At most this many quarantined files go into the evidence register per
/// repair (a quarantined directory can hold thousands; all stay in the
/// guard's quarantine).
pub const MAX_EVIDENCE_FILES: usize = 32;

/// The signal and evidence for one repair.
pub fn signal_for(site: &str, root: &Path, repair: &Repair) -> (Signal, Vec<EvidenceInput>) {
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
    let mut reasons = vec![format!(
        "guard: {} {} in {}: {} ({} µs)",
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
        page: Some(repair.path.to_string()),
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
            "quarantined_total": repair.quarantined.len(),
        }),
    });
    (signal, evidence)
}
