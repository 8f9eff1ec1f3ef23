//! Counters shared by many client tasks, and latency summaries.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The statuses a proxy under load answers with, counted without a lock;
/// anything else lands in `other`.
#[derive(Debug, Default)]
pub struct StatusCounts {
    ok: AtomicU64,
    forbidden: AtomicU64,
    too_many: AtomicU64,
    bad_gateway: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
}

impl StatusCounts {
    /// Counts one response.
    pub fn add(&self, status: u16) {
        let counter = match status {
            200 => &self.ok,
            403 => &self.forbidden,
            429 => &self.too_many,
            502 => &self.bad_gateway,
            503 => &self.unavailable,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Responses counted.
    pub fn total(&self) -> u64 {
        [
            &self.ok,
            &self.forbidden,
            &self.too_many,
            &self.bad_gateway,
            &self.unavailable,
            &self.other,
        ]
        .iter()
        .map(|counter| counter.load(Ordering::Relaxed))
        .sum()
    }

    /// The counts so far, for the report.
    pub fn snapshot(&self) -> StatusCounts {
        let copy = |counter: &AtomicU64| AtomicU64::new(counter.load(Ordering::Relaxed));
        StatusCounts {
            ok: copy(&self.ok),
            forbidden: copy(&self.forbidden),
            too_many: copy(&self.too_many),
            bad_gateway: copy(&self.bad_gateway),
            unavailable: copy(&self.unavailable),
            other: copy(&self.other),
        }
    }
}

impl Serialize for StatusCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, u64> = [
            ("200", &self.ok),
            ("403", &self.forbidden),
            ("429", &self.too_many),
            ("502", &self.bad_gateway),
            ("503", &self.unavailable),
            ("other", &self.other),
        ]
        .into_iter()
        .map(|(name, counter)| (name, counter.load(Ordering::Relaxed)))
        .filter(|(_, count)| *count > 0)
        .collect();
        map.serialize(serializer)
    }
}

/// Latencies collected in microseconds.
#[derive(Debug, Default)]
pub struct Latencies {
    micros: Vec<u64>,
}

/// Median, 99th percentile and maximum, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// How many were measured.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Latencies {
    /// Records one.
    pub fn add(&mut self, latency: Duration) {
        self.micros.push(latency.as_micros() as u64);
    }

    /// The summary; zeros when nothing was measured.
    pub fn summary(&mut self) -> Summary {
        self.micros.sort_unstable();
        let rank = |fraction: f64| -> f64 {
            if self.micros.is_empty() {
                return 0.0;
            }
            let index = ((fraction * self.micros.len() as f64).ceil() as usize)
                .clamp(1, self.micros.len())
                - 1;
            self.micros[index] as f64 / 1000.0
        };
        Summary {
            count: self.micros.len(),
            p50: rank(0.5),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}
