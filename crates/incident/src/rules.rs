//! The plan, resolved for the engine: the time zone looked up in the
//! bundled database, the daily report time parsed, the levels in order,
//! the duty calendar's days read.
//! Built once per plan load (raw config → resolved config, as ripgrep's
//! `LowArgs` → `HiArgs`); every engine function takes it.
//!
//! A plan that passed `check-plan` always resolves; `Rules::new` still
//! refuses what it cannot use rather than guess.

use crate::duty::{CalendarDays, UnreadableCalendarEntry, resolve_calendar};
use crate::time::{UnknownTimeZone, time_zone};
use jiff::tz::TimeZone;
use sitewarden_plan::{Importance, Plan, Site, SiteTier};

/// Why a plan cannot drive the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// `organisation.timezone` is not in the bundled database.
    #[error("organisation.timezone: {0}")]
    TimeZone(#[from] UnknownTimeZone),
    /// `deadlines.daily_report_time` is not "HH:MM".
    #[error("deadlines.daily_report_time: {0:?} is not \"HH:MM\"")]
    DailyReportTime(String),
    /// The plan has no levels.
    #[error("levels: the plan has no levels")]
    NoLevels,
    /// A duty calendar entry's days are not dates.
    #[error(transparent)]
    DutyCalendar(#[from] UnreadableCalendarEntry),
}

/// The plan as the engine uses it.
#[derive(Debug, Clone)]
pub struct Rules<'p> {
    /// The validated plan.
    pub plan: &'p Plan,
    /// The organisation's time zone.
    pub time_zone: TimeZone,
    /// The daily report's local hour and minute.
    pub daily_report_time: (i8, i8),
    /// The duty calendar with its days read, in the plan's order.
    pub calendar: Vec<CalendarDays<'p>>,
}

impl<'p> Rules<'p> {
    /// Resolves `plan` for the engine.
    pub fn new(plan: &'p Plan) -> Result<Rules<'p>, RulesError> {
        let time_zone = time_zone(&plan.organisation.timezone)?;
        let daily_report_time = parse_hh_mm(&plan.deadlines.daily_report_time)
            .ok_or_else(|| RulesError::DailyReportTime(plan.deadlines.daily_report_time.clone()))?;
        if plan.levels.is_empty() {
            return Err(RulesError::NoLevels);
        }
        let calendar = resolve_calendar(plan)?;
        Ok(Rules {
            plan,
            time_zone,
            daily_report_time,
            calendar,
        })
    }

    /// The level's rank: 0 for the most serious. Unknown ids rank after
    /// every known level, so they never count as serious.
    pub fn rank(&self, level: &str) -> usize {
        self.plan.level_rank(level).unwrap_or(usize::MAX)
    }

    /// Whether `level` is `threshold` or more serious. An unknown
    /// threshold is never reached.
    pub fn at_least(&self, level: &str, threshold: &str) -> bool {
        match self.plan.level_rank(threshold) {
            Some(threshold) => self.rank(level) <= threshold,
            None => false,
        }
    }

    /// The least serious level (the suggestion when nothing is met).
    pub fn least_serious_level(&self) -> &'p str {
        self.plan
            .levels
            .last()
            .map_or("", |level| level.id.as_str())
    }

    /// Whether `level` gets progress and daily reports (PLAN §4).
    pub fn is_serious(&self, level: &str) -> bool {
        self.plan
            .deadlines
            .serious_levels
            .iter()
            .any(|serious| serious == level)
    }

    /// The site's importance and tier; an unknown site (removed from the
    /// plan since) counts as an ordinary one.
    pub fn site_facts(&self, name: &str) -> (Importance, SiteTier) {
        self.plan
            .site(name)
            .map_or((Importance::General, SiteTier::Other), |site: &Site| {
                (site.importance, site.tier)
            })
    }

    /// Whether `page` of `site` is a home page in the plan; a page the
    /// plan does not list counts as another page.
    pub fn is_home_page(&self, site: &str, page: &str) -> bool {
        self.plan
            .site(site)
            .and_then(|site| site.pages.iter().find(|known| known.name == page))
            .is_some_and(|page| page.home)
    }
}

/// "HH:MM" → (hour, minute).
pub(crate) fn parse_hh_mm(text: &str) -> Option<(i8, i8)> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let hours: i8 = hours.parse().ok()?;
    let minutes: i8 = minutes.parse().ok()?;
    (hours < 24 && minutes < 60).then_some((hours, minutes))
}
