//! `sitewarden guard …`: the web-root integrity guard on this server.
//!
//! Thin shell over `sitewarden-guard`: argument handling, progress and
//! output. The watcher and the task that turns its repairs into signals in
//! the store are `sitewarden_guard::guard_root`, shared with `serve`: the
//! watcher runs on a blocking thread so a restore never waits for the store.

use super::open_store;
use super::serve::cancel_on_signal;
use crate::cli::DataArg;
use crate::output;
use anyhow::Context;
use clap::Subcommand;
use sitewarden_guard::{
    Applied, ApproveOptions, GuardData, GuardReport, PageMap, Policy, WatchConfig, WatchEvent,
    approve, diff, export, guard_root, import, open_window, rollback, scan_tree, verify,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `sitewarden guard …`
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Record the web root as a new approved version (manifest + vault).
    Baseline {
        #[command(flatten)]
        data: DataArg,
        /// The web root.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Leave paths matching this glob out (relative, e.g. `cache/**`); repeatable.
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// A directory (relative) where new non-script files are allowed; repeatable.
        #[arg(long, value_name = "DIR")]
        upload_dir: Vec<String>,
        /// The plan's site name the root serves (default: the root's name).
        #[arg(long)]
        site: Option<String>,
        /// Take the site, upload directories and excludes from this plan's
        /// `[[sites.web_roots]]` entry for the root, as `serve` does.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Who approves (recorded with the version).
        #[arg(long, default_value_t = default_approver())]
        approved_by: String,
    },
    /// List the approved versions of every root (or one).
    Versions {
        #[command(flatten)]
        data: DataArg,
        /// Only this root.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// What differs between two versions, or a version and the live tree.
    Diff {
        #[command(flatten)]
        data: DataArg,
        /// The web root.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// The older version (default: the current one).
        #[arg(long)]
        from: Option<u64>,
        /// The newer version (default: the live tree).
        #[arg(long, conflicts_with = "live")]
        to: Option<u64>,
        /// Compare with the live tree (the default).
        #[arg(long)]
        live: bool,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Watch the root and restore every change until interrupted.
    Watch {
        #[command(flatten)]
        data: DataArg,
        /// The web root.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Seconds between full checks (a safety net behind inotify).
        #[arg(long, default_value_t = 300)]
        rescan_seconds: u64,
        /// Take the root's site and pages from this plan's
        /// `[[sites.web_roots]]` entry, as `serve` does: a repair names the
        /// page the file serves (`index.html` → the home page) and the
        /// incident engine measures its exposure.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
    },
    /// Accept a change as the new approved version (the live tree, or a staging tree).
    Publish {
        #[command(flatten)]
        data: DataArg,
        /// The web root.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Publish this staging tree: it becomes the approved version and
        /// the live root is brought to it.
        #[arg(long, value_name = "STAGING_DIR", conflicts_with = "window")]
        from: Option<PathBuf>,
        /// Open a maintenance window of MINUTES instead: no restores until it
        /// ends; then `guard publish` approves the live tree, or it is rolled back.
        #[arg(long, value_name = "MINUTES")]
        window: Option<u64>,
        /// Who approves.
        #[arg(long, default_value_t = default_approver())]
        approved_by: String,
    },
    /// Bring the whole root back to an approved version.
    Rollback {
        #[command(flatten)]
        data: DataArg,
        /// The web root.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// The version.
        #[arg(long)]
        to: u64,
    },
    /// Read everything back: every vault content against its BLAKE3, every
    /// version against the vault.
    Verify {
        #[command(flatten)]
        data: DataArg,
    },
    /// Copy every version and its content elsewhere (a backup disk), verified by hash.
    Export {
        #[command(flatten)]
        data: DataArg,
        /// Where.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Copy an export back into the data directory, verified by hash.
    Import {
        #[command(flatten)]
        data: DataArg,
        /// The export.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
}

fn default_approver() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".to_string())
}

/// Runs one guard command.
pub async fn run(command: GuardCommand) -> anyhow::Result<ExitCode> {
    match command {
        GuardCommand::Baseline {
            data,
            root,
            exclude,
            upload_dir,
            site,
            plan,
            approved_by,
        } => {
            let (site, exclude, upload_dir) = match plan {
                Some(plan) => settings_from_plan(&plan, &root, site, exclude, upload_dir)?,
                None => (site, exclude, upload_dir),
            };
            let options = ApproveOptions {
                root,
                from: None,
                site,
                excludes: Some(exclude),
                upload_dirs: Some(upload_dir),
                approved_by,
                note: "baseline".into(),
            };
            approve_and_print(&data.data, options).await
        }
        GuardCommand::Versions { data, root } => versions(&data.data, root.as_deref()),
        GuardCommand::Diff {
            data,
            root,
            from,
            to,
            live: _,
            json,
        } => show_diff(&data.data, &root, from, to, json),
        GuardCommand::Watch {
            data,
            root,
            rescan_seconds,
            plan,
        } => run_watch(&data.data, &root, rescan_seconds, plan.as_deref()).await,
        GuardCommand::Publish {
            data,
            root,
            from,
            window,
            approved_by,
        } => {
            if let Some(minutes) = window {
                let guard = guard_data(&data.data)?;
                let window = open_window(&guard, &root, minutes, &approved_by)?;
                println!(
                    "maintenance window open on {} until {}: changes are not restored; \
                     run `sitewarden guard publish --root {}` to approve them, or they are rolled back when it ends",
                    root.display(),
                    output::time(window.until_ms),
                    root.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let note = match &from {
                Some(from) => format!("publish --from {}", from.display()),
                None => "publish".to_string(),
            };
            let options = ApproveOptions {
                root,
                from,
                approved_by,
                note,
                ..Default::default()
            };
            approve_and_print(&data.data, options).await
        }
        GuardCommand::Rollback { data, root, to } => {
            let guard = guard_data(&data.data)?;
            let root_for_task = root.clone();
            let applied =
                tokio::task::spawn_blocking(move || rollback(&guard, &root_for_task, to)).await??;
            println!(
                "{} is back at version {to}; {}",
                root.display(),
                describe_applied(&applied)
            );
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Verify { data } => {
            let guard = guard_data(&data.data)?;
            let report = tokio::task::spawn_blocking(move || verify(&guard)).await??;
            for problem in &report.problems {
                eprintln!("problem: {problem}");
            }
            println!(
                "vault: {} content(s), {} bytes, verified by BLAKE3; {} root(s), {} version(s) checked; {} problem(s)",
                report.contents,
                report.bytes,
                report.roots,
                report.versions,
                report.problems.len()
            );
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        GuardCommand::Export { data, to } => {
            let guard = guard_data(&data.data)?;
            let report = export(&guard, &to)?;
            println!(
                "exported {} root(s), {} version(s), {} vault file(s) ({} bytes) to {}; every file verified by BLAKE3",
                report.roots,
                report.manifests,
                report.vault_files,
                report.bytes,
                to.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Import { data, from } => {
            let guard = guard_data(&data.data)?;
            let report = import(&guard, &from)?;
            println!(
                "imported {} root(s), {} version(s), {} vault file(s) ({} bytes) from {}; every file verified by BLAKE3",
                report.roots,
                report.manifests,
                report.vault_files,
                report.bytes,
                from.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The site, excludes and upload directories of `root` as the plan's
/// `[[sites.web_roots]]` entry for it sets them, so that the version
/// approved here is the one `serve` expects. Flags that contradict the
/// plan are refused; a root the plan does not list keeps the flags (with a
/// warning: `serve` will not guard it).
fn settings_from_plan(
    plan_path: &Path,
    root: &Path,
    site: Option<String>,
    exclude: Vec<String>,
    upload_dir: Vec<String>,
) -> anyhow::Result<(Option<String>, Vec<String>, Vec<String>)> {
    let plan = super::load_plan(plan_path)?;
    let canonical = std::fs::canonicalize(root)
        .with_context(|| format!("cannot open the web root {}", root.display()))?;
    let entry = plan.web_roots().find(|(_, web_root)| {
        std::fs::canonicalize(&web_root.path).is_ok_and(|path| path == canonical)
    });
    let Some((plan_site, web_root)) = entry else {
        eprintln!(
            "warning: {} is not one of the web roots of {} ([[sites.web_roots]]):              `sitewarden serve` will not guard it; approving it with the options given here",
            canonical.display(),
            plan_path.display()
        );
        return Ok((site, exclude, upload_dir));
    };
    if let Some(site) = &site
        && site != &plan_site.name
    {
        anyhow::bail!(
            "--site {site}: the plan lists {} under site {}",
            web_root.path.display(),
            plan_site.name
        );
    }
    let sorted = |items: &[String], trim: bool| -> Vec<String> {
        let mut items: Vec<String> = items
            .iter()
            .map(|item| {
                if trim {
                    item.trim_matches('/').to_string()
                } else {
                    item.clone()
                }
            })
            .collect();
        items.sort();
        items
    };
    if !exclude.is_empty() && sorted(&exclude, false) != sorted(&web_root.exclude, false) {
        anyhow::bail!(
            "--exclude {}: the plan's exclude for {} is [{}]; with --plan the plan's are used              (drop --exclude, or change the plan)",
            exclude.join(" --exclude "),
            web_root.path.display(),
            web_root.exclude.join(", ")
        );
    }
    if !upload_dir.is_empty() && sorted(&upload_dir, true) != sorted(&web_root.upload_dirs, true) {
        anyhow::bail!(
            "--upload-dir {}: the plan's upload_dirs for {} are [{}]; with --plan the plan's are              used (drop --upload-dir, or change the plan)",
            upload_dir.join(" --upload-dir "),
            web_root.path.display(),
            web_root.upload_dirs.join(", ")
        );
    }
    println!(
        "{}: site {}, upload directories [{}], excludes [{}] (from {})",
        canonical.display(),
        plan_site.name,
        web_root.upload_dirs.join(", "),
        web_root.exclude.join(", "),
        plan_path.display()
    );
    Ok((
        Some(plan_site.name.clone()),
        web_root.exclude.clone(),
        web_root.upload_dirs.clone(),
    ))
}

fn guard_data(data: &Path) -> anyhow::Result<GuardData> {
    GuardData::open(data)
        .with_context(|| format!("cannot open the guard's data in {}", data.display()))
}

fn describe_applied(applied: &Applied) -> String {
    match applied {
        Applied::ByWatcher => "the running watcher applied it".to_string(),
        Applied::Directly(repairs) => format!(
            "{} path(s) brought to it (no watcher running)",
            repairs.len()
        ),
    }
}

async fn approve_and_print(data: &Path, options: ApproveOptions) -> anyhow::Result<ExitCode> {
    let guard = guard_data(data)?;
    let bar = output::progress(0, "scanning");
    let progress_bar = bar.clone();
    let root = options.root.clone();
    let approval = tokio::task::spawn_blocking(move || {
        approve(&guard, &options, &move |files| progress_bar.inc(files))
    })
    .await??;
    bar.finish_and_clear();
    println!(
        "{} version {}: {} files, {} bytes, {} entries in {:.2} s{}",
        root.display(),
        approval.version,
        approval.files,
        approval.bytes,
        approval.entries,
        approval.took.as_secs_f64(),
        if approval.vanished > 0 {
            format!(" ({} vanished while scanning)", approval.vanished)
        } else {
            String::new()
        }
    );
    if let Some(applied) = &approval.applied {
        println!("live root: {}", describe_applied(applied));
    }
    Ok(ExitCode::SUCCESS)
}

fn versions(data: &Path, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let guard = guard_data(data)?;
    let roots = match root {
        Some(root) => {
            let (root_data, canonical) = guard.root(root)?;
            let info = root_data
                .info()?
                .with_context(|| format!("{} has no approved version", canonical.display()))?;
            vec![(root_data, info)]
        }
        None => guard.roots()?,
    };
    if roots.is_empty() {
        println!("no guarded roots in {}", data.display());
    }
    for (root_data, info) in roots {
        let current = root_data.current()?;
        println!("{} (site {})", info.root.display(), info.site);
        if let Some(window) = root_data.window()? {
            println!(
                "  maintenance window open until {}",
                output::time(window.until_ms)
            );
        }
        for version in root_data.versions()? {
            let manifest = root_data.load(version)?;
            let (files, bytes) = manifest.file_totals();
            println!(
                "  {} {:>4}  {}  {:<12} {:>8} files {:>12} bytes  {}",
                if current == Some(version) { "*" } else { " " },
                version,
                output::time(manifest.approved_at_ms),
                manifest.approved_by,
                files,
                bytes,
                manifest.note
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_diff(
    data: &Path,
    root: &Path,
    from: Option<u64>,
    to: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let guard = guard_data(data)?;
    let (root_data, canonical) = guard.root(root)?;
    let old = match from {
        Some(version) => root_data.load(version)?,
        None => root_data.current_manifest(&canonical)?,
    };
    let new_entries = match to {
        Some(version) => root_data.load(version)?.entries,
        None => {
            let policy = Policy::new(&old.excludes, &old.upload_dirs)?;
            scan_tree(&canonical, &policy, None, &|_| {})?.entries
        }
    };
    let changes = diff(&old.entries, &new_entries);
    for change in &changes {
        if json {
            println!("{}", serde_json::to_string(change)?);
        } else {
            match change {
                sitewarden_guard::Change::Added { path, kind } => println!("+ {path} ({kind})"),
                sitewarden_guard::Change::Removed { path, kind } => println!("- {path} ({kind})"),
                sitewarden_guard::Change::Modified { path, from, to } => {
                    println!("~ {path}: {from} -> {to}")
                }
                sitewarden_guard::Change::Metadata { path, from, to } => {
                    println!("m {path}: {from} -> {to}")
                }
            }
        }
    }
    if !json {
        println!(
            "{} difference(s) from version {} to {}",
            changes.len(),
            old.version,
            to.map(|v| format!("version {v}"))
                .unwrap_or_else(|| "the live tree".into())
        );
    }
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn run_watch(
    data: &Path,
    root: &Path,
    rescan_seconds: u64,
    plan: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (store, site, pages) = match plan {
        Some(plan_path) => {
            let plan = super::load_plan(plan_path)?;
            let canonical = std::fs::canonicalize(root)
                .with_context(|| format!("cannot open the web root {}", root.display()))?;
            let Some((site, _)) = plan.web_roots().find(|(_, web_root)| {
                std::fs::canonicalize(&web_root.path).is_ok_and(|path| path == canonical)
            }) else {
                anyhow::bail!(
                    "{} is not one of the web roots of {} ([[sites.web_roots]]): add it to the \
                     plan, or watch it without --plan",
                    canonical.display(),
                    plan_path.display()
                );
            };
            let store = super::open_store_with_plan(data, &plan).await?;
            (store, Some(site.name.clone()), PageMap::for_site(site))
        }
        None => (open_store(data).await?, None, PageMap::default()),
    };
    let guard = guard_data(data)?;
    let mut config = WatchConfig::new(root);
    config.rescan_interval = Duration::from_secs(rescan_seconds.max(1));
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn(cancel_on_signal(cancel.clone()));
    let result = guard_root(
        guard,
        config,
        site,
        pages,
        store.clone(),
        cancel.clone(),
        |report| print_guard_report("", &report),
    )
    .await;
    cancel.cancel();
    let _ = stopper.await;
    store.close().await;
    let summary = result?;
    Ok(if summary.raise_failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints one report of a guarded root, as `guard watch` and `serve` show
/// it. `label` (e.g. `"[portal] "`) tells roots apart when several are
/// guarded at once; warnings and failures go to stderr.
pub fn print_guard_report(label: &str, report: &GuardReport<'_>) {
    match report {
        GuardReport::Event(event) => match event {
            WatchEvent::Ready {
                site,
                root,
                version,
                repairs,
                realtime,
            } => {
                println!(
                    "{label}guarding {} (site {site}) at version {version}{}; start-up check made {repairs} repair(s)",
                    root.display(),
                    if *realtime {
                        ""
                    } else {
                        " WITHOUT real-time events"
                    }
                );
            }
            WatchEvent::Repaired(repair) => {
                println!(
                    "{label}{} {} {}: {:?} in {} µs{}",
                    output::time(repair.detected_at_ms),
                    repair.path,
                    repair.tamper.as_str(),
                    repair.action,
                    repair.took.as_micros(),
                    repair
                        .error
                        .as_deref()
                        .map(|e| format!(" — {e}"))
                        .unwrap_or_default()
                );
            }
            WatchEvent::Published(repair) => {
                println!("{label}published {}: {:?}", repair.path, repair.action);
            }
            WatchEvent::FullCheck {
                reason,
                repairs,
                took,
            } => {
                tracing::info!(
                    "{label}full check ({reason}): {repairs} repair(s) in {:.3} s",
                    took.as_secs_f64()
                );
            }
            WatchEvent::Switched { version } => {
                println!("{label}now enforcing version {version}")
            }
            WatchEvent::WindowOpen { until_ms } => {
                println!(
                    "{label}maintenance window open until {}: not restoring",
                    output::time(*until_ms)
                )
            }
            WatchEvent::WindowExpired => {
                println!(
                    "{label}maintenance window ended without approval: rolling back to the approved version"
                )
            }
            WatchEvent::Warning(warning) => eprintln!("{label}warning: {warning}"),
        },
        GuardReport::Raised { outcome, .. } => {
            tracing::debug!(incident = outcome.incident_id, "guard signal raised");
        }
        GuardReport::RaiseFailed { repair, error } => {
            eprintln!(
                "{label}error: cannot record the repair of {} in the store: {error}",
                repair.path
            );
        }
    }
}
