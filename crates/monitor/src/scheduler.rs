//! The probe loop: every page on its own interval, at most `concurrency`
//! checks at once, a page never checked twice at the same time, and a clean
//! stop when the cancellation token fires.

use crate::check::check_page;
use crate::events::MonitorEvent;
use crate::now_ms;
use crate::record::Recorder;
use crate::targets::Targets;
use sitewarden_analysis::Baseline;
use sitewarden_probe::Prober;
use sitewarden_store::Store;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Runs checks until `cancel` fires, then waits for the checks in flight to
/// be recorded. Pages without an approved baseline are reported once as an
/// error and not checked for content.
pub async fn run(
    prober: Prober,
    targets: Arc<Targets>,
    store: Store,
    recorder: Arc<Recorder>,
    concurrency: usize,
    events: broadcast::Sender<MonitorEvent>,
    cancel: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let start = Instant::now();
    let count = targets.pages.len().max(1) as u32;
    for (index, target) in targets.pages.iter().enumerate() {
        // Spread the first round over each page's interval so ten thousand
        // pages do not all start in the same millisecond.
        let offset = target.interval / count * index as u32;
        due.push(Reverse((start + offset.min(Duration::from_secs(5)), index)));
    }
    let mut in_flight: JoinSet<usize> = JoinSet::new();
    loop {
        let next = due.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(finished) = in_flight.join_next() => {
                if let Ok(index) = finished {
                    due.push(Reverse((Instant::now() + targets.pages[index].interval, index)));
                }
            }
            _ = sleep_until(next) => {
                let Some(Reverse((_, index))) = due.pop() else { continue };
                let permit = tokio::select! {
                    _ = cancel.cancelled() => break,
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                };
                let prober = prober.clone();
                let targets = targets.clone();
                let store = store.clone();
                let recorder = recorder.clone();
                let events = events.clone();
                in_flight.spawn(async move {
                    let _permit = permit;
                    let _ = check_and_record(&prober, &targets, index, &store, &recorder, &events).await;
                    index
                });
            }
        }
    }
    // Let the checks already started finish and be recorded: a check cut
    // off half-way would lose its evidence.
    while in_flight.join_next().await.is_some() {}
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What one recorded check came to, for callers that report results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckOutcome {
    /// Site name.
    pub site: String,
    /// Page name.
    pub page: String,
    /// URL.
    pub url: String,
    /// The recorded verdict.
    pub verdict: sitewarden_analysis::Verdict,
    /// Score 0–100.
    pub score: u32,
    /// Reasons (English).
    pub reasons: Vec<String>,
    /// Reasons (Chinese).
    pub reasons_zh: Vec<String>,
    /// Final HTTP status of the browser view.
    pub http_status: Option<u16>,
    /// Time to full body (ms).
    pub response_ms: Option<u64>,
    /// Visible-text similarity to the baseline.
    pub similarity: Option<f64>,
    /// The incident the check's signal went to, if any.
    pub incident_id: Option<i64>,
}

/// One scheduled check: load the baseline, check, record. Failures are
/// reported as events, never panics; the outcome is None when the page
/// could not be checked or recorded.
pub(crate) async fn check_and_record(
    prober: &Prober,
    targets: &Targets,
    index: usize,
    store: &Store,
    recorder: &Recorder,
    events: &broadcast::Sender<MonitorEvent>,
) -> Option<CheckOutcome> {
    let target = &targets.pages[index];
    let error = |message: String| MonitorEvent::Error {
        site: target.site.clone(),
        page: target.page.clone(),
        message,
    };
    let baseline = match load_baseline(store, &target.site, &target.page).await {
        Ok(Some(baseline)) => baseline,
        Ok(None) => {
            let _ = events.send(error(
                "no approved baseline: run `sitewarden baseline` for this plan".to_string(),
            ));
            return None;
        }
        Err(message) => {
            let _ = events.send(error(message));
            return None;
        }
    };
    let check = check_page(prober, targets, target, &baseline, now_ms).await;
    let mut outcome = CheckOutcome {
        site: check.site.clone(),
        page: check.page.clone(),
        url: check.url.clone(),
        verdict: check.verdict,
        score: check.score,
        reasons: Vec::new(),
        reasons_zh: Vec::new(),
        http_status: check.http_status,
        response_ms: check.response_ms,
        similarity: check.similarity,
        incident_id: None,
    };
    match recorder.record(check).await {
        Ok(recorded) => {
            outcome.verdict = recorded.verdict;
            outcome.score = recorded.score;
            outcome.reasons = recorded.reasons.iter().map(|r| r.message.clone()).collect();
            outcome.reasons_zh = recorded
                .reasons
                .iter()
                .map(|r| r.message_zh.clone())
                .collect();
            outcome.incident_id = recorded.signal.map(|signal| signal.incident_id);
            Some(outcome)
        }
        Err(store_error) => {
            let _ = events.send(error(format!("cannot record the check: {store_error}")));
            None
        }
    }
}

/// The page's current approved baseline, parsed.
pub async fn load_baseline(
    store: &Store,
    site: &str,
    page: &str,
) -> Result<Option<Baseline>, String> {
    match store.current_baseline(site, page).await {
        Ok(Some(stored)) => serde_json::from_str(&stored.baseline_json)
            .map(Some)
            .map_err(|error| {
                format!(
                    "stored baseline version {} does not parse: {error}",
                    stored.version
                )
            }),
        Ok(None) => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}
