//! The tamper race: an attacker thread rewrites guarded pages in the
//! origin's document root in a tight loop — defaced bytes of the same
//! length, the approved bytes, defaced bytes with hidden links appended,
//! the approved bytes again, each written in place (truncate, then write,
//! as a web shell's `file_put_contents` does, so readers also catch empty
//! and half-written files) — while clients fetch the pages through the
//! proxy as fast as they can and compare every body with the approved
//! bytes.
//!
//! Bounded: the attacker and the clients stop at the deadline; the
//! approved bytes are written back before the result is printed.

use crate::http::{Connection, Failure, get_request};
use crate::stats::StatusCounts;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio::time::timeout_at;

/// One page under attack.
#[derive(Debug, Clone)]
pub struct RacePage {
    /// The URL path clients ask for.
    pub url_path: String,
    /// The file the origin serves it from.
    pub file: PathBuf,
}

/// What the race is told to do.
#[derive(Debug, Clone)]
pub struct RaceConfig {
    /// The proxy under test.
    pub target: SocketAddr,
    /// The Host header.
    pub host: String,
    /// The pages; their files hold the approved bytes when the race starts.
    pub pages: Vec<RacePage>,
    /// Client connections, each fetching the pages in turn.
    pub connections: usize,
    /// How long the race runs.
    pub duration: Duration,
}

#[derive(Debug)]
struct Variants {
    approved: Vec<u8>,
    same_length: Vec<u8>,
    longer: Vec<u8>,
}

impl Variants {
    fn of(approved: Vec<u8>) -> Variants {
        // A defacement that keeps the length: only a byte-for-byte
        // comparison (not a size check) can catch it.
        let mut same_length = approved.clone();
        let mark = b"<h1>HACKED BY race</h1>";
        let at = approved.len().saturating_sub(mark.len()) / 2;
        let end = (at + mark.len()).min(same_length.len());
        same_length[at..end].copy_from_slice(&mark[..end - at]);
        // Hidden gambling links (暗链) before the end of the body.
        let links = "<div style=\"display:none\"><a href=\"http://www.casino-race.test/\">太阳城娱乐 新葡京</a></div>";
        let mut longer = approved.clone();
        let insert_at = find(&approved, b"</body>").unwrap_or(approved.len());
        longer.splice(insert_at..insert_at, links.bytes());
        Variants {
            approved,
            same_length,
            longer,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// The count for one page.
#[derive(Debug, Default, Serialize)]
pub struct PageResult {
    url_path: String,
    approved_bytes: usize,
    /// Whole responses received.
    responses: u64,
    /// 200 with exactly the approved bytes.
    approved: u64,
    /// 200 with anything else: what reached a client that should not have.
    tampered: u64,
    /// Of those: the same-length defacement, the one with hidden links,
    /// and anything else (empty or half-written files).
    tampered_same_length: u64,
    tampered_hidden_links: u64,
    tampered_torn: u64,
    /// Other statuses.
    statuses: StatusCounts,
    /// Responses whose status line arrived but whose header or body was
    /// cut off (the connection closed): a broken page for a person.
    truncated: u64,
    /// Of those, the ones that began `200`.
    truncated_200: u64,
    /// Kept-alive connections closed before any byte of the response
    /// (the request is sent again on a new connection, as browsers do).
    closed_before_response: u64,
    /// No whole response within 5 s.
    timeouts: u64,
    /// The first truncated response, as the client saw it.
    first_truncation: Option<String>,
}

/// The whole result.
#[derive(Debug, Serialize)]
pub struct RaceResult {
    seconds: f64,
    connections: usize,
    /// Files the attacker wrote.
    attacker_writes: u64,
    responses: u64,
    responses_per_second: f64,
    tampered: u64,
    truncated: u64,
    closed_before_response: u64,
    timeouts: u64,
    pages: Vec<PageResult>,
}

#[derive(Default)]
struct PageCounters {
    responses: AtomicU64,
    approved: AtomicU64,
    same_length: AtomicU64,
    hidden_links: AtomicU64,
    torn: AtomicU64,
    statuses: StatusCounts,
    truncated: AtomicU64,
    truncated_200: AtomicU64,
    closed_before_response: AtomicU64,
    timeouts: AtomicU64,
    first_truncation: std::sync::Mutex<Option<String>>,
}

/// Runs the attacker and the clients for the configured time.
pub async fn run(config: RaceConfig) -> anyhow::Result<RaceResult> {
    let variants: Arc<Vec<Variants>> = Arc::new(
        config
            .pages
            .iter()
            .map(|page| {
                std::fs::read(&page.file)
                    .map(Variants::of)
                    .map_err(|error| anyhow::anyhow!("{}: {error}", page.file.display()))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let counters: Arc<Vec<PageCounters>> = Arc::new(
        config
            .pages
            .iter()
            .map(|_| PageCounters::default())
            .collect(),
    );
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        config
            .pages
            .iter()
            .map(|page| get_request(&config.host, &page.url_path))
            .collect(),
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.duration;

    let stop = Arc::new(AtomicBool::new(false));
    let attacker = {
        let files: Vec<PathBuf> = config.pages.iter().map(|page| page.file.clone()).collect();
        let variants = variants.clone();
        let stop = stop.clone();
        std::thread::spawn(move || attack(&files, &variants, &stop))
    };

    let mut clients = JoinSet::new();
    for client in 0..config.connections {
        let (variants, counters, requests) = (variants.clone(), counters.clone(), requests.clone());
        let target = config.target;
        clients.spawn(async move {
            let mut next = client % requests.len();
            'connect: while tokio::time::Instant::now() < deadline {
                let Ok(Ok(mut connection)) =
                    timeout_at(deadline, Connection::open(None, target)).await
                else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                loop {
                    let page = next;
                    next = (next + 1) % requests.len();
                    let counter = &counters[page];
                    let limit = deadline.min(tokio::time::Instant::now() + Duration::from_secs(5));
                    match timeout_at(limit, connection.send(&requests[page])).await {
                        Ok(Ok(response)) => {
                            counter.responses.fetch_add(1, Ordering::Relaxed);
                            let wanted = &variants[page];
                            if response.status != 200 {
                                counter.statuses.add(response.status);
                            } else if response.body == wanted.approved {
                                counter.approved.fetch_add(1, Ordering::Relaxed);
                            } else if response.body == wanted.same_length {
                                counter.same_length.fetch_add(1, Ordering::Relaxed);
                            } else if response.body == wanted.longer {
                                counter.hidden_links.fetch_add(1, Ordering::Relaxed);
                            } else {
                                counter.torn.fetch_add(1, Ordering::Relaxed);
                            }
                            if !response.keep_alive {
                                continue 'connect;
                            }
                        }
                        Ok(Err(Failure::BeforeResponse(_))) => {
                            counter
                                .closed_before_response
                                .fetch_add(1, Ordering::Relaxed);
                            next = page; // the same page again, on a new connection
                            continue 'connect;
                        }
                        Ok(Err(failure @ Failure::Truncated(status, _))) => {
                            counter.truncated.fetch_add(1, Ordering::Relaxed);
                            counter
                                .first_truncation
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert_with(|| failure.to_string());
                            if status == 200 {
                                counter.truncated_200.fetch_add(1, Ordering::Relaxed);
                            }
                            continue 'connect;
                        }
                        Err(_) => {
                            if tokio::time::Instant::now() < deadline {
                                counter.timeouts.fetch_add(1, Ordering::Relaxed);
                            }
                            continue 'connect;
                        }
                    }
                }
            }
        });
    }
    while clients.join_next().await.is_some() {}
    stop.store(true, Ordering::Relaxed);
    let attacker_writes = attacker
        .join()
        .map_err(|_| anyhow::anyhow!("the attacker thread panicked"))??;
    let seconds = started.elapsed().as_secs_f64();

    let pages: Vec<PageResult> = config
        .pages
        .iter()
        .zip(counters.iter())
        .zip(variants.iter())
        .map(|((page, counter), variants)| {
            let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            let (same_length, hidden_links, torn) = (
                load(&counter.same_length),
                load(&counter.hidden_links),
                load(&counter.torn),
            );
            PageResult {
                url_path: page.url_path.clone(),
                approved_bytes: variants.approved.len(),
                responses: load(&counter.responses),
                approved: load(&counter.approved),
                tampered: same_length + hidden_links + torn,
                tampered_same_length: same_length,
                tampered_hidden_links: hidden_links,
                tampered_torn: torn,
                statuses: counter.statuses.snapshot(),
                truncated: load(&counter.truncated),
                truncated_200: load(&counter.truncated_200),
                closed_before_response: load(&counter.closed_before_response),
                timeouts: load(&counter.timeouts),
                first_truncation: counter
                    .first_truncation
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
            }
        })
        .collect();
    let responses: u64 = pages.iter().map(|page| page.responses).sum();
    Ok(RaceResult {
        seconds,
        connections: config.connections,
        attacker_writes,
        responses,
        responses_per_second: responses as f64 / config.duration.as_secs_f64(),
        tampered: pages.iter().map(|page| page.tampered).sum(),
        truncated: pages.iter().map(|page| page.truncated).sum(),
        closed_before_response: pages.iter().map(|page| page.closed_before_response).sum(),
        timeouts: pages.iter().map(|page| page.timeouts).sum(),
        pages,
    })
}

/// The attacker: rewrites every file in place until told to stop, then
/// puts the approved bytes back. Returns how many writes it made.
fn attack(files: &[PathBuf], variants: &[Variants], stop: &AtomicBool) -> anyhow::Result<u64> {
    let mut writes = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for step in 0..4 {
            for (file, variants) in files.iter().zip(variants) {
                let bytes = match step {
                    0 => &variants.same_length,
                    2 => &variants.longer,
                    _ => &variants.approved,
                };
                std::fs::write(file, bytes)?;
                writes += 1;
            }
        }
    }
    for (file, variants) in files.iter().zip(variants) {
        std::fs::write(file, &variants.approved)?;
    }
    Ok(writes)
}
