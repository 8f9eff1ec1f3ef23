//! Live tailing on real files: appends, partial lines, rename rotation,
//! copytruncate, truncation, resuming after a restart (also across a
//! rotation while stopped), overlong lines — and a flood raised within
//! 2 s of its start by the whole live path (file → tailer → detector).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sitewarden_logwatch::tail::{FileOffsetStore, MemoryOffsetStore, StartAt, Tailer, Watch};
use sitewarden_logwatch::{Config, Event, FloodEvent, LiveDetector, LogFormat};

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn poll_all(tailer: &mut Tailer) -> Vec<String> {
    let mut lines = Vec::new();
    while tailer
        .poll(1 << 20, &mut |line| {
            lines.push(String::from_utf8_lossy(line).into_owned())
        })
        .unwrap()
    {}
    lines
}

#[test]
fn follows_appends_and_holds_partial_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, "one\ntwo\n");
    let mut store = MemoryOffsetStore::default();
    let mut tailer = Tailer::open(&path, &mut store, StartAt::Beginning).unwrap();
    assert_eq!(poll_all(&mut tailer), vec!["one", "two"]);
    append(&path, "thr");
    assert!(poll_all(&mut tailer).is_empty(), "a partial line waits");
    append(&path, "ee\nfour\n");
    assert_eq!(poll_all(&mut tailer), vec!["three", "four"]);
    assert_eq!(tailer.offset().unwrap().position, 19);
}

#[test]
fn start_at_end_skips_history_and_a_partial_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, "old\nhalf-writ");
    let mut tailer = Tailer::open(&path, &mut MemoryOffsetStore::default(), StartAt::End).unwrap();
    append(&path, "ten\nnew\n");
    assert_eq!(poll_all(&mut tailer), vec!["new"]);
}

#[test]
fn rename_rotation_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, "a1\n");
    let mut tailer =
        Tailer::open(&path, &mut MemoryOffsetStore::default(), StartAt::Beginning).unwrap();
    assert_eq!(poll_all(&mut tailer), vec!["a1"]);
    // The writer keeps its handle across the rename, as nginx does until
    // it reopens its logs.
    let mut writer = OpenOptions::new().append(true).open(&path).unwrap();
    writer.write_all(b"a2\n").unwrap();
    std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    writer.write_all(b"a3\n").unwrap();
    let mut lines = poll_all(&mut tailer);
    append(&path, "b1\n");
    writer.write_all(b"a4\n").unwrap();
    lines.extend(poll_all(&mut tailer));
    lines.extend(poll_all(&mut tailer));
    append(&path, "b2\n");
    lines.extend(poll_all(&mut tailer));
    lines.extend(poll_all(&mut tailer));
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["a2", "a3", "a4", "b1", "b2"], "got {lines:?}");
    assert_eq!(tailer.stats().rotations, 1);
}

#[test]
fn copytruncate_and_truncation_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(
        &path,
        "line one of the old content\nline two of the old content\n",
    );
    let mut tailer =
        Tailer::open(&path, &mut MemoryOffsetStore::default(), StartAt::Beginning).unwrap();
    assert_eq!(poll_all(&mut tailer).len(), 2);
    // copytruncate: copy away, truncate in place, keep writing.
    std::fs::copy(&path, dir.path().join("access.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, "new\n");
    assert_eq!(poll_all(&mut tailer), vec!["new"]);
    assert_eq!(tailer.stats().truncations, 1);
    // Truncated and written past our position before we looked: the
    // first bytes changed, so start over.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(
        &path,
        "fresh content that is longer than before\nand more\n",
    );
    assert_eq!(
        poll_all(&mut tailer),
        vec!["fresh content that is longer than before", "and more"]
    );
    assert_eq!(tailer.stats().truncations, 2);
}

#[test]
fn resumes_from_saved_offsets_without_rereading_or_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let offsets = dir.path().join("offsets.json");
    append(&path, "1\n2\n3\npart");
    {
        let mut store = FileOffsetStore::open(&offsets).unwrap();
        let mut tailer = Tailer::open(&path, &mut store, StartAt::Beginning).unwrap();
        assert_eq!(poll_all(&mut tailer), vec!["1", "2", "3"]);
        tailer.save(&mut store).unwrap();
    }
    append(&path, "ial\n5\n");
    // A restart: a new process reads the offsets file.
    let mut store = FileOffsetStore::open(&offsets).unwrap();
    let mut tailer = Tailer::open(&path, &mut store, StartAt::End).unwrap();
    assert_eq!(poll_all(&mut tailer), vec!["partial", "5"]);
}

#[test]
fn resumes_across_a_rotation_while_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut store = MemoryOffsetStore::default();
    append(&path, "1\n2\n");
    {
        let mut tailer = Tailer::open(&path, &mut store, StartAt::Beginning).unwrap();
        assert_eq!(poll_all(&mut tailer), vec!["1", "2"]);
        tailer.save(&mut store).unwrap();
    }
    append(&path, "3\n");
    std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    append(&path, "4\n");
    let mut tailer = Tailer::open(&path, &mut store, StartAt::End).unwrap();
    assert_eq!(poll_all(&mut tailer), vec!["3", "4"]);
    assert_eq!(tailer.stats().lost_resumes, 0);
}

#[test]
fn overlong_lines_are_skipped_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut file = File::create(&path).unwrap();
    file.write_all(b"before\n").unwrap();
    file.write_all(&vec![b'x'; 3 << 20]).unwrap();
    file.write_all(b"\nafter\n").unwrap();
    let mut tailer =
        Tailer::open(&path, &mut MemoryOffsetStore::default(), StartAt::Beginning).unwrap();
    assert_eq!(poll_all(&mut tailer), vec!["before", "after"]);
    assert_eq!(tailer.stats().overlong_lines, 1);
}

#[test]
fn a_poll_reads_at_most_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, &"0123456789\n".repeat(100_000));
    let mut tailer =
        Tailer::open(&path, &mut MemoryOffsetStore::default(), StartAt::Beginning).unwrap();
    let mut count = 0;
    let more = tailer.poll(256 * 1024, &mut |_| count += 1).unwrap();
    assert!(more, "a big file is not read in one poll");
    assert!(count < 100_000);
    while tailer.poll(256 * 1024, &mut |_| count += 1).unwrap() {}
    assert_eq!(count, 100_000);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn clf_line(ip: &str, path: &str) -> String {
    let ms = now_ms();
    let (year, month, day) = sitewarden_logwatch::time::civil_from_days(ms.div_euclid(86_400_000));
    let second = ms.div_euclid(1000).rem_euclid(86_400);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{ip} - - [{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
        months[month as usize - 1],
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

/// The live target: a flood is raised within 2 s of its start,
/// end to end (appended to a real file, tailed, parsed, detected).
#[test]
fn live_flood_is_raised_within_two_seconds_of_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, "");
    let config = Config {
        format: LogFormat::Combined,
        ..Config::default()
    };
    let mut store = MemoryOffsetStore::default();
    let mut watch = Watch {
        sources: vec![(
            Tailer::open(&path, &mut store, StartAt::End).unwrap(),
            config.format.compile().unwrap(),
        )],
        detector: LiveDetector::new(&config, Vec::new(), now_ms()).unwrap(),
        bad_lines: 0,
    };
    let writer_path = path.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(2);
        // Two seconds of quiet traffic, then a flood of ~1,000 requests a
        // second from many sources for up to four seconds.
        while Instant::now() < deadline {
            append(&writer_path, &clf_line("10.1.1.1", "/index.html"));
            std::thread::sleep(Duration::from_millis(100));
        }
        started_tx.send(Instant::now()).unwrap();
        let end = Instant::now() + Duration::from_secs(4);
        let mut k = 0u32;
        while Instant::now() < end {
            let mut batch = String::new();
            for _ in 0..50 {
                batch.push_str(&clf_line(&format!("198.51.100.{}", k % 200 + 1), "/search"));
                k += 1;
            }
            append(&writer_path, &batch);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let flood_started = started_rx.recv().unwrap();
    let mut raised = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while raised.is_none() && Instant::now() < deadline {
        watch
            .poll_once(now_ms(), 8 << 20, &mut |event| {
                if let Event::Flood(FloodEvent::Started(_)) = event {
                    raised.get_or_insert(Instant::now());
                }
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    writer.join().unwrap();
    let raised = raised.expect("the flood was raised");
    let delay = raised.saturating_duration_since(flood_started);
    assert!(
        delay <= Duration::from_secs(2),
        "raised {delay:?} after the flood began"
    );
    assert_eq!(watch.bad_lines, 0);
}
