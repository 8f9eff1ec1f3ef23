//! The gateway's stop, as each proxy thread's connections see it.
//!
//! A connection waits for its requests and for the stop at once. Waiting
//! on the gateway's `watch` channel for the stop costs, at every wake-up
//! of every connection, the lock of the channel's list of waiters — one
//! lock for all threads, so a cache line moved between cores twice a
//! request. Here each thread has its own flag and list of waiting
//! connections: a connection registers once, and each wake-up only reads
//! the flag.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// One thread's stop: raised once, for every connection of the thread.
#[derive(Debug, Default)]
pub struct ThreadStop {
    raised: AtomicBool,
    waiting: Mutex<Waiting>,
}

/// The connections waiting, by key; freed keys are used again.
#[derive(Debug, Default)]
struct Waiting {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl ThreadStop {
    /// Raises the stop and wakes every connection waiting for it.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        let wakers: Vec<Waker> = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.free.clear();
            waiting.wakers.drain(..).flatten().collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Resolves once the stop is raised.
    pub fn raised(self: &Arc<Self>) -> Raised {
        Raised {
            stop: self.clone(),
            key: None,
        }
    }

    fn register(&self, waker: &Waker) -> usize {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match waiting.free.pop() {
            Some(key) => {
                waiting.wakers[key] = Some(waker.clone());
                key
            }
            None => {
                waiting.wakers.push(Some(waker.clone()));
                waiting.wakers.len() - 1
            }
        }
    }

    fn forget(&self, key: usize) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = waiting.wakers.get_mut(key)
            && slot.take().is_some()
        {
            waiting.free.push(key);
        }
    }
}

/// The wait for a thread's stop ([`ThreadStop::raised`]). It registers
/// its task's waker at its first wait and keeps it: a connection's task
/// has one waker for its life.
pub struct Raised {
    stop: Arc<ThreadStop>,
    key: Option<usize>,
}

impl Future for Raised {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.raised.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self.key.is_none() {
            let key = self.stop.register(cx.waker());
            self.key = Some(key);
            // Raised between the look and the registration: not missed.
            if self.stop.raised.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.stop.forget(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiting_connection_sees_the_stop_and_late_ones_too() {
        let stop = Arc::new(ThreadStop::default());
        let waiting: Vec<_> = (0..3).map(|_| tokio::spawn(stop.raised())).collect();
        // One that stops waiting (its connection closed) frees its place.
        let closed = tokio::spawn(stop.raised());
        tokio::task::yield_now().await;
        closed.abort();
        let _ = closed.await;
        let registered = |stop: &ThreadStop| {
            let waiting = stop.waiting.lock().unwrap();
            waiting.wakers.iter().flatten().count()
        };
        assert_eq!(registered(&stop), 3);
        stop.raise();
        for task in waiting {
            tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("woken by the stop")
                .unwrap();
        }
        // After the stop, a new wait ends at once.
        stop.raised().await;
    }
}
