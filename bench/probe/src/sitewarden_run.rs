//! sitewarden's side of the benchmark, in this process through the library:
//! a plan for the corpus, baselines approved (not timed), then rounds of
//! `Monitor::check_all_once` for a bounded time at each concurrency, and the
//! detection corpus checked before and after its pages switch.

use crate::corpus::{CorpusPage, QUALITY_HOST, QualityCase};
use crate::procfs;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde::Serialize;
use sitewarden_analysis::Verdict;
use sitewarden_monitor::{CheckOutcome, DrillRegistry, Monitor, approve_baseline, now_ms};
use sitewarden_plan::Plan;
use sitewarden_store::Store;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The plan for the load corpus: one site per host, every page a home-page
/// render (so marked `home`), host names resolved to 127.0.0.1.
pub fn load_plan(pages: &[CorpusPage], port: u16, concurrency: usize) -> Result<Plan> {
    let mut text = plan_head(concurrency);
    let mut hosts: Vec<&str> = pages.iter().map(|page| page.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    for host in &hosts {
        let _ = writeln!(text, "\"{host}\" = \"127.0.0.1\"");
    }
    let mut by_site: BTreeMap<&str, Vec<&CorpusPage>> = BTreeMap::new();
    for page in pages {
        by_site.entry(page.site.as_str()).or_default().push(page);
    }
    for (site, site_pages) in by_site {
        let _ = writeln!(
            text,
            "\n[[sites]]\nname = \"{site}\"\ntitle = \"基准站点 {site}\""
        );
        for page in site_pages {
            let _ = writeln!(
                text,
                "[[sites.pages]]\nname = \"{}\"\nurl = \"http://{}:{port}{}\"\nhome = true",
                page.name, page.host, page.path
            );
        }
    }
    Plan::from_toml_str(&text)
        .map_err(|errors| anyhow::anyhow!("the generated load plan is invalid: {errors}"))
}

/// The plan for the detection corpus: one site, one page per case.
pub fn quality_plan(cases: &[QualityCase], port: u16) -> Result<Plan> {
    let mut text = plan_head(4);
    let _ = writeln!(text, "\"{QUALITY_HOST}\" = \"127.0.0.1\"");
    let _ = writeln!(
        text,
        "\n[[sites]]\nname = \"quality\"\ntitle = \"检测质量语料\""
    );
    for case in cases {
        let _ = writeln!(
            text,
            "[[sites.pages]]\nname = \"{}\"\nurl = \"http://{QUALITY_HOST}:{port}{}\"\nhome = true",
            case.name,
            case.path()
        );
    }
    Plan::from_toml_str(&text)
        .map_err(|errors| anyhow::anyhow!("the generated quality plan is invalid: {errors}"))
}

fn plan_head(concurrency: usize) -> String {
    format!(
        "[organisation]\nname = \"基准测试单位\"\n\n[probe]\ninterval_seconds = 60\n\
         timeout_seconds = 10\nconcurrency = {concurrency}\ndown_after_failures = 2\n\n[probe.resolve]\n"
    )
}

/// Approves every page's baseline, `parallel` at a time. Returns how long
/// it took.
pub async fn approve_all(monitor: &Monitor, store: &Store, parallel: usize) -> Result<Duration> {
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(monitor.targets().pages.iter())
        .map(|target| async move {
            approve_baseline(
                monitor.prober(),
                monitor.targets(),
                target,
                store,
                "bench",
                now_ms(),
            )
            .await
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    for result in results {
        result.context("approving a baseline")?;
    }
    Ok(started.elapsed())
}

/// The figures of one concurrency setting.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// How the checks were driven: `check_all_once` rounds, or the
    /// `serve` loop (`Monitor::run`, every page due again 1 s after its check).
    pub mode: &'static str,
    /// `probe.concurrency`: pages checked at once (each check is 1 + crawlers fetches).
    pub concurrency: usize,
    /// Timed rounds of `check_all_once` (a warm-up round before them is not counted).
    pub rounds: u32,
    /// Checks recorded in the timed rounds.
    pub checks: u64,
    /// HTTP fetches those checks made.
    pub fetches: u64,
    /// Wall seconds of the timed rounds.
    pub seconds: f64,
    /// Full page checks per minute.
    pub checks_per_minute: f64,
    /// Fetches per second.
    pub fetches_per_second: f64,
    /// Peak RSS of this process during the timed rounds (VmHWM after a reset).
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds this process used in the timed rounds.
    pub cpu_seconds: f64,
    /// CPU seconds nginx (master and workers) used in the timed rounds.
    pub nginx_cpu_seconds: f64,
    /// CPU seconds everything else on the machine used meanwhile (other builds on a shared machine).
    pub other_cpu_seconds: f64,
    /// Verdicts recorded, by name (all should be `clean`).
    pub verdicts: BTreeMap<String, u64>,
    /// Pages of the plan that returned no outcome (an error event) in the timed rounds.
    pub missing: u64,
}

/// Runs `check_all_once` rounds for at least `duration` (and at most
/// `max_rounds` rounds) at `concurrency` and measures them.
pub async fn measure_load(
    plan: &Plan,
    store: &Store,
    concurrency: usize,
    duration: Duration,
    max_rounds: u32,
    nginx_pid: u32,
) -> Result<LoadResult> {
    let mut plan = plan.clone();
    plan.probe.concurrency = concurrency;
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None)
        .await
        .context("building the monitor")?;
    let pages = monitor.targets().pages.len() as u64;
    let fetches_per_check = 1 + monitor.targets().crawlers.len() as u64;
    // Warm-up: connections opened, caches filled; not counted.
    let _ = monitor.check_all_once().await;

    let reset = procfs::reset_own_peak_rss();
    let cpu_before = procfs::own_cpu_seconds();
    let nginx_before = procfs::tree_cpu_seconds(nginx_pid);
    let machine_before = procfs::machine_busy_seconds();
    let started = Instant::now();
    let mut rounds = 0u32;
    let mut checks = 0u64;
    let mut missing = 0u64;
    let mut verdicts: BTreeMap<String, u64> = BTreeMap::new();
    while rounds < max_rounds && (rounds == 0 || started.elapsed() < duration) {
        let outcomes = monitor.check_all_once().await;
        rounds += 1;
        checks += outcomes.len() as u64;
        missing += pages - outcomes.len() as u64;
        for outcome in &outcomes {
            *verdicts.entry(outcome.verdict.to_string()).or_default() += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = procfs::own_cpu_seconds() - cpu_before;
    let nginx_cpu_seconds = procfs::tree_cpu_seconds(nginx_pid) - nginx_before;
    let other_cpu_seconds =
        (procfs::machine_busy_seconds() - machine_before - cpu_seconds - nginx_cpu_seconds)
            .max(0.0);
    let peak_rss_bytes = if reset { procfs::own_peak_rss() } else { None };
    drop(monitor);
    Ok(LoadResult {
        mode: "check_all_once",
        concurrency,
        rounds,
        checks,
        fetches: checks * fetches_per_check,
        seconds,
        checks_per_minute: checks as f64 / seconds * 60.0,
        fetches_per_second: (checks * fetches_per_check) as f64 / seconds,
        peak_rss_bytes,
        cpu_seconds,
        nginx_cpu_seconds,
        other_cpu_seconds,
        verdicts,
        missing,
    })
}

/// Runs the probe loop (`Monitor::run`, what `sitewarden serve` runs) with
/// every page due again one second after its check, so the loop is never
/// idle, and counts the checks it records (its `Checked` events) over
/// `duration` after a warm-up of `warmup`.
pub async fn measure_serve_loop(
    plan: &Plan,
    store: &Store,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    nginx_pid: u32,
) -> Result<LoadResult> {
    use sitewarden_monitor::MonitorEvent;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::sync::broadcast::error::RecvError;

    let mut plan = plan.clone();
    plan.probe.concurrency = concurrency;
    plan.probe.interval_seconds = 1;
    for site in &mut plan.sites {
        for page in &mut site.pages {
            page.interval_seconds = None;
        }
    }
    let monitor = Monitor::new(&plan, store.clone(), DrillRegistry::default(), None)
        .await
        .context("building the monitor")?;
    let fetches_per_check = 1 + monitor.targets().crawlers.len() as u64;
    let checked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let verdicts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut events = monitor.subscribe();
    let counter = {
        let (checked, errors, verdicts) = (checked.clone(), errors.clone(), verdicts.clone());
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(MonitorEvent::Checked { verdict, .. }) => {
                        checked.fetch_add(1, Ordering::Relaxed);
                        *verdicts
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .entry(verdict.to_string())
                            .or_default() += 1;
                    }
                    Ok(MonitorEvent::Error { .. }) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    // Missed events are checks all the same (their verdicts unknown).
                    Err(RecvError::Lagged(missed)) => {
                        checked.fetch_add(missed, Ordering::Relaxed);
                        *verdicts
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .entry("unknown (event missed)".into())
                            .or_default() += missed;
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let probe_loop = {
        let monitor = monitor.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { monitor.run(cancel).await })
    };
    tokio::time::sleep(warmup).await;

    let reset = procfs::reset_own_peak_rss();
    verdicts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();
    let checks_before = checked.load(Ordering::Relaxed);
    let errors_before = errors.load(Ordering::Relaxed);
    let cpu_before = procfs::own_cpu_seconds();
    let nginx_before = procfs::tree_cpu_seconds(nginx_pid);
    let machine_before = procfs::machine_busy_seconds();
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let checks = checked.load(Ordering::Relaxed) - checks_before;
    let missing = errors.load(Ordering::Relaxed) - errors_before;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = procfs::own_cpu_seconds() - cpu_before;
    let nginx_cpu_seconds = procfs::tree_cpu_seconds(nginx_pid) - nginx_before;
    let other_cpu_seconds =
        (procfs::machine_busy_seconds() - machine_before - cpu_seconds - nginx_cpu_seconds)
            .max(0.0);
    let peak_rss_bytes = if reset { procfs::own_peak_rss() } else { None };
    let verdicts = verdicts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(60), probe_loop)
        .await
        .context("the probe loop did not stop within 60 s of cancellation")??;
    drop(monitor);
    counter.abort();
    Ok(LoadResult {
        mode: "serve_loop",
        concurrency,
        rounds: 0,
        checks,
        fetches: checks * fetches_per_check,
        seconds,
        checks_per_minute: checks as f64 / seconds * 60.0,
        fetches_per_second: (checks * fetches_per_check) as f64 / seconds,
        peak_rss_bytes,
        cpu_seconds,
        nginx_cpu_seconds,
        other_cpu_seconds,
        verdicts,
        missing,
    })
}

/// sitewarden's verdict on one detection case.
#[derive(Debug, Clone, Serialize)]
pub struct QualityVerdict {
    /// The case.
    pub case: String,
    /// The verdict before the switch (should be `clean`).
    pub before: String,
    /// The verdict after the switch.
    pub verdict: String,
    /// Its score.
    pub score: u32,
    /// Its reasons (English).
    pub reasons: Vec<String>,
}

/// Checks the detection corpus once as approved and once after `switch`
/// rewrote its files.
pub async fn run_quality(
    plan: &Plan,
    store: &Store,
    cases: &[QualityCase],
    switch: impl FnOnce() -> Result<()>,
) -> Result<Vec<QualityVerdict>> {
    let monitor = Monitor::new(plan, store.clone(), DrillRegistry::default(), None)
        .await
        .context("building the monitor")?;
    approve_all(&monitor, store, 4).await?;
    let before = monitor.check_all_once().await;
    switch()?;
    let after = monitor.check_all_once().await;
    let find = |outcomes: &[CheckOutcome], name: &str| -> Option<CheckOutcome> {
        outcomes
            .iter()
            .find(|outcome| outcome.page == name)
            .cloned()
    };
    Ok(cases
        .iter()
        .map(|case| {
            let before = find(&before, &case.name);
            let after = find(&after, &case.name);
            QualityVerdict {
                case: case.name.clone(),
                before: before.map_or_else(|| "error".to_string(), |o| o.verdict.to_string()),
                verdict: after
                    .as_ref()
                    .map_or_else(|| "error".to_string(), |o| o.verdict.to_string()),
                score: after.as_ref().map_or(0, |o| o.score),
                reasons: after.map(|o| o.reasons).unwrap_or_default(),
            }
        })
        .collect())
}

/// True when `verdict` is what the case expects.
pub fn verdict_is_right(case: &QualityCase, verdict: &str) -> bool {
    let parsed = verdict.parse::<Verdict>().ok();
    match case.expect {
        crate::corpus::Expect::Defacement => parsed == Some(Verdict::Defaced),
        crate::corpus::Expect::Benign => matches!(parsed, Some(Verdict::Clean | Verdict::Changed)),
    }
}
