//! Carrying out "cut the site off from external service" (PLAN §5) and
//! putting the site back, through the backend the plan names for the site:
//! sitewarden's gateway, the organisation's nginx, or a command.
//!
//! The same function serves `sitewarden contain` / `release` and the
//! playbook's automatic contain step, so a switch is recorded the same way
//! whoever asked: in the store's `site_switches` (the state a gateway
//! restores at start) and `switch_events` (who, when, why, what the backend
//! did). A switch in force is also told to the site's open incidents
//! (`Command::CutOff` / `Command::Reopen`), so the incident engine knows
//! when nothing the site serves can be seen and measures no exposure then.

use sitewarden_contain::{
    Backend, CommandBackend, CommandConfig, MaintenancePage, NginxBackend, NginxConfig, SiteState,
    Switch,
};
use sitewarden_gateway::control::{self, Request};
use sitewarden_incident::Command;
use sitewarden_plan::{ContainmentBackend, Plan, Site};
use sitewarden_store::{ApplyError, SiteSwitchRecord, Store, StoreError, SwitchEvent};
use std::time::{Duration, Instant};

/// A switch someone asked for.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// The plan's site name, one of its host names, or a host routed by a
    /// gateway started with `--route`.
    pub site: String,
    /// Where to switch it.
    pub to: SiteState,
    /// Why.
    pub reason: String,
    /// Who.
    pub by: String,
}

/// What came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchOutcome {
    /// The site's name.
    pub site: String,
    /// The backend used (`gateway`, `nginx`, `command`, `none`).
    pub backend: &'static str,
    /// True when the new state is serving requests now; false when it is
    /// only recorded (no gateway running yet, or no automatic backend).
    pub in_force: bool,
    /// What happened, in words.
    pub detail: String,
    /// The open incidents of the site that were told of the switch (cut
    /// off or reopened); none when it is not in force.
    pub incidents: Vec<i64>,
}

/// Why a switch could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ContainmentError {
    /// No such site anywhere.
    #[error("no site {0:?} in the plan, and no running gateway routes it")]
    UnknownSite(String),
    /// The backend failed; the site is as it was.
    #[error("{backend} could not switch {site} to {to}: {detail}")]
    Failed {
        /// The site.
        site: String,
        /// The backend.
        backend: &'static str,
        /// The state asked for.
        to: SiteState,
        /// What went wrong.
        detail: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds a plan site by name or host name.
pub fn plan_site<'a>(plan: &'a Plan, name: &str) -> Option<&'a Site> {
    let lower = name.to_ascii_lowercase();
    plan.sites
        .iter()
        .find(|site| site.name == name)
        .or_else(|| {
            plan.sites
                .iter()
                .find(|site| site.host_names().contains(&lower))
        })
}

/// Switches a site through its backend and records it.
pub async fn switch_site(
    store: &Store,
    plan: Option<&Plan>,
    request: &SwitchRequest,
) -> Result<SwitchOutcome, ContainmentError> {
    let site = plan.and_then(|plan| plan_site(plan, &request.site));
    let backend = site.map(Site::containment_backend);
    let mut outcome = match (site, backend) {
        (Some(site), Some(ContainmentBackend::Nginx | ContainmentBackend::Command)) => {
            external(store, site, request).await
        }
        (Some(site), Some(ContainmentBackend::None)) => {
            let detail = format!(
                "no automatic containment backend for {} (plan: sites.containment.backend = \
                 \"none\", no origins): switch it by hand; recorded",
                site.name
            );
            record(store, &site.name, request, "none", "recorded", &detail).await?;
            Ok(SwitchOutcome {
                site: site.name.clone(),
                backend: "none",
                in_force: false,
                detail,
                incidents: Vec::new(),
            })
        }
        (Some(site), _) => gateway(store, &site.name, request, true).await,
        (None, _) => gateway(store, &request.site, request, false).await,
    }?;
    if outcome.in_force
        && let Some(site) = site
    {
        outcome.incidents = tell_incidents(store, &site.name, &outcome, request).await?;
    }
    Ok(outcome)
}

/// Tells the site's open incidents that it is cut off (switched to
/// maintenance) or serves again; returns the ones that took it. An
/// incident that refuses (closed meanwhile) or has no engine state (the
/// store opened without the plan) is left alone.
async fn tell_incidents(
    store: &Store,
    site: &str,
    outcome: &SwitchOutcome,
    request: &SwitchRequest,
) -> Result<Vec<i64>, StoreError> {
    let note = format!(
        "by {} via {}: {}",
        request.by, outcome.backend, request.reason
    );
    let mut told = Vec::new();
    for incident in store.open_incidents(site).await? {
        let command = match request.to {
            SiteState::Maintenance => Command::CutOff {
                site: site.to_string(),
                note: note.clone(),
            },
            SiteState::Serving => Command::Reopen {
                site: site.to_string(),
                note: note.clone(),
            },
        };
        match store
            .apply_command(incident.id, command, &request.by, jiff::Timestamp::now())
            .await
        {
            Ok(_) => told.push(incident.id),
            Err(ApplyError::Store(error)) => return Err(error),
            Err(error) => tracing::info!("incident #{}: {error}", incident.id),
        }
    }
    Ok(told)
}

async fn record(
    store: &Store,
    site: &str,
    request: &SwitchRequest,
    backend: &str,
    outcome: &str,
    detail: &str,
) -> Result<(), StoreError> {
    store
        .record_switch(&SwitchEvent {
            switch: SiteSwitchRecord {
                site: site.to_string(),
                mode: request.to.as_str().to_string(),
                reason: request.reason.clone(),
                by: request.by.clone(),
                at_ms: jiff::Timestamp::now().as_millisecond(),
            },
            backend: backend.to_string(),
            outcome: outcome.to_string(),
            detail: detail.to_string(),
        })
        .await
}

/// Through the gateway on this data directory. A running gateway records
/// the switch in the store itself before it puts it in force (so what it
/// restores after a restart is what it last served); with none running,
/// the switch is recorded here and applied when one starts.
async fn gateway(
    store: &Store,
    site: &str,
    request: &SwitchRequest,
    in_plan: bool,
) -> Result<SwitchOutcome, ContainmentError> {
    let ask = Request::Switch {
        site: site.to_string(),
        mode: request.to,
        reason: request.reason.clone(),
        by: request.by.clone(),
    };
    let started = Instant::now();
    let answer = control::send(store.data_dir(), &ask).await;
    let took = started.elapsed();
    match answer {
        Ok(Some(response)) if response.ok => Ok(SwitchOutcome {
            site: response.site.unwrap_or_else(|| site.to_string()),
            backend: "gateway",
            in_force: true,
            detail: format!(
                "in force on the running gateway (acknowledged in {} µs)",
                took.as_micros()
            ),
            incidents: Vec::new(),
        }),
        Ok(Some(response)) => {
            let problem = response.error.unwrap_or_else(|| "refused".into());
            if !in_plan {
                return Err(ContainmentError::UnknownSite(request.site.clone()));
            }
            record(store, site, request, "gateway", "failed", &problem).await?;
            Err(ContainmentError::Failed {
                site: site.to_string(),
                backend: "gateway",
                to: request.to,
                detail: problem,
            })
        }
        Ok(None) if in_plan => {
            let detail = format!(
                "recorded; no gateway is running on {} — it applies the switch when it starts",
                store.data_dir().display()
            );
            record(store, site, request, "gateway", "recorded", &detail).await?;
            Ok(SwitchOutcome {
                site: site.to_string(),
                backend: "gateway",
                in_force: false,
                detail,
                incidents: Vec::new(),
            })
        }
        Ok(None) => Err(ContainmentError::UnknownSite(request.site.clone())),
        Err(error) => {
            // No answer: whether the gateway made the switch is unknown;
            // `sitewarden gateway status` tells.
            let detail = format!("{error} (check with `sitewarden gateway status`)");
            if in_plan {
                record(store, site, request, "gateway", "failed", &detail).await?;
            }
            Err(ContainmentError::Failed {
                site: site.to_string(),
                backend: "gateway",
                to: request.to,
                detail,
            })
        }
    }
}

/// Through the organisation's nginx or a command.
async fn external(
    store: &Store,
    site: &Site,
    request: &SwitchRequest,
) -> Result<SwitchOutcome, ContainmentError> {
    let backend = match build_backend(site) {
        Ok(backend) => backend,
        Err(detail) => {
            let name = site.containment_backend().as_str();
            record(store, &site.name, request, name, "failed", &detail).await?;
            return Err(ContainmentError::Failed {
                site: site.name.clone(),
                backend: name,
                to: request.to,
                detail,
            });
        }
    };
    let name = backend.name();
    let switch = Switch {
        site: site.name.clone(),
        hosts: site.host_names(),
        to: request.to,
        reason: request.reason.clone(),
        by: request.by.clone(),
    };
    match backend.apply(&switch).await {
        Ok(applied) => {
            let detail = applied.to_string();
            record(store, &site.name, request, name, "applied", &detail).await?;
            Ok(SwitchOutcome {
                site: site.name.clone(),
                backend: name,
                in_force: true,
                detail,
                incidents: Vec::new(),
            })
        }
        Err(error) => {
            let detail = error.to_string();
            record(store, &site.name, request, name, "failed", &detail).await?;
            Err(ContainmentError::Failed {
                site: site.name.clone(),
                backend: name,
                to: request.to,
                detail,
            })
        }
    }
}

/// The contain crate's backend for a site's plan settings.
pub fn build_backend(site: &Site) -> Result<Box<dyn Backend>, String> {
    let containment = site
        .containment
        .as_ref()
        .ok_or_else(|| format!("site {} has no [sites.containment]", site.name))?;
    match containment.backend {
        ContainmentBackend::Nginx => {
            let nginx = containment
                .nginx
                .as_ref()
                .ok_or("no [sites.containment.nginx] section")?;
            let mut config = NginxConfig::new(&nginx.include);
            config.maintenance_page = match nginx
                .maintenance_page
                .as_ref()
                .or(site.maintenance_page.as_ref())
            {
                Some(path) => MaintenancePage::File(path.clone()),
                None => MaintenancePage::Builtin,
            };
            config.nginx_binary = nginx.binary.clone().into();
            config.config_file = nginx.config.clone();
            config.reload = nginx.reload.clone();
            config.timeout = Duration::from_secs(u64::from(nginx.timeout_seconds));
            NginxBackend::new(config)
                .map(|backend| Box::new(backend) as Box<dyn Backend>)
                .map_err(|error| error.to_string())
        }
        ContainmentBackend::Command => {
            let command = containment
                .command
                .as_ref()
                .ok_or("no [sites.containment.command] section")?;
            let mut config = CommandConfig::new(command.argv.clone());
            config.timeout = Duration::from_secs(u64::from(command.timeout_seconds));
            CommandBackend::new(config)
                .map(|backend| Box::new(backend) as Box<dyn Backend>)
                .map_err(|error| error.to_string())
        }
        other => Err(format!(
            "site {}: backend {:?} is not an external one",
            site.name,
            other.as_str()
        )),
    }
}
