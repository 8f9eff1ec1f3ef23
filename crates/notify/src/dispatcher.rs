//! The dispatcher: claims due messages from the outbox, sends each on its
//! channel, records the outcome, and backs off exponentially on failure.

use crate::channel::{Channel, Outgoing, SendError};
use sitewarden_store::{OutboxMessage, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;
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
    /// How many messages are sent at once.
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

/// Sends the outbox. Clone is cheap; run one per process.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    channels: Arc<HashMap<String, Arc<dyn Channel>>>,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    last_sent: Arc<Mutex<HashMap<String, tokio::time::Instant>>>,
    clock: fn() -> i64,
}

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
            last_sent: Arc::new(Mutex::new(HashMap::new())),
            clock: system_now_ms,
        }
    }

    /// Wakes the dispatcher at once (call after enqueueing), so a new
    /// message does not wait for the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until cancelled: sends what is due, then sleeps until the next
    /// message is due, a wake-up, or at most a second.
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
        loop {
            if let Err(error) = self.deliver_due().await {
                tracing::warn!("notification outbox: {error}");
            }
            let sleep = match self.store.next_message_due().await {
                Ok(Some(due)) => {
                    Duration::from_millis((due - (self.clock)()).clamp(0, 1000) as u64)
                }
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
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

    /// One pass: claims every due message and sends them, at most
    /// `concurrency` at a time. Returns how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut claimed_total = 0;
        loop {
            let now = (self.clock)();
            let claimed = self
                .store
                .claim_due_messages(
                    now,
                    self.policy.concurrency as u32,
                    self.policy.lease.as_millis() as i64,
                )
                .await?;
            if claimed.is_empty() {
                return Ok(claimed_total);
            }
            claimed_total += claimed.len();
            let mut sends = JoinSet::new();
            for message in claimed {
                let dispatcher = self.clone();
                sends.spawn(async move { dispatcher.deliver(message).await });
            }
            while let Some(result) = sends.join_next().await {
                if let Ok(Err(error)) = result {
                    return Err(error);
                }
            }
        }
    }

    async fn deliver(&self, message: OutboxMessage) -> Result<(), StoreError> {
        let id = message.message.id.clone();
        let Some(channel) = self.channels.get(&message.message.channel).cloned() else {
            return self
                .store
                .mark_message_failed(
                    &id,
                    &format!("no channel named {:?} in the plan", message.message.channel),
                    None,
                )
                .await;
        };
        self.pace(&message.message.channel, channel.min_interval())
            .await;
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

    /// Waits until the channel's minimum interval since its last message has passed.
    async fn pace(&self, channel: &str, min_interval: Option<Duration>) {
        let Some(interval) = min_interval else { return };
        let wait_until = {
            let mut last = self.last_sent.lock().await;
            let now = tokio::time::Instant::now();
            let slot = last
                .get(channel)
                .map_or(now, |previous| (*previous + interval).max(now));
            last.insert(channel.to_string(), slot);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
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
