//! Up and down: consecutive failed checks make a page down, the first good
//! check after that makes it up again. Pure.

/// A page's availability as the monitor tracks it between checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageHealth {
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// Whether the page currently counts as down.
    pub down: bool,
}

/// What one check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    /// Nothing changed state.
    None,
    /// This failure reached the limit: the page is now down.
    WentDown,
    /// The page answered again after being down.
    CameBack,
}

impl PageHealth {
    /// Folds one check's outcome in. `limit` is the plan's
    /// `down_after_failures` (at least 1).
    pub fn observe(&mut self, success: bool, limit: u32) -> HealthChange {
        if success {
            self.consecutive_failures = 0;
            if std::mem::replace(&mut self.down, false) {
                return HealthChange::CameBack;
            }
            return HealthChange::None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if !self.down && self.consecutive_failures >= limit.max(1) {
            self.down = true;
            return HealthChange::WentDown;
        }
        HealthChange::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcomes: &[bool], limit: u32, expected: &[HealthChange]) {
        let mut health = PageHealth::default();
        let actual: Vec<_> = outcomes
            .iter()
            .map(|ok| health.observe(*ok, limit))
            .collect();
        assert_eq!(actual, expected, "outcomes {outcomes:?} limit {limit}");
    }

    #[test]
    fn consecutive_failures_make_a_page_down() {
        use HealthChange::*;
        check(&[true, true], 2, &[None, None]);
        check(&[false, true, false, true], 2, &[None, None, None, None]);
        check(
            &[false, false, false, true],
            2,
            &[None, WentDown, None, CameBack],
        );
        check(&[false, true], 1, &[WentDown, CameBack]);
        check(&[false], 0, &[WentDown]);
    }
}
