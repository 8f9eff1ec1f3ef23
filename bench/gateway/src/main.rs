//! Load tools for `bench/gateway/run.sh` that wrk cannot play: a flood
//! from many loopback source addresses beside one legitimate client
//! (`flood`), and a tamper race against guarded pages (`race`). Each prints
//! one JSON object on stdout; the script turns them into the report.
//!
//! Every run is bounded by `--seconds`; only loopback targets and source
//! addresses are accepted.

mod flood;
mod http;
mod race;
mod stats;

use anyhow::{Context, ensure};
use clap::{Parser, Subcommand};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Load tools for the gateway benchmark.
#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A bounded flood from many source addresses plus one legitimate client.
    Flood {
        /// The proxy under test (a loopback address).
        #[arg(long)]
        target: SocketAddr,
        /// The Host header.
        #[arg(long)]
        host: String,
        /// The path every client asks for.
        #[arg(long, default_value = "/")]
        path: String,
        /// The flood's source addresses, FIRST-LAST (IPv4, loopback).
        #[arg(long, default_value = "127.0.0.2-127.0.0.200")]
        sources: String,
        /// Kept-alive connections per flood source.
        #[arg(long, default_value_t = 2)]
        connections_per_source: usize,
        /// How long it runs.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// The legitimate client's source address.
        #[arg(long, default_value = "127.0.0.1")]
        legit_source: IpAddr,
        /// The legitimate client's attempts per second.
        #[arg(long, default_value_t = 20.0)]
        legit_rate: f64,
        /// Milliseconds one legitimate attempt may take, connect included.
        #[arg(long, default_value_t = 2000)]
        legit_timeout_ms: u64,
        /// The file whose bytes the legitimate client must receive.
        #[arg(long)]
        expect: PathBuf,
    },
    /// Rewrite guarded pages in a loop while clients fetch them.
    Race {
        /// The proxy under test (a loopback address).
        #[arg(long)]
        target: SocketAddr,
        /// The Host header.
        #[arg(long)]
        host: String,
        /// URL_PATH=FILE (repeatable): a page and the origin file it is
        /// served from, holding the approved bytes now.
        #[arg(long = "page", required = true)]
        pages: Vec<String>,
        /// Client connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// How long it runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Two worker threads: the machine has two cores, shared with the
    // proxies under test.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let json = match cli.command {
        Command::Flood {
            target,
            host,
            path,
            sources,
            connections_per_source,
            seconds,
            legit_source,
            legit_rate,
            legit_timeout_ms,
            expect,
        } => {
            ensure!(
                target.ip().is_loopback(),
                "--target must be a loopback address"
            );
            ensure!(
                legit_source.is_loopback(),
                "--legit-source must be loopback"
            );
            ensure!(legit_rate > 0.0, "--legit-rate must be positive");
            let config = flood::FloodConfig {
                target,
                host,
                path,
                sources: parse_sources(&sources)?,
                connections_per_source,
                duration: Duration::from_secs(seconds),
                legit_source,
                legit_rate,
                legit_timeout: Duration::from_millis(legit_timeout_ms),
                expected_body: std::fs::read(&expect)
                    .with_context(|| format!("cannot read {}", expect.display()))?,
            };
            serde_json::to_string_pretty(&runtime.block_on(flood::run(config))?)?
        }
        Command::Race {
            target,
            host,
            pages,
            connections,
            seconds,
        } => {
            ensure!(
                target.ip().is_loopback(),
                "--target must be a loopback address"
            );
            let pages = pages
                .iter()
                .map(|text| {
                    let (url_path, file) = text
                        .split_once('=')
                        .with_context(|| format!("--page {text:?}: expected URL_PATH=FILE"))?;
                    Ok(race::RacePage {
                        url_path: url_path.to_string(),
                        file: PathBuf::from(file),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let config = race::RaceConfig {
                target,
                host,
                pages,
                connections: connections.max(1),
                duration: Duration::from_secs(seconds),
            };
            serde_json::to_string_pretty(&runtime.block_on(race::run(config))?)?
        }
    };
    println!("{json}");
    Ok(())
}

/// `127.0.0.2-127.0.0.200` → every address in between, all loopback.
fn parse_sources(text: &str) -> anyhow::Result<Vec<IpAddr>> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let first: Ipv4Addr = first.trim().parse().context("--sources: first address")?;
    let last: Ipv4Addr = last.trim().parse().context("--sources: last address")?;
    let (first, last) = (u32::from(first), u32::from(last));
    ensure!(first <= last, "--sources: FIRST must not be after LAST");
    ensure!(last - first < 65_536, "--sources: at most 65536 addresses");
    let sources: Vec<IpAddr> = (first..=last)
        .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
        .collect();
    ensure!(
        sources.iter().all(IpAddr::is_loopback),
        "--sources: only loopback addresses (127.0.0.0/8)"
    );
    Ok(sources)
}
