//! The duty schedule: who is on duty at a moment, and the hand-overs
//! between two moments, reckoned in the organisation's time zone.
//!
//! A shift covers [start, end) local time on the days it starts on; an end
//! earlier than its start runs into the next day. Where shifts overlap,
//! everyone on any of them is on duty; where none covers a moment, every
//! roster member with the `duty_officer` role is, so that someone is
//! always called.

use crate::rules::{Rules, parse_hh_mm};
use crate::time::plus_minutes;
use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};
use serde::Serialize;
use sitewarden_plan::{Person, Role, Shift, Weekday};

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

fn starts_on(shift: &Shift, date: Date) -> bool {
    shift.days.is_empty() || shift.days.contains(&weekday_of(date))
}

fn minutes_of(text: &str) -> Option<i32> {
    parse_hh_mm(text).map(|(hours, minutes)| i32::from(hours) * 60 + i32::from(minutes))
}

/// Whether `shift` covers local `date` at `minute` of the day.
fn covers(shift: &Shift, date: Date, minute: i32) -> bool {
    let (Some(start), Some(end)) = (minutes_of(&shift.start), minutes_of(&shift.end)) else {
        return false;
    };
    if start < end {
        starts_on(shift, date) && (start..end).contains(&minute)
    } else {
        let yesterday = date.yesterday().ok();
        (starts_on(shift, date) && minute >= start)
            || (yesterday.is_some_and(|day| starts_on(shift, day)) && minute < end)
    }
}

/// The shifts covering `at`.
pub fn shifts_at<'p>(rules: &Rules<'p>, at: Timestamp) -> Vec<&'p Shift> {
    let local = at.to_zoned_datetime(rules.time_zone.clone());
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    rules
        .plan
        .duty
        .shifts
        .iter()
        .filter(|shift| covers(shift, local.date(), minute))
        .collect()
}

/// The people on duty at `at`, the first called first.
pub fn on_duty<'p>(rules: &Rules<'p>, at: Timestamp) -> Vec<&'p Person> {
    let mut people: Vec<&Person> = Vec::new();
    for shift in shifts_at(rules, at) {
        for name in &shift.people {
            if let Some(person) = rules.plan.person(name)
                && !people.iter().any(|known| known.name == person.name)
            {
                people.push(person);
            }
        }
    }
    if people.is_empty() {
        people = rules.plan.people_with_role(Role::DutyOfficer).collect();
    }
    people
}

/// A change of who is on duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandOver {
    /// When.
    pub at: Timestamp,
    /// The shifts starting then (names).
    pub shifts: Vec<String>,
    /// Who goes off duty.
    pub from: Vec<String>,
    /// Who comes on.
    pub to: Vec<String>,
}

/// Every hand-over in (`after`, `until`], in order.
pub fn hand_overs(rules: &Rules<'_>, after: Timestamp, until: Timestamp) -> Vec<HandOver> {
    if until <= after || rules.plan.duty.shifts.is_empty() {
        return Vec::new();
    }
    let zone = rules.time_zone.clone();
    let first_day = after
        .to_zoned_datetime(zone.clone())
        .date()
        .yesterday()
        .unwrap_or(after.to_zoned_datetime(zone.clone()).date());
    let last_day = until.to_zoned_datetime(zone.clone()).date();
    let mut boundaries: Vec<Timestamp> = Vec::new();
    let mut day = first_day;
    // A year of days at most: the runner asks about short windows.
    for _ in 0..366 {
        if day > last_day {
            break;
        }
        for shift in &rules.plan.duty.shifts {
            for minute in [minutes_of(&shift.start), minutes_of(&shift.end)]
                .into_iter()
                .flatten()
            {
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
                shifts: shifts_at(rules, at)
                    .iter()
                    .map(|shift| shift.name.clone())
                    .collect(),
                from: before,
                to: now,
            })
        })
        .collect()
}
