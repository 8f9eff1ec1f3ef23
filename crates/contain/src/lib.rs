//! Containment backends: cut a site off from external service at once, and
//! put it back when the incident allows.
//!
//! The plan says that when a defacement is found the site stops serving
//! until it is clean. sitewarden's own gateway does that for the sites
//! behind it; this crate does it for organisations that keep their own
//! front end, through a [`Backend`]:
//!
//! - [`NginxBackend`] rewrites an include file that the operator's nginx
//!   `include`s in the site's `server {}` block (maintenance: every request
//!   answered with 503, `Retry-After` and a maintenance page; serving: a
//!   comment only), has nginx test the configuration, reloads it, and puts
//!   the previous file back when either step fails.
//! - [`CommandBackend`] runs the command the plan names, with the site,
//!   state and reason as separate arguments and environment variables,
//!   never through a shell.
//!
//! Every program a backend runs has a timeout; on timeout its whole process
//! group is killed (`process`). An error means the site was not switched:
//! the nginx backend undoes what it wrote, and says so in
//! [`ContainError::RolledBack`].
//!
//! This crate does not decide *when* to contain (the incident engine does)
//! and does not check from outside that the site answers 503 (the monitor's
//! probe does: it is the only part that opens sockets to monitored sites).

mod command;
mod error;
mod nginx;
mod process;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

pub use command::{CommandBackend, CommandConfig, PLACEHOLDERS};
pub use error::{ContainError, Rollback};
pub use nginx::{BUILTIN_PAGE, MaintenancePage, NAMED_LOCATION, NginxBackend, NginxConfig};
pub use process::{CommandRun, Exit};

/// A boxed future, so backends can be held as `Box<dyn Backend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a site serves its pages or is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteState {
    /// The site serves its pages normally.
    Serving,
    /// The site is cut off: every request gets the maintenance answer.
    Maintenance,
}

impl SiteState {
    /// The state's name in commands, environment variables and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteState::Serving => "serving",
            SiteState::Maintenance => "maintenance",
        }
    }

    /// Parses [`SiteState::as_str`].
    pub fn parse(text: &str) -> Option<SiteState> {
        match text {
            "serving" => Some(SiteState::Serving),
            "maintenance" => Some(SiteState::Maintenance),
            _ => None,
        }
    }
}

impl fmt::Display for SiteState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One request to switch a site: what to switch it to, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Switch {
    /// The site's id in the plan.
    pub site: String,
    /// The site's host names (for backends that switch by host name, such as
    /// a command that tells a CDN). The nginx backend does not need them: its
    /// include file belongs to one `server {}` block.
    pub hosts: Vec<String>,
    /// The state the site is to be in.
    pub to: SiteState,
    /// Why (shown to operators; the nginx backend writes it as a comment).
    pub reason: String,
    /// Who or what asked for the switch (a person's name, or
    /// `playbook` for an automatic step).
    pub by: String,
}

/// What a backend did to switch a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// The backend's name ([`Backend::name`]).
    pub backend: &'static str,
    /// The site's id.
    pub site: String,
    /// The state the site was switched to.
    pub to: SiteState,
    /// Files written, in order.
    pub files_written: Vec<PathBuf>,
    /// Programs run, in order, each with its exit and the end of its output.
    pub commands: Vec<CommandRun>,
    /// From the start of the switch to its end.
    #[serde(rename = "elapsed_ms", serialize_with = "process::serialize_millis")]
    pub elapsed: Duration,
}

impl fmt::Display for Applied {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} backend switched site {} to {} in {} ms",
            self.backend,
            self.site,
            self.to,
            self.elapsed.as_millis()
        )?;
        for path in &self.files_written {
            write!(formatter, "; wrote {}", path.display())?;
        }
        for run in &self.commands {
            write!(
                formatter,
                "; ran `{}` ({}, {} ms)",
                run.command_line(),
                run.exit,
                run.elapsed.as_millis()
            )?;
        }
        Ok(())
    }
}

/// A way to switch a site between serving and maintenance.
///
/// `apply` must leave the site as it was when it returns an error, as far
/// as the backend can: a caller may retry, or try another backend.
pub trait Backend: Send + Sync {
    /// A short name for logs and errors (`nginx`, `command`).
    fn name(&self) -> &'static str;

    /// Switches the site. Ok only once the switch is done as far as this
    /// backend can tell (for nginx: the configuration tested and the reload
    /// signalled; nginx starts new workers with it within moments).
    ///
    /// Every program it runs has the backend's own timeout, so there is no
    /// need to wrap the call in one; and the future should be run to its
    /// end: dropped half-way, it kills the program it is running and may
    /// leave a file written but not yet tested or reloaded (the next switch
    /// writes it again).
    fn apply<'a>(&'a self, switch: &'a Switch) -> BoxFuture<'a, Result<Applied, ContainError>>;

    /// Checks, before the first incident, that the backend can work, and
    /// creates what it needs that is missing. Call it at start-up so a
    /// mistake shows then, not in the middle of an incident. The default
    /// has nothing to check.
    fn prepare(&self) -> BoxFuture<'_, Result<(), ContainError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner holds one backend per site whatever its kind.
    #[test]
    fn backends_of_every_kind_fit_one_list() {
        let backends: Vec<Box<dyn Backend>> = vec![
            Box::new(
                NginxBackend::new(NginxConfig::new("/etc/nginx/sitewarden/portal.conf"))
                    .expect("valid"),
            ),
            Box::new(
                CommandBackend::new(CommandConfig::new(vec!["/usr/local/bin/cut-off".into()]))
                    .expect("valid"),
            ),
        ];
        let names: Vec<&str> = backends.iter().map(|backend| backend.name()).collect();
        assert_eq!(names, ["nginx", "command"]);
        assert_eq!(SiteState::Maintenance.to_string(), "maintenance");
        assert_eq!(SiteState::Serving.as_str(), "serving");
    }
}
