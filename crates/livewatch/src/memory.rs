//! What the live detector has learned, kept across restarts of `serve` in
//! `DATA/logwatch-memory.json` ([`sitewarden_logwatch::LiveMemory`]): the
//! site's own scripts and the web-shell learning period's start, recent
//! uploads, scripts already reported, and each site's flood baseline.
//! Without it every restart would open a new learning hour, in which a web
//! shell planted before the restart is learned as one of the site's own.
//!
//! Saved every minute and when the watch stops, replaced atomically. A
//! file that cannot be read is set aside as `….bad` (kept for a person to
//! look at) and the detector starts afresh, saying so.

use std::path::{Path, PathBuf};

use sitewarden_logwatch::LiveMemory;
use sitewarden_logwatch::tail::write_json_atomically;

/// The file, in the data directory.
pub const MEMORY_FILE: &str = "logwatch-memory.json";

/// Where the memory is kept for `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(MEMORY_FILE)
}

/// The saved memory, if there is a readable one.
pub fn load(data_dir: &Path) -> Option<LiveMemory> {
    let path = path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(
                "logwatch: cannot read {}: {error}; learning afresh",
                path.display()
            );
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(memory) => Some(memory),
        Err(error) => {
            let bad = path.with_extension("json.bad");
            let kept = std::fs::rename(&path, &bad).is_ok();
            tracing::warn!(
                "logwatch: {} is not a saved memory ({error}); learning afresh{}",
                path.display(),
                if kept {
                    format!(", the file kept as {}", bad.display())
                } else {
                    String::new()
                }
            );
            None
        }
    }
}

/// Saves `memory`; a failure is said, not fatal (detection goes on).
pub fn save(data_dir: &Path, memory: &LiveMemory) {
    let path = path(data_dir);
    if let Err(error) = write_json_atomically(&path, memory) {
        tracing::warn!("logwatch: saving {}: {error}", path.display());
    }
}
