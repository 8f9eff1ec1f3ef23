//! The notification outbox: durable messages waiting for their channel.
//!
//! Nothing here sends anything; `sitewarden-notify` claims due messages,
//! sends them and reports back. Claiming takes a lease, so a sender that
//! dies mid-send leaves a message that becomes due again when the lease
//! runs out (at-least-once delivery; receivers deduplicate by message id).

use crate::{Result, Store};
use sqlx::Row;

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The deduplication key: the same id is stored once.
    pub id: String,
    /// The incident it is about, if any.
    pub incident_id: Option<i64>,
    /// The plan's channel name.
    pub channel: String,
    /// The recipient on that channel (an e-mail address, a phone number),
    /// or None for group robots that post to one chat.
    pub recipient: Option<String>,
    /// Subject or title.
    pub subject: String,
    /// Body (Markdown-flavoured text).
    pub body: String,
    /// When it was written (Unix ms).
    pub created_at: i64,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a sender.
    Sending,
    /// Confirmed by the channel.
    Sent,
    /// Given up after the last attempt; shown to users.
    Dead,
}

impl OutboxState {
    /// Stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> OutboxState {
        match text {
            "sending" => OutboxState::Sending,
            "sent" => OutboxState::Sent,
            "dead" => OutboxState::Dead,
            _ => OutboxState::Pending,
        }
    }
}

/// A message as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// The message as written.
    pub message: NewMessage,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts made so far (including the one a claim starts).
    pub attempts: u32,
    /// When it is next due (Unix ms).
    pub next_attempt_at: i64,
    /// The last error a channel gave.
    pub last_error: Option<String>,
    /// When the channel confirmed it (Unix ms).
    pub sent_at: Option<i64>,
}

const COLUMNS: &str =
    "id, incident_id, channel, recipient, subject, body, created_at, state, attempts,
     next_attempt_at, last_error, sent_at";

fn from_row(row: sqlx::sqlite::SqliteRow) -> OutboxMessage {
    OutboxMessage {
        message: NewMessage {
            id: row.get("id"),
            incident_id: row.get("incident_id"),
            channel: row.get("channel"),
            recipient: row.get("recipient"),
            subject: row.get("subject"),
            body: row.get("body"),
            created_at: row.get("created_at"),
        },
        state: OutboxState::parse(row.get("state")),
        attempts: row.get::<i64, _>("attempts") as u32,
        next_attempt_at: row.get("next_attempt_at"),
        last_error: row.get("last_error"),
        sent_at: row.get("sent_at"),
    }
}

impl Store {
    /// Writes a message to the outbox, due at once. Returns false when a
    /// message with the same id is already there (it is not written again).
    pub async fn enqueue_message(&self, message: &NewMessage) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO outbox (id, incident_id, channel, recipient, subject, body, created_at,
                 state, attempts, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&message.id)
        .bind(message.incident_id)
        .bind(&message.channel)
        .bind(&message.recipient)
        .bind(&message.subject)
        .bind(&message.body)
        .bind(message.created_at)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Claims up to `limit` due messages for sending until `now + lease_ms`:
    /// pending ones whose time has come, and claimed ones whose lease ran
    /// out. Each claim counts as an attempt.
    pub async fn claim_due_messages(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE (state = 'pending' AND next_attempt_at <= $2)
                    OR (state = 'sending' AND lease_until <= $2)
                 ORDER BY next_attempt_at, created_at
                 LIMIT $3)
             RETURNING {COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut messages: Vec<_> = rows.into_iter().map(from_row).collect();
        messages.sort_by_key(|m| (m.next_attempt_at, m.message.created_at));
        Ok(messages)
    }

    /// Records that the channel confirmed a message.
    pub async fn mark_message_sent(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET state = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: due again at `next_attempt_at`, or dead
    /// when `next_attempt_at` is None.
    pub async fn mark_message_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: Option<i64>,
    ) -> Result<()> {
        match next_attempt_at {
            Some(next) => {
                sqlx::query(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3",
                )
                .bind(next)
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query("UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = $1 WHERE id = $2")
                    .bind(error)
                    .bind(id)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(())
    }

    /// The earliest time a pending message is due, if any (the sender sleeps until then).
    pub async fn next_message_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END)
             FROM outbox WHERE state IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Messages in a state (e.g. the dead letters to show users), oldest first.
    pub async fn messages_in_state(&self, state: OutboxState) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state = $1 ORDER BY created_at, id"
        ))
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// The messages of an incident, oldest first.
    pub async fn incident_messages(&self, incident_id: i64) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE incident_id = $1 ORDER BY created_at, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }
}
