//! What the kernel says about processes: resident memory (current and
//! peak), CPU time, and a process's descendants. Linux only, read from
//! `/proc`; a value that cannot be read is reported as absent, never guessed.

use std::fs;

/// Clock ticks per second of `/proc/PID/stat` times. Linux has used 100 on
/// every mainstream architecture for decades; reading `sysconf` would need
/// libc for one constant.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_field_bytes(pid: &str, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kilobytes: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

/// This process's peak resident set size (`VmHWM`) in bytes.
pub fn own_peak_rss() -> Option<u64> {
    status_field_bytes("self", "VmHWM")
}

/// This process's resident set size now (`VmRSS`) in bytes.
pub fn own_rss() -> Option<u64> {
    status_field_bytes("self", "VmRSS")
}

/// Resets this process's peak RSS to its current RSS (`clear_refs` 5), so
/// that one phase's peak is not an earlier phase's. Returns false when the
/// kernel refuses.
pub fn reset_own_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// User + system CPU seconds of one process (its threads included).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the fields
    // after the last ')' are fixed. utime and stime are fields 14 and 15,
    // i.e. the 12th and 13th after the state field (field 3).
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SECOND)
}

/// This process's CPU seconds.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds("self").unwrap_or(0.0)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and every process descending from it.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| Some((child, parent_of(child)?)))
        .collect();
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            all.iter()
                .filter(|(_, of)| *of == parent)
                .map(|(child, _)| *child),
        );
        index += 1;
    }
    tree
}

/// CPU seconds of `pid` and its descendants that are alive now.
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    process_tree(pid)
        .iter()
        .filter_map(|pid| cpu_seconds(&pid.to_string()))
        .sum()
}

/// Resident bytes of `pid` and its descendants now.
pub fn tree_rss(pid: u32) -> u64 {
    process_tree(pid)
        .iter()
        .filter_map(|pid| status_field_bytes(&pid.to_string(), "VmRSS"))
        .sum()
}

/// The CPU model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Total memory in bytes from `/proc/meminfo`.
pub fn total_memory() -> Option<u64> {
    let info = fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

/// CPU seconds the whole machine has spent busy (every core, every
/// process: user, nice, system, irq, softirq, steal) since boot, from
/// `/proc/stat`. With this process's and nginx's own times it shows how much
/// of a measurement window other work on a shared machine took.
pub fn machine_busy_seconds() -> f64 {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return 0.0;
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: f64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&index| fields.get(index))
        .sum();
    busy / CLOCK_TICKS_PER_SECOND
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
