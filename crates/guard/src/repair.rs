//! Bringing a live root back to its approved version, one path or all.
//!
//! The [`Repairer`] holds the approved manifest in memory (with a children
//! index), a handle on the root, the vault and the quarantine. `check(path)`
//! resolves the path from the root one `O_NOFOLLOW` step at a time; when an
//! ancestor is wrong (gone, replaced by a symlink or a file, not approved)
//! the ancestor is repaired instead, which covers the whole subtree. Each
//! node is judged by `policy::decide` and the decision carried out:
//! the attacker's bytes go to the quarantine *before* anything is removed or
//! replaced, approved content comes from the vault only after its BLAKE3 is
//! verified, and files are written whole to a file with no name yet and
//! renamed in, then fsynced by a separate thread (the [`Syncer`]) so a
//! restore never waits for a journal commit. When the approved bytes cannot
//! be had or written, the tampered file is taken down (it is already in
//! the quarantine) and the failure reported; `watch` retries it.
//!
//! A cache of `StatKey`s of files verified since the last manifest switch
//! lets repeated checks skip re-hashing unchanged files. This module does
//! not watch, schedule or raise signals (see `watch` and `report`).

use crate::data::{Quarantine, QuarantineRecord, Vault, blake3_hex, now_ms};
use crate::error::GuardError;
use crate::fsops::{self, StatKey};
use crate::late::{LateCapture, LateSlot, Watched};
use crate::manifest::{Entry, EntryKind, Manifest};
use crate::policy::{Decision, Policy, Tamper, decide};
use crate::relpath::RelPath;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::FileType;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Makes restored files durable off the repair path: a thread that fsyncs
/// each file handed to it, in order. A page is served the moment it is
/// renamed in; its fsync (which on a shared file system waits for every
/// other writer's journal commit, tens to hundreds of milliseconds under
/// load) must not hold up the next repair. Dropping the syncer waits for
/// every pending fsync.
struct Syncer {
    sender: Option<mpsc::Sender<(RelPath, std::fs::File)>>,
    thread: Option<JoinHandle<()>>,
    /// Files whose fsync failed, with the error, until taken.
    failures: Arc<Mutex<Vec<(RelPath, String)>>>,
}

impl Syncer {
    fn new() -> Syncer {
        let (sender, files) = mpsc::channel::<(RelPath, std::fs::File)>();
        let failures: Arc<Mutex<Vec<(RelPath, String)>>> = Arc::default();
        let failed = failures.clone();
        let thread = std::thread::Builder::new()
            .name("guard-fsync".into())
            .spawn(move || {
                for (path, file) in files {
                    if let Err(error) = file.sync_all() {
                        failed
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push((path, error.to_string()));
                    }
                }
            })
            .ok();
        Syncer {
            sender: thread.as_ref().map(|_| sender),
            thread,
            failures,
        }
    }

    /// Fsyncs `file` soon (at once, on this thread, if there is no syncer
    /// thread).
    fn sync(&self, path: RelPath, file: std::fs::File) {
        let unsent = match &self.sender {
            Some(sender) => sender.send((path, file)).err().map(|error| error.0),
            None => Some((path, file)),
        };
        if let Some((path, file)) = unsent
            && let Err(error) = file.sync_all()
        {
            self.failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((path, error.to_string()));
        }
    }

    fn take_failures(&self) -> Vec<(RelPath, String)> {
        std::mem::take(
            &mut *self
                .failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The approved version in memory, indexed for the hot path.
#[derive(Debug)]
pub struct Approved {
    /// The manifest.
    pub manifest: Manifest,
    /// The approved children of every approved directory.
    children: HashMap<RelPath, Vec<RelPath>>,
    /// The rules it was approved with.
    pub policy: Policy,
}

impl Approved {
    /// Indexes a manifest.
    pub fn new(manifest: Manifest) -> Result<Approved, GuardError> {
        let mut children: HashMap<RelPath, Vec<RelPath>> = HashMap::new();
        for path in manifest.entries.keys() {
            if let Some(parent) = path.parent() {
                children.entry(parent).or_default().push(path.clone());
            }
        }
        let policy = Policy::new(&manifest.excludes, &manifest.upload_dirs)?;
        Ok(Approved {
            manifest,
            children,
            policy,
        })
    }

    fn get(&self, path: &RelPath) -> Option<&Entry> {
        self.manifest.entries.get(path)
    }
}

/// What was done to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The approved entry was put back.
    Restored,
    /// The live entry was quarantined and the approved one put back.
    QuarantinedAndRestored,
    /// The live entry was quarantined and removed.
    Quarantined,
    /// Mode and owner were put back.
    RevertedMetadata,
    /// The repair failed (see the error); it will be retried.
    Failed,
}

/// One item moved to the quarantine.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    /// Where it was.
    pub path: RelPath,
    /// `file`, `symlink` (content = target) or `special`.
    pub kind: String,
    /// BLAKE3 of the bytes (its name in the quarantine).
    pub blake3: String,
    /// Size.
    pub size: u64,
    /// The bytes, for the evidence register.
    #[serde(skip)]
    pub bytes: Arc<Vec<u8>>,
    /// For a file that may still have been written to when it was
    /// captured: the later re-read of its old inode (see `late`).
    #[serde(skip)]
    pub late: Option<Arc<LateSlot>>,
}

/// One repair, as reports and signals tell it.
#[derive(Debug, Clone, Serialize)]
pub struct Repair {
    /// The path.
    pub path: RelPath,
    /// What had been done to it.
    pub tamper: Tamper,
    /// What the guard did.
    pub action: Action,
    /// The approved entry's kind and hash or target (`None` for an added path).
    pub approved: Option<String>,
    /// What was found instead (`None` when it was gone).
    pub found: Option<String>,
    /// What went to the quarantine.
    pub quarantined: Vec<Quarantined>,
    /// When the guard looked (Unix ms).
    pub detected_at_ms: i64,
    /// When the file found in place last changed (its `ctime`, Unix ms),
    /// for a tampered file that was kept: the tampered content was there
    /// from then at the latest. Earlier than `detected_at_ms` by the gap
    /// for a change made while nothing watched (found by a full check or
    /// at start-up); `None` for what is not a regular file.
    pub changed_at_ms: Option<i64>,
    /// How long the repair took.
    #[serde(serialize_with = "as_micros")]
    pub took: Duration,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Repair {
    /// The repair with the change time of the file it found (`key`).
    fn found_changed(mut self, key: Option<StatKey>) -> Self {
        self.changed_at_ms = key.map(|key| key.changed_at_ms());
        self
    }

    /// Waits (at most [`crate::late::LATE_CAPTURE_WAIT`] in all) until every
    /// late capture of this repair's quarantined files has finished, so the
    /// signal's evidence holds the attacker's bytes even when they were
    /// written after the repair began. Call it off the repair path.
    pub fn wait_late_captures(&self) {
        let deadline = std::time::Instant::now() + crate::late::LATE_CAPTURE_WAIT;
        for slot in self
            .quarantined
            .iter()
            .filter_map(|item| item.late.as_ref())
        {
            slot.wait(deadline.saturating_duration_since(std::time::Instant::now()));
        }
    }
}

fn as_micros<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_micros() as u64)
}

fn describe(entry: &Entry) -> String {
    match &entry.kind {
        EntryKind::File { blake3, size } => format!("file {size} bytes blake3 {blake3}"),
        EntryKind::Symlink { target } => format!("symlink -> {}", crate::relpath::escape(target)),
        kind => kind.name().to_string(),
    }
}

/// A live node as found.
struct Live {
    entry: Entry,
    /// A file's bytes when they had to be read.
    bytes: Option<Vec<u8>>,
    key: Option<StatKey>,
}

/// Repairs a live root against an approved version.
pub struct Repairer {
    root_path: PathBuf,
    root: OwnedFd,
    approved: Arc<Approved>,
    vault: Vault,
    quarantine: Quarantine,
    verified: HashMap<RelPath, StatKey>,
    syncer: Syncer,
    late: LateCapture,
}

/// Ignores "not found" while resolving, which only means it changed again.
fn gone(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(code) if code == rustix::io::Errno::NOENT.raw_os_error()
        || code == rustix::io::Errno::NOTDIR.raw_os_error()
        || code == rustix::io::Errno::LOOP.raw_os_error())
}

impl Repairer {
    /// A repairer for `root_path` enforcing `approved`.
    pub fn new(
        root_path: &Path,
        approved: Arc<Approved>,
        vault: Vault,
        quarantine: Quarantine,
    ) -> Result<Repairer, GuardError> {
        let root = fsops::open_dir_path(root_path).map_err(crate::error::io_at(root_path))?;
        // Read the vault's indexes now, not on the first restore.
        vault.refresh()?;
        Ok(Repairer {
            root_path: root_path.to_path_buf(),
            root,
            approved,
            vault,
            verified: HashMap::new(),
            syncer: Syncer::new(),
            late: LateCapture::new(quarantine.clone()),
            quarantine,
        })
    }

    /// The approved version being enforced.
    pub fn approved(&self) -> &Arc<Approved> {
        &self.approved
    }

    /// Switches to another approved version (publish, rollback); the next
    /// full check brings the tree to it.
    pub fn switch(&mut self, approved: Arc<Approved>) {
        self.approved = approved;
        self.verified.clear();
    }

    /// Restored files whose fsync (made after the restore, off the repair
    /// path) failed since the last call, with the error. They are dropped
    /// from the verified-file cache, so checking them again re-hashes them.
    pub fn take_sync_failures(&mut self) -> Vec<(RelPath, String)> {
        let failures = self.syncer.take_failures();
        for (path, _) in &failures {
            self.verified.remove(path);
        }
        failures
    }

    /// Forgets every verified file, so the next check re-hashes everything.
    pub fn forget_verified(&mut self) {
        self.verified.clear();
    }

    /// Checks the whole tree and repairs every difference.
    pub fn check_all(&mut self) -> Vec<Repair> {
        self.check(&RelPath::root())
    }

    /// Checks one path (and, for a directory, everything below it) and
    /// repairs every difference.
    pub fn check(&mut self, path: &RelPath) -> Vec<Repair> {
        let mut repairs = Vec::new();
        if self.excluded(path) {
            return repairs;
        }
        if path.is_root() {
            self.check_root(&mut repairs);
            return repairs;
        }
        // Walk the ancestors; stop at the first that is not as approved.
        let mut dir = match rustix::io::dup(&self.root) {
            Ok(fd) => fd,
            Err(error) => {
                repairs.push(self.failed(
                    path,
                    Tamper::Modified,
                    &error.into(),
                    now_ms(),
                    Instant::now(),
                ));
                return repairs;
            }
        };
        let mut prefix = RelPath::root();
        let components: Vec<Vec<u8>> = path.components().map(|c| c.to_vec()).collect();
        for name in &components[..components.len() - 1] {
            prefix = prefix.join(name);
            let approved_dir = matches!(
                self.approved.get(&prefix),
                Some(Entry {
                    kind: EntryKind::Dir,
                    ..
                })
            );
            let allowed_dir = !approved_dir && self.approved.policy.in_upload_area(&prefix);
            let opened = if approved_dir || allowed_dir {
                fsops::open_dir_at(dir.as_fd(), name)
            } else {
                Err(std::io::Error::from(rustix::io::Errno::NOENT))
            };
            match opened {
                Ok(fd) => dir = fd,
                Err(_) => {
                    // The ancestor itself is wrong: repair it (and its subtree).
                    self.reconcile(Arc::new(dir), prefix, &mut repairs);
                    return repairs;
                }
            }
        }
        self.reconcile(Arc::new(dir), path.clone(), &mut repairs);
        repairs
    }

    fn excluded(&self, path: &RelPath) -> bool {
        let mut current = Some(path.clone());
        while let Some(path) = current {
            if self.approved.policy.is_excluded(&path) {
                return true;
            }
            current = path.parent();
        }
        false
    }

    fn check_root(&mut self, repairs: &mut Vec<Repair>) {
        let started = Instant::now();
        let detected = now_ms();
        if let (Ok(stat), Some(approved)) = (
            fsops::fstat(self.root.as_fd()),
            self.approved.get(&RelPath::root()),
        ) {
            let live = fsops::entry_of(&stat, None, None);
            if !approved.same_metadata(&live) {
                let approved = approved.clone();
                let result = fsops::set_dir_metadata(self.root.as_fd(), &approved);
                repairs.push(self.outcome(
                    &RelPath::root(),
                    Tamper::Metadata,
                    Action::RevertedMetadata,
                    Some(&approved),
                    Some(&live),
                    Vec::new(),
                    detected,
                    started,
                    result,
                ));
            }
        }
        let root = match rustix::io::dup(&self.root) {
            Ok(fd) => Arc::new(fd),
            Err(_) => return,
        };
        self.reconcile_children(root, &RelPath::root(), repairs);
    }

    /// Reads what is at `name` inside `dir`. Files are hashed unless their
    /// stat key shows they were verified unchanged.
    fn live(&self, dir: BorrowedFd<'_>, path: &RelPath) -> std::io::Result<Option<Live>> {
        let name = path.file_name();
        for _ in 0..4 {
            let Some(stat) = fsops::lstat_at(dir, name)? else {
                return Ok(None);
            };
            match fsops::file_type(&stat) {
                FileType::RegularFile => {
                    let key = StatKey::of(&stat);
                    if self.verified.get(path) == Some(&key)
                        && let Some(approved) = self.approved.get(path)
                    {
                        let mut entry = fsops::entry_of(&stat, None, None);
                        entry.kind = approved.kind.clone();
                        return Ok(Some(Live {
                            entry,
                            bytes: None,
                            key: Some(key),
                        }));
                    }
                    // Replaced between lstat and open: look again.
                    let Some((bytes, stat)) = fsops::read_file_at(dir, name)? else {
                        continue;
                    };
                    let entry = fsops::entry_of(&stat, Some(blake3_hex(&bytes)), None);
                    return Ok(Some(Live {
                        entry,
                        bytes: Some(bytes),
                        key: Some(StatKey::of(&stat)),
                    }));
                }
                FileType::Symlink => {
                    let Some(target) = fsops::read_link_at(dir, name)? else {
                        continue;
                    };
                    return Ok(Some(Live {
                        entry: fsops::entry_of(&stat, None, Some(target)),
                        bytes: None,
                        key: None,
                    }));
                }
                _ => {
                    return Ok(Some(Live {
                        entry: fsops::entry_of(&stat, None, None),
                        bytes: None,
                        key: None,
                    }));
                }
            }
        }
        // Still changing after four looks: report it as what it is now.
        match fsops::lstat_at(dir, name)? {
            Some(stat) => Ok(Some(Live {
                entry: fsops::entry_of(&stat, Some(String::new()), None),
                bytes: None,
                key: None,
            })),
            None => Ok(None),
        }
    }

    /// Repairs `path` (inside the open `parent`) and, when it is or becomes
    /// a directory that is approved or allowed, everything below it. Uses an
    /// explicit stack so a deep tree cannot overflow the thread's stack.
    fn reconcile(&mut self, parent: Arc<OwnedFd>, path: RelPath, repairs: &mut Vec<Repair>) {
        let mut stack = vec![(parent, path)];
        while let Some((parent, path)) = stack.pop() {
            // Ancestors were checked on the way down.
            if self.approved.policy.is_excluded(&path) {
                continue;
            }
            if let Some(dir) = self.reconcile_node(parent.as_fd(), &path, repairs) {
                let dir = Arc::new(dir);
                for child in self.child_names(dir.as_fd(), &path) {
                    stack.push((dir.clone(), child));
                }
            }
        }
    }

    fn reconcile_children(&mut self, dir: Arc<OwnedFd>, path: &RelPath, repairs: &mut Vec<Repair>) {
        for child in self.child_names(dir.as_fd(), path) {
            self.reconcile(dir.clone(), child, repairs);
        }
    }

    /// The union of the approved children of `path` and what is live in it.
    fn child_names(&self, dir: BorrowedFd<'_>, path: &RelPath) -> Vec<RelPath> {
        let mut names: BTreeSet<RelPath> = self
            .approved
            .children
            .get(path)
            .map(|children| children.iter().cloned().collect())
            .unwrap_or_default();
        if let Ok(live) = fsops::list_dir(dir) {
            for name in live {
                names.insert(path.join(&name));
            }
        }
        names.into_iter().collect()
    }

    /// Repairs one node. Returns a handle on it when it is (now) a
    /// directory whose children must be checked.
    fn reconcile_node(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &RelPath,
        repairs: &mut Vec<Repair>,
    ) -> Option<OwnedFd> {
        let started = Instant::now();
        let detected = now_ms();
        let approved = self.approved.clone();
        let approved_entry = approved.get(path);
        let live = match self.live(dir, path) {
            Ok(live) => live,
            Err(error) if gone(&error) => None,
            Err(error) => {
                repairs.push(self.failed(path, Tamper::Modified, &error, detected, started));
                return None;
            }
        };
        let decision = decide(
            path,
            approved_entry,
            live.as_ref().map(|l| &l.entry),
            &approved.policy,
        );
        let name = path.file_name();
        let descend = |_: &Self| fsops::open_dir_at(dir, name).ok();
        match decision {
            Decision::Nothing => {
                if let (Some(live), Some(EntryKind::File { .. })) =
                    (&live, approved_entry.map(|e| &e.kind))
                    && let Some(key) = live.key
                {
                    self.verified.insert(path.clone(), key);
                }
                if matches!(live.as_ref().map(|l| &l.entry.kind), Some(EntryKind::Dir)) {
                    return descend(self);
                }
                None
            }
            Decision::AllowUpload => {
                if matches!(live.as_ref().map(|l| &l.entry.kind), Some(EntryKind::Dir)) {
                    return descend(self);
                }
                None
            }
            Decision::RevertMetadata => {
                let approved_entry = approved_entry.cloned()?;
                let result = fsops::set_metadata_at(dir, name, &approved_entry);
                self.verified.remove(path);
                repairs.push(self.outcome(
                    path,
                    Tamper::Metadata,
                    Action::RevertedMetadata,
                    Some(&approved_entry),
                    live.as_ref().map(|l| &l.entry),
                    Vec::new(),
                    detected,
                    started,
                    result,
                ));
                if matches!(approved_entry.kind, EntryKind::Dir) {
                    return descend(self);
                }
                None
            }
            Decision::Restore(tamper) => {
                let approved_entry = approved_entry.cloned()?;
                let result = self.restore(dir, path, &approved_entry);
                let ok = result.is_ok();
                repairs.push(self.outcome(
                    path,
                    tamper,
                    Action::Restored,
                    Some(&approved_entry),
                    None,
                    Vec::new(),
                    detected,
                    started,
                    result,
                ));
                if ok && matches!(approved_entry.kind, EntryKind::Dir) {
                    return descend(self);
                }
                None
            }
            Decision::QuarantineAndRestore(tamper) => {
                let approved_entry = approved_entry.cloned()?;
                let live = live?;
                let (quarantined, result) = self.quarantine_live(dir, path, &live, tamper);
                let result = result.and_then(|()| {
                    if matches!(live.entry.kind, EntryKind::Dir)
                        || matches!(approved_entry.kind, EntryKind::Dir)
                    {
                        // Rename cannot replace a directory with a file or
                        // the reverse: clear the way first.
                        fsops::remove_file_at(dir, name)
                            .or_else(|_| fsops::remove_dir_at(dir, name))?;
                    }
                    self.restore(dir, path, &approved_entry).inspect_err(|_| {
                        // The approved bytes cannot be had (corrupt or
                        // missing vault content) or cannot be written
                        // (disk full, file size limit, I/O error): do not
                        // leave the attacker's version up; it is already
                        // in the quarantine, and removing it frees its
                        // space for the retry.
                        if matches!(approved_entry.kind, EntryKind::File { .. }) {
                            let _ = fsops::remove_file_at(dir, name);
                        }
                    })
                });
                let ok = result.is_ok();
                repairs.push(
                    self.outcome(
                        path,
                        tamper,
                        Action::QuarantinedAndRestored,
                        Some(&approved_entry),
                        Some(&live.entry),
                        quarantined,
                        detected,
                        started,
                        result,
                    )
                    .found_changed(live.key),
                );
                if ok && matches!(approved_entry.kind, EntryKind::Dir) {
                    return descend(self);
                }
                None
            }
            Decision::Quarantine(tamper) => {
                let live = live?;
                let (quarantined, result) = self.quarantine_live(dir, path, &live, tamper);
                repairs.push(
                    self.outcome(
                        path,
                        tamper,
                        Action::Quarantined,
                        None,
                        Some(&live.entry),
                        quarantined,
                        detected,
                        started,
                        result,
                    )
                    .found_changed(live.key),
                );
                None
            }
        }
    }

    /// Puts the approved entry at `name` inside `dir`.
    fn restore(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &RelPath,
        entry: &Entry,
    ) -> std::io::Result<()> {
        let name = path.file_name();
        match &entry.kind {
            EntryKind::File { blake3, .. } => {
                let bytes = self.vault.get(blake3).map_err(std::io::Error::other)?;
                let file = fsops::write_file_atomic(dir, name, &bytes, entry)?;
                if let Ok(Some(stat)) = fsops::lstat_at(dir, name) {
                    self.verified.insert(path.clone(), StatKey::of(&stat));
                }
                self.syncer.sync(path.clone(), file);
                Ok(())
            }
            EntryKind::Dir => fsops::make_dir_at(dir, name, entry).map(drop),
            EntryKind::Symlink { target } => fsops::symlink_atomic(dir, name, target, entry),
            EntryKind::Special => Err(std::io::Error::other(
                "a special file (FIFO, socket, device) cannot be restored",
            )),
        }
    }

    /// Copies whatever is live at `path` into the quarantine, then removes
    /// it (a directory with everything in it). Nothing is removed unless its
    /// bytes were kept first.
    fn quarantine_live(
        &self,
        dir: BorrowedFd<'_>,
        path: &RelPath,
        live: &Live,
        tamper: Tamper,
    ) -> (Vec<Quarantined>, std::io::Result<()>) {
        let mut kept = Vec::new();
        let name = path.file_name();
        let result = match &live.entry.kind {
            EntryKind::Dir => self.quarantine_tree(dir, path, tamper, &mut kept),
            EntryKind::File { .. } => {
                // A handle on the inode before it is replaced or removed:
                // an attacker still writing to it is read again later (see
                // `late`).
                let handle = fsops::open_regular_at(dir, name).ok().flatten();
                let bytes = match &live.bytes {
                    Some(bytes) => Ok(Some(bytes.clone())),
                    None => fsops::read_file_at(dir, name).map(|read| read.map(|(bytes, _)| bytes)),
                };
                match bytes {
                    Ok(Some(bytes)) => {
                        self.keep(path, "file", bytes, tamper, &mut kept)
                            .map(|first| {
                                if let (Some(file), Some(item)) = (handle, kept.last_mut()) {
                                    let slot = Arc::new(LateSlot::default());
                                    item.late = Some(slot.clone());
                                    self.late.watch(Watched { file, first, slot });
                                }
                            })
                            .and_then(|()| {
                                // A file being restored is replaced by rename; an
                                // added one is removed.
                                if matches!(tamper, Tamper::Added | Tamper::AddedScript) {
                                    fsops::remove_file_at(dir, name)
                                } else {
                                    Ok(())
                                }
                            })
                    }
                    Ok(None) => Ok(()),
                    Err(error) => Err(error),
                }
            }
            EntryKind::Symlink { target } => self
                .keep(path, "symlink", target.clone(), tamper, &mut kept)
                .and_then(|_| fsops::remove_file_at(dir, name)),
            EntryKind::Special => self
                .keep(path, "special", Vec::new(), tamper, &mut kept)
                .and_then(|_| fsops::remove_file_at(dir, name)),
        };
        (kept, result)
    }

    /// Quarantines a whole directory: every file and link in it is kept,
    /// then everything is removed bottom-up.
    fn quarantine_tree(
        &self,
        parent: BorrowedFd<'_>,
        path: &RelPath,
        tamper: Tamper,
        kept: &mut Vec<Quarantined>,
    ) -> std::io::Result<()> {
        // Pre-order list of (directory handle, path, is_dir).
        let top = Arc::new(fsops::open_dir_at(parent, path.file_name())?);
        let mut order: Vec<(Arc<OwnedFd>, RelPath, bool)> = Vec::new();
        let mut stack = vec![(top, path.clone())];
        while let Some((dir, dir_path)) = stack.pop() {
            for name in fsops::list_dir(dir.as_fd())? {
                let child = dir_path.join(&name);
                let Some(stat) = fsops::lstat_at(dir.as_fd(), &name)? else {
                    continue;
                };
                match fsops::file_type(&stat) {
                    FileType::Directory => {
                        let sub = Arc::new(fsops::open_dir_at(dir.as_fd(), &name)?);
                        order.push((dir.clone(), child.clone(), true));
                        stack.push((sub, child));
                    }
                    FileType::RegularFile => {
                        if let Some((bytes, _)) = fsops::read_file_at(dir.as_fd(), &name)? {
                            self.keep(&child, "file", bytes, tamper, kept)?;
                        }
                        order.push((dir.clone(), child, false));
                    }
                    FileType::Symlink => {
                        if let Some(target) = fsops::read_link_at(dir.as_fd(), &name)? {
                            self.keep(&child, "symlink", target, tamper, kept)?;
                        }
                        order.push((dir.clone(), child, false));
                    }
                    _ => {
                        self.keep(&child, "special", Vec::new(), tamper, kept)?;
                        order.push((dir.clone(), child, false));
                    }
                }
            }
        }
        for (dir, child, is_dir) in order.into_iter().rev() {
            if is_dir {
                fsops::remove_dir_at(dir.as_fd(), child.file_name())?;
            } else {
                fsops::remove_file_at(dir.as_fd(), child.file_name())?;
            }
        }
        fsops::remove_dir_at(parent, path.file_name())
    }

    fn keep(
        &self,
        path: &RelPath,
        kind: &str,
        bytes: Vec<u8>,
        tamper: Tamper,
        kept: &mut Vec<Quarantined>,
    ) -> std::io::Result<QuarantineRecord> {
        let blake3 = blake3_hex(&bytes);
        let record = QuarantineRecord {
            at_ms: now_ms(),
            root: self.root_path.clone(),
            path: path.clone(),
            kind: kind.to_string(),
            blake3: blake3.clone(),
            size: bytes.len() as u64,
            reason: tamper.as_str().to_string(),
        };
        self.quarantine
            .put(&bytes, &record)
            .map_err(std::io::Error::other)?;
        kept.push(Quarantined {
            path: path.clone(),
            kind: kind.to_string(),
            blake3,
            size: bytes.len() as u64,
            bytes: Arc::new(bytes),
            late: None,
        });
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        path: &RelPath,
        tamper: Tamper,
        action: Action,
        approved: Option<&Entry>,
        found: Option<&Entry>,
        quarantined: Vec<Quarantined>,
        detected_at_ms: i64,
        started: Instant,
        result: std::io::Result<()>,
    ) -> Repair {
        let (action, error) = match result {
            Ok(()) => (action, None),
            Err(error) => (Action::Failed, Some(error.to_string())),
        };
        Repair {
            path: path.clone(),
            tamper,
            action,
            approved: approved.map(describe),
            found: found.map(describe),
            quarantined,
            detected_at_ms,
            changed_at_ms: None,
            took: started.elapsed(),
            error,
        }
    }

    fn failed(
        &self,
        path: &RelPath,
        tamper: Tamper,
        error: &std::io::Error,
        detected: i64,
        started: Instant,
    ) -> Repair {
        Repair {
            path: path.clone(),
            tamper,
            action: Action::Failed,
            approved: None,
            found: None,
            quarantined: Vec::new(),
            detected_at_ms: detected,
            changed_at_ms: None,
            took: started.elapsed(),
            error: Some(error.to_string()),
        }
    }
}
