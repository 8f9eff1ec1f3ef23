//! `sitewarden outbox …`: the notification outbox as people need to see
//! it — every message with its recipient, channel, state, attempts and
//! last error — and sending dead letters again once the cause is fixed
//! (a wrong address corrected, a robot's secret set).
//!
//! Sending is not done here: a retried message goes back to `pending`, and
//! the dispatcher of a running `sitewarden serve` picks it up.

use super::{load_plan, open_existing_store};
use crate::cli::{OutboxCommand, OutboxStateArg};
use crate::output;
use sitewarden_store::{OutboxMessage, OutboxState, RetrySelection};
use std::path::Path;
use std::process::ExitCode;

/// Runs one outbox command.
pub async fn run(command: OutboxCommand) -> anyhow::Result<ExitCode> {
    match command {
        OutboxCommand::List { data, state, json } => list(&data.data, state, json).await,
        OutboxCommand::Retry {
            id,
            all_dead,
            plan,
            data,
            by,
        } => {
            let selection = match (id, all_dead) {
                (Some(id), false) => RetrySelection::One(id),
                _ => RetrySelection::AllDead,
            };
            retry(&plan.plan, &data.data, &selection, &by).await
        }
    }
}

fn state_of(arg: OutboxStateArg) -> OutboxState {
    match arg {
        OutboxStateArg::Pending => OutboxState::Pending,
        OutboxStateArg::Sending => OutboxState::Sending,
        OutboxStateArg::Sent => OutboxState::Sent,
        OutboxStateArg::Dead => OutboxState::Dead,
    }
}

async fn list(data: &Path, state: Option<OutboxStateArg>, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing_store(data).await?;
    let messages = store.outbox_messages(state.map(state_of)).await?;
    let counts = store.outbox_counts().await?;
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "counts": {
                    "pending": counts.pending,
                    "sending": counts.sending,
                    "sent": counts.sent,
                    "dead": counts.dead,
                },
                "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "outbox: {} pending, {} sending, {} sent, {} dead",
        counts.pending, counts.sending, counts.sent, counts.dead
    );
    if messages.is_empty() {
        println!(
            "no {}messages",
            state
                .map(|state| format!("{} ", state_of(state)))
                .unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    print_messages(&messages, "");
    if counts.dead > 0 {
        println!();
        println!("send dead letters again: sitewarden outbox retry ID (or --all-dead)");
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry(
    plan_path: &Path,
    data: &Path,
    selection: &RetrySelection,
    by: &str,
) -> anyhow::Result<ExitCode> {
    // With the plan, the retry is noted in the incident's timeline through
    // the engine; without one, in the timeline table alone.
    let store = if plan_path.exists() {
        let plan = load_plan(plan_path)?;
        open_existing_store(data)
            .await?
            .with_plan(std::sync::Arc::new(plan))
            .map_err(|error| anyhow::anyhow!("the plan cannot run the incident engine: {error}"))?
    } else {
        open_existing_store(data).await?
    };
    if let RetrySelection::One(id) = selection {
        match store.outbox_message(id).await? {
            None => {
                store.close().await;
                anyhow::bail!(
                    "no message {id:?} in the outbox (see `sitewarden outbox list --state dead`)"
                );
            }
            Some(message) if message.state != OutboxState::Dead => {
                store.close().await;
                eprintln!(
                    "message {id:?} is {}, not dead: only dead letters are sent again",
                    message.state
                );
                return Ok(ExitCode::from(1));
            }
            Some(_) => {}
        }
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let retried = store.retry_dead_messages(selection, by, now).await?;
    store.close().await;
    if retried.is_empty() {
        println!("no dead letters to send again");
        return Ok(ExitCode::SUCCESS);
    }
    for message in &retried {
        println!(
            "back to pending: {} ({} → {}); it had failed {} time(s): {}",
            message.message.id,
            message.message.channel,
            message.message.recipient.as_deref().unwrap_or("the group"),
            message.attempts,
            message.last_error.as_deref().unwrap_or("no error recorded")
        );
    }
    println!(
        "{} message(s) back in the outbox, recorded as sent again by {by}; \
         a running `sitewarden serve` sends them within a second",
        retried.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// One message as JSON (`outbox list --json`, `incident show --json`).
pub(super) fn message_json(message: &OutboxMessage) -> serde_json::Value {
    serde_json::json!({
        "id": message.message.id,
        "incident_id": message.message.incident_id,
        "channel": message.message.channel,
        "recipient": message.message.recipient,
        "subject": message.message.subject,
        "state": message.state.as_str(),
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at_ms": message.message.created_at,
        "next_attempt_at_ms": (message.state == OutboxState::Pending).then_some(message.next_attempt_at),
        "sent_at_ms": message.sent_at,
        "retries": message.retries,
        "retried_at_ms": message.retried.as_ref().map(|(at, _)| *at),
        "retried_by": message.retried.as_ref().map(|(_, by)| by),
    })
}

/// The messages as a table, each row indented by `indent`, with the last
/// error and any retry under it.
pub(super) fn print_messages(messages: &[OutboxMessage], indent: &str) {
    println!(
        "{indent}{:<7} {:>8}  {:<12} {:<30} ID",
        "STATE", "ATTEMPTS", "CHANNEL", "RECIPIENT"
    );
    for message in messages {
        // Padded by display width: names in Chinese are two columns a character.
        println!(
            "{indent}{:<7} {:>8}  {} {} {}",
            message.state.as_str(),
            message.attempts,
            console::pad_str(&message.message.channel, 12, console::Alignment::Left, None),
            console::pad_str(
                message.message.recipient.as_deref().unwrap_or("(group)"),
                30,
                console::Alignment::Left,
                None
            ),
            message.message.id
        );
        if message.state == OutboxState::Pending && message.last_error.is_some() {
            println!(
                "{indent}        next attempt {}",
                output::time(message.next_attempt_at)
            );
        }
        if message.state != OutboxState::Sent
            && let Some(error) = &message.last_error
        {
            println!("{indent}        last error: {error}");
        }
        if let Some((at, by)) = &message.retried {
            println!(
                "{indent}        sent again {} time(s), last by {by} at {}",
                message.retries,
                output::time(*at)
            );
        }
    }
}
