//! Running one program with a timeout, for every backend.
//!
//! The program runs in a process group of its own, with no stdin, and its
//! stdout and stderr read as they come (a chatty program never blocks on a
//! full pipe). On timeout, or when the caller's future is dropped, the
//! whole group is killed with SIGKILL, so a script's `sleep` or `curl`
//! goes with it. After a normal exit the group is left alone: a program
//! that deliberately starts a daemon keeps it.
//!
//! It keeps only the end of each stream ([`CommandRun`]'s tails), and, when
//! asked, the stdout lines that start with a given prefix (the nginx
//! backend's `# configuration file` lines from `nginx -T`, whatever the
//! size of the configuration).

use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// How long to keep reading a program's output after it exited, when a
/// process it left behind still holds the pipes open.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// How many bytes of each stream are kept while reading.
const KEPT_BYTES: usize = 16 * 1024;

/// How many lines of each stream a [`CommandRun`] keeps.
const TAIL_LINES: usize = 20;

/// How many bytes of text a tail holds at most (one long line can be
/// megabytes), so an error message stays readable.
const TAIL_BYTES: usize = 4096;

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal (not ours) ended it.
    Signal(i32),
    /// It ran out of time, and its process group was killed.
    TimedOut,
}

impl Exit {
    fn from_status(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            // A wait status is either an exit or a signal on Unix; a
            // stopped or continued child is not reported by `wait`.
            (None, None) => Exit::Signal(0),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(formatter, "exit code {code}"),
            Exit::Signal(signal) => write!(formatter, "killed by signal {signal}"),
            Exit::TimedOut => formatter.write_str("timed out, killed"),
        }
    }
}

/// One program run: what ran, how it ended, and the end of what it said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommandRun {
    /// The program and its arguments, exactly as passed (no shell).
    pub argv: Vec<String>,
    /// How it ended.
    pub exit: Exit,
    /// The last lines of its standard output (at most 20 lines and 4 KiB;
    /// a cut is marked with `…`).
    pub stdout_tail: String,
    /// The last lines of its standard error (at most 20 lines and 4 KiB).
    pub stderr_tail: String,
    /// From start to end (to the kill, on timeout).
    #[serde(rename = "elapsed_ms", serialize_with = "serialize_millis")]
    pub elapsed: Duration,
    /// Stdout lines that start with the prefix the caller asked for, in
    /// order (empty unless asked). Not serialized: it can be long.
    #[serde(skip)]
    pub(crate) matching_lines: Vec<String>,
}

impl CommandRun {
    /// Whether it exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// The argv as one line for people: arguments with spaces or quotes
    /// are shown in single quotes. Never passed to a shell.
    pub fn command_line(&self) -> String {
        self.argv
            .iter()
            .map(|argument| {
                let plain = !argument.is_empty()
                    && argument
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+{}".contains(c));
                if plain {
                    argument.clone()
                } else {
                    format!("'{}'", argument.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for CommandRun {
    /// `` `nginx -t` exit code 1: <stderr tail> ``, with the stderr tail (or,
    /// when stderr is empty, the stdout tail) on one line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}` {}", self.command_line(), self.exit)?;
        if self.exit == Exit::TimedOut {
            write!(formatter, " after {} ms", self.elapsed.as_millis())?;
        }
        let said = if self.stderr_tail.is_empty() {
            &self.stdout_tail
        } else {
            &self.stderr_tail
        };
        if !said.is_empty() {
            write!(
                formatter,
                ": {}",
                said.lines().collect::<Vec<_>>().join(" | ")
            )?;
        }
        Ok(())
    }
}

/// Serializes a duration as whole milliseconds.
pub(crate) fn serialize_millis<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// What to run and how.
pub(crate) struct Run<'a> {
    pub argv: &'a [String],
    pub env: &'a [(&'static str, String)],
    pub timeout: Duration,
    /// Keep every stdout line starting with this (see [`CommandRun`]).
    pub keep_stdout_lines_starting_with: Option<&'static str>,
}

/// Runs the program. Err only when it could not be started; every way it
/// can end once started is a [`CommandRun`].
pub(crate) async fn run(request: Run<'_>) -> io::Result<CommandRun> {
    let Some((program, arguments)) = request.argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty argv"));
    };
    let started = Instant::now();
    let deadline = started + request.timeout;
    let mut child = tokio::process::Command::new(program)
        .args(arguments)
        .envs(request.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    // Declared after `child`, so dropped before it: the group is killed
    // while the child is not yet reaped and its id cannot be reused.
    let mut group = GroupKiller(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw),
    );
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");

    let mut stdout_kept = Kept::new(request.keep_stdout_lines_starting_with);
    let mut stderr_kept = Kept::new(None);
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut status = None;
    let mut stdout_chunk = [0u8; 8192];
    let mut stderr_chunk = [0u8; 8192];
    let wake = tokio::time::sleep_until(deadline);
    tokio::pin!(wake);
    while status.is_none() || stdout_open || stderr_open {
        // Every branch is cancel-safe: `read` and `Child::wait` lose nothing
        // when another branch wins.
        tokio::select! {
            read = stdout.read(&mut stdout_chunk), if stdout_open => match read {
                Ok(0) | Err(_) => stdout_open = false,
                Ok(length) => stdout_kept.push(&stdout_chunk[..length]),
            },
            read = stderr.read(&mut stderr_chunk), if stderr_open => match read {
                Ok(0) | Err(_) => stderr_open = false,
                Ok(length) => stderr_kept.push(&stderr_chunk[..length]),
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited?);
                // Reaped: the id may be reused from now on, so never signal it.
                group.disarm();
                let grace = Instant::now() + PIPE_GRACE;
                wake.as_mut().reset(grace.min(deadline));
            },
            () = &mut wake => break,
        }
    }
    let exit = match status {
        Some(status) => Exit::from_status(status),
        None => {
            group.kill();
            // SIGKILL cannot be caught, so this wait is short.
            child.wait().await?;
            Exit::TimedOut
        }
    };
    let elapsed = started.elapsed();
    Ok(CommandRun {
        argv: request.argv.to_vec(),
        exit,
        stdout_tail: tail_text(&stdout_kept.bytes, TAIL_LINES),
        stderr_tail: tail_text(&stderr_kept.bytes, TAIL_LINES),
        elapsed,
        matching_lines: stdout_kept.matching_lines,
    })
}

/// Kills the process group on drop unless disarmed.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(group) = self.0.take()
            // Pid 1 would mean "every process we may signal": never.
            && group != Pid::INIT
            && let Err(error) = kill_process_group(group, Signal::KILL)
            // ESRCH: the group is already gone, which is what we wanted.
            && error != rustix::io::Errno::SRCH
        {
            tracing::warn!(%error, group = group.as_raw_nonzero(), "could not kill a process group");
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The end of one stream, and the lines that match a prefix.
struct Kept {
    bytes: Vec<u8>,
    prefix: Option<&'static str>,
    /// The line being read, while looking for `prefix`.
    partial_line: Vec<u8>,
    matching_lines: Vec<String>,
}

impl Kept {
    fn new(prefix: Option<&'static str>) -> Kept {
        Kept {
            bytes: Vec::new(),
            prefix,
            partial_line: Vec::new(),
            matching_lines: Vec::new(),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > 2 * KEPT_BYTES {
            self.bytes.drain(..self.bytes.len() - KEPT_BYTES);
        }
        if let Some(prefix) = self.prefix {
            for &byte in chunk {
                if byte == b'\n' {
                    if self.partial_line.starts_with(prefix.as_bytes()) {
                        self.matching_lines
                            .push(String::from_utf8_lossy(&self.partial_line).into_owned());
                    }
                    self.partial_line.clear();
                } else if self.partial_line.len() < 64 * 1024 {
                    self.partial_line.push(byte);
                }
            }
        }
    }
}

/// The last `lines` lines of `bytes` (lossy UTF-8), without trailing
/// blank lines or carriage returns, cut to the last [`TAIL_BYTES`].
pub(crate) fn tail_text(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text
        .trim_end()
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.len() <= TAIL_BYTES {
        return tail;
    }
    let mut start = tail.len() - TAIL_BYTES;
    while !tail.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &tail[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tail(bytes: &[u8], lines: usize, expected: &str) {
        assert_eq!(tail_text(bytes, lines), expected, "input {bytes:?}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        check_tail(b"", 3, "");
        check_tail(b"one\n", 3, "one");
        check_tail(b"one\ntwo\nthree\nfour\n\n\n", 2, "three\nfour");
        check_tail(b"one\r\ntwo\r\n", 5, "one\ntwo");
        check_tail(b"no newline at the end", 1, "no newline at the end");
        check_tail(b"bad \xff byte", 1, "bad \u{fffd} byte");
        // One long line is cut from the front, at a character boundary.
        let long = "维".repeat(2000) + "\nend";
        let tail = tail_text(long.as_bytes(), 5);
        assert!(
            tail.starts_with("…维") && tail.ends_with("维\nend"),
            "{tail}"
        );
        assert!(tail.len() <= TAIL_BYTES + '…'.len_utf8(), "{}", tail.len());
    }

    #[test]
    fn kept_finds_prefixed_lines_across_chunks() {
        let mut kept = Kept::new(Some("# configuration file "));
        for chunk in [
            &b"# configuration file /etc/ng"[..],
            b"inx/nginx.conf:\nuser root;\n# conf",
            b"iguration file /etc/nginx/sitewarden/portal.conf:\n",
        ] {
            kept.push(chunk);
        }
        assert_eq!(
            kept.matching_lines,
            [
                "# configuration file /etc/nginx/nginx.conf:",
                "# configuration file /etc/nginx/sitewarden/portal.conf:",
            ]
        );
    }

    #[test]
    fn kept_bytes_stay_bounded() {
        let mut kept = Kept::new(None);
        for _ in 0..100 {
            kept.push(&[b'x'; 1000]);
        }
        assert!(kept.bytes.len() <= 2 * KEPT_BYTES);
        assert!(kept.bytes.len() >= KEPT_BYTES);
    }

    #[test]
    fn command_line_quotes_what_a_person_would_misread() {
        let run = CommandRun {
            argv: vec![
                "/usr/sbin/nginx".into(),
                "-c".into(),
                "/etc/nginx/my sites.conf".into(),
                "it's".into(),
                String::new(),
            ],
            exit: Exit::Code(0),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            elapsed: Duration::ZERO,
            matching_lines: Vec::new(),
        };
        assert_eq!(
            run.command_line(),
            r"/usr/sbin/nginx -c '/etc/nginx/my sites.conf' 'it'\''s' ''"
        );
    }
}
