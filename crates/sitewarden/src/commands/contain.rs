//! `sitewarden contain SITE --reason …` / `sitewarden release SITE`: cut a
//! site off from external service (PLAN §5) or put it back, through the
//! backend the plan names for it (the gateway, the organisation's nginx, a
//! command). Recorded with who, when and why; the site's open incidents
//! are told (marked contained when it is cut off; while it is, no exposure
//! runs).

use super::{load_plan, open_store, open_store_with_plan};
use sitewarden_contain::SiteState;
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
    // `switch_site` told the site's open incidents (Command::CutOff /
    // Reopen): a cut-off marks them contained, a reopening is noted.
    for id in &outcome.incidents {
        match to {
            SiteState::Maintenance => println!("incident #{id} marked contained (site cut off)"),
            SiteState::Serving => {
                println!("incident #{id} notes the reopening (site serving again)")
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
