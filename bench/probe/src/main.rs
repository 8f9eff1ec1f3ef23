//! `sitewarden-bench-probe`: how many full page checks per minute the
//! remote probe does on this machine, at what memory, against a real nginx
//! on loopback — and the same for changedetection.io on the same pages,
//! with both tools' verdicts on the demo sites' defacements and benign
//! changes. Prints the figures as JSON and, with `--benchmarks FILE`,
//! rewrites that file's `## Probe` section.
//!
//! Every load loop is bounded in time and in rounds, and every request goes
//! to 127.0.0.1. This is a benchmark, not a test: it asserts nothing.

mod changedetection;
mod corpus;
mod nginx;
mod procfs;
mod report;
mod sitewarden_run;

use anyhow::{Context, Result};
use clap::Parser;
use corpus::{QUALITY_HOST, quality_cases};
use report::{Machine, Results};
use sitewarden_plan::BAIDUSPIDER_USER_AGENT;
use sitewarden_store::Store;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The probe benchmark (bench/probe).
#[derive(Debug, Parser)]
#[command(name = "sitewarden-bench-probe")]
struct Args {
    /// Pages in the load corpus.
    #[arg(long, default_value_t = 2000)]
    pages: usize,
    /// Sites the pages are spread over.
    #[arg(long, default_value_t = 20)]
    sites: usize,
    /// sitewarden's `probe.concurrency` values to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,32,128")]
    concurrency: Vec<usize>,
    /// `probe.concurrency` values at which to measure the probe loop (`serve`), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    serve_concurrency: Vec<usize>,
    /// Seconds of timed rounds per concurrency value (the last round runs to its end).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Most timed rounds per concurrency value.
    #[arg(long, default_value_t = 200)]
    max_rounds: u32,
    /// The nginx binary.
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: PathBuf,
    /// nginx worker processes.
    #[arg(long, default_value_t = 1)]
    nginx_workers: usize,
    /// The changedetection.io executable (in its virtualenv); its parts are skipped without it.
    #[arg(long)]
    changedetection: Option<PathBuf>,
    /// changedetection.io FETCH_WORKERS values to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,20")]
    cd_workers: Vec<usize>,
    /// Seconds of changedetection.io's timed window per worker count.
    #[arg(long, default_value_t = 60)]
    cd_seconds: u64,
    /// Most seconds changedetection.io may take to give every watch its first check.
    #[arg(long, default_value_t = 150)]
    cd_warmup: u64,
    /// Skip the load runs (detection quality only).
    #[arg(long)]
    skip_load: bool,
    /// Skip sitewarden's load runs (changedetection.io's still run).
    #[arg(long)]
    skip_sitewarden_load: bool,
    /// Skip the detection-quality runs.
    #[arg(long)]
    skip_quality: bool,
    /// Rewrite the `## Probe` section of this file (BENCHMARKS.md).
    #[arg(long)]
    benchmarks: Option<PathBuf>,
    /// Also write the full results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the working directory (corpus, stores, logs) here instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(try_main(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn progress(message: &str) {
    eprintln!("[bench-probe] {message}");
}

async fn try_main(args: Args) -> Result<()> {
    // reqwest (changedetection.io's API client) needs a process-wide
    // crypto provider even for plain HTTP; the probe brings its own.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let temp = tempfile::Builder::new().prefix("bench-probe-").tempdir()?;
    let root = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    // nginx's workers run as an unprivileged user when started by root.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
    let www = root.join("www");
    std::fs::create_dir_all(&www)?;

    progress(&format!(
        "rendering {} pages over {} sites",
        args.pages, args.sites
    ));
    let (pages, corpus_bytes) = corpus::write_load_corpus(&www, args.pages, args.sites)?;
    let cases = quality_cases();
    corpus::write_quality_baseline(&www, &cases)?;
    std::fs::write(
        www.join("seed.html"),
        "<!doctype html><title>seed</title><p>seed</p>\n",
    )?;

    let mut nginx =
        nginx::Nginx::start(&args.nginx, &www, &root.join("nginx"), args.nginx_workers)?;
    let port = nginx.port();
    progress(&format!("nginx on 127.0.0.1:{port}"));
    let seed_url = format!("http://127.0.0.1:{port}/seed.html");

    let mut results = Results {
        date: utc_now(),
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: procfs::cpu_model(),
            memory_bytes: procfs::total_memory(),
        },
        source: source_revision(),
        load_average_before: procfs::load_average(),
        nginx: command_version(&args.nginx, &["-v"]).unwrap_or_else(|| "nginx".into()),
        nginx_workers: args.nginx_workers,
        changedetection_version: None,
        pages: pages.len(),
        sites: args.sites.min(pages.len()),
        mean_page_bytes: corpus_bytes / pages.len().max(1) as u64,
        fetches_per_check: 0,
        approve_seconds: 0.0,
        setup_peak_rss_bytes: None,
        sitewarden: Vec::new(),
        changedetection: Vec::new(),
        sitewarden_quality: Vec::new(),
        changedetection_quality: Vec::new(),
        problems: Vec::new(),
    };

    if !args.skip_load
        && !args.skip_sitewarden_load
        && let Err(error) =
            sitewarden_load(&args, &root, &pages, port, nginx.pid(), &mut results).await
    {
        results
            .problems
            .push(format!("sitewarden load run: {error:#}"));
    }
    if !args.skip_quality {
        progress("sitewarden: detection corpus");
        let outcome = async {
            let plan = sitewarden_run::quality_plan(&cases, port)?;
            let store = Store::open(&root.join("sitewarden-quality")).await?;
            let verdicts = sitewarden_run::run_quality(&plan, &store, &cases, || {
                corpus::write_quality_switched(&www, &cases)
            })
            .await;
            store.close().await;
            verdicts
        }
        .await;
        match outcome {
            Ok(verdicts) => results.sitewarden_quality = verdicts,
            Err(error) => results
                .problems
                .push(format!("sitewarden detection run: {error:#}")),
        }
    }

    if let Some(binary) = &args.changedetection {
        results.changedetection_version = changedetection_version(binary);
        if !args.skip_quality {
            progress("changedetection.io: detection corpus");
            corpus::write_quality_baseline(&www, &cases)?;
            let mut cd_cases: Vec<changedetection::CdCase> = cases
                .iter()
                .map(|case| changedetection::CdCase {
                    name: case.name.clone(),
                    url: format!("http://127.0.0.1:{port}/{QUALITY_HOST}{}", case.path()),
                    user_agent: None,
                })
                .collect();
            cd_cases.push(changedetection::CdCase {
                name: "crawler_only_spam (Baiduspider UA)".into(),
                url: format!("http://127.0.0.1:{port}/{QUALITY_HOST}/crawler_only_spam.html"),
                user_agent: Some(BAIDUSPIDER_USER_AGENT),
            });
            match changedetection::run_quality(
                binary,
                &root.join("cd-quality"),
                &seed_url,
                &cd_cases,
                || corpus::write_quality_switched(&www, &cases),
            )
            .await
            {
                Ok(verdicts) => results.changedetection_quality = verdicts,
                Err(error) => results
                    .problems
                    .push(format!("changedetection.io detection run: {error:#}")),
            }
        }
        if !args.skip_load {
            let urls: Vec<String> = pages
                .iter()
                .map(|page| format!("http://127.0.0.1:{port}/{}{}", page.host, page.path))
                .collect();
            let setup = changedetection::CdLoadSetup {
                binary,
                dir: &root,
                seed_url: &seed_url,
                urls: &urls,
                warmup_limit: Duration::from_secs(args.cd_warmup),
                duration: Duration::from_secs(args.cd_seconds),
                nginx_pid: nginx.pid(),
            };
            for &workers in &args.cd_workers {
                progress(&format!(
                    "changedetection.io: {} watches, {workers} workers, {} s",
                    urls.len(),
                    args.cd_seconds
                ));
                match changedetection::measure_load(&setup, workers).await {
                    Ok(result) => {
                        progress(&format!(
                            "  {:.0} checks/min, peak RSS {} MiB",
                            result.checks_per_minute,
                            procfs::mib(result.peak_rss_bytes)
                        ));
                        results.changedetection.push(result);
                    }
                    Err(error) => results.problems.push(format!(
                        "changedetection.io load run ({workers} workers): {error:#}"
                    )),
                }
            }
        }
    }

    let nginx_errors = nginx.error_log();
    if !nginx_errors.trim().is_empty() {
        results.problems.push(format!(
            "nginx logged: {}",
            nginx_errors.lines().take(3).collect::<Vec<_>>().join(" / ")
        ));
    }
    nginx.stop();

    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.benchmarks {
        report::update_benchmarks_file(path, &report::probe_section(&results, &cases))
            .with_context(|| format!("writing {}", path.display()))?;
        progress(&format!("wrote the Probe section of {}", path.display()));
    }
    println!("{}", results.summary());
    Ok(())
}

async fn sitewarden_load(
    args: &Args,
    root: &Path,
    pages: &[corpus::CorpusPage],
    port: u16,
    nginx_pid: u32,
    results: &mut Results,
) -> Result<()> {
    let first = args.concurrency.first().copied().unwrap_or(64);
    let plan = sitewarden_run::load_plan(pages, port, first)?;
    results.fetches_per_check = 1 + plan.probe.crawlers.len() as u64;
    let store = Store::open(&root.join("sitewarden-load")).await?;
    {
        let monitor =
            sitewarden_monitor::Monitor::new(&plan, store.clone(), Default::default(), None)
                .await?;
        progress(&format!("sitewarden: approving {} baselines", pages.len()));
        let took = sitewarden_run::approve_all(&monitor, &store, 16).await?;
        results.approve_seconds = took.as_secs_f64();
    }
    results.setup_peak_rss_bytes = procfs::own_peak_rss();
    for &concurrency in &args.concurrency {
        progress(&format!(
            "sitewarden: concurrency {concurrency}, {} s (RSS now {} MiB)",
            args.seconds,
            procfs::own_rss().map_or(0.0, procfs::mib)
        ));
        let result = sitewarden_run::measure_load(
            &plan,
            &store,
            concurrency,
            Duration::from_secs(args.seconds),
            args.max_rounds,
            nginx_pid,
        )
        .await?;
        progress(&format!(
            "  {:.0} checks/min, {:.0} fetches/s, peak RSS {} MiB, CPU {:.0}%, nginx CPU {:.0}%",
            result.checks_per_minute,
            result.fetches_per_second,
            result.peak_rss_bytes.map_or(0.0, procfs::mib),
            result.cpu_seconds / result.seconds * 100.0,
            result.nginx_cpu_seconds / result.seconds * 100.0,
        ));
        results.sitewarden.push(result);
    }
    for &concurrency in &args.serve_concurrency {
        progress(&format!(
            "sitewarden: probe loop at concurrency {concurrency}, {} s (RSS now {} MiB)",
            args.seconds,
            procfs::own_rss().map_or(0.0, procfs::mib)
        ));
        let result = sitewarden_run::measure_serve_loop(
            &plan,
            &store,
            concurrency,
            Duration::from_secs(5),
            Duration::from_secs(args.seconds),
            nginx_pid,
        )
        .await?;
        progress(&format!(
            "  {:.0} checks/min, {:.0} fetches/s, peak RSS {} MiB, CPU {:.0}%, nginx CPU {:.0}%",
            result.checks_per_minute,
            result.fetches_per_second,
            result.peak_rss_bytes.map_or(0.0, procfs::mib),
            result.cpu_seconds / result.seconds * 100.0,
            result.nginx_cpu_seconds / result.seconds * 100.0,
        ));
        results.sitewarden.push(result);
    }
    store.close().await;
    Ok(())
}

fn utc_now() -> String {
    let now = jiff::Timestamp::now().to_string();
    // "2026-11-26T10:20:30.123Z" → "2026-11-26 10:20 UTC"
    format!("{} {} UTC", &now[..10], now.get(11..16).unwrap_or(""))
}

/// The first line a program prints for its version (nginx prints to stderr).
fn command_version(binary: &Path, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(binary)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    let line = text.lines().next()?.trim();
    Some(line.trim_start_matches("nginx version: ").to_string())
}

/// changedetection.io's version, read from the virtualenv's pip metadata.
fn changedetection_version(binary: &Path) -> Option<String> {
    let python = binary.parent()?.join("python3");
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('changedetection.io'))",
        ])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!version.is_empty()).then_some(version)
}

/// The commit the work tree is at, and whether the crates had uncommitted
/// changes (the figures are of the code as built, not of the commit).
fn source_revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--", "crates", "Cargo.lock"])
                .is_some_and(|changes| !changes.is_empty());
            if dirty {
                format!("commit {commit} with uncommitted changes in crates/")
            } else {
                format!("commit {commit}")
            }
        }
        None => "an unknown revision (no git)".to_string(),
    }
}
