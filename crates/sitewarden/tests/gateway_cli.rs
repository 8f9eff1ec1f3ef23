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
