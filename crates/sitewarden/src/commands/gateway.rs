//! `sitewarden gateway`: run the reverse proxy in the foreground (from the
//! plan's `[gateway]`, or from `--listen`/`--route` flags in the manner of
//! `caddy reverse-proxy`), and steer a running one: status, bans, the
//! blocklist as an nftables set.

use super::serve::cancel_on_signal;
use super::{load_plan, open_store};
use crate::cli::DataArg;
use crate::output;
use anyhow::Context;
use clap::{Args, Subcommand};
use sitewarden_gateway::blocklist::{BlockEntry, parse_net};
use sitewarden_gateway::control::{self, Request};
use sitewarden_gateway::{
    Engine, GatewayConfig, Limits, Origin, RouteConfig, TlsListener, parse_route_flag,
};
use sitewarden_plan::{GatewayEngine, Plan};
use sitewarden_store::BlockRecord;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `sitewarden gateway [--listen ADDR] [--route HOST=URL]… | SUBCOMMAND`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    /// Steer a running gateway instead of starting one.
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
    /// The plan file (its `[gateway]` section and sites with `origins`);
    /// not needed with `--route`.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArg,
    /// Listen address (repeatable); with `--route`, default 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// HOST=http://ORIGIN:PORT[,http://…] (repeatable): serve HOST from
    /// those origins, without a plan.
    #[arg(long, value_name = "HOST=URL")]
    pub route: Vec<String>,
    /// Where the access log goes (nginx combined format).
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
}

/// `sitewarden gateway …` subcommands.
#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Each site's mode, the counters and the blocklist of the running gateway.
    Status {
        #[command(flatten)]
        data: DataArg,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Block an address or CIDR range (kept in the store; in force at once).
    Ban {
        /// `203.0.113.9`, `198.51.100.0/24`, `2001:db8::/32`.
        net: String,
        #[command(flatten)]
        data: DataArg,
        /// How long (`30s`, `10m`, `2h`, `1d`); for ever when absent.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why.
        #[arg(long, default_value = "banned by hand")]
        reason: String,
        /// Who.
        #[arg(long, default_value_t = crate::cli::default_approver())]
        by: String,
    },
    /// Lift a block.
    Unban {
        /// The address or range as banned.
        net: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// The blocklist; `--nft FILE` writes it as an nftables ruleset.
    Blocklist {
        #[command(flatten)]
        data: DataArg,
        /// Write `nft -f`-ready rules here.
        #[arg(long, value_name = "FILE")]
        nft: Option<PathBuf>,
    },
}

/// Runs `sitewarden gateway`.
pub async fn run(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(GatewayCommand::Status { data, json }) => status(&data.data, json).await,
        Some(GatewayCommand::Ban {
            net,
            data,
            duration,
            reason,
            by,
        }) => ban(&data.data, &net, duration.as_deref(), &reason, &by).await,
        Some(GatewayCommand::Unban { net, data }) => unban(&data.data, &net).await,
        Some(GatewayCommand::Blocklist { data, nft }) => {
            blocklist(&data.data, nft.as_deref()).await
        }
        None => {
            foreground(
                args.plan.as_deref(),
                &args.data.data,
                args.listen,
                args.route,
                args.access_log,
            )
            .await
        }
    }
}

async fn foreground(
    plan_path: Option<&Path>,
    data: &Path,
    listen: Vec<SocketAddr>,
    routes: Vec<String>,
    access_log: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (mut config, reloader) = if routes.is_empty() {
        let plan_path = plan_path
            .unwrap_or(Path::new("sitewarden.toml"))
            .to_path_buf();
        let plan = load_plan(&plan_path)?;
        let config = config_from_plan(&plan, data)?;
        (config, Some(plan_reloader(&plan_path, data)))
    } else {
        let routes = routes
            .iter()
            .map(|flag| parse_route_flag(flag))
            .collect::<Result<Vec<_>, _>>()?;
        let config = GatewayConfig {
            listen: vec!["127.0.0.1:8080".parse().expect("a valid address")],
            routes,
            access_log: Some(data.join("gateway-access.log")),
            ..GatewayConfig::default()
        };
        (config, None)
    };
    if !listen.is_empty() {
        config.listen = listen;
    }
    if access_log.is_some() {
        config.access_log = access_log;
    }
    let data_dir = data.to_path_buf();
    let started = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let handle = sitewarden_gateway::start(config, &data_dir, reloader)?;
            handle.wait_ready(Duration::from_secs(10))?;
            Ok::<_, sitewarden_gateway::GatewayError>(handle)
        })
        .await??
    };
    for addr in started.listen() {
        println!("gateway listening on {addr}");
    }
    for route in &config.routes {
        println!(
            "  {} → {} ({}{})",
            route.hosts.join(", "),
            route
                .origins
                .iter()
                .map(|origin| origin.authority.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            route.site,
            if route.guarded_root.is_some() {
                ", static files verified"
            } else {
                ""
            }
        );
    }
    if let Some(log) = &config.access_log {
        println!("access log: {}", log.display());
    }
    println!(
        "control socket: {} — `sitewarden contain SITE --reason …` cuts a site off; Ctrl-C stops; SIGHUP reloads",
        control::socket_path(data).display()
    );
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn(cancel_on_signal(cancel.clone()));
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot listen for SIGHUP")?;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = hangup.recv() => match started.reload() {
                Ok(()) => println!("configuration reloaded"),
                Err(problem) => eprintln!("reload refused, the running configuration stays: {problem}"),
            },
        }
    }
    println!("stopping: finishing the requests in flight");
    tokio::task::spawn_blocking(move || started.stop()).await?;
    let _ = stopper.await;
    Ok(ExitCode::SUCCESS)
}

/// Re-reads the plan file into a gateway configuration, for a reload
/// (SIGHUP, or the control socket's `reload`).
pub fn plan_reloader(plan_path: &Path, data: &Path) -> sitewarden_gateway::Reloader {
    let (plan_path, data) = (plan_path.to_path_buf(), data.to_path_buf());
    Arc::new(move || {
        let plan = Plan::load(&plan_path).map_err(|error| error.to_string())?;
        config_from_plan(&plan, &data).map_err(|error| format!("{error:#}"))
    })
}

/// The gateway configuration the plan describes.
pub fn config_from_plan(plan: &Plan, data: &Path) -> anyhow::Result<GatewayConfig> {
    let settings = plan
        .gateway
        .as_ref()
        .context("the plan has no [gateway] section (or use --route HOST=URL)")?;
    let nets = |list: &[String]| -> anyhow::Result<Vec<ipnet::IpNet>> {
        list.iter()
            .map(|text| parse_net(text).map_err(anyhow::Error::msg))
            .collect()
    };
    let mut routes = Vec::new();
    for site in plan.sites.iter().filter(|site| !site.origins.is_empty()) {
        let origins = site
            .origins
            .iter()
            .map(|url| Origin::parse(url))
            .collect::<Result<Vec<_>, _>>()?;
        let maintenance_page = match &site.maintenance_page {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!(
                    "site {}: cannot read the maintenance page {}",
                    site.name,
                    path.display()
                )
            })?),
            None => None,
        };
        routes.push(RouteConfig {
            site: site.name.clone(),
            hosts: site.host_names(),
            origins,
            maintenance_page,
            // The first guarded web root's static files are verified.
            guarded_root: site.web_roots.first().map(|root| root.path.clone()),
            retry_after_seconds: 300,
        });
    }
    let limits = &settings.limits;
    let seconds = |s: u32| Duration::from_secs(u64::from(s));
    let access_log = match &settings.access_log {
        Some(path) if path.is_absolute() => path.clone(),
        Some(path) => data.join(path),
        None => data.join("gateway-access.log"),
    };
    Ok(GatewayConfig {
        listen: settings
            .listen
            .iter()
            .map(|text| text.parse().context("gateway.listen"))
            .collect::<anyhow::Result<_>>()?,
        tls: settings
            .tls
            .iter()
            .map(|tls| {
                Ok(TlsListener {
                    addr: tls.listen.parse().context("gateway.tls.listen")?,
                    cert: tls.cert.clone(),
                    key: tls.key.clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?,
        routes,
        origin_ca_files: settings.origin_ca_files.clone(),
        trusted_proxies: nets(&settings.trusted_proxies)?,
        access_log: Some(access_log),
        limits: Limits {
            rate_per_ip: limits.rate_per_ip,
            burst_per_ip: limits.burst_per_ip,
            connections_per_ip: limits.connections_per_ip,
            max_in_flight: limits.max_in_flight,
            in_flight_per_ip: limits.in_flight_per_ip,
            h2_streams_per_connection: limits.h2_streams_per_connection,
            max_header_bytes: limits.max_header_bytes,
            max_headers: limits.max_headers,
            header_timeout: seconds(limits.header_timeout_seconds),
            body_timeout: seconds(limits.body_timeout_seconds),
            body_deadline: seconds(limits.body_deadline_seconds),
            keepalive_timeout: seconds(limits.keepalive_timeout_seconds),
            ban_after_refusals: limits.ban_after_refusals,
            ban_base: seconds(limits.ban_base_seconds),
            ban_max: seconds(limits.ban_max_seconds),
        },
        allowlist: nets(&settings.allowlist)?,
        blocklist: nets(&settings.blocklist)?,
        threads: settings
            .threads
            .unwrap_or_else(|| GatewayConfig::default().threads),
        grace: Duration::from_secs(5),
        origin_timeout: Duration::from_secs(60),
        tap: None,
        engine: match settings.engine {
            Some(GatewayEngine::Hyper) => Engine::Hyper,
            Some(GatewayEngine::Pingora) => Engine::Pingora,
            None => Engine::default(),
        },
    })
}

async fn status(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let Some(response) = control::send(data, &Request::Status).await? else {
        let store = open_store(data).await?;
        let switches = store.site_switches().await?;
        println!("no gateway is running on {}", data.display());
        for switch in switches {
            println!(
                "  {:<24} {:<12} since {} by {}: {}",
                switch.site,
                switch.mode,
                output::time(switch.at_ms),
                switch.by,
                switch.reason
            );
        }
        return Ok(ExitCode::from(3));
    };
    let status = response.status.context("the gateway sent no status")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<24} {:<12} LAST SWITCH", "SITE", "MODE");
    for site in &status.sites {
        let note = site
            .note
            .as_ref()
            .map(|note| {
                format!(
                    "{} by {}: {}",
                    output::time(note.at_ms),
                    note.by,
                    note.reason
                )
            })
            .unwrap_or_else(|| "-".into());
        println!("{:<24} {:<12} {note}", site.site, site.mode.as_str());
    }
    println!();
    println!(
        "requests {}  maintenance {}  blocked {}  rate-limited {}  shed {}  verified {}  origin checks {}  origin tampered {}  in flight {}",
        status.requests,
        status.maintenance,
        status.blocked,
        status.rate_limited,
        status.shed,
        status.verified,
        status.origin_checks,
        status.tampered,
        status.in_flight
    );
    print_blocklist(&status.blocklist);
    Ok(ExitCode::SUCCESS)
}

fn print_blocklist(entries: &[BlockEntry]) {
    if entries.is_empty() {
        println!("blocklist: empty");
        return;
    }
    println!("blocklist:");
    for entry in entries {
        println!(
            "  {:<20} {:<22} {:<9} {}",
            entry.net.to_string(),
            entry
                .until_ms
                .map(|until| format!("until {}", output::time(until)))
                .unwrap_or_else(|| "permanent".into()),
            entry.source,
            entry.reason
        );
    }
}

/// Parses `30s`, `10m`, `2h`, `1d`.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 30s, 10m, 2h or 1d"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => anyhow::bail!("{text:?} is not a duration like 30s, 10m, 2h or 1d"),
    };
    Ok(Duration::from_secs(seconds))
}

async fn ban(
    data: &Path,
    net: &str,
    duration: Option<&str>,
    reason: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let net = parse_net(net).map_err(anyhow::Error::msg)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let until_ms = match duration {
        Some(text) => Some(now + parse_duration(text)?.as_millis() as i64),
        None => None,
    };
    let entry = BlockEntry {
        net,
        until_ms,
        reason: format!("{reason} ({by})"),
        source: by.to_string(),
        offences: 1,
    };
    // The store first: the ban holds across restarts and for every gateway.
    let store = open_store(data).await?;
    store
        .put_block(
            &BlockRecord {
                net: net.to_string(),
                until_ms,
                reason: entry.reason.clone(),
                source: entry.source.clone(),
                offences: 1,
            },
            now,
        )
        .await?;
    match control::send(data, &Request::Ban { entry }).await? {
        Some(response) if response.ok => println!("{net} banned; in force on the running gateway"),
        Some(response) => anyhow::bail!(
            "the gateway refused: {}",
            response.error.unwrap_or_default()
        ),
        None => println!(
            "{net} banned; recorded — no gateway is running on {}",
            data.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn unban(data: &Path, net: &str) -> anyhow::Result<ExitCode> {
    let parsed = parse_net(net).map_err(anyhow::Error::msg)?;
    let store = open_store(data).await?;
    let in_store = store.remove_block(&parsed.to_string()).await?;
    let in_gateway = match control::send(
        data,
        &Request::Unban {
            net: parsed.to_string(),
        },
    )
    .await?
    {
        Some(response) => response.ok,
        None => false,
    };
    if !in_store && !in_gateway {
        anyhow::bail!("{parsed} is not on the blocklist");
    }
    println!("{parsed} unbanned");
    Ok(ExitCode::SUCCESS)
}

async fn blocklist(data: &Path, nft: Option<&Path>) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now().as_millisecond();
    let entries = match control::send(data, &Request::Status).await? {
        Some(response) => response.status.map(|s| s.blocklist).unwrap_or_default(),
        None => open_store(data)
            .await?
            .active_blocks(now)
            .await?
            .into_iter()
            .filter_map(|record| {
                Some(BlockEntry {
                    net: parse_net(&record.net).ok()?,
                    until_ms: record.until_ms,
                    reason: record.reason,
                    source: record.source,
                    offences: record.offences,
                })
            })
            .collect(),
    };
    match nft {
        Some(path) => {
            std::fs::write(path, sitewarden_gateway::nft::render(&entries, now))
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "{} entr{} written to {} — load with: nft -f {}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" },
                path.display(),
                path.display()
            );
        }
        None => print_blocklist(&entries),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
