//! `sitewarden incident …`: list and show incidents with their level,
//! clocks and exposure; open one a person observed; and every act of the
//! people who handle it, each recorded in the incident's timeline.

use super::{load_plan, open_existing_store};
use crate::cli::{ActArgs, IncidentCommand};
use crate::output;
use jiff::Timestamp;
use sitewarden_incident::time::human_duration;
use sitewarden_incident::{
    Clock, ClockStatus, Command, Incident, IncidentState, ReportKind, Rules, SignalKind,
    call_tasks, clocks, effective_level, steps, suggest_level,
};
use sitewarden_plan::Plan;
use sitewarden_store::{
    ApplyError, IncidentDetail, IncidentSummary, OutboxMessage, OutboxState, Store,
};
use std::path::Path;
use std::process::ExitCode;

/// Runs one incident command.
pub async fn run(command: IncidentCommand) -> anyhow::Result<ExitCode> {
    match command {
        IncidentCommand::List { plan, data, json } => list(&plan.plan, &data.data, json).await,
        IncidentCommand::Show {
            id,
            plan,
            data,
            json,
        } => show(&plan.plan, &data.data, id, json).await,
        IncidentCommand::Open {
            plan,
            data,
            site,
            page,
            kind,
            summary,
            discovered_at,
            drill,
            by,
        } => {
            let plan = load_plan(&plan.plan)?;
            let Some(plan_site) = plan.site(&site) else {
                let known: Vec<_> = plan.sites.iter().map(|site| site.name.as_str()).collect();
                anyhow::bail!("no site {site:?} in the plan; sites: {}", known.join(", "));
            };
            if let Some(page) = &page
                && !plan_site.pages.iter().any(|known| &known.name == page)
            {
                let known: Vec<_> = plan_site
                    .pages
                    .iter()
                    .map(|page| page.name.as_str())
                    .collect();
                anyhow::bail!(
                    "no page {page:?} of {site} in the plan; its pages: {}",
                    known.join(", ")
                );
            }
            if summary.trim().is_empty() {
                anyhow::bail!("--summary must say what was observed");
            }
            let kind: SignalKind = kind.parse().map_err(|error: String| {
                anyhow::anyhow!(
                    "--kind: {error} (defacement, hidden-links, webshell, ddos, outage, other)"
                )
            })?;
            let discovered_at = match discovered_at {
                Some(text) => text
                    .parse::<Timestamp>()
                    .map_err(|error| anyhow::anyhow!("--discovered-at {text:?}: {error} (RFC 3339, e.g. 2026-11-26T09:00:00+08:00)"))?,
                None => Timestamp::now(),
            };
            // A report from the future would hold every clock and step
            // back until then (a little clock skew is allowed).
            if discovered_at > Timestamp::now() + jiff::SignedDuration::from_mins(5) {
                anyhow::bail!(
                    "--discovered-at {discovered_at} is in the future: give the time it was observed"
                );
            }
            let store = super::open_store_with_plan(&data.data, &plan).await?;
            let (incident, joined) = store
                .open_reported_incident(
                    &site,
                    page.as_deref(),
                    kind,
                    &summary,
                    &by,
                    discovered_at,
                    drill,
                )
                .await?;
            store.close().await;
            if joined {
                // Already being handled: one incident, one set of clocks.
                println!(
                    "reported by {by}: joined incident #{} ({}), which covers {}",
                    incident.id,
                    incident.title,
                    incident.sites.join(", ")
                );
            } else {
                println!(
                    "incident #{} opened: {} (reported by {by})",
                    incident.id, incident.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        IncidentCommand::Ack { act } => apply(&act, Command::Acknowledge).await,
        IncidentCommand::Level { act, to, reason } => {
            apply(&act, Command::DecideLevel { level: to, reason }).await
        }
        IncidentCommand::Assess { act } => {
            apply(
                &act,
                Command::Transition {
                    to: IncidentState::Assessed,
                },
            )
            .await
        }
        IncidentCommand::Report { act, kind, note } => {
            let kind = match kind.as_str() {
                "initial" => ReportKind::Initial,
                "national" => ReportKind::National,
                "progress" => ReportKind::Progress,
                "daily" => ReportKind::Daily,
                "final" => ReportKind::Final,
                other => anyhow::bail!(
                    "--kind {other:?}: one of initial, national, progress, daily, final"
                ),
            };
            apply(&act, Command::Report { kind, note }).await
        }
        IncidentCommand::Contain { act, note } => apply(&act, Command::Contain { note }).await,
        IncidentCommand::Approve {
            act,
            request,
            deny,
            note,
        } => {
            let plan = load_plan(&act.plan.plan)?;
            let Some(person) = plan.roster.iter().find(|person| person.name == act.by) else {
                anyhow::bail!(
                    "{:?} is not in the plan's roster: only people named there can approve",
                    act.by
                );
            };
            let roles = person.roles.clone();
            apply(
                &act,
                Command::AnswerApproval {
                    request,
                    approved: !deny,
                    roles,
                    note,
                },
            )
            .await
        }
        IncidentCommand::Contacted {
            act,
            contact,
            fax,
            note,
        } => {
            apply(
                &act,
                Command::Contacted {
                    contact,
                    fax_sent: fax,
                    note,
                },
            )
            .await
        }
        IncidentCommand::Note { act, text } => apply(&act, Command::Note { text }).await,
        IncidentCommand::Resolve { act } => {
            apply(
                &act,
                Command::Transition {
                    to: IncidentState::Recovered,
                },
            )
            .await
        }
        IncidentCommand::Review { act } => {
            apply(
                &act,
                Command::Transition {
                    to: IncidentState::Reviewed,
                },
            )
            .await
        }
        IncidentCommand::Close { act } => {
            apply(
                &act,
                Command::Transition {
                    to: IncidentState::Closed,
                },
            )
            .await
        }
        IncidentCommand::FalseAlarm { act, reason } => {
            apply(&act, Command::FalseAlarm { reason }).await
        }
    }
}

/// Applies one person's act to an incident; a refusal is an error that
/// says why, and changes nothing.
async fn apply(act: &ActArgs, command: Command) -> anyhow::Result<ExitCode> {
    let plan = load_plan(&act.plan.plan)?;
    // Every act is recorded with its actor: a name the plan's roster knows,
    // not whoever the shell user happens to be.
    if !plan.roster.iter().any(|person| person.name == act.by) {
        anyhow::bail!(
            "refused: {:?} is not in the plan's roster; give your roster name with --by ({})",
            act.by,
            plan.roster
                .iter()
                .map(|person| person.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store = open_existing_store(&act.data.data)
        .await?
        .with_plan(std::sync::Arc::new(plan))
        .map_err(|error| anyhow::anyhow!("the plan cannot run the incident engine: {error}"))?;
    let result = store
        .apply_command(act.id, command, &act.by, Timestamp::now())
        .await;
    store.close().await;
    match result {
        Ok(incident) => {
            if let Some(event) = incident.timeline.events().last() {
                println!(
                    "incident #{}: {} — {}",
                    incident.id,
                    event.detail,
                    incident.state.name_zh()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ApplyError::Refused { id, source }) => {
            eprintln!("incident #{id}: refused: {source}");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

/// The plan for engine views, when its file is there; list and show work
/// without it (no level, no clocks).
fn optional_plan(path: &Path) -> anyhow::Result<Option<Plan>> {
    if !path.exists() {
        eprintln!(
            "note: no plan at {} (--plan FILE): levels and clocks are not shown",
            path.display()
        );
        return Ok(None);
    }
    load_plan(path).map(Some)
}

/// The chain's call/fax tasks to outside authorities: made (by whom,
/// when, fax or not) or still to make, with the command that records it.
fn print_call_tasks(rules: &Rules<'_>, engine: &Incident, id: i64) {
    let tasks = call_tasks(engine);
    if tasks.is_empty() {
        return;
    }
    println!();
    println!("outside authorities (call, then fax):");
    for task in tasks {
        let contact = rules.plan.external_contact(&task.contact);
        let name = contact.map_or(task.contact.as_str(), |contact| contact.name.as_str());
        let numbers = contact
            .map(|contact| {
                [
                    contact
                        .phone
                        .as_deref()
                        .map(|phone| format!("phone {phone}")),
                    contact.fax.as_deref().map(|fax| format!("fax {fax}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
            })
            .unwrap_or_default();
        match task.reached {
            Some(reached) => println!(
                "  {name} ({}): reached by {} at {}{}{}",
                task.contact,
                reached.by,
                output::time(reached.at.as_millisecond()),
                if reached.fax_sent {
                    ", fax sent"
                } else {
                    ", no fax yet"
                },
                if reached.note.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", reached.note)
                }
            ),
            None => println!(
                "  {name} ({}): TO CALL{}{} — then `sitewarden incident contacted {id} \
                 --contact {} --by NAME [--fax]`",
                task.contact,
                if numbers.is_empty() {
                    String::new()
                } else {
                    format!(" ({numbers})")
                },
                task.given_at
                    .map(|at| format!(", task given {}", output::time(at.as_millisecond())))
                    .unwrap_or_default(),
                task.contact
            ),
        }
    }
}

/// The engine's views of an incident: level, suggestion, clocks, steps.
fn engine_json(rules: &Rules<'_>, incident: &Incident, now: Timestamp) -> serde_json::Value {
    let suggestion = suggest_level(rules, incident, now);
    serde_json::json!({
        "level": effective_level(rules, incident, now),
        "suggested_level": suggestion.level,
        "suggested_level_reasons": suggestion.reasons,
        "suggested_level_rises_at": suggestion.rises_at,
        "decided_level": incident.decided_level(),
        "clocks": clocks(rules, incident, now),
        "exposures": incident.exposures,
        "classifications": incident.classifications(),
        "acknowledgements": incident.acknowledgements,
        "reports": incident.reports,
        "approvals": incident.approvals,
        "call_tasks": call_tasks(incident),
        "playbook": steps(rules, incident),
        "reporter": incident.reporter,
    })
}

/// One clock for people: its key, due time, reminder time and outcome,
/// late by seconds under a minute ("missed by 40 s", never "1 min").
fn clock_line(clock: &Clock) -> String {
    let reminder = clock
        .warn_at
        .map(|warn_at| format!("  reminder {}", output::time(warn_at.as_millisecond())))
        .unwrap_or_default();
    let status = match clock.status {
        ClockStatus::Pending => "pending".to_owned(),
        ClockStatus::Met => "met".to_owned(),
        ClockStatus::Missed => format!(
            "missed by {}",
            human_duration(clock.missed_by_seconds.unwrap_or(0))
        ),
    };
    let done = clock
        .done_at
        .map(|done_at| format!(" (done {})", output::time(done_at.as_millisecond())))
        .unwrap_or_default();
    format!(
        "{:<24} due {}{reminder}  {status}{done}",
        clock.key,
        output::time(clock.due.as_millisecond())
    )
}

fn summary_json(incident: &IncidentSummary) -> serde_json::Value {
    serde_json::json!({
        "id": incident.id,
        "site": incident.site,
        "sites": incident.sites,
        "kind": incident.kind,
        "title": incident.title,
        "category": incident.category,
        "subcategory": incident.subcategory,
        "state": incident.state.as_str(),
        "drill": incident.drill,
        "false_alarm": incident.false_alarm,
        "discovered_at_ms": incident.discovered_at,
        "updated_at_ms": incident.updated_at,
        "signals": incident.signal_count,
    })
}

/// The summary with the engine's views merged in, when there are any.
async fn incident_json(
    store: &Store,
    rules: Option<&Rules<'_>>,
    summary: &IncidentSummary,
    now: Timestamp,
) -> anyhow::Result<serde_json::Value> {
    let mut json = summary_json(summary);
    if let (Some(rules), Some(incident)) = (rules, store.engine_incident(summary.id).await?)
        && let (Some(object), serde_json::Value::Object(engine)) =
            (json.as_object_mut(), engine_json(rules, &incident, now))
    {
        object.extend(engine);
    }
    Ok(json)
}

/// Lists all incidents, newest first.
async fn list(plan_path: &Path, data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plan = optional_plan(plan_path)?;
    let rules = plan.as_ref().map(Rules::new).transpose()?;
    let store = open_existing_store(data).await?;
    let incidents = store.incidents().await?;
    let now = Timestamp::now();
    if json {
        let mut list = Vec::with_capacity(incidents.len());
        for incident in &incidents {
            list.push(incident_json(&store, rules.as_ref(), incident, now).await?);
        }
        store.close().await;
        // An array of incidents, each as `incident show --json` has it at
        // the top (without signals, timeline and evidence).
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        store.close().await;
        println!("no incidents in {}", data.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<5} {:<10} {:<11} {:<5} {:<19} {:>7}  TITLE",
        "ID", "SITE", "STATE", "LEVEL", "DISCOVERED", "SIGNALS"
    );
    for incident in &incidents {
        let level = match (&rules, store.engine_incident(incident.id).await?) {
            (Some(rules), Some(engine)) => effective_level(rules, &engine, now),
            _ => "-".to_string(),
        };
        println!(
            "{:<5} {:<10} {:<11} {:<5} {:<19} {:>7}  {}",
            incident.id,
            incident.sites_short(),
            incident.state.as_str(),
            level,
            output::time(incident.discovered_at),
            incident.signal_count,
            incident.title
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Shows one incident.
async fn show(plan_path: &Path, data: &Path, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let plan = optional_plan(plan_path)?;
    let rules = plan.as_ref().map(Rules::new).transpose()?;
    let store = open_existing_store(data).await?;
    let Some(detail) = store.incident(id).await? else {
        store.close().await;
        anyhow::bail!("no incident #{id} in {}", data.display());
    };
    let blob_paths: Vec<String> = detail
        .evidence
        .iter()
        .map(|item| {
            store
                .blobs()
                .path(&item.content_sha256)
                .map(|path| path.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    let engine = store.engine_incident(id).await?;
    let messages = store.incident_messages(id).await?;
    let now = Timestamp::now();
    if json {
        // The incident itself at the top (`id`, `state`, `level`, `clocks`
        // …), with its signals, timeline, evidence and notifications.
        let mut document = incident_json(&store, rules.as_ref(), &detail.summary, now).await?;
        if let (Some(object), serde_json::Value::Object(parts)) =
            (document.as_object_mut(), detail_json(&detail, &blob_paths))
        {
            object.extend(parts);
        }
        document["notifications"] = messages
            .iter()
            .map(super::outbox::message_json)
            .collect::<Vec<_>>()
            .into();
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print_detail(
            &detail,
            &blob_paths,
            rules.as_ref().zip(engine.as_ref()),
            now,
        );
        print_notifications(&messages);
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn detail_json(detail: &IncidentDetail, blob_paths: &[String]) -> serde_json::Value {
    serde_json::json!({
        "signals": detail.signals.iter().map(|signal| serde_json::json!({
            "id": signal.id,
            "page": signal.page,
            "kind": signal.kind,
            "source": signal.source,
            "score": signal.score,
            "reasons": signal.reasons,
            "observed_at_ms": signal.observed_at,
        })).collect::<Vec<_>>(),
        "timeline": detail.events.iter().map(|event| serde_json::json!({
            "at_ms": event.at,
            "actor": event.actor,
            "kind": event.kind,
            "detail": event.detail,
        })).collect::<Vec<_>>(),
        "evidence": detail.evidence.iter().zip(blob_paths).map(|(item, path)| serde_json::json!({
            "id": item.id,
            "kind": item.kind,
            "sha256": item.content_sha256,
            "size": item.size,
            "media_type": item.media_type,
            "captured_at_ms": item.captured_at,
            "metadata": item.metadata,
            "record_hash": item.record_hash,
            "path": path,
        })).collect::<Vec<_>>(),
    })
}

fn print_detail(
    detail: &IncidentDetail,
    blob_paths: &[String],
    engine: Option<(&Rules<'_>, &Incident)>,
    now: Timestamp,
) {
    let incident = &detail.summary;
    println!("incident #{}: {}", incident.id, incident.title);
    if incident.sites.len() > 1 {
        // Joined as one attack ([correlation]).
        println!("  sites:       {}", incident.sites.join(", "));
    } else {
        println!("  site:        {}", incident.site);
    }
    println!(
        "  category:    {} / {} (GB/Z 20986-2007)",
        incident.category, incident.subcategory
    );
    println!(
        "  state:       {} ({})",
        incident.state.name_zh(),
        incident.state.as_str()
    );
    println!("  discovered:  {}", output::time(incident.discovered_at));
    if incident.drill {
        println!("  drill:       yes — 演练，非真实事件");
    }
    if let Some((rules, engine)) = engine {
        if let Some(reporter) = &engine.reporter {
            println!("  reported by: {reporter} (信息来源)");
        }
        let suggestion = suggest_level(rules, engine, now);
        match engine.decided_level() {
            Some(decided) => println!(
                "  level:       {} decided by {} ({}); suggested {}",
                decided.level, decided.by, decided.reason, suggestion.level
            ),
            None => println!(
                "  level:       {} (suggested, not yet decided)",
                suggestion.level
            ),
        }
        for reason in suggestion.reasons.iter().take(3) {
            println!("      - {}", reason.text_en);
        }
        println!();
        println!("clocks:");
        for clock in clocks(rules, engine, now) {
            println!("  {}", clock_line(&clock));
        }
        if !engine.exposures.is_empty() {
            println!();
            println!("exposure:");
            for exposure in &engine.exposures {
                let end = exposure.ended_at.unwrap_or(now);
                let seconds = end.duration_since(exposure.start.at).as_secs();
                println!(
                    "  {}{} {:?} from {} for {}{}{}",
                    exposure.site,
                    exposure
                        .page
                        .as_deref()
                        .map(|page| format!("/{page}"))
                        .unwrap_or_default(),
                    exposure.kind,
                    output::time(exposure.start.at.as_millisecond()),
                    human_duration(seconds),
                    if exposure.ended_at.is_none() {
                        " so far"
                    } else {
                        ""
                    },
                    match (&exposure.page, exposure.home) {
                        (None, _) => " (the whole site)",
                        (Some(_), true) => " (home page)",
                        (Some(_), false) => "",
                    }
                );
            }
        }
        let pending: Vec<_> = engine
            .approvals
            .iter()
            .enumerate()
            .filter(|(_, request)| request.answer.is_none())
            .collect();
        if !pending.is_empty() {
            println!();
            println!(
                "waiting for approval (sitewarden incident approve {} --request N --by NAME):",
                incident.id
            );
            for (index, request) in pending {
                let approvers: Vec<&str> =
                    request.approvers.iter().map(|role| role.as_str()).collect();
                println!(
                    "  {index}: {} ({}), asked {}; approvers: {}",
                    request.action.as_str(),
                    request.action.name_zh(),
                    output::time(request.asked_at.as_millisecond()),
                    approvers.join(", ")
                );
            }
        }
        print_call_tasks(rules, engine, incident.id);
    }
    println!();
    println!("signals:");
    for signal in &detail.signals {
        println!(
            "  {} {} {} score {} ({})",
            output::time(signal.observed_at),
            signal.page.as_deref().unwrap_or("-"),
            signal.kind,
            signal.score,
            signal.source
        );
        for reason in &signal.reasons {
            println!("      - {reason}");
        }
    }
    println!();
    println!("timeline:");
    for event in &detail.events {
        let text = event
            .detail
            .get("detail")
            .and_then(|detail| detail.as_str())
            .unwrap_or("");
        println!(
            "  {} {:<17} {:<8} {text}",
            output::time(event.at),
            event.kind,
            event.actor
        );
    }
    println!();
    println!("evidence:");
    for (item, path) in detail.evidence.iter().zip(blob_paths) {
        println!(
            "  #{} {} {} bytes, sha256 {}\n      {}",
            item.id, item.kind, item.size, item.content_sha256, path
        );
    }
}

/// The incident's messages in the outbox: who was told on which channel,
/// and whether it got there.
fn print_notifications(messages: &[OutboxMessage]) {
    println!();
    if messages.is_empty() {
        println!("notifications: none");
        return;
    }
    let count = |state: OutboxState| {
        messages
            .iter()
            .filter(|message| message.state == state)
            .count()
    };
    println!(
        "notifications: {} sent, {} pending, {} sending, {} dead",
        count(OutboxState::Sent),
        count(OutboxState::Pending),
        count(OutboxState::Sending),
        count(OutboxState::Dead)
    );
    super::outbox::print_messages(messages, "  ");
    if count(OutboxState::Dead) > 0 {
        println!("  send dead letters again: sitewarden outbox retry ID (or --all-dead)");
    }
}
