//! The wake-ups of an origin connection that lives inside its client
//! connection's task ([`super::origin::OriginLink`]).
//!
//! hyper's client connection is two halves joined by channels: the
//! sender (a request in, a response and its body out) and the driver
//! (the socket's reads and writes). Each hand-over between them wakes the
//! other half. Here both halves run in the one task, which always drives
//! the connection and then looks at what came out of it in the same pass
//! — so those wake-ups are the task waking itself, and each one costs the
//! task a second, idle pass through hyper's server and client (counted:
//! four passes a proxied request, where two do the work).
//!
//! So the halves get wakers of their own that pass a wake-up on to the
//! task unless it comes from inside the task's own hand-over:
//! - the **driver's** waker keeps quiet while a request is handed to it
//!   (the task drives it next) and while the task takes what it handed
//!   over (taking a piece of body tells the driver to read the next; the
//!   task drives again before it waits — see `OriginLink::exchange`); the
//!   socket, a timer, or the driver yielding always wake the task;
//! - the **receivers'** waker (the response, its body, the sender's
//!   readiness) keeps quiet while the driver runs: only the driver wakes
//!   them, and the task looks at each right after driving.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// What both wakers of a link share: the task to wake, and when not to.
#[derive(Debug, Default)]
struct Shared {
    task: Mutex<Option<Waker>>,
    /// Inside the driver: the receivers' wake-ups are the task's own.
    driving: AtomicBool,
    /// Handing a request over: the driver's wake-up is the task's own.
    handing_over: AtomicBool,
    /// Taking what the driver handed over: its wake-up is noted in
    /// `owed`, for the task to drive it.
    receiving: AtomicBool,
    /// The driver was woken while the task was receiving.
    owed: AtomicBool,
}

impl Shared {
    fn wake_task(&self) {
        if let Some(task) = &*self.task.lock().unwrap_or_else(|e| e.into_inner()) {
            task.wake_by_ref();
        }
    }
}

struct ToDriver(Arc<Shared>);

impl Wake for ToDriver {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.0.handing_over.load(Ordering::Acquire) {
            return;
        }
        if self.0.receiving.load(Ordering::Acquire) {
            self.0.owed.store(true, Ordering::Release);
            return;
        }
        self.0.wake_task();
    }
}

struct ToReceivers(Arc<Shared>);

impl Wake for ToReceivers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.0.driving.load(Ordering::Acquire) {
            self.0.wake_task();
        }
    }
}

/// One origin connection's wakers.
pub struct LinkWakers {
    shared: Arc<Shared>,
    driver: Waker,
    receivers: Waker,
    /// The task's waker as last noted, to compare without the lock.
    known: Option<Waker>,
}

impl Default for LinkWakers {
    fn default() -> Self {
        let shared = Arc::new(Shared::default());
        LinkWakers {
            driver: Waker::from(Arc::new(ToDriver(shared.clone()))),
            receivers: Waker::from(Arc::new(ToReceivers(shared.clone()))),
            shared,
            known: None,
        }
    }
}

impl LinkWakers {
    /// Notes the task now in charge of the link (`cx`'s): the same one
    /// for the link's life but for an upgrade, so compared here and only
    /// stored (under the lock the wakers read it with) when it changed.
    fn follow(&mut self, cx: &Context<'_>) {
        if self
            .known
            .as_ref()
            .is_some_and(|known| known.will_wake(cx.waker()))
        {
            return;
        }
        self.known = Some(cx.waker().clone());
        *self.shared.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
    }

    /// Runs `drive` with the driver's context, for the task of `cx`; the
    /// receivers' wake-ups meanwhile are the task's own (it looks at them
    /// next).
    pub fn driving<R>(&mut self, cx: &Context<'_>, drive: impl FnOnce(&mut Context<'_>) -> R) -> R {
        self.follow(cx);
        self.shared.driving.store(true, Ordering::Release);
        let result = drive(&mut Context::from_waker(&self.driver));
        self.shared.driving.store(false, Ordering::Release);
        result
    }

    /// Runs `receive` with the receivers' context, for the task of `cx`;
    /// and whether it woke the driver, which the caller then owes a drive
    /// (or the task a wake-up: [`LinkWakers::wake_task`]).
    pub fn receiving<R>(
        &mut self,
        cx: &Context<'_>,
        receive: impl FnOnce(&mut Context<'_>) -> R,
    ) -> (R, bool) {
        self.follow(cx);
        self.shared.receiving.store(true, Ordering::Release);
        let result = receive(&mut Context::from_waker(&self.receivers));
        self.shared.receiving.store(false, Ordering::Release);
        (result, self.shared.owed.swap(false, Ordering::AcqRel))
    }

    /// Wakes the task (a drive owed and not done here).
    pub fn wake_task(&self) {
        self.shared.wake_task();
    }

    /// Runs `hand_over`, which gives the driver a request; the driver's
    /// wake-up meanwhile is the task's own (it drives next).
    pub fn handing_over<R>(&self, hand_over: impl FnOnce() -> R) -> R {
        self.shared.handing_over.store(true, Ordering::Release);
        let result = hand_over();
        self.shared.handing_over.store(false, Ordering::Release);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn only_wake_ups_from_outside_the_hand_over_reach_the_task() {
        let count = Arc::new(Count::default());
        let task = Waker::from(count.clone());
        let cx = Context::from_waker(&task);
        let mut wakers = LinkWakers::default();
        let woken = || count.0.load(Ordering::SeqCst);

        // What the driver wakes while it runs: quiet.
        let (receivers, owed) = wakers.receiving(&cx, |cx| cx.waker().clone());
        assert!(!owed);
        wakers.driving(&cx, |_| receivers.wake_by_ref());
        assert_eq!(woken(), 0);
        // The same waker woken later (the driver dropped elsewhere): heard.
        receivers.wake_by_ref();
        assert_eq!(woken(), 1);

        // The driver's own wake-ups: quiet only while a request is handed
        // over; a socket's or a yield's reach the task.
        let driver = wakers.driving(&cx, |cx| cx.waker().clone());
        wakers.handing_over(|| driver.wake_by_ref());
        assert_eq!(woken(), 1);
        wakers.driving(&cx, |_| driver.wake_by_ref());
        assert_eq!(woken(), 2, "a driver that yields is polled again");
        driver.wake_by_ref();
        assert_eq!(woken(), 3);

        // Woken while the task takes a piece of body: owed to the caller,
        // once.
        let ((), owed) = wakers.receiving(&cx, |_| driver.wake_by_ref());
        assert!(owed);
        assert_eq!(woken(), 3);
        let ((), owed) = wakers.receiving(&cx, |_| {});
        assert!(!owed);
    }
}
