//! What the runner must do now: the reminders before deadlines, the
//! escalations when one is missed, the escalation chain's notifications
//! and call/fax tasks, the playbook's automatic steps and approval
//! requests, and the duty hand-over briefing.
//!
//! [`due_actions`] is pure: from the incident, the plan's rules and `now`
//! it returns every action whose time has come and whose key is not in the
//! incident's `actions_done`. The runner calls it on each tick, carries out
//! each action (hands a message to the outbox, creates a task, runs a
//! step), and records `Command::ActionDone { key }`; an action is thus
//! returned until it is done, survives a restart, and is never done twice.
//! Of a step's repeats only the latest due one is returned: after downtime
//! nobody wants five stale copies of the same call.
//!
//! An acknowledgement stops the chain's steps from then on (unless a step
//! says `stop_on_ack = false`, as duties to outside authorities do); it
//! does not stop reminders or the escalation of a missed deadline.

use crate::clocks::{ClockName, ClockStatus, clocks};
use crate::duty::{hand_overs, on_duty};
use crate::incident::Incident;
use crate::level::effective_level;
use crate::playbook::{playbook_for, step_key};
use crate::rules::Rules;
use crate::time::plus_minutes;
use jiff::Timestamp;
use serde::Serialize;
use sitewarden_plan::{
    ContactKind, DEFAULT_ROUTE, EscalationChain, PlaybookAction, Role, StepMode,
};

/// One person to tell, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The roster name.
    pub name: String,
    /// The role they are told as.
    pub role: Role,
    /// Their phone.
    pub phone: String,
    /// Their e-mail address.
    pub email: Option<String>,
    /// The channel ids to use, in order (the step's, else the role's
    /// routing, else the default route).
    pub channels: Vec<String>,
}

/// Something the runner must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// A deadline is near.
    Reminder {
        /// The dedup key.
        key: String,
        /// When it became due.
        at: Timestamp,
        /// Which clock.
        clock: ClockName,
        /// The clock's key.
        clock_key: String,
        /// The deadline.
        due: Timestamp,
        /// Who is reminded.
        recipients: Vec<Recipient>,
    },
    /// A deadline was missed: tell the people above.
    Escalate {
        /// The dedup key.
        key: String,
        /// When it became due (the deadline).
        at: Timestamp,
        /// Which clock.
        clock: ClockName,
        /// The clock's key.
        clock_key: String,
        /// Seconds late so far (at least 1).
        missed_by_seconds: i64,
        /// Who is told.
        recipients: Vec<Recipient>,
    },
    /// A step of the escalation chain: tell these people.
    Notify {
        /// The dedup key.
        key: String,
        /// When it became due.
        at: Timestamp,
        /// The chain's name.
        chain: String,
        /// The step's index.
        step: usize,
        /// Which repeat (0 for the first time).
        repeat: u32,
        /// Who is told, the person on duty first.
        recipients: Vec<Recipient>,
        /// Roles of the step that nobody in the roster holds.
        unstaffed_roles: Vec<Role>,
    },
    /// A step of the chain names an outside authority: a person must
    /// phone (then fax) it. Never an automatic message.
    CallTask {
        /// The dedup key.
        key: String,
        /// When it became due.
        at: Timestamp,
        /// The contact's id.
        contact: String,
        /// The authority's name.
        name: String,
        /// What it is.
        kind: ContactKind,
        /// The number to call.
        phone: Option<String>,
        /// The fax number.
        fax: Option<String>,
        /// Who should make the call.
        assignees: Vec<Recipient>,
    },
    /// A playbook step that runs by itself.
    RunStep {
        /// The dedup key.
        key: String,
        /// When it became due.
        at: Timestamp,
        /// The step's index.
        step: usize,
        /// What to do.
        action: PlaybookAction,
        /// The sites to do it for: for an automatic step that acts on a
        /// site (contain, preserve evidence, block offenders) one site —
        /// a site that joins the incident later gets the step of its own
        /// — otherwise every site of the incident.
        sites: Vec<String>,
    },
    /// A playbook step waits for a commander: ask.
    RequestApproval {
        /// The dedup key.
        key: String,
        /// When it became due.
        at: Timestamp,
        /// The step's index.
        step: usize,
        /// What would be done.
        action: PlaybookAction,
        /// Who may approve.
        approvers: Vec<Role>,
        /// The people holding those roles.
        recipients: Vec<Recipient>,
    },
    /// The duty changed hands while the incident is open: brief the
    /// person coming on.
    HandOver {
        /// The dedup key.
        key: String,
        /// When.
        at: Timestamp,
        /// Who went off duty.
        from: Vec<String>,
        /// Who came on.
        to: Vec<Recipient>,
    },
}

impl Action {
    /// The action's dedup key, stable across ticks and restarts.
    pub fn key(&self) -> &str {
        match self {
            Action::Reminder { key, .. }
            | Action::Escalate { key, .. }
            | Action::Notify { key, .. }
            | Action::CallTask { key, .. }
            | Action::RunStep { key, .. }
            | Action::RequestApproval { key, .. }
            | Action::HandOver { key, .. } => key,
        }
    }

    /// When the action became due.
    pub fn at(&self) -> Timestamp {
        match self {
            Action::Reminder { at, .. }
            | Action::Escalate { at, .. }
            | Action::Notify { at, .. }
            | Action::CallTask { at, .. }
            | Action::RunStep { at, .. }
            | Action::RequestApproval { at, .. }
            | Action::HandOver { at, .. } => *at,
        }
    }
}

/// A call/fax task the escalation chain gave, and whether a person has
/// recorded the call (`Command::Contacted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallTaskStatus<'i> {
    /// The plan's contact id.
    pub contact: String,
    /// When the first task for it was given.
    pub given_at: Option<Timestamp>,
    /// The call, once made.
    pub reached: Option<&'i crate::incident::ContactReached>,
}

/// The call/fax tasks given so far, one per contact, in the order given,
/// with the calls recorded against them. The task's time is its
/// `ActionDone` entry in the timeline.
pub fn call_tasks(incident: &Incident) -> Vec<CallTaskStatus<'_>> {
    let mut tasks: Vec<CallTaskStatus<'_>> = Vec::new();
    for event in incident.timeline.events() {
        if event.kind != crate::timeline::EventKind::ActionDone {
            continue;
        }
        // "call:{chain}:{step}:{repeat}:{contact}: {detail}"
        let Some(key) = event.detail.strip_prefix("call:") else {
            continue;
        };
        let key = key.split(": ").next().unwrap_or(key);
        let Some(contact) = key.rsplit(':').next() else {
            continue;
        };
        if tasks.iter().any(|task| task.contact == contact) {
            continue;
        }
        tasks.push(CallTaskStatus {
            contact: contact.to_owned(),
            given_at: Some(event.at),
            reached: None,
        });
    }
    for reached in &incident.contacts_reached {
        match tasks
            .iter_mut()
            .find(|task| task.contact == reached.contact)
        {
            // A later record with the fax counts over an earlier without.
            Some(task) => {
                if !task.reached.is_some_and(|earlier| earlier.fax_sent) {
                    task.reached = Some(reached);
                }
            }
            // Called before (or without) a task: still on record.
            None => tasks.push(CallTaskStatus {
                contact: reached.contact.clone(),
                given_at: None,
                reached: Some(reached),
            }),
        }
    }
    tasks
}

/// The channels for a person told as `role`.
fn route(rules: &Rules<'_>, role: Role, step_channels: &[String]) -> Vec<String> {
    if !step_channels.is_empty() {
        return step_channels.to_vec();
    }
    let routing = &rules.plan.routing;
    routing
        .get(role.as_str())
        .or_else(|| routing.get(DEFAULT_ROUTE))
        .cloned()
        .unwrap_or_default()
}

/// The people to tell for `roles` at `at`: for the duty officer, whoever
/// is on duty; otherwise everyone holding the role. Each person once.
pub fn recipients(
    rules: &Rules<'_>,
    roles: &[Role],
    at: Timestamp,
    step_channels: &[String],
) -> (Vec<Recipient>, Vec<Role>) {
    let mut out: Vec<Recipient> = Vec::new();
    let mut unstaffed = Vec::new();
    for &role in roles {
        let people: Vec<_> = if role == Role::DutyOfficer {
            on_duty(rules, at)
        } else {
            rules.plan.people_with_role(role).collect()
        };
        if people.is_empty() {
            unstaffed.push(role);
        }
        for person in people {
            if out.iter().any(|known| known.name == person.name) {
                continue;
            }
            out.push(Recipient {
                name: person.name.clone(),
                role,
                phone: person.phone.clone(),
                email: person.email.clone(),
                channels: route(rules, role, step_channels),
            });
        }
    }
    (out, unstaffed)
}

/// The chain the incident follows: the first naming its kind, else the
/// first naming none.
pub fn chain_for<'p>(rules: &Rules<'p>, incident: &Incident) -> Option<&'p EscalationChain> {
    let kind = incident.kind.plan_kind();
    let chains = &rules.plan.escalation.chains;
    chains
        .iter()
        .find(|chain| chain.kinds.contains(&kind))
        .or_else(|| chains.iter().find(|chain| chain.kinds.is_empty()))
}

/// Every action due at `now` that is not yet done.
pub fn due_actions(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Vec<Action> {
    let mut actions = Vec::new();
    let open = incident.finished_at().is_none();
    let escalation = &rules.plan.escalation;

    for clock in clocks(rules, incident, now) {
        match clock.status {
            ClockStatus::Pending => {
                if let Some(warn_at) = clock.warn_at
                    && warn_at <= now
                {
                    let (recipients, _) = recipients(rules, &escalation.remind, warn_at, &[]);
                    actions.push(Action::Reminder {
                        key: format!("reminder:{}", clock.key),
                        at: warn_at,
                        clock: clock.name,
                        clock_key: clock.key.clone(),
                        due: clock.due,
                        recipients,
                    });
                }
            }
            ClockStatus::Missed if clock.done_at.is_none() && open => {
                let (recipients, _) =
                    recipients(rules, &escalation.on_missed_deadline, clock.due, &[]);
                actions.push(Action::Escalate {
                    key: format!("missed:{}", clock.key),
                    at: clock.due,
                    clock: clock.name,
                    clock_key: clock.key.clone(),
                    missed_by_seconds: clock.missed_by_seconds.unwrap_or(1),
                    recipients,
                });
            }
            _ => {}
        }
    }

    if open {
        chain_actions(rules, incident, now, &mut actions);
        playbook_actions(rules, incident, now, &mut actions);
        if let Some(hand_over) = hand_overs(rules, incident.discovered_at, now).pop()
            && incident
                .entered(crate::model::IncidentState::Recovered)
                .is_none_or(|recovered| recovered > hand_over.at)
        {
            let (to, _) = recipients(rules, &[Role::DutyOfficer], hand_over.at, &[]);
            actions.push(Action::HandOver {
                key: format!("handover:{}", hand_over.at),
                at: hand_over.at,
                from: hand_over.from,
                to,
            });
        }
    }

    actions.retain(|action| !incident.actions_done.contains(action.key()));
    actions.sort_by(|a, b| a.at().cmp(&b.at()).then_with(|| a.key().cmp(b.key())));
    actions
}

fn chain_actions(
    rules: &Rules<'_>,
    incident: &Incident,
    now: Timestamp,
    actions: &mut Vec<Action>,
) {
    let Some(chain) = chain_for(rules, incident) else {
        return;
    };
    let level = effective_level(rules, incident, now);
    let acknowledged = incident.acknowledged_at();
    for (index, step) in chain.steps.iter().enumerate() {
        if let Some(min_level) = &step.min_level
            && !rules.at_least(&level, min_level)
        {
            continue;
        }
        // The latest occurrence due by now.
        let first = plus_minutes(incident.discovered_at, i64::from(step.after_minutes));
        if first > now {
            continue;
        }
        let every = i64::from(step.repeat_every_minutes.max(1));
        let mut repeat = 0;
        let mut at = first;
        while repeat < step.repeat {
            let next = plus_minutes(first, every * i64::from(repeat + 1));
            if next > now {
                break;
            }
            repeat += 1;
            at = next;
        }
        // Once acknowledged, an alarm step is not sent any more, not even
        // an occurrence that fell due before the acknowledgement but was
        // not yet carried out: someone has the incident in hand.
        if step.stop_on_ack && acknowledged.is_some_and(|ack| ack <= now) {
            continue;
        }
        if !step.roles.is_empty() {
            let (recipients, unstaffed_roles) = recipients(rules, &step.roles, at, &step.channels);
            actions.push(Action::Notify {
                key: format!("chain:{}:{index}:{repeat}", chain.name),
                at,
                chain: chain.name.clone(),
                step: index,
                repeat,
                recipients,
                unstaffed_roles,
            });
        }
        for id in &step.contacts {
            let Some(contact) = rules.plan.external_contact(id) else {
                continue;
            };
            // Reached already: the task is done, no more calls to make.
            if incident
                .contacts_reached
                .iter()
                .any(|reached| reached.contact == *id && reached.at <= now)
            {
                continue;
            }
            if let Some(min_level) = &contact.min_level
                && !rules.at_least(&level, min_level)
            {
                continue;
            }
            let (assignees, _) = recipients(rules, &[contact.assignee], at, &step.channels);
            actions.push(Action::CallTask {
                key: format!("call:{}:{index}:{repeat}:{id}", chain.name),
                at,
                contact: contact.id.clone(),
                name: contact.name.clone(),
                kind: contact.kind,
                phone: contact.phone.clone(),
                fax: contact.fax.clone(),
                assignees,
            });
        }
    }
}

/// Whether an automatic step acts on each site by itself, and so must run
/// again for a site that joins the incident after it ran.
fn acts_per_site(action: PlaybookAction) -> bool {
    matches!(
        action,
        PlaybookAction::Contain | PlaybookAction::PreserveEvidence | PlaybookAction::BlockOffenders
    )
}

fn playbook_actions(
    rules: &Rules<'_>,
    incident: &Incident,
    now: Timestamp,
    actions: &mut Vec<Action>,
) {
    let Some(playbook) = playbook_for(rules, incident) else {
        return;
    };
    let at = incident.discovered_at;
    if at > now {
        return;
    }
    for (index, step) in playbook.steps.iter().enumerate() {
        match step.mode {
            StepMode::Automatic if acts_per_site(step.action) => {
                // The first site's key is the step's own (as recorded
                // before incidents covered several sites); each site
                // joining later has one with its name.
                for (nth, site) in incident.sites.iter().enumerate() {
                    let key = match nth {
                        0 => step_key(index, step.action),
                        _ => format!("{}@{site}", step_key(index, step.action)),
                    };
                    actions.push(Action::RunStep {
                        key,
                        at,
                        step: index,
                        action: step.action,
                        sites: vec![site.clone()],
                    });
                }
            }
            StepMode::Automatic => actions.push(Action::RunStep {
                key: step_key(index, step.action),
                at,
                step: index,
                action: step.action,
                sites: incident.sites.clone(),
            }),
            // Approved: carried out like an automatic step, from the
            // moment of the instruction (PLAN §5: the commander decides,
            // sitewarden acts).
            StepMode::Approval
                if let Some(answer) = incident
                    .approvals
                    .iter()
                    .rev()
                    .find(|request| request.step == index)
                    .and_then(|request| request.answer.as_ref())
                    .filter(|answer| answer.approved && answer.at <= now) =>
            {
                actions.push(Action::RunStep {
                    key: step_key(index, step.action),
                    at: answer.at,
                    step: index,
                    action: step.action,
                    sites: incident.sites.clone(),
                });
            }
            StepMode::Approval
                if !incident
                    .approvals
                    .iter()
                    .any(|request| request.step == index) =>
            {
                let approvers = if step.approvers.is_empty() {
                    playbook.approvers.clone()
                } else {
                    step.approvers.clone()
                };
                let (recipients, _) = recipients(rules, &approvers, at, &[]);
                actions.push(Action::RequestApproval {
                    key: format!("approval:{index}:{}", step.action.as_str()),
                    at,
                    step: index,
                    action: step.action,
                    approvers,
                    recipients,
                });
            }
            _ => {}
        }
    }
}
