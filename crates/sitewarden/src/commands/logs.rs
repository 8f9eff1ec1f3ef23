//! `sitewarden logs …`: access-log analysis with logwatch.
//!
//! - `logs analyze FILE…` — totals, requests per minute, status mix, top
//!   addresses/paths/agents, attacks by class, floods, blocking decisions;
//!   a table, `--json` (the shape in docs/logwatch.md) or `--html OUT`; a
//!   progress bar on a terminal.
//! - `logs timeline --site S --around TIME` — every request of the
//!   suspects around an incident and the upload → shell → page change
//!   story, printed and attached to the site's incident as evidence.

use super::{load_plan, open_existing_store, open_store_with_plan};
use crate::cli::{DataArg, PlanArg};
use crate::output;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sitewarden_livewatch::forensics;
use sitewarden_logwatch::{Config, LogFormat, Report, render_html};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `sitewarden logs …`
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Analyse access logs (plain or .gz): attacks, floods, decisions, totals.
    Analyze {
        /// The log files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        format: FormatArgs,
        /// Print the whole report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML report here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// The requests around an incident, attached to it as evidence.
    Timeline {
        #[command(flatten)]
        plan: PlanArg,
        #[command(flatten)]
        data: DataArg,
        /// The plan's site name.
        #[arg(long)]
        site: String,
        /// The incident's time (RFC 3339, e.g. 2026-11-26T09:00:00+08:00).
        #[arg(long)]
        around: String,
        /// Minutes before and after `--around`.
        #[arg(long, default_value_t = 30)]
        window_minutes: i64,
        /// The tampered path (e.g. /index.html): requests that touched it
        /// are marked.
        #[arg(long)]
        path: Option<String>,
        /// Log files (default: the gateway's access log in the data directory).
        #[arg(long = "log", value_name = "FILE")]
        logs: Vec<PathBuf>,
        #[command(flatten)]
        format: FormatArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Who gathers it (recorded with the evidence).
        #[arg(long, default_value_t = crate::cli::default_approver())]
        by: String,
    },
}

/// The log format flags.
#[derive(Debug, Clone, Args)]
pub struct FormatArgs {
    /// The log format (`auto` guesses per file).
    #[arg(long, value_enum, default_value_t = FormatName::Auto)]
    pub format: FormatName,
    /// An nginx `log_format` string (implies that format).
    #[arg(long, value_name = "FORMAT")]
    pub nginx_format: Option<String>,
}

/// Formats by name.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatName {
    /// Guess per file.
    Auto,
    /// nginx/Apache combined.
    Combined,
    /// Common log format.
    Common,
    /// IIS W3C extended.
    Iis,
    /// JSON lines (common field names).
    Json,
}

impl FormatArgs {
    fn config(&self) -> Config {
        let format = match (&self.nginx_format, self.format) {
            (Some(format), _) => LogFormat::Nginx {
                format: format.clone(),
            },
            (None, FormatName::Auto) => LogFormat::Auto,
            (None, FormatName::Combined) => LogFormat::Combined,
            (None, FormatName::Common) => LogFormat::Common,
            (None, FormatName::Iis) => LogFormat::Iis,
            (None, FormatName::Json) => LogFormat::Json {
                fields: Default::default(),
            },
        };
        Config {
            format,
            ..Config::default()
        }
    }
}

/// Runs `sitewarden logs …`.
pub async fn run(command: LogsCommand) -> anyhow::Result<ExitCode> {
    match command {
        LogsCommand::Analyze {
            files,
            format,
            json,
            html,
            threads,
        } => {
            let mut config = format.config();
            config.threads = threads;
            analyze(files, config, json, html).await
        }
        LogsCommand::Timeline {
            plan,
            data,
            site,
            around,
            window_minutes,
            path,
            logs,
            format,
            json,
            by,
        } => {
            timeline(TimelineRequest {
                plan: &plan.plan,
                data: &data.data,
                site: &site,
                around: &around,
                window_minutes,
                path: path.as_deref(),
                logs,
                config: format.config(),
                json,
                by: &by,
            })
            .await
        }
    }
}

async fn analyze(
    files: Vec<PathBuf>,
    config: Config,
    json: bool,
    html: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    for file in &files {
        if !file.is_file() {
            anyhow::bail!("{} is not a readable file", file.display());
        }
    }
    let total: u64 = files
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|meta| meta.len())
        .sum();
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        let bar = output::progress(total, "analysing");
        let report = sitewarden_logwatch::analyze(&files, &config, |progress| {
            bar.set_position(progress.bytes_done);
        });
        bar.finish_and_clear();
        report
    })
    .await?
    .context("analysis failed")?;
    if let Some(path) = &html {
        std::fs::write(path, render_html(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        println!("{}", report.to_json());
    } else {
        print_report(&report, started.elapsed());
        if let Some(path) = &html {
            println!("HTML report: {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report, took: std::time::Duration) {
    let rate = report.lines as f64 / took.as_secs_f64().max(1e-6);
    println!(
        "{} lines ({} bad) in {:.1} s — {:.0} lines/s",
        report.lines,
        report.bad_lines,
        took.as_secs_f64(),
        rate
    );
    let value = serde_json::to_value(report).unwrap_or_default();
    if let Some(mix) = value.get("status_mix") {
        println!(
            "status: 2xx {} · 3xx {} · 4xx {} · 5xx {}",
            mix["2xx"], mix["3xx"], mix["4xx"], mix["5xx"]
        );
    }
    let list = |key: &str| value[key].as_array().cloned().unwrap_or_default();
    println!();
    println!("attacks by class:");
    let classes = list("attacks_by_class");
    if classes.is_empty() {
        println!("  none");
    }
    for class in classes {
        println!(
            "  {:<16} {:>8} requests from {} address(es)",
            class["class"].as_str().unwrap_or("?"),
            class["requests"],
            class["ips"]
        );
    }
    println!();
    println!("floods:");
    let floods = list("floods");
    if floods.is_empty() {
        println!("  none");
    }
    for flood in floods {
        println!(
            "  {} → {}  peak {} req/s ({} sources){}",
            flood["start"].as_str().unwrap_or("?"),
            flood["end"].as_str().unwrap_or("?"),
            flood["peak_rps"],
            flood["distinct_sources"],
            flood["path"]
                .as_str()
                .map(|path| format!(" on {path}"))
                .unwrap_or_default()
        );
    }
    println!();
    let decisions = list("decisions");
    println!("addresses to block: {}", decisions.len());
    for decision in decisions.iter().take(20) {
        println!(
            "  {:<40} until {}  {}",
            decision["ip"].as_str().unwrap_or("?"),
            decision["until"].as_str().unwrap_or("-"),
            decision["explanation"]
                .as_str()
                .and_then(|text| text.lines().next())
                .unwrap_or("")
        );
    }
    if decisions.len() > 20 {
        println!("  … and {} more (--json for all)", decisions.len() - 20);
    }
    println!();
    println!("top addresses:");
    for ip in list("top_ips").iter().take(10) {
        println!(
            "  {:<40} {:>10} requests",
            ip["ip"].as_str().unwrap_or("?"),
            ip["requests"]
        );
    }
    println!("top paths:");
    for path in list("top_paths").iter().take(10) {
        println!(
            "  {:<60} {:>10}",
            path["value"].as_str().unwrap_or("?"),
            path["count"]
        );
    }
}

struct TimelineRequest<'a> {
    plan: &'a Path,
    data: &'a Path,
    site: &'a str,
    around: &'a str,
    window_minutes: i64,
    path: Option<&'a str>,
    logs: Vec<PathBuf>,
    config: Config,
    json: bool,
    by: &'a str,
}

async fn timeline(request: TimelineRequest<'_>) -> anyhow::Result<ExitCode> {
    let plan = load_plan(request.plan)?;
    if !plan.sites.iter().any(|site| site.name == request.site) {
        anyhow::bail!("no site {:?} in the plan", request.site);
    }
    let around: jiff::Timestamp = request
        .around
        .parse()
        .with_context(|| format!("--around {:?}: not an RFC 3339 time", request.around))?;
    let around_ms = around.as_millisecond();
    let window_ms = request.window_minutes.max(1) * 60_000;
    let logs = if request.logs.is_empty() {
        let logs = forensics::site_logs(&plan, request.data, request.site);
        if logs.is_empty() {
            anyhow::bail!(
                "no log given (--log FILE) and none of {}'s logs found (the gateway's access log \
                 in {}, the plan's [[logwatch.files]])",
                request.site,
                request.data.display()
            );
        }
        logs
    } else {
        request.logs
    };
    let config = request.config;
    let path = request.path.map(str::to_string);
    let read = logs.clone();
    let (records, timeline) = tokio::task::spawn_blocking(move || {
        forensics::read_timeline(&read, &config, around_ms, window_ms, path.as_deref())
    })
    .await??;
    let text = timeline.to_text();
    let json = serde_json::to_string_pretty(&timeline)?;
    if request.json {
        println!("{json}");
    } else {
        println!("{text}");
        println!("({records} requests read in the window)");
    }

    // Attach it to the site's incident (the open one, else the latest).
    let _ = open_existing_store(request.data).await?;
    let store = open_store_with_plan(request.data, &plan).await?;
    let incidents = store.incidents().await?;
    let incident = incidents
        .iter()
        .filter(|incident| incident.site == request.site)
        .find(|incident| incident.state.takes_new_signals())
        .or_else(|| {
            incidents
                .iter()
                .find(|incident| incident.site == request.site)
        });
    match incident {
        Some(incident) => {
            let evidence = forensics::timeline_evidence(request.site, &logs, records, &timeline);
            let id = store
                .attach_evidence(
                    incident.id,
                    &evidence,
                    request.by,
                    "access-log timeline around the incident",
                )
                .await?;
            eprintln!(
                "attached to incident #{} as evidence #{id} (sitewarden evidence verify checks it)",
                incident.id
            );
        }
        None => eprintln!(
            "note: {} has no incident to attach the timeline to",
            request.site
        ),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
