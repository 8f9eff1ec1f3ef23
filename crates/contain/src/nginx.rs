//! The nginx backend: containment for organisations that keep their own
//! nginx in front of a site.
//!
//! The operator adds one line as the first line of the site's `server {}`
//! block: `include /etc/nginx/sitewarden/portal.conf;`. sitewarden owns
//! that file. Serving, it holds only comments. Maintenance, it holds
//!
//! ```nginx
//! return 503;
//! error_page 503 @sitewarden_maintenance;
//! location @sitewarden_maintenance { … try_files "/portal.maintenance.html" =503; }
//! ```
//!
//! so every request, to every location of that server, is answered with
//! 503, `Retry-After` and the maintenance page, which is written next to
//! the include (`portal.maintenance.html`). The `return` runs in nginx's
//! server rewrite phase, before any location is chosen, so `proxy_pass`,
//! `fastcgi_pass` and static locations are all cut off; the named location
//! is entered without that phase again, so it does not loop.
//!
//! A switch: read the previous files, write the new ones (temp → fsync →
//! rename, mode 0644 so nginx's workers can read the page), run `nginx -T`
//! (the configuration test, whose dump of file names also proves that the
//! include is really included), then reload (`nginx -s reload`, or the
//! plan's command). If the test or the reload fails, the previous files are
//! put back (and, after a failed reload, nginx is reloaded with them), and
//! the error says what nginx said. Switches through one backend are
//! serialized.
//!
//! It does not check from outside that the site now answers 503: the
//! reload is a signal, and nginx's new workers take over within moments;
//! the monitor sees the result.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{ContainError, Rollback};
use crate::process::{self, CommandRun, Run};
use crate::{Applied, Backend, BoxFuture, SiteState, Switch};

const BACKEND: &str = "nginx";

/// The named location the maintenance include defines. The site's
/// configuration must not define one of the same name.
pub const NAMED_LOCATION: &str = "@sitewarden_maintenance";

/// The lines `nginx -T` starts each dumped file with.
const DUMPED_FILE_PREFIX: &str = "# configuration file ";

/// The mode of the include and the page: nginx's workers (`www-data`)
/// read the page, and neither holds a secret.
const FILE_MODE: u32 = 0o644;

/// The page shown during maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenancePage {
    /// sitewarden's own page, in Chinese and English; it says the site is
    /// under maintenance, not why.
    Builtin,
    /// This HTML (UTF-8).
    Html(String),
    /// The HTML in this file, read at every switch to maintenance (so it
    /// can be edited without restarting sitewarden) and copied next to the
    /// include.
    File(PathBuf),
}

/// sitewarden's own maintenance page.
pub const BUILTIN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>网站维护中 / Under maintenance</title>
</head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em">
<h1>网站维护中</h1>
<p>本网站正在维护，暂停对外服务，请稍后访问。</p>
<h1 lang="en">Under maintenance</h1>
<p lang="en">This site is temporarily unavailable. Please try again later.</p>
</body>
</html>
"#;

/// The nginx backend's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxConfig {
    /// The include file sitewarden owns, an absolute path; the site's
    /// `server {}` block includes it. Its file name may hold only ASCII
    /// letters, digits, `.`, `_` and `-`; the maintenance page is written
    /// beside it (`portal.conf` → `portal.maintenance.html`).
    pub include_path: PathBuf,
    /// The page shown during maintenance.
    pub maintenance_page: MaintenancePage,
    /// The `Retry-After` sent with the 503, in whole seconds (at least 1).
    pub retry_after: Duration,
    /// The nginx program (default `nginx`, looked up in `PATH`). Point it at
    /// a wrapper (`exec sudo /usr/sbin/nginx "$@"`) when sitewarden does not
    /// run as root.
    pub nginx_binary: PathBuf,
    /// The main configuration file, passed as `-c` to the test and the
    /// default reload. None: nginx's compiled-in one (`/etc/nginx/nginx.conf`
    /// on Debian).
    pub config_file: Option<PathBuf>,
    /// The reload command (no shell). None: `nginx [-c FILE] -s reload`.
    /// For example `["systemctl", "reload", "nginx"]`.
    pub reload: Option<Vec<String>>,
    /// How long the test and the reload may each run before they are killed.
    pub timeout: Duration,
}

impl NginxConfig {
    /// The default `Retry-After`: five minutes.
    pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(300);
    /// The default timeout of each nginx command.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

    /// Settings for this include file, with sitewarden's page and the
    /// system's nginx.
    pub fn new(include_path: impl Into<PathBuf>) -> NginxConfig {
        NginxConfig {
            include_path: include_path.into(),
            maintenance_page: MaintenancePage::Builtin,
            retry_after: Self::DEFAULT_RETRY_AFTER,
            nginx_binary: PathBuf::from("nginx"),
            config_file: None,
            reload: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Switches a site by rewriting the include file its nginx `server {}`
/// block includes, testing and reloading nginx.
#[derive(Debug)]
pub struct NginxBackend {
    config: NginxConfig,
    /// Where the page is written: beside the include.
    page_path: PathBuf,
    /// The include's directory as written into the include (`root`).
    page_directory: String,
    /// The page's file name as written into the include (`try_files`).
    page_file_name: String,
    test_argv: Vec<String>,
    reload_argv: Vec<String>,
    /// One switch at a time: a rollback must put back what *this* switch
    /// found, not what a concurrent one wrote.
    switching: tokio::sync::Mutex<()>,
}

/// The files as they were before a switch, to put back.
struct Previous {
    include: Option<Vec<u8>>,
    /// Only read when the switch writes the page.
    page: Option<Option<Vec<u8>>>,
}

impl NginxBackend {
    /// Checks the settings; touches nothing on disk.
    pub fn new(config: NginxConfig) -> Result<NginxBackend, ContainError> {
        let invalid = |message: String| ContainError::InvalidConfig {
            backend: BACKEND,
            message,
        };
        let include = &config.include_path;
        if !include.is_absolute() {
            return Err(invalid(format!(
                "include_path {} must be absolute",
                include.display()
            )));
        }
        let (Some(directory), Some(file_name)) = (include.parent(), include.file_name()) else {
            return Err(invalid(format!(
                "include_path {} must name a file",
                include.display()
            )));
        };
        let file_name = file_name.to_str().unwrap_or_default();
        let simple_name = !file_name.is_empty()
            && !file_name.starts_with('.')
            && file_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !simple_name {
            return Err(invalid(format!(
                "include_path {}: the file name may hold only ASCII letters, digits, '.', '_' and '-', and must not start with '.'",
                include.display()
            )));
        }
        // The directory goes into the include as a quoted nginx string, in
        // which `$` starts a variable and `"` and `\` would need escapes.
        let page_directory = directory
            .to_str()
            .filter(|text| {
                !text.contains(['"', '\\', '$']) && !text.chars().any(char::is_control)
            })
            .ok_or_else(|| {
                invalid(format!(
                    "include_path {}: the directory must be UTF-8 without '\"', '\\', '$' or control characters",
                    include.display()
                ))
            })?
            .to_owned();
        let page_path = include.with_extension("maintenance.html");
        let page_file_name = page_path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("built from a checked ASCII name")
            .to_owned();

        if config.retry_after.as_secs() == 0 {
            return Err(invalid("retry_after must be at least one second".into()));
        }
        if config.timeout.is_zero() {
            return Err(invalid("timeout must be more than zero".into()));
        }
        let utf8 = |what: &str, path: &Path| {
            path.to_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{what} {} must be UTF-8", path.display())))
        };
        let nginx = utf8("nginx_binary", &config.nginx_binary)?;
        if nginx.is_empty() {
            return Err(invalid("nginx_binary is empty".into()));
        }
        let config_arguments = match &config.config_file {
            Some(file) => vec!["-c".to_owned(), utf8("config_file", file)?],
            None => Vec::new(),
        };
        let mut test_argv = vec![nginx.clone(), "-T".to_owned()];
        test_argv.extend(config_arguments.iter().cloned());
        let reload_argv = match &config.reload {
            Some(argv) if argv.first().is_none_or(String::is_empty) => {
                return Err(invalid("reload must name a program".into()));
            }
            Some(argv) => argv.clone(),
            None => {
                let mut argv = vec![nginx];
                argv.extend(config_arguments);
                argv.extend(["-s".to_owned(), "reload".to_owned()]);
                argv
            }
        };
        Ok(NginxBackend {
            config,
            page_path,
            page_directory,
            page_file_name,
            test_argv,
            reload_argv,
            switching: tokio::sync::Mutex::new(()),
        })
    }

    /// The settings.
    pub fn config(&self) -> &NginxConfig {
        &self.config
    }

    /// Where the maintenance page is written (beside the include).
    pub fn page_path(&self) -> &Path {
        &self.page_path
    }

    /// The line the operator adds as the first line of the site's
    /// `server {}` block.
    pub fn include_line(&self) -> String {
        format!("include {};", self.config.include_path.display())
    }

    /// The include's content for a state. `about` is one line for people,
    /// written as a comment.
    fn render_include(&self, to: SiteState, about: &str) -> String {
        render_include(
            to,
            about,
            &self.page_directory,
            &self.page_file_name,
            self.config.retry_after.as_secs(),
        )
    }

    async fn page_bytes(&self, site: &str) -> Result<Vec<u8>, ContainError> {
        match &self.config.maintenance_page {
            MaintenancePage::Builtin => Ok(BUILTIN_PAGE.as_bytes().to_vec()),
            MaintenancePage::Html(html) => Ok(html.as_bytes().to_vec()),
            MaintenancePage::File(path) => {
                tokio::fs::read(path)
                    .await
                    .map_err(|source| ContainError::File {
                        backend: BACKEND,
                        site: site.to_owned(),
                        action: "read the maintenance page",
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    async fn switch(&self, switch: &Switch) -> Result<Applied, ContainError> {
        let _one_at_a_time = self.switching.lock().await;
        let started = Instant::now();
        let site = switch.site.as_str();
        let include_path = &self.config.include_path;
        let about = format!(
            "Site {}: {}, switched by {}: {}",
            switch.site, switch.to, switch.by, switch.reason
        );
        let include = self.render_include(switch.to, &about);
        // Everything that can fail without changing anything comes first.
        let page = match switch.to {
            SiteState::Maintenance => Some(self.page_bytes(site).await?),
            SiteState::Serving => None,
        };
        let previous = Previous {
            include: read_if_present(include_path)
                .await
                .map_err(|source| file_error(site, "read", include_path, source))?,
            page: match page {
                Some(_) => Some(
                    read_if_present(&self.page_path)
                        .await
                        .map_err(|source| file_error(site, "read", &self.page_path, source))?,
                ),
                None => None,
            },
        };

        let mut files_written = Vec::new();
        if let Some(page) = page {
            write_file(&self.page_path, page)
                .await
                .map_err(|source| file_error(site, "write", &self.page_path, source))?;
            files_written.push(self.page_path.clone());
        }
        if let Err(source) = write_file(include_path, include.into_bytes()).await {
            let cause = file_error(site, "write", include_path, source);
            return Err(self.roll_back(site, cause, &previous, false).await);
        }
        files_written.push(include_path.clone());

        let test = match self
            .run_step(site, "configuration test", &self.test_argv, true)
            .await
        {
            Ok(test) => test,
            Err(cause) => return Err(self.roll_back(site, cause, &previous, false).await),
        };
        // Without the include in nginx's configuration, maintenance would
        // change nothing while reporting success. Serving needs no check:
        // a site whose nginx ignores the include serves anyway.
        if switch.to == SiteState::Maintenance && !self.is_included(&test).await {
            let cause = ContainError::NotIncluded {
                site: site.to_owned(),
                include_path: include_path.clone(),
            };
            return Err(self.roll_back(site, cause, &previous, false).await);
        }
        let reload = match self
            .run_step(site, "reload", &self.reload_argv, false)
            .await
        {
            Ok(reload) => reload,
            Err(cause) => return Err(self.roll_back(site, cause, &previous, true).await),
        };
        let applied = Applied {
            backend: BACKEND,
            site: site.to_owned(),
            to: switch.to,
            files_written,
            commands: vec![test, reload],
            elapsed: started.elapsed(),
        };
        tracing::info!(
            site,
            to = %switch.to,
            include = %include_path.display(),
            elapsed_ms = applied.elapsed.as_millis(),
            "nginx backend switched the site"
        );
        Ok(applied)
    }

    /// Runs one nginx step; Err when it could not start or did not exit 0.
    /// The test's stdout is nginx's whole configuration: only the names of
    /// its files are kept, never its text (it may hold credentials).
    async fn run_step(
        &self,
        site: &str,
        step: &'static str,
        argv: &[String],
        is_test: bool,
    ) -> Result<CommandRun, ContainError> {
        let mut run = process::run(Run {
            argv,
            env: &[],
            timeout: self.config.timeout,
            keep_stdout_lines_starting_with: is_test.then_some(DUMPED_FILE_PREFIX),
        })
        .await
        .map_err(|source| ContainError::Spawn {
            backend: BACKEND,
            site: site.to_owned(),
            step,
            program: argv[0].clone(),
            source,
        })?;
        if is_test {
            run.stdout_tail.clear();
        }
        if run.succeeded() {
            Ok(run)
        } else {
            Err(ContainError::Failed {
                backend: BACKEND,
                site: site.to_owned(),
                step,
                run: Box::new(run),
            })
        }
    }

    /// Whether `nginx -T` dumped the include file, comparing canonical
    /// paths (the operator may name it through a symbolic link).
    async fn is_included(&self, test: &CommandRun) -> bool {
        let dumped: Vec<PathBuf> = test
            .matching_lines
            .iter()
            .filter_map(|line| line.strip_prefix(DUMPED_FILE_PREFIX)?.strip_suffix(':'))
            .map(PathBuf::from)
            .collect();
        let include = canonical(&self.config.include_path).await;
        for path in dumped {
            if canonical(&path).await == include {
                return true;
            }
        }
        false
    }

    /// Puts the previous files back after `cause`, and reloads nginx with
    /// them when it may have been reloaded with the new ones.
    async fn roll_back(
        &self,
        site: &str,
        cause: ContainError,
        previous: &Previous,
        reload: bool,
    ) -> ContainError {
        tracing::warn!(site, error = %cause, "nginx backend is putting the previous files back");
        let mut restores = vec![(&self.config.include_path, &previous.include)];
        if let Some(page) = &previous.page {
            restores.push((&self.page_path, page));
        }
        for (path, bytes) in restores {
            if let Err(source) = restore_file(path, bytes.clone()).await {
                return ContainError::RolledBack {
                    cause: Box::new(cause),
                    rollback: Rollback::RestoreFailed {
                        path: path.clone(),
                        source,
                    },
                };
            }
        }
        let rollback = if !reload {
            Rollback::Restored
        } else {
            match self
                .run_step(site, "reload", &self.reload_argv, false)
                .await
            {
                Ok(_) => Rollback::RestoredAndReloaded,
                Err(error) => Rollback::ReloadFailed(Box::new(error)),
            }
        };
        ContainError::RolledBack {
            cause: Box::new(cause),
            rollback,
        }
    }

    async fn prepare_include(&self) -> Result<(), ContainError> {
        let _one_at_a_time = self.switching.lock().await;
        let site = "(prepare)";
        if let MaintenancePage::File(_) = &self.config.maintenance_page {
            self.page_bytes(site).await?;
        }
        let include_path = &self.config.include_path;
        let present = read_if_present(include_path)
            .await
            .map_err(|source| file_error(site, "read", include_path, source))?;
        if present.is_none() {
            let neutral = self.render_include(
                SiteState::Serving,
                "Created by sitewarden before any switch: the site is serving.",
            );
            write_file(include_path, neutral.into_bytes())
                .await
                .map_err(|source| file_error(site, "write", include_path, source))?;
        }
        let test = self
            .run_step(site, "configuration test", &self.test_argv, true)
            .await?;
        if !self.is_included(&test).await {
            return Err(ContainError::NotIncluded {
                site: site.to_owned(),
                include_path: include_path.clone(),
            });
        }
        Ok(())
    }
}

impl Backend for NginxBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn apply<'a>(&'a self, switch: &'a Switch) -> BoxFuture<'a, Result<Applied, ContainError>> {
        Box::pin(self.switch(switch))
    }

    /// Creates the include with its serving content when it is missing
    /// (never overwrites it), reads the page file if one is configured, and
    /// checks with `nginx -T` that the configuration is valid and includes
    /// the include. Does not reload nginx.
    fn prepare(&self) -> BoxFuture<'_, Result<(), ContainError>> {
        Box::pin(self.prepare_include())
    }
}

/// The include file's text. Pure: the directory and file name were checked
/// by [`NginxBackend::new`].
fn render_include(
    to: SiteState,
    about: &str,
    page_directory: &str,
    page_file_name: &str,
    retry_after_seconds: u64,
) -> String {
    // A reason with a newline must not become a directive.
    let about: String = about
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut text = format!(
        "# Managed by sitewarden (nginx containment backend). Do not edit: sitewarden\n\
         # rewrites this file whenever it switches the site.\n\
         # {about}\n"
    );
    if to == SiteState::Maintenance {
        text.push_str(&format!(
            "# Every request to this server block is answered with 503, Retry-After and\n\
             # {page_directory}/{page_file_name}.\n\
             return 503;\n\
             error_page 503 {NAMED_LOCATION};\n\
             location {NAMED_LOCATION} {{\n\
             \x20   root \"{page_directory}\";\n\
             \x20   types {{ }}\n\
             \x20   default_type \"text/html; charset=utf-8\";\n\
             \x20   etag off;\n\
             \x20   add_header Retry-After {retry_after_seconds} always;\n\
             \x20   add_header Cache-Control \"no-store\" always;\n\
             \x20   # The page is a static file, which nginx serves to GET and HEAD only.\n\
             \x20   if ($request_method !~ ^(GET|HEAD)$) {{\n\
             \x20       return 503;\n\
             \x20   }}\n\
             \x20   try_files \"/{page_file_name}\" =503;\n\
             }}\n"
        ));
    }
    text
}

fn file_error(site: &str, action: &'static str, path: &Path, source: io::Error) -> ContainError {
    ContainError::File {
        backend: BACKEND,
        site: site.to_owned(),
        action,
        path: path.to_path_buf(),
        source,
    }
}

async fn read_if_present(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

async fn canonical(path: &Path) -> PathBuf {
    tokio::fs::canonicalize(path)
        .await
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Puts a file back as it was: its bytes, or absent.
async fn restore_file(path: &Path, bytes: Option<Vec<u8>>) -> io::Result<()> {
    match bytes {
        Some(bytes) => write_file(path, bytes).await,
        None => match tokio::fs::remove_file(path).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        },
    }
}

/// Writes a file temp → fsync → rename → fsync of the directory, so nginx
/// never reads half a file and a crash leaves the old or the new one. The
/// temp name (`.sitewarden-XXXXXX.tmp`) matches no `*.conf` include.
///
/// On a blocking thread, awaited here: the write cannot be cancelled
/// half-way, so it finishes even if the caller stops waiting.
async fn write_file(path: &Path, bytes: Vec<u8>) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let directory = path.parent().unwrap_or(Path::new("/"));
        let mut temp = tempfile::Builder::new()
            .prefix(".sitewarden-")
            .suffix(".tmp")
            .tempfile_in(directory)?;
        temp.write_all(&bytes)?;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|error| error.error)?;
        std::fs::File::open(directory)?.sync_all()
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_include_for_each_state() {
        let serving = render_include(
            SiteState::Serving,
            "Site portal: serving, switched by duty officer: cleaned",
            "/etc/nginx/sitewarden",
            "portal.maintenance.html",
            300,
        );
        assert_eq!(
            serving,
            "# Managed by sitewarden (nginx containment backend). Do not edit: sitewarden\n\
             # rewrites this file whenever it switches the site.\n\
             # Site portal: serving, switched by duty officer: cleaned\n"
        );
        let maintenance = render_include(
            SiteState::Maintenance,
            "Site portal: maintenance, switched by playbook: defaced",
            "/etc/nginx/site warden",
            "portal.maintenance.html",
            120,
        );
        assert_eq!(
            maintenance,
            r#"# Managed by sitewarden (nginx containment backend). Do not edit: sitewarden
# rewrites this file whenever it switches the site.
# Site portal: maintenance, switched by playbook: defaced
# Every request to this server block is answered with 503, Retry-After and
# /etc/nginx/site warden/portal.maintenance.html.
return 503;
error_page 503 @sitewarden_maintenance;
location @sitewarden_maintenance {
    root "/etc/nginx/site warden";
    types { }
    default_type "text/html; charset=utf-8";
    etag off;
    add_header Retry-After 120 always;
    add_header Cache-Control "no-store" always;
    # The page is a static file, which nginx serves to GET and HEAD only.
    if ($request_method !~ ^(GET|HEAD)$) {
        return 503;
    }
    try_files "/portal.maintenance.html" =503;
}
"#
        );
    }

    /// A reason is text from people and playbooks; a newline in it must
    /// stay inside the comment instead of becoming a directive.
    #[test]
    fn a_reason_cannot_inject_a_directive() {
        let text = render_include(
            SiteState::Serving,
            "Site portal: serving, switched by x: ok\nreturn 200 \"pwned\";\r\n}",
            "/etc/nginx/sitewarden",
            "portal.maintenance.html",
            300,
        );
        let directives: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
        assert!(directives.is_empty(), "{text}");
    }

    fn check_refused(config: NginxConfig, expected: &str) {
        match NginxBackend::new(config.clone()) {
            Err(error) => assert!(
                error.to_string().contains(expected),
                "{config:?}: {error} does not say {expected:?}"
            ),
            Ok(_) => panic!("{config:?} was accepted"),
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        check_refused(
            NginxConfig::new("sitewarden/portal.conf"),
            "must be absolute",
        );
        check_refused(NginxConfig::new("/"), "must name a file");
        check_refused(
            NginxConfig::new("/etc/nginx/portal site.conf"),
            "the file name may hold only",
        );
        check_refused(
            NginxConfig::new("/etc/nginx/.portal.conf"),
            "must not start with '.'",
        );
        check_refused(
            NginxConfig::new("/etc/nginx/$site/portal.conf"),
            "the directory must be UTF-8 without",
        );
        check_refused(
            NginxConfig::new("/etc/nginx/\"x/portal.conf"),
            "the directory must be UTF-8 without",
        );
        check_refused(
            NginxConfig::new("/etc/nginx/a\nb/portal.conf"),
            "control characters",
        );
        let mut config = NginxConfig::new("/etc/nginx/sitewarden/portal.conf");
        config.retry_after = Duration::from_millis(500);
        check_refused(config, "retry_after must be at least one second");
        let mut config = NginxConfig::new("/etc/nginx/sitewarden/portal.conf");
        config.timeout = Duration::ZERO;
        check_refused(config, "timeout must be more than zero");
        let mut config = NginxConfig::new("/etc/nginx/sitewarden/portal.conf");
        config.reload = Some(Vec::new());
        check_refused(config, "reload must name a program");
    }

    #[test]
    fn commands_and_page_follow_the_settings() {
        let mut config = NginxConfig::new("/etc/nginx/sitewarden/portal.conf");
        let backend = NginxBackend::new(config.clone()).expect("valid");
        assert_eq!(backend.test_argv, ["nginx", "-T"]);
        assert_eq!(backend.reload_argv, ["nginx", "-s", "reload"]);
        assert_eq!(
            backend.page_path(),
            Path::new("/etc/nginx/sitewarden/portal.maintenance.html")
        );
        assert_eq!(
            backend.include_line(),
            "include /etc/nginx/sitewarden/portal.conf;"
        );

        config.nginx_binary = PathBuf::from("/usr/sbin/nginx");
        config.config_file = Some(PathBuf::from("/srv/nginx/nginx.conf"));
        let backend = NginxBackend::new(config.clone()).expect("valid");
        assert_eq!(
            backend.test_argv,
            ["/usr/sbin/nginx", "-T", "-c", "/srv/nginx/nginx.conf"]
        );
        assert_eq!(
            backend.reload_argv,
            [
                "/usr/sbin/nginx",
                "-c",
                "/srv/nginx/nginx.conf",
                "-s",
                "reload"
            ]
        );

        config.reload = Some(vec!["systemctl".into(), "reload".into(), "nginx".into()]);
        config.include_path = PathBuf::from("/etc/nginx/sitewarden/portal");
        let backend = NginxBackend::new(config).expect("valid");
        assert_eq!(backend.reload_argv, ["systemctl", "reload", "nginx"]);
        assert_eq!(
            backend.page_path(),
            Path::new("/etc/nginx/sitewarden/portal.maintenance.html")
        );
    }
}
