//! What the messages say: zh-CN first (the plan's language), English
//! after, with what a person needs to act — the site, what was found, the
//! level, what was already done, and the next deadline.

use jiff::Timestamp;
use sitewarden_incident::{Action, ClockStatus, Incident, Rules, clocks, effective_level};

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

/// Renders the message for an action about an incident.
pub fn render(rules: &Rules<'_>, incident: &Incident, action: &Action, now: Timestamp) -> Rendered {
    let level = effective_level(rules, incident, now);
    let decided = incident.decided_level().is_some();
    // A drill must read as one; titles of detected drills already say so.
    let drill = if incident.drill && !incident.title.contains("演练") {
        "【演练 DRILL】"
    } else {
        ""
    };
    let (purpose_zh, purpose_en) = match action {
        Action::Reminder { clock, due, .. } => (
            format!("提醒：{} 截止 {}", clock.name_zh(), local(rules, *due)),
            format!("Reminder: {} due {}", clock.name_en(), local(rules, *due)),
        ),
        Action::Escalate {
            clock,
            missed_by_minutes,
            ..
        } => (
            format!("升级：{} 已超时 {missed_by_minutes} 分钟", clock.name_zh()),
            format!(
                "Escalation: {} missed by {missed_by_minutes} min",
                clock.name_en()
            ),
        ),
        Action::Notify { chain, step, .. } => (
            format!("事件通知（{chain} 第 {} 步）", step + 1),
            format!("Incident notice ({chain}, step {})", step + 1),
        ),
        Action::RequestApproval {
            action, approvers, ..
        } => (
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
        Action::HandOver { from, .. } => (
            format!("交接班：事件仍在处置中（交班人：{}）", from.join("、")),
            format!(
                "Hand-over: the incident is still open (handed over by {})",
                from.join(", ")
            ),
        ),
        Action::CallTask { name, .. } => (format!("请致电 {name}"), format!("Please call {name}")),
        Action::RunStep { action, .. } => (
            format!("预案步骤：{}", action.name_zh()),
            format!("Playbook step: {}", action.as_str()),
        ),
    };
    let subject = format!(
        "{drill}【{level}级{}】{} — {purpose_zh}",
        if decided { "" } else { "(建议)" },
        incident.title
    );
    let found: Vec<&str> = incident
        .timeline
        .events()
        .iter()
        .filter(|event| event.kind == sitewarden_incident::EventKind::Signal)
        .map(|event| event.detail.as_str())
        .collect();
    let next = clocks(rules, incident, now)
        .into_iter()
        .filter(|clock| clock.status == ClockStatus::Pending)
        .min_by_key(|clock| clock.due);
    let next_zh = next
        .as_ref()
        .map(|clock| format!("{}：{}", clock.name.name_zh(), local(rules, clock.due)))
        .unwrap_or_else(|| "无".into());
    let next_en = next
        .as_ref()
        .map(|clock| format!("{} by {}", clock.name.name_en(), local(rules, clock.due)))
        .unwrap_or_else(|| "none".into());
    let body = format!(
        "{purpose_zh}\n\
         事件编号：#{id}\n\
         网站：{sites}\n\
         发现时间：{discovered}\n\
         事件级别：{level}{level_note}\n\
         当前状态：{state}\n\
         发现情况：{found}\n\
         下一截止：{next_zh}\n\
         \n\
         {purpose_en}\n\
         Incident #{id} on {sites}, discovered {discovered}; level {level}{level_note_en}; state {state_en}.\n\
         Next deadline: {next_en}.\n\
         sitewarden incident show {id}",
        id = incident.id,
        sites = incident.sites.join("、"),
        discovered = local(rules, incident.discovered_at),
        level_note = if decided {
            "（已判定）"
        } else {
            "（系统建议，待判定）"
        },
        level_note_en = if decided {
            " (decided)"
        } else {
            " (suggested, not yet decided)"
        },
        state = incident.state.name_zh(),
        state_en = incident.state.as_str(),
        found = if found.is_empty() {
            "—".to_string()
        } else {
            found.join("；")
        },
    );
    Rendered { subject, body }
}
