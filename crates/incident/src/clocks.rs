//! The incident's clocks (PLAN §4, REGULATIONS.md), all from the time of
//! discovery and all durations from the plan:
//!
//! - `initial_report`: the initial report (30 min);
//! - `risk_assessment`: risk assessed and level decided (60 min);
//! - `national_report`: the national report, for the level in
//!   `regulatory.report_from_level` or more serious (decided, else
//!   suggested), within the operator type's window (1 h / 2 h / 4 h);
//! - `progress_report`: for a serious level (I, II), one per change of
//!   situation made while a serious level was in force (the change that
//!   made it serious included), `progress_report_minutes` after it;
//! - `daily_report`: for a serious level, at the plan's local time on
//!   each day after the day of discovery (that day is covered by the
//!   initial and progress reports) that was serious from its start (the
//!   previous day's due time) to its due time, until recovery.
//!
//! Each clock has its due time, the reminder time, and its outcome:
//! pending, met, or missed by N seconds (and N minutes, rounded up; a
//! report sent late is missed, with the time it was sent). Once the
//! incident is finished (closed, false alarm) — or, for daily reports,
//! recovered — clocks due later are dropped.
//!
//! Outcomes are history: once a clock is met or missed it is *settled*
//! ([`settle`]) into the incident's `settled_clocks`, kept in the incident
//! itself (the store saves it with the rest), and shown as settled from
//! then on, whatever the level or the plan's durations become. Only a miss
//! not yet reported keeps counting until its late report.

use crate::incident::{Incident, ReportKind};
use crate::level::{effective_level, suggest_level};
use crate::model::IncidentState;
use crate::rules::Rules;
use crate::time::{minutes_late, plus_minutes, seconds_between};
use jiff::civil::Time;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// Which deadline (in the order the clocks are listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockName {
    /// 初次报告 (PLAN §4).
    InitialReport,
    /// 风险评估、判定等级 (PLAN §4).
    RiskAssessment,
    /// The national report (国家网络安全事件报告管理办法 第四条).
    NationalReport,
    /// 态势进程报告 (PLAN §4, level I/II).
    ProgressReport,
    /// 日报告 (PLAN §4, level I/II).
    DailyReport,
}

impl ClockName {
    /// The name as spelled in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockName::InitialReport => "initial_report",
            ClockName::RiskAssessment => "risk_assessment",
            ClockName::NationalReport => "national_report",
            ClockName::ProgressReport => "progress_report",
            ClockName::DailyReport => "daily_report",
        }
    }

    /// The deadline in the plan's words.
    pub fn name_zh(self) -> &'static str {
        match self {
            ClockName::InitialReport => "初次报告",
            ClockName::RiskAssessment => "风险评估和等级判定",
            ClockName::NationalReport => "向网信部门报告",
            ClockName::ProgressReport => "态势进程报告",
            ClockName::DailyReport => "日报告",
        }
    }

    /// The deadline in English.
    pub fn name_en(self) -> &'static str {
        match self {
            ClockName::InitialReport => "initial report",
            ClockName::RiskAssessment => "risk assessment and level decision",
            ClockName::NationalReport => "national report",
            ClockName::ProgressReport => "progress report",
            ClockName::DailyReport => "daily report",
        }
    }
}

/// A clock's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    /// Not done, and its due time has not passed.
    Pending,
    /// Done by its due time.
    Met,
    /// Due and not done, or done late.
    Missed,
}

/// One deadline of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Which deadline.
    pub name: ClockName,
    /// A stable key for this clock on this incident ("initial_report",
    /// "daily_report:2025-03-04", "progress_report:2").
    pub key: String,
    /// When it is due.
    pub due: Timestamp,
    /// When the reminder goes out, if reminders are on.
    pub warn_at: Option<Timestamp>,
    /// Pending, met or missed.
    pub status: ClockStatus,
    /// When it was done, if it was.
    pub done_at: Option<Timestamp>,
    /// For a missed clock: by how many minutes (rounded up: a deadline
    /// missed by 1 s is missed, by 1 min), until it was done or until now.
    /// People read `missed_by_seconds`.
    pub missed_by_minutes: Option<i64>,
    /// For a missed clock: by how many seconds, until it was done or until
    /// now ("missed by 40 s", "missed by 12 min 10 s").
    pub missed_by_seconds: Option<i64>,
    /// Where the duration comes from.
    pub basis: String,
}

fn clock(
    name: ClockName,
    key: String,
    due: Timestamp,
    done_at: Option<Timestamp>,
    basis: String,
    rules: &Rules<'_>,
    now: Timestamp,
) -> Clock {
    let reminder = i64::from(rules.plan.deadlines.reminder_minutes);
    // The status, and for a miss how late until when.
    let (status, late_until) = match done_at {
        Some(done) if done <= due => (ClockStatus::Met, None),
        Some(done) => (ClockStatus::Missed, Some(done)),
        // Due "by 09:30" is still on time at 09:30:00.
        None if now <= due => (ClockStatus::Pending, None),
        None => (ClockStatus::Missed, Some(now)),
    };
    Clock {
        name,
        key,
        due,
        warn_at: (reminder > 0).then(|| plus_minutes(due, -reminder)),
        status,
        done_at,
        missed_by_minutes: late_until.map(|until| minutes_late(due, until)),
        missed_by_seconds: late_until.map(|until| seconds_between(due, until).max(1)),
        basis,
    }
}

fn first_report(incident: &Incident, kinds: &[ReportKind], after: Timestamp) -> Option<Timestamp> {
    incident
        .reports
        .iter()
        .filter(|report| kinds.contains(&report.kind) && report.at >= after)
        .map(|report| report.at)
        .min()
}

/// The level in force at `at` (the decision in force then, else the
/// suggestion from the exposure as it stood then); at or after `now`, the
/// effective level now.
pub fn level_at(rules: &Rules<'_>, incident: &Incident, at: Timestamp, now: Timestamp) -> String {
    if at >= now {
        return effective_level(rules, incident, now);
    }
    if let Some(decision) = incident
        .level_decisions
        .iter()
        .rev()
        .find(|decision| decision.at <= at)
    {
        return decision.level.clone();
    }
    // The suggestion as it was at `at`: exposures that had not started yet
    // do not count, and one that ended later was still running. (Sites and
    // kind are taken as they are now: a later signal that adds a site or a
    // more serious kind is itself a change, after `at`.)
    let mut then = incident.clone();
    then.level_decisions.clear();
    then.exposures.retain(|exposure| exposure.start.at <= at);
    for exposure in &mut then.exposures {
        if exposure.ended_at.is_some_and(|ended| ended > at) {
            exposure.ended_at = None;
            exposure.ended_by = None;
        }
    }
    suggest_level(rules, &then, at).level
}

/// Whether a serious level (I, II) was in force at `at`.
fn serious_at(rules: &Rules<'_>, incident: &Incident, at: Timestamp, now: Timestamp) -> bool {
    rules.is_serious(&level_at(rules, incident, at, now))
}

/// Every clock of `incident` as of `now`: a clock already settled (met or
/// missed, see [`settle`]) as it was settled — its due time, reminder,
/// basis and outcome frozen, even when the level or the plan has changed
/// since or it would not be asked for any more — and the others computed
/// from the plan's rules and the incident now.
pub fn clocks(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Vec<Clock> {
    let mut all = computed_clocks(rules, incident, now);
    for clock in &mut all {
        if let Some(settled) = incident
            .settled_clocks
            .iter()
            .find(|settled| settled.key == clock.key)
        {
            *clock = resumed(settled, incident, now);
        }
    }
    for settled in &incident.settled_clocks {
        if !all.iter().any(|clock| clock.key == settled.key) {
            all.push(resumed(settled, incident, now));
        }
    }
    // Stable: by deadline, then due time (progress reports in the order
    // of their changes, daily reports by day).
    all.sort_by(|a, b| a.name.cmp(&b.name).then(a.due.cmp(&b.due)));
    all
}

/// `incident.settled_clocks` as of `now`: every clock met or missed by
/// `now` that was not settled yet is added, and a missed one that was not
/// done when it was settled gets its late report once it has one. Nothing
/// settled is taken back or changed otherwise. [`Incident::apply`] keeps
/// the incident's list with it, before and after each command, so a
/// clock is frozen by the first change after its outcome is known: the
/// report that meets it, or the runner recording that it escalated the
/// miss. A settled clock that was missed and not yet done is stored
/// without its lateness, which runs until its report (see `clocks`).
pub fn settle(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Vec<Clock> {
    let mut settled = incident.settled_clocks.clone();
    for clock in clocks(rules, incident, now) {
        if clock.status == ClockStatus::Pending {
            continue;
        }
        let record = if clock.done_at.is_some() {
            clock
        } else {
            Clock {
                missed_by_minutes: None,
                missed_by_seconds: None,
                ..clock
            }
        };
        match settled.iter_mut().find(|known| known.key == record.key) {
            Some(known) if known.done_at.is_none() && record.done_at.is_some() => *known = record,
            Some(_) => {}
            None => settled.push(record),
        }
    }
    settled
}

/// A settled clock as of `now`: a miss not done when it was settled is
/// done by the first report of its kind after its due time (for a daily
/// report, within the next day), and late until then.
fn resumed(settled: &Clock, incident: &Incident, now: Timestamp) -> Clock {
    let mut clock = settled.clone();
    if clock.status != ClockStatus::Missed || clock.done_at.is_some() {
        return clock;
    }
    let due = clock.due;
    clock.done_at = match clock.name {
        ClockName::RiskAssessment => incident
            .level_decisions
            .iter()
            .map(|decision| decision.at)
            .filter(|at| *at > due)
            .min(),
        name => {
            let kinds: &[ReportKind] = match name {
                ClockName::InitialReport => &[ReportKind::Initial],
                ClockName::NationalReport => &[ReportKind::National],
                ClockName::ProgressReport => &[ReportKind::Progress, ReportKind::Daily],
                _ => &[ReportKind::Daily],
            };
            let until = (name == ClockName::DailyReport).then(|| plus_minutes(due, 24 * 60));
            incident
                .reports
                .iter()
                .filter(|report| {
                    kinds.contains(&report.kind)
                        && report.at > due
                        && until.is_none_or(|until| report.at < until)
                })
                .map(|report| report.at)
                .min()
        }
    };
    let until = clock.done_at.unwrap_or(now);
    clock.missed_by_minutes = Some(minutes_late(due, until));
    clock.missed_by_seconds = Some(seconds_between(due, until).max(1));
    clock
}

/// Every clock of `incident` as of `now`, computed from the plan's rules
/// and the incident as it is.
fn computed_clocks(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Vec<Clock> {
    let plan = rules.plan;
    let deadlines = &plan.deadlines;
    let discovered = incident.discovered_at;
    let finished = incident.finished_at();
    let mut all = vec![
        clock(
            ClockName::InitialReport,
            "initial_report".to_owned(),
            plus_minutes(discovered, i64::from(deadlines.initial_report_minutes)),
            first_report(incident, &[ReportKind::Initial], discovered),
            format!(
                "deadlines.initial_report_minutes = {}",
                deadlines.initial_report_minutes
            ),
            rules,
            now,
        ),
        clock(
            ClockName::RiskAssessment,
            "risk_assessment".to_owned(),
            plus_minutes(discovered, i64::from(deadlines.risk_assessment_minutes)),
            incident.level_decisions.first().map(|decision| decision.at),
            format!(
                "deadlines.risk_assessment_minutes = {}",
                deadlines.risk_assessment_minutes
            ),
            rules,
            now,
        ),
    ];

    let level = effective_level(rules, incident, now);
    let regulatory = &plan.regulatory;
    if rules.at_least(&level, &regulatory.report_from_level) {
        // The strictest window of the sites affected.
        let (operator, minutes) = incident
            .sites
            .iter()
            .filter_map(|name| plan.site(name))
            .map(|site| plan.operator_type_of(site))
            .chain(std::iter::once(regulatory.operator_type))
            .map(|operator| (operator, regulatory.reporting_windows.minutes_for(operator)))
            .min_by_key(|(_, minutes)| *minutes)
            .unwrap_or((
                regulatory.operator_type,
                regulatory.reporting_windows.other_minutes,
            ));
        all.push(clock(
            ClockName::NationalReport,
            "national_report".to_owned(),
            plus_minutes(discovered, i64::from(minutes)),
            first_report(incident, &[ReportKind::National], discovered),
            format!(
                "{}: {} min for operator type {}, to {}",
                regulatory.source,
                minutes,
                operator.as_str(),
                operator.report_to_zh()
            ),
            rules,
            now,
        ));
    }

    if rules.is_serious(&level) {
        if deadlines.progress_report_on_change {
            // Only a change that happened while the incident was serious
            // asks for a progress report: raising the level to II at 13:39
            // must not create reports that were "due" at 13:37 for changes
            // made while it was level IV (the raise is itself a change, and
            // gets its own clock). The index stays the change's index, so a
            // clock's key never moves.
            for (index, change) in incident
                .situation_changes
                .iter()
                .enumerate()
                .filter(|(_, change)| serious_at(rules, incident, change.at, now))
            {
                all.push(clock(
                    ClockName::ProgressReport,
                    format!("progress_report:{index}"),
                    plus_minutes(change.at, i64::from(deadlines.progress_report_minutes)),
                    first_report(
                        incident,
                        &[ReportKind::Progress, ReportKind::Daily],
                        change.at,
                    ),
                    format!(
                        "deadlines.progress_report_minutes = {} after: {}",
                        deadlines.progress_report_minutes, change.what
                    ),
                    rules,
                    now,
                ));
            }
        }
        all.extend(daily_clocks(rules, incident, now));
    }

    all.retain(|clock| match finished {
        Some(finished) => clock.done_at.is_some() || clock.due < finished,
        None => true,
    });
    all
}

/// The daily report clocks: each day after the day of discovery, up to now
/// and the next one, until recovery.
fn daily_clocks(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> Vec<Clock> {
    let zone = rules.time_zone.clone();
    let (hour, minute) = rules.daily_report_time;
    let Ok(time) = Time::new(hour, minute, 0, 0) else {
        return Vec::new();
    };
    let stop = [
        incident.entered(IncidentState::Recovered),
        incident.entered(IncidentState::Reviewed),
        incident.finished_at(),
    ]
    .into_iter()
    .flatten()
    .min();
    let mut reports: Vec<Timestamp> = incident
        .reports
        .iter()
        .filter(|report| report.kind == ReportKind::Daily)
        .map(|report| report.at)
        .collect();
    reports.sort();
    let mut next_report = 0;
    let mut day = incident
        .discovered_at
        .to_zoned_datetime(zone.clone())
        .date();
    let mut out = Vec::new();
    // Bounded: a year of daily reports is far more than any incident has.
    for _ in 0..366 {
        let Ok(next_day) = day.checked_add(1.day()) else {
            break;
        };
        day = next_day;
        let Ok(zoned) = day.to_datetime(time).to_zoned_datetime(zone.clone()) else {
            break;
        };
        let due = zoned.timestamp();
        if stop.is_some_and(|stop| due >= stop) {
            break;
        }
        // A day's report is asked for when the incident was serious when
        // the day began (local midnight) and still is at the due time: a
        // level decided on one day has its first daily report the next
        // day, whatever the hour it was decided; the day the level was
        // raised is covered by the raise's progress report, so raising it
        // creates no daily report already due or due within hours.
        let Ok(midnight) = day
            .to_datetime(Time::midnight())
            .to_zoned_datetime(zone.clone())
            .map(|day| day.timestamp())
        else {
            break;
        };
        let day_start = midnight.max(incident.discovered_at);
        // (While the level is serious now, the day after a future day
        // that is skipped here is serious at both ends: the loop ends.)
        if !(serious_at(rules, incident, day_start, now) && serious_at(rules, incident, due, now)) {
            continue;
        }
        // The report for this day is the first one not used for an earlier
        // day, sent after the previous day's due time.
        let window_start = plus_minutes(due, -24 * 60);
        while next_report < reports.len() && reports[next_report] <= window_start {
            next_report += 1;
        }
        let done_at = reports
            .get(next_report)
            .copied()
            .filter(|at| *at < plus_minutes(due, 24 * 60));
        if done_at.is_some() {
            next_report += 1;
        }
        out.push(clock(
            ClockName::DailyReport,
            format!("daily_report:{day}"),
            due,
            done_at,
            format!(
                "deadlines.daily_report_time = {:?} ({})",
                rules.plan.deadlines.daily_report_time, rules.plan.organisation.timezone
            ),
            rules,
            now,
        ));
        if due > now {
            break;
        }
    }
    out
}
