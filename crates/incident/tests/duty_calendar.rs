//! The duty calendar through the engine's public API, to the minute with a
//! fake clock in Asia/Shanghai, on the 2026 National Day calendar
//! (国务院办公厅关于2026年部分节假日安排的通知: Thursday 1 October to
//! Wednesday 7 October off; Sunday 20 September and Saturday 10 October
//! worked): a holiday on a Thursday staffed as a Sunday, a make-up Saturday
//! staffed as a Monday, a holiday roster day (people all day) and its
//! edges, and the hand-overs at the midnights into and out of the holiday.

use jiff::Timestamp;
use sitewarden_incident::{HandOver, Rules, hand_overs, on_duty, people_day, shifts_at};
use sitewarden_plan::Plan;

/// Five duty officers (甲 the weekday officer, 乙 the night officer, 丙
/// the rest-day officer, 王五 and 赵六 for the holiday roster) and a
/// director who is never on duty.
const ROSTER: &str = r##"
[organisation]
name = "示例单位"
timezone = "Asia/Shanghai"

[[sites]]
name = "portal"
pages = [{ url = "https://portal.example.gov.test/" }]

[[units]]
id = "office"
name = "办公室"

[[roster]]
name = "甲"
unit = "office"
roles = ["duty_officer"]
phone = "1"
[[roster]]
name = "乙"
unit = "office"
roles = ["duty_officer"]
phone = "2"
[[roster]]
name = "丙"
unit = "office"
roles = ["duty_officer"]
phone = "3"
[[roster]]
name = "王五"
unit = "office"
roles = ["duty_officer"]
phone = "4"
[[roster]]
name = "赵六"
unit = "office"
roles = ["duty_officer"]
phone = "5"
[[roster]]
name = "主任"
unit = "office"
roles = ["office_director"]
phone = "6"
"##;

/// Day shifts by weekday and a night shift every day, as most rosters
/// have them: the weekday officer on working days, the rest-day officer
/// at weekends, the night officer from 17:30 to 08:30.
const DAY_AND_NIGHT: &str = r##"
[[duty.shifts]]
name = "工作日白班 weekday day"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:30"
end = "17:30"
people = ["甲"]
[[duty.shifts]]
name = "休息日白班 rest day"
days = ["sat", "sun"]
start = "08:30"
end = "17:30"
people = ["丙"]
[[duty.shifts]]
name = "夜班 night"
start = "17:30"
end = "08:30"
people = ["乙"]
"##;

/// Shifts that change at midnight: on working days the weekday officer
/// from 08:00 to midnight and the night officer in the small hours; on
/// rest days the rest-day officer around the clock (in two halves).
const MIDNIGHT: &str = r##"
[[duty.shifts]]
name = "工作日 weekday"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "00:00"
people = ["甲"]
[[duty.shifts]]
name = "工作日凌晨 weekday small hours"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "00:00"
end = "08:00"
people = ["乙"]
[[duty.shifts]]
name = "休息日上午 rest day morning"
days = ["sat", "sun"]
start = "00:00"
end = "12:00"
people = ["丙"]
[[duty.shifts]]
name = "休息日下午 rest day afternoon"
days = ["sat", "sun"]
start = "12:00"
end = "00:00"
people = ["丙"]
"##;

/// National Day 2026 and its make-up working days.
const NATIONAL_DAY: &str = r##"
[[duty.calendar]]
from = "2026-10-01"
to = "2026-10-07"
like = "sun"
note = "国庆节"
[[duty.calendar]]
date = "2026-09-20"
like = "mon"
note = "国庆节调休上班"
[[duty.calendar]]
date = "2026-10-10"
like = "mon"
note = "国庆节调休上班"
"##;

/// The holiday roster: on Friday 2 October 王五 and 赵六 all day.
const ROSTER_DAY: &str = r##"
[[duty.calendar]]
date = "2026-10-02"
people = ["王五", "赵六"]
note = "国庆节值班"
"##;

fn plan(parts: &[&str]) -> Plan {
    let text = format!("{ROSTER}{}", parts.concat());
    Plan::from_toml_str(&text).unwrap_or_else(|errors| panic!("test plan:\n{errors}\n{text}"))
}

/// Local time in Asia/Shanghai, to the minute: "2026-10-01 08:30".
fn at(text: &str) -> Timestamp {
    format!("{}:00+08:00", text.replace(' ', "T"))
        .parse()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// Checks who is on duty at each local time, in calling order.
fn check_on_duty(plan: &Plan, cases: &[(&str, &[&str])]) {
    let rules = Rules::new(plan).expect("rules");
    for &(time, expected) in cases {
        let names: Vec<&str> = on_duty(&rules, at(time))
            .into_iter()
            .map(|person| person.name.as_str())
            .collect();
        assert_eq!(names, expected, "on duty at {time}");
    }
}

/// A hand-over as the tests write it: the local time, the shifts (and
/// holiday roster day) in force, who goes off and who comes on.
type Expected<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

/// Checks every hand-over in (`after`, `until`].
fn check_hand_overs(plan: &Plan, after: &str, until: &str, expected: &[Expected<'_>]) {
    let rules = Rules::new(plan).expect("rules");
    let owned = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
    let expected: Vec<HandOver> = expected
        .iter()
        .map(|&(time, shifts, from, to)| HandOver {
            at: at(time),
            shifts: owned(shifts),
            from: owned(from),
            to: owned(to),
        })
        .collect();
    assert_eq!(
        hand_overs(&rules, at(after), at(until)),
        expected,
        "hand-overs in ({after}, {until}]"
    );
}

const EVERY_DUTY_OFFICER: &[&str] = &["甲", "乙", "丙", "王五", "赵六"];

#[test]
fn a_national_holiday_on_a_thursday_is_staffed_as_a_sunday() {
    // Without the calendar, Thursday 1 October is a working day.
    check_on_duty(&plan(&[DAY_AND_NIGHT]), &[("2026-10-01 08:30", &["甲"])]);

    let plan = plan(&[DAY_AND_NIGHT, NATIONAL_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-09-30 08:30", &["甲"]),
            ("2026-09-30 17:29", &["甲"]),
            // The night shift that started on the working day ends as usual.
            ("2026-10-01 08:29", &["乙"]),
            ("2026-10-01 08:30", &["丙"]),
            ("2026-10-01 17:29", &["丙"]),
            ("2026-10-01 17:30", &["乙"]),
            // Wednesday 7 October, the last day off.
            ("2026-10-07 12:00", &["丙"]),
            ("2026-10-08 08:29", &["乙"]),
            ("2026-10-08 08:30", &["甲"]),
        ],
    );
    let rules = Rules::new(&plan).expect("rules");
    let names: Vec<&str> = shifts_at(&rules, at("2026-10-01 10:00"))
        .iter()
        .map(|shift| shift.name.as_str())
        .collect();
    assert_eq!(names, ["休息日白班 rest day"]);
    check_hand_overs(
        &plan,
        "2026-09-30 12:00",
        "2026-10-01 20:00",
        &[
            ("2026-09-30 17:30", &["夜班 night"], &["甲"], &["乙"]),
            (
                "2026-10-01 08:30",
                &["休息日白班 rest day"],
                &["乙"],
                &["丙"],
            ),
            ("2026-10-01 17:30", &["夜班 night"], &["丙"], &["乙"]),
        ],
    );
}

#[test]
fn a_make_up_working_saturday_is_staffed_as_a_monday() {
    let plan = plan(&[DAY_AND_NIGHT, NATIONAL_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-10-10 08:29", &["乙"]),
            ("2026-10-10 08:30", &["甲"]),
            ("2026-10-10 17:29", &["甲"]),
            ("2026-10-10 17:30", &["乙"]),
            // An ordinary Saturday a week later.
            ("2026-10-17 08:30", &["丙"]),
            // The make-up Sunday before the holiday, and an ordinary Sunday.
            ("2026-09-20 08:30", &["甲"]),
            ("2026-09-13 08:30", &["丙"]),
        ],
    );
    check_hand_overs(
        &plan,
        "2026-10-09 12:00",
        "2026-10-11 12:00",
        &[
            ("2026-10-09 17:30", &["夜班 night"], &["甲"], &["乙"]),
            (
                "2026-10-10 08:30",
                &["工作日白班 weekday day"],
                &["乙"],
                &["甲"],
            ),
            ("2026-10-10 17:30", &["夜班 night"], &["甲"], &["乙"]),
            (
                "2026-10-11 08:30",
                &["休息日白班 rest day"],
                &["乙"],
                &["丙"],
            ),
        ],
    );
}

#[test]
fn a_holiday_roster_day_has_its_people_from_midnight_to_midnight() {
    let plan = plan(&[DAY_AND_NIGHT, NATIONAL_DAY, ROSTER_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-10-01 23:59", &["乙"]),
            // The night shift that started the evening before still ends at
            // 08:30; its officer is called first, the day's people after.
            ("2026-10-02 00:00", &["乙", "王五", "赵六"]),
            ("2026-10-02 08:29", &["乙", "王五", "赵六"]),
            // No shift starts on the day: neither the day shift nor the night.
            ("2026-10-02 08:30", &["王五", "赵六"]),
            ("2026-10-02 17:30", &["王五", "赵六"]),
            ("2026-10-02 23:59", &["王五", "赵六"]),
            // The replaced night shift's small hours are covered by nothing
            // that starts on Saturday 3 October: every duty officer, as at
            // any uncovered time, until the rest-day shift.
            ("2026-10-03 00:00", EVERY_DUTY_OFFICER),
            ("2026-10-03 08:29", EVERY_DUTY_OFFICER),
            ("2026-10-03 08:30", &["丙"]),
        ],
    );
    let rules = Rules::new(&plan).expect("rules");
    let shift_names = |time: &str| -> Vec<String> {
        shifts_at(&rules, at(time))
            .iter()
            .map(|shift| shift.name.clone())
            .collect()
    };
    assert_eq!(shift_names("2026-10-02 03:00"), ["夜班 night"]);
    assert_eq!(shift_names("2026-10-02 20:00"), Vec::<String>::new());
    let day = |time: &str| {
        people_day(
            &rules,
            at(time).to_zoned_datetime(rules.time_zone.clone()).date(),
        )
        .and_then(|day| day.entry.note.clone())
    };
    assert_eq!(day("2026-10-02 00:00"), Some("国庆节值班".to_owned()));
    assert_eq!(day("2026-10-01 23:59"), None);
    assert_eq!(day("2026-10-03 00:00"), None);
    check_hand_overs(
        &plan,
        "2026-10-01 12:00",
        "2026-10-03 12:00",
        &[
            ("2026-10-01 17:30", &["夜班 night"], &["丙"], &["乙"]),
            (
                "2026-10-02 00:00",
                &["夜班 night", "2026-10-02 国庆节值班"],
                &["乙"],
                &["乙", "王五", "赵六"],
            ),
            (
                "2026-10-02 08:30",
                &["2026-10-02 国庆节值班"],
                &["乙", "王五", "赵六"],
                &["王五", "赵六"],
            ),
            (
                "2026-10-03 00:00",
                &[],
                &["王五", "赵六"],
                EVERY_DUTY_OFFICER,
            ),
            (
                "2026-10-03 08:30",
                &["休息日白班 rest day"],
                EVERY_DUTY_OFFICER,
                &["丙"],
            ),
        ],
    );
}

#[test]
fn hand_overs_happen_at_the_midnights_into_and_out_of_the_holiday() {
    let plan = plan(&[MIDNIGHT, NATIONAL_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-09-30 23:59", &["甲"]),
            ("2026-10-01 00:00", &["丙"]),
            ("2026-10-07 23:59", &["丙"]),
            ("2026-10-08 00:00", &["乙"]),
        ],
    );
    check_hand_overs(
        &plan,
        "2026-09-30 12:00",
        "2026-10-08 12:00",
        &[
            (
                "2026-10-01 00:00",
                &["休息日上午 rest day morning"],
                &["甲"],
                &["丙"],
            ),
            (
                "2026-10-08 00:00",
                &["工作日凌晨 weekday small hours"],
                &["丙"],
                &["乙"],
            ),
            ("2026-10-08 08:00", &["工作日 weekday"], &["乙"], &["甲"]),
        ],
    );
    // Into and out of the make-up Saturday: at midnight the small-hours
    // officer, as on a Monday, and the rest-day officer again on Sunday.
    check_hand_overs(
        &plan,
        "2026-10-09 12:00",
        "2026-10-11 12:00",
        &[
            (
                "2026-10-10 00:00",
                &["工作日凌晨 weekday small hours"],
                &["甲"],
                &["乙"],
            ),
            ("2026-10-10 08:00", &["工作日 weekday"], &["乙"], &["甲"]),
            (
                "2026-10-11 00:00",
                &["休息日上午 rest day morning"],
                &["甲"],
                &["丙"],
            ),
        ],
    );
}

#[test]
fn hand_overs_happen_at_the_midnights_into_and_out_of_a_holiday_roster_day() {
    // With shifts that end at midnight, the day's people take over exactly
    // at 00:00 and hand back exactly at 24:00.
    let plan = plan(&[MIDNIGHT, NATIONAL_DAY, ROSTER_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-10-01 23:59", &["丙"]),
            ("2026-10-02 00:00", &["王五", "赵六"]),
            ("2026-10-02 23:59", &["王五", "赵六"]),
            ("2026-10-03 00:00", &["丙"]),
        ],
    );
    check_hand_overs(
        &plan,
        "2026-10-01 12:00",
        "2026-10-03 12:00",
        &[
            (
                "2026-10-02 00:00",
                &["2026-10-02 国庆节值班"],
                &["丙"],
                &["王五", "赵六"],
            ),
            (
                "2026-10-03 00:00",
                &["休息日上午 rest day morning"],
                &["王五", "赵六"],
                &["丙"],
            ),
        ],
    );
}

#[test]
fn a_holiday_roster_needs_no_shifts() {
    // With no shifts at all every duty officer is on duty, except on the
    // roster day; the hand-overs are its two midnights.
    let plan = plan(&[ROSTER_DAY]);
    check_on_duty(
        &plan,
        &[
            ("2026-10-01 23:59", EVERY_DUTY_OFFICER),
            ("2026-10-02 00:00", &["王五", "赵六"]),
            ("2026-10-03 00:00", EVERY_DUTY_OFFICER),
        ],
    );
    check_hand_overs(
        &plan,
        "2026-10-01 12:00",
        "2026-10-03 12:00",
        &[
            (
                "2026-10-02 00:00",
                &["2026-10-02 国庆节值班"],
                EVERY_DUTY_OFFICER,
                &["王五", "赵六"],
            ),
            (
                "2026-10-03 00:00",
                &[],
                &["王五", "赵六"],
                EVERY_DUTY_OFFICER,
            ),
        ],
    );
}
