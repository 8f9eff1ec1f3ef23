//! The web-root integrity guard (防篡改): it records an approved version of a
//! web root (a manifest of every file, directory and link, with the content
//! in a content-addressed vault), watches the live root, and on any change
//! puts the approved version back within milliseconds, keeping what the
//! attacker left in a quarantine as evidence.
//!
//! Modules, each with one job: `relpath` (paths as bytes), `manifest`
//! (versions and their diff, pure), `pack` (the vault's content packed
//! into a few files), `policy` (what to do about one path,
//! pure), `fsops` (openat-style file operations that never follow a
//! symlink), `data` (the guard's files in the data directory), `scan`
//! (reading a whole tree), `repair` (bringing a tree back to its version),
//! `watch` (inotify events → repairs, rescans, version switches),
//! `pages` (which of the plan's pages a file serves), `report` (repairs →
//! signals, their exposure and evidence), `service` (a watcher and the
//! task that raises its repairs in the store, for `guard watch` and
//! `serve`), `publish` (baseline,
//! publish, maintenance windows, rollback, export, import and verify).
//!
//! The guard does not decide incidents: each repair becomes a
//! [`sitewarden_incident::Signal`] that the store folds into the site's
//! incident. It does not know who made a change (fanotify is not used yet:
//! the actor is reported as unknown).

mod data;
mod error;
mod fsops;
mod late;
mod manifest;
mod pack;
mod pages;
mod policy;
mod publish;
mod relpath;
mod repair;
mod report;
mod scan;
mod service;
mod watch;

pub use data::{
    GuardData, Quarantine, QuarantineRecord, RootData, RootInfo, Vault, VaultLocation, Window,
    blake3_hex, now_ms,
};
pub use error::{GuardError, Result};
pub use manifest::{Change, Entry, EntryKind, Manifest, diff};
pub use pages::{MappedPage, PageMap};
pub use policy::{Decision, Policy, SCRIPT_EXTENSIONS, Tamper, decide, is_script};
pub use publish::{
    Applied, Approval, ApproveOptions, CopyReport, Verification, approve, export, import,
    open_window, rollback, verify,
};
pub use relpath::{RelPath, RelPathError};
pub use repair::{Action, Approved, Quarantined, Repair, Repairer};
pub use report::{GuardExposure, MAX_EVIDENCE_FILES, exposure_for, signal_for};
pub use scan::{ScanOutput, scan_tree};
pub use service::{GuardReport, GuardSummary, guard_root};
pub use watch::{WatchConfig, WatchEvent, watch};
