//! Warnings about a valid plan that would still fail people in an
//! incident: a role the escalation chain, a playbook or an outside contact
//! relies on that nobody in the roster holds (the step tells nobody), and
//! a person routed to a channel they have no address for (an e-mail
//! channel for someone without `email`), or to no channel at all; and a
//! site the playbooks cut off automatically that no backend can cut off
//! (the step would only record it).
//!
//! Not errors: a plan being drafted may have roles still to staff, and
//! sitewarden runs with it (the runner records "nobody in the roster
//! holds …" on each such step). `check-plan` prints them, with lines.

use crate::error::PlanError;
use crate::gateway::ContainmentBackend;
use crate::model::{Person, Plan, Role};
use crate::response::{ChannelKind, DEFAULT_ROUTE, IncidentKind, PlaybookAction, StepMode};

/// Every warning about `plan`, each at the path it concerns (no lines:
/// [`crate::Plan::check_text`] adds them).
pub fn warnings(plan: &Plan) -> Vec<PlanError> {
    let mut found = uncontainable_sites(plan);
    found.extend(unstaffed_roles(plan));
    found.extend(unreachable_people(plan));
    found
}

/// Sites with no containment backend, when a playbook cuts sites off by
/// itself: the step can only record the cut-off, a person must make it.
fn uncontainable_sites(plan: &Plan) -> Vec<PlanError> {
    let automatic: Vec<&str> = IncidentKind::ALL
        .into_iter()
        .filter(|kind| {
            plan.playbook(*kind).steps.iter().any(|step| {
                step.action == PlaybookAction::Contain && step.mode == StepMode::Automatic
            })
        })
        .map(IncidentKind::as_str)
        .collect();
    if automatic.is_empty() {
        return Vec::new();
    }
    plan.sites
        .iter()
        .enumerate()
        .filter(|(_, site)| site.containment_backend() == ContainmentBackend::None)
        .map(|(index, site)| {
            PlanError::new(
                format!("sites[{index}]"),
                format!(
                    "{} has no containment backend (no `origins` behind the gateway, no \
                     [sites.containment]): the playbooks' automatic contain step ({}) can only \
                     record the cut-off, a person must make it",
                    site.name,
                    automatic.join(", ")
                ),
            )
        })
        .collect()
}

/// Where the plan names each role for people to be told or to act.
fn role_uses(plan: &Plan) -> Vec<(Role, String)> {
    let mut uses = Vec::new();
    let escalation = &plan.escalation;
    for (chain_index, chain) in escalation.chains.iter().enumerate() {
        for (step_index, step) in chain.steps.iter().enumerate() {
            for &role in &step.roles {
                uses.push((
                    role,
                    format!("escalation.chains[{chain_index}].steps[{step_index}]"),
                ));
            }
        }
    }
    for &role in &escalation.remind {
        uses.push((role, "escalation.remind".into()));
    }
    for &role in &escalation.on_missed_deadline {
        uses.push((role, "escalation.on_missed_deadline".into()));
    }
    for (playbook_index, playbook) in plan.playbooks.iter().enumerate() {
        for &role in &playbook.approvers {
            uses.push((role, format!("playbooks[{playbook_index}].approvers")));
        }
        for (step_index, step) in playbook.steps.iter().enumerate() {
            for &role in &step.approvers {
                uses.push((
                    role,
                    format!("playbooks[{playbook_index}].steps[{step_index}].approvers"),
                ));
            }
        }
    }
    for (index, contact) in plan.external_contacts.iter().enumerate() {
        uses.push((
            contact.assignee,
            format!("external_contacts[{index}].assignee"),
        ));
    }
    uses
}

/// Whether someone answers for `role`: a roster entry holding it, or for
/// the duty officer a duty shift or calendar day naming people.
fn staffed(plan: &Plan, role: Role) -> bool {
    if plan.people_with_role(role).next().is_some() {
        return true;
    }
    role == Role::DutyOfficer
        && (plan
            .duty
            .shifts
            .iter()
            .any(|shift| !shift.people.is_empty())
            || plan
                .duty
                .calendar
                .iter()
                .any(|day| day.people.as_ref().is_some_and(|people| !people.is_empty())))
}

fn unstaffed_roles(plan: &Plan) -> Vec<PlanError> {
    let uses = role_uses(plan);
    let mut found = Vec::new();
    for role in Role::ALL {
        if staffed(plan, role) {
            continue;
        }
        let mut places: Vec<&str> = uses
            .iter()
            .filter(|(used, _)| *used == role)
            .map(|(_, path)| path.as_str())
            .collect();
        places.dedup();
        let Some(first) = places.first() else {
            continue;
        };
        let more = match places.len() {
            1 => String::new(),
            n => format!(
                " (and {} more place{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        found.push(PlanError::new(
            *first,
            format!(
                "nobody in the roster holds the role {} ({}), which this names{more}: \
                 add it to someone's roles, or it tells and asks nobody",
                role.as_str(),
                role.name_zh(),
            ),
        ));
    }
    found
}

/// The channel ids people holding `role` are told on.
fn route(plan: &Plan, role: Role) -> &[String] {
    plan.routing
        .get(role.as_str())
        .or_else(|| plan.routing.get(DEFAULT_ROUTE))
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Why `person` cannot be reached on a channel of `kind`, if they cannot.
fn missing_address(person: &Person, kind: ChannelKind) -> Option<&'static str> {
    match kind {
        ChannelKind::Email if person.email.as_deref().is_none_or(|e| e.trim().is_empty()) => {
            Some("no email")
        }
        ChannelKind::Sms | ChannelKind::Dingtalk | ChannelKind::Wecom | ChannelKind::Feishu
            if person.phone.trim().is_empty() =>
        {
            Some("no phone")
        }
        _ => None,
    }
}

fn unreachable_people(plan: &Plan) -> Vec<PlanError> {
    let mut found = Vec::new();
    for (index, person) in plan.roster.iter().enumerate() {
        // (what is missing, channel) → the roles it is routed for.
        let mut gaps: Vec<((&str, &str), Vec<&str>)> = Vec::new();
        let mut routed = false;
        for &role in &person.roles {
            for channel_id in route(plan, role) {
                routed = true;
                let Some(channel) = plan.channel(channel_id) else {
                    continue;
                };
                if let Some(why) = missing_address(person, channel.kind) {
                    let gap = (why, channel_id.as_str());
                    match gaps.iter_mut().find(|(known, _)| *known == gap) {
                        Some((_, roles)) => roles.push(role.as_str()),
                        None => gaps.push((gap, vec![role.as_str()])),
                    }
                }
            }
        }
        let path = format!("roster[{index}]");
        if !routed && !person.roles.is_empty() && !plan.channels.is_empty() {
            found.push(PlanError::new(
                path,
                format!(
                    "{} is routed to no channel: add their roles (or \"default\") to [routing]",
                    person.name
                ),
            ));
        } else if !gaps.is_empty() {
            let gaps: Vec<String> = gaps
                .iter()
                .map(|((why, channel), roles)| {
                    format!("{why} for channel {channel} (as {})", roles.join(", "))
                })
                .collect();
            found.push(PlanError::new(
                path,
                format!(
                    "{} cannot be told on every channel routed to them: {}",
                    person.name,
                    gaps.join("; ")
                ),
            ));
        }
    }
    found
}
