//! The pure incident engine: what a signal is, how the national guidelines
//! classify it, how signals on one site fold into one open incident, and
//! how an incident runs the plan — its exposure, suggested and decided
//! level, state machine, timeline, clocks, escalation, duty schedule and
//! playbook.
//!
//! This crate does no I/O and reads no clock: times are passed in (Unix
//! milliseconds for signals, `jiff::Timestamp` in the engine), and the
//! time zone database is the one compiled into the binary. The store
//! persists what is decided here; a runner calls [`due_actions`] on each
//! tick and carries the actions out.
//!
//! The modules, one concern each: `model` (signals, states), `fold`,
//! `classification` (the 2007 mapping the store records) and `standards`
//! (both national tables), `exposure`, `level`, `state`, `timeline`,
//! `incident` (the aggregate and its commands), `rules` (the plan resolved),
//! `clocks`, `duty`, `playbook`, `actions`, `time`.

pub mod actions;
pub mod classification;
pub mod clocks;
pub mod duty;
pub mod exposure;
pub mod fold;
pub mod incident;
pub mod level;
pub mod model;
pub mod playbook;
pub mod rules;
pub mod standards;
pub mod state;
pub mod time;
pub mod timeline;

pub use actions::{
    Action, CallTaskStatus, Recipient, call_tasks, chain_for, due_actions, recipients,
};
pub use classification::{Classification, classify};
pub use clocks::{Clock, ClockName, ClockStatus, clocks};
pub use duty::{CalendarDays, HandOver, hand_overs, on_duty, people_day, shifts_at, staffed_as};
pub use exposure::{CutOff, EndBasis, ExposureKind, ExposureStart, PageExposure, StartBasis};
pub use fold::{FoldDecision, fold};
pub use incident::{
    Acknowledgement, Command, CommandError, ContactReached, Incident, LevelDecision, ReportKind,
    ReportRecord, SituationChange,
};
pub use level::{LevelReason, Suggestion, effective_level, suggest_level};
pub use model::{IncidentState, OpenIncident, Signal, SignalKind, SignalSource};
pub use playbook::{ApprovalAnswer, ApprovalError, ApprovalRequest, StepStatus, steps};
pub use rules::{Rules, RulesError};
pub use standards::{Classifications, Standard, Subcategory, classify_both};
pub use state::{Flags, TransitionError, transition};
pub use time::{time_zone, timestamp_from_ms};
pub use timeline::{EventKind, Timeline, TimelineEvent};
