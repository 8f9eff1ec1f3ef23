//! The duty schedule: who is on duty at a moment, and the hand-overs
//! between two moments, reckoned in the organisation's time zone.
//!
//! A shift covers [start, end) local time on the days it starts on; an end
//! earlier than its start runs into the next day. Where shifts overlap,
//! everyone on any of them is on duty; where none covers a moment, every
//! roster member with the `duty_officer` role is, so that someone is
//! always called.
//!
//! The duty calendar (`[[duty.calendar]]`) changes which shifts start on a
//! day, never how a shift already running ends:
//!
//! - A `like` day (a public holiday `like = "sun"`, a make-up working day
//!   调休 `like = "mon"`) starts the shifts whose `days` name that weekday
//!   instead of those naming its own. Shifts with no `days` start on every
//!   day, calendar or not.
//! - A `people` day (节假日值班表) has its people on duty from 00:00 to
//!   24:00 local, and no shift starts on it: a night shift that would have
//!   started that evening is replaced whole, including its hours after
//!   midnight. A shift that started the day before still runs to its end,
//!   its people on duty beside the day's (and called before them: they are
//!   the ones awake on a shift). So at the day's first midnight the day's
//!   people join whoever is on; at its last midnight they go off, and the
//!   next day's early hours are covered by what starts on that day — when
//!   nothing does (the shift that would have covered them started on the
//!   people day and was replaced), every duty officer is on duty then, as
//!   at any uncovered time.
//! - A `people` day inside a `like` run takes the day: its people replace
//!   the shifts, so the `like` changes nothing on it.
//!
//! Days are local civil dates: a people day is the local date, whatever the
//! time zone's offset does that day.
//!
//! This module does not judge the plan: validation refuses calendar entries
//! that contradict each other; were any left, the first in the file wins.

use crate::rules::{Rules, parse_hh_mm};
use crate::time::plus_minutes;
use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};
use serde::Serialize;
use sitewarden_plan::{CalendarDate, CalendarEntry, Person, Plan, Role, Shift, Weekday};

/// One `[[duty.calendar]]` entry with its days read, as [`Rules`] holds it.
#[derive(Debug, Clone)]
pub struct CalendarDays<'p> {
    /// The entry's position in `duty.calendar`.
    pub index: usize,
    /// The first day it covers.
    pub first: Date,
    /// The last day it covers (inclusive).
    pub last: Date,
    /// The entry itself.
    pub entry: &'p CalendarEntry,
}

impl CalendarDays<'_> {
    fn contains(&self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }
}

/// A calendar entry whose days cannot be read (a plan that did not pass
/// validation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duty.calendar[{index}]: no date, or from and to, that is a day of the calendar")]
pub struct UnreadableCalendarEntry {
    /// The entry's position in `duty.calendar`.
    pub index: usize,
}

/// The plan's duty calendar with its days read, in the file's order.
pub(crate) fn resolve_calendar(
    plan: &Plan,
) -> Result<Vec<CalendarDays<'_>>, UnreadableCalendarEntry> {
    let date = |day: CalendarDate| Date::new(day.year, day.month, day.day).ok();
    plan.duty
        .calendar
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            entry
                .days()
                .and_then(|(first, last)| Some((date(first)?, date(last)?)))
                .map(|(first, last)| CalendarDays {
                    index,
                    first,
                    last,
                    entry,
                })
                .ok_or(UnreadableCalendarEntry { index })
        })
        .collect()
}

fn weekday_of(date: Date) -> Weekday {
    match date.weekday() {
        jiff::civil::Weekday::Monday => Weekday::Mon,
        jiff::civil::Weekday::Tuesday => Weekday::Tue,
        jiff::civil::Weekday::Wednesday => Weekday::Wed,
        jiff::civil::Weekday::Thursday => Weekday::Thu,
        jiff::civil::Weekday::Friday => Weekday::Fri,
        jiff::civil::Weekday::Saturday => Weekday::Sat,
        jiff::civil::Weekday::Sunday => Weekday::Sun,
    }
}

/// The weekday whose shifts start on `date`: its `like` in the calendar,
/// else its own.
pub fn staffed_as(rules: &Rules<'_>, date: Date) -> Weekday {
    rules
        .calendar
        .iter()
        .filter(|day| day.contains(date))
        .find_map(|day| day.entry.like)
        .unwrap_or_else(|| weekday_of(date))
}

/// The calendar entry naming the people on duty all day on `date`, if any.
pub fn people_day<'r, 'p>(rules: &'r Rules<'p>, date: Date) -> Option<&'r CalendarDays<'p>> {
    rules
        .calendar
        .iter()
        .find(|day| day.entry.people.is_some() && day.contains(date))
}

fn starts_on(rules: &Rules<'_>, shift: &Shift, date: Date) -> bool {
    people_day(rules, date).is_none()
        && (shift.days.is_empty() || shift.days.contains(&staffed_as(rules, date)))
}

fn minutes_of(text: &str) -> Option<i32> {
    parse_hh_mm(text).map(|(hours, minutes)| i32::from(hours) * 60 + i32::from(minutes))
}

/// Whether `shift` covers local `date` at `minute` of the day.
fn covers(rules: &Rules<'_>, shift: &Shift, date: Date, minute: i32) -> bool {
    let (Some(start), Some(end)) = (minutes_of(&shift.start), minutes_of(&shift.end)) else {
        return false;
    };
    if start < end {
        (start..end).contains(&minute) && starts_on(rules, shift, date)
    } else {
        let yesterday = date.yesterday().ok();
        (minute >= start && starts_on(rules, shift, date))
            || (minute < end && yesterday.is_some_and(|day| starts_on(rules, shift, day)))
    }
}

/// The local date and minute of the day of `at`.
fn local_minute(rules: &Rules<'_>, at: Timestamp) -> (Date, i32) {
    let local = at.to_zoned_datetime(rules.time_zone.clone());
    (
        local.date(),
        i32::from(local.hour()) * 60 + i32::from(local.minute()),
    )
}

/// The shifts covering `at`, in the plan's order, as the calendar has
/// them: on a `people` day, only a shift that started the day before.
pub fn shifts_at<'p>(rules: &Rules<'p>, at: Timestamp) -> Vec<&'p Shift> {
    let (date, minute) = local_minute(rules, at);
    rules
        .plan
        .duty
        .shifts
        .iter()
        .filter(|shift| covers(rules, shift, date, minute))
        .collect()
}

/// The people on duty at `at`, the first called first: the people of the
/// shifts covering it (in the plan's order), then those of a `people` day.
pub fn on_duty<'p>(rules: &Rules<'p>, at: Timestamp) -> Vec<&'p Person> {
    let (date, _) = local_minute(rules, at);
    let day_people = people_day(rules, date)
        .and_then(|day| day.entry.people.as_deref())
        .unwrap_or_default();
    let names = shifts_at(rules, at)
        .into_iter()
        .flat_map(|shift| shift.people.iter())
        .chain(day_people);
    let mut people: Vec<&Person> = Vec::new();
    for name in names {
        if let Some(person) = rules.plan.person(name)
            && !people.iter().any(|known| known.name == person.name)
        {
            people.push(person);
        }
    }
    if people.is_empty() {
        people = rules.plan.people_with_role(Role::DutyOfficer).collect();
    }
    people
}

/// What puts people on duty at `at`, for hand-over notes: the names of the
/// shifts covering it, then the `people` day as "2026-10-02 国庆节值班" (its
/// date and note).
fn duty_sources(rules: &Rules<'_>, at: Timestamp) -> Vec<String> {
    let (date, _) = local_minute(rules, at);
    let mut sources: Vec<String> = shifts_at(rules, at)
        .iter()
        .map(|shift| shift.name.clone())
        .collect();
    if let Some(day) = people_day(rules, date) {
        sources.push(match &day.entry.note {
            Some(note) => format!("{date} {note}"),
            None => date.to_string(),
        });
    }
    sources
}

/// A change of who is on duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandOver {
    /// When.
    pub at: Timestamp,
    /// What puts the incoming people on duty: the names of the shifts in
    /// force then, and a `people` day as its date and note.
    pub shifts: Vec<String>,
    /// Who goes off duty.
    pub from: Vec<String>,
    /// Who comes on.
    pub to: Vec<String>,
}

/// Every hand-over in (`after`, `until`], in order.
///
/// Who is on duty can only change at a shift's start or end, or at a local
/// midnight that begins or ends a `people` day; those moments are tried,
/// and each where the people on duty differ from a minute before is a
/// hand-over.
pub fn hand_overs(rules: &Rules<'_>, after: Timestamp, until: Timestamp) -> Vec<HandOver> {
    let has_people_days = rules.calendar.iter().any(|day| day.entry.people.is_some());
    if until <= after || (rules.plan.duty.shifts.is_empty() && !has_people_days) {
        return Vec::new();
    }
    let zone = rules.time_zone.clone();
    let first_day = after
        .to_zoned_datetime(zone.clone())
        .date()
        .yesterday()
        .unwrap_or(after.to_zoned_datetime(zone.clone()).date());
    let last_day = until.to_zoned_datetime(zone.clone()).date();
    let mut minutes: Vec<i32> = rules
        .plan
        .duty
        .shifts
        .iter()
        .flat_map(|shift| [minutes_of(&shift.start), minutes_of(&shift.end)])
        .flatten()
        .collect();
    if has_people_days {
        minutes.push(0);
    }
    minutes.sort_unstable();
    minutes.dedup();
    let mut boundaries: Vec<Timestamp> = Vec::new();
    let mut day = first_day;
    // A year of days at most: the runner asks about short windows.
    for _ in 0..366 {
        if day > last_day {
            break;
        }
        for &minute in &minutes {
            let Ok(time) = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0) else {
                continue;
            };
            if let Ok(zoned) = day.to_datetime(time).to_zoned_datetime(zone.clone()) {
                let at = zoned.timestamp();
                if at > after && at <= until && !boundaries.contains(&at) {
                    boundaries.push(at);
                }
            }
        }
        match day.checked_add(1.day()) {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    boundaries.sort();
    let names = |people: Vec<&Person>| -> Vec<String> {
        people
            .into_iter()
            .map(|person| person.name.clone())
            .collect()
    };
    boundaries
        .into_iter()
        .filter_map(|at| {
            let before = names(on_duty(rules, plus_minutes(at, -1)));
            let now = names(on_duty(rules, at));
            (before != now).then(|| HandOver {
                at,
                shifts: duty_sources(rules, at),
                from: before,
                to: now,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulesError;

    /// National Day 2026 (Thursday 1 to Wednesday 7 October) as Sundays,
    /// its make-up Saturday as a Monday, and a holiday roster day inside
    /// the run.
    const PLAN: &str = r##"
[organisation]
name = "示例单位"
[[sites]]
name = "portal"
pages = [{ url = "https://portal.example.gov.test/" }]
[[units]]
id = "office"
name = "办公室"
[[roster]]
name = "王五"
unit = "office"
roles = ["duty_officer"]
phone = "1"
[[duty.calendar]]
from = "2026-10-01"
to = "2026-10-07"
like = "sun"
[[duty.calendar]]
date = "2026-10-10"
like = "mon"
[[duty.calendar]]
date = "2026-10-02"
people = ["王五"]
"##;

    fn plan() -> Plan {
        Plan::from_toml_str(PLAN).unwrap_or_else(|errors| panic!("{errors}"))
    }

    fn check_day(rules: &Rules<'_>, date: &str, staffed: Weekday, people: bool) {
        let date: Date = date.parse().expect("a date");
        assert_eq!(
            (staffed_as(rules, date), people_day(rules, date).is_some()),
            (staffed, people),
            "{date}"
        );
    }

    #[test]
    fn each_day_is_staffed_as_its_calendar_says() {
        let plan = plan();
        let rules = Rules::new(&plan).expect("rules");
        let days: Vec<(usize, String, String)> = rules
            .calendar
            .iter()
            .map(|day| (day.index, day.first.to_string(), day.last.to_string()))
            .collect();
        assert_eq!(
            days,
            [
                (0, "2026-10-01".into(), "2026-10-07".into()),
                (1, "2026-10-10".into(), "2026-10-10".into()),
                (2, "2026-10-02".into(), "2026-10-02".into()),
            ]
        );
        check_day(&rules, "2026-09-30", Weekday::Wed, false);
        check_day(&rules, "2026-10-01", Weekday::Sun, false);
        // The roster day inside the run: still a Sunday, but its people
        // replace the shifts.
        check_day(&rules, "2026-10-02", Weekday::Sun, true);
        check_day(&rules, "2026-10-07", Weekday::Sun, false);
        check_day(&rules, "2026-10-08", Weekday::Thu, false);
        check_day(&rules, "2026-10-10", Weekday::Mon, false);
        check_day(&rules, "2026-10-11", Weekday::Sun, false);
    }

    #[test]
    fn an_unchecked_calendar_date_is_refused_not_guessed() {
        // A plan changed in code after loading has not been validated:
        // `Rules::new` refuses a day it cannot read rather than skip it.
        let mut plan = plan();
        plan.duty.calendar[1].date = Some("2026-02-30".into());
        let error = Rules::new(&plan).expect_err("an impossible date");
        assert_eq!(
            error,
            RulesError::DutyCalendar(UnreadableCalendarEntry { index: 1 })
        );
        assert_eq!(
            error.to_string(),
            "duty.calendar[1]: no date, or from and to, that is a day of the calendar"
        );
    }
}
