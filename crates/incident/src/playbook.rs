//! Playbooks (PLAN §5, §7): per incident kind, which steps sitewarden runs
//! at once, which wait for a commander's instruction (先报告，听指令), and
//! which are a person's task; approval requests as data — who may approve,
//! when it was asked and answered.

use crate::incident::Incident;
use crate::rules::Rules;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sitewarden_plan::{Playbook, PlaybookAction, Role, StepMode};

/// Why an approval could not be asked for or given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The kind has no playbook, or the playbook no such step.
    #[error("the {kind} playbook has no step {step}")]
    NoSuchStep {
        /// The incident kind.
        kind: String,
        /// The step index asked for.
        step: usize,
    },
    /// The step runs by itself or is a task: nothing to approve.
    #[error("step {step} ({action}) does not wait for approval")]
    NotAnApprovalStep {
        /// The step index.
        step: usize,
        /// Its action.
        action: &'static str,
    },
    /// Approval for that step was already asked and not yet answered.
    #[error("approval for step {step} is already waiting (request {request})")]
    AlreadyAsked {
        /// The step index.
        step: usize,
        /// The waiting request.
        request: usize,
    },
    /// No request with that index.
    #[error("no approval request {request}")]
    UnknownRequest {
        /// The index asked for.
        request: usize,
    },
    /// The request was answered already.
    #[error("approval for step {step} was already answered by {by}")]
    AlreadyAnswered {
        /// The step the request is for.
        step: usize,
        /// Who answered.
        by: String,
    },
    /// The person holds none of the approving roles.
    #[error("{by} may not approve {action}: only {allowed} may")]
    NotAnApprover {
        /// Who tried.
        by: String,
        /// The step's action.
        action: &'static str,
        /// The roles that may.
        allowed: String,
    },
}

/// An answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalAnswer {
    /// Yes or no.
    pub approved: bool,
    /// Who answered.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// The instruction given with it.
    pub note: String,
}

/// A playbook step waiting for (or given) a commander's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The step's index in the kind's playbook.
    pub step: usize,
    /// What the step does.
    pub action: PlaybookAction,
    /// Who may approve.
    pub approvers: Vec<Role>,
    /// Who asked.
    pub asked_by: String,
    /// When.
    pub asked_at: Timestamp,
    /// The answer, once given.
    pub answer: Option<ApprovalAnswer>,
}

/// The playbook for the incident's kind: the plan's, else the shipped one.
pub fn playbook_for<'p>(rules: &Rules<'p>, incident: &Incident) -> Option<&'p Playbook> {
    Some(rules.plan.playbook(incident.kind.plan_kind()))
}

/// Where one playbook step stands on an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepStatus {
    /// The step's index.
    pub step: usize,
    /// What it does.
    pub action: PlaybookAction,
    /// How it is carried out.
    pub mode: StepMode,
    /// Who may approve it (approval steps).
    pub approvers: Vec<Role>,
    /// `pending`, `done`, `waiting_approval`, `approved`, `refused`, `task`.
    pub status: &'static str,
}

/// Every step of the incident's playbook with where it stands.
pub fn steps(rules: &Rules<'_>, incident: &Incident) -> Vec<StepStatus> {
    let Some(playbook) = playbook_for(rules, incident) else {
        return Vec::new();
    };
    playbook
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let status = match step.mode {
                StepMode::Automatic
                    if incident
                        .actions_done
                        .contains(&step_key(index, step.action)) =>
                {
                    "done"
                }
                StepMode::Automatic => "pending",
                StepMode::Manual => "task",
                StepMode::Approval => match incident
                    .approvals
                    .iter()
                    .rev()
                    .find(|request| request.step == index)
                {
                    None => "pending",
                    Some(ApprovalRequest { answer: None, .. }) => "waiting_approval",
                    Some(ApprovalRequest {
                        answer: Some(answer),
                        ..
                    }) if answer.approved => "approved",
                    Some(_) => "refused",
                },
            };
            StepStatus {
                step: index,
                action: step.action,
                mode: step.mode,
                approvers: approvers_of(playbook, index),
                status,
            }
        })
        .collect()
}

/// The action key of an automatic step (see `actions`).
pub fn step_key(index: usize, action: PlaybookAction) -> String {
    format!("step:{index}:{}", action.as_str())
}

fn approvers_of(playbook: &Playbook, index: usize) -> Vec<Role> {
    match playbook.steps.get(index) {
        Some(step) if !step.approvers.is_empty() => step.approvers.clone(),
        _ => playbook.approvers.clone(),
    }
}

impl ApprovalRequest {
    /// A request for step `step` of the incident's playbook, or why not.
    pub fn for_step(
        rules: &Rules<'_>,
        incident: &Incident,
        step: usize,
        asked_by: &str,
        asked_at: Timestamp,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let no_such_step = || ApprovalError::NoSuchStep {
            kind: incident.kind.to_string(),
            step,
        };
        let playbook = playbook_for(rules, incident).ok_or_else(no_such_step)?;
        let definition = playbook.steps.get(step).ok_or_else(no_such_step)?;
        if definition.mode != StepMode::Approval {
            return Err(ApprovalError::NotAnApprovalStep {
                step,
                action: definition.action.as_str(),
            });
        }
        if let Some(request) = incident
            .approvals
            .iter()
            .position(|request| request.step == step && request.answer.is_none())
        {
            return Err(ApprovalError::AlreadyAsked { step, request });
        }
        Ok(ApprovalRequest {
            step,
            action: definition.action,
            approvers: approvers_of(playbook, step),
            asked_by: asked_by.to_owned(),
            asked_at,
            answer: None,
        })
    }

    /// Records `answer` from a person holding `roles`, or refuses without
    /// changing anything.
    pub(crate) fn answer_with(
        &mut self,
        answer: ApprovalAnswer,
        roles: &[Role],
    ) -> Result<(), ApprovalError> {
        if let Some(given) = &self.answer {
            return Err(ApprovalError::AlreadyAnswered {
                step: self.step,
                by: given.by.clone(),
            });
        }
        if !roles.iter().any(|role| self.approvers.contains(role)) {
            return Err(ApprovalError::NotAnApprover {
                by: answer.by,
                action: self.action.as_str(),
                allowed: self
                    .approvers
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        self.answer = Some(answer);
        Ok(())
    }
}
