//! The assembled monitor: prober, resolved targets, recorder and event
//! channel built once from the plan, used by `serve`, `check` and the demo.

use crate::DrillRegistry;
use crate::events::MonitorEvent;
use crate::record::Recorder;
use crate::scheduler::{self, CheckOutcome, check_and_record, load_baseline};
use crate::targets::{Targets, probe_config};
use futures_util::StreamExt;
use sitewarden_plan::Plan;
use sitewarden_probe::Prober;
use sitewarden_store::Store;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Why the monitor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The TLS setup (CA files) failed.
    #[error(transparent)]
    Tls(#[from] sitewarden_probe::TlsSetupError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sitewarden_store::StoreError),
}

/// Everything needed to check the plan's pages.
#[derive(Debug, Clone)]
pub struct Monitor {
    prober: Prober,
    targets: Arc<Targets>,
    store: Store,
    recorder: Arc<Recorder>,
    events: broadcast::Sender<MonitorEvent>,
    concurrency: usize,
}

impl Monitor {
    /// Builds the monitor for a plan. `down_after_failures` overrides the
    /// plan's limit (a one-off `check` has one attempt, so one failure is down).
    pub async fn new(
        plan: &Plan,
        store: Store,
        drills: DrillRegistry,
        down_after_failures: Option<u32>,
    ) -> Result<Monitor, StartError> {
        let prober = Prober::new(probe_config(plan))?;
        let targets = Arc::new(Targets::from_plan(plan));
        // Display consumers may lag; a lagging one skips events, the
        // monitor never waits for it.
        let (events, _) = broadcast::channel(4096);
        let limit = down_after_failures.unwrap_or(targets.down_after_failures);
        let recorder = Arc::new(Recorder::new(store.clone(), drills, events.clone(), limit).await?);
        Ok(Monitor {
            prober,
            targets,
            store,
            recorder,
            events,
            concurrency: plan.probe.concurrency,
        })
    }

    /// The resolved targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The prober (for approving baselines with the same settings).
    pub fn prober(&self) -> &Prober {
        &self.prober
    }

    /// A new receiver of monitor events.
    pub fn subscribe(&self) -> broadcast::Receiver<MonitorEvent> {
        self.events.subscribe()
    }

    /// Pages (site, page) that have no approved baseline yet.
    pub async fn pages_without_baseline(
        &self,
    ) -> Result<Vec<(String, String)>, sitewarden_store::StoreError> {
        let mut missing = Vec::new();
        for target in &self.targets.pages {
            if self
                .store
                .current_baseline(&target.site, &target.page)
                .await?
                .is_none()
            {
                missing.push((target.site.clone(), target.page.clone()));
            }
        }
        Ok(missing)
    }

    /// Checks every page once, at most `concurrency` at a time, records
    /// each result and returns them in plan order (pages that could not be
    /// checked are reported as error events and left out).
    pub async fn check_all_once(&self) -> Vec<CheckOutcome> {
        let indices = 0..self.targets.pages.len();
        let mut outcomes: Vec<(usize, CheckOutcome)> = futures_util::stream::iter(indices)
            .map(|index| async move {
                let outcome = check_and_record(
                    &self.prober,
                    &self.targets,
                    index,
                    &self.store,
                    &self.recorder,
                    &self.events,
                )
                .await;
                outcome.map(|outcome| (index, outcome))
            })
            .buffer_unordered(self.concurrency.max(1))
            .filter_map(|outcome| async move { outcome })
            .collect()
            .await;
        outcomes.sort_by_key(|(index, _)| *index);
        outcomes.into_iter().map(|(_, outcome)| outcome).collect()
    }

    /// Runs the probe loop until `cancel` fires.
    pub async fn run(&self, cancel: CancellationToken) {
        scheduler::run(
            self.prober.clone(),
            self.targets.clone(),
            self.store.clone(),
            self.recorder.clone(),
            self.concurrency,
            self.events.clone(),
            cancel,
        )
        .await;
    }

    /// The parsed current baseline of a page.
    pub async fn baseline(
        &self,
        site: &str,
        page: &str,
    ) -> Result<Option<sitewarden_analysis::Baseline>, String> {
        load_baseline(&self.store, site, page).await
    }
}
