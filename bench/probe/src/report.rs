//! The results: one JSON document, and the `## Probe` section of
//! BENCHMARKS.md (replaced in place, other sections kept).

use crate::changedetection::{CdLoadResult, CdVerdict};
use crate::corpus::{Expect, QualityCase};
use crate::procfs::mib;
use crate::sitewarden_run::{LoadResult, QualityVerdict, verdict_is_right};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// The target of issue 2.
pub const TARGET_CHECKS_PER_MINUTE: f64 = 20_000.0;
/// The memory bound of issue 2.
pub const TARGET_RSS_BYTES: u64 = 256 * 1024 * 1024;

/// The machine the figures were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Cores available.
    pub cores: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory in bytes.
    pub memory_bytes: Option<u64>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// When (UTC).
    pub date: String,
    /// Where.
    pub machine: Machine,
    /// The source measured: commit, and whether the work tree had changes.
    pub source: String,
    /// The load averages when the run began (the machine is shared).
    pub load_average_before: String,
    /// The nginx version line.
    pub nginx: String,
    /// nginx worker processes.
    pub nginx_workers: usize,
    /// changedetection.io's version, when it ran.
    pub changedetection_version: Option<String>,
    /// Pages in the load corpus.
    pub pages: usize,
    /// Sites they are spread over.
    pub sites: usize,
    /// Mean page size in bytes.
    pub mean_page_bytes: u64,
    /// Fetches per sitewarden check (browser + crawlers).
    pub fetches_per_check: u64,
    /// Seconds approving every baseline took (not part of the figures).
    pub approve_seconds: f64,
    /// Peak RSS of the bench process before the timed rounds (corpus, approvals).
    pub setup_peak_rss_bytes: Option<u64>,
    /// sitewarden at each concurrency.
    pub sitewarden: Vec<LoadResult>,
    /// changedetection.io at each worker count.
    pub changedetection: Vec<CdLoadResult>,
    /// sitewarden's verdicts on the detection corpus.
    pub sitewarden_quality: Vec<QualityVerdict>,
    /// changedetection.io's view of the detection corpus.
    pub changedetection_quality: Vec<CdVerdict>,
    /// Problems met on the way (a phase that failed, nginx errors).
    pub problems: Vec<String>,
}

impl Results {
    /// sitewarden's best `check_all_once` setting by checks per minute (the
    /// issue's definition of a full page check).
    pub fn best_sitewarden(&self) -> Option<&LoadResult> {
        self.best_sitewarden_in("check_all_once")
    }

    /// sitewarden's best setting of one mode by checks per minute.
    pub fn best_sitewarden_in(&self, mode: &str) -> Option<&LoadResult> {
        self.sitewarden
            .iter()
            .filter(|result| result.mode == mode)
            .max_by(|a, b| a.checks_per_minute.total_cmp(&b.checks_per_minute))
    }

    /// changedetection.io's best setting by checks per minute.
    pub fn best_changedetection(&self) -> Option<&CdLoadResult> {
        self.changedetection
            .iter()
            .max_by(|a, b| a.checks_per_minute.total_cmp(&b.checks_per_minute))
    }

    /// The headline figures as one flat JSON object (the line printed last).
    pub fn summary(&self) -> serde_json::Value {
        let best = self.best_sitewarden();
        let peak = self
            .sitewarden
            .iter()
            .filter_map(|r| r.peak_rss_bytes)
            .max();
        let cd = self.best_changedetection();
        serde_json::json!({
            "bench": "probe",
            "date": self.date,
            "cores": self.machine.cores,
            "pages": self.pages,
            "sitewarden_checks_per_minute": best.map(|r| r.checks_per_minute.round()),
            "sitewarden_fetches_per_second": best.map(|r| r.fetches_per_second.round()),
            "sitewarden_best_concurrency": best.map(|r| r.concurrency),
            "sitewarden_peak_rss_mib": peak.map(mib),
            "sitewarden_serve_loop_checks_per_minute": self.best_sitewarden_in("serve_loop").map(|r| r.checks_per_minute.round()),
            "sitewarden_curve": self.sitewarden.iter().map(|r| serde_json::json!({
                "mode": r.mode,
                "concurrency": r.concurrency,
                "checks_per_minute": r.checks_per_minute.round(),
                "peak_rss_mib": r.peak_rss_bytes.map(mib),
            })).collect::<Vec<_>>(),
            "target_met": best.is_some_and(|r| r.checks_per_minute >= TARGET_CHECKS_PER_MINUTE)
                && peak.is_some_and(|p| p <= TARGET_RSS_BYTES),
            "changedetection_checks_per_minute": cd.map(|r| r.checks_per_minute.round()),
            "changedetection_workers": cd.map(|r| r.workers),
            "changedetection_peak_rss_mib": self.changedetection.iter().map(|r| r.peak_rss_bytes).max().map(mib),
            "ratio_checks_per_minute": ratio(best.map(|r| r.checks_per_minute), cd.map(|r| r.checks_per_minute)),
            "sitewarden_quality_correct": self.sitewarden_quality_score(),
            "changedetection_changes_reported": self.changedetection_quality.iter().filter(|v| v.changed).count(),
            "problems": self.problems,
        })
    }

    fn sitewarden_quality_score(&self) -> String {
        let cases = crate::corpus::quality_cases();
        let right = self
            .sitewarden_quality
            .iter()
            .filter(|verdict| {
                cases
                    .iter()
                    .find(|case| case.name == verdict.case)
                    .is_some_and(|case| verdict_is_right(case, &verdict.verdict))
            })
            .count();
        format!("{right}/{}", self.sitewarden_quality.len())
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some((a / b * 10.0).round() / 10.0),
        _ => None,
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn mib_text(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".to_string(), |b| format!("{} MiB", mib(b)))
}

/// The `## Probe` section, from its heading to its end.
pub fn probe_section(results: &Results, cases: &[QualityCase]) -> String {
    let mut s = String::new();
    let best = results.best_sitewarden();
    let peak = results
        .sitewarden
        .iter()
        .filter_map(|r| r.peak_rss_bytes)
        .max();
    let cd_best = results.best_changedetection();
    let _ = writeln!(s, "## Probe\n");
    let _ = writeln!(
        s,
        "Measured {} by `bench/probe/run.sh` (release build) on {} cores ({}), {} RAM, \
         shared by everything below (load average {} when the run began). {} ({} worker process{}, \
         keep-alive, no access log) serves \
         {} pages over {} sites on 127.0.0.1: the demo portal's home page, {} bytes on average, \
         each with its own title and visitor count. sitewarden and changedetection.io{} check \
         the same pages through it, one after the other.\n",
        results.date,
        results.machine.cores,
        results.machine.cpu_model,
        results.machine.memory_bytes.map_or_else(
            || "n/a".to_string(),
            |b| format!("{:.0} GiB", b as f64 / f64::from(1u32 << 30))
        ),
        results.load_average_before,
        results.nginx,
        results.nginx_workers,
        if results.nginx_workers == 1 { "" } else { "es" },
        results.pages,
        results.sites,
        results.mean_page_bytes,
        results
            .changedetection_version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
    );
    match best {
        Some(best) => {
            let met_speed = best.checks_per_minute >= TARGET_CHECKS_PER_MINUTE;
            let met_memory = peak.is_some_and(|p| p <= TARGET_RSS_BYTES);
            let _ = writeln!(
                s,
                "**Target (issue 2): ≥ 20,000 full page checks per minute on this machine at ≤ 256 MB RSS. \
                 Measured: {} checks per minute with `check_all_once` (concurrency {}){}, peak RSS {} — {}.**\n",
                thousands(best.checks_per_minute),
                best.concurrency,
                results
                    .best_sitewarden_in("serve_loop")
                    .map(|serve| format!(
                        ", {} with the probe loop of `sitewarden serve` (concurrency {})",
                        thousands(serve.checks_per_minute),
                        serve.concurrency
                    ))
                    .unwrap_or_default(),
                mib_text(peak),
                match (met_speed, met_memory) {
                    (true, true) => "target met".to_string(),
                    (false, true) => format!(
                        "speed target missed ({:.0}% of it), memory within bound",
                        best.checks_per_minute / TARGET_CHECKS_PER_MINUTE * 100.0
                    ),
                    (true, false) => "speed target met, memory bound exceeded".to_string(),
                    (false, false) => "both missed".to_string(),
                }
            );
        }
        None => {
            let _ = writeln!(s, "**sitewarden's load run failed; no figure.**\n");
        }
    }

    let others: Vec<f64> = results
        .sitewarden
        .iter()
        .map(|r| r.other_cpu_seconds / r.seconds)
        .chain(
            results
                .changedetection
                .iter()
                .map(|r| r.other_cpu_seconds / r.seconds),
        )
        .map(|cores| cores / results.machine.cores.max(1) as f64 * 100.0)
        .collect();
    if let (Some(low), Some(high)) = (
        others.iter().copied().reduce(f64::min),
        others.iter().copied().reduce(f64::max),
    ) && high >= 10.0
    {
        let _ = writeln!(
            s,
            "Other work on the shared machine (other builds and tests) took {low:.0}–{high:.0}% of its CPU \
             during the measurement windows (column \"other CPU\"), so both tools' figures are lower than \
             they would be on an idle machine.\n"
        );
    }
    let _ = writeln!(s, "### Throughput\n");
    let _ = writeln!(
        s,
        "| tool | setting | checks/min | fetches/s | peak RSS | its CPU | nginx CPU | other CPU | checks measured |"
    );
    let _ = writeln!(
        s,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let cores = results.machine.cores.max(1) as f64;
    let share = |cpu: f64, seconds: f64| format!("{:.0}%", cpu / seconds / cores * 100.0);
    for r in &results.sitewarden {
        let _ = writeln!(
            s,
            "| sitewarden | {}, concurrency {} | {} | {} | {} | {} | {} | {} | {} in {:.0} s{}{} |",
            match r.mode {
                "serve_loop" => "probe loop (`serve`)",
                _ => "`check_all_once` rounds",
            },
            r.concurrency,
            thousands(r.checks_per_minute),
            thousands(r.fetches_per_second),
            mib_text(r.peak_rss_bytes),
            share(r.cpu_seconds, r.seconds),
            share(r.nginx_cpu_seconds, r.seconds),
            share(r.other_cpu_seconds, r.seconds),
            r.checks,
            r.seconds,
            if r.rounds > 0 {
                format!(" ({} rounds)", r.rounds)
            } else {
                String::new()
            },
            verdict_note(r),
        );
    }
    for r in &results.changedetection {
        let _ = writeln!(
            s,
            "| changedetection.io | {} workers | {} | {} | {} | {} | {} | {} | {} in {:.0} s{} |",
            r.workers,
            thousands(r.checks_per_minute),
            thousands(r.checks_per_minute / 60.0),
            mib_text(Some(r.peak_rss_bytes)),
            share(r.cpu_seconds, r.seconds),
            share(r.nginx_cpu_seconds, r.seconds),
            share(r.other_cpu_seconds, r.seconds),
            r.checks,
            r.seconds,
            if r.warmed_watches < r.watches {
                format!(
                    "; only {} of {} watches had had a first check after {:.0} s of warm-up",
                    r.warmed_watches, r.watches, r.warmup_seconds
                )
            } else {
                String::new()
            },
        );
    }
    let _ = writeln!(
        s,
        "\nCPU columns are shares of all {} cores: the checker's own process (sitewarden: the bench \
         process; changedetection.io: its process tree), nginx's master and worker, and everything \
         else on the machine in the same window.\n",
        results.machine.cores
    );
    if let (Some(best), Some(cd)) = (best, cd_best) {
        let _ = writeln!(
            s,
            "sitewarden's best is **{:.1}×** changedetection.io's best in checks per minute, \
             {:.1}× in HTTP fetches per second (a sitewarden check fetches the page {} times: as a \
             browser, as Baiduspider and as Googlebot; a changedetection.io check fetches it once).\n",
            best.checks_per_minute / cd.checks_per_minute,
            best.fetches_per_second / (cd.checks_per_minute / 60.0),
            results.fetches_per_check,
        );
    }

    let _ = writeln!(s, "### Detection quality\n");
    let _ = writeln!(
        s,
        "Each page is approved as the normal portal home page, then rewritten in place to a variant of the \
         demo sites (`sitewarden-demo-sites`), then checked once more. For cloaking, nginx serves \
         Baiduspider its own file (`map $http_user_agent`).\n"
    );
    let _ = writeln!(
        s,
        "| case | what changes | expected | sitewarden | sitewarden's first reason | changedetection.io |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
    for case in cases {
        let sw = results
            .sitewarden_quality
            .iter()
            .find(|v| v.case == case.name);
        let cd = results
            .changedetection_quality
            .iter()
            .find(|v| v.case == case.name);
        let sw_text = sw.map_or_else(
            || "not run".to_string(),
            |v| {
                let mark = if verdict_is_right(case, &v.verdict) {
                    "✓"
                } else {
                    "✗"
                };
                format!("{mark} `{}` ({})", v.verdict, v.score)
            },
        );
        let reason = sw
            .and_then(|v| v.reasons.first())
            .map(|r| r.replace('|', "\\|"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            case.name,
            case.description,
            match case.expect {
                Expect::Defacement => "defaced",
                Expect::Benign => "not defaced",
            },
            sw_text,
            truncate(&reason, 90),
            cd.map_or_else(|| "not run".to_string(), cd_text),
        );
    }
    for extra in results
        .changedetection_quality
        .iter()
        .filter(|v| !cases.iter().any(|case| case.name == v.case))
    {
        let _ = writeln!(
            s,
            "| {} | the same page, watched with Baiduspider's User-Agent | defaced | — | — | {} |",
            extra.case,
            cd_text(extra),
        );
    }
    let _ = writeln!(s);
    let defacements: Vec<&QualityCase> = cases
        .iter()
        .filter(|c| c.expect == Expect::Defacement)
        .collect();
    let benign: Vec<&QualityCase> = cases
        .iter()
        .filter(|c| c.expect == Expect::Benign)
        .collect();
    let sw_right = |list: &[&QualityCase]| {
        list.iter()
            .filter(|case| {
                results
                    .sitewarden_quality
                    .iter()
                    .any(|v| v.case == case.name && verdict_is_right(case, &v.verdict))
            })
            .count()
    };
    let cd_changed = |list: &[&QualityCase]| {
        list.iter()
            .filter(|case| {
                results
                    .changedetection_quality
                    .iter()
                    .any(|v| v.case == case.name && v.changed)
            })
            .count()
    };
    if !results.sitewarden_quality.is_empty() {
        let _ = writeln!(
            s,
            "sitewarden: {} of {} defacements `defaced`, {} of {} benign changes and controls not `defaced`.",
            sw_right(&defacements),
            defacements.len(),
            sw_right(&benign),
            benign.len(),
        );
    }
    if !results.changedetection_quality.is_empty() {
        let _ = writeln!(
            s,
            "changedetection.io: reported a change for {} of {} defacements and for {} of {} benign changes \
             and controls. What it reports is a text diff of the page; nothing in it (no verdict, score or \
             category) tells a defacement from a benign change, so a person has to read every diff.",
            cd_changed(&defacements),
            defacements.len(),
            cd_changed(&benign),
            benign.len(),
        );
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "### How it is measured\n");
    let _ = writeln!(
        s,
        "- sitewarden runs in the bench process through its library: a plan with one site per host \
         (`probe.resolve` maps `sNN.example.gov.test` to 127.0.0.1), baselines approved first (untimed, \
         {:.0} s for all pages), then rounds of `Monitor::check_all_once()` for a fixed time at each \
         `probe.concurrency`, after one untimed warm-up round. A full page check is what that does per \
         page: fetch as browser, Baiduspider and Googlebot, decode, fingerprint, compare with the approved \
         baseline (loaded from the store), record the result in SQLite (WAL, `synchronous = FULL`). \
         Every check in the timed rounds counts; the verdict counts are in the JSON.",
        results.approve_seconds
    );
    let _ = writeln!(
        s,
        "- The probe loop rows run `Monitor::run` (what `sitewarden serve` runs: a due-time heap, a \
         semaphore of `probe.concurrency` permits, one spawned task per check) with every page due \
         again 1 s after its check (the shortest interval a plan allows), and count the checks it \
         records from its events over the same fixed time, after 5 s of warm-up. With {} pages the \
         interval caps it at {} checks per minute, well above what is measured.",
        results.pages,
        thousands(results.pages as f64 * 60.0)
    );
    let _ = writeln!(
        s,
        "- Peak RSS is the bench process's `VmHWM`, reset (`/proc/self/clear_refs` 5) before the timed \
         rounds of each setting; the process holds nothing else then, but the allocator keeps what \
         earlier settings freed, so a later row's peak includes it. CPU is user + system time from \
         `/proc`, as a share of both cores."
    );
    let _ = writeln!(
        s,
        "- The demo page is small ({} bytes); real portal home pages are often several times larger, and \
         parsing (html5ever), the largest CPU item of a check, grows with the page.",
        results.mean_page_bytes
    );
    let _ = writeln!(
        s,
        "- changedetection.io {} runs from a virtualenv with `ALLOW_IANA_RESTRICTED_ADDRESSES=true`, \
         `MINIMUM_SECONDS_RECHECK_TIME=1` and every watch's recheck interval at 1 s (the shortest it \
         allows), so its workers are never idle; its default fetcher (`html_requests`). Watches are \
         added through its REST API (`x-api-key` from `changedetection.json`); checks are counted from \
         its log (one \"processing watch UUID\" line per check started) over a fixed window after \
         every watch's first check; RSS is its process tree's, sampled every second.",
        results.changedetection_version.as_deref().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "- sitewarden as built from {}. The full figures are printed as JSON by \
         `target/release/sitewarden-bench-probe` (and kept in `target/bench-probe.json`); \
         `bench/probe/run.sh` reruns everything (about 12 minutes).",
        results.source
    );
    if !results.problems.is_empty() {
        let _ = writeln!(s, "\nProblems met in this run:\n");
        for problem in &results.problems {
            let _ = writeln!(s, "- {}", problem.replace('\n', " "));
        }
    }
    s
}

fn verdict_note(result: &LoadResult) -> String {
    let not_clean: u64 = result
        .verdicts
        .iter()
        .filter(|(verdict, _)| verdict.as_str() != "clean")
        .map(|(_, count)| count)
        .sum();
    let mut note = String::new();
    if not_clean > 0 {
        let _ = write!(note, "; {not_clean} not clean");
    }
    if result.missing > 0 {
        let _ = write!(note, "; {} not recorded", result.missing);
    }
    note
}

fn cd_text(verdict: &CdVerdict) -> String {
    if let Some(error) = &verdict.error {
        return format!("error: {}", truncate(error, 60));
    }
    if verdict.changed {
        format!("change ({} diff lines)", verdict.diff_lines)
    } else {
        "no change".to_string()
    }
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(chars).collect::<String>())
    }
}

/// Replaces the `## Probe` section of the file at `path` (up to the next
/// `## ` heading), or appends it; creates the file with a short intro when
/// it does not exist.
pub fn update_benchmarks_file(path: &Path, section: &str) -> std::io::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nMeasured figures of sitewarden against real peers, each written by its \
         script under `bench/`. Every figure comes from a run on the project's 2-core machine; \
         rerun the script to refresh its section.\n"
            .to_string()
    });
    let mut out = String::new();
    let mut lines = existing.lines().peekable();
    let mut replaced = false;
    while let Some(line) = lines.next() {
        if line.trim_end() == "## Probe" && !replaced {
            out.push_str(section.trim_end());
            out.push_str("\n\n");
            while let Some(next) = lines.peek() {
                if next.starts_with("## ") {
                    break;
                }
                lines.next();
            }
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(section.trim_end());
        out.push('\n');
    }
    std::fs::write(path, out.trim_end().to_string() + "\n")
}
