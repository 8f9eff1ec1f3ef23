//! Semantic rules over `[logwatch]`: the detection settings compile (the
//! same check `sitewarden logs` makes), and every followed file names a
//! site of the plan and a format that compiles.

use super::{Checker, SiteParts};
use crate::logwatch::LogwatchSettings;
use crate::path;
use sitewarden_logwatch::LogwatchError;

impl Checker {
    pub(super) fn logwatch(&mut self, logwatch: &LogwatchSettings, sites: &[SiteParts<'_>]) {
        if let Err(LogwatchError::Config(problems)) = logwatch.config().resolve() {
            for problem in problems {
                // logwatch names the key first: "flood.min_rps: must be …".
                match problem.split_once(": ") {
                    Some((key, message)) => self.report(format!("logwatch.{key}"), message),
                    None => self.report("logwatch", problem),
                }
            }
        }
        if !(0.0..=1.0).contains(&logwatch.web_shell_signal_confidence) {
            self.report(
                "logwatch.web_shell_signal_confidence",
                "must be between 0 and 1",
            );
        }
        for (index, file) in logwatch.files.iter().enumerate() {
            let at = path::index("logwatch.files", index);
            if file.path.as_os_str().is_empty() {
                self.report(path::key(&at, "path"), "must not be empty");
            }
            if logwatch.files[..index]
                .iter()
                .any(|other| other.path == file.path)
            {
                self.report(
                    path::key(&at, "path"),
                    format!("{} is followed twice", file.path.display()),
                );
            }
            if let Some(site) = &file.site {
                let known = sites
                    .iter()
                    .any(|part| part.site.is_some_and(|s| &s.name == site));
                if !known {
                    self.report(
                        path::key(&at, "site"),
                        format!("no site named {} in [[sites]]", path::quoted(site)),
                    );
                }
            }
            if let Err(problem) = file.format.compile() {
                self.report(path::key(&at, "format"), problem);
            }
        }
    }
}
