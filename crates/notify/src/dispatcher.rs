//! The dispatcher: claims due messages from the outbox, sends each on its
//! channel, records the outcome, and backs off exponentially on failure.
//!
//! Each channel is a lane of its own: the dispatcher claims a channel's
//! messages only as far as that channel can take them now — up to
//! `concurrency` sends in flight, or one at a time and no sooner than its
//! minimum interval after the last for a paced channel (the group robots'
//! rate limits, `min_interval_ms` in the plan) — and keeps claiming for
//! the other channels while sends run. A slow, failing or paced channel
//! therefore never holds back another channel's messages, and a message
//! is never claimed to sit waiting for its channel's pace (so a long
//! interval cannot outlast the claim's lease).

use crate::channel::{Channel, Outgoing, SendError};
use sitewarden_store::{OutboxMessage, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles after each one.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// After this many attempts the message is dead (shown to users).
    pub max_attempts: u32,
    /// How long a claimed message is held before another sender may take
    /// it (longer than any channel's timeout).
    pub lease: Duration,
    /// How many messages one channel sends at once (a paced channel sends
    /// one at a time).
    pub concurrency: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(600),
            // 5 s doubling to 10 min: about 6 hours of trying.
            max_attempts: 40,
            lease: Duration::from_secs(120),
            concurrency: 16,
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` failed ones.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// One channel's sends in flight and, for a paced channel, the earliest
/// moment its next send may start.
#[derive(Debug, Default)]
struct Lane {
    in_flight: usize,
    next_start: Option<Instant>,
}

/// Sends the outbox. Clone is cheap; run one per data directory (`run`
/// makes sure of it).
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    channels: Arc<HashMap<String, Arc<dyn Channel>>>,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    /// Per channel. A std mutex: it is never held across an await.
    lanes: Arc<Mutex<HashMap<String, Lane>>>,
    clock: fn() -> i64,
}

/// Takes a send off its lane when the send ends, however it ends
/// (finished, failed, or its task aborted).
struct InFlight {
    lanes: Arc<Mutex<HashMap<String, Lane>>>,
    channel: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut lanes = self
            .lanes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(lane) = lanes.get_mut(&self.channel) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
        }
    }
}

/// The sends a dispatcher has started: each task's result is its store
/// error, if recording the outcome failed.
type Sends = JoinSet<Result<(), StoreError>>;

/// How long to wait at most before looking at the outbox again.
const POLL: Duration = Duration::from_secs(1);
/// How many dead letters for a channel the plan no longer has are
/// recorded per claim.
const UNKNOWN_CHANNEL_BATCH: u32 = 64;

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("channels", &self.channels.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn system_now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Dispatcher {
    /// A dispatcher over the store's outbox with the named channels.
    pub fn new(
        store: Store,
        channels: HashMap<String, Arc<dyn Channel>>,
        policy: RetryPolicy,
    ) -> Dispatcher {
        Dispatcher {
            store,
            channels: Arc::new(channels),
            policy,
            wake: Arc::new(Notify::new()),
            lanes: Arc::new(Mutex::new(HashMap::new())),
            clock: system_now_ms,
        }
    }

    /// Wakes the dispatcher at once (call after enqueueing), so a new
    /// message does not wait for the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until cancelled: starts every send its channel can take now,
    /// then waits for a send to finish, a wake-up, the next message or
    /// paced slot to come due, or at most a second. On cancellation it
    /// stops claiming and lets the sends in flight finish and be recorded
    /// (each is bounded by its channel's timeout).
    ///
    /// Only one dispatcher sends a data directory's outbox: this one first
    /// waits for the store's [`OutboxLock`](sitewarden_store::OutboxLock)
    /// (checking every second), then sends again at once whatever a
    /// process that died mid-send left claimed, instead of waiting for its
    /// lease to run out.
    pub async fn run(&self, cancel: CancellationToken) {
        let Some(_hold) = self.hold_outbox(&cancel).await else {
            return;
        };
        let mut sends = Sends::new();
        loop {
            let wait = match self.start_sends(&mut sends).await {
                Ok((_, wait)) => wait.map_or(POLL, |wait| wait.min(POLL)),
                Err(error) => {
                    tracing::warn!("notification outbox: {error}");
                    POLL
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                Some(finished) = sends.join_next(), if !sends.is_empty() => log_send(finished),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        while let Some(finished) = sends.join_next().await {
            log_send(finished);
        }
    }

    /// Waits until this dispatcher alone sends the outbox, and puts back
    /// the claims of a dead predecessor. None when cancelled first; Some(None)
    /// when the lock file cannot be used at all (an unwritable data
    /// directory): then claims left by a dead process are only sent again
    /// when their leases run out, as before the lock existed.
    async fn hold_outbox(
        &self,
        cancel: &CancellationToken,
    ) -> Option<Option<sitewarden_store::OutboxLock>> {
        let mut told = false;
        loop {
            match self.store.try_lock_outbox() {
                Ok(Some(lock)) => {
                    match self.store.release_claimed_messages(&lock).await {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(
                            "{count} notification(s) were being sent when an earlier process stopped: sending them again now"
                        ),
                        Err(error) => tracing::warn!(
                            "notification outbox: cannot put back the messages an earlier process was sending ({error}); they go again when their leases run out"
                        ),
                    }
                    return Some(Some(lock));
                }
                Ok(None) => {
                    if !told {
                        tracing::warn!(
                            "another dispatcher is sending this data directory's outbox; this one waits until it stops"
                        );
                        told = true;
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        "notification outbox: {error}; a message a killed process was sending goes again when its lease runs out"
                    );
                    return Some(None);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass, for callers that drive the dispatcher themselves: sends
    /// what each channel can take, and more as sends finish, until nothing
    /// due can be started and nothing is in flight. A paced channel's later
    /// messages are left for a later pass. Returns how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut sends = Sends::new();
        let mut claimed_total = 0;
        let mut failure = None;
        loop {
            let (claimed, _) = self.start_sends(&mut sends).await?;
            claimed_total += claimed;
            match sends.join_next().await {
                Some(Ok(Err(error))) => {
                    failure.get_or_insert(error);
                }
                Some(_) => {}
                None if claimed == 0 => break,
                None => {}
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(claimed_total),
        }
    }

    /// The most sends `channel` may have in flight, and its pace.
    fn capacity(channel: &dyn Channel, policy: &RetryPolicy) -> (usize, Option<Duration>) {
        match channel
            .min_interval()
            .filter(|interval| !interval.is_zero())
        {
            Some(interval) => (1, Some(interval)),
            None => (policy.concurrency.max(1), None),
        }
    }

    /// Claims, channel by channel, what each can send now and starts those
    /// sends into `sends`. Returns how many were claimed and how long until
    /// a channel that is not busy has something to send (None: nothing
    /// waits, or only on channels whose sends in flight will wake the
    /// caller when they finish).
    async fn start_sends(
        &self,
        sends: &mut Sends,
    ) -> Result<(usize, Option<Duration>), StoreError> {
        let now = (self.clock)();
        let mut claimed_total = 0;
        let mut wait: Option<Duration> = None;
        let mut wait_at_most = |duration: Duration| {
            wait = Some(wait.map_or(duration, |wait| wait.min(duration)));
        };
        for (channel_id, due) in self.store.next_due_by_channel().await? {
            let until_due = Duration::from_millis((due - now).max(0) as u64);
            let Some(channel) = self.channels.get(&channel_id).cloned() else {
                if until_due.is_zero() {
                    claimed_total += self.dead_letter_unknown(&channel_id, now).await?;
                } else {
                    wait_at_most(until_due);
                }
                continue;
            };
            let (capacity, interval) = Self::capacity(channel.as_ref(), &self.policy);
            let (free, until_slot) = {
                let mut lanes = self
                    .lanes
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                let lane = lanes.entry(channel_id.clone()).or_default();
                let until_slot = lane.next_start.map_or(Duration::ZERO, |start| {
                    start.saturating_duration_since(Instant::now())
                });
                (capacity.saturating_sub(lane.in_flight), until_slot)
            };
            if free == 0 {
                // A send of this channel finishing wakes the loop.
                continue;
            }
            let ready_in = until_due.max(until_slot);
            if !ready_in.is_zero() {
                wait_at_most(ready_in);
                continue;
            }
            let claimed = self
                .store
                .claim_due_messages_on(
                    &channel_id,
                    now,
                    free as u32,
                    self.policy.lease.as_millis() as i64,
                )
                .await?;
            for message in claimed {
                let in_flight = {
                    let mut lanes = self
                        .lanes
                        .lock()
                        .unwrap_or_else(|poison| poison.into_inner());
                    let lane = lanes.entry(channel_id.clone()).or_default();
                    lane.in_flight += 1;
                    if let Some(interval) = interval {
                        lane.next_start = Some(Instant::now() + interval);
                    }
                    InFlight {
                        lanes: self.lanes.clone(),
                        channel: channel_id.clone(),
                    }
                };
                let dispatcher = self.clone();
                let channel = channel.clone();
                sends.spawn(async move {
                    let _in_flight = in_flight;
                    dispatcher.deliver(channel.as_ref(), message).await
                });
                claimed_total += 1;
            }
        }
        Ok((claimed_total, wait))
    }

    /// Messages for a channel the plan does not have go to dead letters
    /// with the reason. Returns how many.
    async fn dead_letter_unknown(&self, channel: &str, now: i64) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim_due_messages_on(
                channel,
                now,
                UNKNOWN_CHANNEL_BATCH,
                self.policy.lease.as_millis() as i64,
            )
            .await?;
        for message in &claimed {
            self.store
                .mark_message_failed(
                    &message.message.id,
                    &format!("no channel named {channel:?} in the plan"),
                    None,
                )
                .await?;
        }
        Ok(claimed.len())
    }

    /// Sends one claimed message and records the outcome.
    async fn deliver(
        &self,
        channel: &dyn Channel,
        message: OutboxMessage,
    ) -> Result<(), StoreError> {
        let id = message.message.id.clone();
        let outgoing = Outgoing {
            id: id.clone(),
            recipient: message.message.recipient.clone(),
            subject: message.message.subject.clone(),
            body: message.message.body.clone(),
        };
        match channel.send(&outgoing).await {
            Ok(()) => self.store.mark_message_sent(&id, (self.clock)()).await,
            Err(SendError::Permanent(error)) => {
                tracing::warn!(message = %id, "notification refused for good: {error}");
                self.store.mark_message_failed(&id, &error, None).await
            }
            Err(SendError::Transient(error)) => {
                let next = (message.attempts < self.policy.max_attempts).then(|| {
                    (self.clock)() + self.policy.delay_after(message.attempts).as_millis() as i64
                });
                tracing::info!(message = %id, attempts = message.attempts, "notification failed, {}: {error}",
                    if next.is_some() { "will retry" } else { "giving up" });
                self.store.mark_message_failed(&id, &error, next).await
            }
        }
    }
}

/// A send that ended: a failure to record its outcome is logged (the
/// message stays claimed and goes again when its lease runs out).
fn log_send(finished: Result<Result<(), StoreError>, tokio::task::JoinError>) {
    match finished {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!("notification outbox: {error}"),
        Err(error) => tracing::warn!("notification send task: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let delays: Vec<u64> = (1..=6).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.delay_after(1000).as_secs(), 60);
    }
}
