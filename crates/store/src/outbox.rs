//! The notification outbox: durable messages waiting for their channel.
//!
//! Nothing here sends anything; `sitewarden-notify` claims due messages,
//! sends them and reports back. One dispatcher per data directory holds
//! the [`OutboxLock`]; on taking it, it puts back at once what a dead
//! predecessor was sending. Claiming also takes a lease, so a sender that
//! dies mid-send without a successor holding the lock leaves a message
//! that becomes due again when the lease runs out (at-least-once delivery;
//! receivers deduplicate by message id).

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
        text.parse().unwrap_or(OutboxState::Pending)
    }

    /// Every state, in the order a message goes through them.
    pub const ALL: [OutboxState; 4] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Dead,
    ];
}

impl std::str::FromStr for OutboxState {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<OutboxState, String> {
        OutboxState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not pending, sending, sent or dead"))
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many messages the outbox holds in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for their next attempt.
    pub pending: u64,
    /// Being sent now.
    pub sending: u64,
    /// Confirmed by their channel.
    pub sent: u64,
    /// Given up on: someone must look at them.
    pub dead: u64,
}

/// Which dead letters to send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetrySelection {
    /// The message with this id (it must be dead).
    One(String),
    /// Every dead letter.
    AllDead,
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
    /// How many times a person sent it back to the outbox after it died.
    pub retries: u32,
    /// When it was last sent back (Unix ms), and by whom.
    pub retried: Option<(i64, String)>,
}

const COLUMNS: &str =
    "id, incident_id, channel, recipient, subject, body, created_at, state, attempts,
     next_attempt_at, last_error, sent_at, retries, retried_at, retried_by";

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
        retries: row.get::<i64, _>("retries") as u32,
        retried: row
            .get::<Option<i64>, _>("retried_at")
            .zip(row.get::<Option<String>, _>("retried_by")),
    }
}

/// The exclusive right to send this data directory's outbox, held by one
/// dispatcher for as long as it runs (an advisory `flock` on
/// `DATA/outbox.lock`). The operating system lets go of it when the
/// process ends, however it ends, so whoever takes it next knows that any
/// message still `sending` was left by a process that is gone.
#[derive(Debug)]
pub struct OutboxLock {
    _file: std::fs::File,
}

impl Store {
    /// Takes the outbox lock, or None when another dispatcher (in this
    /// process or another) holds it.
    pub fn try_lock_outbox(&self) -> Result<Option<OutboxLock>> {
        let path = self.data_dir.join("outbox.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| crate::StoreError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(OutboxLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => {
                Err(crate::StoreError::Io { path, source })
            }
        }
    }

    /// Puts every `sending` message back to `pending`, due as it was (so
    /// at once). Only for the holder of the [`OutboxLock`], just after
    /// taking it: those claims belong to a sender that died mid-send, and
    /// waiting for their leases to run out would delay them by minutes.
    /// The interrupted attempt stays counted. Returns how many there were.
    pub async fn release_claimed_messages(&self, _lock: &OutboxLock) -> Result<u64> {
        let result = sqlx::query(
            "UPDATE outbox SET state = 'pending', lease_until = NULL WHERE state = 'sending'",
        )
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

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

    /// Claims up to `limit` due messages of one channel, as
    /// [`Store::claim_due_messages`] does for all: so a dispatcher takes
    /// from each channel only what that channel can send now.
    pub async fn claim_due_messages_on(
        &self,
        channel: &str,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE channel = $4
                   AND ((state = 'pending' AND next_attempt_at <= $2)
                     OR (state = 'sending' AND lease_until <= $2))
                 ORDER BY next_attempt_at, created_at
                 LIMIT $3)
             RETURNING {COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .bind(i64::from(limit))
        .bind(channel)
        .fetch_all(&self.pool)
        .await?;
        let mut messages: Vec<_> = rows.into_iter().map(from_row).collect();
        messages.sort_by_key(|m| (m.next_attempt_at, m.message.created_at));
        Ok(messages)
    }

    /// For each channel with messages waiting or being sent, the earliest
    /// time one of them is due (a pending one's next attempt, a claimed
    /// one's lease end), in channel order.
    pub async fn next_due_by_channel(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT channel,
                    MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
             FROM outbox WHERE state IN ('pending', 'sending')
             GROUP BY channel ORDER BY channel",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((row.get("channel"), row.get::<Option<i64>, _>("due")?)))
            .collect())
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

    /// Every message, or those in `state`, oldest first.
    pub async fn outbox_messages(&self, state: Option<OutboxState>) -> Result<Vec<OutboxMessage>> {
        match state {
            Some(state) => self.messages_in_state(state).await,
            None => {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM outbox ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(from_row).collect())
            }
        }
    }

    /// One message by id.
    pub async fn outbox_message(&self, id: &str) -> Result<Option<OutboxMessage>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(from_row))
    }

    /// How many messages are in each state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let n = row.get::<i64, _>("n") as u64;
            match OutboxState::parse(row.get("state")) {
                OutboxState::Pending => counts.pending += n,
                OutboxState::Sending => counts.sending += n,
                OutboxState::Sent => counts.sent += n,
                OutboxState::Dead => counts.dead += n,
            }
        }
        Ok(counts)
    }

    /// Sends dead letters again: each goes back to `pending`, due at
    /// `now_ms`, with its attempts counted from zero (so it gets the whole
    /// retry policy again) and its last error kept until the next attempt.
    /// The retry is recorded on the message (`retries`, when, `by`) and,
    /// when the store runs the incident engine, as a note in its incident's
    /// timeline, in the same transaction. Returns the messages sent back,
    /// as they were while dead; a message that is not dead is left alone.
    pub async fn retry_dead_messages(
        &self,
        selection: &RetrySelection,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<OutboxMessage>> {
        let mut tx = self.begin_write().await?;
        let dead = match selection {
            RetrySelection::One(id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM outbox WHERE id = $1 AND state = 'dead'"
                ))
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
            }
            RetrySelection::AllDead => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM outbox WHERE state = 'dead' ORDER BY created_at, id"
                ))
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let dead: Vec<OutboxMessage> = dead.into_iter().map(from_row).collect();
        let at = sitewarden_incident::timestamp_from_ms(now_ms);
        for message in &dead {
            sqlx::query(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1,
                     lease_until = NULL, retries = retries + 1, retried_at = $1, retried_by = $2
                 WHERE id = $3 AND state = 'dead'",
            )
            .bind(now_ms)
            .bind(by)
            .bind(&message.message.id)
            .execute(&mut *tx)
            .await?;
            if let Some(incident_id) = message.message.incident_id {
                let note = format!(
                    "notification {} to {} on {} sent again after it failed {} time(s): {}",
                    message.message.id,
                    message.message.recipient.as_deref().unwrap_or("the group"),
                    message.message.channel,
                    message.attempts,
                    message.last_error.as_deref().unwrap_or("no error recorded")
                );
                if !self
                    .engine_note(&mut tx, incident_id, by, note.clone(), at)
                    .await?
                {
                    // No engine state to note it in: the timeline table
                    // alone, as for incidents that predate the engine.
                    crate::incidents::append_event(
                        &mut tx,
                        incident_id,
                        now_ms,
                        by,
                        "note",
                        &serde_json::json!({ "detail": note }),
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(dead)
    }
}
