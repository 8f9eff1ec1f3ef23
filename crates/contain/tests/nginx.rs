//! The nginx backend against a real nginx (Debian package `nginx`), run in
//! the foreground as a child of the test with its configuration, pid file,
//! logs and temp paths in a temp dir, listening on loopback ports.
//!
//! Two servers, as an operator might have them: the portal includes its
//! include file as the first line of its `server {}` block (as documented),
//! followed by the `error_page 500 502 503 504 /50x.html;` of Debian's
//! default site; the procurement site includes its file inside
//! `location / {}`, a mistake that nginx accepts while the include is
//! neutral and refuses once it holds the maintenance location.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use sitewarden_contain::{
    Backend, ContainError, Exit, MaintenancePage, NginxBackend, NginxConfig, Rollback, SiteState,
    Switch,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORTAL_PAGE: &str = "<h1>Finance department portal</h1>\n";
const PROCUREMENT_PAGE: &str = "<h1>Procurement notices</h1>\n";
/// With a `$` and quotes, which must reach the visitor as they are.
const MAINTENANCE_PAGE: &str =
    "<!DOCTYPE html><title>维护</title><p>网站维护中 (maintenance) $uri \"quoted\"</p>\n";

/// An nginx master and its workers, stopped on drop.
struct NginxProcess {
    child: Child,
}

impl NginxProcess {
    fn spawn(conf: &Path, stderr: &Path) -> NginxProcess {
        let child = Command::new("nginx")
            .arg("-c")
            .arg(conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).expect("stderr file"))
            // Its own group, so the workers can be killed with it.
            .process_group(0)
            .spawn()
            .expect("start nginx");
        NginxProcess { child }
    }

    /// Ok once both ports accept connections; Err(stderr) if nginx exited.
    async fn wait_until_listening(&mut self, ports: [u16; 2], stderr: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.child.try_wait().expect("try_wait").is_some() {
                return Err(std::fs::read_to_string(stderr).unwrap_or_default());
            }
            let mut listening = true;
            for port in ports {
                listening &= tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok();
            }
            if listening {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within 10 s: {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for NginxProcess {
    /// SIGTERM lets the master stop and reap its workers (this machine's
    /// PID 1 may not reap orphans); SIGKILL to the group if it hangs.
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32).expect("a child pid");
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill_process(pid, Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = kill_process_group(pid, Signal::KILL);
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A test's nginx, its files and its ports.
struct TestNginx {
    // Declared first, so dropped first: nginx stops before its files go.
    _process: NginxProcess,
    dir: tempfile::TempDir,
    conf: PathBuf,
    portal_port: u16,
    procurement_port: u16,
}

impl TestNginx {
    /// Starts nginx on two free loopback ports, again with new ports when
    /// another process took one between our probe and nginx's bind.
    async fn start() -> TestNginx {
        let version = Command::new("nginx").arg("-v").output();
        assert!(
            version.is_ok_and(|output| output.status.success()),
            "nginx is not installed: these tests need the Debian package `nginx`"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        for subdirectory in ["www", "www-procurement", "sitewarden", "tmp"] {
            std::fs::create_dir(dir.path().join(subdirectory)).unwrap();
        }
        std::fs::write(dir.path().join("www/index.html"), PORTAL_PAGE).unwrap();
        std::fs::write(
            dir.path().join("www/50x.html"),
            "the operator's own 50x page\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("www-procurement/index.html"),
            PROCUREMENT_PAGE,
        )
        .unwrap();
        // nginx refuses a configuration whose include file is missing: the
        // operator creates them empty (an empty include is the serving state).
        for include in ["portal.conf", "procurement.conf"] {
            std::fs::write(dir.path().join("sitewarden").join(include), "").unwrap();
        }
        let conf = dir.path().join("nginx.conf");
        let stderr = dir.path().join("nginx.stderr");
        for _attempt in 0..5 {
            let ports = two_free_ports();
            std::fs::write(&conf, nginx_conf(dir.path(), ports)).unwrap();
            let mut process = NginxProcess::spawn(&conf, &stderr);
            match process.wait_until_listening(ports, &stderr).await {
                Ok(()) => {
                    return TestNginx {
                        _process: process,
                        dir,
                        conf,
                        portal_port: ports[0],
                        procurement_port: ports[1],
                    };
                }
                Err(said) if said.contains("Address already in use") => continue,
                Err(said) => panic!("nginx exited: {said}"),
            }
        }
        panic!("nginx found no free ports in five attempts");
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Settings for one include file of the test's nginx.
    fn config(&self, include: &str) -> NginxConfig {
        let mut config = NginxConfig::new(self.path(&format!("sitewarden/{include}")));
        config.config_file = Some(self.conf.clone());
        config.maintenance_page = MaintenancePage::Html(MAINTENANCE_PAGE.into());
        config.retry_after = Duration::from_secs(120);
        config.timeout = Duration::from_secs(20);
        config
    }

    fn backend(&self, include: &str) -> NginxBackend {
        NginxBackend::new(self.config(include)).expect("valid settings")
    }

    /// The master's live workers, each with whether it is shutting down.
    fn workers(&self) -> Vec<(u32, bool)> {
        let master = self._process.child.id();
        let mut workers = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "PID (COMM) STATE PPID …"
            let Some((_, after_comm)) = stat.rsplit_once(')') else {
                continue;
            };
            let mut fields = after_comm.split_whitespace();
            let state = fields.next();
            let parent = fields.next().and_then(|field| field.parse::<u32>().ok());
            if parent == Some(master) && state != Some("Z") {
                let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let shutting_down = String::from_utf8_lossy(&title).contains("shutting down");
                workers.push((pid, shutting_down));
            }
        }
        workers
    }

    fn worker_pids(&self) -> Vec<u32> {
        self.workers().into_iter().map(|(pid, _)| pid).collect()
    }

    /// Waits until a reload has taken effect: a reload only signals the
    /// master, which starts new workers and lets the old ones (which still
    /// accept connections for a moment) finish. Done when every live worker
    /// is new and none is shutting down.
    async fn wait_for_new_workers(&self, old: &[u32]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let workers = self.workers();
            if !workers.is_empty()
                && workers
                    .iter()
                    .all(|(pid, shutting_down)| !old.contains(pid) && !shutting_down)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not replace its workers {old:?} within 10 s: {workers:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn two_free_ports() -> [u16; 2] {
    let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    [
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    ]
}

fn nginx_conf(dir: &Path, [portal_port, procurement_port]: [u16; 2]) -> String {
    let dir = dir.display();
    // As root, nginx would switch its workers to `nobody`, who cannot enter
    // the 0700 temp dir; as another user the directive would only warn.
    let user = if rustix::process::geteuid().is_root() {
        "user root;"
    } else {
        ""
    };
    format!(
        r#"{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        include {dir}/sitewarden/portal.conf;
        listen 127.0.0.1:{portal_port};
        server_name portal.example.gov.test;
        root {dir}/www;
        error_page 500 502 503 504 /50x.html;
        location / {{ index index.html; }}
        location /api/ {{ return 200 "api answer\n"; }}
    }}
    server {{
        listen 127.0.0.1:{procurement_port};
        server_name procurement.example.gov.test;
        root {dir}/www-procurement;
        location / {{
            include {dir}/sitewarden/procurement.conf;
            index index.html;
        }}
    }}
}}
"#
    )
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP/1.0 request on a new connection.
async fn request(port: u16, method: &str, path: &str) -> Response {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to nginx");
    let body = if method == "POST" {
        "comment=hello"
    } else {
        ""
    };
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.0\r\nHost: portal.example.gov.test\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).expect("UTF-8 answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn switch(site: &str, to: SiteState, reason: &str) -> Switch {
    Switch {
        site: site.into(),
        hosts: vec![format!("{site}.example.gov.test")],
        to,
        reason: reason.into(),
        by: "playbook".into(),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn maintenance_cuts_the_site_off_and_serving_brings_it_back() {
    let nginx = TestNginx::start().await;
    let port = nginx.portal_port;
    let before = request(port, "GET", "/").await;
    assert_eq!((before.status, before.body.as_str()), (200, PORTAL_PAGE));

    let backend = nginx.backend("portal.conf");
    assert_eq!(backend.name(), "nginx");
    let workers = nginx.worker_pids();
    let applied = backend
        .apply(&switch(
            "portal",
            SiteState::Maintenance,
            "defaced home page\nreturn 200;",
        ))
        .await
        .expect("switch to maintenance");

    let include = nginx.path("sitewarden/portal.conf");
    let page = nginx.path("sitewarden/portal.maintenance.html");
    assert_eq!(applied.files_written, [page.clone(), include.clone()]);
    assert_eq!(
        (applied.site.as_str(), applied.to),
        ("portal", SiteState::Maintenance)
    );
    let [test, reload] = applied.commands.as_slice() else {
        panic!("a test and a reload: {:?}", applied.commands)
    };
    let conf = nginx.conf.to_str().unwrap();
    assert_eq!(test.argv, ["nginx", "-T", "-c", conf]);
    assert_eq!(test.exit, Exit::Code(0));
    assert!(
        test.stderr_tail.contains("test is successful"),
        "{}",
        test.stderr_tail
    );
    assert_eq!(test.stdout_tail, "", "the configuration dump is not kept");
    assert_eq!(reload.argv, ["nginx", "-c", conf, "-s", "reload"]);
    assert_eq!(reload.exit, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(&page).unwrap(), MAINTENANCE_PAGE);
    assert_eq!((mode(&include), mode(&page)), (0o644, 0o644));
    let include_text = std::fs::read_to_string(&include).unwrap();
    assert!(
        include_text.contains(
            "# Site portal: maintenance, switched by playbook: defaced home page return 200;\n"
        ),
        "{include_text}"
    );

    nginx.wait_for_new_workers(&workers).await;
    let cut_off = request(port, "GET", "/").await;
    assert_eq!(cut_off.status, 503);
    assert_eq!(
        cut_off.body, MAINTENANCE_PAGE,
        "the operator's 50x page must not win"
    );
    assert_eq!(cut_off.header("Retry-After"), Some("120"));
    assert_eq!(cut_off.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        cut_off.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    // Every location is cut off, and every method.
    let api = request(port, "GET", "/api/report").await;
    assert_eq!((api.status, api.body.as_str()), (503, MAINTENANCE_PAGE));
    let post = request(port, "POST", "/api/report").await;
    assert_eq!(post.status, 503);
    assert_eq!(post.header("Retry-After"), Some("120"));

    // Maintenance again (another reason) keeps it cut off.
    let workers = nginx.worker_pids();
    backend
        .apply(&switch(
            "portal",
            SiteState::Maintenance,
            "web shell found too",
        ))
        .await
        .expect("maintenance again");
    nginx.wait_for_new_workers(&workers).await;
    assert_eq!(request(port, "GET", "/").await.status, 503);

    let workers = nginx.worker_pids();
    let applied = backend
        .apply(&switch("portal", SiteState::Serving, "cleaned and checked"))
        .await
        .expect("switch back to serving");
    assert_eq!(applied.files_written, std::slice::from_ref(&include));
    nginx.wait_for_new_workers(&workers).await;
    let back = request(port, "GET", "/").await;
    assert_eq!((back.status, back.body.as_str()), (200, PORTAL_PAGE));
    assert_eq!(
        request(port, "GET", "/api/report").await.body,
        "api answer\n"
    );
    let include_text = std::fs::read_to_string(&include).unwrap();
    assert!(
        include_text.lines().all(|line| line.starts_with('#')),
        "serving is comments only: {include_text}"
    );
}

/// The include inside `location / {}` is the operator's mistake: fine while
/// neutral, refused by `nginx -t` once it holds a named location.
#[tokio::test]
async fn a_configuration_nginx_refuses_is_rolled_back_and_the_site_keeps_serving() {
    let nginx = TestNginx::start().await;
    let port = nginx.procurement_port;
    assert_eq!(request(port, "GET", "/").await.body, PROCUREMENT_PAGE);
    let include = nginx.path("sitewarden/procurement.conf");
    let page = nginx.path("sitewarden/procurement.maintenance.html");
    let backend = nginx.backend("procurement.conf");

    let error = backend
        .apply(&switch("procurement", SiteState::Maintenance, "defaced"))
        .await
        .expect_err("nginx -t refuses a named location inside a location");

    let ContainError::RolledBack { cause, rollback } = &error else {
        panic!("not rolled back: {error:?}")
    };
    assert!(matches!(rollback, Rollback::Restored), "{rollback:?}");
    let ContainError::Failed { step, run, .. } = cause.as_ref() else {
        panic!("not a failed test: {cause:?}")
    };
    assert_eq!(*step, "configuration test");
    assert_eq!(run.exit, Exit::Code(1));
    assert!(
        run.stderr_tail
            .contains("\"@sitewarden_maintenance\" can be on the server level only"),
        "{}",
        run.stderr_tail
    );
    let message = error.to_string();
    assert!(
        message.starts_with(
            "nginx backend, site procurement: configuration test failed: `nginx -T -c "
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "; the previous include was put back; nginx was not reloaded and runs the previous configuration"
        ),
        "{message}"
    );
    // The files are as they were: the include empty, no page.
    assert_eq!(std::fs::read_to_string(&include).unwrap(), "");
    assert!(
        !page.exists(),
        "the page written for the switch is removed again"
    );
    let after = request(port, "GET", "/").await;
    assert_eq!((after.status, after.body.as_str()), (200, PROCUREMENT_PAGE));
    // And the next reload, by anyone, still works.
    let reload = Command::new("nginx")
        .arg("-c")
        .arg(&nginx.conf)
        .args(["-s", "reload"])
        .output()
        .unwrap();
    assert!(reload.status.success(), "{reload:?}");
}

#[tokio::test]
async fn a_failed_reload_puts_the_previous_include_back_and_reloads_it() {
    let nginx = TestNginx::start().await;
    let port = nginx.portal_port;
    let workers = nginx.worker_pids();
    nginx
        .backend("portal.conf")
        .apply(&switch("portal", SiteState::Maintenance, "defaced"))
        .await
        .expect("switch to maintenance");
    nginx.wait_for_new_workers(&workers).await;
    assert_eq!(request(port, "GET", "/").await.status, 503);
    let include = nginx.path("sitewarden/portal.conf");
    let maintenance_include = std::fs::read(&include).unwrap();

    // A reload command that fails once, as `systemctl reload` does when
    // the unit is busy, then works.
    let refused_once = nginx.path("refused-once");
    let reload_script = nginx.path("reload.sh");
    std::fs::write(
        &reload_script,
        format!(
            r#"if [ ! -e '{refused}' ]; then
    touch '{refused}'
    echo "reload refused: unit is busy" >&2
    exit 3
fi
exec nginx -c '{conf}' -s reload"#,
            refused = refused_once.display(),
            conf = nginx.conf.display()
        ),
    )
    .unwrap();
    let mut config = nginx.config("portal.conf");
    config.reload = Some(vec![
        "/bin/sh".into(),
        reload_script.to_str().unwrap().into(),
    ]);
    let backend = NginxBackend::new(config).unwrap();

    let workers = nginx.worker_pids();
    let error = backend
        .apply(&switch("portal", SiteState::Serving, "cleaned"))
        .await
        .expect_err("the reload fails");

    let ContainError::RolledBack { cause, rollback } = &error else {
        panic!("not rolled back: {error:?}")
    };
    assert!(
        matches!(rollback, Rollback::RestoredAndReloaded),
        "{rollback:?}"
    );
    let ContainError::Failed {
        step: "reload",
        run,
        ..
    } = cause.as_ref()
    else {
        panic!("not a failed reload: {cause:?}")
    };
    assert_eq!(run.exit, Exit::Code(3));
    assert_eq!(run.stderr_tail, "reload refused: unit is busy");
    assert!(
        error
            .to_string()
            .ends_with("; the previous include was put back and nginx reloaded with it"),
        "{error}"
    );
    assert_eq!(std::fs::read(&include).unwrap(), maintenance_include);
    // Still cut off, after the rollback's reload: the previous state is
    // what nginx serves.
    nginx.wait_for_new_workers(&workers).await;
    let still = request(port, "GET", "/").await;
    assert_eq!((still.status, still.body.as_str()), (503, MAINTENANCE_PAGE));
}

#[tokio::test]
async fn an_include_nginx_does_not_read_is_refused_instead_of_reported_as_contained() {
    let nginx = TestNginx::start().await;
    let backend = nginx.backend("forgotten.conf");
    let include = nginx.path("sitewarden/forgotten.conf");
    assert!(!include.exists());

    // prepare creates the include (serving) and finds nginx does not read it.
    let error = backend.prepare().await.expect_err("not included");
    assert!(
        matches!(error, ContainError::NotIncluded { .. }),
        "{error:?}"
    );
    let created = std::fs::read_to_string(&include).expect("prepare created the include");
    assert!(
        created.lines().all(|line| line.starts_with('#')),
        "{created}"
    );
    assert!(
        error.to_string().contains(&format!(
            "does not include {}: add `include {};` as the first line",
            include.display(),
            include.display()
        )),
        "{error}"
    );

    let error = backend
        .apply(&switch("forgotten", SiteState::Maintenance, "defaced"))
        .await
        .expect_err("switching an include nginx ignores changes nothing");
    let ContainError::RolledBack { cause, rollback } = &error else {
        panic!("not rolled back: {error:?}")
    };
    assert!(
        matches!(cause.as_ref(), ContainError::NotIncluded { site, .. } if site == "forgotten")
    );
    assert!(matches!(rollback, Rollback::Restored), "{rollback:?}");
    assert_eq!(std::fs::read_to_string(&include).unwrap(), created);

    // The portal's include is read: prepare leaves the operator's file as
    // it is and passes.
    std::fs::write(nginx.path("sitewarden/portal.conf"), "# the operator's\n").unwrap();
    nginx
        .backend("portal.conf")
        .prepare()
        .await
        .expect("the portal is prepared");
    assert_eq!(
        std::fs::read_to_string(nginx.path("sitewarden/portal.conf")).unwrap(),
        "# the operator's\n"
    );
}

#[tokio::test]
async fn a_missing_nginx_is_an_error_and_changes_nothing() {
    let nginx = TestNginx::start().await;
    let mut config = nginx.config("portal.conf");
    config.nginx_binary = nginx.path("no-such-nginx");
    let backend = NginxBackend::new(config).unwrap();
    let include = nginx.path("sitewarden/portal.conf");

    let error = backend
        .apply(&switch("portal", SiteState::Maintenance, "defaced"))
        .await
        .expect_err("no nginx program");
    let ContainError::RolledBack { cause, rollback } = &error else {
        panic!("not rolled back: {error:?}")
    };
    assert!(
        matches!(
            cause.as_ref(),
            ContainError::Spawn {
                step: "configuration test",
                ..
            }
        ),
        "{cause:?}"
    );
    assert!(matches!(rollback, Rollback::Restored));
    assert_eq!(std::fs::read_to_string(&include).unwrap(), "");
    assert_eq!(
        request(nginx.portal_port, "GET", "/").await.body,
        PORTAL_PAGE
    );
}

#[tokio::test]
async fn a_page_file_is_copied_beside_the_include_and_a_missing_one_changes_nothing() {
    let nginx = TestNginx::start().await;
    let port = nginx.portal_port;
    let page_source = nginx.path("our-page.html");
    std::fs::write(&page_source, "<p>Back soon. 稍后恢复。</p>\n").unwrap();
    let include = nginx.path("sitewarden/portal.conf");

    let mut config = nginx.config("portal.conf");
    config.maintenance_page = MaintenancePage::File(nginx.path("missing-page.html"));
    let error = NginxBackend::new(config)
        .unwrap()
        .apply(&switch("portal", SiteState::Maintenance, "defaced"))
        .await
        .expect_err("the page file is missing");
    let ContainError::File { action, path, .. } = &error else {
        panic!("not a file error: {error:?}")
    };
    assert_eq!(
        (*action, path.as_path()),
        (
            "read the maintenance page",
            nginx.path("missing-page.html").as_path()
        )
    );
    assert_eq!(std::fs::read_to_string(&include).unwrap(), "");
    assert!(!nginx.path("sitewarden/portal.maintenance.html").exists());

    let mut config = nginx.config("portal.conf");
    config.maintenance_page = MaintenancePage::File(page_source);
    let workers = nginx.worker_pids();
    NginxBackend::new(config)
        .unwrap()
        .apply(&switch("portal", SiteState::Maintenance, "defaced"))
        .await
        .expect("switch to maintenance");
    nginx.wait_for_new_workers(&workers).await;
    let cut_off = request(port, "GET", "/news/2026/notice.html").await;
    assert_eq!(
        (cut_off.status, cut_off.body.as_str()),
        (503, "<p>Back soon. 稍后恢复。</p>\n")
    );
}
