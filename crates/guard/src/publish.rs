//! Approving versions and moving between them: baseline, publish, the
//! maintenance window, rollback, export and import.
//!
//! A new version is a scan of a tree (the live root, or a staging
//! directory) into the vault and a numbered manifest, then an atomic
//! replace of the root's `current` file. If a watcher holds the root it
//! notices the switch on its next tick, brings the live tree to the new
//! version and acknowledges it in `applied`, which these functions wait for;
//! if none runs, they bring the tree over themselves under the root's lock.
//! Export and import copy manifests and the vault content they name, and
//! verify every copied file by its BLAKE3 before reporting success;
//! [`verify`] reads the whole data directory back the same way.

use crate::data::{GuardData, RootData, RootInfo, Window, blake3_hex, now_ms, write_atomic};
use crate::error::{GuardError, Result, io_at};
use crate::manifest::{EntryKind, Manifest};
use crate::policy::Policy;
use crate::relpath::RelPath;
use crate::repair::{Approved, Repair, Repairer};
use crate::scan::scan_tree;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a new version is made of.
#[derive(Debug, Clone, Default)]
pub struct ApproveOptions {
    /// The live web root.
    pub root: PathBuf,
    /// Scan this staging tree instead of the live root.
    pub from: Option<PathBuf>,
    /// The site (default: the previous version's, else the root's name).
    pub site: Option<String>,
    /// Exclude globs (default: the previous version's).
    pub excludes: Option<Vec<String>>,
    /// Upload directories, relative (default: the previous version's).
    pub upload_dirs: Option<Vec<String>>,
    /// Who approves.
    pub approved_by: String,
    /// How it came about.
    pub note: String,
}

/// What approving made.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The new version.
    pub version: u64,
    /// Files in it.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Entries of every kind.
    pub entries: usize,
    /// Paths that vanished during the scan.
    pub vanished: u64,
    /// How long the scan took.
    pub took: Duration,
    /// How the live tree was brought to the version (publish --from, rollback).
    pub applied: Option<Applied>,
}

/// How a switch was carried out.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The running watcher acknowledged it.
    ByWatcher,
    /// No watcher ran: this process repaired the tree.
    Directly(Vec<Repair>),
}

/// Scans a tree into the vault and stores it as the root's next version,
/// which becomes current. With `from`, the live root is then brought to it.
pub fn approve(
    data: &GuardData,
    options: &ApproveOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Approval> {
    let (root_data, canonical) = data.root(&options.root)?;
    let previous = match root_data.current()? {
        Some(version) => Some(root_data.load(version)?),
        None => None,
    };
    let site = options
        .site
        .clone()
        .or_else(|| previous.as_ref().map(|m| m.site.clone()))
        .unwrap_or_else(|| {
            canonical
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "web".into())
        });
    let excludes = options
        .excludes
        .clone()
        .or_else(|| previous.as_ref().map(|m| m.excludes.clone()))
        .unwrap_or_default();
    let upload_dirs = match &options.upload_dirs {
        Some(dirs) => dirs
            .iter()
            .map(|dir| {
                RelPath::parse(dir.trim_matches('/'))
                    .map_err(|_| GuardError::BadUploadDir(dir.clone()))
            })
            .collect::<Result<Vec<_>>>()?,
        None => previous
            .as_ref()
            .map(|m| m.upload_dirs.clone())
            .unwrap_or_default(),
    };
    let policy = Policy::new(&excludes, &upload_dirs)?;
    let started = Instant::now();
    let scanned_root = options.from.as_deref().unwrap_or(&canonical);
    let output = scan_tree(scanned_root, &policy, Some(&data.vault()), progress)?;
    let mut manifest = Manifest {
        format: 1,
        version: 0,
        site: site.clone(),
        root: canonical.display().to_string(),
        approved_at_ms: now_ms(),
        approved_by: options.approved_by.clone(),
        note: options.note.clone(),
        excludes,
        upload_dirs,
        entries: output.entries,
    };
    if options.from.is_some() {
        // The live root keeps its own mode and owner; staging trees are
        // often owned by whoever built them.
        if let (Some(previous), Some(root_entry)) =
            (&previous, manifest.entries.get_mut(&RelPath::root()))
            && let Some(live_root) = previous.entries.get(&RelPath::root())
        {
            *root_entry = live_root.clone();
        }
    }
    root_data.set_info(&RootInfo {
        root: canonical.clone(),
        site,
    })?;
    let (files, bytes) = manifest.file_totals();
    let entries = manifest.entries.len();
    let saving = Instant::now();
    let version = root_data.save_new(&mut manifest)?;
    root_data.set_current(version)?;
    tracing::debug!(
        version,
        "manifest written and made current in {:.3} s",
        saving.elapsed().as_secs_f64()
    );
    root_data.clear_window()?;
    let applied = if options.from.is_some() {
        Some(apply(data, &root_data, &canonical, version)?)
    } else {
        None
    };
    Ok(Approval {
        version,
        files,
        bytes,
        entries,
        vanished: output.vanished,
        took: started.elapsed(),
        applied,
    })
}

/// Makes an existing version current again and brings the live root to it.
pub fn rollback(data: &GuardData, root: &Path, version: u64) -> Result<Applied> {
    let (root_data, canonical) = data.root(root)?;
    let manifest = root_data.load(version)?;
    verify_manifest_content(data, &manifest)?;
    root_data.set_current(version)?;
    root_data.clear_window()?;
    apply(data, &root_data, &canonical, version)
}

/// Opens a maintenance window of `minutes`: a running watcher repairs
/// nothing until it ends; then the live tree must be approved (`publish`)
/// or it is brought back to the approved version.
pub fn open_window(data: &GuardData, root: &Path, minutes: u64, opened_by: &str) -> Result<Window> {
    let (root_data, canonical) = data.root(root)?;
    if root_data.current()?.is_none() {
        return Err(GuardError::NoBaseline {
            root: canonical.display().to_string(),
        });
    }
    let now = now_ms();
    let window = Window {
        opened_at_ms: now,
        until_ms: now + (minutes.min(7 * 24 * 60) as i64) * 60_000,
        opened_by: opened_by.to_string(),
    };
    root_data.set_window(&window)?;
    Ok(window)
}

/// Every file a manifest names must be in the vault with the right bytes.
fn verify_manifest_content(data: &GuardData, manifest: &Manifest) -> Result<()> {
    let vault = data.vault();
    let hashes: BTreeSet<&str> = manifest
        .entries
        .values()
        .filter_map(|e| e.kind.blake3())
        .collect();
    for hash in hashes {
        vault.get(hash)?;
    }
    Ok(())
}

/// Waits for the running watcher to acknowledge `version`, or repairs the
/// tree here when no watcher holds the root.
fn apply(
    data: &GuardData,
    root_data: &RootData,
    canonical: &Path,
    version: u64,
) -> Result<Applied> {
    if let Some(_lock) = root_data.try_lock()? {
        let approved = Arc::new(Approved::new(root_data.load(version)?)?);
        let mut repairer = Repairer::new(canonical, approved, data.vault(), data.quarantine())?;
        return Ok(Applied::Directly(repairer.check_all()));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if root_data.applied() == Some(version) {
            return Ok(Applied::ByWatcher);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(GuardError::Busy(format!(
        "version {version} of {} is current, but the running watcher has not applied it within 60 s",
        canonical.display()
    )))
}

/// What an export or import copied.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Roots.
    pub roots: usize,
    /// Manifests.
    pub manifests: usize,
    /// Vault files copied or already present and verified.
    pub vault_files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// The manifests of one root in a guard directory (`DATA/guard` or an
/// export): file name, bytes as stored, and what they say.
type StoredManifests = Vec<(std::ffi::OsString, Vec<u8>, Manifest)>;

/// Every root directory of a guard directory with its manifests.
fn stored_manifests(guard_dir: &Path) -> Result<Vec<(std::ffi::OsString, StoredManifests)>> {
    let roots_dir = guard_dir.join("roots");
    let mut roots = Vec::new();
    for entry in fs::read_dir(&roots_dir).map_err(io_at(&roots_dir))? {
        let entry = entry.map_err(io_at(&roots_dir))?;
        let manifests_dir = entry.path().join("manifests");
        let Ok(listing) = fs::read_dir(&manifests_dir) else {
            continue;
        };
        let mut manifests = Vec::new();
        for manifest_entry in listing {
            let manifest_entry = manifest_entry.map_err(io_at(&manifests_dir))?;
            let path = manifest_entry.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io_at(&path))?;
            let manifest: Manifest =
                serde_json::from_slice(&bytes).map_err(|source| GuardError::BadManifest {
                    path: path.clone(),
                    source,
                })?;
            manifests.push((manifest_entry.file_name(), bytes, manifest));
        }
        manifests.sort_by(|a, b| a.0.cmp(&b.0));
        roots.push((entry.file_name(), manifests));
    }
    Ok(roots)
}

/// The distinct content hashes a manifest names.
fn content_hashes(manifest: &Manifest) -> BTreeSet<String> {
    manifest
        .entries
        .values()
        .filter_map(|e| match &e.kind {
            EntryKind::File { blake3, .. } => Some(blake3.clone()),
            _ => None,
        })
        .collect()
}

/// Where an export keeps one content: a file of its own, so an export can
/// be read (and checked) with nothing but `b3sum`.
fn exported_path(base: &Path, blake3: &str) -> Result<PathBuf> {
    if blake3.len() != 64 || !blake3.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(GuardError::Verify(format!(
            "{blake3:?} is not a BLAKE3 digest"
        )));
    }
    Ok(base
        .join("vault/blake3")
        .join(&blake3[..2])
        .join(&blake3[2..]))
}

/// Writes the manifests of one root (after their content is durable) and
/// its `root.json` and `current` when the destination has none. A version
/// already at the destination must be identical.
fn write_manifests(from_root: &Path, to_root: &Path, manifests: &StoredManifests) -> Result<usize> {
    for (name, bytes, _) in manifests {
        let destination = to_root.join("manifests").join(name);
        match fs::read(&destination) {
            Ok(existing) if &existing == bytes => {}
            Ok(_) => {
                return Err(GuardError::Verify(format!(
                    "{} already exists with different content; refusing to overwrite a version",
                    destination.display()
                )));
            }
            Err(_) => write_atomic(&destination, bytes, true)?,
        }
    }
    for name in ["root.json", "current"] {
        let source_file = from_root.join(name);
        let target_file = to_root.join(name);
        if source_file.exists() && !target_file.exists() {
            let bytes = fs::read(&source_file).map_err(io_at(&source_file))?;
            write_atomic(&target_file, &bytes, true)?;
        }
    }
    Ok(manifests.len())
}

/// Makes every file written so far on the file system holding `dir`
/// durable (one `syncfs` rather than one fsync per content file).
fn sync_file_system(dir: &Path) -> Result<()> {
    let handle = fs::File::open(dir).map_err(io_at(dir))?;
    rustix::fs::syncfs(&handle).map_err(|error| GuardError::Io {
        path: dir.to_path_buf(),
        source: error.into(),
    })
}

/// Copies every version and its content to `to` (a backup disk, another
/// server's mount) and verifies the copy: each content is read from the
/// vault (which checks its BLAKE3), written as a file of its own, read
/// back and checked again. Content is made durable before the manifests
/// that name it are written.
pub fn export(data: &GuardData, to: &Path) -> Result<CopyReport> {
    fs::create_dir_all(to).map_err(io_at(to))?;
    let vault = data.vault();
    let mut report = CopyReport::default();
    for (id, manifests) in stored_manifests(data.dir())? {
        report.roots += 1;
        let mut sizes: std::collections::HashMap<String, u64> = Default::default();
        for (_, _, manifest) in &manifests {
            for hash in content_hashes(manifest) {
                let size = match sizes.get(&hash) {
                    Some(size) => *size,
                    None => {
                        let target = exported_path(to, &hash)?;
                        let size = match fs::read(&target) {
                            Ok(existing) if blake3_hex(&existing) == hash => existing.len() as u64,
                            _ => {
                                let bytes = vault.get(&hash)?;
                                write_atomic(&target, &bytes, false)?;
                                let check = fs::read(&target).map_err(io_at(&target))?;
                                if blake3_hex(&check) != hash {
                                    return Err(GuardError::Verify(format!(
                                        "{} does not read back as {hash}",
                                        target.display()
                                    )));
                                }
                                bytes.len() as u64
                            }
                        };
                        sizes.insert(hash, size);
                        size
                    }
                };
                report.vault_files += 1;
                report.bytes += size;
            }
        }
        sync_file_system(to)?;
        report.manifests += write_manifests(
            &data.dir().join("roots").join(&id),
            &to.join("roots").join(&id),
            &manifests,
        )?;
    }
    let summary = serde_json::json!({
        "format": 1,
        "exported_at_ms": now_ms(),
        "roots": report.roots,
        "manifests": report.manifests,
        "vault_files": report.vault_files,
        "bytes": report.bytes,
    });
    write_atomic(
        &to.join("EXPORT.json"),
        &serde_json::to_vec_pretty(&summary).unwrap_or_default(),
        true,
    )?;
    Ok(report)
}

/// Copies an export back into the data directory, verifying every file:
/// content the vault lacks is checked against its BLAKE3 and packed (made
/// durable) before the manifests naming it are written. A root with no
/// current version gets the export's.
pub fn import(data: &GuardData, from: &Path) -> Result<CopyReport> {
    if !from.join("roots").is_dir() {
        return Err(GuardError::Verify(format!(
            "{} is not a guard export (no roots/)",
            from.display()
        )));
    }
    let vault = data.vault();
    let mut report = CopyReport::default();
    for (id, manifests) in stored_manifests(from)? {
        report.roots += 1;
        let writer = vault.writer()?;
        let mut sizes: std::collections::HashMap<String, u64> = Default::default();
        for (_, _, manifest) in &manifests {
            for hash in content_hashes(manifest) {
                let size = match sizes.get(&hash) {
                    Some(size) => *size,
                    None => {
                        let size = match vault.get(&hash) {
                            Ok(bytes) => bytes.len() as u64,
                            Err(_) => {
                                let source = exported_path(from, &hash)?;
                                let bytes = fs::read(&source).map_err(io_at(&source))?;
                                let actual = blake3::hash(&bytes);
                                if actual.to_hex().as_str() != hash {
                                    return Err(GuardError::CorruptVault {
                                        blake3: hash,
                                        path: source,
                                        actual: actual.to_hex().to_string(),
                                    });
                                }
                                writer.add(actual.as_bytes(), &bytes)?;
                                bytes.len() as u64
                            }
                        };
                        sizes.insert(hash, size);
                        size
                    }
                };
                report.vault_files += 1;
                report.bytes += size;
            }
        }
        writer.finish()?;
        report.manifests += write_manifests(
            &from.join("roots").join(&id),
            &data.dir().join("roots").join(&id),
            &manifests,
        )?;
    }
    Ok(report)
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Contents in the vault that verified.
    pub contents: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Roots with versions.
    pub roots: usize,
    /// Versions (manifests) checked.
    pub versions: usize,
    /// Everything wrong, one line each; empty when all is well.
    pub problems: Vec<String>,
}

/// Checks the guard's data as a whole, reading everything back: every
/// content in the vault against its BLAKE3; every version of every root
/// parses, is numbered as its file, and names only content that verified;
/// every `current` names an existing version. This is what must hold after
/// a crash at any moment (see `scan`, `pack`, `data`).
pub fn verify(data: &GuardData) -> Result<Verification> {
    let (verified, bytes, mut problems) = data.vault().verify()?;
    let mut report = Verification {
        contents: verified.len(),
        bytes,
        ..Default::default()
    };
    let roots_dir = data.dir().join("roots");
    for entry in fs::read_dir(&roots_dir).map_err(io_at(&roots_dir))? {
        let root_dir = entry.map_err(io_at(&roots_dir))?.path();
        let mut versions = BTreeSet::new();
        if let Ok(listing) = fs::read_dir(root_dir.join("manifests")) {
            for manifest_entry in listing.filter_map(|entry| entry.ok()) {
                let path = manifest_entry.path();
                let Some(number) = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .and_then(|name| name.strip_suffix(".json"))
                    .and_then(|number| number.parse::<u64>().ok())
                else {
                    continue;
                };
                report.versions += 1;
                let manifest: Manifest = match fs::read(&path)
                    .map_err(|error| error.to_string())
                    .and_then(|bytes| {
                        serde_json::from_slice(&bytes).map_err(|error| error.to_string())
                    }) {
                    Ok(manifest) => manifest,
                    Err(error) => {
                        problems.push(format!("{}: {error}", path.display()));
                        continue;
                    }
                };
                versions.insert(number);
                if manifest.version != number {
                    problems.push(format!(
                        "{} says it is version {}",
                        path.display(),
                        manifest.version
                    ));
                }
                for (file, entry) in &manifest.entries {
                    if let Some(hash) = entry.kind.blake3()
                        && !verified.contains(hash)
                    {
                        problems.push(format!(
                            "{}: {file} names content {hash}, which the vault lacks or which does not verify",
                            path.display()
                        ));
                    }
                }
            }
        }
        if !versions.is_empty() {
            report.roots += 1;
        }
        let current = root_dir.join("current");
        match fs::read_to_string(&current) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(version) if versions.contains(&version) => {}
                _ => problems.push(format!(
                    "{} names version {:?}, which does not exist",
                    current.display(),
                    text.trim()
                )),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => problems.push(format!("{}: {source}", current.display())),
        }
    }
    report.problems = problems;
    Ok(report)
}
