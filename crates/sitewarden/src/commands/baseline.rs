//! `sitewarden baseline`: approve the current content of every page.

use super::{load_plan, open_store};
use crate::output;
use futures_util::StreamExt;
use sitewarden_monitor::{PageTarget, Targets, approve_baseline, now_ms, probe_config};
use sitewarden_probe::Prober;
use std::path::Path;
use std::process::ExitCode;

/// Fetches every selected page twice and stores its approved baseline.
pub async fn run(
    plan_path: &Path,
    data: &Path,
    site: Option<&str>,
    page: Option<&str>,
    approved_by: &str,
) -> anyhow::Result<ExitCode> {
    let plan = load_plan(plan_path)?;
    let store = open_store(data).await?;
    let prober = Prober::new(probe_config(&plan))?;
    let targets = Targets::from_plan(&plan);
    let selected: Vec<&PageTarget> = targets
        .pages
        .iter()
        .filter(|target| site.is_none_or(|site| target.site == site))
        .filter(|target| page.is_none_or(|page| target.page == page))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("no page of the plan matches the selection");
    }
    let bar = output::progress(selected.len() as u64, "baseline");
    let mut failures = 0;
    let mut results =
        futures_util::stream::iter(selected.iter().map(|target| {
            approve_baseline(&prober, &targets, target, &store, approved_by, now_ms())
        }))
        .buffer_unordered(plan.probe.concurrency.max(1));
    while let Some(result) = results.next().await {
        bar.inc(1);
        match result {
            Ok(approved) => output::line(
                &bar,
                format!(
                    "approved {}/{} version {} ({} text blocks, {} volatile learned, {})",
                    approved.site,
                    approved.page,
                    approved.version,
                    approved.blocks,
                    approved.learned_volatile,
                    approved.encoding
                ),
            ),
            Err(error) => {
                failures += 1;
                output::line(&bar, format!("error: {error}"));
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "{} of {} page{} approved into {}",
        selected.len() - failures,
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        data.display()
    );
    store.close().await;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
