//! A timeout that is armed again and again on one connection — the
//! header deadline of each request, the keep-alive wait between them, a
//! write waiting for the client, the wait for an origin's answer — without
//! a new timer each time.
//!
//! A fresh `tokio::time::Sleep` per request costs an allocation, a
//! registration in the runtime's timer wheel when it is first polled, and
//! a removal from the wheel when it is dropped unfired. Re-arming one kept
//! `Sleep` to a *later* deadline than it had only moves tokio's cached
//! expiry (one compare-and-swap: `TimerEntry::reset` → `extend_expiration`);
//! when the old expiry comes, the wheel finds the new one and waits on.
//! Each kind of timeout has its own `Rearm`, so its deadlines only ever
//! move later. A disarmed `Rearm` stays in the wheel and may wake its task
//! once, for nothing, when its old expiry comes.

use std::pin::Pin;
use std::task::Context;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A timeout kept for re-arming; disarmed until [`Rearm::arm`].
#[derive(Debug, Default)]
pub struct Rearm {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Rearm {
    /// A timeout armed to expire `after` from now.
    pub fn armed(after: Duration) -> Rearm {
        let mut rearm = Rearm::default();
        rearm.arm_at(Instant::now() + after);
        rearm
    }

    /// Arms it to expire `after` from now.
    pub fn arm(&mut self, after: Duration) {
        self.arm_at(Instant::now() + after);
    }

    /// Arms it to expire at `at`.
    pub fn arm_at(&mut self, at: Instant) {
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        self.armed = true;
    }

    /// Stops it counting (it keeps its timer for the next arming).
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// Whether it is counting.
    pub fn is_armed(&self) -> bool {
        self.armed
    }

    /// When it expires, if armed.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.sleep {
            Some(sleep) if self.armed => Some(sleep.deadline()),
            _ => None,
        }
    }

    /// Whether it is armed and has expired; if it is armed and has not,
    /// `cx` is woken when it does.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        match self.sleep.as_mut() {
            Some(sleep) if self.armed => sleep.as_mut().poll(cx).is_ready(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    async fn expired(rearm: &mut Rearm) -> bool {
        poll_fn(|cx| std::task::Poll::Ready(rearm.poll_expired(cx))).await
    }

    #[tokio::test(start_paused = true)]
    async fn expires_after_the_latest_arming_and_never_while_disarmed() {
        let mut rearm = Rearm::armed(Duration::from_secs(1));
        assert!(!expired(&mut rearm).await);
        tokio::time::advance(Duration::from_millis(600)).await;
        // Armed again: the clock starts over.
        rearm.arm(Duration::from_secs(1));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(!expired(&mut rearm).await, "re-armed 600 ms ago");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(expired(&mut rearm).await);

        rearm.disarm();
        assert!(!expired(&mut rearm).await, "disarmed");
        assert_eq!(rearm.deadline(), None);
        // Armed after it fired: counts again from now.
        rearm.arm(Duration::from_secs(2));
        assert!(!expired(&mut rearm).await);
        tokio::time::advance(Duration::from_millis(2100)).await;
        assert!(expired(&mut rearm).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_task_is_woken_at_the_moved_deadline() {
        let mut rearm = Rearm::armed(Duration::from_secs(1));
        assert!(!expired(&mut rearm).await);
        rearm.arm(Duration::from_secs(5));
        let started = Instant::now();
        poll_fn(|cx| {
            if rearm.poll_expired(cx) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "{waited:?}"
        );
    }
}
