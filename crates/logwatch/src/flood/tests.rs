use super::*;

/// A steady ~50 requests per second with a little noise, for `seconds`.
fn steady(start: i64, seconds: i64) -> Vec<(i64, u32)> {
    (0..seconds)
        .map(|i| (start + i, 45 + ((i * 7919) % 11) as u32))
        .collect()
}

#[test]
fn robust_statistics() {
    let stats = RateStats::of(&mut [10, 12, 11, 9, 10, 500, 10]).unwrap();
    assert_eq!(stats.median, 10.0);
    assert_eq!(stats.mad, 1.0);
    // One outlier of 500 did not move the threshold far.
    assert!(stats.threshold(20.0, 5.0, 8.0) <= 50.0);
    assert!(RateStats::of(&mut []).is_none());
}

#[test]
fn baseline_is_per_hour_of_day() {
    // Quiet nights (~5/s from 00:00) and busy days (~200/s from 12:00).
    let mut series: Vec<(i64, u32)> = (0..3600).map(|i| (i, 5)).collect();
    series.extend((0..3600).map(|i| (12 * 3600 + i, 200)));
    let baseline = Baseline::learn(&series, 600);
    let config = FloodConfig::default();
    let night = baseline.threshold_at(100, &config);
    let noon = baseline.threshold_at(12 * 3600 + 100, &config);
    assert!(night < 40.0, "night threshold {night}");
    assert!(noon >= 1000.0, "noon threshold {noon}");
    // 06:00 had no data: the overall baseline applies.
    assert!(baseline.stats_at(6 * 3600).is_some());
}

#[test]
fn finds_a_flood_and_nothing_else() {
    let mut series = steady(1_000_000, 3600);
    // Two minutes at ~20x from second 1800.
    for (i, entry) in series.iter_mut().enumerate().skip(1800).take(120) {
        entry.1 = 1000 + (i % 50) as u32;
    }
    let baseline = Baseline::learn(&series, 600);
    let config = FloodConfig::default();
    let floods = find_floods(&series, &baseline, &config);
    assert_eq!(floods.len(), 1, "{floods:?}");
    assert_eq!(floods[0].start_s, 1_001_800);
    assert_eq!(floods[0].end_s, 1_001_920);
    assert_eq!(floods[0].curve.len(), 120);
    assert!(floods[0].peak >= 1000);
    // The same traffic without the flood: nothing.
    assert!(find_floods(&steady(1_000_000, 3600), &baseline, &config).is_empty());
}

#[test]
fn a_single_spike_second_is_not_a_flood() {
    let mut series = steady(0, 3600);
    series[100].1 = 5000;
    let baseline = Baseline::learn(&series, 600);
    assert!(find_floods(&series, &baseline, &FloodConfig::default()).is_empty());
}

#[test]
fn new_source_surge() {
    // Ten new addresses a minute for a day, then 2,000 in three minutes.
    let mut minutes: Vec<i64> = (0..1440).flat_map(|m| std::iter::repeat_n(m, 10)).collect();
    minutes.extend(std::iter::repeat_n(700, 800));
    minutes.extend(std::iter::repeat_n(701, 700));
    minutes.extend(std::iter::repeat_n(702, 500));
    let surges = find_new_source_surges(&minutes, &FloodConfig::default());
    assert_eq!(surges.len(), 1, "{surges:?}");
    assert_eq!((surges[0].start_s, surges[0].end_s), (700, 703));
}

fn ip(n: u32) -> IpKey {
    IpKey::parse(format!("198.51.{}.{}", n / 250, n % 250 + 1).as_bytes()).unwrap()
}

#[test]
fn live_flood_is_raised_within_two_seconds_and_ends() {
    let config = FloodConfig::default();
    let mut live = LiveFlood::new(config, "portal", None);
    let start = 1_760_000_000_000i64;
    let mut events = Vec::new();
    // Ten minutes of ~30 requests per second from 50 regular clients.
    for second in 0..600i64 {
        for k in 0..30 {
            let t = start + second * 1000 + k * 33;
            events.extend(live.observe(ip((k % 50) as u32), b"/index.html", t, t));
        }
        events.extend(live.tick(start + second * 1000 + 999));
    }
    assert!(events.is_empty(), "no flood in normal traffic: {events:?}");
    // The flood: 800 requests per second from 400 new sources, from 600.25 s.
    let flood_start = start + 600_250;
    let mut raised_at = None;
    for second in 0..30i64 {
        for k in 0..800 {
            let t = flood_start + second * 1000 + k;
            for event in live.observe(ip(1000 + (k % 400) as u32), b"/search", t, t) {
                if let FloodEvent::Started(flood) = event {
                    raised_at.get_or_insert(flood.detected_at.unwrap());
                }
            }
        }
        live.tick(flood_start + second * 1000 + 999);
    }
    let raised_at = raised_at.expect("flood raised");
    assert!(
        raised_at - flood_start <= 2000,
        "raised {} ms after the start",
        raised_at - flood_start
    );
    // Back to normal: the flood ends with its evidence.
    let mut ended = None;
    for second in 0..30i64 {
        let t = flood_start + 30_000 + second * 1000;
        let mut events = live.observe(ip(1), b"/index.html", t, t);
        events.extend(live.tick(t + 600));
        for event in events {
            if let FloodEvent::Ended(flood) = event
                && flood.kind == FloodKind::Site
            {
                ended = Some(flood);
            }
        }
    }
    let flood = ended.expect("flood ended");
    assert_eq!(flood.kind, FloodKind::Site);
    assert!(flood.peak_rps >= 800);
    assert!(flood.distinct_sources >= 400);
    assert!(flood.new_sources >= 399, "{}", flood.new_sources);
    assert_eq!(flood.top_paths[0].value, "/search");
}
