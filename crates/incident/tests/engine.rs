//! The incident engine driven through its public API with a fake clock to
//! the second: the issue's scenario (a level II defacement at 09:00:
//! reminder at 09:25, initial report due 09:30, escalation on a miss, the
//! daily report the next day), the suggested level from exposure, state
//! transitions through commands, acknowledgement stopping escalation, the
//! duty hand-over, the national window by operator type, approvals.

use jiff::Timestamp;
use sitewarden_incident::{
    Action, ApprovalError, ClockName, ClockStatus, Command, CommandError, EventKind, ExposureStart,
    Incident, IncidentState, ReportKind, Rules, Signal, SignalKind, SignalSource, StartBasis,
    TransitionError, call_tasks, clocks, due_actions, hand_overs, on_duty, suggest_level,
};
use sitewarden_plan::{OperatorType, Plan, Role};

/// A plan with two duty shifts, a full chain with the cyberspace office,
/// and routing. Site `portal` is a provincial government portal.
const PLAN: &str = r##"
[organisation]
name = "示例省财政厅"
timezone = "Asia/Shanghai"

[[sites]]
name = "portal"
importance = "特别重要"
tier = "provincial_government_portal"
pages = [
    { url = "https://portal.example.gov.test/" },
    { name = "notices", url = "https://portal.example.gov.test/tzgg/" },
]

[[sites]]
name = "blog"
tier = "other"
pages = [{ url = "https://blog.example.gov.test/" }]

[[units]]
id = "office"
name = "办公室"

[[roster]]
name = "白班"
unit = "office"
roles = ["duty_officer"]
phone = "1"
[[roster]]
name = "夜班"
unit = "office"
roles = ["duty_officer"]
phone = "2"
[[roster]]
name = "主任"
unit = "office"
roles = ["office_director"]
phone = "3"
[[roster]]
name = "副组长"
unit = "office"
roles = ["deputy_leader"]
phone = "4"
[[roster]]
name = "组长"
unit = "office"
roles = ["leader"]
phone = "5"

[[external_contacts]]
id = "cac"
name = "示例省委网信办"
kind = "cyberspace_office"
phone = "0000-1"
fax = "0000-2"
min_level = "III"

[[duty.shifts]]
name = "day"
start = "08:30"
end = "17:30"
people = ["白班"]
[[duty.shifts]]
name = "night"
start = "17:30"
end = "08:30"
people = ["夜班"]

[[channels]]
id = "sms"
type = "sms"
url = "https://sms.example.test/send"
[[channels]]
id = "mail"
type = "email"
smtp_host = "smtp.example.test"
from = "sitewarden@example.test"

[routing]
duty_officer = ["sms", "mail"]
default = ["mail"]

[escalation]
on_missed_deadline = ["office_director", "deputy_leader"]
remind = ["duty_officer", "office_director"]
[[escalation.chains]]
name = "default"
[[escalation.chains.steps]]
after_minutes = 0
roles = ["duty_officer"]
repeat = 2
repeat_every_minutes = 5
[[escalation.chains.steps]]
after_minutes = 10
roles = ["office_director"]
[[escalation.chains.steps]]
after_minutes = 20
roles = ["deputy_leader"]
[[escalation.chains.steps]]
after_minutes = 30
roles = ["leader"]
min_level = "II"
[[escalation.chains.steps]]
after_minutes = 15
contacts = ["cac"]
stop_on_ack = false
"##;

fn plan() -> Plan {
    Plan::from_toml_str(PLAN).unwrap_or_else(|errors| panic!("test plan:\n{errors}"))
}

/// Local time in Asia/Shanghai on Monday 2025-03-03 ("09:00:00"), or on
/// another day ("2025-03-04 16:55:00").
fn at(text: &str) -> Timestamp {
    let full = if text.len() <= 8 {
        format!("2025-03-03T{text}+08:00")
    } else {
        format!("{}+08:00", text.replace(' ', "T"))
    };
    full.parse()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn defacement(site: &str, page: &str, time: &str) -> Signal {
    Signal {
        site: site.into(),
        page: Some(page.into()),
        kind: SignalKind::Defacement,
        source: SignalSource::Probe,
        score: 90,
        reasons: vec!["gambling terms".into()],
        observed_at_ms: at(time).as_millisecond(),
        drill: false,
    }
}

fn open_defacement(rules: &Rules<'_>) -> Incident {
    Incident::open(
        1,
        "portal defaced".into(),
        &defacement("portal", "home", "09:00:00"),
        None,
        rules,
    )
}

fn apply(incident: &mut Incident, rules: &Rules<'_>, command: Command, actor: &str, time: &str) {
    incident
        .apply(rules, command, actor, at(time))
        .unwrap_or_else(|error| panic!("{time}: {error}"));
}

fn decide(incident: &mut Incident, rules: &Rules<'_>, level: &str, time: &str) {
    apply(
        incident,
        rules,
        Command::DecideLevel {
            level: level.into(),
            reason: "home page defaced, provincial portal".into(),
        },
        "组长",
        time,
    );
}

/// The actions due at `time`, as "type key → recipients".
fn actions_at(rules: &Rules<'_>, incident: &Incident, time: &str) -> Vec<String> {
    due_actions(rules, incident, at(time))
        .iter()
        .filter(|action| {
            !matches!(
                action,
                Action::RunStep { .. } | Action::RequestApproval { .. }
            )
        })
        .map(describe)
        .collect()
}

fn describe(action: &Action) -> String {
    let names = |people: &[sitewarden_incident::Recipient]| {
        people
            .iter()
            .map(|person| person.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    match action {
        Action::Reminder {
            key, recipients, ..
        }
        | Action::Escalate {
            key, recipients, ..
        }
        | Action::Notify {
            key, recipients, ..
        }
        | Action::RequestApproval {
            key, recipients, ..
        } => format!("{key} → {}", names(recipients)),
        Action::CallTask { key, assignees, .. } => format!("{key} → {}", names(assignees)),
        Action::HandOver { key, to, .. } => format!("{key} → {}", names(to)),
        Action::RunStep { key, .. } => key.clone(),
    }
}

fn clock_of(
    rules: &Rules<'_>,
    incident: &Incident,
    key: &str,
    time: &str,
) -> (ClockStatus, Option<i64>, Timestamp) {
    let found = clocks(rules, incident, at(time))
        .into_iter()
        .find(|clock| clock.key == key)
        .unwrap_or_else(|| panic!("no clock {key} at {time}"));
    (found.status, found.missed_by_minutes, found.due)
}

/// Marks every action due at `time` as done, as the runner would.
fn carry_out(incident: &mut Incident, rules: &Rules<'_>, time: &str) {
    for action in due_actions(rules, incident, at(time)) {
        apply(
            incident,
            rules,
            Command::ActionDone {
                key: action.key().to_owned(),
                detail: "handed to the outbox".into(),
            },
            "sitewarden",
            time,
        );
    }
}

#[test]
fn a_level_two_defacement_at_nine_runs_the_plans_clocks() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "II", "09:10:00");
    carry_out(&mut incident, &rules, "09:10:00");

    // 09:24:59: no reminder yet.
    assert!(
        !actions_at(&rules, &incident, "09:24:59")
            .iter()
            .any(|action| action.starts_with("reminder:initial_report")),
        "{:?}",
        actions_at(&rules, &incident, "09:24:59")
    );
    // 09:25:00: the reminder, to the duty officer on duty and the office director.
    assert!(
        actions_at(&rules, &incident, "09:25:00")
            .contains(&"reminder:initial_report → 白班,主任".to_owned()),
        "{:?}",
        actions_at(&rules, &incident, "09:25:00")
    );
    carry_out(&mut incident, &rules, "09:25:00");
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "09:25:00"),
        (ClockStatus::Pending, None, at("09:30:00"))
    );
    // Due "by 09:30" is on time at 09:30:00 …
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "09:30:00").0,
        ClockStatus::Pending
    );
    // … and missed a second later: escalated to the office director and the deputy leader.
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "09:30:01"),
        (ClockStatus::Missed, Some(1), at("09:30:00"))
    );
    assert!(
        actions_at(&rules, &incident, "09:30:01")
            .contains(&"missed:initial_report → 主任,副组长".to_owned()),
        "{:?}",
        actions_at(&rules, &incident, "09:30:01")
    );
    carry_out(&mut incident, &rules, "09:30:01");
    // The report goes out late: missed by 12 minutes, and the escalation stops.
    apply(
        &mut incident,
        &rules,
        Command::Report {
            kind: ReportKind::Initial,
            note: "首页被篡改，已断开对外服务".into(),
        },
        "主任",
        "09:41:10",
    );
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "10:00:00"),
        (ClockStatus::Missed, Some(12), at("09:30:00"))
    );
    // Already assessed at 09:10: the state never moves back to "reported".
    assert_eq!(incident.state, IncidentState::Assessed);
    // The level was decided at 09:10: the risk assessment was on time.
    assert_eq!(
        clock_of(&rules, &incident, "risk_assessment", "10:00:00"),
        (ClockStatus::Met, None, at("10:00:00"))
    );
    // Level II is III or above: the national report, 4 hours for an ordinary operator.
    assert_eq!(
        clock_of(&rules, &incident, "national_report", "10:00:00"),
        (ClockStatus::Pending, None, at("13:00:00"))
    );

    // The daily report: not today, 17:00 tomorrow, reminded at 16:55.
    assert!(
        !clocks(&rules, &incident, at("17:00:00"))
            .iter()
            .any(|clock| clock.key == "daily_report:2025-03-03")
    );
    assert_eq!(
        clock_of(&rules, &incident, "daily_report:2025-03-04", "12:00:00"),
        (ClockStatus::Pending, None, at("2025-03-04 17:00:00"))
    );
    apply(
        &mut incident,
        &rules,
        Command::Report {
            kind: ReportKind::National,
            note: "报属地省级网信部门".into(),
        },
        "主任",
        "11:00:00",
    );
    carry_out(&mut incident, &rules, "2025-03-04 16:54:59");
    assert!(
        actions_at(&rules, &incident, "2025-03-04 16:55:00")
            .contains(&"reminder:daily_report:2025-03-04 → 白班,主任".to_owned()),
        "{:?}",
        actions_at(&rules, &incident, "2025-03-04 16:55:00")
    );
    apply(
        &mut incident,
        &rules,
        Command::Report {
            kind: ReportKind::Daily,
            note: "日报".into(),
        },
        "主任",
        "2025-03-04 16:58:00",
    );
    assert_eq!(
        clock_of(
            &rules,
            &incident,
            "daily_report:2025-03-04",
            "2025-03-04 18:00:00"
        )
        .0,
        ClockStatus::Met
    );
    // The day after, nobody reports: missed, escalated.
    assert_eq!(
        clock_of(
            &rules,
            &incident,
            "daily_report:2025-03-05",
            "2025-03-05 17:20:00"
        ),
        (ClockStatus::Missed, Some(20), at("2025-03-05 17:00:00"))
    );
    assert!(
        actions_at(&rules, &incident, "2025-03-05 17:20:00")
            .contains(&"missed:daily_report:2025-03-05 → 主任,副组长".to_owned())
    );
    // Once recovered, no more daily reports fall due.
    apply(
        &mut incident,
        &rules,
        Command::Transition {
            to: IncidentState::Recovered,
        },
        "主任",
        "2025-03-05 18:00:00",
    );
    let later: Vec<String> = clocks(&rules, &incident, at("2025-03-08 12:00:00"))
        .into_iter()
        .filter(|clock| clock.name == ClockName::DailyReport)
        .map(|clock| clock.key)
        .collect();
    assert_eq!(
        later,
        ["daily_report:2025-03-04", "daily_report:2025-03-05"]
    );
}

#[test]
fn clocks_print_as_the_cli_shows_them() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let incident = open_defacement(&rules);
    let json = serde_json::to_value(clocks(&rules, &incident, at("09:20:00"))).expect("json");
    let shapes: Vec<(String, String, String)> = json
        .as_array()
        .expect("a list")
        .iter()
        .map(|clock| {
            (
                clock["name"].as_str().unwrap_or_default().to_owned(),
                clock["due"].as_str().unwrap_or_default().to_owned(),
                clock["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Undecided, 20 minutes of home page defacement on a provincial portal:
    // suggested IV, so no national clock yet.
    assert_eq!(
        shapes,
        [
            (
                "initial_report".into(),
                "2025-03-03T01:30:00Z".into(),
                "pending".into()
            ),
            (
                "risk_assessment".into(),
                "2025-03-03T02:00:00Z".into(),
                "pending".into()
            ),
        ]
    );
}

fn check_suggestion(
    exposure_minutes: i64,
    contained: bool,
    tier_site: &str,
    expected_level: &str,
    expected_reason: &str,
) {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let page = "home";
    let mut incident = Incident::open(
        1,
        "defaced".into(),
        &defacement(tier_site, page, "09:00:00"),
        Some(ExposureStart {
            at: at("08:59:48"),
            basis: StartBasis::LastCleanCheck,
        }),
        &rules,
    );
    let end = at("08:59:48")
        .checked_add(jiff::SignedDuration::from_mins(exposure_minutes))
        .expect("in range");
    if contained {
        incident
            .apply(
                &rules,
                Command::Contain {
                    note: "site cut off".into(),
                },
                "白班",
                end,
            )
            .expect("contain");
    }
    let now = if contained { at("23:00:00") } else { end };
    let suggestion = suggest_level(&rules, &incident, now);
    assert_eq!(
        suggestion.level, expected_level,
        "{:#?}",
        suggestion.reasons
    );
    assert!(
        suggestion
            .reasons
            .iter()
            .any(|reason| reason.text_en == expected_reason),
        "{expected_reason:?} not in {:#?}",
        suggestion.reasons
    );
}

#[test]
fn the_suggested_level_cites_the_exposure_against_the_indicator() {
    // Contained after 4 min 12 s: the exposure stops there, however late we look.
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = Incident::open(
        1,
        "defaced".into(),
        &defacement("portal", "home", "09:00:00"),
        Some(ExposureStart {
            at: at("09:00:00"),
            basis: StartBasis::LastCleanCheck,
        }),
        &rules,
    );
    incident
        .apply(
            &rules,
            Command::Contain {
                note: "cut off".into(),
            },
            "白班",
            at("09:04:12"),
        )
        .expect("contain");
    let suggestion = suggest_level(&rules, &incident, at("15:00:00"));
    assert_eq!(suggestion.level, "IV");
    assert!(suggestion.reasons.iter().any(|reason| reason.text_en
        == "home page of portal showed defaced content for 4 min 12 s: below the 30 min indicator for level III"
        && !reason.verified));
    assert_eq!(suggestion.rises_at, None, "contained: it cannot rise");

    check_suggestion(
        29,
        true,
        "portal",
        "IV",
        "home page of portal showed defaced content for 29 min: below the 30 min indicator for level III",
    );
    check_suggestion(
        30,
        true,
        "portal",
        "III",
        "home page of portal showed defaced content for 30 min: at or above the 30 min indicator for level III",
    );
    check_suggestion(
        125,
        false,
        "portal",
        "II",
        "home page of portal showed defaced content for 2 h 5 min so far: at or above the 2 h indicator for level II",
    );
    check_suggestion(
        360,
        true,
        "portal",
        "I",
        "home page of portal showed defaced content for 6 h: at or above the 6 h indicator for level I",
    );
    // A site the guide's indicators do not name.
    check_suggestion(
        600,
        true,
        "blog",
        "IV",
        "home page of blog showed defaced content for 10 h: the grading guide's indicators for this measure do not name a site of tier other (其他网站)",
    );
}

#[test]
fn a_running_exposure_says_when_it_reaches_the_next_indicator() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let incident = open_defacement(&rules);
    let suggestion = suggest_level(&rules, &incident, at("09:10:00"));
    assert_eq!(suggestion.level, "IV");
    assert_eq!(suggestion.rises_at, Some(at("09:30:00")));
    let suggestion = suggest_level(&rules, &incident, at("09:40:00"));
    assert_eq!(suggestion.level, "III");
    assert_eq!(suggestion.rises_at, Some(at("11:00:00")));
}

/// A signal as the probe raises it, with its exposure start.
fn probe_signal(
    kind: SignalKind,
    page: &str,
    time: &str,
    score: u32,
    start: (&str, StartBasis),
) -> Command {
    Command::Signal {
        signal: Signal {
            site: "portal".into(),
            page: Some(page.into()),
            kind,
            source: SignalSource::Probe,
            score,
            reasons: vec!["the page answers HTTP 503".into()],
            observed_at_ms: at(time).as_millisecond(),
            drill: false,
        },
        exposure: Some(ExposureStart {
            at: at(start.0),
            basis: start.1,
        }),
    }
}

/// A defacement of the portal home page seen at 09:00:00, the page last
/// clean at 08:59:48.
fn home_page_defaced_at_nine(rules: &Rules<'_>) -> Incident {
    Incident::open(
        1,
        "portal defaced".into(),
        &defacement("portal", "home", "09:00:00"),
        Some(ExposureStart {
            at: at("08:59:48"),
            basis: StartBasis::LastCleanCheck,
        }),
        rules,
    )
}

/// (kind, page, start, end, ended by) of every exposure.
fn exposures_of(incident: &Incident) -> Vec<String> {
    incident
        .exposures
        .iter()
        .map(|exposure| {
            format!(
                "{:?} {} {} ({:?}) → {}",
                exposure.kind,
                exposure.page.as_deref().unwrap_or("-"),
                exposure.start.at,
                exposure.start.basis,
                exposure
                    .ended_at
                    .map(|end| format!("{end} ({:?})", exposure.ended_by.unwrap()))
                    .unwrap_or_else(|| "open".into())
            )
        })
        .collect()
}

/// Regression: after containment the probe kept checking, saw the
/// maintenance page (HTTP 503), kept the page's "defaced" verdict with
/// score 0 and signalled it; the engine opened a new defacement exposure
/// from the last clean check that ran while the site was cut off, so a
/// 12-second defacement read "3 h" and the suggested level climbed.
#[test]
fn a_contained_exposure_is_not_restarted_by_later_signals() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = home_page_defaced_at_nine(&rules);
    apply(
        &mut incident,
        &rules,
        Command::Contain {
            note: "cut off".into(),
        },
        "白班",
        "09:00:00",
    );
    let before = (
        exposures_of(&incident),
        suggest_level(&rules, &incident, at("09:00:00")),
    );
    apply(
        &mut incident,
        &rules,
        probe_signal(
            SignalKind::Defacement,
            "home",
            "09:01:00",
            0,
            ("08:59:48", StartBasis::LastCleanCheck),
        ),
        "probe",
        "09:01:00",
    );
    let after = (
        exposures_of(&incident),
        suggest_level(&rules, &incident, at("12:01:00")),
    );
    assert_eq!(after, before);
    assert_eq!(
        incident.exposures[0].describe(at("12:01:00")).0,
        "home page of portal showed defaced content for 12 s"
    );
}

/// While sitewarden has a site cut off (the contain step, `sitewarden
/// contain`), no signal of the site starts an exposure — neither the
/// maintenance page judged as a defacement nor as an outage. Once it is
/// reopened, a page still defaced is exposed again from the reopening.
#[test]
fn a_cut_off_site_starts_no_exposure_until_it_is_reopened() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = home_page_defaced_at_nine(&rules);
    apply(
        &mut incident,
        &rules,
        Command::CutOff {
            site: "portal".into(),
            note: "by sitewarden (playbook) via gateway: defaced".into(),
        },
        "sitewarden",
        "09:00:02",
    );
    assert_eq!(incident.state, IncidentState::Contained);
    assert_eq!(incident.cut_off_since("portal"), Some(at("09:00:02")));
    let before = (
        exposures_of(&incident),
        suggest_level(&rules, &incident, at("09:00:02")),
    );
    assert_eq!(
        before.0,
        [format!(
            "Defaced home {} (LastCleanCheck) → {} (Contained)",
            at("08:59:48"),
            at("09:00:02")
        )]
    );
    for (kind, page, time) in [
        (SignalKind::Defacement, "home", "09:01:00"),
        (SignalKind::Unavailable, "home", "09:02:00"),
        (SignalKind::Defacement, "notices", "09:03:00"),
        (SignalKind::Unavailable, "notices", "11:00:00"),
    ] {
        apply(
            &mut incident,
            &rules,
            probe_signal(
                kind,
                page,
                time,
                0,
                ("09:00:30", StartBasis::LastCleanCheck),
            ),
            "probe",
            time,
        );
    }
    // A defacement the guard repaired while the site was cut off.
    apply(
        &mut incident,
        &rules,
        probe_signal(
            SignalKind::Defacement,
            "home",
            "10:00:00",
            90,
            ("10:00:00", StartBasis::GuardEvent),
        ),
        "guard",
        "10:00:00",
    );
    assert_eq!(
        (
            exposures_of(&incident),
            suggest_level(&rules, &incident, at("12:00:02"))
        ),
        before,
        "three hours on, nothing changed"
    );
    assert!(
        incident.timeline.events().iter().any(|event| event
            .detail
            .contains("is cut off from external service since")),
        "the timeline says why no exposure started"
    );

    // Reopened at 12:30 with the home page still defaced: a new exposure
    // from the reopening, not from the last clean check before the attack.
    apply(
        &mut incident,
        &rules,
        Command::Reopen {
            site: "portal".into(),
            note: "by 组长 via gateway: instruction received".into(),
        },
        "组长",
        "12:30:00",
    );
    assert_eq!(incident.cut_off_since("portal"), None);
    apply(
        &mut incident,
        &rules,
        probe_signal(
            SignalKind::Defacement,
            "home",
            "12:31:00",
            90,
            ("08:59:48", StartBasis::LastCleanCheck),
        ),
        "probe",
        "12:31:00",
    );
    let reopened = incident.exposures.last().expect("a new exposure");
    assert_eq!(
        (reopened.start.at, reopened.start.basis, reopened.ended_at),
        (at("12:30:00"), StartBasis::Reopened, None)
    );
    let suggestion = suggest_level(&rules, &incident, at("13:00:00"));
    assert_eq!(suggestion.level, "III", "{:#?}", suggestion.reasons);
    assert!(suggestion.reasons.iter().any(|reason| reason.text_en
        == "home page of portal showed defaced content for 30 min so far: at or above the 30 min indicator for level III"));
}

/// A check that fetched the page just before the cut-off and was recorded
/// just after it saw what visitors were served until the cut-off.
#[test]
fn a_defacement_seen_just_before_a_cut_off_is_exposed_until_it() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = home_page_defaced_at_nine(&rules);
    apply(
        &mut incident,
        &rules,
        Command::CutOff {
            site: "portal".into(),
            note: "by sitewarden (playbook) via gateway: defaced".into(),
        },
        "sitewarden",
        "09:00:02",
    );
    apply(
        &mut incident,
        &rules,
        probe_signal(
            SignalKind::Defacement,
            "notices",
            "09:00:03",
            80,
            ("08:59:00", StartBasis::LastCleanCheck),
        ),
        "probe",
        "09:00:03",
    );
    assert_eq!(
        exposures_of(&incident)[1],
        format!(
            "Defaced notices {} (LastCleanCheck) → {} (Contained)",
            at("08:59:00"),
            at("09:00:02")
        )
    );
}

/// A page the guard restored in milliseconds and the probe then found
/// defaced again: the new exposure starts after the restore, not at the
/// probe's last clean check before the first one.
#[test]
fn a_restored_exposure_is_not_counted_twice() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let guard_event: Timestamp = at("09:00:00");
    let restored = guard_event
        .checked_add(jiff::SignedDuration::from_millis(2))
        .unwrap();
    let mut incident = Incident::open(
        1,
        "portal defaced".into(),
        &defacement("portal", "home", "09:00:00"),
        Some(ExposureStart {
            at: guard_event,
            basis: StartBasis::GuardEvent,
        }),
        &rules,
    );
    incident
        .apply(
            &rules,
            Command::Restore {
                site: Some("portal".into()),
                page: Some("home".into()),
            },
            "guard",
            restored,
        )
        .unwrap();
    assert_eq!(incident.exposures[0].ended_at, Some(restored));
    apply(
        &mut incident,
        &rules,
        probe_signal(
            SignalKind::Defacement,
            "home",
            "09:01:00",
            90,
            ("08:59:00", StartBasis::LastCleanCheck),
        ),
        "probe",
        "09:01:00",
    );
    let second = &incident.exposures[1];
    assert_eq!(
        (second.start.at, second.start.basis),
        (restored, StartBasis::PreviousEnd)
    );
}

#[test]
fn an_acknowledgement_stops_the_chain_but_not_duties_to_authorities() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "III", "09:05:00");

    // Unacknowledged at 09:20: the latest duty repeat (09:10), the office
    // director (09:10), the deputy leader (09:20), the call to the
    // cyberspace office (09:15, level III).
    let chain: Vec<String> = actions_at(&rules, &incident, "09:20:00")
        .into_iter()
        .filter(|action| action.starts_with("chain:") || action.starts_with("call:"))
        .collect();
    assert_eq!(
        chain,
        [
            "chain:default:0:2 → 白班",
            "chain:default:1:0 → 主任",
            "call:default:4:0:cac → 主任",
            "chain:default:2:0 → 副组长",
        ]
    );

    apply(
        &mut incident,
        &rules,
        Command::Acknowledge,
        "白班",
        "09:12:00",
    );
    let chain: Vec<String> = actions_at(&rules, &incident, "09:20:00")
        .into_iter()
        .filter(|action| action.starts_with("chain:") || action.starts_with("call:"))
        .collect();
    assert_eq!(
        chain,
        ["call:default:4:0:cac → 主任"],
        "only the duty to the cyberspace office remains"
    );
    // Reminders still come.
    assert!(
        actions_at(&rules, &incident, "09:25:00")
            .iter()
            .any(|action| action.starts_with("reminder:initial_report"))
    );
}

/// The chain gives the call to the cyberspace office as a task; it comes
/// again at each repeat until a person records the call, and `incident
/// show` lists it open, then reached.
#[test]
fn a_call_task_repeats_until_the_call_is_recorded() {
    let plan = Plan::from_toml_str(&PLAN.replace(
        "contacts = [\"cac\"]\n",
        "contacts = [\"cac\"]\nrepeat = 2\nrepeat_every_minutes = 30\n",
    ))
    .unwrap();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "III", "09:05:00");
    carry_out(&mut incident, &rules, "09:20:00");
    let tasks = call_tasks(&incident);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].contact, "cac");
    assert_eq!(tasks[0].given_at, Some(at("09:20:00")));
    assert!(tasks[0].reached.is_none());
    let calls = |incident: &Incident, time: &str| -> Vec<String> {
        actions_at(&rules, incident, time)
            .into_iter()
            .filter(|action| action.starts_with("call:"))
            .collect()
    };
    assert_eq!(
        calls(&incident, "09:46:00"),
        ["call:default:4:1:cac → 主任"]
    );

    // Unknown contacts are refused and change nothing.
    let refused = incident.apply(
        &rules,
        Command::Contacted {
            contact: "fbi".into(),
            fax_sent: false,
            note: String::new(),
        },
        "主任",
        at("09:30:00"),
    );
    assert!(
        matches!(refused, Err(CommandError::UnknownContact { ref known, .. }) if known == "cac"),
        "{refused:?}"
    );
    // The call first, the fax after: the task's record is the one with it.
    apply(
        &mut incident,
        &rules,
        Command::Contacted {
            contact: "cac".into(),
            fax_sent: false,
            note: String::new(),
        },
        "主任",
        "09:25:00",
    );
    assert!(!call_tasks(&incident)[0].reached.unwrap().fax_sent);
    apply(
        &mut incident,
        &rules,
        Command::Contacted {
            contact: "cac".into(),
            fax_sent: true,
            note: "已登记".into(),
        },
        "主任",
        "09:30:00",
    );
    assert!(calls(&incident, "09:46:00").is_empty(), "no call once made");
    let tasks = call_tasks(&incident);
    let reached = tasks[0].reached.expect("reached");
    assert_eq!((reached.by.as_str(), reached.fax_sent), ("主任", true));
    assert!(incident.timeline.events().iter().any(|event| {
        event.kind == EventKind::ContactReached
            && event.detail == "示例省委网信办 (cac) reached by phone, fax sent: 已登记"
    }));
}

#[test]
fn the_leader_is_only_called_at_level_two_or_above() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    for (level, called) in [("IV", false), ("III", false), ("II", true), ("I", true)] {
        let mut incident = open_defacement(&rules);
        decide(&mut incident, &rules, level, "09:05:00");
        let actions = actions_at(&rules, &incident, "09:31:00");
        assert_eq!(
            actions
                .iter()
                .any(|action| action.starts_with("chain:default:3:")),
            called,
            "level {level}: {actions:?}"
        );
        // The cyberspace office only for III and above.
        assert_eq!(
            actions.iter().any(|action| action.starts_with("call:")),
            level != "IV",
            "level {level}: {actions:?}"
        );
    }
}

#[test]
fn the_duty_schedule_decides_who_is_called_first_and_hands_over() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let names = |time: &str| -> Vec<String> {
        on_duty(&rules, at(time))
            .into_iter()
            .map(|person| person.name.clone())
            .collect()
    };
    for (time, expected) in [
        ("08:29:59", "夜班"),
        ("08:30:00", "白班"),
        ("17:29:59", "白班"),
        ("17:30:00", "夜班"),
        ("2025-03-04 03:00:00", "夜班"),
    ] {
        assert_eq!(names(time), [expected], "{time}");
    }
    let overs = hand_overs(&rules, at("09:00:00"), at("2025-03-04 09:00:00"));
    let seen: Vec<(Timestamp, Vec<String>, Vec<String>)> = overs
        .into_iter()
        .map(|over| (over.at, over.from, over.to))
        .collect();
    assert_eq!(
        seen,
        [
            (
                at("17:30:00"),
                vec!["白班".to_owned()],
                vec!["夜班".to_owned()]
            ),
            (
                at("2025-03-04 08:30:00"),
                vec!["夜班".to_owned()],
                vec!["白班".to_owned()]
            ),
        ]
    );

    // An incident open across the hand-over: the incoming officer is briefed,
    // and a later duty call goes to them.
    let mut incident = Incident::open(
        2,
        "late defacement".into(),
        &defacement("portal", "home", "17:20:00"),
        None,
        &rules,
    );
    carry_out(&mut incident, &rules, "17:29:00");
    let actions = actions_at(&rules, &incident, "17:31:00");
    assert!(
        actions.contains(&format!("handover:{} → 夜班", at("17:30:00"))),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"chain:default:0:2 → 夜班".to_owned()),
        "{actions:?}"
    );
}

#[test]
fn an_incident_open_across_a_holiday_roster_day_briefs_its_people() {
    // The plan's day and night shifts, and a holiday roster day on
    // Tuesday 4 March with its own duty officer.
    let text = format!(
        "{PLAN}{}",
        r##"
[[roster]]
name = "节日值班"
unit = "office"
roles = ["duty_officer"]
phone = "6"
[[duty.calendar]]
date = "2025-03-04"
people = ["节日值班"]
note = "节日值班"
"##
    );
    let plan = Plan::from_toml_str(&text).unwrap_or_else(|errors| panic!("{errors}"));
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = Incident::open(
        3,
        "defacement before midnight".into(),
        &defacement("portal", "home", "23:50:00"),
        None,
        &rules,
    );
    carry_out(&mut incident, &rules, "23:59:00");
    // At midnight the day's officer joins the night officer, whose shift
    // still ends at 08:30: both are briefed, and the next duty call goes to
    // both.
    let actions = actions_at(&rules, &incident, "2025-03-04 00:01:00");
    assert!(
        actions.contains(&format!(
            "handover:{} → 夜班,节日值班",
            at("2025-03-04 00:00:00")
        )),
        "{actions:?}"
    );
    carry_out(&mut incident, &rules, "2025-03-04 00:01:00");
    // At 08:30 the night officer goes off; no day shift starts.
    let actions = actions_at(&rules, &incident, "2025-03-04 08:31:00");
    assert!(
        actions.contains(&format!(
            "handover:{} → 节日值班",
            at("2025-03-04 08:30:00")
        )),
        "{actions:?}"
    );
}

#[test]
fn the_national_window_follows_the_operator_type() {
    for (operator, site_override, expected) in [
        (OperatorType::Other, None, "13:00:00"),
        (OperatorType::CentralStateOrgan, None, "11:00:00"),
        (OperatorType::CriticalInfrastructure, None, "10:00:00"),
        // A site that is critical infrastructure in an ordinary organisation.
        (
            OperatorType::Other,
            Some(OperatorType::CriticalInfrastructure),
            "10:00:00",
        ),
    ] {
        let mut plan = plan();
        plan.regulatory.operator_type = operator;
        plan.sites[0].operator_type = site_override;
        let rules = Rules::new(&plan).expect("rules");
        let mut incident = open_defacement(&rules);
        decide(&mut incident, &rules, "III", "09:05:00");
        assert_eq!(
            clock_of(&rules, &incident, "national_report", "09:06:00"),
            (ClockStatus::Pending, None, at(expected)),
            "{operator:?} {site_override:?}"
        );
    }
    // Level IV: no national report.
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "IV", "09:05:00");
    assert!(
        !clocks(&rules, &incident, at("09:06:00"))
            .iter()
            .any(|clock| clock.name == ClockName::NationalReport)
    );
}

#[test]
fn commands_enforce_the_procedure() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    let check = |incident: &mut Incident, command: Command, expected: Result<(), CommandError>| {
        let before = incident.clone();
        let result = incident.apply(&rules, command.clone(), "主任", at("10:00:00"));
        assert_eq!(result, expected, "{command:?}");
        if result.is_err() {
            assert_eq!(*incident, before, "a refused command changes nothing");
        }
    };
    check(
        &mut incident,
        Command::DecideLevel {
            level: "V".into(),
            reason: "x".into(),
        },
        Err(CommandError::UnknownLevel {
            level: "V".into(),
            known: "I, II, III, IV".into(),
        }),
    );
    check(
        &mut incident,
        Command::Contain {
            note: "cut off".into(),
        },
        Ok(()),
    );
    assert_eq!(incident.state, IncidentState::Contained);
    check(
        &mut incident,
        Command::Transition {
            to: IncidentState::Detected,
        },
        Err(CommandError::Transition(TransitionError::Backward {
            from: IncidentState::Contained,
            to: IncidentState::Detected,
        })),
    );
    check(
        &mut incident,
        Command::Transition {
            to: IncidentState::Closed,
        },
        Err(CommandError::Transition(TransitionError::NotReviewed {
            from: IncidentState::Contained,
        })),
    );
    check(
        &mut incident,
        Command::ConfirmAttack {
            note: "flood".into(),
        },
        Err(CommandError::NotAnOutage(SignalKind::Defacement)),
    );
    check(
        &mut incident,
        Command::Transition {
            to: IncidentState::Recovered,
        },
        Ok(()),
    );
    check(
        &mut incident,
        Command::Report {
            kind: ReportKind::Final,
            note: "调查评估报告".into(),
        },
        Ok(()),
    );
    assert_eq!(incident.state, IncidentState::Reviewed);
    // Level III (suggested from the exposure): the national report is
    // owed, and closing waits for it.
    check(
        &mut incident,
        Command::Report {
            kind: ReportKind::National,
            note: "已报省委网信办".into(),
        },
        Ok(()),
    );
    check(
        &mut incident,
        Command::Transition {
            to: IncidentState::Closed,
        },
        Ok(()),
    );
    check(
        &mut incident,
        Command::Acknowledge,
        Err(CommandError::Closed),
    );
    check(
        &mut incident,
        Command::Note {
            text: "lessons filed".into(),
        },
        Ok(()),
    );
    // A drill signal never joins a real incident.
    let mut real = open_defacement(&rules);
    let mut drill_signal = defacement("portal", "home", "09:01:00");
    drill_signal.drill = true;
    check(
        &mut real,
        Command::Signal {
            signal: drill_signal,
            exposure: None,
        },
        Err(CommandError::DrillMismatch { signal_drill: true }),
    );
    // The timeline holds every step, with actors.
    let kinds: Vec<String> = incident
        .timeline
        .events()
        .iter()
        .map(|event| format!("{:?}", event.kind))
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("Opened"));
    assert!(
        kinds.iter().filter(|kind| *kind == "StateChanged").count() >= 4,
        "{kinds:?}"
    );
}

/// Regression (audit): "not yet" was final — a refused restore could
/// never be approved later. Now the approval asks again and is given,
/// both in the timeline; a yes stays final.
#[test]
fn a_refused_approval_can_be_given_later() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    let restore = 4;
    apply(
        &mut incident,
        &rules,
        Command::RequestApproval { step: restore },
        "白班",
        "09:02:00",
    );
    let answer = |incident: &mut Incident, approved: bool, roles: Vec<Role>, time: &str| {
        incident.apply(
            &rules,
            Command::AnswerApproval {
                request: 0,
                approved,
                roles,
                note: String::new(),
            },
            "组长",
            at(time),
        )
    };
    assert_eq!(
        answer(&mut incident, false, vec![Role::Leader], "09:05:00"),
        Ok(())
    );
    assert!(
        !due_actions(&rules, &incident, at("09:06:00"))
            .iter()
            .any(|action| action.key() == "step:4:restore_pages")
    );
    // Someone who may not approve cannot reopen the question.
    let before = incident.clone();
    assert!(matches!(
        answer(&mut incident, true, vec![Role::DutyOfficer], "09:20:00"),
        Err(CommandError::Approval(ApprovalError::NotAnApprover { .. }))
    ));
    assert_eq!(incident, before, "a refused command changes nothing");
    assert_eq!(
        answer(&mut incident, true, vec![Role::Leader], "09:20:00"),
        Ok(())
    );
    assert_eq!(incident.approvals.len(), 2);
    assert!(incident.approvals[1].answer.as_ref().unwrap().approved);
    assert!(
        due_actions(&rules, &incident, at("09:21:00"))
            .iter()
            .any(|action| action.key() == "step:4:restore_pages"),
        "the approved step runs"
    );
    assert!(
        incident.timeline.events().iter().any(|event| event.detail
            == "approval of step 4 (restore_pages) asked again after its refusal")
    );
    // A yes is final.
    assert!(matches!(
        answer(&mut incident, false, vec![Role::Leader], "09:30:00"),
        Err(CommandError::Approval(
            ApprovalError::AlreadyAnswered { .. }
        ))
    ));
}

/// Regression (audit): `assess` marked the level decided without one, and
/// closing a level III incident dropped its unsent national report.
#[test]
fn assessing_needs_a_level_and_closing_needs_the_national_report() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    let assess = Command::Transition {
        to: IncidentState::Assessed,
    };
    assert_eq!(
        incident.apply(&rules, assess, "主任", at("09:10:00")),
        Err(CommandError::LevelNotDecided)
    );
    decide(&mut incident, &rules, "III", "09:20:00");
    for (command, time) in [
        (
            Command::Transition {
                to: IncidentState::Recovered,
            },
            "10:00:00",
        ),
        (
            Command::Report {
                kind: ReportKind::Final,
                note: "调查评估报告".into(),
            },
            "10:30:00",
        ),
    ] {
        apply(&mut incident, &rules, command, "主任", time);
    }
    let close = Command::Transition {
        to: IncidentState::Closed,
    };
    assert!(matches!(
        incident.apply(&rules, close.clone(), "主任", at("11:00:00")),
        Err(CommandError::NationalReportOwed { .. })
    ));
    report(&mut incident, &rules, ReportKind::National, "11:05:00");
    assert_eq!(
        incident.apply(&rules, close, "主任", at("11:10:00")),
        Ok(())
    );
}

#[test]
fn approvals_wait_for_a_commander() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    // At discovery: the automatic steps run, approval is asked for the rest.
    let keys: Vec<String> = due_actions(&rules, &incident, at("09:00:00"))
        .iter()
        .filter(|action| {
            matches!(
                action,
                Action::RunStep { .. } | Action::RequestApproval { .. }
            )
        })
        .map(|action| action.key().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "approval:4:restore_pages",
            "approval:6:reopen_site",
            "approval:7:report_upward",
            "step:0:preserve_evidence",
            "step:1:contain",
            "step:2:notify",
        ]
    );
    let restore = 4;
    apply(
        &mut incident,
        &rules,
        Command::RequestApproval { step: restore },
        "白班",
        "09:02:00",
    );
    assert!(
        !due_actions(&rules, &incident, at("09:03:00"))
            .iter()
            .any(|action| action.key() == "approval:4:restore_pages")
    );
    let answer = |incident: &mut Incident, roles: Vec<Role>| {
        incident.apply(
            &rules,
            Command::AnswerApproval {
                request: 0,
                approved: true,
                roles,
                note: "同意恢复".into(),
            },
            "组长",
            at("09:08:00"),
        )
    };
    assert_eq!(
        answer(&mut incident, vec![Role::DutyOfficer]),
        Err(CommandError::Approval(ApprovalError::NotAnApprover {
            by: "组长".into(),
            action: "restore_pages",
            allowed: "leader, deputy_leader".into(),
        }))
    );
    assert_eq!(answer(&mut incident, vec![Role::Leader]), Ok(()));
    assert_eq!(
        answer(&mut incident, vec![Role::Leader]),
        Err(CommandError::Approval(ApprovalError::AlreadyAnswered {
            step: 4,
            by: "组长".into()
        }))
    );
    assert_eq!(
        incident.apply(
            &rules,
            Command::RequestApproval { step: 1 },
            "白班",
            at("09:09:00")
        ),
        Err(CommandError::Approval(ApprovalError::NotAnApprovalStep {
            step: 1,
            action: "contain"
        }))
    );
    let statuses: Vec<(&str, &str)> = sitewarden_incident::steps(&rules, &incident)
        .iter()
        .map(|step| (step.action.as_str(), step.status))
        .collect();
    assert_eq!(statuses[4], ("restore_pages", "approved"));
    assert_eq!(statuses[3], ("analyse_logs", "task"));
    // Approved, the step is carried out — from the instruction's time.
    let run: Vec<(String, Timestamp)> = due_actions(&rules, &incident, at("09:08:30"))
        .into_iter()
        .filter_map(|action| match action {
            Action::RunStep { key, at, .. } if key == "step:4:restore_pages" => Some((key, at)),
            _ => None,
        })
        .collect();
    assert_eq!(run, [("step:4:restore_pages".to_string(), at("09:08:00"))]);
    // A refused step is not.
    apply(
        &mut incident,
        &rules,
        Command::RequestApproval { step: 6 },
        "白班",
        "09:09:00",
    );
    incident
        .apply(
            &rules,
            Command::AnswerApproval {
                request: 1,
                approved: false,
                roles: vec![Role::Leader],
                note: "暂不恢复".into(),
            },
            "组长",
            at("09:10:00"),
        )
        .unwrap();
    assert!(
        !due_actions(&rules, &incident, at("09:11:00"))
            .iter()
            .any(|action| action.key() == "step:6:reopen_site")
    );
}

#[test]
fn a_reported_incident_runs_like_a_detected_one() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let incident = Incident::reported(
        3,
        "portal",
        None,
        SignalKind::Ddos,
        "门户网站访问缓慢，疑似流量攻击",
        "白班",
        at("09:00:00"),
        false,
        &rules,
    );
    assert_eq!(incident.source, SignalSource::Manual);
    assert_eq!(incident.reporter.as_deref(), Some("白班"));
    assert_eq!(
        incident.classifications().gbt_2023.subcategory_zh,
        "拒绝服务事件"
    );
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "09:10:00").2,
        at("09:30:00")
    );
    assert!(
        actions_at(&rules, &incident, "09:00:00").contains(&"chain:default:0:0 → 白班".to_owned())
    );
    // The site is down from the report: 2 h of it reaches the level III indicator.
    assert_eq!(
        suggest_level(&rules, &incident, at("11:00:00")).level,
        "III"
    );
}

#[test]
fn the_sample_plan_drives_the_engine() {
    // The plan `sitewarden init` writes (and the demo adapts) must run as is.
    let plan = Plan::from_toml_str(&sitewarden_plan::sample_plan()).expect("the sample plan");
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "III", "09:05:00");
    let actions = actions_at(&rules, &incident, "09:30:00");
    // Monday 09:30: 刘洋 has the weekday day shift; the office director
    // 张丽 calls the cyberspace office and the police (level III).
    assert!(
        actions.contains(&"chain:default:0:2 → 刘洋".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"call:default:4:0:cac → 张丽".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"call:default:4:0:police → 张丽".to_owned()),
        "{actions:?}"
    );
    let routed = due_actions(&rules, &incident, at("09:30:00"))
        .into_iter()
        .find_map(|action| match action {
            Action::Notify {
                recipients,
                step: 0,
                ..
            } => recipients.first().map(|person| person.channels.clone()),
            _ => None,
        });
    assert_eq!(routed, Some(vec!["dingtalk".to_owned(), "sms".to_owned()]));
}

#[test]
fn the_plans_own_level_rules_raise_the_suggestion_when_all_their_conditions_hold() {
    let text = format!(
        "{PLAN}\n[[level_rules]]\nlevel = \"II\"\nreason = \"省级门户首页被篡改超过 10 分钟\"\n\
         kinds = [\"defacement\"]\nimportance = [\"特别重要\"]\n\
         tiers = [\"provincial_government_portal\"]\nmin_exposure_minutes = 10\nhome_page = true\n"
    );
    let plan = Plan::from_toml_str(&text).unwrap_or_else(|errors| panic!("{errors}"));
    let rules = Rules::new(&plan).expect("rules");
    let open = |site: &str, page: &str| {
        Incident::open(
            1,
            "defaced".into(),
            &defacement(site, page, "09:00:00"),
            Some(ExposureStart {
                at: at("09:00:00"),
                basis: StartBasis::LastCleanCheck,
            }),
            &rules,
        )
    };
    let portal = open("portal", "home");
    // Five minutes in: the rule's exposure condition does not hold yet.
    let early = suggest_level(&rules, &portal, at("09:05:00"));
    assert_eq!(early.level, "IV", "{:#?}", early.reasons);
    // Ten minutes in: every condition holds, the plan's reason is cited.
    let late = suggest_level(&rules, &portal, at("09:10:00"));
    assert_eq!(late.level, "II", "{:#?}", late.reasons);
    assert!(
        late.reasons
            .iter()
            .any(|reason| reason.met && reason.text_zh.contains("省级门户首页被篡改超过 10 分钟")),
        "{:#?}",
        late.reasons
    );
    // Not the home page, another tier: the rule does not apply.
    let notices = open("portal", "notices");
    assert_eq!(suggest_level(&rules, &notices, at("09:10:00")).level, "IV");
    let blog = open("blog", "home");
    assert_eq!(suggest_level(&rules, &blog, at("09:10:00")).level, "IV");
}

/// The keys, due times and statuses of the clocks named `name` at `time`.
fn clocks_named(
    rules: &Rules<'_>,
    incident: &Incident,
    name: ClockName,
    time: &str,
) -> Vec<(String, Timestamp, ClockStatus)> {
    clocks(rules, incident, at(time))
        .into_iter()
        .filter(|clock| clock.name == name)
        .map(|clock| (clock.key, clock.due, clock.status))
        .collect()
}

fn report(incident: &mut Incident, rules: &Rules<'_>, kind: ReportKind, time: &str) {
    apply(
        incident,
        rules,
        Command::Report {
            kind,
            note: "态势进展".into(),
        },
        "主任",
        time,
    );
}

/// Regression: deciding level II at 13:39 created progress-report clocks
/// for the changes made while the incident was level IV, already missed
/// ("missed:progress_report:0 … missed by 2 min"), and escalated them to
/// the office director and the deputy leader. Only the changes from the
/// moment a serious level is in force ask for a progress report.
#[test]
fn raising_the_level_does_not_create_progress_reports_already_missed() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    // Change 0: contained, at level IV (suggested).
    apply(
        &mut incident,
        &rules,
        Command::Contain {
            note: "已断网".into(),
        },
        "白班",
        "09:05:00",
    );
    report(&mut incident, &rules, ReportKind::Initial, "09:20:00");
    // Change 1: level IV decided.
    decide(&mut incident, &rules, "IV", "09:40:00");
    // Change 2: another page found defaced.
    apply(
        &mut incident,
        &rules,
        Command::Signal {
            signal: defacement("portal", "notices", "13:07:00"),
            exposure: None,
        },
        "probe",
        "13:07:00",
    );
    carry_out(&mut incident, &rules, "13:38:00");
    // Change 3: raised to II.
    decide(&mut incident, &rules, "II", "13:39:00");
    // Only the raise itself asks for a progress report, 30 min after it.
    assert_eq!(
        clocks_named(&rules, &incident, ClockName::ProgressReport, "13:39:00"),
        [(
            "progress_report:3".to_owned(),
            at("14:09:00"),
            ClockStatus::Pending
        )]
    );
    // (The national report is another matter: its window runs from
    // discovery, 4 h, and level II is above its threshold, so it is late.)
    let due = actions_at(&rules, &incident, "13:39:01");
    assert!(
        !due.iter()
            .any(|action| action.starts_with("missed:progress_report")),
        "no progress report was missed at the moment of the raise: {due:?}"
    );
    // A new page affected counts as a change (it did not before).
    assert_eq!(
        incident
            .situation_changes
            .iter()
            .map(|change| change.what.as_str())
            .collect::<Vec<_>>(),
        [
            "state contained",
            "level IV",
            "page portal/notices affected",
            "level II"
        ]
    );
}

/// Progress reports with a fake clock: each change while serious (a new
/// site, a state) starts its own clock, reminded 5 min before, escalated
/// when missed; a report covers every change before it.
#[test]
fn progress_reports_follow_every_change_while_serious() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "II", "09:10:00");
    report(&mut incident, &rules, ReportKind::Initial, "09:15:00");
    carry_out(&mut incident, &rules, "09:15:00");
    assert_eq!(
        clocks_named(&rules, &incident, ClockName::ProgressReport, "09:15:00"),
        [(
            "progress_report:0".to_owned(),
            at("09:40:00"),
            ClockStatus::Pending
        )]
    );
    assert!(
        actions_at(&rules, &incident, "09:35:00")
            .contains(&"reminder:progress_report:0 → 白班,主任".to_owned()),
        "{:?}",
        actions_at(&rules, &incident, "09:35:00")
    );
    carry_out(&mut incident, &rules, "09:35:00");
    report(&mut incident, &rules, ReportKind::Progress, "09:38:00");
    assert_eq!(
        clock_of(&rules, &incident, "progress_report:0", "09:40:01"),
        (ClockStatus::Met, None, at("09:40:00"))
    );

    // A second site is hit: a change of situation.
    apply(
        &mut incident,
        &rules,
        Command::Signal {
            signal: defacement("blog", "home", "10:00:00"),
            exposure: None,
        },
        "probe",
        "10:00:00",
    );
    // The same page again is no change; a new page of a known site is.
    apply(
        &mut incident,
        &rules,
        Command::Signal {
            signal: defacement("blog", "home", "10:02:00"),
            exposure: None,
        },
        "probe",
        "10:02:00",
    );
    assert_eq!(
        incident
            .situation_changes
            .iter()
            .map(|change| change.what.as_str())
            .collect::<Vec<_>>(),
        ["level II", "site blog affected"]
    );
    // Recovering: a third.
    apply(
        &mut incident,
        &rules,
        Command::Transition {
            to: IncidentState::Recovering,
        },
        "主任",
        "10:20:00",
    );
    // One report at 10:25 covers the blog (10:00) and recovering (10:20).
    report(&mut incident, &rules, ReportKind::Progress, "10:25:00");
    // Recovered at 11:00, and nobody reports it.
    apply(
        &mut incident,
        &rules,
        Command::Transition {
            to: IncidentState::Recovered,
        },
        "主任",
        "11:00:00",
    );
    assert_eq!(
        clocks_named(&rules, &incident, ClockName::ProgressReport, "11:30:40"),
        [
            (
                "progress_report:0".to_owned(),
                at("09:40:00"),
                ClockStatus::Met
            ),
            (
                "progress_report:1".to_owned(),
                at("10:30:00"),
                ClockStatus::Met
            ),
            (
                "progress_report:2".to_owned(),
                at("10:50:00"),
                ClockStatus::Met
            ),
            (
                "progress_report:3".to_owned(),
                at("11:30:00"),
                ClockStatus::Missed
            ),
        ]
    );
    assert!(
        actions_at(&rules, &incident, "11:30:40")
            .contains(&"missed:progress_report:3 → 主任,副组长".to_owned()),
        "{:?}",
        actions_at(&rules, &incident, "11:30:40")
    );
}

/// The suggested level counts too: changes made while the exposure had
/// not yet reached the level II indicator (home page of a provincial
/// portal defaced for 2 h) ask for no progress report; once it has, they
/// do.
#[test]
fn a_suggested_serious_level_asks_for_progress_reports_from_when_it_was_reached() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let hidden_links = Signal {
        kind: SignalKind::HiddenLinks,
        ..defacement("portal", "home", "09:00:00")
    };
    let mut incident = Incident::open(1, "hidden links".into(), &hidden_links, None, &rules);
    // 10:00: the hidden links turn out a defacement, suggested III (1 h of
    // home page defacement).
    apply(
        &mut incident,
        &rules,
        Command::Signal {
            signal: defacement("portal", "home", "10:00:00"),
            exposure: None,
        },
        "probe",
        "10:00:00",
    );
    // 11:10: suggested II (2 h 10 min).
    apply(
        &mut incident,
        &rules,
        Command::Signal {
            signal: defacement("blog", "home", "11:10:00"),
            exposure: None,
        },
        "probe",
        "11:10:00",
    );
    assert_eq!(suggest_level(&rules, &incident, at("11:30:00")).level, "II");
    assert_eq!(
        clocks_named(&rules, &incident, ClockName::ProgressReport, "11:30:00"),
        [(
            "progress_report:1".to_owned(),
            at("11:40:00"),
            ClockStatus::Pending
        )]
    );
}

/// Regression: raising the level on the third day created the daily
/// reports of the days before, already missed. A day's report is asked for
/// when the incident was serious when that day began and at its due time.
#[test]
fn raising_the_level_does_not_create_daily_reports_already_missed() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "IV", "09:40:00");
    decide(&mut incident, &rules, "II", "2025-03-05 10:00:00");
    assert_eq!(
        clocks_named(
            &rules,
            &incident,
            ClockName::DailyReport,
            "2025-03-05 10:00:00"
        ),
        [(
            "daily_report:2025-03-06".to_owned(),
            at("2025-03-06 17:00:00"),
            ClockStatus::Pending
        )]
    );
    // The 5th's report would cover a day that began at level IV: not
    // asked for, not even once its time has passed.
    assert_eq!(
        clocks_named(
            &rules,
            &incident,
            ClockName::DailyReport,
            "2025-03-05 18:00:00"
        ),
        [(
            "daily_report:2025-03-06".to_owned(),
            at("2025-03-06 17:00:00"),
            ClockStatus::Pending
        )]
    );
}

/// Regression: a level II decided after the day's report time (17:20,
/// inside its one-hour deadline) had no daily report the next day, only
/// the day after: the next day had "begun" at 17:00, not serious yet.
#[test]
fn a_level_decided_after_the_daily_time_reports_the_next_day() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "II", "17:20:00");
    assert_eq!(
        clocks_named(&rules, &incident, ClockName::DailyReport, "17:30:00"),
        [(
            "daily_report:2025-03-04".to_owned(),
            at("2025-03-04 17:00:00"),
            ClockStatus::Pending
        )]
    );
    // Raised ten minutes before the daily time: the raise's progress
    // report covers that day; the next one is the first daily report.
    let mut incident = open_defacement(&rules);
    decide(&mut incident, &rules, "IV", "09:40:00");
    decide(&mut incident, &rules, "II", "2025-03-04 16:50:00");
    assert_eq!(
        clocks_named(
            &rules,
            &incident,
            ClockName::DailyReport,
            "2025-03-04 18:00:00"
        )
        .first()
        .map(|clock| clock.0.clone()),
        Some("daily_report:2025-03-05".to_owned())
    );
}

/// Regression: a clock's outcome was recomputed on every read, so a past
/// outcome changed afterwards: lowering the level made the missed national
/// and progress reports vanish, and a plan with a longer initial report
/// turned a missed one into a met one. Once met or missed, a clock's due
/// time and outcome stay as they were.
#[test]
fn a_missed_clock_stays_missed_when_the_level_or_the_plan_changes() {
    let plan = plan();
    let rules = Rules::new(&plan).expect("rules");
    let mut incident = open_defacement(&rules);
    // Level IV (suggested): the initial report is missed, the runner
    // escalates at 09:30:01; the report goes out at 09:45:30.
    carry_out(&mut incident, &rules, "09:30:01");
    decide(&mut incident, &rules, "II", "09:40:00");
    report(&mut incident, &rules, ReportKind::Initial, "09:45:30");
    assert_eq!(
        clock_of(&rules, &incident, "initial_report", "09:46:00"),
        (ClockStatus::Missed, Some(16), at("09:30:00"))
    );
    // At level II: the progress report on the decision (due 10:10) is
    // missed and escalated, and nobody reports it for hours; the national
    // report (due 13:00) goes out 20 min late.
    carry_out(&mut incident, &rules, "10:10:01");
    carry_out(&mut incident, &rules, "13:00:01");
    report(&mut incident, &rules, ReportKind::National, "13:20:00");
    // The level is lowered to IV: neither would be asked for now.
    decide(&mut incident, &rules, "IV", "14:00:00");
    assert_eq!(
        clock_of(&rules, &incident, "national_report", "14:00:00"),
        (ClockStatus::Missed, Some(20), at("13:00:00"))
    );
    // The progress report, still missing, stays missed and late until it
    // goes out (a daily report counts too).
    assert_eq!(
        clock_of(&rules, &incident, "progress_report:0", "14:00:00"),
        (ClockStatus::Missed, Some(230), at("10:10:00"))
    );
    report(&mut incident, &rules, ReportKind::Progress, "14:30:00");
    assert_eq!(
        clock_of(&rules, &incident, "progress_report:0", "16:00:00"),
        (ClockStatus::Missed, Some(260), at("10:10:00"))
    );

    // The plan changes: the initial report gets 60 min, progress reports
    // 6 h. What was missed stays missed, by as much as it was.
    let mut relaxed = plan.clone();
    relaxed.deadlines.initial_report_minutes = 60;
    relaxed.deadlines.progress_report_minutes = 360;
    let relaxed = Rules::new(&relaxed).expect("rules");
    assert_eq!(
        clock_of(&relaxed, &incident, "initial_report", "16:00:00"),
        (ClockStatus::Missed, Some(16), at("09:30:00"))
    );
    assert_eq!(
        clock_of(&relaxed, &incident, "progress_report:0", "16:00:00"),
        (ClockStatus::Missed, Some(260), at("10:10:00"))
    );
    // The risk assessment, met at 09:40, stays met.
    assert_eq!(
        clock_of(&relaxed, &incident, "risk_assessment", "16:00:00"),
        (ClockStatus::Met, None, at("10:00:00"))
    );
    // No escalation of a settled miss comes back.
    assert!(
        !actions_at(&relaxed, &incident, "16:00:00")
            .iter()
            .any(|action| action.starts_with("missed:")),
        "{:?}",
        actions_at(&relaxed, &incident, "16:00:00")
    );

    // The settled clocks travel with the incident (the store keeps its JSON).
    let json = serde_json::to_string(&incident).expect("json");
    let back: Incident = serde_json::from_str(&json).expect("read back");
    assert_eq!(back, incident);
    assert_eq!(
        clock_of(&relaxed, &back, "national_report", "16:00:00"),
        (ClockStatus::Missed, Some(20), at("13:00:00"))
    );
}
