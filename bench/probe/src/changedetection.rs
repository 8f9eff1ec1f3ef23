//! changedetection.io, the peer: started from its own virtualenv on
//! 127.0.0.1 with a fresh data directory, driven through its REST API
//! (`x-api-key`, the token it writes to `changedetection.json` on first
//! start), stopped with SIGINT when dropped.
//!
//! It refuses loopback URLs unless `ALLOW_IANA_RESTRICTED_ADDRESSES=true`.
//! It is started with one watch given on the command line (`-u`), a page on
//! the benchmark's own nginx, because without any it adds two default
//! watches of public sites, and this benchmark sends nothing off the
//! machine; that watch is deleted as soon as the API answers.
//!
//! Checks are counted from its own log: every check it starts logs
//! "processing watch UUID" at INFO level.

use crate::nginx::{free_port, stop_child};
use crate::procfs;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The log line changedetection.io writes when a worker starts a check.
const CHECK_STARTED: &str = "processing watch UUID";

/// A running changedetection.io.
pub struct ChangeDetection {
    child: Child,
    base: String,
    api_key: String,
    client: reqwest::Client,
    dir: PathBuf,
    /// Highest RSS of its process tree seen by [`ChangeDetection::sample_rss`].
    pub peak_rss: u64,
}

/// A watch as the list endpoint shows it.
#[derive(Debug, Clone)]
pub struct WatchSummary {
    /// Unix seconds of its last check (0 = never).
    pub last_checked: i64,
}

impl ChangeDetection {
    /// Starts `binary` with `workers` fetch workers and the shortest
    /// recheck time it accepts (`MINIMUM_SECONDS_RECHECK_TIME`, 1 s), in
    /// `dir` (created), with `seed_url` as its first watch.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        workers: usize,
        seed_url: &str,
    ) -> Result<ChangeDetection> {
        std::fs::create_dir_all(dir)?;
        let datastore = dir.join("datastore");
        let port = free_port()?;
        let stdout = std::fs::File::create(dir.join("stdout.log"))?;
        let stderr = std::fs::File::create(dir.join("stderr.log"))?;
        let child = Command::new(binary)
            .arg("-d")
            .arg(&datastore)
            .arg("-C")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-l",
                "INFO",
                "-u",
                seed_url,
            ])
            .env("ALLOW_IANA_RESTRICTED_ADDRESSES", "true")
            .env("MINIMUM_SECONDS_RECHECK_TIME", "1")
            .env("FETCH_WORKERS", workers.to_string())
            // Nothing goes through a proxy from the environment.
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut cd = ChangeDetection {
            child,
            base: format!("http://127.0.0.1:{port}"),
            api_key: String::new(),
            client,
            dir: dir.to_path_buf(),
            peak_rss: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = cd.child.try_wait()? {
                bail!(
                    "changedetection.io exited with {status}; see {}",
                    dir.join("stderr.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("changedetection.io did not answer its API within 90 s");
            }
            cd.sample_rss();
            if cd.api_key.is_empty()
                && let Ok(text) = std::fs::read_to_string(datastore.join("changedetection.json"))
                && let Ok(json) = serde_json::from_str::<Value>(&text)
                && let Some(key) = json["settings"]["application"]["api_access_token"].as_str()
            {
                cd.api_key = key.to_string();
            }
            if !cd.api_key.is_empty() && cd.list().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for uuid in cd.list().await?.keys() {
            cd.request(reqwest::Method::DELETE, &format!("/api/v1/watch/{uuid}"))
                .send()
                .await?;
        }
        Ok(cd)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.api_key)
    }

    async fn get_json(&self, path: &str) -> Result<Value> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Every watch, by UUID.
    pub async fn list(&self) -> Result<BTreeMap<String, WatchSummary>> {
        let json = self.get_json("/api/v1/watch").await?;
        let object = json
            .as_object()
            .context("the watch list is not an object")?;
        Ok(object
            .iter()
            .map(|(uuid, watch)| {
                (
                    uuid.clone(),
                    WatchSummary {
                        last_checked: watch["last_checked"].as_i64().unwrap_or(0),
                    },
                )
            })
            .collect())
    }

    /// One watch in full (`check_count`, `history_n`, `last_changed`…).
    pub async fn watch(&self, uuid: &str) -> Result<Value> {
        self.get_json(&format!("/api/v1/watch/{uuid}")).await
    }

    /// Imports `urls` as watches rechecked every `seconds` seconds.
    pub async fn import(&self, urls: &[String], seconds: u32) -> Result<()> {
        for chunk in urls.chunks(500) {
            let response = self
                .request(reqwest::Method::POST, "/api/v1/import")
                .query(&[
                    ("time_between_check", format!("{{\"seconds\":{seconds}}}")),
                    ("time_between_check_use_default", "false".to_string()),
                ])
                .header("content-type", "text/plain")
                .body(chunk.join("\n"))
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                bail!("import: HTTP {status}: {}", response.text().await?);
            }
        }
        Ok(())
    }

    /// Adds one watch, with extra request headers, rechecked every
    /// `seconds` seconds. Returns its UUID.
    pub async fn add_watch(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        seconds: u32,
    ) -> Result<String> {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
            .collect();
        let response = self
            .request(reqwest::Method::POST, "/api/v1/watch")
            .header("content-type", "application/json")
            .body(
                serde_json::json!({
                    "url": url,
                    "headers": headers,
                    "time_between_check": {"seconds": seconds},
                    "time_between_check_use_default": false,
                })
                .to_string(),
            )
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("adding {url}: HTTP {status}: {text}");
        }
        let json: Value = serde_json::from_str(&text)?;
        Ok(json["uuid"]
            .as_str()
            .context("no uuid in the answer")?
            .to_string())
    }

    /// Queues a recheck of one watch now.
    pub async fn recheck(&self, uuid: &str) -> Result<()> {
        self.get_json(&format!("/api/v1/watch/{uuid}?recheck=1"))
            .await
            .map(|_| ())
    }

    /// The snapshots of a watch (timestamp → file), oldest first.
    pub async fn history(&self, uuid: &str) -> Result<Vec<String>> {
        let json = self
            .get_json(&format!("/api/v1/watch/{uuid}/history"))
            .await?;
        let mut keys: Vec<String> = json
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort_by_key(|key| key.parse::<i64>().unwrap_or(0));
        Ok(keys)
    }

    /// The text diff between the last two snapshots, changed lines only.
    pub async fn last_diff(&self, uuid: &str) -> Result<String> {
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("/api/v1/watch/{uuid}/difference/previous/latest"),
            )
            .query(&[
                ("format", "text"),
                ("changesOnly", "true"),
                ("no_markup", "true"),
            ])
            .send()
            .await?;
        Ok(response.text().await?)
    }

    /// Checks started so far, counted from its log.
    pub fn checks_started(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("stdout.log"))
            .map(|log| log.matches(CHECK_STARTED).count() as u64)
            .unwrap_or(0)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Samples the RSS of its process tree now; keeps the peak.
    pub fn sample_rss(&mut self) -> u64 {
        let rss = procfs::tree_rss(self.child.id());
        self.peak_rss = self.peak_rss.max(rss);
        rss
    }

    /// Lines of its error output that name an error.
    pub fn errors(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("stderr.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("| ERROR") || line.contains("| CRITICAL"))
            .take(5)
            .map(str::to_string)
            .collect()
    }

    /// Stops it (SIGINT, as Ctrl-C; SIGKILL after 10 s).
    pub fn stop(&mut self) {
        stop_child(&mut self.child, "-INT");
    }
}

impl Drop for ChangeDetection {
    fn drop(&mut self) {
        self.stop();
    }
}

/// changedetection.io's throughput with one worker count.
#[derive(Debug, Clone, Serialize)]
pub struct CdLoadResult {
    /// `FETCH_WORKERS`.
    pub workers: usize,
    /// Watches (one per page).
    pub watches: usize,
    /// Watches that had been checked at least once when the timed window began.
    pub warmed_watches: usize,
    /// Seconds spent warming up (importing, first checks).
    pub warmup_seconds: f64,
    /// Checks started in the timed window.
    pub checks: u64,
    /// Seconds of the timed window.
    pub seconds: f64,
    /// Checks per minute.
    pub checks_per_minute: f64,
    /// Peak RSS of its process tree in the timed window (sampled each second).
    pub peak_rss_bytes: u64,
    /// Peak RSS of its process tree over its whole run (start, import included).
    pub peak_rss_bytes_overall: u64,
    /// CPU seconds of its process tree in the timed window.
    pub cpu_seconds: f64,
    /// CPU seconds of nginx in the timed window.
    pub nginx_cpu_seconds: f64,
    /// CPU seconds everything else on the machine used meanwhile.
    pub other_cpu_seconds: f64,
    /// Errors it logged, if any (the first few).
    pub errors: Vec<String>,
}

/// What a changedetection.io load run needs besides its worker count.
#[derive(Clone, Copy)]
pub struct CdLoadSetup<'a> {
    /// The changedetection.io executable.
    pub binary: &'a Path,
    /// Where each run gets its own directory.
    pub dir: &'a Path,
    /// The page given on its command line (see the module's doc).
    pub seed_url: &'a str,
    /// The pages to watch.
    pub urls: &'a [String],
    /// Most time for every watch's first check.
    pub warmup_limit: Duration,
    /// The timed window.
    pub duration: Duration,
    /// nginx's master, for its CPU time.
    pub nginx_pid: u32,
}

/// Runs changedetection.io over `urls` with every watch due every second,
/// warms up (every watch checked once, at most `warmup_limit`), then counts
/// the checks it starts in `duration`.
pub async fn measure_load(setup: &CdLoadSetup<'_>, workers: usize) -> Result<CdLoadResult> {
    let CdLoadSetup {
        binary,
        dir,
        seed_url,
        urls,
        warmup_limit,
        duration,
        nginx_pid,
    } = *setup;
    let dir = &dir.join(format!("cd-load-{workers}"));
    let started = Instant::now();
    let mut cd = ChangeDetection::start(binary, dir, workers, seed_url).await?;
    cd.import(urls, 1).await?;
    let mut warmed = 0;
    while started.elapsed() < warmup_limit {
        cd.sample_rss();
        // While the import runs in its background, the list endpoint can
        // fail ("dictionary changed size during iteration"): ask again.
        if let Ok(list) = cd.list().await {
            warmed = list.values().filter(|watch| watch.last_checked > 0).count();
            if list.len() >= urls.len() && warmed >= urls.len() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let warmup_seconds = started.elapsed().as_secs_f64();
    let checks_before = cd.checks_started();
    let cpu_before = procfs::tree_cpu_seconds(cd.pid());
    let nginx_before = procfs::tree_cpu_seconds(nginx_pid);
    let machine_before = procfs::machine_busy_seconds();
    let window = Instant::now();
    let mut peak = 0;
    while window.elapsed() < duration {
        peak = peak.max(cd.sample_rss());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let seconds = window.elapsed().as_secs_f64();
    let checks = cd.checks_started().saturating_sub(checks_before);
    let cpu_seconds = procfs::tree_cpu_seconds(cd.pid()) - cpu_before;
    let nginx_cpu_seconds = procfs::tree_cpu_seconds(nginx_pid) - nginx_before;
    let other_cpu_seconds =
        (procfs::machine_busy_seconds() - machine_before - cpu_seconds - nginx_cpu_seconds)
            .max(0.0);
    let errors = cd.errors();
    cd.stop();
    Ok(CdLoadResult {
        workers,
        watches: urls.len(),
        warmed_watches: warmed,
        warmup_seconds,
        checks,
        seconds,
        checks_per_minute: checks as f64 / seconds * 60.0,
        peak_rss_bytes: peak,
        peak_rss_bytes_overall: cd.peak_rss,
        cpu_seconds,
        nginx_cpu_seconds,
        other_cpu_seconds,
        errors,
    })
}

/// What changedetection.io made of one detection case.
#[derive(Debug, Clone, Serialize)]
pub struct CdVerdict {
    /// The case (with " (Baiduspider UA)" for the watch sending that user agent).
    pub case: String,
    /// Whether it recorded a change after the switch.
    pub changed: bool,
    /// Lines of its text diff (changed lines only).
    pub diff_lines: usize,
    /// The start of that diff.
    pub diff_excerpt: String,
    /// Its last error for the watch, if any.
    pub error: Option<String>,
}

/// One watch of the detection corpus: case name, URL, extra headers.
pub struct CdCase {
    /// Case name as reported.
    pub name: String,
    /// The URL watched.
    pub url: String,
    /// A User-Agent to send instead of its default, if any.
    pub user_agent: Option<&'static str>,
}

/// Watches every case, waits for each first check, runs `switch`, rechecks
/// every watch and reports whether it saw a change.
pub async fn run_quality(
    binary: &Path,
    dir: &Path,
    seed_url: &str,
    cases: &[CdCase],
    switch: impl FnOnce() -> Result<()>,
) -> Result<Vec<CdVerdict>> {
    let mut cd = ChangeDetection::start(binary, dir, 5, seed_url).await?;
    let mut uuids = Vec::new();
    for case in cases {
        let headers: Vec<(&str, &str)> = case
            .user_agent
            .map(|ua| ("User-Agent", ua))
            .into_iter()
            .collect();
        // A day between scheduled checks: only the explicit rechecks below run.
        uuids.push(cd.add_watch(&case.url, &headers, 86_400).await?);
    }
    wait_for_checks(&cd, &uuids, 1).await?;
    // Snapshots are keyed by whole seconds: make sure the next one is later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    switch()?;
    for uuid in &uuids {
        cd.recheck(uuid).await?;
    }
    wait_for_checks(&cd, &uuids, 2).await?;
    cd.sample_rss();
    let mut verdicts = Vec::new();
    for (case, uuid) in cases.iter().zip(&uuids) {
        let watch = cd.watch(uuid).await?;
        let history = cd.history(uuid).await?;
        let changed = history.len() >= 2;
        let diff = if changed {
            cd.last_diff(uuid).await?
        } else {
            String::new()
        };
        let diff_lines = diff.lines().filter(|line| !line.trim().is_empty()).count();
        verdicts.push(CdVerdict {
            case: case.name.clone(),
            changed,
            diff_lines,
            diff_excerpt: diff.chars().take(160).collect(),
            error: watch["last_error"].as_str().map(str::to_string),
        });
    }
    cd.stop();
    Ok(verdicts)
}

async fn wait_for_checks(cd: &ChangeDetection, uuids: &[String], count: i64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut done = 0;
        for uuid in uuids {
            if cd.watch(uuid).await?["check_count"].as_i64().unwrap_or(0) >= count {
                done += 1;
            }
        }
        if done == uuids.len() {
            // check_count is written at the end of a check, after the snapshot.
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "changedetection.io checked {done} of {} watches {count} times within 120 s",
                uuids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
