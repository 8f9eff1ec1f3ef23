//! The flood: many source addresses (127.0.0.2 … 127.0.0.200 by default)
//! each holding a few kept-alive connections and sending requests back to
//! back for a fixed time, beside one legitimate client that asks for the
//! page at a steady rate (open loop: one attempt per tick whatever happened
//! to the last one) and must get the exact expected bytes within its
//! timeout.
//!
//! Bounded: every loop stops at the deadline; requests still in flight then
//! are abandoned and not counted. A flood connection that is closed or
//! refused is opened again at once (an attacker does not give up); only a
//! failed `connect` waits 10 ms, so an exhausted port range does not spin.

use crate::http::{Connection, Failure, get_request};
use crate::stats::{Latencies, StatusCounts};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio::time::timeout_at;

/// What the flood is told to do.
#[derive(Debug, Clone)]
pub struct FloodConfig {
    /// Where to send the requests (the proxy under test).
    pub target: SocketAddr,
    /// The Host header.
    pub host: String,
    /// The path every client asks for.
    pub path: String,
    /// The flood's source addresses.
    pub sources: Vec<IpAddr>,
    /// Connections per flood source.
    pub connections_per_source: usize,
    /// How long the flood and the legitimate client run.
    pub duration: Duration,
    /// The legitimate client's source address.
    pub legit_source: IpAddr,
    /// The legitimate client's attempts per second.
    pub legit_rate: f64,
    /// How long one legitimate attempt may take (connect included).
    pub legit_timeout: Duration,
    /// The bytes a legitimate client must receive.
    pub expected_body: Vec<u8>,
}

/// The flood's side of the result.
#[derive(Debug, Serialize)]
pub struct FloodSide {
    sources: usize,
    connections: usize,
    /// Responses received, by status.
    statuses: StatusCounts,
    answered: u64,
    answered_per_second: f64,
    /// Connections that ended without a whole response (refused after
    /// accept, reset, closed by a ban).
    closed_without_response: u64,
    /// `connect` failures.
    connect_errors: u64,
    /// Requests that got no answer within 5 s.
    timeouts: u64,
}

/// The legitimate client's side of the result.
#[derive(Debug, Serialize)]
pub struct LegitSide {
    source: IpAddr,
    rate_per_second: f64,
    timeout_ms: u128,
    attempts: u64,
    /// 200 with exactly the expected bytes, within the timeout.
    ok: u64,
    success_rate: f64,
    /// Responses received, by status (whatever the body).
    statuses: StatusCounts,
    wrong_body: u64,
    errors: u64,
    timeouts: u64,
    /// Of the successful attempts, connect included.
    latency_ms: crate::stats::Summary,
    /// The first failure, as the client saw it.
    first_error: Option<String>,
}

/// The whole result.
#[derive(Debug, Serialize)]
pub struct FloodResult {
    seconds: f64,
    flood: FloodSide,
    legit: LegitSide,
}

#[derive(Default)]
struct FloodCounters {
    statuses: StatusCounts,
    closed: AtomicU64,
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
}

/// Runs the flood and the legitimate client together, for the configured
/// time.
pub async fn run(config: FloodConfig) -> anyhow::Result<FloodResult> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.duration;
    let request: Arc<[u8]> = get_request(&config.host, &config.path).into();
    let counters = Arc::new(FloodCounters::default());

    let mut flood = JoinSet::new();
    for &source in &config.sources {
        for _ in 0..config.connections_per_source {
            let counters = counters.clone();
            let request = request.clone();
            let target = config.target;
            flood.spawn(async move {
                flood_connection(source, target, &request, deadline, &counters).await
            });
        }
    }
    let legit = tokio::spawn(legit_client(config.clone(), deadline));

    while flood.join_next().await.is_some() {}
    let legit = legit.await??;
    let seconds = started.elapsed().as_secs_f64();
    let answered = counters.statuses.total();
    Ok(FloodResult {
        seconds,
        flood: FloodSide {
            sources: config.sources.len(),
            connections: config.sources.len() * config.connections_per_source,
            answered,
            answered_per_second: answered as f64 / config.duration.as_secs_f64(),
            statuses: counters.statuses.snapshot(),
            closed_without_response: counters.closed.load(Ordering::Relaxed),
            connect_errors: counters.connect_errors.load(Ordering::Relaxed),
            timeouts: counters.timeouts.load(Ordering::Relaxed),
        },
        legit,
    })
}

async fn flood_connection(
    source: IpAddr,
    target: SocketAddr,
    request: &[u8],
    deadline: tokio::time::Instant,
    counters: &FloodCounters,
) {
    while tokio::time::Instant::now() < deadline {
        let mut connection =
            match timeout_at(deadline, Connection::open(Some(source), target)).await {
                Err(_) => return,
                Ok(Ok(connection)) => connection,
                Ok(Err(_)) => {
                    counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
        loop {
            let limit = deadline.min(tokio::time::Instant::now() + Duration::from_secs(5));
            match timeout_at(limit, connection.send(request)).await {
                Ok(Ok(response)) => {
                    counters.statuses.add(response.status);
                    if !response.keep_alive {
                        break;
                    }
                }
                Ok(Err(_)) => {
                    counters.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(_) => {
                    if tokio::time::Instant::now() < deadline {
                        counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }
    }
}

async fn legit_client(
    config: FloodConfig,
    deadline: tokio::time::Instant,
) -> anyhow::Result<LegitSide> {
    let request: Arc<[u8]> = get_request(&config.host, &config.path).into();
    let expected: Arc<[u8]> = config.expected_body.clone().into();
    let pool: Arc<Mutex<Vec<Connection>>> = Arc::default();
    let statuses = Arc::new(StatusCounts::default());
    let ok = Arc::new(AtomicU64::new(0));
    let wrong_body = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let timeouts = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / config.legit_rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut attempts = 0u64;
    let mut in_flight = JoinSet::new();
    loop {
        let tick = ticks.tick().await;
        if tick >= deadline {
            break;
        }
        attempts += 1;
        let first_error = first_error.clone();
        let (pool, statuses, ok, wrong_body, errors, timeouts, latencies) = (
            pool.clone(),
            statuses.clone(),
            ok.clone(),
            wrong_body.clone(),
            errors.clone(),
            timeouts.clone(),
            latencies.clone(),
        );
        let (request, expected) = (request.clone(), expected.clone());
        let (source, target, limit) = (config.legit_source, config.target, config.legit_timeout);
        in_flight.spawn(async move {
            let began = Instant::now();
            let attempt = async {
                let pooled = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
                if let Some(mut connection) = pooled {
                    // A kept-alive connection the server closed before
                    // answering is retried once on a new one, as browsers do.
                    match connection.send(&request).await {
                        Ok(response) => return Ok((connection, response)),
                        Err(Failure::BeforeResponse(_)) => {}
                        Err(failure) => return Err(failure),
                    }
                }
                let mut connection = Connection::open(Some(source), target)
                    .await
                    .map_err(Failure::BeforeResponse)?;
                let response = connection.send(&request).await?;
                Ok::<_, Failure>((connection, response))
            };
            match tokio::time::timeout(limit, attempt).await {
                Err(_) => {
                    timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(failure)) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert_with(|| failure.to_string());
                }
                Ok(Ok((connection, response))) => {
                    statuses.add(response.status);
                    if response.status == 200 && response.body[..] == expected[..] {
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .add(began.elapsed());
                    } else if response.status == 200 {
                        wrong_body.fetch_add(1, Ordering::Relaxed);
                    }
                    if response.keep_alive {
                        pool.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(connection);
                    }
                }
            }
        });
        // Reap finished attempts as we go so the set stays small.
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
    let ok = ok.load(Ordering::Relaxed);
    let latency_ms = latencies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .summary();
    Ok(LegitSide {
        source: config.legit_source,
        rate_per_second: config.legit_rate,
        timeout_ms: config.legit_timeout.as_millis(),
        attempts,
        ok,
        success_rate: if attempts == 0 {
            0.0
        } else {
            ok as f64 / attempts as f64
        },
        statuses: statuses.snapshot(),
        wrong_body: wrong_body.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        timeouts: timeouts.load(Ordering::Relaxed),
        latency_ms,
        first_error: first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    })
}
