//! A real nginx from Debian's packages serving the corpus on 127.0.0.1:
//! started with its own configuration in a temporary directory, stopped
//! (SIGTERM to the master, which takes its workers with it) when dropped.
//!
//! Every file is served as `text/html; charset=utf-8` with keep-alive and no
//! access log. Two ways to reach a page, the same file either way:
//! `http://HOST:PORT/PATH` with a `*.example.gov.test` host name (what
//! sitewarden's plan uses, through `probe.resolve`), and
//! `http://127.0.0.1:PORT/HOST/PATH` (for changedetection.io, which has no
//! resolve override). A request whose User-Agent names Baiduspider or
//! Googlebot gets `FILE.baiduspider` / `FILE.googlebot` when that file
//! exists: cloaking, as a compromised site does it.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Starts `binary` serving `www` (one directory per host name) with
    /// `workers` worker processes on a free loopback port.
    pub fn start(binary: &Path, www: &Path, dir: &Path, workers: usize) -> Result<Nginx> {
        let port = free_port()?;
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join("temp").join(temp))?;
        }
        let www = www.display();
        let d = dir.display();
        let config = format!(
            r#"daemon off;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/temp/body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    types {{ }}
    default_type text/html;
    charset utf-8;
    sendfile on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    map $http_user_agent $agent_suffix {{
        default "";
        ~*Baiduspider ".baiduspider";
        ~*Googlebot ".googlebot";
    }}
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name _;
        root {www};
        location / {{ try_files $uri$agent_suffix $uri =404; }}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name *.example.gov.test;
        root {www}/$host;
        location / {{ try_files $uri$agent_suffix $uri =404; }}
    }}
}}
"#
        );
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config)?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut nginx = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if let Some(status) = nginx.child.try_wait()? {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                bail!("nginx exited with {status}: {log}");
            }
            if Instant::now() > deadline {
                bail!("nginx did not listen on 127.0.0.1:{port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The master's process id (its workers are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Errors nginx logged, if any.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Stops nginx and waits for it (at most 10 s, then SIGKILL).
    pub fn stop(&mut self) {
        stop_child(&mut self.child, "-TERM");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to a child, waits up to 10 s, then kills it.
pub fn stop_child(child: &mut Child, signal: &str) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .arg(signal)
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
