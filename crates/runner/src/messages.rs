//! What the messages say, in the plan's language (`[notifications]
//! language`: Chinese by default, English, or both): what a person needs
//! to act — the site, what was found, how long it was exposed, the level,
//! what was already done (cut off when and how, evidence preserved,
//! offenders blocked, approvals given, reports sent), the next deadline,
//! and for an approval request the exact command that answers it.
//!
//! Everything comes from the incident's engine state and timeline; this
//! module reads no clock and sends nothing.

use jiff::Timestamp;
use sitewarden_incident::time::{human_duration, human_duration_zh};
use sitewarden_incident::{
    Action, ClockStatus, EventKind, Incident, IncidentState, ReportKind, Rules, clocks,
    effective_level,
};
use sitewarden_plan::{MessageLanguage, PlaybookAction};

/// A message's subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject or title.
    pub subject: String,
    /// Body.
    pub body: String,
}

fn local(rules: &Rules<'_>, at: Timestamp) -> String {
    at.to_zoned_datetime(rules.time_zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// One thing said in both languages.
struct Both {
    zh: String,
    en: String,
}

fn both(zh: impl Into<String>, en: impl Into<String>) -> Both {
    Both {
        zh: zh.into(),
        en: en.into(),
    }
}

fn report_name(kind: ReportKind) -> Both {
    match kind {
        ReportKind::Initial => both("初次报告", "initial report"),
        ReportKind::National => both("向主管部门报告", "national report"),
        ReportKind::Progress => both("进展报告", "progress report"),
        ReportKind::Daily => both("日报", "daily report"),
        ReportKind::Final => both("调查评估报告", "investigation and assessment report"),
    }
}

/// The approval request number an approval action is (or will be) under
/// in `incident approve --request N`: the open request for its step, or
/// the next number when the runner has not recorded the request yet.
fn approval_request_number(incident: &Incident, step: usize) -> usize {
    incident
        .approvals
        .iter()
        .position(|request| request.step == step && request.answer.is_none())
        .unwrap_or(incident.approvals.len())
}

/// The automatic playbook steps the runner carried out, from the
/// timeline: (action, when, what it said).
fn steps_done(incident: &Incident) -> Vec<(PlaybookAction, Timestamp, &str)> {
    incident
        .timeline
        .events()
        .iter()
        .filter(|event| event.kind == EventKind::ActionDone)
        .filter_map(|event| {
            // "step:{index}:{action}: {detail}" (see the playbook's step_key).
            let rest = event.detail.strip_prefix("step:")?;
            let (_, rest) = rest.split_once(':')?;
            let (action, detail) = rest.split_once(':').unwrap_or((rest, ""));
            // A site that joined later has its own key: "contain@zfcg".
            let action = action.split('@').next().unwrap_or(action);
            let action: PlaybookAction =
                serde_json::from_value(serde_json::Value::String(action.to_string())).ok()?;
            Some((action, event.at, detail.trim()))
        })
        .collect()
}

/// Whether a contain step's record says every site was cut off (the
/// runner writes "NOT in force" or "FAILED" for a site that was not).
pub(crate) fn contained_in_force(detail: &str) -> bool {
    !(detail.contains("NOT in force") || detail.contains("FAILED"))
}

/// What was already done, one line per item, in the order it was done.
fn done_so_far(rules: &Rules<'_>, incident: &Incident) -> Vec<Both> {
    let mut done: Vec<(Timestamp, Both)> = Vec::new();
    if let Some(at) = incident.entered(IncidentState::Contained) {
        let how = incident
            .timeline
            .events()
            .iter()
            .find_map(|event| {
                (event.kind == EventKind::Note)
                    .then(|| event.detail.strip_prefix("contained: "))
                    .flatten()
            })
            .unwrap_or("");
        let time = local(rules, at);
        done.push((
            at,
            if how.is_empty() {
                both(
                    format!("已切断对外服务（{time}）"),
                    format!("cut off from external service at {time}"),
                )
            } else {
                both(
                    format!("已切断对外服务（{time}）：{how}"),
                    format!("cut off from external service at {time}: {how}"),
                )
            },
        ));
    }
    for (action, at, detail) in steps_done(incident) {
        let time = local(rules, at);
        match action {
            // Said, so nobody takes a failed automatic cut-off for a done one.
            PlaybookAction::Contain if !contained_in_force(detail) => done.push((
                at,
                both(
                    format!("自动切断未生效（{time}），须人工切断：{detail}"),
                    format!("automatic cut-off NOT in force ({time}), cut it off by hand: {detail}"),
                ),
            )),
            PlaybookAction::PreserveEvidence if detail.contains(crate::runner::NO_EVIDENCE) => done.push((
                at,
                both(
                    format!("检测未附带证据（{time}）：须人工截图并收集文件"),
                    format!(
                        "no evidence came with the detection ({time}): take screenshots and collect files by hand"
                    ),
                ),
            )),
            PlaybookAction::PreserveEvidence => done.push((
                at,
                both(
                    format!(
                        "证据已固定（{time}，见 sitewarden incident show {}）",
                        incident.id
                    ),
                    format!(
                        "evidence preserved at {time} (see sitewarden incident show {})",
                        incident.id
                    ),
                ),
            )),
            PlaybookAction::BlockOffenders => done.push((
                at,
                both(
                    format!("已封禁攻击来源（{time}）"),
                    format!("offending addresses blocked at {time}"),
                ),
            )),
            _ => {}
        }
    }
    for acknowledgement in &incident.acknowledgements {
        let time = local(rules, acknowledgement.at);
        done.push((
            acknowledgement.at,
            both(
                format!("已接手：{}（{time}）", acknowledgement.by),
                format!("taken on by {} at {time}", acknowledgement.by),
            ),
        ));
    }
    for request in &incident.approvals {
        let Some(answer) = &request.answer else {
            continue;
        };
        let time = local(rules, answer.at);
        let (verdict_zh, verdict_en) = if answer.approved {
            ("已批准", "approved")
        } else {
            ("未批准", "refused")
        };
        let (note_zh, note_en) = if answer.note.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("：{}", answer.note), format!(": {}", answer.note))
        };
        done.push((
            answer.at,
            both(
                format!(
                    "{verdict_zh}{}（{}，{time}）{note_zh}",
                    request.action.name_zh(),
                    answer.by
                ),
                format!(
                    "{} {verdict_en} by {} at {time}{note_en}",
                    request.action.as_str(),
                    answer.by
                ),
            ),
        ));
    }
    for report in &incident.reports {
        let name = report_name(report.kind);
        let time = local(rules, report.at);
        done.push((
            report.at,
            both(
                format!("已发出{}（{}，{time}）", name.zh, report.by),
                format!("{} sent by {} at {time}", name.en, report.by),
            ),
        ));
    }
    // Stable: things done at the same minute keep the order above.
    done.sort_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, item)| item).collect()
}

/// Renders the message for an action about an incident, for the person
/// `recipient` (named in an approval request's command) when known.
pub fn render(
    rules: &Rules<'_>,
    incident: &Incident,
    action: &Action,
    now: Timestamp,
    recipient: Option<&str>,
) -> Rendered {
    let language = rules.plan.notifications.language;
    let level = effective_level(rules, incident, now);
    let decided = incident.decided_level().is_some();
    let id = incident.id;
    let purpose = match action {
        Action::Reminder { clock, due, .. } => both(
            format!("提醒：{} 截止 {}", clock.name_zh(), local(rules, *due)),
            format!("Reminder: {} due {}", clock.name_en(), local(rules, *due)),
        ),
        Action::Escalate {
            clock,
            missed_by_seconds,
            ..
        } => both(
            format!(
                "升级：{} 已超时 {}",
                clock.name_zh(),
                human_duration_zh(*missed_by_seconds)
            ),
            format!(
                "Escalation: {} missed by {}",
                clock.name_en(),
                human_duration(*missed_by_seconds)
            ),
        ),
        Action::Notify { chain, step, .. } => both(
            format!("事件通知（{chain} 第 {} 步）", step + 1),
            format!("Incident notice ({chain}, step {})", step + 1),
        ),
        Action::RequestApproval {
            action, approvers, ..
        } => both(
            format!(
                "请审批：{}（审批人：{}）",
                action.name_zh(),
                approvers
                    .iter()
                    .map(|r| r.name_zh())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            format!(
                "Approval needed: {} (approvers: {})",
                action.as_str(),
                approvers
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Action::HandOver { from, .. } => both(
            format!("交接班：事件仍在处置中（交班人：{}）", from.join("、")),
            format!(
                "Hand-over: the incident is still open (handed over by {})",
                from.join(", ")
            ),
        ),
        Action::CallTask {
            name, phone, fax, ..
        } => {
            let phone = phone.as_deref().unwrap_or("见通讯录 see the plan");
            match fax {
                Some(fax) => both(
                    format!("请致电 {name}（电话 {phone}），随后传真（{fax}）"),
                    format!("Please call {name} (phone {phone}), then fax ({fax})"),
                ),
                None => both(
                    format!("请致电 {name}（电话 {phone}）"),
                    format!("Please call {name} (phone {phone})"),
                ),
            }
        }
        // A contain step is only told to people when it was not in force
        // (the runner's `cut_off_by_hand`).
        Action::RunStep {
            action: PlaybookAction::Contain,
            sites,
            ..
        } => both(
            format!("自动切断未生效，请立即人工切断：{}", sites.join("、")),
            format!(
                "automatic cut-off NOT in force: cut {} off by hand now",
                sites.join(", ")
            ),
        ),
        Action::RunStep { action, .. } => both(
            format!("预案步骤：{}", action.name_zh()),
            format!("Playbook step: {}", action.as_str()),
        ),
    };
    // The exact command the recipient runs: the answer to an approval
    // request, the record of a call made.
    let name_zh = recipient.unwrap_or("姓名");
    let name_en = recipient.unwrap_or("NAME");
    let answer = match action {
        Action::RequestApproval { step, .. } => {
            let number = approval_request_number(incident, *step);
            let command = |name: &str| {
                format!("sitewarden incident approve {id} --request {number} --by {name}")
            };
            Some(both(
                format!(
                    "批准请执行：{}（不批准请加 --deny，可用 --note 附指示）",
                    command(name_zh)
                ),
                format!(
                    "To approve, run: {} (add --deny to refuse, --note for an instruction)",
                    command(name_en)
                ),
            ))
        }
        Action::CallTask { contact, .. } => {
            let command = |name: &str| {
                format!("sitewarden incident contacted {id} --contact {contact} --by {name} --fax")
            };
            Some(both(
                format!(
                    "打完电话请执行：{}（未传真则去掉 --fax，可用 --note 记录要点）",
                    command(name_zh)
                ),
                format!(
                    "Once called, run: {} (leave out --fax if no fax went, --note for what was agreed)",
                    command(name_en)
                ),
            ))
        }
        _ => None,
    };

    // A drill must read as one; titles of detected drills already say so.
    let drill = incident.drill && !incident.title.contains("演练");
    let subject = match language {
        MessageLanguage::En => format!(
            "{}[Level {level}{}] {} — {}",
            if drill { "[DRILL] " } else { "" },
            if decided { "" } else { " (suggested)" },
            incident.title,
            purpose.en
        ),
        MessageLanguage::ZhCn | MessageLanguage::Both => format!(
            "{}【{level}级{}】{} — {}",
            if drill { "【演练 DRILL】" } else { "" },
            if decided { "" } else { "(建议)" },
            incident.title,
            purpose.zh
        ),
    };

    let found: Vec<&str> = incident
        .timeline
        .events()
        .iter()
        .filter(|event| event.kind == EventKind::Signal)
        .map(|event| event.detail.as_str())
        .collect();
    let exposures: Vec<(String, String)> = incident
        .exposures
        .iter()
        .map(|exposure| exposure.describe(now))
        .collect();
    let done = done_so_far(rules, incident);
    let next = clocks(rules, incident, now)
        .into_iter()
        .filter(|clock| clock.status == ClockStatus::Pending)
        .min_by_key(|clock| clock.due);
    let sites = incident.sites.join("、");
    let discovered = local(rules, incident.discovered_at);

    let mut sections = Vec::new();
    if language.chinese() {
        let mut zh = vec![purpose.zh.clone()];
        if let Some(answer) = &answer {
            zh.push(answer.zh.clone());
        }
        zh.push(format!("事件编号：#{id}"));
        zh.push(format!("网站：{sites}"));
        zh.push(format!("发现时间：{discovered}"));
        zh.push(format!(
            "事件级别：{level}{}",
            if decided {
                "（已判定）"
            } else {
                "（系统建议，待判定）"
            }
        ));
        zh.push(format!("当前状态：{}", incident.state.name_zh()));
        zh.push(format!(
            "发现情况：{}",
            if found.is_empty() {
                "—".to_string()
            } else {
                found.join("；")
            }
        ));
        zh.push(format!(
            "暴露时间：{}",
            if exposures.is_empty() {
                "—".to_string()
            } else {
                exposures
                    .iter()
                    .map(|(_, zh)| zh.as_str())
                    .collect::<Vec<_>>()
                    .join("；")
            }
        ));
        if done.is_empty() {
            zh.push("已采取措施：尚无".to_string());
        } else {
            zh.push("已采取措施：".to_string());
            zh.extend(done.iter().map(|item| format!("  - {}", item.zh)));
        }
        zh.push(format!(
            "下一截止：{}",
            next.as_ref()
                .map(|clock| format!("{}：{}", clock.name.name_zh(), local(rules, clock.due)))
                .unwrap_or_else(|| "无".into())
        ));
        zh.push(format!("详情：sitewarden incident show {id}"));
        sections.push(zh.join("\n"));
    }
    if language.english() {
        let mut en = vec![purpose.en.clone()];
        if let Some(answer) = &answer {
            en.push(answer.en.clone());
        }
        en.push(format!(
            "Incident #{id} on {sites}, discovered {discovered}; level {level}{}; state {}.",
            if decided {
                " (decided)"
            } else {
                " (suggested, not yet decided)"
            },
            incident.state.as_str()
        ));
        if !found.is_empty() {
            en.push(format!("Found: {}.", found.join("; ")));
        }
        en.push(format!(
            "Exposure: {}.",
            if exposures.is_empty() {
                "none measured".to_string()
            } else {
                exposures
                    .iter()
                    .map(|(en, _)| en.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        ));
        if done.is_empty() {
            en.push("Done so far: nothing yet.".to_string());
        } else {
            en.push("Done so far:".to_string());
            en.extend(done.iter().map(|item| format!("  - {}", item.en)));
        }
        en.push(format!(
            "Next deadline: {}.",
            next.as_ref()
                .map(|clock| format!("{} by {}", clock.name.name_en(), local(rules, clock.due)))
                .unwrap_or_else(|| "none".into())
        ));
        en.push(format!("Details: sitewarden incident show {id}"));
        sections.push(en.join("\n"));
    }
    Rendered {
        subject,
        body: sections.join("\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use sitewarden_incident::{Command, SignalKind};
    use sitewarden_plan::{Plan, Role};

    fn plan(language: Option<&str>) -> Plan {
        let notifications = language
            .map(|language| format!("[notifications]\nlanguage = \"{language}\"\n"))
            .unwrap_or_default();
        Plan::from_toml_str(&format!(
            r#"
[organisation]
name = "示例县人民政府"

[[sites]]
name = "county"
title = "示例县人民政府门户网站"

[[sites.pages]]
name = "home"
url = "https://www.example.gov.test/"

{notifications}"#
        ))
        .expect("valid plan")
    }

    const DISCOVERED: &str = "2026-11-26T01:00:00Z";

    /// Incident `id`: a defacement of county's home page reported by 王小明
    /// at 09:00 (Asia/Shanghai), nothing done yet.
    fn reported_defacement(rules: &Rules<'_>, id: i64) -> Incident {
        Incident::reported(
            id,
            "county",
            Some("home"),
            SignalKind::Defacement,
            "首页出现博彩内容",
            "王小明",
            DISCOVERED.parse().unwrap(),
            false,
            rules,
        )
    }

    /// A defacement of the home page reported at 09:00 (Asia/Shanghai),
    /// evidence preserved and cut off two minutes later, the restore
    /// approved at 09:20.
    fn handled_incident(rules: &Rules<'_>) -> Incident {
        let discovered: Timestamp = DISCOVERED.parse().unwrap();
        let mut incident = reported_defacement(rules, 4);
        let mut apply = |command, actor: &str, minutes: i64| {
            incident
                .apply(rules, command, actor, discovered + minutes.minutes())
                .unwrap()
        };
        apply(
            Command::ActionDone {
                key: "step:0:preserve_evidence".into(),
                detail: "evidence preserved by the detector".into(),
            },
            "sitewarden",
            1,
        );
        apply(
            Command::Contain {
                note: "cut off automatically: county (gateway)".into(),
            },
            "sitewarden",
            2,
        );
        apply(Command::RequestApproval { step: 4 }, "sitewarden", 2);
        apply(
            Command::AnswerApproval {
                request: 0,
                approved: true,
                roles: vec![Role::Leader],
                note: "先恢复首页".into(),
            },
            "张丽",
            20,
        );
        incident
    }

    fn notice(incident: &Incident) -> Action {
        Action::Notify {
            key: "notify:duty_officer:0".into(),
            at: incident.discovered_at,
            chain: "internal".into(),
            step: 0,
            repeat: 0,
            recipients: Vec::new(),
            unstaffed_roles: Vec::new(),
        }
    }

    #[test]
    fn messages_say_what_was_done_and_how_long_it_was_exposed() {
        let plan = plan(Some("both"));
        let rules = Rules::new(&plan).unwrap();
        let incident = handled_incident(&rules);
        let now = incident.discovered_at + 30.minutes();
        let message = render(&rules, &incident, &notice(&incident), now, None);
        for expected in [
            "已切断对外服务（2026-11-26 09:02）：cut off automatically: county (gateway)",
            "证据已固定（2026-11-26 09:01",
            "已批准恢复被篡改网页（张丽，2026-11-26 09:20）：先恢复首页",
            "暴露时间：county 首页出现篡改内容2分",
            "cut off from external service at 2026-11-26 09:02",
            "evidence preserved at 2026-11-26 09:01",
            "restore_pages approved by 张丽 at 2026-11-26 09:20",
            "Exposure: home page of county showed defaced content for 2 min",
        ] {
            assert!(
                message.body.contains(expected),
                "{expected:?} missing from:\n{}",
                message.body
            );
        }
    }

    /// Regression: an escalation sent 40 s after a missed deadline said
    /// "missed by 1 min".
    #[test]
    fn an_escalation_says_how_late_to_the_second() {
        let plan = plan(Some("both"));
        let rules = Rules::new(&plan).unwrap();
        let incident = handled_incident(&rules);
        let due = incident.discovered_at + 30.minutes();
        let action = Action::Escalate {
            key: "missed:initial_report".into(),
            at: due,
            clock: sitewarden_incident::ClockName::InitialReport,
            clock_key: "initial_report".into(),
            missed_by_seconds: 40,
            recipients: Vec::new(),
        };
        let message = render(&rules, &incident, &action, due + 40.seconds(), None);
        let text = format!("{}\n{}", message.subject, message.body);
        assert!(
            text.contains("已超时 40秒") && text.contains("missed by 40 s"),
            "{text}"
        );
        assert!(
            !text.contains("1 min") && !text.contains("1 分钟"),
            "{text}"
        );
    }

    /// Regression (audit): a cut-off that was not in force, and evidence
    /// that never came, read in the messages as done.
    #[test]
    fn messages_say_when_the_cut_off_failed_and_evidence_is_missing() {
        let plan = plan(Some("both"));
        let rules = Rules::new(&plan).unwrap();
        let discovered: Timestamp = DISCOVERED.parse().unwrap();
        let mut incident = reported_defacement(&rules, 5);
        for (key, detail) in [
            (
                "step:0:preserve_evidence",
                format!(
                    "preserve_evidence (保护现场): {} (a person's report): collect screenshots \
                     and files by hand",
                    crate::runner::NO_EVIDENCE
                ),
            ),
            (
                "step:1:contain",
                "contain (切断): county: NOT in force — no automatic containment backend".into(),
            ),
        ] {
            incident
                .apply(
                    &rules,
                    Command::ActionDone {
                        key: key.into(),
                        detail,
                    },
                    "sitewarden",
                    discovered + 1.minutes(),
                )
                .unwrap();
        }
        let message = render(
            &rules,
            &incident,
            &notice(&incident),
            discovered + 2.minutes(),
            None,
        );
        for expected in [
            "自动切断未生效（2026-11-26 09:01），须人工切断",
            "automatic cut-off NOT in force (2026-11-26 09:01), cut it off by hand",
            "检测未附带证据（2026-11-26 09:01）",
        ] {
            assert!(
                message.body.contains(expected),
                "{expected:?} missing from:\n{}",
                message.body
            );
        }
        assert!(!message.body.contains("证据已固定"), "{}", message.body);
    }

    #[test]
    fn a_call_task_gives_the_numbers_and_the_command_that_records_the_call() {
        let plan = plan(None);
        let rules = Rules::new(&plan).unwrap();
        let incident = handled_incident(&rules);
        let action = Action::CallTask {
            key: "call:default:4:0:cac".into(),
            at: incident.discovered_at,
            contact: "cac".into(),
            name: "示例省委网信办".into(),
            kind: sitewarden_plan::ContactKind::CyberspaceOffice,
            phone: Some("0000-66000007".into()),
            fax: Some("0000-66000008".into()),
            assignees: Vec::new(),
        };
        let message = render(
            &rules,
            &incident,
            &action,
            incident.discovered_at,
            Some("李建国"),
        );
        let text = format!("{}\n{}", message.subject, message.body);
        for expected in [
            "请致电 示例省委网信办（电话 0000-66000007），随后传真（0000-66000008）",
            "sitewarden incident contacted 4 --contact cac --by 李建国 --fax",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn an_approval_request_gives_the_exact_command_for_its_recipient() {
        let plan = plan(None);
        let rules = Rules::new(&plan).unwrap();
        let incident = handled_incident(&rules);
        let action = Action::RequestApproval {
            key: "approval:6:reopen_site".into(),
            at: incident.discovered_at,
            step: 6,
            action: PlaybookAction::ReopenSite,
            approvers: vec![Role::Leader],
            recipients: Vec::new(),
        };
        // Not yet recorded by the runner: it will be request 1.
        let message = render(
            &rules,
            &incident,
            &action,
            incident.discovered_at,
            Some("张丽"),
        );
        assert!(
            message
                .body
                .contains("sitewarden incident approve 4 --request 1 --by 张丽"),
            "{}",
            message.body
        );
        // Recorded (a restart before the runner marked it done): the same number.
        let mut asked = incident.clone();
        asked
            .apply(
                &rules,
                Command::RequestApproval { step: 6 },
                "sitewarden",
                incident.discovered_at,
            )
            .unwrap();
        let again = render(
            &rules,
            &asked,
            &action,
            incident.discovered_at,
            Some("张丽"),
        );
        assert!(
            again.body.contains("--request 1 --by 张丽"),
            "{}",
            again.body
        );
    }

    #[test]
    fn the_plan_chooses_the_language_chinese_by_default() {
        let check = |language: Option<&str>, chinese: bool, english: bool| {
            let plan = plan(language);
            let rules = Rules::new(&plan).unwrap();
            let incident = handled_incident(&rules);
            let message = render(
                &rules,
                &incident,
                &notice(&incident),
                incident.discovered_at,
                None,
            );
            assert_eq!(
                message.body.contains("事件编号：#4"),
                chinese,
                "{language:?}: {}",
                message.body
            );
            assert_eq!(
                message.body.contains("Incident #4 on county"),
                english,
                "{language:?}: {}",
                message.body
            );
            assert_eq!(
                message.subject.contains("事件通知"),
                chinese,
                "{language:?}: {}",
                message.subject
            );
        };
        check(None, true, false);
        check(Some("zh-CN"), true, false);
        check(Some("en"), false, true);
        check(Some("both"), true, true);
    }
}
