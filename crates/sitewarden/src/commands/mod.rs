//! One module per command. Shared here: loading the plan (with every
//! problem printed) and opening the store.

mod baseline;
mod check;
mod contain;
mod demo;
mod evidence;
pub mod gateway;
pub mod guard;
mod incident;
mod init;
pub mod logs;
mod outbox;
mod serve;
mod status;

use crate::cli::{Command, EvidenceCommand};
use anyhow::Context;
use sitewarden_plan::{LoadError, Plan};
use sitewarden_store::Store;
use std::path::Path;
use std::process::ExitCode;

/// Runs one command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init { dir, force } => init::run(&dir, force),
        Command::CheckPlan { file } => init::check_plan(&file),
        Command::Baseline {
            plan,
            data,
            site,
            page,
            approved_by,
        } => {
            baseline::run(
                &plan.plan,
                &data.data,
                site.as_deref(),
                page.as_deref(),
                &approved_by,
            )
            .await
        }
        Command::Check {
            plan,
            data,
            once: _,
            json,
        } => check::run(&plan.plan, &data.data, json).await,
        Command::Serve { plan, data } => serve::run(&plan.plan, &data.data).await,
        Command::Status { plan, data } => status::run(&plan.plan, &data.data).await,
        Command::Incident { command } => incident::run(command).await,
        Command::Outbox { command } => outbox::run(command).await,
        Command::Evidence { command } => match command {
            EvidenceCommand::Verify { data } => evidence::verify(&data.data).await,
        },
        Command::Guard { command } => guard::run(command).await,
        Command::Gateway(args) => gateway::run(args).await,
        Command::Logs { command } => logs::run(command).await,
        Command::Contain {
            site,
            reason,
            plan,
            data,
            by,
        } => {
            contain::run(
                &plan.plan,
                &data.data,
                &site,
                sitewarden_contain::SiteState::Maintenance,
                &reason,
                &by,
            )
            .await
        }
        Command::Release {
            site,
            reason,
            plan,
            data,
            by,
        } => {
            let to = sitewarden_contain::SiteState::Serving;
            let reason = contain::reason_or_default(reason, to);
            contain::run(&plan.plan, &data.data, &site, to, &reason, &by).await
        }
        Command::Demo {
            dir,
            exit_after_drill,
        } => demo::run(dir, exit_after_drill).await,
    }
}

/// Loads and validates the plan; an invalid plan is an error listing every problem.
pub fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    match Plan::load(path) {
        Ok(plan) => {
            if let Ok(zone) = sitewarden_incident::time_zone(&plan.organisation.timezone) {
                crate::output::use_zone(zone);
            }
            Ok(plan)
        }
        Err(LoadError::Invalid { errors, .. }) => {
            anyhow::bail!(
                "{} is not a valid plan ({} problem{}):\n{errors}\n(run `sitewarden check-plan {}` after fixing it)",
                path.display(),
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" },
                path.display()
            )
        }
        Err(error) => Err(error.into()),
    }
}

/// Opens the data directory, creating it when missing.
pub async fn open_store(data: &Path) -> anyhow::Result<Store> {
    Store::open(data)
        .await
        .with_context(|| format!("cannot open the data directory {}", data.display()))
}

/// Fails, naming them, when pages of the plan have no approved baseline:
/// a page cannot be judged without one.
pub async fn require_baselines(
    monitor: &sitewarden_monitor::Monitor,
    plan_path: &Path,
    data: &Path,
) -> anyhow::Result<()> {
    let missing = monitor.pages_without_baseline().await?;
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing
        .iter()
        .map(|(site, page)| format!("{site}/{page}"))
        .collect();
    anyhow::bail!(
        "no approved baseline for {}: run `sitewarden baseline --plan {} --data {}` first",
        names.join(", "),
        plan_path.display(),
        data.display()
    )
}

/// Opens the data directory with the incident engine running on the plan.
pub async fn open_store_with_plan(data: &Path, plan: &Plan) -> anyhow::Result<Store> {
    open_store(data)
        .await?
        .with_plan(std::sync::Arc::new(plan.clone()))
        .map_err(|error| anyhow::anyhow!("the plan cannot run the incident engine: {error}"))
}

/// Opens a data directory that must already exist (read-only commands must
/// not create an empty store somewhere by mistake).
pub async fn open_existing_store(data: &Path) -> anyhow::Result<Store> {
    if !data.join("store.db").is_file() {
        anyhow::bail!(
            "no sitewarden data in {} (use --data DIR, or run `sitewarden baseline` first)",
            data.display()
        );
    }
    open_store(data).await
}
