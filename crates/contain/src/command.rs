//! The command backend: the plan names a program, and switching a site runs
//! it.
//!
//! For whatever sitewarden has no backend for: a load balancer's API, a CDN,
//! a firewall, a script that flips a symlink. The program gets the switch
//! twice: as placeholders substituted inside its arguments
//! ([`PLACEHOLDERS`]) and as `SITEWARDEN_*` environment variables. It is
//! started directly, never through a shell, so a reason such as
//! `"defaced; $(rm -rf /)"` arrives as text, in one argument. Exit code 0
//! means switched; anything else, or running past the timeout (the whole
//! process group is then killed), is an error with the end of its stderr.
//!
//! It does not retry: the caller decides whether to try again.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::ContainError;
use crate::process::{self, Run};
use crate::{Applied, Backend, BoxFuture, Switch};

const BACKEND: &str = "command";

/// The placeholders the command's arguments may contain, each replaced by
/// the switch's value wherever it appears inside an argument:
/// `{site}` (the site's id), `{state}` (`serving` or `maintenance`),
/// `{reason}`, `{by}`, and `{hosts}` (the site's host names, separated by
/// spaces). A value never splits an argument and is never expanded again.
pub const PLACEHOLDERS: [&str; 5] = ["{site}", "{state}", "{reason}", "{by}", "{hosts}"];

/// The command backend's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandConfig {
    /// The program (a path, or a name looked up in `PATH`) and its
    /// arguments, which may contain [`PLACEHOLDERS`]. The program itself may
    /// not: what runs is decided by the plan, not by the switch.
    pub argv: Vec<String>,
    /// How long the command may run before its process group is killed.
    pub timeout: Duration,
}

impl CommandConfig {
    /// The default timeout: long enough for an API call with retries,
    /// short enough that a hung command does not hold containment up.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Settings for this argv with the default timeout.
    pub fn new(argv: Vec<String>) -> CommandConfig {
        CommandConfig {
            argv,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Switches a site by running the plan's command.
#[derive(Debug)]
pub struct CommandBackend {
    config: CommandConfig,
}

impl CommandBackend {
    /// Checks the settings: a program, known placeholders only, a timeout.
    pub fn new(config: CommandConfig) -> Result<CommandBackend, ContainError> {
        let invalid = |message: String| ContainError::InvalidConfig {
            backend: BACKEND,
            message,
        };
        let Some(program) = config.argv.first() else {
            return Err(invalid("argv is empty: name the program to run".into()));
        };
        if program.is_empty() {
            return Err(invalid("argv[0] is empty: name the program to run".into()));
        }
        if PLACEHOLDERS
            .iter()
            .any(|placeholder| program.contains(placeholder))
        {
            return Err(invalid(format!(
                "argv[0] `{program}` contains a placeholder: the program must not depend on the switch"
            )));
        }
        for (index, argument) in config.argv.iter().enumerate() {
            if argument.contains('\0') {
                return Err(invalid(format!("argv[{index}] contains a NUL character")));
            }
            if let Some(unknown) = unknown_placeholder(argument) {
                return Err(invalid(format!(
                    "argv[{index}] `{argument}` has the unknown placeholder {unknown}; known: {}",
                    PLACEHOLDERS.join(" ")
                )));
            }
        }
        if config.timeout.is_zero() {
            return Err(invalid("timeout must be more than zero".into()));
        }
        Ok(CommandBackend { config })
    }

    /// The settings.
    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    /// The argv and environment for one switch.
    fn invocation(&self, switch: &Switch) -> (Vec<String>, Vec<(&'static str, String)>) {
        let hosts = switch.hosts.join(" ");
        let values = [
            ("{site}", switch.site.as_str()),
            ("{state}", switch.to.as_str()),
            ("{reason}", switch.reason.as_str()),
            ("{by}", switch.by.as_str()),
            ("{hosts}", hosts.as_str()),
        ];
        let argv = self
            .config
            .argv
            .iter()
            .map(|argument| substitute(argument, &values))
            .collect();
        let env = vec![
            ("SITEWARDEN_SITE", switch.site.clone()),
            ("SITEWARDEN_STATE", switch.to.as_str().to_owned()),
            ("SITEWARDEN_REASON", switch.reason.clone()),
            ("SITEWARDEN_BY", switch.by.clone()),
            ("SITEWARDEN_HOSTS", hosts),
        ];
        (argv, env)
    }

    async fn switch(&self, switch: &Switch) -> Result<Applied, ContainError> {
        let started = Instant::now();
        let (argv, env) = self.invocation(switch);
        let run = process::run(Run {
            argv: &argv,
            env: &env,
            timeout: self.config.timeout,
            keep_stdout_lines_starting_with: None,
        })
        .await
        .map_err(|source| ContainError::Spawn {
            backend: BACKEND,
            site: switch.site.clone(),
            step: "command",
            program: argv[0].clone(),
            source,
        })?;
        if !run.succeeded() {
            return Err(ContainError::Failed {
                backend: BACKEND,
                site: switch.site.clone(),
                step: "command",
                run: Box::new(run),
            });
        }
        tracing::info!(
            site = %switch.site,
            to = %switch.to,
            command = %run.command_line(),
            "command backend switched the site"
        );
        Ok(Applied {
            backend: BACKEND,
            site: switch.site.clone(),
            to: switch.to,
            files_written: Vec::new(),
            commands: vec![run],
            elapsed: started.elapsed(),
        })
    }
}

impl Backend for CommandBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn apply<'a>(&'a self, switch: &'a Switch) -> BoxFuture<'a, Result<Applied, ContainError>> {
        Box::pin(self.switch(switch))
    }

    /// Checks that the program exists and is executable (looked up in
    /// `PATH` when it has no `/`), so a typo shows at start-up.
    fn prepare(&self) -> BoxFuture<'_, Result<(), ContainError>> {
        Box::pin(async move {
            let program = &self.config.argv[0];
            let found = if program.contains('/') {
                is_executable_file(Path::new(program))
            } else {
                std::env::var_os("PATH").is_some_and(|path| {
                    std::env::split_paths(&path)
                        .any(|directory| is_executable_file(&directory.join(program)))
                })
            };
            if found {
                Ok(())
            } else {
                Err(ContainError::InvalidConfig {
                    backend: BACKEND,
                    message: format!(
                        "`{program}` is not an executable file (looked up in PATH when it has no /)"
                    ),
                })
            }
        })
    }
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// Replaces each placeholder in one pass: a value that itself contains
/// `{site}` is left as it is.
fn substitute(argument: &str, values: &[(&str, &str)]) -> String {
    let mut substituted = String::with_capacity(argument.len());
    let mut rest = argument;
    while let Some(start) = rest.find('{') {
        substituted.push_str(&rest[..start]);
        let from_brace = &rest[start..];
        match values.iter().find(|(name, _)| from_brace.starts_with(name)) {
            Some((name, value)) => {
                substituted.push_str(value);
                rest = &from_brace[name.len()..];
            }
            None => {
                substituted.push('{');
                rest = &from_brace[1..];
            }
        }
    }
    substituted.push_str(rest);
    substituted
}

/// The first `{word}` (lowercase letters and `_`) that is not a known
/// placeholder: most likely a typo. Other braces (`{"json": 1}`) are text.
fn unknown_placeholder(argument: &str) -> Option<&str> {
    argument.match_indices('{').find_map(|(start, _)| {
        let after = &argument[start + 1..];
        let word_length = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if word_length == 0 || !after[word_length..].starts_with('}') {
            return None;
        }
        let candidate = &argument[start..start + word_length + 2];
        (!PLACEHOLDERS.contains(&candidate)).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SiteState;

    fn switch(reason: &str) -> Switch {
        Switch {
            site: "portal".into(),
            hosts: vec![
                "portal.example.gov.test".into(),
                "www.portal.example.gov.test".into(),
            ],
            to: SiteState::Maintenance,
            reason: reason.into(),
            by: "playbook".into(),
        }
    }

    fn check_argv(argv: &[&str], reason: &str, expected: &[&str]) {
        let backend = CommandBackend::new(CommandConfig::new(
            argv.iter().map(|a| a.to_string()).collect(),
        ))
        .expect("valid config");
        let (substituted, _) = backend.invocation(&switch(reason));
        assert_eq!(substituted, expected, "argv {argv:?}");
    }

    #[test]
    fn placeholders_are_replaced_inside_one_argument() {
        check_argv(
            &[
                "/usr/local/bin/cut-off",
                "{site}",
                "--state={state}",
                "{reason}",
            ],
            "defaced",
            &[
                "/usr/local/bin/cut-off",
                "portal",
                "--state=maintenance",
                "defaced",
            ],
        );
        check_argv(
            &["cdn", "{hosts}", "by {by}: {reason}"],
            "two words",
            &[
                "cdn",
                "portal.example.gov.test www.portal.example.gov.test",
                "by playbook: two words",
            ],
        );
        // A value is not expanded again, and stays one argument.
        check_argv(
            &["x", "{reason}"],
            "{site} $(id) `id` ; |",
            &["x", "{site} $(id) `id` ; |"],
        );
        // Braces that are not placeholders are text.
        check_argv(
            &["x", r#"{"site":"{site}"}"#, "{", "}{"],
            "r",
            &["x", r#"{"site":"portal"}"#, "{", "}{"],
        );
    }

    fn check_refused(argv: &[&str], timeout: Duration, expected: &str) {
        let mut config = CommandConfig::new(argv.iter().map(|a| a.to_string()).collect());
        config.timeout = timeout;
        match CommandBackend::new(config) {
            Err(error) => assert!(
                error.to_string().contains(expected),
                "argv {argv:?}: {error} does not say {expected:?}"
            ),
            Ok(_) => panic!("argv {argv:?} was accepted"),
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let second = Duration::from_secs(1);
        check_refused(&[], second, "argv is empty");
        check_refused(&[""], second, "argv[0] is empty");
        check_refused(
            &["/bin/{site}"],
            second,
            "argv[0] `/bin/{site}` contains a placeholder",
        );
        check_refused(
            &["x", "{sight}"],
            second,
            "argv[1] `{sight}` has the unknown placeholder {sight}",
        );
        check_refused(&["x", "a\0b"], second, "argv[1] contains a NUL character");
        check_refused(&["x"], Duration::ZERO, "timeout must be more than zero");
    }
}
