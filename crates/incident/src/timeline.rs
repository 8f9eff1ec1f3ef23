//! The incident's timeline: every event and action, with who and when, in
//! the order it was recorded. Append-only: there is no way to change or
//! remove an entry, only to add one.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The incident was opened (detected or reported by a person).
    Opened,
    /// A signal joined the incident.
    Signal,
    /// Tampered content started being served, or a site went down.
    ExposureStarted,
    /// An exposure ended (contained or restored).
    ExposureEnded,
    /// The state changed.
    StateChanged,
    /// A level was decided.
    LevelDecided,
    /// Someone acknowledged the incident.
    Acknowledged,
    /// A report went out.
    ReportSent,
    /// Approval of a playbook step was asked for.
    ApprovalRequested,
    /// An approval request was answered.
    ApprovalAnswered,
    /// The incident was marked a false alarm.
    FalseAlarm,
    /// An outage was confirmed as an attack.
    AttackConfirmed,
    /// A person reached an outside authority on a call/fax task.
    ContactReached,
    /// The runner carried out an action (a notification handed to the
    /// outbox, a step run, a task created).
    ActionDone,
    /// A free note.
    Note,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it: a person's name, or a component ("probe", "guard",
    /// "sitewarden").
    pub actor: String,
    /// What happened.
    pub kind: EventKind,
    /// The details, in words.
    pub detail: String,
}

/// The append-only list of events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timeline(Vec<TimelineEvent>);

impl Timeline {
    /// Adds an event at the end.
    pub fn append(&mut self, event: TimelineEvent) {
        self.0.push(event);
    }

    /// The events, in the order they were recorded.
    pub fn events(&self) -> &[TimelineEvent] {
        &self.0
    }

    /// How many events there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
