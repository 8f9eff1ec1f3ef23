//! End-to-end batch analysis of generated logs: everything the generator
//! put in is found, and nothing else — in combined, JSON-lines and IIS
//! form, plain and gzip-compressed, with garbage mixed in.

use std::io::Write;
use std::sync::OnceLock;

use sitewarden_logwatch::fixture::{FixtureSpec, Truth, generate_bytes};
use sitewarden_logwatch::format::ClfParser;
use sitewarden_logwatch::{
    AttackClass, Config, DecisionAction, FloodKind, Parsed, Report, analyze, analyze_bytes,
    records_between, render_html, timeline,
};

/// A day of traffic with every attack class, a flood and a defacement.
fn fixture() -> &'static (Vec<u8>, Truth) {
    static FIXTURE: OnceLock<(Vec<u8>, Truth)> = OnceLock::new();
    FIXTURE.get_or_init(|| generate_bytes(&FixtureSpec::day(42, 60_000)))
}

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        std::fs::write(&path, &fixture().0).unwrap();
        let mut calls = 0;
        let report = analyze(&[&path], &Config::default(), |p| {
            calls += 1;
            assert!(p.bytes_done <= p.bytes_total);
        })
        .unwrap();
        assert!(calls > 0, "progress was reported");
        report
    })
}

#[test]
fn every_line_is_read_and_none_is_bad() {
    let (bytes, truth) = fixture();
    let report = report();
    assert_eq!(report.lines, truth.lines);
    assert_eq!(report.bad_lines, 0, "{:?}", report.bad_line_samples);
    assert_eq!(report.requests, truth.lines);
    assert_eq!(report.files[0].format, "combined");
    assert_eq!(report.files[0].bytes, bytes.len() as u64);
    assert!(
        truth.odd_benign > 1_000,
        "the fixture has odd benign traffic: {}",
        truth.odd_benign
    );
}

#[test]
fn every_embedded_attack_is_found_with_its_class() {
    let (_, truth) = fixture();
    let report = report();
    for expected in &truth.attacks {
        assert!(
            report
                .attacks
                .iter()
                .any(|a| a.ip == expected.ip && a.class == expected.class),
            "missing {:?} from {}; found for that address: {:?}",
            expected.class,
            expected.ip,
            report
                .attacks
                .iter()
                .filter(|a| a.ip == expected.ip)
                .map(|a| (a.class, a.rule.clone()))
                .collect::<Vec<_>>()
        );
    }
    // Every class is present, each with its rule.
    for class in AttackClass::ALL {
        assert!(
            report
                .attacks_by_class
                .iter()
                .any(|c| c.class == class && !c.examples.is_empty()),
            "no {class:?}"
        );
    }
    let scenario = report
        .attacks
        .iter()
        .find(|a| a.rule == "scenario:http-probing")
        .expect("404 scanner found by its scenario");
    assert_eq!(scenario.ip.to_string(), "203.0.113.17");
    assert!(
        report
            .attacks
            .iter()
            .any(|a| a.rule == "scenario:http-login-bruteforce"
                && a.ip.to_string() == "203.0.113.18")
    );
}

#[test]
fn normal_traffic_with_odd_urls_raises_no_attack() {
    let (_, truth) = fixture();
    let report = report();
    let false_positives: Vec<_> = report
        .attacks
        .iter()
        .filter(|a| !truth.attackers.contains(&a.ip))
        .collect();
    assert!(
        false_positives.is_empty(),
        "attacks on normal traffic: {false_positives:#?}"
    );
    // Nobody from the normal client range is blocked.
    for decision in &report.decisions {
        let ip = decision.ip.to_string();
        assert!(
            !ip.starts_with("10.") || ip.starts_with("10.250."),
            "normal client blocked: {decision:?}"
        );
    }
}

#[test]
fn the_flood_is_found_with_its_sources_and_nothing_else_is() {
    let (_, truth) = fixture();
    let report = report();
    let (start, end, heavy) = truth.flood.clone().unwrap();
    let site: Vec<_> = report
        .floods
        .iter()
        .filter(|f| f.kind == FloodKind::Site)
        .collect();
    assert_eq!(site.len(), 1, "{:#?}", report.floods);
    let flood = site[0];
    assert!(
        (flood.start_ms - start).abs() <= 2_000,
        "flood starts at {} not {start}",
        flood.start_ms
    );
    assert!(
        (flood.end_ms - end).abs() <= 2_000,
        "flood ends at {} not {end}",
        flood.end_ms
    );
    assert!(flood.peak_rps >= 400);
    assert!(
        heavy.contains(&flood.top_sources[0].ip),
        "{:?}",
        flood.top_sources
    );
    assert!(
        flood.new_sources > 1_000,
        "the botnet was new: {}",
        flood.new_sources
    );
    assert_eq!(flood.rate_curve.len(), 120);
    // Every flood (site or new-source surge) is the embedded one.
    for f in &report.floods {
        assert!(
            f.start_ms < end + 60_000 && f.end_ms > start - 60_000,
            "unexpected flood {f:#?}"
        );
    }
    // The heavy bots are blocked, each explained.
    for bot in &heavy {
        let decision = report
            .decisions
            .iter()
            .find(|d| d.ip == *bot)
            .unwrap_or_else(|| panic!("{bot} not blocked"));
        assert_eq!(decision.action, DecisionAction::Block);
        assert!(decision.reasons.contains(&"flood".to_string()));
        assert!(decision.explanation.contains("during the flood"));
    }
}

#[test]
fn the_defacement_story_is_found() {
    let (_, truth) = fixture();
    let story = truth.defacement.clone().unwrap();
    let report = report();
    let shell = report
        .attacks
        .iter()
        .find(|a| a.rule == "webshell-new-script-after-upload")
        .unwrap_or_else(|| {
            panic!(
                "new script after upload not found: {:#?}",
                report
                    .attacks
                    .iter()
                    .filter(|a| a.ip == story.attacker)
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(shell.ip, story.attacker);
    assert_eq!(shell.time_ms, story.shell_first_ms);
    assert!(shell.request.contains(&story.shell_path));
    assert!(
        report
            .decisions
            .iter()
            .any(|d| d.ip == story.attacker && d.action == DecisionAction::Block)
    );
}

#[test]
fn json_has_the_documented_shape() {
    let value: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
    for key in [
        "lines",
        "bad_lines",
        "attacks",
        "floods",
        "decisions",
        "requests_per_minute",
        "status_mix",
        "top_ips",
        "top_paths",
        "top_user_agents",
        "attacks_by_class",
    ] {
        assert!(value.get(key).is_some(), "no {key}");
    }
    let attack = &value["attacks"][0];
    for key in ["ip", "class", "time", "request", "rule"] {
        assert!(attack.get(key).is_some(), "attack has no {key}: {attack}");
    }
    assert!(attack["time"].as_str().unwrap().ends_with('Z'));
    let flood = &value["floods"][0];
    for key in ["start", "end", "peak_rps", "top_sources"] {
        assert!(flood.get(key).is_some(), "flood has no {key}: {flood}");
    }
    assert!(flood["top_sources"][0]["ip"].is_string());
    assert_eq!(value["requests_per_minute"].as_array().unwrap().len(), 1440);
}

#[test]
fn html_escapes_what_attackers_sent() {
    let html = render_html(report());
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("&lt;script&gt;") || html.contains("%3Cscript"),
        "the XSS example is shown"
    );
    assert!(!html.contains("<script>alert"), "attacker text is escaped");
    assert!(html.contains("<svg"));
}

#[test]
fn timeline_tells_upload_shell_page_change() {
    let (bytes, truth) = fixture();
    let story = truth.defacement.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(&path, bytes).unwrap();
    let hour = 3_600_000;
    let records = records_between(
        &[&path],
        &Config::default(),
        story.changed_ms - hour,
        story.changed_ms + hour,
    )
    .unwrap();
    assert!(records.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
    let t = timeline(
        &records,
        story.changed_ms,
        30 * 60_000,
        Some(&story.page_path),
    );
    let suspects: Vec<String> = t.suspects.iter().map(|s| s.ip.to_string()).collect();
    assert_eq!(
        suspects,
        vec![story.attacker.to_string()],
        "{}",
        t.to_text()
    );
    let reasons = t.suspects[0].reasons.join("; ");
    assert!(
        reasons.contains("upload") && reasons.contains("new script"),
        "{reasons}"
    );
    use sitewarden_logwatch::TimelineMark;
    let at = |mark: fn(&TimelineMark) -> bool| {
        t.events
            .iter()
            .find(|e| e.marks.iter().any(mark))
            .map(|e| e.time_ms)
    };
    assert_eq!(
        at(|m| matches!(m, TimelineMark::Upload)),
        Some(story.upload_ms)
    );
    assert_eq!(
        at(|m| matches!(m, TimelineMark::NewScript)),
        Some(story.shell_first_ms)
    );
    assert_eq!(
        at(|m| matches!(m, TimelineMark::PageChanged { .. })),
        Some(story.changed_ms)
    );
    let text = t.to_text();
    assert!(text.contains("PAGE CHANGED: 18342 → 4410 bytes"), "{text}");
    assert_eq!(t.suspects[0].first_seen_ms, story.upload_ms - 45_000);
}

/// Converts the combined fixture into another format, line by line.
fn convert(
    bytes: &[u8],
    mut write: impl FnMut(&sitewarden_logwatch::Record<'_>, &mut Vec<u8>, usize),
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut parser = ClfParser::new();
    for (i, line) in bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let Parsed::Record(record) = parser.parse(line) else {
            panic!()
        };
        write(&record, &mut out, i);
    }
    out
}

fn iso(ms: i64) -> String {
    sitewarden_logwatch::time::format_rfc3339(ms)
}

fn classes(report: &Report) -> Vec<(String, AttackClass)> {
    let mut found: Vec<(String, AttackClass)> = report
        .attacks
        .iter()
        .map(|a| (a.ip.to_string(), a.class))
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn json_lines_and_iis_find_the_same() {
    let (bytes, truth) = fixture();
    let json = convert(bytes, |r, out, _| {
        let value = serde_json::json!({
            "time": iso(r.time_ms.unwrap()),
            "remote_addr": r.ip.to_string(),
            "request": format!("{} {} HTTP/1.1", String::from_utf8_lossy(r.method), String::from_utf8_lossy(r.target)),
            "status": r.status,
            "body_bytes_sent": r.bytes,
            "http_user_agent": String::from_utf8_lossy(r.user_agent),
        });
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(b'\n');
    });
    let half = truth.lines as usize / 2;
    let iis = convert(bytes, |r, out, i| {
        // The header changes half-way: other columns, another order.
        if i == 0 {
            out.extend_from_slice(b"#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-bytes\n");
        }
        if i == half {
            out.extend_from_slice(b"#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status sc-bytes time-taken cs(User-Agent)\n");
        }
        let t = iso(r.time_ms.unwrap());
        let (date, time) = (&t[..10], &t[11..19]);
        let target = String::from_utf8_lossy(r.target);
        let (stem, query) = target.split_once('?').unwrap_or((&target, "-"));
        let agent = String::from_utf8_lossy(r.user_agent).replace(' ', "+");
        let line = if i < half {
            format!(
                "{date} {time} 10.0.0.5 {} {stem} {query} 443 - {} {agent} {} {}\n",
                String::from_utf8_lossy(r.method),
                r.ip,
                r.status,
                r.bytes
            )
        } else {
            format!(
                "{date} {time} {} {} {stem} {query} {} {} 15 {agent}\n",
                r.ip,
                String::from_utf8_lossy(r.method),
                r.status,
                r.bytes
            )
        };
        out.extend_from_slice(line.as_bytes());
    });
    let combined = classes(report());
    for (name, data) in [("json", json), ("iis", iis)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("access.{name}"));
        std::fs::write(&path, &data).unwrap();
        let report = analyze(&[&path], &Config::default(), |_| {}).unwrap();
        assert_eq!(report.files[0].format, name);
        assert_eq!(report.requests, truth.lines, "{name}");
        assert_eq!(report.bad_lines, 0, "{name}: {:?}", report.bad_line_samples);
        // The shellshock agent has "() {" which IIS would write with '+': same text after decoding.
        assert_eq!(
            classes(&report),
            combined,
            "{name} finds what combined finds"
        );
        assert_eq!(report.floods.len(), self::report().floods.len(), "{name}");
    }
}

#[test]
fn gzip_rotated_and_truncated_gzip() {
    let (bytes, truth) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("access.log.1.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Two gzip members, as `cat a.gz b.gz` makes.
    let cut = bytes.len() / 2 + memchr::memchr(b'\n', &bytes[bytes.len() / 2..]).unwrap() + 1;
    encoder.write_all(&bytes[..cut]).unwrap();
    let mut compressed = encoder.finish().unwrap();
    let mut second = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    second.write_all(&bytes[cut..]).unwrap();
    compressed.extend(second.finish().unwrap());
    std::fs::write(&gz, &compressed).unwrap();
    let report = analyze(&[&gz], &Config::default(), |_| {}).unwrap();
    assert!(report.files[0].gzip);
    assert_eq!(report.lines, truth.lines);
    assert_eq!(report.files[0].broken, None);
    assert_eq!(classes(&report), classes(self::report()));
    // Truncated: what was decoded is analysed, the break is reported.
    let truncated = dir.path().join("access.log.2.gz");
    std::fs::write(&truncated, &compressed[..compressed.len() / 3]).unwrap();
    let report = analyze(&[&truncated], &Config::default(), |_| {}).unwrap();
    assert!(report.files[0].broken.is_some(), "{:?}", report.files[0]);
    assert!(report.lines > 0 && report.lines < truth.lines);
    assert!(report.bad_lines <= 1, "at most the cut line is bad");
}

#[test]
fn garbage_is_counted_and_sampled_never_fatal() {
    let mut data = Vec::new();
    data.extend_from_slice(
        b"203.0.113.5 - - [20/Nov/2026:10:00:00 +0800] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
    );
    data.extend_from_slice(b"\x00\x00\x00 nul bytes \xff\xfe invalid utf-8\n");
    data.extend_from_slice(b"\n\n");
    data.extend(std::iter::repeat_n(b'A', 200_000));
    data.push(b'\n');
    data.extend_from_slice(b"203.0.113.6 - - [20/Nov/2026:10:00:01 +0800] \"GET /\xff\x00 HTTP/1.1\" 404 5 \"-\" \"\xc3\x28\"\n");
    data.extend_from_slice(b"203.0.113.7 - - [20/Nov/2026:09:00:01 +0800] \"GET /clock-went-back HTTP/1.1\" 200 5 \"-\" \"-\"\n");
    data.extend_from_slice(b"203.0.113.8 - - [20/Nov/2026:10:00:02 +0800] \"GET /no-newline-at-end HTTP/1.1\" 200 5 \"-\" \"-\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.log");
    std::fs::write(&path, &data).unwrap();
    for report in [
        analyze(&[&path], &Config::default(), |_| {}).unwrap(),
        analyze_bytes("garbage.log", &data, &Config::default()).unwrap(),
    ] {
        assert_eq!(report.requests, 4, "{report:#?}");
        assert_eq!(report.bad_lines, 2);
        assert!(
            report
                .bad_line_samples
                .iter()
                .any(|b| b.sample.contains("\\x00")),
            "{:?}",
            report.bad_line_samples
        );
        assert!(
            report
                .bad_line_samples
                .iter()
                .any(|b| b.reason.contains("long")),
            "{:?}",
            report.bad_line_samples
        );
        assert_eq!(report.clock.backward_jumps, 1);
        assert_eq!(report.clock.largest_backward_jump_seconds, 3600);
    }
}

#[test]
fn nginx_custom_format_from_the_plan() {
    let config: Config = serde_json::from_str(
        r#"{"format": {"nginx": {"format": "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\" $request_time $host"}}}"#,
    )
    .unwrap();
    let (bytes, truth) = fixture();
    // Append the extra fields to each combined line.
    let mut data = Vec::with_capacity(bytes.len() + truth.lines as usize * 40);
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        data.extend_from_slice(line);
        data.extend_from_slice(b" \"-\" 0.004 www.example.gov.test\n");
    }
    let report = analyze_bytes("custom.log", &data, &config).unwrap();
    assert_eq!(report.requests, truth.lines);
    assert_eq!(report.bad_lines, 0);
    assert_eq!(classes(&report), classes(self::report()));
    assert_eq!(report.baselines[0].site, "www.example.gov.test");
}

/// One URL hammered at a rate the whole site absorbs: a URL flood, not a
/// site flood.
#[test]
fn a_url_flood_below_the_site_threshold_is_found() {
    let mut log = String::new();
    let months = "Nov";
    let mut k = 0u64;
    // Two hours at ~30 requests per second over 30 pages.
    for second in 0..7_200u64 {
        let (h, m, s) = (10 + second / 3600, second / 60 % 60, second % 60);
        for _ in 0..30 {
            k += 1;
            log.push_str(&format!(
                "10.0.{}.{} - - [20/{months}/2026:{h:02}:{m:02}:{s:02} +0000] \"GET /page/{}.html HTTP/1.1\" 200 900 \"-\" \"Mozilla/5.0\"\n",
                k % 200,
                k % 250 + 1,
                k % 30
            ));
        }
        // From 11:00:00 for a minute: 40 more a second on one export URL.
        if (3_600..3_660).contains(&second) {
            for i in 0..40 {
                log.push_str(&format!(
                    "198.51.100.{} - - [20/{months}/2026:{h:02}:{m:02}:{s:02} +0000] \"GET /api/export?all=1 HTTP/1.1\" 200 90000 \"-\" \"python-requests/2.31\"\n",
                    i % 20 + 1
                ));
            }
        }
    }
    let report = analyze_bytes("url-flood.log", log.as_bytes(), &Config::default()).unwrap();
    assert!(
        report.floods.iter().all(|f| f.kind != FloodKind::Site),
        "{:#?}",
        report.floods
    );
    let url: Vec<_> = report
        .floods
        .iter()
        .filter(|f| f.kind == FloodKind::Url)
        .collect();
    assert_eq!(url.len(), 1, "{:#?}", report.floods);
    assert_eq!(url[0].path.as_deref(), Some("/api/export"));
    assert_eq!(url[0].start_ms, 1_795_172_400_000, "starts at 11:00:00");
    assert_eq!(url[0].rate_curve.len(), 60);
    assert_eq!(url[0].distinct_sources, 20);
    assert_eq!(url[0].top_paths[0].value, "/api/export");
}
