//! The tick: for every active incident, the actions the engine says are
//! due, carried out and recorded as done.

use crate::channels::channels_from_plan;
use crate::containment::{ContainmentError, SwitchRequest, switch_site};
use crate::messages::{contained_in_force, render};
use jiff::Timestamp;
use sitewarden_contain::SiteState;
use sitewarden_incident::time::human_duration;
use sitewarden_incident::{Action, Command, Incident, Recipient, Rules, due_actions};
use sitewarden_livewatch::forensics;
use sitewarden_notify::{Dispatcher, RetryPolicy};
use sitewarden_plan::{ChannelKind, Plan, PlaybookAction};
use sitewarden_store::{ApplyError, NewMessage, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One action the runner carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedOut {
    /// The incident.
    pub incident_id: i64,
    /// The action's key.
    pub key: String,
    /// What was done, as recorded in the timeline.
    pub detail: String,
    /// How many messages went to the outbox.
    pub messages: usize,
}

/// Why the runner cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The plan cannot be resolved.
    #[error(transparent)]
    Rules(#[from] sitewarden_incident::RulesError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Carries out the engine's due actions. Clone is cheap.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    plan: Arc<Plan>,
    dispatcher: Dispatcher,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over a store opened with the plan. Returns the channel
    /// problems (a secret missing from the environment) beside it: the
    /// other channels still work.
    pub fn new(store: Store, plan: Arc<Plan>) -> Result<(Runner, Vec<String>), RunnerError> {
        Rules::new(&plan)?;
        let (channels, problems) = channels_from_plan(&plan);
        let dispatcher = Dispatcher::new(store.clone(), channels, RetryPolicy::default());
        Ok((
            Runner {
                store,
                plan,
                dispatcher,
                wake: Arc::new(Notify::new()),
            },
            problems,
        ))
    }

    /// The dispatcher sending the outbox.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Ticks at once (call after a new signal), instead of at the next second.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the ticks and the dispatcher until cancelled.
    pub async fn run(&self, cancel: CancellationToken) {
        let dispatcher = self.dispatcher.clone();
        let dispatcher_cancel = cancel.clone();
        let dispatching = tokio::spawn(async move { dispatcher.run(dispatcher_cancel).await });
        loop {
            if let Err(error) = self.tick(Timestamp::now()).await {
                tracing::warn!("incident runner: {error}");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        let _ = dispatching.await;
    }

    /// One tick at `now`: every due action of every active incident.
    pub async fn tick(&self, now: Timestamp) -> Result<Vec<CarriedOut>, RunnerError> {
        let rules = Rules::new(&self.plan)?;
        let mut done = Vec::new();
        for incident in self.store.active_engine_incidents().await? {
            for action in due_actions(&rules, &incident, now) {
                done.push(self.carry_out(&rules, &incident, &action, now).await?);
            }
        }
        if done.iter().any(|carried| carried.messages > 0) {
            self.dispatcher.wake();
        }
        Ok(done)
    }

    async fn carry_out(
        &self,
        rules: &Rules<'_>,
        incident: &Incident,
        action: &Action,
        now: Timestamp,
    ) -> Result<CarriedOut, RunnerError> {
        // Told when the automatic cut-off was not in force: the duty
        // officers on duty, who must cut the site off by hand at once.
        let cut_off_by_hand: Vec<Recipient>;
        let (recipients, mut detail): (Vec<&Recipient>, String) = match action {
            Action::Reminder {
                recipients, clock, ..
            } => (
                recipients.iter().collect(),
                format!("reminded of the {}", clock.as_str()),
            ),
            Action::Escalate {
                recipients,
                clock,
                missed_by_seconds,
                ..
            } => (
                recipients.iter().collect(),
                format!(
                    "escalated: {} missed by {}",
                    clock.as_str(),
                    human_duration(*missed_by_seconds)
                ),
            ),
            Action::Notify {
                recipients,
                chain,
                step,
                unstaffed_roles,
                ..
            } => {
                let mut detail = format!("chain {chain} step {}", step + 1);
                if !unstaffed_roles.is_empty() {
                    let roles: Vec<_> = unstaffed_roles.iter().map(|role| role.as_str()).collect();
                    detail.push_str(&format!(
                        "; nobody in the roster holds {}",
                        roles.join(", ")
                    ));
                }
                (recipients.iter().collect(), detail)
            }
            Action::CallTask {
                assignees,
                name,
                phone,
                fax,
                ..
            } => (
                assignees.iter().collect(),
                format!(
                    "task: call {name}{}{}",
                    phone
                        .as_deref()
                        .map(|phone| format!(" on {phone}"))
                        .unwrap_or_default(),
                    fax.as_deref()
                        .map(|fax| format!(", then fax {fax}"))
                        .unwrap_or_default()
                ),
            ),
            Action::RequestApproval {
                recipients,
                step,
                action: step_action,
                ..
            } => {
                self.apply(incident.id, Command::RequestApproval { step: *step }, now)
                    .await?;
                (
                    recipients.iter().collect(),
                    format!("approval asked for {}", step_action.as_str()),
                )
            }
            Action::HandOver { to, from, .. } => (
                to.iter().collect(),
                format!("handed over from {}", from.join(", ")),
            ),
            Action::RunStep {
                action: step_action,
                sites,
                ..
            } => {
                let detail = self.run_step(incident, *step_action, sites, now).await?;
                cut_off_by_hand =
                    if *step_action == PlaybookAction::Contain && !contained_in_force(&detail) {
                        sitewarden_incident::recipients(
                            rules,
                            &[sitewarden_plan::Role::DutyOfficer],
                            now,
                            &[],
                        )
                        .0
                    } else {
                        Vec::new()
                    };
                (cut_off_by_hand.iter().collect(), detail)
            }
        };

        let created_at = Timestamp::now().as_millisecond();
        let mut messages = 0;
        let mut unreachable = Vec::new();
        for recipient in recipients {
            for channel_id in &recipient.channels {
                let Some(address) = self.address(channel_id, recipient) else {
                    unreachable.push(format!("{} on {channel_id}", recipient.name));
                    continue;
                };
                // Per person: an approval request names them in its command.
                let rendered = render(rules, incident, action, now, Some(&recipient.name));
                let message = NewMessage {
                    id: format!(
                        "incident-{}/{}/{channel_id}/{}",
                        incident.id,
                        action.key(),
                        recipient.name
                    ),
                    incident_id: Some(incident.id),
                    channel: channel_id.clone(),
                    recipient: address,
                    subject: rendered.subject,
                    body: rendered.body,
                    created_at,
                };
                if self.store.enqueue_message(&message).await? {
                    messages += 1;
                }
            }
        }
        if messages > 0 {
            detail.push_str(&format!("; {messages} message(s) to the outbox"));
        }
        if !unreachable.is_empty() {
            detail.push_str(&format!("; no address for {}", unreachable.join(", ")));
        }
        self.apply(
            incident.id,
            Command::ActionDone {
                key: action.key().to_string(),
                detail: detail.clone(),
            },
            now,
        )
        .await?;
        Ok(CarriedOut {
            incident_id: incident.id,
            key: action.key().to_string(),
            detail,
            messages,
        })
    }

    /// The recipient's address on a channel: e-mail address, phone number
    /// (SMS, and the robots' @mention), or the name (webhook).
    fn address(&self, channel_id: &str, recipient: &Recipient) -> Option<Option<String>> {
        let kind = self
            .plan
            .channels
            .iter()
            .find(|channel| channel.id == channel_id)?
            .kind;
        Some(match kind {
            ChannelKind::Email => Some(recipient.email.clone()?),
            ChannelKind::Sms | ChannelKind::Dingtalk | ChannelKind::Wecom | ChannelKind::Feishu => {
                Some(recipient.phone.clone())
            }
            ChannelKind::Webhook => Some(recipient.name.clone()),
        })
    }

    /// Carries out an automatic playbook step for `sites`, returning what
    /// was done.
    async fn run_step(
        &self,
        incident: &Incident,
        action: PlaybookAction,
        sites: &[String],
        now: Timestamp,
    ) -> Result<String, RunnerError> {
        let to = match action {
            PlaybookAction::Contain => SiteState::Maintenance,
            PlaybookAction::ReopenSite => SiteState::Serving,
            PlaybookAction::PreserveEvidence => {
                let done = self.preserve_evidence(incident, sites).await?;
                return Ok(format!(
                    "{} ({}): {done}",
                    action.as_str(),
                    action.name_zh()
                ));
            }
            PlaybookAction::BlockOffenders => {
                let done = crate::offenders::block_offenders(
                    &self.store,
                    &self.plan,
                    incident,
                    sites,
                    now,
                )
                .await?;
                return Ok(format!(
                    "{} ({}): {done}",
                    action.as_str(),
                    action.name_zh()
                ));
            }
            PlaybookAction::RestorePages => {
                // The commander's instruction to restore is where recovery
                // begins (恢复中); the probe or a person marks it recovered.
                self.apply(
                    incident.id,
                    Command::Transition {
                        to: sitewarden_incident::IncidentState::Recovering,
                    },
                    now,
                )
                .await?;
                return Ok(step_detail(action, incident.id));
            }
            other => return Ok(step_detail(other, incident.id)),
        };
        // A switch in force is told to the site's open incidents by
        // `switch_site` (Command::CutOff / Reopen): this one among them.
        let mut lines = Vec::new();
        for site in sites {
            let request = SwitchRequest {
                site: site.clone(),
                to,
                reason: format!("incident #{}: {}", incident.id, incident.title),
                by: "sitewarden (playbook)".into(),
            };
            match switch_site(&self.store, Some(&self.plan), &request).await {
                Ok(outcome) if outcome.in_force => {
                    lines.push(format!("{site}: {} — {}", outcome.backend, outcome.detail));
                }
                Ok(outcome) => lines.push(format!("{site}: NOT in force — {}", outcome.detail)),
                Err(ContainmentError::Store(error)) => return Err(RunnerError::Store(error)),
                Err(error) => lines.push(format!("{site}: FAILED — {error}; do it by hand")),
            }
        }
        Ok(format!(
            "{} ({}): {}",
            action.as_str(),
            action.name_zh(),
            lines.join("; ")
        ))
    }

    /// The detector's evidence is already stored with its signal; what
    /// this step adds is the access-log timeline of the incident's sites,
    /// an hour either side of the discovery — read in the background (a
    /// large log must not hold up the rest of the plan) and attached when
    /// read.
    async fn preserve_evidence(
        &self,
        incident: &Incident,
        sites: &[String],
    ) -> Result<String, RunnerError> {
        let stored = self.store.incident_evidence(incident.id).await?.len();
        let mut parts = vec![if stored == 0 {
            format!("{NO_EVIDENCE} (a person's report): collect screenshots and files by hand")
        } else {
            format!(
                "{stored} item(s) of evidence kept with the detection, hash-chained \
                 (`sitewarden evidence verify` checks them)"
            )
        }];
        for site in sites {
            let logs = forensics::site_logs(&self.plan, self.store.data_dir(), site);
            if logs.is_empty() {
                parts.push(format!("no access log of {site} to read"));
                continue;
            }
            parts.push(format!(
                "the access-log timeline of {site} is read from {} log(s) and attached as evidence",
                logs.len()
            ));
            let (store, plan, site) = (self.store.clone(), self.plan.clone(), site.clone());
            let (id, around) = (incident.id, incident.discovered_at.as_millisecond());
            tokio::spawn(async move {
                let result = forensics::attach_site_timeline(
                    &store,
                    &plan,
                    id,
                    &site,
                    around,
                    TIMELINE_WINDOW_MS,
                    "sitewarden (playbook)",
                )
                .await;
                match result {
                    Ok(done) => tracing::info!("incident #{id}: {done}"),
                    Err(problem) => tracing::warn!("incident #{id}: {site}: {problem}"),
                }
            });
        }
        Ok(parts.join("; "))
    }

    async fn apply(&self, id: i64, command: Command, now: Timestamp) -> Result<(), RunnerError> {
        match self
            .store
            .apply_command(id, command, "sitewarden", now)
            .await
        {
            Ok(_) => Ok(()),
            Err(ApplyError::Store(error)) => Err(RunnerError::Store(error)),
            // Refused (already asked, closed meanwhile): nothing to do.
            Err(error) => {
                tracing::info!("incident #{id}: {error}");
                Ok(())
            }
        }
    }
}

/// What the preserve step records when the detection brought no evidence
/// (the messages say so rather than "evidence preserved").
pub(crate) const NO_EVIDENCE: &str = "no evidence came with the detection";

/// How far either side of an incident's discovery its access-log
/// timeline reaches.
const TIMELINE_WINDOW_MS: i64 = 60 * 60_000;

/// What a playbook step with no backend of its own amounts to: what the
/// detector already did, or — for a step a commander approved — what the
/// people carrying it out do, with the command that records it.
fn step_detail(action: PlaybookAction, incident: i64) -> String {
    let what = match action {
        PlaybookAction::Notify => return "people notified through the escalation chain".into(),
        PlaybookAction::RestorePages => format!(
            "put the approved pages back: a guarded web root is repaired by the guard itself \
             (`sitewarden guard verify` confirms it); otherwise restore from the backup, then \
             `sitewarden check --once` must show the pages clean; record it with \
             `sitewarden incident note {incident} --text …`"
        ),
        PlaybookAction::RemoveWebShell => format!(
            "remove the web shell (a guarded web root quarantines new scripts by itself; \
             elsewhere copy it as evidence first), then record it with \
             `sitewarden incident note {incident} --text …`"
        ),
        PlaybookAction::ReportUpward => format!(
            "report upward as instructed and record it with \
             `sitewarden incident report {incident} --kind …`"
        ),
        _ => format!(
            "carry it out by hand and record it with `sitewarden incident note {incident} --text …`"
        ),
    };
    format!("{} ({}): {what}", action.as_str(), action.name_zh())
}
