//! The incident engine's runner.
//!
//! The engine (`sitewarden-incident`) is pure: it says which actions are
//! due for an incident at a time. The runner ticks once a second over the
//! active incidents, carries each due action out — messages written to the
//! outbox for the dispatcher, a call/fax task for a person, a playbook step
//! — and records `ActionDone` with what was done, so an action is carried
//! out once, even across restarts.
//!
//! It never decides anything the engine did not say, and it never sends a
//! message itself: that is `sitewarden-notify`'s job.

mod channels;
pub mod containment;
mod messages;
mod offenders;
mod runner;

pub use channels::channels_from_plan;
pub use containment::{ContainmentError, SwitchOutcome, SwitchRequest, switch_site};
pub use messages::{Rendered, render};
pub use runner::{CarriedOut, Runner};
