//! The pure incident model: what a signal is, how the national guidelines
//! classify it, and how signals on one site fold into one open incident.
//!
//! This crate does no I/O and reads no clock: times are passed in as Unix
//! milliseconds. The store applies the decisions made here inside its
//! transactions; the incident engine (levels, clocks, escalation) builds on
//! these types later.

pub mod classification;
pub mod fold;
pub mod model;

pub use classification::{Classification, classify};
pub use fold::{FoldDecision, fold};
pub use model::{IncidentState, OpenIncident, Signal, SignalKind, SignalSource};
