//! `sitewarden status`: every page of the plan with its last verdict, the
//! sites cut off from external service (with how to reopen them), the open
//! incidents with what waits on a person (approvals, calls to outside
//! authorities), and the notifications waiting or dead.

use super::{load_plan, open_existing_store};
use crate::output;
use sitewarden_analysis::Verdict;
use sitewarden_incident::{Incident, call_tasks};
use sitewarden_plan::{ContainmentBackend, Plan};
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
            if site.containment_backend() == ContainmentBackend::None {
                // Recorded, but nothing of sitewarden's stands in front of
                // the site: saying "cut off" would be a lie.
                println!(
                    "{:<10} TO CUT OFF BY HAND since {} (no containment backend in the plan; \
                     recorded by {}: {})",
                    site.name,
                    output::time(switch.at_ms),
                    switch.by,
                    switch.reason
                );
                println!(
                    "{:<10} visitors may still see the site: cut it off at its web server, then \
                     record it with `sitewarden incident contain ID --note …`",
                    ""
                );
            } else {
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
            if let Some(engine) = store.engine_incident(incident.id).await? {
                for waiting in waiting_on_people(&plan, &engine) {
                    println!("        waiting: {waiting}");
                }
            }
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

/// What an incident waits for from a person, with the command that
/// gives it: unanswered approval requests, calls to outside authorities
/// not yet recorded.
fn waiting_on_people(plan: &Plan, incident: &Incident) -> Vec<String> {
    let id = incident.id;
    let approvals = incident
        .approvals
        .iter()
        .enumerate()
        .filter(|(_, request)| request.answer.is_none())
        .map(|(number, request)| {
            format!(
                "approval of {} — `sitewarden incident approve {id} --request {number} --by NAME`",
                request.action.as_str()
            )
        });
    let calls = call_tasks(incident).into_iter().filter_map(|task| {
        let contact = plan.external_contact(&task.contact);
        let name = contact.map_or(task.contact.as_str(), |contact| contact.name.as_str());
        let has_fax = contact.is_some_and(|contact| contact.fax.is_some());
        match task.reached {
            None => Some(format!(
                "a call to {name} — then `sitewarden incident contacted {id} --contact {} --by NAME [--fax]`",
                task.contact
            )),
            // Called, the fax still to follow (PLAN: 电话报告，随后传真).
            Some(reached) if has_fax && !reached.fax_sent => Some(format!(
                "the fax to {name} after {}'s call — then `sitewarden incident contacted {id} --contact {} --by NAME --fax`",
                reached.by, task.contact
            )),
            Some(_) => None,
        }
    });
    approvals.chain(calls).collect()
}
