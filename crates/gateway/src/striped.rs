//! State every request touches, split so that each worker thread writes
//! its own cache line: a counter or lock shared by all threads is a cache
//! line moved between cores on every request, which profiling showed to
//! be a good part of the gateway's own cost per proxied request (nginx's
//! workers share nothing on the request path either).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many ways shared per-request state is split.
pub const STRIPES: usize = 8;

/// This thread's stripe, `0..STRIPES`: threads take them in turn as they
/// first ask (more threads than stripes share).
pub fn thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    MINE.with(|mine| *mine)
}

/// A count added to by every thread and read now and then.
#[derive(Debug, Default)]
pub struct Counter([Line; STRIPES]);

#[derive(Debug, Default)]
#[repr(align(128))]
struct Line(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0[thread_stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0
            .iter()
            .map(|line| line.0.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_from_every_thread_add_up() {
        let counter = Arc::new(Counter::default());
        let threads: Vec<_> = (0..STRIPES + 3)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.get(), (STRIPES as u64 + 3) * 1000);
    }
}
