//! The guard's part of the data directory (`DATA/guard/`).
//!
//! ```text
//! guard/vault/packs/<name>.pack, .idx  approved content, once per BLAKE3 (see `pack`)
//! guard/vault/blake3/ab/cdef…          approved content stored one file each
//!                                      (older data directories; still read)
//! guard/quarantine/blake3/ab/cdef…     attackers' bytes, once per BLAKE3
//! guard/quarantine/log.jsonl           one line per quarantined item
//! guard/roots/<id>/root.json           the root's path and site
//! guard/roots/<id>/manifests/000001.json   numbered approved versions
//! guard/roots/<id>/current             the approved version the guard enforces
//! guard/roots/<id>/window.json         an open maintenance window, if any
//! guard/roots/<id>/applied             the version a running watcher enforces
//! guard/roots/<id>/watch.lock          held (flock) by the running watcher
//! ```
//!
//! `<id>` is the first 16 hex digits of the BLAKE3 of the root's canonical
//! path. Every file is written temp → fsync → rename, so a crash leaves the
//! old or the new file, never half of one; a manifest is written only after
//! every vault content it names is on disk ([`VaultWriter::finish`]). This
//! module does not decide what to restore; it only keeps the files.

use crate::error::{GuardError, Result, io_at};
use crate::manifest::Manifest;
use crate::pack::{PackSet, PackWriter};
use crate::relpath::RelPath;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The guard's data directory.
#[derive(Debug, Clone)]
pub struct GuardData {
    dir: PathBuf,
    vault: Vault,
}

/// Content-addressed approved content. Clones share what has been read of
/// the packs' indexes.
#[derive(Debug, Clone)]
pub struct Vault {
    dir: PathBuf,
    packs: Arc<Mutex<PackSet>>,
}

/// Where one content is kept in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultLocation {
    /// Inside a pack.
    Packed {
        /// The pack file.
        pack: PathBuf,
        /// Where its bytes start.
        offset: u64,
        /// How many there are.
        len: u64,
    },
    /// A file of its own (data directories written before packs).
    Loose(PathBuf),
}

/// Content-addressed attackers' bytes and their log.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

/// The files of one guarded root.
#[derive(Debug, Clone)]
pub struct RootData {
    dir: PathBuf,
    /// The id (directory name).
    pub id: String,
}

/// What `root.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootInfo {
    /// The root's canonical path.
    pub root: PathBuf,
    /// The plan's site name.
    pub site: String,
}

/// An open maintenance window: changes are not repaired until it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// When it was opened (Unix ms).
    pub opened_at_ms: i64,
    /// When it ends (Unix ms).
    pub until_ms: i64,
    /// Who opened it.
    pub opened_by: String,
}

/// One line of `quarantine/log.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// When (Unix ms).
    pub at_ms: i64,
    /// The root.
    pub root: PathBuf,
    /// The path inside the root.
    pub path: RelPath,
    /// What it was: `file`, `symlink` (content = the link target), `special`.
    pub kind: String,
    /// BLAKE3 of the quarantined bytes (their name in the quarantine).
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
    /// Why (`modified`, `added_script`…).
    pub reason: String,
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes a file temp → (fsync) → rename. `durable` also fsyncs the file
/// and its directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    let temp = temp_path(dir);
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&temp, path)?;
        if durable {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(io_at(path))
}

/// The BLAKE3 of some bytes as lowercase hex.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn content_path(dir: &Path, blake3: &str) -> Option<PathBuf> {
    if blake3.len() != 64 || !blake3.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(dir.join("blake3").join(&blake3[..2]).join(&blake3[2..]))
}

impl GuardData {
    /// Opens (creating) `DATA/guard`.
    pub fn open(data_dir: &Path) -> Result<GuardData> {
        let dir = data_dir.join("guard");
        for sub in ["vault/packs", "quarantine/blake3", "roots"] {
            fs::create_dir_all(dir.join(sub)).map_err(io_at(dir.join(sub)))?;
        }
        let vault = Vault {
            dir: dir.join("vault"),
            packs: Arc::default(),
        };
        Ok(GuardData { dir, vault })
    }

    /// Where it is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The vault (sharing what this `GuardData` has read of it).
    pub fn vault(&self) -> Vault {
        self.vault.clone()
    }

    /// The quarantine.
    pub fn quarantine(&self) -> Quarantine {
        Quarantine {
            dir: self.dir.join("quarantine"),
        }
    }

    /// The files of the root at `root` (which must exist: its canonical path
    /// names it).
    pub fn root(&self, root: &Path) -> Result<(RootData, PathBuf)> {
        let canonical = fs::canonicalize(root).map_err(io_at(root))?;
        let digest = blake3::hash(canonical.as_os_str().as_encoded_bytes());
        let id = digest.to_hex()[..16].to_string();
        Ok((
            RootData {
                dir: self.dir.join("roots").join(&id),
                id,
            },
            canonical,
        ))
    }

    /// Every root that has a `root.json`, with what it says.
    pub fn roots(&self) -> Result<Vec<(RootData, RootInfo)>> {
        let roots_dir = self.dir.join("roots");
        let mut roots = Vec::new();
        for entry in fs::read_dir(&roots_dir).map_err(io_at(&roots_dir))? {
            let entry = entry.map_err(io_at(&roots_dir))?;
            let data = RootData {
                dir: entry.path(),
                id: entry.file_name().to_string_lossy().into_owned(),
            };
            if let Some(info) = data.info()? {
                roots.push((data, info));
            }
        }
        roots.sort_by(|a, b| a.1.root.cmp(&b.1.root));
        Ok(roots)
    }
}

impl Vault {
    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn packs_dir(&self) -> PathBuf {
        self.dir.join("packs")
    }

    fn pack_set(&self) -> std::sync::MutexGuard<'_, PackSet> {
        self.packs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the indexes of packs written since this vault last looked
    /// (by another process, or before this one started). `get` does it by
    /// itself when a content is not found; a watcher calls it at start so
    /// its first restore does not wait for it.
    pub fn refresh(&self) -> Result<()> {
        let dir = self.packs_dir();
        self.pack_set().refresh(&dir).map_err(io_at(dir))
    }

    /// Where the content with this hash is kept, if it is.
    pub fn locate(&self, blake3: &str) -> Option<VaultLocation> {
        let hash = parse_blake3(blake3)?;
        if let Some((pack, entry)) = self.find_packed(&hash) {
            return Some(VaultLocation::Packed {
                pack: pack.path.clone(),
                offset: entry.offset,
                len: entry.len,
            });
        }
        let loose = content_path(&self.dir, blake3)?;
        loose.exists().then_some(VaultLocation::Loose(loose))
    }

    fn find_packed(
        &self,
        hash: &[u8; 32],
    ) -> Option<(Arc<crate::pack::Pack>, crate::pack::IndexEntry)> {
        let mut set = self.pack_set();
        if let Some(found) = set.find(hash) {
            return Some(found);
        }
        // Perhaps in a pack written since: look again.
        if let Err(error) = set.refresh(&self.packs_dir()) {
            tracing::warn!("cannot list the vault's packs: {error}");
        }
        set.find(hash)
    }

    /// Reads content back, refusing it when its bytes no longer match its hash.
    pub fn get(&self, blake3: &str) -> Result<Vec<u8>> {
        let missing = |path: PathBuf| GuardError::MissingVault {
            blake3: blake3.to_string(),
            path,
        };
        let Some(hash) = parse_blake3(blake3) else {
            return Err(missing(self.dir.clone()));
        };
        let mut refused = None;
        if let Some((pack, entry)) = self.find_packed(&hash) {
            match pack.read(&entry) {
                Ok(bytes) if blake3::hash(&bytes).as_bytes() == &hash => return Ok(bytes),
                Ok(bytes) => {
                    refused = Some(GuardError::CorruptPack {
                        blake3: blake3.to_string(),
                        pack: pack.path.clone(),
                        offset: entry.offset,
                        actual: blake3_hex(&bytes),
                    })
                }
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                    refused = Some(GuardError::CorruptPack {
                        blake3: blake3.to_string(),
                        pack: pack.path.clone(),
                        offset: entry.offset,
                        actual: "(the pack is cut short)".into(),
                    })
                }
                Err(source) => {
                    refused = Some(GuardError::Io {
                        path: pack.path.clone(),
                        source,
                    })
                }
            }
        }
        // A copy of its own (an older data directory), which may also
        // stand in for a damaged packed copy.
        let path = content_path(&self.dir, blake3).ok_or_else(|| missing(self.dir.clone()))?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(refused.unwrap_or_else(|| missing(self.packs_dir())));
            }
            Err(source) => return Err(refused.unwrap_or(GuardError::Io { path, source })),
        };
        let actual = blake3_hex(&bytes);
        if actual != blake3 {
            return Err(refused.unwrap_or(GuardError::CorruptVault {
                blake3: blake3.to_string(),
                path,
                actual,
            }));
        }
        Ok(bytes)
    }

    /// Reads every stored content back and checks it against its BLAKE3:
    /// every pack with an index (a pack left without one by a crash is not
    /// part of the vault) and every file of its own. Returns the hashes that
    /// verified, their total size, and one line per problem.
    pub fn verify(&self) -> Result<(HashSet<String>, u64, Vec<String>)> {
        self.refresh()?;
        let (packs, unreadable) = {
            let set = self.pack_set();
            (set.packs().to_vec(), set.unreadable().to_vec())
        };
        let mut problems: Vec<String> = unreadable
            .iter()
            .map(|(path, error)| format!("{}: {error}", path.display()))
            .collect();
        let (mut verified, mut bytes) = (HashSet::new(), 0);
        for pack in packs {
            match pack.verify() {
                Ok((good, size, found)) => {
                    verified.extend(good);
                    bytes += size;
                    problems.extend(found);
                }
                Err(error) => problems.push(format!("{}: {error}", pack.path.display())),
            }
        }
        for hash in self.loose_hashes() {
            let hex = blake3::Hash::from_bytes(hash).to_hex().to_string();
            let path = content_path(&self.dir, &hex).expect("a hex digest");
            match fs::read(&path) {
                Ok(content) if blake3::hash(&content).as_bytes() == &hash => {
                    bytes += content.len() as u64;
                    verified.insert(hex);
                }
                Ok(content) => problems.push(format!(
                    "{hex} ({}): its bytes hash to {}",
                    path.display(),
                    blake3_hex(&content)
                )),
                Err(error) => problems.push(format!("{hex} ({}): {error}", path.display())),
            }
        }
        Ok((verified, bytes, problems))
    }

    /// Starts adding content (one approval, export import): see
    /// [`VaultWriter`].
    pub(crate) fn writer(&self) -> Result<VaultWriter> {
        self.refresh()?;
        let packs_dir = self.packs_dir();
        let pack = PackWriter::create(&packs_dir).map_err(io_at(&packs_dir))?;
        Ok(VaultWriter {
            vault: self.clone(),
            loose: self.loose_hashes(),
            pack,
        })
    }

    /// The hashes stored as files of their own (older data directories),
    /// read once per approval instead of one `stat` per file.
    fn loose_hashes(&self) -> HashSet<[u8; 32]> {
        let mut hashes = HashSet::new();
        let Ok(prefixes) = fs::read_dir(self.dir.join("blake3")) else {
            return hashes;
        };
        for prefix in prefixes.filter_map(|entry| entry.ok()) {
            let prefix_name = prefix.file_name().to_string_lossy().into_owned();
            let Ok(files) = fs::read_dir(prefix.path()) else {
                continue;
            };
            for file in files.filter_map(|entry| entry.ok()) {
                let name = format!("{prefix_name}{}", file.file_name().to_string_lossy());
                if let Some(hash) = parse_blake3(&name) {
                    hashes.insert(hash);
                }
            }
        }
        hashes
    }
}

/// Adds content to the vault for one approval, from several threads at
/// once: content already in the vault is skipped with an in-memory lookup,
/// new content is appended to one new pack. Nothing is visible, and no
/// manifest may name it, until [`VaultWriter::finish`] has made it durable;
/// dropped unfinished, it leaves nothing behind.
pub(crate) struct VaultWriter {
    vault: Vault,
    loose: HashSet<[u8; 32]>,
    pack: PackWriter,
}

impl VaultWriter {
    /// Whether the vault already holds this content.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.loose.contains(hash) || self.vault.pack_set().find(hash).is_some()
    }

    /// Stores `bytes` under their BLAKE3 `hash` (computed by the caller)
    /// unless the vault has them.
    pub fn add(&self, hash: &[u8; 32], bytes: &[u8]) -> Result<()> {
        if self.contains(hash) {
            return Ok(());
        }
        self.pack
            .add(hash, bytes)
            .map_err(io_at(self.vault.packs_dir()))
    }

    /// Makes everything added durable and visible to this process's vault.
    /// Only after this returns may a manifest naming the content be written.
    pub fn finish(self) -> Result<()> {
        let dir = self.vault.packs_dir();
        if let Some(finished) = self.pack.finish().map_err(io_at(&dir))? {
            PackWriter::publish(&self.vault.packs, finished);
        }
        Ok(())
    }
}

/// A BLAKE3 digest written as 64 hex digits.
fn parse_blake3(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    blake3::Hash::from_hex(text)
        .ok()
        .map(|hash| *hash.as_bytes())
}

impl Quarantine {
    /// The quarantine directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where quarantined bytes with this hash live.
    pub fn path(&self, blake3: &str) -> Option<PathBuf> {
        content_path(&self.dir, blake3)
    }

    /// Keeps the attacker's bytes and logs the record. Written to the page
    /// cache only, so the restore that follows is not held up by a disk
    /// flush; the store's evidence copy (fsynced) follows off the hot path.
    pub fn put(&self, bytes: &[u8], record: &QuarantineRecord) -> Result<()> {
        let path = self.path(&record.blake3).ok_or_else(|| {
            GuardError::Verify(format!("{:?} is not a BLAKE3 digest", record.blake3))
        })?;
        if !path.exists() {
            write_atomic(&path, bytes, false)?;
        }
        let log = self.dir.join("log.jsonl");
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io_at(&log))?;
        file.write_all(&line).map_err(io_at(&log))
    }

    /// Every record of the log, oldest first (unparseable lines skipped).
    pub fn records(&self) -> Result<Vec<QuarantineRecord>> {
        let log = self.dir.join("log.jsonl");
        let text = match fs::read_to_string(&log) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(GuardError::Io { path: log, source }),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }
}

impl RootData {
    /// The root's directory in the data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn manifests_dir(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    /// The manifest file of a version.
    pub fn manifest_path(&self, version: u64) -> PathBuf {
        self.manifests_dir().join(format!("{version:06}.json"))
    }

    /// What `root.json` says, if it exists.
    pub fn info(&self) -> Result<Option<RootInfo>> {
        let path = self.dir.join("root.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| GuardError::BadManifest { path, source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GuardError::Io { path, source }),
        }
    }

    /// Writes `root.json`.
    pub fn set_info(&self, info: &RootInfo) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(info).unwrap_or_default();
        write_atomic(&self.dir.join("root.json"), &bytes, true)
    }

    /// Every stored version number, ascending.
    pub fn versions(&self) -> Result<Vec<u64>> {
        let dir = self.manifests_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(GuardError::Io { path: dir, source }),
        };
        let mut versions: Vec<u64> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// Reads one version.
    pub fn load(&self, version: u64) -> Result<Manifest> {
        let path = self.manifest_path(version);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(GuardError::NoSuchVersion {
                    root: self
                        .info()?
                        .map(|i| i.root.display().to_string())
                        .unwrap_or_default(),
                    version,
                });
            }
            Err(source) => return Err(GuardError::Io { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| GuardError::BadManifest { path, source })
    }

    /// Stores a manifest as the next version (its `version` field is set
    /// here) and returns the number. Does not make it current.
    pub fn save_new(&self, manifest: &mut Manifest) -> Result<u64> {
        let version = self.versions()?.last().copied().unwrap_or(0) + 1;
        manifest.version = version;
        let bytes = serde_json::to_vec(manifest).unwrap_or_default();
        write_atomic(&self.manifest_path(version), &bytes, true)?;
        Ok(version)
    }

    /// The version the guard enforces, if any.
    pub fn current(&self) -> Result<Option<u64>> {
        let path = self.dir.join("current");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GuardError::Io { path, source }),
        }
    }

    /// Makes `version` the one the guard enforces: an atomic replace that a
    /// running watcher notices on its next tick.
    pub fn set_current(&self, version: u64) -> Result<()> {
        write_atomic(
            &self.dir.join("current"),
            format!("{version}\n").as_bytes(),
            true,
        )
    }

    /// The current manifest, or [`GuardError::NoBaseline`].
    pub fn current_manifest(&self, root: &Path) -> Result<Manifest> {
        match self.current()? {
            Some(version) => self.load(version),
            None => Err(GuardError::NoBaseline {
                root: root.display().to_string(),
            }),
        }
    }

    /// The open maintenance window, if one is open (an expired one counts
    /// until the watcher closes it).
    pub fn window(&self) -> Result<Option<Window>> {
        let path = self.dir.join("window.json");
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GuardError::Io { path, source }),
        }
    }

    /// Opens a maintenance window.
    pub fn set_window(&self, window: &Window) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(window).unwrap_or_default();
        write_atomic(&self.dir.join("window.json"), &bytes, true)
    }

    /// Closes the maintenance window.
    pub fn clear_window(&self) -> Result<()> {
        let path = self.dir.join("window.json");
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(GuardError::Io { path, source }),
        }
    }

    /// The version a running watcher last reported enforcing.
    pub fn applied(&self) -> Option<u64> {
        fs::read_to_string(self.dir.join("applied"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    /// Records the version the watcher enforces (its acknowledgement of a switch).
    pub fn set_applied(&self, version: u64) -> Result<()> {
        write_atomic(
            &self.dir.join("applied"),
            format!("{version}\n").as_bytes(),
            false,
        )
    }

    /// Takes the root's lock without waiting: `Ok(None)` when another
    /// process (a running watcher) holds it. Released when dropped.
    pub fn try_lock(&self) -> Result<Option<fs::File>> {
        fs::create_dir_all(&self.dir).map_err(io_at(&self.dir))?;
        let path = self.dir.join("watch.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_at(&path))?;
        match rustix::fs::flock(
            file.as_fd(),
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        ) {
            Ok(()) => Ok(Some(file)),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(error) => Err(GuardError::Io {
                path,
                source: error.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loose(data: &GuardData, bytes: &[u8]) -> PathBuf {
        let path = content_path(data.vault().dir(), &blake3_hex(bytes)).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn content_stored_in_files_of_their_own_is_still_read_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let data = GuardData::open(tmp.path()).unwrap();
        let path = loose(&data, b"from an older data directory");
        let hash = blake3_hex(b"from an older data directory");
        assert_eq!(
            data.vault().get(&hash).unwrap(),
            b"from an older data directory"
        );
        assert_eq!(
            data.vault().locate(&hash),
            Some(VaultLocation::Loose(path.clone()))
        );
        fs::write(&path, b"bit rot").unwrap();
        let error = data.vault().get(&hash).unwrap_err().to_string();
        assert!(error.contains("is corrupt"), "{error}");
    }

    #[test]
    fn a_writer_skips_what_the_vault_has_and_packs_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let data = GuardData::open(tmp.path()).unwrap();
        loose(&data, b"old");
        let vault = data.vault();
        let writer = vault.writer().unwrap();
        for bytes in [&b"old"[..], b"new", b"new"] {
            writer.add(blake3::hash(bytes).as_bytes(), bytes).unwrap();
        }
        assert!(
            vault.locate(&blake3_hex(b"new")).is_none(),
            "not visible before finish"
        );
        writer.finish().unwrap();
        assert!(matches!(
            vault.locate(&blake3_hex(b"old")),
            Some(VaultLocation::Loose(_))
        ));
        assert!(matches!(
            vault.locate(&blake3_hex(b"new")),
            Some(VaultLocation::Packed { len: 3, .. })
        ));
        // Another process's view (a fresh GuardData) finds it too.
        let other = GuardData::open(tmp.path()).unwrap();
        assert_eq!(other.vault().get(&blake3_hex(b"new")).unwrap(), b"new");
        assert!(matches!(
            other.vault().get(&blake3_hex(b"missing")),
            Err(GuardError::MissingVault { .. })
        ));
    }
}
