//! Terminal output: logging setup, times, verdict colours, progress bars.
//! Colours and bars appear only on a terminal; pipes get plain text.

use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use sitewarden_analysis::Verdict;
use std::io::IsTerminal;

/// Logs go to stderr; `-v` raises the level, `RUST_LOG` overrides it.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,sitewarden=info",
        1 => "info,sitewarden=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The zone times are shown in: the plan's, once a command has loaded it.
/// A process-wide presentation setting (like NO_COLOR), set once before any
/// output: the people reading are in the organisation's zone, not the
/// server's, and the messages the runner sends use the plan's zone too.
static DISPLAY_ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();

/// Shows every later time in `zone` (the plan's).
pub fn use_zone(zone: jiff::tz::TimeZone) {
    let _ = DISPLAY_ZONE.set(zone);
}

/// A Unix-millisecond time as wall-clock time, to the second, in the
/// plan's zone (the machine's when no plan was loaded).
pub fn time(ms: i64) -> String {
    let zone = DISPLAY_ZONE
        .get()
        .cloned()
        .unwrap_or_else(jiff::tz::TimeZone::system);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(timestamp) => timestamp
            .to_zoned_datetime(zone)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format!("@{ms}ms"),
    }
}

/// A verdict, coloured on a terminal: red for defaced and down, yellow for
/// changed, cyan for a site cut off on purpose (shown as "cut off").
pub fn verdict(verdict: Verdict) -> String {
    let text = match verdict {
        Verdict::Contained => format!("{:<8}", "cut off"),
        other => format!("{:<8}", other.as_str()),
    };
    match verdict {
        Verdict::Clean => style(text).green().to_string(),
        Verdict::Changed => style(text).yellow().to_string(),
        Verdict::Contained => style(text).cyan().bold().to_string(),
        Verdict::Defaced | Verdict::Down => style(text).red().bold().to_string(),
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
pub fn progress(len: u64, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// Prints a line above the progress bar on a terminal, or plainly when the
/// bar is hidden (indicatif drops `println` on a hidden bar).
pub fn line(bar: &ProgressBar, text: String) {
    if bar.is_hidden() {
        println!("{text}");
    } else {
        bar.println(text);
    }
}
