//! `sitewarden serve` watching access logs live: the gateway's own
//! requests and a plan log file, end to end with the real binary, real
//! sample sites behind the real gateway, and clients bound to distinct
//! 127.0.0.x source addresses.
//!
//! - an SQL injection through the gateway → its address blocked at the
//!   gateway by a logwatch decision;
//! - a web-shell request written to the sub-site's nginx log → a web-shell
//!   incident, which the playbook cuts off at the gateway;
//! - a flood on the portal from fifty addresses → a DDoS incident with the
//!   flood's evidence, and the playbook's block_offenders step blocking the
//!   flood's sources at the gateway.

mod support;

use sitewarden_demo_sites::{Encoding, SampleSite, SiteServer, loopback_plan_options};
use sitewarden_plan::{SampleGateway, sample_plan_with};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{interrupt, run, sitewarden};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One HTTP/1.0 request to the gateway from `source`; the status, or
/// `None` when the gateway refused or closed the connection unanswered.
async fn get_from(source: Ipv4Addr, gateway: SocketAddr, host: &str, target: &str) -> Option<u16> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).ok()?;
    let mut stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(gateway))
        .await
        .ok()?
        .ok()?;
    let request =
        format!("GET {target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

async fn json(args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = run(args).await;
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

async fn incidents(data: &str) -> Vec<serde_json::Value> {
    json(&["incident", "list", "--data", data, "--json"])
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn blocklist(data: &str) -> Vec<serde_json::Value> {
    let status = json(&["gateway", "status", "--data", data, "--json"]).await;
    status["status"]["blocklist"]
        .as_array()
        .or_else(|| status["blocklist"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// Polls `check` every 200 ms until it returns something or `deadline`
/// passes.
async fn poll<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let give_up = Instant::now() + deadline;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < give_up, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn clf_now() -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%d/%b/%Y:%H:%M:%S %z")
        .to_string()
}

fn append(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_watches_the_gateway_and_the_plans_logs_and_acts_on_what_it_finds() {
    let portal = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .unwrap();
    let zfcg = SiteServer::start(SampleSite::Procurement, Encoding::Gbk)
        .await
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let gateway: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut options = loopback_plan_options(&[&portal, &zfcg], 60, None);
    options.gateway = Some(SampleGateway {
        listen: gateway.to_string(),
        origins: [&portal, &zfcg]
            .iter()
            .map(|site| (site.host().to_string(), format!("http://{}", site.addr())))
            .collect(),
    });
    // The sub-site's own nginx log, not behind... a log serve follows.
    let zfcg_log = temp.path().join("zfcg-access.log");
    std::fs::write(&zfcg_log, "").unwrap();
    let text = format!(
        "{}\n[logwatch]\n[logwatch.flood]\nmin_rps = 30\nfactor = 2\nquiet_seconds = 3\n\
         [logwatch.decisions]\nflood_source_min_requests = 100000\n\
         [[logwatch.files]]\npath = \"{}\"\nsite = \"zfcg\"\nformat = \"combined\"\n",
        sample_plan_with(&options),
        zfcg_log.display()
    );
    let plan = temp.path().join("sitewarden.toml");
    std::fs::write(&plan, text).unwrap();
    let (plan_arg, data) = (plan.to_str().unwrap(), temp.path().join("data"));
    let data_arg = data.to_str().unwrap();
    let (ok, _, err) = run(&["check-plan", plan_arg]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["baseline", "--plan", plan_arg, "--data", data_arg]).await;
    assert!(ok, "{err}");

    let mut serve = sitewarden(&["serve", "--plan", plan_arg, "--data", data_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printed = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = seen_tx.send(line.clone());
            all.push(line);
        }
        all
    });
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = seen_rx.recv().await {
            if line.starts_with("watching access logs:") {
                assert!(line.contains("the gateway's requests"), "{line}");
                assert!(line.contains("zfcg-access.log (site zfcg)"), "{line}");
                return;
            }
        }
        panic!("serve stopped before watching the logs");
    })
    .await
    .expect("serve watches the logs within 60 s");
    let portal_host = portal.host();

    // 1. An SQL injection through the gateway: the address is blocked.
    let attacker = Ipv4Addr::new(127, 0, 0, 7);
    for _ in 0..3 {
        get_from(
            attacker,
            gateway,
            portal_host,
            "/news.php?id=-1%20union%20select%201,2,3--",
        )
        .await;
    }
    let entry = poll(
        "the attacker on the blocklist",
        Duration::from_secs(20),
        || async {
            blocklist(data_arg).await.into_iter().find(|entry| {
                entry["net"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("127.0.0.7"))
            })
        },
    )
    .await;
    assert_eq!(entry["source"], "logwatch", "{entry}");
    assert!(
        entry["reason"].as_str().unwrap().contains("sqli"),
        "{entry}"
    );
    assert_eq!(
        get_from(attacker, gateway, portal_host, "/").await,
        None,
        "the blocked address gets no answer"
    );
    assert_eq!(
        get_from(Ipv4Addr::LOCALHOST, gateway, portal_host, "/").await,
        Some(200),
        "everyone else is served"
    );

    // 2. A web shell in the sub-site's own log: an incident, cut off.
    append(
        &zfcg_log,
        &format!(
            "203.0.113.66 - - [{}] \"GET /uploads/2026/11/x.php?cmd=whoami HTTP/1.1\" 200 12 \"-\" \"Mozilla/5.0\"",
            clf_now()
        ),
    );
    let shell = poll(
        "a web-shell incident on zfcg",
        Duration::from_secs(20),
        || async {
            incidents(data_arg)
                .await
                .into_iter()
                .find(|i| i["site"] == "zfcg" && i["kind"] == "web_shell")
        },
    )
    .await;
    let id = shell["id"].to_string();
    let detail = json(&["incident", "show", &id, "--data", data_arg, "--json"]).await;
    let signal = &detail["signals"][0];
    assert_eq!(signal["source"], "logwatch", "{signal}");
    assert!(
        signal["reasons"][0]
            .as_str()
            .unwrap()
            .contains("203.0.113.66 requesting /uploads/2026/11/x.php"),
        "{signal}"
    );
    assert!(
        detail["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "logwatch_web_shell"),
        "{detail}"
    );
    poll(
        "zfcg cut off at the gateway",
        Duration::from_secs(20),
        || async {
            (get_from(Ipv4Addr::LOCALHOST, gateway, zfcg.host(), "/").await == Some(503))
                .then_some(())
        },
    )
    .await;
    // The playbook's preserve_evidence step reads the site's log around
    // the discovery and attaches the timeline, the shell's request in it.
    let timeline = poll("the log timeline attached", Duration::from_secs(30), || {
        let id = id.clone();
        async move {
            let detail = json(&["incident", "show", &id, "--data", data_arg, "--json"]).await;
            detail["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["kind"] == "log_timeline")
                .cloned()
        }
    })
    .await;
    assert!(
        timeline["metadata"]["logs"]
            .to_string()
            .contains("zfcg-access.log"),
        "{timeline}"
    );
    assert!(
        timeline["metadata"]["summary"]
            .as_str()
            .unwrap()
            .contains("203.0.113.66"),
        "{timeline}"
    );
    // The leader approves reopening from the CLI; the playbook reopens it.
    let shown = json(&[
        "incident", "show", &id, "--plan", plan_arg, "--data", data_arg, "--json",
    ])
    .await;
    let request = shown["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a["action"] == "reopen_site")
        .unwrap_or_else(|| panic!("no approval of reopen_site asked: {shown}"))
        .to_string();
    // The duty officer's overview says what waits on a commander, and how.
    let (ok, out, err) = run(&["status", "--plan", plan_arg, "--data", data_arg]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "waiting: approval of reopen_site — `sitewarden incident approve {id} --request {request} --by NAME`"
        )),
        "{out}"
    );
    let (ok, out, err) = run(&[
        "incident",
        "approve",
        &id,
        "--request",
        &request,
        "--by",
        "王小明",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
    ])
    .await;
    assert!(ok, "{out}{err}");
    poll(
        "zfcg reopened by the playbook",
        Duration::from_secs(20),
        || async {
            (get_from(Ipv4Addr::LOCALHOST, gateway, zfcg.host(), "/").await == Some(200))
                .then_some(())
        },
    )
    .await;
    // The shell removed, a person reopens the site: in force at once and
    // noted in the incident's timeline.
    let (ok, out, err) = run(&[
        "release",
        "zfcg",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--reason",
        "web shell removed",
        "--by",
        "王小明",
    ])
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("notes the reopening"), "{out}");
    assert_eq!(
        get_from(Ipv4Addr::LOCALHOST, gateway, zfcg.host(), "/").await,
        Some(200)
    );
    let detail = json(&["incident", "show", &id, "--data", data_arg, "--json"]).await;
    assert!(
        detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "王小明"
                && e["detail"].to_string().contains("reopened by 王小明")),
        "{detail}"
    );

    // 3. A flood on the portal from fifty addresses for six seconds, each
    //    under the gateway's per-address rate (50/s): a DDoS incident, its
    //    sources blocked by the playbook. The detector is a minute old, so
    //    its threshold is min_rps × factor = 60 requests/s, which even a
    //    loaded CI machine's clients exceed; logwatch's own flood decisions
    //    are held back (flood_source_min_requests) so that the playbook's
    //    block_offenders step is the one that blocks.
    let flood_started = Instant::now();
    let mut clients = Vec::new();
    for n in 20..70u8 {
        let source = Ipv4Addr::new(127, 0, 0, n);
        clients.push(tokio::spawn(async move {
            let stop = Instant::now() + Duration::from_secs(6);
            while Instant::now() < stop {
                get_from(source, gateway, portal_host, "/").await;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }));
    }
    let ddos = poll(
        "a DDoS incident on the portal",
        Duration::from_secs(30),
        || async {
            incidents(data_arg)
                .await
                .into_iter()
                .find(|i| i["site"] == "portal" && i["kind"] == "ddos")
        },
    )
    .await;
    let detected_after = flood_started.elapsed();
    for client in clients {
        client.await.unwrap();
    }
    let id = ddos["id"].to_string();
    let detail = poll(
        "the block_offenders step and the flood's whole evidence",
        Duration::from_secs(30),
        || {
            let id = id.clone();
            async move {
                let detail = json(&["incident", "show", &id, "--data", data_arg, "--json"]).await;
                let stepped = detail["timeline"].as_array().unwrap().iter().any(|e| {
                    e["detail"].to_string().contains("block_offenders")
                        && e["detail"].to_string().contains("blocked")
                });
                let evidence = detail["evidence"].as_array().unwrap();
                let ended = evidence.iter().any(|e| e["kind"] == "logwatch_flood");
                (stepped && ended).then_some(detail)
            }
        },
    )
    .await;
    let signal = &detail["signals"][0];
    assert_eq!(signal["source"], "logwatch", "{signal}");
    assert_eq!(signal["kind"], "ddos", "{signal}");
    let step = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"].to_string().contains("block_offenders"))
        .unwrap()
        .to_string();
    assert!(step.contains("127.0.0.2"), "flood sources named: {step}");
    let blocked = blocklist(data_arg).await;
    let by_playbook = blocked
        .iter()
        .filter(|entry| entry["source"] == "playbook")
        .count();
    assert!(
        by_playbook >= 10,
        "flood sources blocked at the gateway by the playbook: {blocked:?}"
    );
    println!("flood → DDoS incident listed after {detected_after:?} (includes CLI polling)");

    assert!(interrupt(&mut serve).await.success());
    let printed = printed.await.unwrap();
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("log watching stopped:")),
        "{printed:?}"
    );
    let offsets = std::fs::read_to_string(data.join("logwatch-offsets.json")).unwrap();
    assert!(offsets.contains("zfcg-access.log"), "{offsets}");
}
