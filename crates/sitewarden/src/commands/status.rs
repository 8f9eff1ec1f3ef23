//! `sitewarden status`: every page of the plan with its last verdict, the
//! sites cut off from external service (with how to reopen them), the open
//! incidents, and the notifications waiting or dead.

use super::{load_plan, open_existing_store};
use crate::output;
use sitewarden_analysis::Verdict;
use std::path::Path;
use std::process::ExitCode;

/// Prints the plan's sites and pages with their last check, then open incidents.
pub async fn run(plan_path: &Path, data: &Path) -> anyhow::Result<ExitCode> {
    let plan = load_plan(plan_path)?;
    let store = open_existing_store(data).await?;
    let states = store.page_states().await?;
    let switches = store.site_switches().await?;
    println!("{} — {}", plan.organisation.name, data.display());
    println!();
    println!(
        "{:<10} {:<24} {:<8} {:>5} {:>7} {:<19}  TLS expires",
        "SITE", "PAGE", "VERDICT", "SCORE", "MS", "LAST CHECK"
    );
    for site in &plan.sites {
        if let Some(switch) = switches
            .iter()
            .find(|switch| switch.site == site.name && switch.is_cut_off())
        {
            println!(
                "{:<10} CUT OFF from external service since {} by {}: {}",
                site.name,
                output::time(switch.at_ms),
                switch.by,
                switch.reason
            );
            println!(
                "{:<10} visitors get the maintenance page; reopen with `sitewarden release {}`",
                "", site.name
            );
        }
        for page in &site.pages {
            let state = states
                .iter()
                .find(|state| state.site == site.name && state.page == page.name);
            let baseline = store.current_baseline(&site.name, &page.name).await?;
            match state {
                Some(state) => {
                    let verdict = state
                        .verdict
                        .parse::<Verdict>()
                        .map(output::verdict)
                        .unwrap_or_else(|_| state.verdict.clone());
                    println!(
                        "{:<10} {:<24} {} {:>5} {:>7} {:<19}  {}",
                        site.name,
                        page.name,
                        verdict,
                        state.score,
                        state
                            .response_ms
                            .map(|ms| ms.to_string())
                            .unwrap_or_else(|| "-".into()),
                        output::time(state.checked_at),
                        state
                            .tls_expires_at
                            .map(output::time)
                            .unwrap_or_else(|| "-".into()),
                    );
                    if state.verdict != "clean" {
                        for reason in &state.reasons {
                            println!("{:>12}- {reason}", "");
                        }
                    }
                }
                None => println!(
                    "{:<10} {:<24} {:<8} {}",
                    site.name,
                    page.name,
                    "-",
                    if baseline.is_some() {
                        "not checked yet"
                    } else {
                        "no baseline: run `sitewarden baseline`"
                    }
                ),
            }
        }
    }
    let incidents = store.incidents().await?;
    let open: Vec<_> = incidents
        .iter()
        .filter(|incident| incident.state.takes_new_signals())
        .collect();
    println!();
    if open.is_empty() {
        println!("no open incidents ({} in total)", incidents.len());
    } else {
        println!("open incidents:");
        for incident in open {
            println!(
                "  #{:<4} {:<10} {:<12} discovered {}  {}",
                incident.id,
                incident.sites_short(),
                incident.state.name_zh(),
                output::time(incident.discovered_at),
                incident.title
            );
        }
    }
    let counts = store.outbox_counts().await?;
    println!();
    println!(
        "notifications: {} pending, {} sending, {} dead{}",
        counts.pending,
        counts.sending,
        counts.dead,
        if counts.dead > 0 {
            " — see `sitewarden outbox list --state dead`, send again with `sitewarden outbox retry`"
        } else {
            ""
        }
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
