//! `sitewarden gateway --route …`, `contain`, `release` and the ban
//! commands as a user runs them: the binary started in front of a real
//! sample site on loopback, steered from a second process on the same data
//! directory, stopped with SIGINT.

use sitewarden_demo_sites::{Encoding, SampleSite, SiteServer};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");

fn sitewarden(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).env("NO_COLOR", "1");
    command
}

async fn run(args: &[&str]) -> (bool, String) {
    let output = sitewarden(args).output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Status line and body of `GET /` for `host` through `gateway`, on one
/// kept-alive connection when `conn` is given.
async fn get(conn: &mut tokio::net::TcpStream, host: &str) -> (u16, String) {
    conn.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut reader = BufReader::new(conn);
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.unwrap();
    (
        status[9..12].parse().unwrap(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn a_routed_gateway_is_contained_and_released_from_another_process() {
    let site = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let route = format!("{}=http://{}", site.host(), site.addr());
    let mut gateway = sitewarden(&[
        "gateway",
        "--data",
        data_arg,
        "--listen",
        &listen.to_string(),
        "--route",
        &route,
    ])
    .current_dir(temp.path())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(gateway.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = tokio::time::timeout_at(deadline.into(), stdout.next_line())
            .await
            .expect("the gateway starts")
            .unwrap()
            .expect("the gateway prints where it listens");
        if line.contains("control socket") {
            break;
        }
    }

    let mut conn = tokio::net::TcpStream::connect(listen).await.unwrap();
    let (status, body) = get(&mut conn, site.host()).await;
    assert_eq!(status, 200);
    assert!(body.contains("示例省财政厅"), "{body}");

    // No plan in this directory: the site is the routed host name.
    let (ok, text) = run(&[
        "contain",
        site.host(),
        "--reason",
        "首页被篡改 home page defaced",
        "--data",
        data_arg,
        "--by",
        "值班员 duty officer",
    ])
    .await;
    assert!(ok, "{text}");
    assert!(text.contains("in force on the running gateway"), "{text}");
    let (status, body) = get(&mut conn, site.host()).await;
    assert_eq!(status, 503, "the next request on the open connection");
    assert!(body.contains("网站维护中"));

    let (ok, text) = run(&["release", site.host(), "--data", data_arg]).await;
    assert!(ok, "{text}");
    assert_eq!(get(&mut conn, site.host()).await.0, 200);

    let (ok, text) = run(&[
        "contain",
        "nowhere.example.gov.test",
        "--reason",
        "x",
        "--data",
        data_arg,
    ])
    .await;
    assert!(!ok);
    assert!(text.contains("nowhere.example.gov.test"), "{text}");

    // Bans: in force at once, listed, exported for nftables, lifted.
    let (ok, text) = run(&[
        "gateway",
        "ban",
        "203.0.113.9",
        "--for",
        "1h",
        "--reason",
        "scanner",
        "--data",
        data_arg,
    ])
    .await;
    assert!(ok, "{text}");
    assert!(text.contains("in force on the running gateway"), "{text}");
    let nft = temp.path().join("blocklist.nft");
    let (ok, text) = run(&[
        "gateway",
        "blocklist",
        "--data",
        data_arg,
        "--nft",
        nft.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "{text}");
    let rules = std::fs::read_to_string(&nft).unwrap();
    assert!(rules.contains("203.0.113.9 timeout"), "{rules}");
    let (ok, text) = run(&["gateway", "status", "--data", data_arg]).await;
    assert!(ok, "{text}");
    assert!(text.contains("203.0.113.9"), "{text}");
    assert!(text.contains("serving"), "{text}");
    let (ok, text) = run(&["gateway", "unban", "203.0.113.9", "--data", data_arg]).await;
    assert!(ok, "{text}");
    let (ok, _) = run(&["gateway", "unban", "203.0.113.9", "--data", data_arg]).await;
    assert!(!ok, "nothing left to lift");

    // SIGINT: a graceful stop.
    let pid = gateway.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .expect("the gateway stops on SIGINT")
        .unwrap();
    assert!(status.success());
    // Stopped: the switch is still in the store, and contain says no
    // gateway runs.
    let (ok, text) = run(&["gateway", "status", "--data", data_arg]).await;
    assert!(!ok);
    assert!(text.contains("no gateway is running"), "{text}");
}

/// Sends `signal` (`-HUP`, `-INT`) to a child process.
fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Lines of a child's output, as they come.
fn forward_lines(
    output: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (60 s at most) for a line containing `needle`.
async fn wait_for_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no line with {needle:?} within 60 s"))
            .unwrap_or_else(|| panic!("the output ended before a line with {needle:?}"));
        if line.contains(needle) {
            return;
        }
    }
}

/// A request from `source`: the status, or None when the gateway closed
/// the connection without an answer (a blocked address).
async fn get_from(source: [u8; 4], gateway: std::net::SocketAddr, host: &str) -> Option<u16> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::from((
            std::net::Ipv4Addr::from(source),
            0,
        )))
        .unwrap();
    let mut conn = socket.connect(gateway).await.ok()?;
    conn.write_all(
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .ok()?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12).and_then(|status| status.parse().ok())
}

/// Regression: `sitewarden serve` ended on SIGHUP (only `sitewarden
/// gateway` reloaded), so a changed route, limit or blocklist in the plan
/// needed a restart that dropped every connection.
#[tokio::test]
async fn serve_reloads_the_gateway_from_the_plan_on_sighup_keeping_connections() {
    use sitewarden_plan::{SampleGateway, sample_plan_with};
    let portal = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .unwrap();
    let procurement = SiteServer::start(SampleSite::Procurement, Encoding::Gbk)
        .await
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut options =
        sitewarden_demo_sites::loopback_plan_options(&[&portal, &procurement], 600, None);
    options.gateway = Some(SampleGateway {
        listen: listen.to_string(),
        origins: [&portal, &procurement]
            .iter()
            .map(|site| (site.host().to_string(), format!("http://{}", site.addr())))
            .collect(),
    });
    let original = sample_plan_with(&options);
    let limits = "[gateway.limits]\nrate_per_ip = 50\n";
    assert!(original.contains(limits), "{original}");
    let portal_origins = original
        .lines()
        .find(|line| line.starts_with("origins = [") && line.contains(&portal.addr().to_string()))
        .expect("the portal's origins line")
        .to_string();
    // The changed plan: a route (a host name more), a limit and a blocked
    // address.
    let changed = original
        .replace(
            limits,
            "blocklist = [\"127.0.0.9\"]\n[gateway.limits]\nrate_per_ip = 50\nmax_header_bytes = 2048\n",
        )
        .replace(
            &portal_origins,
            &format!("{portal_origins}\nhosts = [\"www.portal.example.gov.test\"]"),
        );
    let plan = temp.path().join("sitewarden.toml");
    std::fs::write(&plan, &original).unwrap();
    let (plan_arg, data) = (plan.to_str().unwrap(), temp.path().join("data"));
    let data_arg = data.to_str().unwrap();
    let (ok, text) = run(&["check-plan", plan_arg]).await;
    assert!(ok, "{text}");
    let (ok, text) = run(&["baseline", "--plan", plan_arg, "--data", data_arg]).await;
    assert!(ok, "{text}");

    let mut serve = sitewarden(&["serve", "--plan", plan_arg, "--data", data_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = forward_lines(serve.stdout.take().unwrap());
    let mut stderr = forward_lines(serve.stderr.take().unwrap());
    wait_for_line(&mut stdout, "gateway listening on").await;

    let mut conn = tokio::net::TcpStream::connect(listen).await.unwrap();
    assert_eq!(get(&mut conn, portal.host()).await.0, 200);
    assert_eq!(
        get(&mut conn, "www.portal.example.gov.test").await.0,
        404,
        "not routed yet"
    );
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        portal.host(),
        "a".repeat(4096)
    );
    let status_of = |request: String| async move {
        let mut conn = tokio::net::TcpStream::connect(listen).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer)
            .get(9..12)
            .and_then(|status| status.parse::<u16>().ok())
    };
    assert_eq!(status_of(big_header.clone()).await, Some(200));
    assert_eq!(
        get_from([127, 0, 0, 9], listen, portal.host()).await,
        Some(200)
    );

    std::fs::write(&plan, &changed).unwrap();
    signal(&serve, "-HUP");
    wait_for_line(&mut stdout, "gateway configuration reloaded").await;
    // The connection opened before the reload carries on, under the new
    // routes.
    assert_eq!(get(&mut conn, portal.host()).await.0, 200);
    assert_eq!(get(&mut conn, "www.portal.example.gov.test").await.0, 200);
    // The new limit and the plan's blocklist are in force.
    assert_eq!(status_of(big_header.clone()).await, Some(431));
    assert_eq!(get_from([127, 0, 0, 9], listen, portal.host()).await, None);

    // A plan that does not load is refused; the running configuration stays.
    std::fs::write(&plan, "[gateway\nthis is not a plan").unwrap();
    signal(&serve, "-HUP");
    wait_for_line(&mut stderr, "gateway reload refused").await;
    assert_eq!(get(&mut conn, "www.portal.example.gov.test").await.0, 200);

    // Back to the first plan: the address is let in again, the host name
    // and the limit are gone.
    std::fs::write(&plan, &original).unwrap();
    signal(&serve, "-HUP");
    wait_for_line(&mut stdout, "gateway configuration reloaded").await;
    assert_eq!(
        get_from([127, 0, 0, 9], listen, portal.host()).await,
        Some(200)
    );
    assert_eq!(get(&mut conn, "www.portal.example.gov.test").await.0, 404);
    assert_eq!(status_of(big_header).await, Some(200));
    assert_eq!(get(&mut conn, portal.host()).await.0, 200);

    signal(&serve, "-INT");
    let status = tokio::time::timeout(Duration::from_secs(30), serve.wait())
        .await
        .expect("serve stops on SIGINT")
        .unwrap();
    assert!(status.success());
}
