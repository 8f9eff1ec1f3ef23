//! The incident state machine as a pure transition function (PLAN §4–§8):
//! detected → contained → reported → assessed → recovering → recovered →
//! reviewed → closed.
//!
//! Steps may be skipped forward (a site recovered before anyone reported;
//! the probe marks recovery from any open state), never taken backward.
//! Review needs recovery, and closing needs the review (the investigation
//! and assessment report, PLAN §8) — except for drills and false alarms,
//! which may close from any state.

use crate::model::IncidentState;
use serde::Serialize;

/// Why a transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum TransitionError {
    /// The incident is already in that state.
    #[error("the incident is already {}", state.as_str())]
    AlreadyThere {
        /// The state.
        state: IncidentState,
    },
    /// The incident is closed: nothing moves it any more.
    #[error("the incident is closed")]
    Closed,
    /// States only move forward.
    #[error("cannot go back from {} to {}", from.as_str(), to.as_str())]
    Backward {
        /// Where it is.
        from: IncidentState,
        /// Where it was asked to go.
        to: IncidentState,
    },
    /// The review comes after recovery.
    #[error("cannot review an incident that is {}: recover it first", from.as_str())]
    NotRecovered {
        /// Where it is.
        from: IncidentState,
    },
    /// Closing comes after the review, except for drills and false alarms.
    #[error(
        "cannot close an incident that is {}: write the review first (drills and false alarms may close at once)",
        from.as_str()
    )]
    NotReviewed {
        /// Where it is.
        from: IncidentState,
    },
}

/// The incident's flags that change what transitions are allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// A drill (演练).
    pub drill: bool,
    /// Marked a false alarm.
    pub false_alarm: bool,
}

fn position(state: IncidentState) -> usize {
    IncidentState::ALL
        .iter()
        .position(|known| *known == state)
        .unwrap_or(0)
}

/// The state after moving `from` to `to`, or why not.
pub fn transition(
    from: IncidentState,
    to: IncidentState,
    flags: Flags,
) -> Result<IncidentState, TransitionError> {
    use IncidentState::*;
    if from == Closed {
        return Err(TransitionError::Closed);
    }
    if from == to {
        return Err(TransitionError::AlreadyThere { state: from });
    }
    if position(to) < position(from) {
        return Err(TransitionError::Backward { from, to });
    }
    match to {
        Reviewed if from != Recovered => Err(TransitionError::NotRecovered { from }),
        Closed if from != Reviewed && !flags.drill && !flags.false_alarm => {
            Err(TransitionError::NotReviewed { from })
        }
        _ => Ok(to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentState::*;

    const REAL: Flags = Flags {
        drill: false,
        false_alarm: false,
    };
    const DRILL: Flags = Flags {
        drill: true,
        false_alarm: false,
    };
    const FALSE_ALARM: Flags = Flags {
        drill: false,
        false_alarm: true,
    };

    fn check(
        from: IncidentState,
        to: IncidentState,
        flags: Flags,
        expected: Result<IncidentState, TransitionError>,
    ) {
        assert_eq!(
            transition(from, to, flags),
            expected,
            "{from:?} → {to:?} {flags:?}"
        );
    }

    #[test]
    fn the_procedure_moves_forward_only() {
        // The whole procedure, one step at a time.
        for pair in IncidentState::ALL.windows(2) {
            check(pair[0], pair[1], REAL, Ok(pair[1]));
        }
        // Skipping forward: reported before contained is refused only going back.
        check(Detected, Reported, REAL, Ok(Reported));
        check(Detected, Recovered, REAL, Ok(Recovered));
        check(Assessed, Recovered, REAL, Ok(Recovered));
        check(
            Reported,
            Contained,
            REAL,
            Err(TransitionError::Backward {
                from: Reported,
                to: Contained,
            }),
        );
        check(
            Recovered,
            Recovering,
            REAL,
            Err(TransitionError::Backward {
                from: Recovered,
                to: Recovering,
            }),
        );
        check(
            Contained,
            Contained,
            REAL,
            Err(TransitionError::AlreadyThere { state: Contained }),
        );
        check(Closed, Reviewed, REAL, Err(TransitionError::Closed));
        check(Closed, Closed, DRILL, Err(TransitionError::Closed));
    }

    #[test]
    fn review_needs_recovery_and_closing_needs_review() {
        check(
            Assessed,
            Reviewed,
            REAL,
            Err(TransitionError::NotRecovered { from: Assessed }),
        );
        check(
            Recovered,
            Closed,
            REAL,
            Err(TransitionError::NotReviewed { from: Recovered }),
        );
        check(
            Detected,
            Closed,
            REAL,
            Err(TransitionError::NotReviewed { from: Detected }),
        );
        check(Reviewed, Closed, REAL, Ok(Closed));
        // Drills and false alarms close from anywhere.
        check(Detected, Closed, DRILL, Ok(Closed));
        check(Contained, Closed, FALSE_ALARM, Ok(Closed));
        // But a review still needs recovery.
        check(
            Detected,
            Reviewed,
            DRILL,
            Err(TransitionError::NotRecovered { from: Detected }),
        );
    }

    #[test]
    fn errors_read_clearly() {
        assert_eq!(
            transition(Recovered, Closed, REAL).unwrap_err().to_string(),
            "cannot close an incident that is recovered: write the review first (drills and false alarms may close at once)"
        );
        assert_eq!(
            transition(Reported, Detected, REAL)
                .unwrap_err()
                .to_string(),
            "cannot go back from reported to detected"
        );
    }
}
