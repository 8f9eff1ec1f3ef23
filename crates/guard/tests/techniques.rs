//! One integration test per tampering technique of issue 3, on a real temp
//! web root with a real watcher thread (inotify). Each asserts that the
//! tree ends up as the approved version (or the allowed upload), that the
//! quarantine holds the attacker's bytes, and that nothing outside the root
//! was touched. Waiting is polling with a deadline, never a fixed sleep.

use sitewarden_guard::{
    ApproveOptions, GuardData, Manifest, Policy, Repair, Tamper, WatchConfig, WatchEvent, approve,
    blake3_hex, scan_tree, watch,
};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(15);

struct Site {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    attacker: PathBuf,
    data: GuardData,
    outside_before: Vec<(PathBuf, Vec<u8>)>,
    passwd_before: Vec<u8>,
    cancel: CancellationToken,
    events: Option<mpsc::Receiver<WatchEvent>>,
    thread: Option<JoinHandle<()>>,
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            out.push((path.clone(), fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

impl Site {
    /// A small portal: pages, a news tree, an image, an upload area; a
    /// directory outside the root with a secret; an attacker's scratch space.
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("www");
        write(
            &root.join("index.html"),
            b"<html><body>Provincial finance portal</body></html>",
        );
        write(&root.join("about.html"), b"<html>About us</html>");
        write(&root.join("news/a.html"), b"<html>news a</html>");
        write(&root.join("news/b.html"), b"<html>news b</html>");
        write(&root.join("news/2024/c.html"), b"<html>news c</html>");
        write(
            &root.join("img/logo.png"),
            &[0x89, b'P', b'N', b'G', 0, 1, 2, 3],
        );
        write(&root.join("uploads/.keep"), b"");
        for path in ["index.html", "about.html", "news/a.html"] {
            fs::set_permissions(root.join(path), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let outside = tmp.path().join("outside");
        write(&outside.join("secret.txt"), b"do not touch");
        let attacker = tmp.path().join("attacker");
        fs::create_dir_all(&attacker).unwrap();
        let data = GuardData::open(&tmp.path().join("data")).unwrap();
        approve(
            &data,
            &ApproveOptions {
                root: root.clone(),
                site: Some("portal".into()),
                upload_dirs: Some(vec!["uploads".into()]),
                approved_by: "test".into(),
                note: "baseline".into(),
                ..Default::default()
            },
            &|_| {},
        )
        .unwrap();
        Site {
            outside_before: snapshot(&outside),
            passwd_before: fs::read("/etc/passwd").unwrap_or_default(),
            _tmp: tmp,
            root,
            outside,
            attacker,
            data,
            cancel: CancellationToken::new(),
            events: None,
            thread: None,
        }
    }

    /// Starts the watcher and waits until its start-up check is done.
    fn start(&mut self) -> Vec<Repair> {
        let (sender, receiver) = mpsc::channel();
        let data = self.data.clone();
        let config = WatchConfig::new(&self.root);
        let cancel = self.cancel.clone();
        self.thread = Some(std::thread::spawn(move || {
            let events = sender.clone();
            if let Err(error) = watch(&data, &config, &cancel, move |event| {
                let _ = events.send(event);
            }) {
                let _ = sender.send(WatchEvent::Warning(format!("watch failed: {error}")));
            }
        }));
        let deadline = Instant::now() + DEADLINE;
        let mut repairs = Vec::new();
        loop {
            match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(WatchEvent::Ready { .. }) => break,
                Ok(WatchEvent::Repaired(repair)) => repairs.push(repair),
                Ok(WatchEvent::Warning(warning)) => panic!("{warning}"),
                Ok(_) => {}
                Err(_) => panic!("watcher not ready in time"),
            }
        }
        self.events = Some(receiver);
        repairs
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn approved(&self) -> Manifest {
        let (root_data, _) = self.data.root(&self.root).unwrap();
        root_data.current_manifest(&self.root).unwrap()
    }

    /// The live tree's differences from the approved version, ignoring
    /// the allowed paths.
    fn differences(&self, allowed: &[&str]) -> Vec<String> {
        let approved = self.approved();
        let policy = Policy::new(&approved.excludes, &approved.upload_dirs).unwrap();
        let live = match scan_tree(&self.root, &policy, None, &|_| {}) {
            Ok(live) => live.entries,
            Err(error) => return vec![error.to_string()],
        };
        sitewarden_guard::diff(&approved.entries, &live)
            .into_iter()
            .map(|change| serde_json::to_string(&change).unwrap())
            .filter(|change| {
                !allowed
                    .iter()
                    .any(|path| change.contains(&format!("\"path\":\"{path}\"")))
            })
            .collect()
    }

    /// Polls until the tree is the approved version (plus allowed paths).
    fn wait_restored(&self, allowed: &[&str]) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let differences = self.differences(allowed);
            if differences.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not restored in time: {differences:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Collects repairs until one for `path` arrives.
    fn wait_repair(&self, path: &str) -> Repair {
        let deadline = Instant::now() + DEADLINE;
        let events = self.events.as_ref().unwrap();
        loop {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(WatchEvent::Repaired(repair)) if repair.path.to_string() == path => {
                    return repair;
                }
                Ok(_) => {}
                Err(_) => panic!("no repair of {path} in time"),
            }
        }
    }

    /// Collects repairs until one at or below `dir` arrives.
    fn wait_repair_below(&self, dir: &str) -> Repair {
        let deadline = Instant::now() + DEADLINE;
        let events = self.events.as_ref().unwrap();
        loop {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(WatchEvent::Repaired(repair)) if repair.path.to_string().starts_with(dir) => {
                    return repair;
                }
                Ok(_) => {}
                Err(_) => panic!("no repair below {dir} in time"),
            }
        }
    }

    fn quarantined(&self, bytes: &[u8]) -> bool {
        let path = self.data.quarantine().path(&blake3_hex(bytes)).unwrap();
        fs::read(path).is_ok_and(|kept| kept == bytes)
    }

    /// Waits until the quarantine holds these bytes. An attacker's write
    /// that lands after the guard replaced the file (open with O_TRUNC,
    /// the guard repairs, then write) is captured from the old inode a
    /// little later, so the evidence may arrive after the repair.
    fn assert_quarantined(&self, bytes: &[u8]) {
        let deadline = Instant::now() + DEADLINE;
        while !self.quarantined(bytes) {
            assert!(
                Instant::now() < deadline,
                "the quarantine never held {:?}",
                String::from_utf8_lossy(bytes)
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn assert_outside_untouched(&self) {
        assert_eq!(
            snapshot(&self.outside),
            self.outside_before,
            "outside the root changed"
        );
        assert_eq!(
            fs::read("/etc/passwd").unwrap_or_default(),
            self.passwd_before
        );
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn overwrite_in_place() {
    let mut site = Site::new();
    site.start();
    fs::write(site.path("index.html"), b"<h1>Hacked by nobody</h1>").unwrap();
    let repair = site.wait_repair("index.html");
    assert_eq!(repair.tamper, Tamper::Modified);
    site.wait_restored(&[]);
    site.assert_quarantined(b"<h1>Hacked by nobody</h1>");
    site.assert_outside_untouched();
}

#[test]
fn truncate() {
    let mut site = Site::new();
    site.start();
    fs::OpenOptions::new()
        .write(true)
        .open(site.path("about.html"))
        .unwrap()
        .set_len(0)
        .unwrap();
    site.wait_repair("about.html");
    site.wait_restored(&[]);
    site.assert_quarantined(b"");
    site.assert_outside_untouched();
}

#[test]
fn append_hidden_link() {
    let mut site = Site::new();
    site.start();
    let mut defaced = fs::read(site.path("index.html")).unwrap();
    let link = b"<div style=\"display:none\"><a href=\"http://casino.example/\">bet</a></div>";
    defaced.extend_from_slice(link);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(site.path("index.html"))
        .unwrap();
    std::io::Write::write_all(&mut file, link).unwrap();
    drop(file);
    site.wait_repair("index.html");
    site.wait_restored(&[]);
    site.assert_quarantined(&defaced);
    site.assert_outside_untouched();
}

#[test]
fn atomic_replace_via_rename() {
    let mut site = Site::new();
    site.start();
    let staged = site.attacker.join("index.html.new");
    fs::write(&staged, b"<h1>replaced by rename</h1>").unwrap();
    fs::rename(&staged, site.path("index.html")).unwrap();
    site.wait_repair("index.html");
    site.wait_restored(&[]);
    site.assert_quarantined(b"<h1>replaced by rename</h1>");
    site.assert_outside_untouched();
}

#[test]
fn delete_a_file() {
    let mut site = Site::new();
    site.start();
    fs::remove_file(site.path("about.html")).unwrap();
    let repair = site.wait_repair("about.html");
    assert_eq!(repair.tamper, Tamper::Deleted);
    site.wait_restored(&[]);
    site.assert_outside_untouched();
}

#[test]
fn delete_a_directory() {
    let mut site = Site::new();
    site.start();
    // `rm -rf` races the guard, which puts files back while it deletes:
    // whatever it managed to remove is what is repaired.
    let _ = fs::remove_dir_all(site.path("news"));
    let repair = site.wait_repair_below("news");
    assert_eq!(repair.tamper, Tamper::Deleted);
    site.wait_restored(&[]);
    assert_eq!(
        fs::read(site.path("news/2024/c.html")).unwrap(),
        b"<html>news c</html>"
    );
    site.assert_outside_untouched();
}

#[test]
fn add_a_web_shell() {
    let mut site = Site::new();
    site.start();
    let shell = b"<?php eval($_POST['x']); ?>";
    fs::write(site.path("news/shell.php"), shell).unwrap();
    let repair = site.wait_repair("news/shell.php");
    assert_eq!(repair.tamper, Tamper::AddedScript);
    repair.wait_late_captures();
    let (signal, evidence) = sitewarden_guard::signal_for(
        "portal",
        &sitewarden_guard::PageMap::default(),
        &site.root,
        &repair,
    );
    assert_eq!(signal.kind, sitewarden_incident::SignalKind::WebShell);
    assert!(
        evidence.iter().any(|item| item.content == shell),
        "the shell's bytes are evidence, also when written after the guard removed it"
    );
    site.wait_restored(&[]);
    site.assert_quarantined(shell);
    site.assert_outside_untouched();
}

#[test]
fn a_script_in_the_upload_area_is_quarantined_but_an_image_stays() {
    let mut site = Site::new();
    site.start();
    fs::write(site.path("uploads/photo.jpg"), b"\xff\xd8\xff jpeg").unwrap();
    fs::create_dir_all(site.path("uploads/2024")).unwrap();
    fs::write(
        site.path("uploads/2024/x.php.jpg"),
        b"<?php system($_GET['c']);",
    )
    .unwrap();
    site.wait_repair("uploads/2024/x.php.jpg");
    site.wait_restored(&["uploads/photo.jpg", "uploads/2024"]);
    assert!(
        site.path("uploads/photo.jpg").exists(),
        "the allowed upload stays"
    );
    assert!(!site.path("uploads/2024/x.php.jpg").exists());
    site.assert_quarantined(b"<?php system($_GET['c']);");
    site.assert_outside_untouched();
}

#[test]
fn chmod_777() {
    let mut site = Site::new();
    site.start();
    fs::set_permissions(site.path("index.html"), fs::Permissions::from_mode(0o777)).unwrap();
    let repair = site.wait_repair("index.html");
    assert_eq!(repair.tamper, Tamper::Metadata);
    site.wait_restored(&[]);
    let mode = fs::metadata(site.path("index.html"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o644);
    site.assert_outside_untouched();
}

#[test]
fn a_file_replaced_by_a_symlink_to_etc_passwd() {
    let mut site = Site::new();
    site.start();
    let link = site.attacker.join("link");
    symlink("/etc/passwd", &link).unwrap();
    fs::rename(&link, site.path("index.html")).unwrap();
    let repair = site.wait_repair("index.html");
    assert_eq!(repair.tamper, Tamper::Replaced);
    site.wait_restored(&[]);
    assert!(
        !fs::symlink_metadata(site.path("index.html"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    site.assert_quarantined(b"/etc/passwd");
    site.assert_outside_untouched();
}

#[test]
fn a_directory_replaced_by_a_symlink_out_of_the_root() {
    let mut site = Site::new();
    site.start();
    // Move the directory away and put a link in its place; the guard may
    // put the directory back in between, so an attacker tries again.
    let link = site.attacker.join("link");
    symlink(&site.outside, &link).unwrap();
    let mut landed = false;
    for attempt in 0..100 {
        let _ = fs::rename(
            site.path("news"),
            site.attacker.join(format!("news-{attempt}")),
        );
        if fs::rename(&link, site.path("news")).is_ok() {
            landed = true;
            break;
        }
    }
    assert!(landed, "the link never replaced the directory");
    site.wait_repair("news");
    site.wait_restored(&[]);
    assert!(fs::symlink_metadata(site.path("news")).unwrap().is_dir());
    site.assert_quarantined(site.outside.as_os_str().as_encoded_bytes());
    // The restore of news/a.html must not have gone through the link.
    site.assert_outside_untouched();
}

#[test]
fn rename_a_page_away() {
    let mut site = Site::new();
    site.start();
    fs::rename(site.path("about.html"), site.path("about.html.bak")).unwrap();
    site.wait_restored(&[]);
    assert!(!site.path("about.html.bak").exists());
    site.assert_quarantined(b"<html>About us</html>");
    site.assert_outside_untouched();
}

#[test]
fn many_writes_in_a_tight_loop() {
    let mut site = Site::new();
    site.start();
    for round in 0..300 {
        // The guard may be renaming the file back at any moment.
        let _ = fs::write(site.path("index.html"), format!("<h1>defaced {round}</h1>"));
    }
    site.wait_restored(&[]);
    // Writes that landed on an inode the guard had already renamed away
    // never reached the site; the ones that did are kept.
    assert!(
        (0..300).any(|round| site.quarantined(format!("<h1>defaced {round}</h1>").as_bytes())),
        "no defaced version kept"
    );
    site.assert_outside_untouched();
}

#[test]
fn restart_repairs_changes_made_while_the_guard_was_down() {
    let mut site = Site::new();
    fs::write(site.path("index.html"), b"defaced while down").unwrap();
    fs::remove_dir_all(site.path("news/2024")).unwrap();
    fs::write(site.path("img/cmd.jsp"), b"<% Runtime.exec %>").unwrap();
    fs::set_permissions(site.path("about.html"), fs::Permissions::from_mode(0o666)).unwrap();
    let repairs = site.start();
    assert!(repairs.len() >= 4, "{repairs:?}");
    assert!(
        site.differences(&[]).is_empty(),
        "{:?}",
        site.differences(&[])
    );
    site.assert_quarantined(b"defaced while down");
    site.assert_quarantined(b"<% Runtime.exec %>");
    site.assert_outside_untouched();
}
