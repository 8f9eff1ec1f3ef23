//! Integrity-verified serving ("core-embedded" anti-tamper): for a static
//! file under a guarded web root, the gateway knows the approved content
//! (the guard's current manifest and vault) and never serves anything
//! else.
//!
//! [`Integrity`] holds each guarded site's approved static files (by the
//! path a web server would resolve the URL to) and a bounded cache of their
//! bytes; `proxy.rs` answers those paths from it, and `verify.rs` compares
//! the origin's answer with the approved bytes in the background
//! ([`BodyCheck`]: byte for byte as it streams in, finding the first
//! differing offset and keeping the origin's bytes as evidence). Dynamic
//! pages (scripts, anything not a known static type) pass through.
//!
//! Files too large for the cache (over [`MAX_CACHED_BYTES`]) are streamed
//! from the vault a chunk at a time ([`ApprovedReader`]), checked against
//! their hash before and while they are read, so memory stays bounded
//! however many visitors download them at once.
//!
//! The approved set follows the guard: [`Integrity::refresh`] reloads a
//! root's manifest when its current version changes, and a root in a
//! maintenance window (a legitimate publish in progress) is not enforced.

use bytes::Bytes;
use sitewarden_guard::{EntryKind, GuardData, VaultLocation};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Largest approved file verified; bigger ones pass through.
pub const MAX_VERIFIED_BYTES: u64 = 32 * 1024 * 1024;
/// Bytes of approved content kept in memory across all sites.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Largest approved file kept in the cache; bigger ones are streamed from
/// the vault ([`ApprovedReader`]), a chunk at a time, so that memory does
/// not grow with the number of visitors downloading them.
pub const MAX_CACHED_BYTES: u64 = (CACHE_BYTES / 4) as u64;
/// Bytes of a streamed approved file read (and sent) at a time.
const STREAM_CHUNK: usize = 256 * 1024;
/// Most bytes of a tampered origin body kept as evidence.
pub const EVIDENCE_CAP: usize = 1024 * 1024;

/// File types served as static files by web servers: only these are
/// verified, so a script's output is never mistaken for tampering.
const STATIC_EXTENSIONS: &[&str] = &[
    "html", "htm", "css", "js", "mjs", "json", "xml", "txt", "svg", "png", "jpg", "jpeg", "gif",
    "webp", "avif", "ico", "bmp", "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "zip",
    "rar", "7z", "woff", "woff2", "ttf", "otf", "eot", "map", "mp4", "mp3", "webm",
];
/// Files a web server answers for a directory URL, in order.
const INDEX_FILES: &[&[u8]] = &[b"index.html", b"index.htm"];

/// An approved file: its vault key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedFile {
    /// BLAKE3, hex.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
    /// The path within the root, for reports.
    pub path: String,
}

/// One guarded root's approved static files.
#[derive(Debug)]
struct RootSet {
    root: PathBuf,
    version: Option<u64>,
    window_open: bool,
    files: HashMap<Vec<u8>, ApprovedFile>,
}

/// The approved files of every guarded site, and a cache of their bytes.
#[derive(Debug)]
pub struct Integrity {
    guard: GuardData,
    sites: RwLock<HashMap<String, Arc<RootSet>>>,
    roots: Mutex<HashMap<String, PathBuf>>,
    cache: Mutex<BodyCache>,
    /// Streamed files whose vault copy was hashed in full, with the state
    /// of the vault file it lies in then: unchanged since, it is not hashed
    /// again before each download.
    verified: Mutex<HashMap<String, FileStamp>>,
}

impl Integrity {
    /// Integrity checking against the guard data in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Integrity, sitewarden_guard::GuardError> {
        Ok(Integrity {
            guard: GuardData::open(data_dir)?,
            sites: RwLock::new(HashMap::new()),
            roots: Mutex::new(HashMap::new()),
            cache: Mutex::new(BodyCache::default()),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Declares which guarded root each site's files come from (replacing
    /// earlier declarations) and loads them.
    pub fn set_roots(&self, roots: HashMap<String, PathBuf>) -> Vec<String> {
        // Sites no longer guarded are dropped; the others keep their loaded
        // set until a fresh one replaces it, so a reload never leaves a
        // window in which a guarded site is served unverified.
        self.sites
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|site, _| roots.contains_key(site));
        *self.roots.lock().unwrap_or_else(|e| e.into_inner()) = roots;
        self.refresh()
    }

    /// Reloads any root whose current version or window changed; returns a
    /// line per root that could not be loaded (no baseline yet, unreadable
    /// manifest) — those sites pass through unverified until it can.
    pub fn refresh(&self) -> Vec<String> {
        let roots = self.roots.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut problems = Vec::new();
        for (site, root) in roots {
            match self.refresh_site(&site, &root) {
                Ok(()) => {}
                Err(problem) => problems.push(format!("{site}: {problem}")),
            }
        }
        problems
    }

    fn refresh_site(&self, site: &str, root: &Path) -> Result<(), String> {
        let (data, canonical) = self.guard.root(root).map_err(|e| e.to_string())?;
        let version = data.current().map_err(|e| e.to_string())?;
        let window_open = data.window().map_err(|e| e.to_string())?.is_some();
        if let Some(known) = self
            .sites
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(site)
            && known.version == version
            && known.window_open == window_open
            && known.root == canonical
        {
            return Ok(());
        }
        let mut files = HashMap::new();
        if version.is_some() {
            let manifest = data
                .current_manifest(&canonical)
                .map_err(|e| e.to_string())?;
            for (path, entry) in &manifest.entries {
                if let EntryKind::File { size, blake3 } = &entry.kind
                    && *size <= MAX_VERIFIED_BYTES
                    && is_static(path.as_bytes())
                {
                    files.insert(
                        path.as_bytes().to_vec(),
                        ApprovedFile {
                            blake3: blake3.clone(),
                            size: *size,
                            path: String::from_utf8_lossy(path.as_bytes()).into_owned(),
                        },
                    );
                }
            }
        }
        let set = Arc::new(RootSet {
            root: canonical.clone(),
            version,
            window_open,
            files,
        });
        self.sites
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(site.to_string(), set);
        if version.is_none() {
            return Err(format!("{} has no approved version yet", root.display()));
        }
        Ok(())
    }

    /// The approved file a request path names on `site`, if it is verified.
    pub fn lookup(&self, site: &str, url_path: &str) -> Option<ApprovedFile> {
        let sites = self.sites.read().unwrap_or_else(|e| e.into_inner());
        let set = sites.get(site)?;
        if set.window_open || set.files.is_empty() {
            return None;
        }
        let path = normalise(url_path)?;
        // The path as a file, else as a directory with an index file (how
        // nginx and Apache answer `/news/`, `/news/.`, `/news%2F`).
        if !path.is_empty()
            && let Some(file) = set.files.get(&path)
        {
            return Some(file.clone());
        }
        INDEX_FILES.iter().find_map(|index| {
            let mut candidate = path.clone();
            if !candidate.is_empty() {
                candidate.push(b'/');
            }
            candidate.extend_from_slice(index);
            set.files.get(&candidate).cloned()
        })
    }

    /// Whether `file` is too large for the cache, and so is streamed from
    /// the vault ([`Integrity::open_streamed`]) rather than held in memory.
    pub fn streamed(&self, file: &ApprovedFile) -> bool {
        file.size > MAX_CACHED_BYTES
    }

    /// Opens the vault copy of a streamed file (blocking: call it off the
    /// request path). It is refused unless its bytes hash to the approved
    /// BLAKE3 — hashed in full, a chunk at a time, once per state of the
    /// vault file that holds it — and hashed again as it is read, so that
    /// bytes changed in between end the download short of its length
    /// instead of completing it.
    pub fn open_streamed(&self, file: &ApprovedFile) -> Result<ApprovedReader, String> {
        let expected = blake3::Hash::from_hex(&file.blake3)
            .map_err(|_| format!("{}: not a BLAKE3 hash", file.blake3))?;
        let (path, offset, len) = match self.guard.vault().locate(&file.blake3) {
            Some(VaultLocation::Packed { pack, offset, len }) => (pack, offset, len),
            Some(VaultLocation::Loose(path)) => {
                let len = std::fs::symlink_metadata(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .len();
                (path, 0, len)
            }
            None => return Err(format!("{} is not in the vault", file.blake3)),
        };
        if len != file.size {
            return Err(format!(
                "{}: {len} bytes in the vault, {} approved",
                file.blake3, file.size
            ));
        }
        let opened = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp =
            FileStamp::of(&opened, offset).map_err(|e| format!("{}: {e}", path.display()))?;
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file.blake3)
            == Some(&stamp);
        let mut reader = ApprovedReader {
            file: opened,
            path,
            offset,
            len,
            read: 0,
            hasher: blake3::Hasher::new(),
            expected,
        };
        if !known {
            while reader.next_chunk()?.is_some() {}
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(file.blake3.clone(), stamp);
            reader.read = 0;
            reader.hasher = blake3::Hasher::new();
        }
        Ok(reader)
    }

    /// The approved bytes of `file` if they are in memory.
    pub fn cached(&self, file: &ApprovedFile) -> Option<Bytes> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file.blake3)
    }

    /// The approved bytes of `file`, from the cache or the vault (which
    /// refuses content whose hash no longer matches).
    pub fn body(&self, file: &ApprovedFile) -> Result<Bytes, String> {
        if let Some(bytes) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file.blake3)
        {
            return Ok(bytes);
        }
        let bytes = Bytes::from(
            self.guard
                .vault()
                .get(&file.blake3)
                .map_err(|e| e.to_string())?,
        );
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(file.blake3.clone(), bytes.clone());
        Ok(bytes)
    }
}

/// The Content-Type of a verified file, by its extension (the origin's
/// header is not trusted for these paths). No charset: many sites are
/// GBK, and the page's own `<meta charset>` or BOM says which.
pub fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" | "map" => "application/json",
        "xml" => "application/xml",
        "txt" => "text/plain",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "zip" => "application/zip",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Whether a path's extension marks a static file.
pub fn is_static(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let extension = String::from_utf8_lossy(&name[dot + 1..]).to_ascii_lowercase();
    STATIC_EXTENSIONS.contains(&extension.as_str())
}

/// The path within the root that a URL path names, the way a web server
/// resolves it: percent-decoded, `.` and empty segments dropped, `..`
/// applied; None when it climbs out of the root or holds a NUL.
pub fn normalise(url_path: &str) -> Option<Vec<u8>> {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    if decoded.contains(&0) {
        return None;
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join(&b'/'))
}

/// The state of a vault file when one of its contents was hashed: any write
/// to it changes its modification or status-change time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: (i64, i64),
    changed_ns: (i64, i64),
    offset: u64,
}

impl FileStamp {
    fn of(file: &std::fs::File, offset: u64) -> std::io::Result<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        Ok(FileStamp {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            modified_ns: (meta.mtime(), meta.mtime_nsec()),
            changed_ns: (meta.ctime(), meta.ctime_nsec()),
            offset,
        })
    }
}

/// A streamed approved file being read from its vault copy, a chunk at a
/// time (blocking reads: move it to a blocking thread for each chunk).
#[derive(Debug)]
pub struct ApprovedReader {
    file: std::fs::File,
    path: PathBuf,
    offset: u64,
    len: u64,
    read: u64,
    hasher: blake3::Hasher,
    expected: blake3::Hash,
}

impl ApprovedReader {
    /// The next chunk (at most 256 KiB); None after the last. The last
    /// chunk is returned only if everything read hashes to the approved
    /// BLAKE3: otherwise an error, and what was sent stays short.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        use std::os::unix::fs::FileExt;
        if self.read == self.len {
            return Ok(None);
        }
        let size = (self.len - self.read).min(STREAM_CHUNK as u64) as usize;
        let mut chunk = vec![0u8; size];
        self.file
            .read_exact_at(&mut chunk, self.offset + self.read)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.hasher.update(&chunk);
        self.read += size as u64;
        if self.read == self.len && self.hasher.finalize() != self.expected {
            return Err(format!(
                "{} at offset {}: the bytes no longer hash to {}",
                self.path.display(),
                self.offset,
                self.expected.to_hex()
            ));
        }
        Ok(Some(Bytes::from(chunk)))
    }

    /// Whether every byte has been read.
    pub fn done(&self) -> bool {
        self.read == self.len
    }
}

/// Approved bodies by hash, bounded in bytes; oldest out first.
#[derive(Debug, Default)]
struct BodyCache {
    bodies: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl BodyCache {
    fn get(&self, blake3: &str) -> Option<Bytes> {
        self.bodies.get(blake3).cloned()
    }

    fn put(&mut self, blake3: String, body: Bytes) {
        if body.len() as u64 > MAX_CACHED_BYTES || self.bodies.contains_key(&blake3) {
            return;
        }
        while self.bytes + body.len() > CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(evicted) = self.bodies.remove(&oldest) {
                self.bytes -= evicted.len();
            }
        }
        self.bytes += body.len();
        self.order.push_back(blake3.clone());
        self.bodies.insert(blake3, body);
    }
}

/// Compares an origin body, as it streams, with the approved bytes.
#[derive(Debug)]
pub struct BodyCheck {
    approved: Bytes,
    offset: usize,
    /// The first offset where the origin differs, once found.
    differs_at: Option<usize>,
    /// The origin's bytes from the start, kept once a difference is found
    /// (up to [`EVIDENCE_CAP`]).
    evidence: Vec<u8>,
    total: u64,
}

impl BodyCheck {
    /// A check against `approved`.
    pub fn new(approved: Bytes) -> BodyCheck {
        BodyCheck {
            approved,
            offset: 0,
            differs_at: None,
            evidence: Vec::new(),
            total: 0,
        }
    }

    /// Feeds the next piece of the origin's body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if self.differs_at.is_none() {
            let expected = self
                .approved
                .get(self.offset..(self.offset + chunk.len()).min(self.approved.len()))
                .unwrap_or(&[]);
            let same = expected.len() == chunk.len() && expected == chunk;
            if same {
                self.offset += chunk.len();
                return;
            }
            let first = expected
                .iter()
                .zip(chunk)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.len());
            self.differs_at = Some(self.offset + first);
            // Everything before this chunk equalled the approved bytes.
            self.evidence
                .extend_from_slice(&self.approved[..self.offset.min(EVIDENCE_CAP)]);
        }
        let room = EVIDENCE_CAP.saturating_sub(self.evidence.len());
        self.evidence
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// At the end of the body: None when it equalled the approved bytes,
    /// otherwise what was seen.
    pub fn finish(mut self) -> Option<Mismatch> {
        if self.differs_at.is_none() && self.offset == self.approved.len() {
            return None;
        }
        let differs_at = self.differs_at.unwrap_or(self.offset);
        if self.evidence.is_empty() && self.differs_at.is_none() {
            // A short body: a prefix of the approved bytes.
            self.evidence = self.approved[..self.offset.min(EVIDENCE_CAP)].to_vec();
        }
        Some(Mismatch {
            differs_at,
            origin_len: self.total,
            evidence_truncated: self.total as usize > self.evidence.len(),
            evidence: self.evidence,
        })
    }
}

/// How an origin body differed from the approved one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The first differing byte offset.
    pub differs_at: usize,
    /// How long the origin's body was.
    pub origin_len: u64,
    /// The origin's body (up to [`EVIDENCE_CAP`]).
    pub evidence: Vec<u8>,
    /// True when the evidence is only the first [`EVIDENCE_CAP`] bytes.
    pub evidence_truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_resolve_like_a_web_server() {
        assert_eq!(normalise("/index.html").unwrap(), b"index.html");
        assert_eq!(normalise("//news/./a.html?x=1").unwrap(), b"news/a.html");
        assert_eq!(normalise("/news/../index.html").unwrap(), b"index.html");
        assert_eq!(
            normalise("/%E6%96%B0%E9%97%BB.html").unwrap(),
            "新闻.html".as_bytes()
        );
        assert_eq!(normalise("/a%2fb.html").unwrap(), b"a/b.html");
        assert_eq!(normalise("/../etc/passwd"), None);
        assert_eq!(normalise("/a%00.html"), None);
        assert_eq!(normalise("/").unwrap(), b"");
    }

    #[test]
    fn only_static_types_are_verified() {
        assert!(is_static(b"news/a.HTML"));
        assert!(is_static(b"css/site.css"));
        assert!(!is_static(b"login.php"));
        assert!(!is_static(b"README"));
        assert!(!is_static(b"dir.html/x"));
    }

    #[test]
    fn equal_bodies_pass_in_any_chunking() {
        let approved = Bytes::from_static(b"<html>approved</html>");
        let mut check = BodyCheck::new(approved.clone());
        for chunk in approved.chunks(3) {
            check.feed(chunk);
        }
        assert_eq!(check.finish(), None);
    }

    #[test]
    fn a_changed_longer_or_shorter_body_is_a_mismatch_with_evidence() {
        let approved = Bytes::from_static(b"<html>approved</html>");
        let mut changed = BodyCheck::new(approved.clone());
        changed.feed(b"<html>appr");
        changed.feed(b"0ved</html>");
        let mismatch = changed.finish().unwrap();
        assert_eq!(mismatch.differs_at, 10);
        assert_eq!(mismatch.evidence, b"<html>appr0ved</html>");

        let mut longer = BodyCheck::new(approved.clone());
        longer.feed(b"<html>approved</html><a href=x>hidden</a>");
        let mismatch = longer.finish().unwrap();
        assert_eq!(mismatch.differs_at, approved.len());
        assert_eq!(mismatch.origin_len, 41);

        let mut shorter = BodyCheck::new(approved);
        shorter.feed(b"<html>");
        let mismatch = shorter.finish().unwrap();
        assert_eq!(mismatch.differs_at, 6);
        assert_eq!(mismatch.evidence, b"<html>");
    }

    /// Flips a byte of a file in a test's own temporary directory, never
    /// through a symlink.
    fn flip_byte(path: &Path, offset: u64) {
        use rustix::fs::{Mode, OFlags};
        assert!(
            std::fs::symlink_metadata(path)
                .unwrap()
                .file_type()
                .is_file()
        );
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut byte = [0u8; 1];
        rustix::io::pread(&fd, &mut byte, offset).unwrap();
        byte[0] ^= 0xff;
        rustix::io::pwrite(&fd, &byte, offset).unwrap();
    }

    #[test]
    fn a_streamed_copy_is_checked_before_and_while_it_is_read() {
        let root = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..STREAM_CHUNK * 3 + 100)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(root.path().join("report.pdf"), &body).unwrap();
        let guard = GuardData::open(data.path()).unwrap();
        sitewarden_guard::approve(
            &guard,
            &sitewarden_guard::ApproveOptions {
                root: root.path().to_path_buf(),
                from: None,
                site: Some("portal".into()),
                excludes: None,
                upload_dirs: None,
                approved_by: "test".into(),
                note: "baseline".into(),
            },
            &|_| {},
        )
        .unwrap();
        let integrity = Integrity::open(data.path()).unwrap();
        let file = ApprovedFile {
            blake3: blake3::hash(&body).to_hex().to_string(),
            size: body.len() as u64,
            path: "report.pdf".into(),
        };
        // Whole and in order.
        let mut reader = integrity.open_streamed(&file).unwrap();
        let mut read = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            read.extend_from_slice(&chunk);
        }
        assert_eq!(read, body);
        assert!(reader.done());

        // Changed while it is read: the last chunk is an error, so what
        // was sent stays short.
        let (pack, offset) = match integrity.guard.vault().locate(&file.blake3).unwrap() {
            VaultLocation::Packed { pack, offset, .. } => (pack, offset),
            VaultLocation::Loose(path) => (path, 0),
        };
        let mut reader = integrity.open_streamed(&file).unwrap();
        assert!(reader.next_chunk().unwrap().is_some());
        flip_byte(&pack, offset + STREAM_CHUNK as u64 * 2 + 7);
        assert!(reader.next_chunk().unwrap().is_some());
        assert!(reader.next_chunk().unwrap().is_some());
        let error = reader.next_chunk().unwrap_err();
        assert!(error.contains("no longer hash"), "{error}");
        // And refused outright from then on.
        assert!(integrity.open_streamed(&file).is_err());
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let mut cache = BodyCache::default();
        let chunk = Bytes::from(vec![0u8; CACHE_BYTES / 8]);
        for i in 0..20 {
            cache.put(format!("{i}"), chunk.clone());
        }
        assert!(cache.bytes <= CACHE_BYTES);
        assert!(cache.get("0").is_none());
        assert!(cache.get("19").is_some());
    }
}
