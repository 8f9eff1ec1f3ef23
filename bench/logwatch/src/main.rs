//! `sitewarden-bench-logwatch generate --lines N --out FILE` writes the
//! deterministic fixture log (a day of traffic with every attack class, a
//! flood and a defacement); `analyze FILE…` runs the batch analysis with
//! detection on and prints lines per second (one JSON line on stdout,
//! the report summary on stderr). The CLI is not wired yet, so this is
//! what `bench/logwatch/run.sh` times against GoAccess and fail2ban.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sitewarden_logwatch::fixture::{FixtureSpec, generate};
use sitewarden_logwatch::{Config, analyze};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the fixture log.
    Generate {
        /// Lines of normal traffic (the attacks, the flood and the
        /// defacement come on top).
        #[arg(long, default_value_t = 10_000_000)]
        lines: u64,
        /// Seed.
        #[arg(long, default_value_t = 20261120)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Analyses log files and prints the throughput.
    Analyze {
        /// Log files.
        files: Vec<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Generate { lines, seed, out } => {
            let started = Instant::now();
            let file = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let mut spec = FixtureSpec::day(seed, lines);
            // A flood of about 20x the average rate, as the tests use.
            spec.flood = Some((10 * 3600, 120, 0));
            let truth = generate(&spec, &mut writer)?;
            writer.flush()?;
            eprintln!(
                "wrote {} lines to {} in {:.1} s",
                truth.lines,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            println!("{}", truth.lines);
        }
        Command::Analyze {
            files,
            threads,
            json,
            html,
        } => {
            let config = Config {
                threads,
                ..Config::default()
            };
            let started = Instant::now();
            let report = analyze(&files, &config, |_| {})?;
            let seconds = started.elapsed().as_secs_f64();
            let lines_per_second = report.lines as f64 / seconds;
            eprintln!(
                "{} lines ({} bad) in {seconds:.2} s: {lines_per_second:.0} lines/s; {} attacks in {} classes, {} flood(s), {} decision(s)",
                report.lines,
                report.bad_lines,
                report.attacks_total,
                report.attacks_by_class.len(),
                report.floods.len(),
                report.decisions.len()
            );
            if let Some(path) = json {
                std::fs::write(&path, report.to_json())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(path) = html {
                std::fs::write(&path, sitewarden_logwatch::render_html(&report))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "{}",
                serde_json::json!({
                    "lines": report.lines,
                    "seconds": seconds,
                    "lines_per_second": lines_per_second,
                    "attacks": report.attacks_total,
                    "attack_classes": report.attacks_by_class.len(),
                    "floods": report.floods.len(),
                    "decisions": report.decisions.len(),
                })
            );
        }
    }
    Ok(())
}
