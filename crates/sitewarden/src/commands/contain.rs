//! `sitewarden contain SITE --reason …` / `sitewarden release SITE`: cut a
//! site off from external service (PLAN §5) or put it back, through the
//! backend the plan names for it (the gateway, the organisation's nginx, a
//! command). Recorded with who, when and why; an open incident of the site
//! is marked contained.

use super::{load_plan, open_store, open_store_with_plan};
use sitewarden_contain::SiteState;
use sitewarden_incident::Command;
use sitewarden_runner::containment::plan_site;
use sitewarden_runner::{ContainmentError, SwitchRequest, switch_site};
use std::path::Path;
use std::process::ExitCode;

/// Switches `site` to `to` and reports what came of it.
pub async fn run(
    plan_path: &Path,
    data: &Path,
    site: &str,
    to: SiteState,
    reason: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    // The plan is optional: a gateway started with --route has no plan, and
    // its sites are its host names.
    let plan = if plan_path.exists() {
        Some(load_plan(plan_path)?)
    } else {
        None
    };
    let store = match &plan {
        Some(plan) => open_store_with_plan(data, plan).await?,
        None => open_store(data).await?,
    };
    let request = SwitchRequest {
        site: site.to_string(),
        to,
        reason: reason.to_string(),
        by: by.to_string(),
    };
    let outcome = match switch_site(&store, plan.as_ref(), &request).await {
        Ok(outcome) => outcome,
        Err(ContainmentError::UnknownSite(name)) if plan.is_none() => anyhow::bail!(
            "no running gateway routes {name:?} and there is no plan at {} to look it up in",
            plan_path.display()
        ),
        Err(error) => return Err(error.into()),
    };
    println!(
        "{}: {} via {} — {}",
        outcome.site,
        to.as_str(),
        outcome.backend,
        outcome.detail
    );
    // The site's open incidents record the switch in their timelines: a
    // cut-off marks them contained, a reopening is noted.
    if outcome.in_force
        && let Some(plan) = &plan
        && let Some(site) = plan_site(plan, &outcome.site)
    {
        for incident in store.open_incidents(&site.name).await? {
            let (command, done) = match to {
                SiteState::Maintenance => (
                    Command::Contain {
                        note: format!("cut off by {by} via {}: {reason}", outcome.backend),
                    },
                    "marked contained",
                ),
                SiteState::Serving => (
                    Command::Note {
                        text: format!(
                            "site {} reopened by {by} via {}: {reason}",
                            site.name, outcome.backend
                        ),
                    },
                    "notes the reopening",
                ),
            };
            match store
                .apply_command(incident.id, command, by, jiff::Timestamp::now())
                .await
            {
                Ok(_) => println!("incident #{} {done}", incident.id),
                Err(error) => println!("incident #{}: {error}", incident.id),
            }
        }
    }
    if !outcome.in_force {
        eprintln!("note: the switch is recorded but not in force yet");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The reason given, or one that says nobody gave one.
pub fn reason_or_default(reason: Option<String>, to: SiteState) -> String {
    reason.unwrap_or_else(|| match to {
        SiteState::Maintenance => "cut off by hand (no reason given)".into(),
        SiteState::Serving => "put back by hand (no reason given)".into(),
    })
}
