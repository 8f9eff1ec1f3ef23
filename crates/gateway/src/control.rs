//! The control socket: how `sitewarden contain`, `release`, `gateway ban`
//! and the runner reach a gateway already running on the same data
//! directory. A Unix socket at `DATA/gateway.sock` (mode 0600: whoever can
//! write the data directory may steer the gateway), one JSON request per
//! line, one JSON answer per line.
//!
//! The answer is sent only after the change is in force, so when a
//! `contain` command returns, the very next request is answered by the new
//! state. The durable record is written by the caller before it asks (the
//! store's `site_switches` / `blocklist`), so a gateway that starts later
//! — or a second instance — picks it up from there.

use crate::blocklist::{BlockEntry, parse_net};
use crate::error::GatewayError;
use crate::proxy::Shared;
use crate::switch::{SiteState, SwitchNote};
use serde::{Deserialize, Serialize};
use sitewarden_store::{SiteSwitchRecord, Store, SwitchEvent};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "gateway.sock";

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// A request to a running gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Move a site's switch.
    Switch {
        /// Site name or one of its host names.
        site: String,
        /// The new mode.
        mode: SiteState,
        /// Why.
        reason: String,
        /// Who.
        by: String,
    },
    /// Block an address or range.
    Ban {
        /// The entry.
        entry: BlockEntry,
    },
    /// Lift a block.
    Unban {
        /// Address or CIDR.
        net: String,
    },
    /// Re-read what can change without a restart (routes, limits from the
    /// plan; approved files).
    Reload,
    /// Modes, counters and the blocklist.
    Status,
}

/// A gateway's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What went wrong, when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `switch`: the site's name as the gateway knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// For `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<GatewayStatus>,
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// Each routed site with its mode.
    pub sites: Vec<SiteStatus>,
    /// Active blocklist entries.
    pub blocklist: Vec<BlockEntry>,
    /// Requests seen since start.
    pub requests: u64,
    /// Maintenance answers.
    pub maintenance: u64,
    /// Blocklist refusals.
    pub blocked: u64,
    /// Rate refusals.
    pub rate_limited: u64,
    /// Load shed.
    pub shed: u64,
    /// Verified paths answered from the approved copy.
    pub verified: u64,
    /// Background checks of origins behind verified paths.
    pub origin_checks: u64,
    /// Checks that found the origin serving something else.
    pub tampered: u64,
    /// Requests in flight now.
    pub in_flight: usize,
}

/// One site in [`GatewayStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteStatus {
    /// Site name.
    pub site: String,
    /// Current mode.
    pub mode: SiteState,
    /// The last move.
    pub note: Option<SwitchNote>,
}

impl Response {
    fn ok() -> Response {
        Response {
            ok: true,
            error: None,
            site: None,
            status: None,
        }
    }

    fn error(message: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(message.into()),
            site: None,
            status: None,
        }
    }
}

/// Carries out one request on the shared state.
pub fn handle(
    shared: &Shared,
    request: Request,
    reload: &dyn Fn() -> Result<(), String>,
) -> Response {
    match request {
        Request::Switch {
            site,
            mode,
            reason,
            by,
        } => {
            let routes = shared.routes.load();
            let Some(route) = routes.site(&site) else {
                return Response::error(format!("no site {site:?} is routed by this gateway"));
            };
            let name = route.site.clone();
            shared.switches.set(
                &name,
                SwitchNote {
                    mode,
                    reason,
                    by,
                    at_ms: crate::now_ms(),
                },
            );
            Response {
                site: Some(name),
                ..Response::ok()
            }
        }
        Request::Ban { entry } => {
            shared.blocklist.insert(entry);
            Response::ok()
        }
        Request::Unban { net } => match parse_net(&net) {
            Ok(net) => {
                if shared.blocklist.remove(&net) {
                    Response::ok()
                } else {
                    Response::error(format!("{net} is not on the blocklist"))
                }
            }
            Err(problem) => Response::error(problem),
        },
        Request::Reload => match reload() {
            Ok(()) => Response::ok(),
            Err(problem) => Response::error(problem),
        },
        Request::Status => Response {
            status: Some(status(shared)),
            ..Response::ok()
        },
    }
}

/// The status snapshot.
pub fn status(shared: &Shared) -> GatewayStatus {
    let routes = shared.routes.load();
    let stats = &shared.stats;
    GatewayStatus {
        sites: routes
            .routes()
            .iter()
            .map(|route| SiteStatus {
                site: route.site.clone(),
                mode: route.switch.mode(),
                note: route.switch.note(),
            })
            .collect(),
        blocklist: shared.blocklist.entries(crate::now_ms()),
        requests: stats.requests.get(),
        maintenance: stats.maintenance.load(Ordering::Relaxed),
        blocked: stats.blocked.load(Ordering::Relaxed),
        rate_limited: stats.rate_limited.load(Ordering::Relaxed),
        shed: stats.shed.load(Ordering::Relaxed),
        verified: stats.verified.get(),
        origin_checks: shared
            .checker
            .as_ref()
            .map(|checker| checker.checks.load(Ordering::Relaxed))
            .unwrap_or(0),
        tampered: shared
            .checker
            .as_ref()
            .map(|checker| checker.tampered.load(Ordering::Relaxed))
            .unwrap_or(0),
        in_flight: shared.limiter.in_flight(),
    }
}

/// Takes the data directory's gateway lock (`gateway.lock`, held until
/// the returned file is dropped): one gateway per data directory, so two
/// starting at once cannot unlink each other's socket.
pub fn lock(data_dir: &Path) -> Result<std::fs::File, GatewayError> {
    let path = data_dir.join("gateway.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| GatewayError::Io {
            path: path.clone(),
            source,
        })?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            GatewayError::Control(format!(
                "another gateway is already running on {} (it holds {})",
                data_dir.display(),
                path.display()
            ))
        },
    )?;
    Ok(file)
}

/// Binds the socket (replacing a stale one left by a killed gateway; the
/// caller holds the lock, so no live gateway owns it).
pub async fn bind(path: &Path) -> Result<UnixListener, GatewayError> {
    if path.exists() {
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|source| GatewayError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    Ok(listener)
}

/// Records a switch in the store before it is put in force, so that the
/// state a restarted gateway restores is the one it last served.
async fn persist_switch(shared: &Shared, store: &Store, request: &Request) -> Result<(), Response> {
    let Request::Switch {
        site,
        mode,
        reason,
        by,
    } = request
    else {
        return Ok(());
    };
    let routes = shared.routes.load();
    let Some(route) = routes.site(site) else {
        return Ok(()); // `handle` says so
    };
    store
        .record_switch(&SwitchEvent {
            switch: SiteSwitchRecord {
                site: route.site.clone(),
                mode: mode.as_str().to_string(),
                reason: reason.clone(),
                by: by.clone(),
                at_ms: crate::now_ms(),
            },
            backend: "gateway".into(),
            outcome: "applied".into(),
            detail: "switched by the running gateway".into(),
        })
        .await
        .map_err(|error| {
            Response::error(format!(
                "the switch could not be recorded, so it was not made: {error}"
            ))
        })
}

/// Serves the socket until `stop` fires.
pub async fn serve(
    listener: UnixListener,
    shared: Arc<Shared>,
    store: Store,
    reload: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        let reload = reload.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let response = match serde_json::from_str::<Request>(&line) {
                    Ok(request) => match persist_switch(&shared, &store, &request).await {
                        Ok(()) => handle(&shared, request, reload.as_ref()),
                        Err(refused) => refused,
                    },
                    Err(error) => Response::error(format!("bad request: {error}")),
                };
                let mut out = serde_json::to_vec(&response).unwrap_or_default();
                out.push(b'\n');
                if write.write_all(&out).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Sends one request to the gateway on `data_dir`. `Ok(None)` when no
/// gateway is running there (no socket, or nobody answering it).
pub async fn send(data_dir: &Path, request: &Request) -> Result<Option<Response>, GatewayError> {
    let path = socket_path(data_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(source) => return Err(GatewayError::Io { path, source }),
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_vec(request).unwrap_or_default();
        line.push(b'\n');
        write.write_all(&line).await?;
        let mut answer = String::new();
        BufReader::new(read).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| GatewayError::Control("the gateway did not answer within 10 s".into()))?
        .map_err(|source| GatewayError::Io {
            path: path.clone(),
            source,
        })?;
    serde_json::from_str(&answer)
        .map(Some)
        .map_err(|error| GatewayError::Control(format!("unreadable answer {answer:?}: {error}")))
}
