//! The guard killed at any moment. The real `sitewarden guard watch` runs
//! on a web root that a thread keeps tampering with, and is `SIGKILL`ed at
//! several points — during its start-up check, in the middle of restoring
//! a 24 MiB page (after it has read the approved copy from the vault,
//! before the rename), while it repairs a stream of changes — and
//! `guard publish` is killed while it packs a new version into the vault
//! and again between the pack and the manifest. After each kill the data
//! must verify (`guard verify`: every vault content against its BLAKE3,
//! every version names only content that verifies, `current` names an
//! existing version); at the end, with tampering stopped and the watcher
//! restarted, the tree is exactly the current version, with no temporary
//! file left anywhere in it.
//!
//! What a kill does lose: the signals of repairs made but not yet recorded
//! in the store (they are recorded off the repair path); the repairs
//! themselves and the quarantined bytes are kept.

use sitewarden_guard::GuardData;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");
/// Large enough that restoring or packing it takes a while to kill into.
const BIG: usize = 24 << 20;
const DEADLINE: Duration = Duration::from_secs(30);

/// What a path should be: a file's bytes and mode, or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>, u32),
    Dir,
    Symlink(PathBuf),
    Other,
}

/// Every path under `dir` (relative), not following symlinks.
fn tree(dir: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in listing.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let node = if meta.file_type().is_symlink() {
                Node::Symlink(std::fs::read_link(&path).unwrap_or_default())
            } else if meta.is_dir() {
                pending.push(path.clone());
                Node::Dir
            } else if meta.is_file() {
                match std::fs::read(&path) {
                    Ok(bytes) => Node::File(bytes, meta.permissions().mode() & 0o7777),
                    Err(_) => continue,
                }
            } else {
                Node::Other
            };
            out.insert(rel, node);
        }
    }
    out
}

fn write_tree(dir: &Path, nodes: &BTreeMap<String, Node>) {
    for (rel, node) in nodes {
        let path = dir.join(rel);
        match node {
            Node::Dir => std::fs::create_dir_all(&path).unwrap(),
            Node::File(bytes, mode) => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
            }
            other => panic!("not in the test trees: {other:?}"),
        }
    }
}

/// The approved site: 6 sections of 10 pages and one 24 MiB page.
fn site(variant: &str) -> BTreeMap<String, Node> {
    let mut nodes = BTreeMap::new();
    for section in 0..6 {
        nodes.insert(format!("s{section}"), Node::Dir);
        for page in 0..10 {
            nodes.insert(
                format!("s{section}/p{page}.html"),
                Node::File(
                    format!("<html>{variant} section {section} page {page}</html>").into_bytes(),
                    0o644,
                ),
            );
        }
    }
    let big: Vec<u8> = (0..BIG)
        .map(|i| b"<p>notice of the provincial finance department</p>\n"[i % 51])
        .chain(variant.bytes())
        .collect();
    nodes.insert("big.html".into(), Node::File(big, 0o644));
    nodes
}

/// A small deterministic generator (xorshift), so every run tampers alike.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// O_NOFOLLOW: the tamperer itself plants symlinks out of the root, and the
/// tests run as root in CI — writing or chmodding through such a link
/// would damage the machine (it did, once, before these helpers).
const O_NOFOLLOW: i32 = 0o400_000;

/// Writes `bytes` to `path` unless `path` is a symlink.
fn write_nofollow(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)?
        .write_all(bytes)
}

/// chmods `path` unless it is a symlink (through an O_NOFOLLOW descriptor).
fn chmod_nofollow(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)?
        .set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Tampers with the root until stopped: overwrites, replacements by
/// rename, deletions, web shells, new directories, chmod 777, symlinks out
/// of the root (to a decoy file beside it). Errors are ignored (the guard is changing the same files).
struct Tamperer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Tamperer {
    fn start(root: &Path, scratch: &Path) -> Tamperer {
        let stop = Arc::new(AtomicBool::new(false));
        let (root, scratch, stopped) = (root.to_path_buf(), scratch.to_path_buf(), stop.clone());
        std::fs::create_dir_all(&scratch).unwrap();
        // The links point at a decoy in the test's own directory, never at a
        // system file: this runs as root in CI.
        let decoy = scratch.join("outside-secret");
        std::fs::write(&decoy, b"outside the root").unwrap();
        let thread = std::thread::spawn(move || {
            let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
            let mut done = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                let page = root.join(format!("s{}/p{}.html", dice.below(6), dice.below(10)));
                let _ = match dice.below(8) {
                    0 | 1 => write_nofollow(&page, format!("<h1>hacked {done}</h1>").as_bytes()),
                    2 => {
                        let staged = scratch.join("staged");
                        std::fs::write(&staged, b"<h1>replaced</h1>")
                            .and_then(|()| std::fs::rename(&staged, &page))
                    }
                    3 => std::fs::remove_file(&page),
                    4 => std::fs::write(
                        root.join(format!("s{}/shell{done}.php", dice.below(6))),
                        b"<?php eval($_POST[1]); ?>",
                    ),
                    5 => std::fs::create_dir_all(root.join(format!("evil{done}"))).and_then(|()| {
                        std::fs::write(root.join(format!("evil{done}/x.html")), b"x")
                    }),
                    6 => chmod_nofollow(&page, 0o777),
                    _ => std::fs::remove_file(&page)
                        .and_then(|()| std::os::unix::fs::symlink(&decoy, &page)),
                };
                done += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            done
        });
        Tamperer {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// (`rchar`, `wchar`) of /proc/PID/io: bytes the process has read and written.
fn io_of(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.trim().parse().ok())
    };
    Some((field("rchar:")?, field("wchar:")?))
}

/// Polls `done` every millisecond until it holds; false if `child` ended
/// first or the deadline passed.
async fn poll_until(child: &mut Child, mut done: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + DEADLINE;
    while Instant::now() < give_up {
        if done() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

async fn kill(mut child: Child) {
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not exited: {status}");
}

struct Guard {
    data: PathBuf,
    root: PathBuf,
    /// Every process's stderr, appended (a pipe nobody reads could block it).
    log: PathBuf,
}

impl Guard {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .args(["--data", self.data.to_str().unwrap()])
            .args(["--root", self.root.to_str().unwrap()])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.log)
                    .unwrap(),
            ))
            .kill_on_drop(true);
        command
    }

    /// Fails with what the processes said on stderr.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}; stderr so far:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Starts `guard watch`; the flag turns true once it is guarding.
    fn watch(&self) -> (Child, Arc<AtomicBool>) {
        let mut child = self.command(&["guard", "watch"]).spawn().unwrap();
        let ready = Arc::new(AtomicBool::new(false));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let seen = ready.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("guarding") {
                    seen.store(true, Ordering::Relaxed);
                }
            }
        });
        (child, ready)
    }

    /// `guard verify` must pass: the state a kill left is consistent.
    async fn assert_verifies(&self, after: &str) {
        let output = Command::new(BIN)
            .args(["guard", "verify", "--data", self.data.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "after {after}, the guard's data does not verify:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn current(&self) -> u64 {
        let guard = GuardData::open(&self.data).unwrap();
        let (root_data, _) = guard.root(&self.root).unwrap();
        root_data.current().unwrap().expect("a current version")
    }
}

#[tokio::test]
async fn killed_at_any_moment_the_guard_comes_back_to_the_approved_version() {
    let temp = tempfile::tempdir().unwrap();
    let guard = Guard {
        data: temp.path().join("data"),
        root: temp.path().join("www"),
        log: temp.path().join("stderr.log"),
    };
    let (first, second) = (site("v1"), site("v2"));
    write_tree(&guard.root, &first);
    let staging = temp.path().join("staging");
    write_tree(&staging, &second);
    let baseline = guard
        .command(&["guard", "baseline", "--site", "portal"])
        .output()
        .await
        .unwrap();
    assert!(
        baseline.status.success(),
        "{}",
        String::from_utf8_lossy(&baseline.stderr)
    );
    let tamperer = Tamperer::start(&guard.root, &temp.path().join("scratch"));

    // 1. During the start-up check (it hashes 24 MiB, among the rest).
    let (watcher, _) = guard.watch();
    tokio::time::sleep(Duration::from_millis(30)).await;
    kill(watcher).await;
    guard
        .assert_verifies("a kill during the start-up check")
        .await;

    // 2. In the middle of restoring the big page: it has read the approved
    //    copy from the vault (rchar grew by its size), not yet renamed it in.
    for round in 0..2 {
        let (mut watcher, ready) = guard.watch();
        if !poll_until(&mut watcher, || ready.load(Ordering::Relaxed)).await {
            guard.fail("the watcher is not ready");
        }
        let pid = watcher.id().unwrap();
        let (read_before, _) = io_of(pid).unwrap();
        let staged = temp.path().join(format!("big-{round}"));
        std::fs::write(&staged, b"<h1>hacked</h1>").unwrap();
        std::fs::rename(&staged, guard.root.join("big.html")).unwrap();
        assert!(
            poll_until(&mut watcher, || {
                io_of(pid).is_some_and(|(read, _)| read >= read_before + BIG as u64)
            })
            .await,
            "the big page's restore never read it from the vault"
        );
        kill(watcher).await;
        guard.assert_verifies("a kill mid-restore").await;
    }

    // 3. While it repairs a stream of changes.
    let (mut watcher, ready) = guard.watch();
    assert!(poll_until(&mut watcher, || ready.load(Ordering::Relaxed)).await);
    tokio::time::sleep(Duration::from_millis(150)).await;
    kill(watcher).await;
    guard.assert_verifies("a kill while repairing").await;

    // 4. A publish killed while it packs the staging tree into the vault
    //    (it has read the big page), then one killed right after its pack
    //    is complete (its index exists), before or while the manifest is
    //    written. No watcher runs: the publish would apply it itself.
    let mut publish = guard
        .command(&["guard", "publish", "--from", staging.to_str().unwrap()])
        .spawn()
        .unwrap();
    let pid = publish.id().unwrap();
    assert!(
        poll_until(&mut publish, || {
            io_of(pid).is_some_and(|(read, _)| read >= BIG as u64)
        })
        .await,
        "the publish never read the staging tree"
    );
    kill(publish).await;
    guard.assert_verifies("a kill while packing").await;
    let packs = guard.data.join("guard/vault/packs");
    let indexes = || {
        std::fs::read_dir(&packs)
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "idx"))
            })
            .count()
    };
    let indexes_before = indexes();
    let mut publish = guard
        .command(&["guard", "publish", "--from", staging.to_str().unwrap()])
        .spawn()
        .unwrap();
    let packed = poll_until(&mut publish, || indexes() > indexes_before).await;
    kill(publish).await;
    assert!(packed, "the second publish never finished its pack");
    guard
        .assert_verifies("a kill between pack and manifest")
        .await;

    // 5. Mid-restore again, now of whichever version is current.
    let (mut watcher, ready) = guard.watch();
    assert!(poll_until(&mut watcher, || ready.load(Ordering::Relaxed)).await);
    let pid = watcher.id().unwrap();
    let (read_before, _) = io_of(pid).unwrap();
    std::fs::write(guard.root.join("big.html"), b"<h1>hacked in place</h1>").unwrap();
    assert!(
        poll_until(&mut watcher, || {
            io_of(pid).is_some_and(|(read, _)| read >= read_before + BIG as u64)
        })
        .await
    );
    kill(watcher).await;
    guard.assert_verifies("a second kill mid-restore").await;

    // The end: no more tampering; restarted, the watcher brings the tree
    // to the current version.
    let tampered = tamperer.stop();
    assert!(
        tampered > 50,
        "the tree was tampered with ({tampered} changes)"
    );
    let expected = if guard.current() == 1 {
        &first
    } else {
        &second
    };
    let (mut watcher, ready) = guard.watch();
    assert!(poll_until(&mut watcher, || ready.load(Ordering::Relaxed)).await);
    let mut live = tree(&guard.root);
    let settled = poll_until(&mut watcher, || {
        live = tree(&guard.root);
        &live == expected
    })
    .await;
    // Killed once more: a graceful stop would first record the signals of
    // the thousands of repairs above, which is not what this test is about.
    kill(watcher).await;
    let stray: Vec<&String> = live
        .keys()
        .filter(|path| path.contains(".sitewarden-tmp."))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
    if !settled {
        let differing: Vec<String> = expected
            .keys()
            .chain(live.keys())
            .filter(|path| expected.get(*path) != live.get(*path))
            .map(|path| match live.get(path) {
                Some(Node::File(bytes, mode)) => format!("{path}: {} bytes {mode:o}", bytes.len()),
                other => format!("{path}: {other:?}"),
            })
            .collect();
        panic!("the tree is not version {}: {differing:?}", guard.current());
    }
    guard.assert_verifies("the last run").await;
    // And the guard agrees that the live tree is its current version.
    let diff = guard.command(&["guard", "diff"]).output().await.unwrap();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}
