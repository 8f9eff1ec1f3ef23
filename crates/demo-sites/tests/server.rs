//! Serves the sample sites on loopback and fetches them with a plain
//! HTTP/1.1 request over a TCP stream.

use sitewarden_demo_sites::{Encoding, SampleSite, SiteServer, Variant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) sitewarden-test";
const BAIDU: &str =
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)";

struct Fetched {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn fetch(server: &SiteServer, path: &str, user_agent: &str) -> Fetched {
    let mut stream = TcpStream::connect(server.addr())
        .await
        .expect("connect to the sample site");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n",
        server.host()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read the response");
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a header/body separator");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let content_type = head
        .lines()
        .find_map(|line| {
            line.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Fetched {
        status,
        content_type,
        body: response[split + 4..].to_vec(),
    }
}

fn utf8(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn visitor_count(page: &str) -> u64 {
    let start = page
        .find("<span id=\"counter\">")
        .expect("a visitor counter")
        + "<span id=\"counter\">".len();
    page[start..]
        .split('<')
        .next()
        .and_then(|count| count.parse().ok())
        .expect("a number")
}

#[tokio::test]
async fn serves_pages_counts_visits_and_switches_variants() {
    let server = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .expect("start the portal");
    assert_eq!(server.host(), "portal.example.gov.test");
    assert_eq!(server.variant(), Variant::Normal);
    assert!(server.addr().ip().is_loopback());

    let first = fetch(&server, "/", BROWSER).await;
    assert_eq!(
        (first.status, first.content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    let first = utf8(&first.body);
    assert!(first.contains("<title>示例省财政厅</title>"));
    let second = utf8(&fetch(&server, "/", BROWSER).await.body);
    assert_eq!(visitor_count(&second), visitor_count(&first) + 1);
    assert_ne!(first, second, "the banner rotates and the counter moves");

    for path in server.paths() {
        assert_eq!(fetch(&server, path, BROWSER).await.status, 200, "{path}");
    }
    assert_eq!(fetch(&server, "/wp-admin/", BROWSER).await.status, 404);

    server.set_variant(Variant::HackedTitle);
    assert_eq!(server.variant(), Variant::HackedTitle);
    assert!(
        utf8(&fetch(&server, "/", BROWSER).await.body).contains("<title>Hacked By Shadow Team")
    );

    server.set_variant(Variant::CrawlerOnlySpam);
    assert!(!utf8(&fetch(&server, "/", BROWSER).await.body).contains("百家乐"));
    assert!(utf8(&fetch(&server, "/", BAIDU).await.body).contains("百家乐"));

    server.set_variant(Variant::Normal);
    assert!(utf8(&fetch(&server, "/", BROWSER).await.body).contains("<title>示例省财政厅</title>"));
    // Two home pages, every page, one 404, then four home pages.
    assert_eq!(
        server.requests_served(),
        2 + server.paths().len() as u64 + 1 + 4
    );
    server.shutdown().await;
}

#[tokio::test]
async fn serves_gbk_with_and_without_the_header_charset() {
    for (charset_in_header, expected_type) in
        [(true, "text/html; charset=GBK"), (false, "text/html")]
    {
        let server =
            SiteServer::start_with(SampleSite::Procurement, Encoding::Gbk, charset_in_header)
                .await
                .expect("start the procurement site");
        assert_eq!(server.host(), "zfcg.example.gov.test");
        let page = fetch(&server, "/", BROWSER).await;
        assert_eq!(page.content_type, expected_type);
        assert!(
            std::str::from_utf8(&page.body).is_err(),
            "GBK bytes are not UTF-8"
        );
        let (text, _, had_errors) = encoding_rs::GBK.decode(&page.body);
        assert!(!had_errors);
        assert!(text.contains("<meta charset=\"gbk\">") && text.contains("示例省政府采购网"));
        server.shutdown().await;
    }
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let server = SiteServer::start(SampleSite::Portal, Encoding::Utf8)
        .await
        .expect("start the portal");
    let address = server.addr();
    server.shutdown().await;
    assert!(TcpStream::connect(address).await.is_err());
}
