//! Delivery through real channels on loopback: a webhook receiver that
//! checks signatures and fails for a while, a DingTalk-style robot that
//! answers garbage, WeCom, Feishu (its signature checked by the receiver,
//! a wrong one refused) and SMS-gateway receivers, a sender that dies
//! mid-send, a message refused for good, and e-mail to a real SMTP server
//! (python3-aiosmtpd) in clear, with STARTTLS and with TLS from the first
//! byte (port-465 style), trusting a CA of the test's own.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sitewarden_notify::{
    Channel, ChannelConfig, Dispatcher, RetryPolicy, SmtpSecurity, build_channel, email_message_id,
    webhook_signature,
};
use sitewarden_store::{NewMessage, OutboxState, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

const SECRET: &str = "test-webhook-secret";

/// What the receiver saw: every accepted message id, in order, duplicates
/// included, so the test can tell "exactly once".
#[derive(Clone, Default)]
struct Receiver {
    accepted: Arc<Mutex<Vec<String>>>,
    failures_left: Arc<Mutex<u32>>,
    bad_signatures: Arc<Mutex<u32>>,
}

async fn webhook(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    {
        let mut failures = receiver.failures_left.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance");
        }
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let timestamp: i64 = header("x-sitewarden-timestamp").parse().unwrap_or(0);
    if header("x-sitewarden-signature") != webhook_signature(SECRET, timestamp, &body) {
        *receiver.bad_signatures.lock().unwrap() += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature");
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        sitewarden_notify::header_safe_id(json["id"].as_str().unwrap()),
        header("x-sitewarden-message-id")
    );
    receiver
        .accepted
        .lock()
        .unwrap()
        .push(header("x-sitewarden-message-id"));
    (StatusCode::OK, "ok")
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn message(id: &str, channel: &str, recipient: Option<&str>) -> NewMessage {
    NewMessage {
        id: id.into(),
        incident_id: None,
        channel: channel.into(),
        recipient: recipient.map(str::to_string),
        subject: "【网页篡改】示例省财政厅门户网站首页".into(),
        body: "发现时间 09:00；已切断对外服务；初次报告截止 09:30。".into(),
        created_at: 0,
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        max_attempts: 20,
        lease: Duration::from_secs(30),
        concurrency: 4,
    }
}

fn channels(configs: &[(&str, ChannelConfig)]) -> HashMap<String, Arc<dyn Channel>> {
    configs
        .iter()
        .map(|(name, config)| {
            (
                name.to_string(),
                build_channel(config, Duration::from_secs(5), &[]).unwrap(),
            )
        })
        .collect()
}

/// Runs the dispatcher until `done` holds or 20 s pass.
async fn deliver_until(dispatcher: &Dispatcher, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery did not finish in time"
        );
        dispatcher.deliver_due().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_channel_that_fails_for_a_while_delivers_everything_exactly_once() {
    let receiver = Receiver::default();
    *receiver.failures_left.lock().unwrap() = 5;
    let url = serve(
        Router::new()
            .route("/hook", post(webhook))
            .with_state(receiver.clone()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        channels(&[(
            "ops-webhook",
            ChannelConfig::Webhook {
                url: format!("{url}/hook"),
                secret: Some(SECRET.into()),
            },
        )]),
        fast_policy(),
    );
    let ids: Vec<String> = (1..=6)
        .map(|n| format!("incident-1-initial-report-{n}"))
        .collect();
    for id in &ids {
        assert!(
            store
                .enqueue_message(&message(id, "ops-webhook", None))
                .await
                .unwrap()
        );
    }
    // Enqueueing the same id again is deduplicated.
    assert!(
        !store
            .enqueue_message(&message(&ids[0], "ops-webhook", None))
            .await
            .unwrap()
    );

    deliver_until(&dispatcher, async || {
        store
            .messages_in_state(OutboxState::Sent)
            .await
            .unwrap()
            .len()
            == ids.len()
    })
    .await;
    let mut seen = receiver.accepted.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ids, "every message exactly once");
    assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_sender_killed_mid_send_is_replaced_and_the_receiver_sees_each_message_once() {
    let receiver = Receiver::default();
    let url = serve(
        Router::new()
            .route("/hook", post(webhook))
            .with_state(receiver.clone()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for n in 1..=3 {
        store
            .enqueue_message(&message(&format!("m{n}"), "ops-webhook", None))
            .await
            .unwrap();
    }
    // A first sender claims everything with a short lease and dies before sending.
    let claimed = store.claim_due_messages(0, 10, 1).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // A new process: the leases have run out, so the messages are due again.
    let dispatcher = Dispatcher::new(
        store.clone(),
        channels(&[(
            "ops-webhook",
            ChannelConfig::Webhook {
                url: format!("{url}/hook"),
                secret: Some(SECRET.into()),
            },
        )]),
        fast_policy(),
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    deliver_until(&dispatcher, async || {
        store
            .messages_in_state(OutboxState::Sent)
            .await
            .unwrap()
            .len()
            == 3
    })
    .await;
    let mut seen = receiver.accepted.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["m1", "m2", "m3"]);
}

#[tokio::test]
async fn robots_that_answer_garbage_are_retried_and_refusals_become_dead_letters() {
    // A DingTalk-style robot: garbage twice, then a rate-limit code, then ok.
    let answers = Arc::new(Mutex::new(vec![
        "<html>502 Bad Gateway</html>".to_string(),
        "not json".to_string(),
        r#"{"errcode":130101,"errmsg":"send too fast"}"#.to_string(),
        r#"{"errcode":0,"errmsg":"ok"}"#.to_string(),
    ]));
    let signed = Arc::new(Mutex::new(Vec::<String>::new()));
    let robot = {
        let answers = answers.clone();
        let signed = signed.clone();
        post(move |uri: axum::http::Uri, body: Bytes| {
            let answers = answers.clone();
            let signed = signed.clone();
            async move {
                signed
                    .lock()
                    .unwrap()
                    .push(uri.query().unwrap_or("").to_string());
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(json["msgtype"], "markdown");
                let mut answers = answers.lock().unwrap();
                if answers.len() > 1 {
                    answers.remove(0)
                } else {
                    answers[0].clone()
                }
            }
        })
    };
    let refuse = post(|| async { (StatusCode::BAD_REQUEST, "invalid recipient") });
    let url = serve(
        Router::new()
            .route("/robot/send", robot)
            .route("/refuse", refuse),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let mut policy = fast_policy();
    policy.first_delay = Duration::from_millis(10);
    let dispatcher = Dispatcher::new(
        store.clone(),
        channels(&[
            (
                "duty-group",
                ChannelConfig::DingTalk {
                    url: format!("{url}/robot/send?access_token=t"),
                    secret: Some("SECtest".into()),
                },
            ),
            (
                "broken",
                ChannelConfig::Webhook {
                    url: format!("{url}/refuse"),
                    secret: None,
                },
            ),
        ]),
        policy,
    );
    store
        .enqueue_message(&message("ding-1", "duty-group", Some("138-0000-0001")))
        .await
        .unwrap();
    store
        .enqueue_message(&message("refused-1", "broken", None))
        .await
        .unwrap();
    store
        .enqueue_message(&message("nowhere-1", "no-such-channel", None))
        .await
        .unwrap();

    deliver_until(&dispatcher, async || {
        store
            .messages_in_state(OutboxState::Sent)
            .await
            .unwrap()
            .len()
            == 1
            && store
                .messages_in_state(OutboxState::Dead)
                .await
                .unwrap()
                .len()
                == 2
    })
    .await;
    let sent = store.messages_in_state(OutboxState::Sent).await.unwrap();
    assert_eq!(sent[0].message.id, "ding-1");
    assert_eq!(
        sent[0].attempts, 4,
        "two garbage answers and a rate limit, then accepted"
    );
    for query in signed.lock().unwrap().iter() {
        assert!(
            query.contains("timestamp=") && query.contains("sign="),
            "{query}"
        );
    }
    let dead = store.messages_in_state(OutboxState::Dead).await.unwrap();
    let reasons: Vec<_> = dead
        .iter()
        .map(|m| m.last_error.clone().unwrap_or_default())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("HTTP 400")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("no channel named")),
        "{reasons:?}"
    );
}

/// A real SMTP server: Debian's python3-aiosmtpd writing to a Maildir.
struct SmtpServer {
    child: tokio::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    /// `tls`: the certificate and key, with `--tlscert` (STARTTLS) or
    /// `--smtpscert` (TLS from the first byte, port-465 style).
    async fn start(tls: Option<(&str, &std::path::Path, &std::path::Path)>) -> SmtpServer {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let maildir = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new("/usr/bin/python3");
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        if let Some((option, cert, key)) = tls {
            let key_option = option.replace("cert", "key");
            command.arg(option).arg(cert).arg(key_option).arg(key);
        }
        command
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("inbox"));
        let child = command
            .kill_on_drop(true)
            .spawn()
            .expect("python3-aiosmtpd must be installed (.ci/run installs it)");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("inbox/new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return vec![];
        };
        entries
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect()
    }
}

async fn send_one_email(
    config: ChannelConfig,
    extra_ca: &[std::path::PathBuf],
    server: &SmtpServer,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let channel = build_channel(&config, Duration::from_secs(10), extra_ca).unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        HashMap::from([("mail".to_string(), channel)]),
        fast_policy(),
    );
    // A runner id as it really is: a recipient's name in Chinese, and ':'.
    let id = "incident-7/approval:7:report_upward/mail/王小明";
    store
        .enqueue_message(&message(id, "mail", Some("wang.xiaoming@example.gov.test")))
        .await
        .unwrap();
    deliver_until(&dispatcher, async || !server.messages().is_empty()).await;
    let mail = &server.messages()[0];
    assert!(mail.contains("wang.xiaoming@example.gov.test"), "{mail}");
    // Regression: the raw id went out RFC 2047-encoded as the Message-ID.
    let message_id_line = mail
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("message-id:"))
        .unwrap_or_else(|| panic!("no Message-ID in {mail}"));
    assert_eq!(
        message_id_line.trim_end(),
        format!("Message-ID: {}", email_message_id(id)),
        "{mail}"
    );
    assert!(message_id_line.is_ascii() && !message_id_line.contains("=?"));
    assert!(
        mail.contains("=?utf-8?"),
        "the Chinese subject is encoded: {mail}"
    );
    let sent = store.messages_in_state(OutboxState::Sent).await.unwrap();
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server() {
    let server = SmtpServer::start(None).await;
    let config = ChannelConfig::Email {
        host: "127.0.0.1".into(),
        port: server.port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "sitewarden@example.gov.test".into(),
    };
    send_one_email(config, &[], &server).await;
    drop(server.child);
}

/// A CA of the test's own and a certificate for 127.0.0.1 it signed:
/// (certificate, key, CA) files in `dir`. The channel trusts the CA as a
/// plan's `extra_ca_files`; nothing else would.
fn test_ca(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &rcgen::Issuer::new(ca_params, ca_key))
        .unwrap();
    let (cert, key, ca_file) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (cert, key, ca_file)
}

#[tokio::test]
async fn email_over_starttls_with_the_plans_ca() {
    let files = tempfile::tempdir().unwrap();
    let (cert, key, ca_file) = test_ca(files.path());
    let server = SmtpServer::start(Some(("--tlscert", &cert, &key))).await;
    let config = ChannelConfig::Email {
        host: "127.0.0.1".into(),
        port: server.port,
        security: SmtpSecurity::StartTls,
        username: None,
        password: None,
        from: "sitewarden@example.gov.test".into(),
    };
    send_one_email(config, &[ca_file], &server).await;
}

/// `security = "tls"`: TLS from the first byte, as on port 465
/// (aiosmtpd's SMTPS mode).
#[tokio::test]
async fn email_over_implicit_tls_with_the_plans_ca() {
    let files = tempfile::tempdir().unwrap();
    let (cert, key, ca_file) = test_ca(files.path());
    let server = SmtpServer::start(Some(("--smtpscert", &cert, &key))).await;
    let config = ChannelConfig::Email {
        host: "127.0.0.1".into(),
        port: server.port,
        security: SmtpSecurity::Tls,
        username: None,
        password: None,
        from: "sitewarden@example.gov.test".into(),
    };
    send_one_email(config.clone(), &[ca_file], &server).await;

    // Without the plan's CA the server is not trusted and nothing is sent.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        HashMap::from([(
            "mail".to_string(),
            build_channel(&config, Duration::from_secs(10), &[]).unwrap(),
        )]),
        fast_policy(),
    );
    store
        .enqueue_message(&message(
            "untrusted-1",
            "mail",
            Some("wang.xiaoming@example.gov.test"),
        ))
        .await
        .unwrap();
    dispatcher.deliver_due().await.unwrap();
    let failed = store.outbox_message("untrusted-1").await.unwrap().unwrap();
    assert_ne!(failed.state, OutboxState::Sent);
    assert!(failed.last_error.is_some(), "{failed:?}");
    assert_eq!(server.messages().len(), 1, "only the trusted send arrived");
}

/// What a robot or gateway receiver saw: (path, JSON body, headers).
type Robots = Arc<Mutex<Vec<(String, serde_json::Value, HeaderMap)>>>;

const FEISHU_SECRET: &str = "feishu-test-secret";
const SMS_TOKEN: &str = "sms-test-token";

/// Feishu's check, written out here rather than calling the crate's
/// signing: base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = "")),
/// the timestamp (seconds, as a string) within an hour of now.
fn feishu_signature_is_valid(body: &serde_json::Value, secret: &str) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let Some(timestamp) = body["timestamp"].as_str() else {
        return false;
    };
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return false;
    };
    if (jiff::Timestamp::now().as_second() - seconds).abs() > 3600 {
        return false;
    }
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(format!("{timestamp}\n{secret}").as_bytes()).unwrap();
    mac.update(b"");
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    body["sign"].as_str() == Some(expected.as_str())
}

#[tokio::test]
async fn wecom_feishu_and_sms_reach_receivers_that_check_them() {
    let seen: Robots = Arc::default();
    let record = |path: &'static str| {
        move |State(seen): State<Robots>, headers: HeaderMap, body: Bytes| async move {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            seen.lock()
                .unwrap()
                .push((path.to_string(), json.clone(), headers.clone()));
            match path {
                "/wecom" => r#"{"errcode":0,"errmsg":"ok"}"#.to_string(),
                "/feishu" if feishu_signature_is_valid(&json, FEISHU_SECRET) => {
                    r#"{"code":0,"msg":"success","data":{}}"#.to_string()
                }
                // Feishu answers a bad signature with HTTP 200 and a code.
                "/feishu" => r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#.to_string(),
                _ => r#"{"result":"queued"}"#.to_string(),
            }
        }
    };
    let sms = post(
        |State(seen): State<Robots>, headers: HeaderMap, body: Bytes| async move {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            seen.lock()
                .unwrap()
                .push(("/sms".to_string(), json, headers.clone()));
            let authorised = headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                == Some(&format!("Bearer {SMS_TOKEN}"));
            if authorised {
                (StatusCode::OK, r#"{"result":"queued"}"#)
            } else {
                (StatusCode::UNAUTHORIZED, r#"{"error":"bad token"}"#)
            }
        },
    );
    let url = serve(
        Router::new()
            .route("/wecom", post(record("/wecom")))
            .route("/feishu", post(record("/feishu")))
            .route("/sms", sms)
            .with_state(seen.clone()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        channels(&[
            (
                "wecom",
                ChannelConfig::WeCom {
                    url: format!("{url}/wecom?key=EXAMPLE"),
                },
            ),
            (
                "feishu",
                ChannelConfig::Feishu {
                    url: format!("{url}/feishu"),
                    secret: Some(FEISHU_SECRET.into()),
                },
            ),
            (
                "feishu-wrong-secret",
                ChannelConfig::Feishu {
                    url: format!("{url}/feishu"),
                    secret: Some("not-the-robots-secret".into()),
                },
            ),
            (
                "sms",
                ChannelConfig::Sms {
                    url: format!("{url}/sms"),
                    token: Some(SMS_TOKEN.into()),
                    phone_field: "mobile".into(),
                    text_field: "content".into(),
                },
            ),
        ]),
        fast_policy(),
    );
    for (id, channel, recipient) in [
        ("wecom-1", "wecom", None),
        ("feishu-1", "feishu", None),
        ("feishu-2", "feishu-wrong-secret", None),
        ("sms-1", "sms", Some("138-0000-0001")),
    ] {
        store
            .enqueue_message(&message(id, channel, recipient))
            .await
            .unwrap();
    }
    deliver_until(&dispatcher, async || {
        store.outbox_counts().await.unwrap().sent == 3
            && store.outbox_counts().await.unwrap().dead == 1
    })
    .await;

    let seen = seen.lock().unwrap().clone();
    let body_of = |path: &str| {
        seen.iter()
            .find(|(at, _, _)| at == path)
            .unwrap_or_else(|| panic!("nothing at {path}: {seen:?}"))
            .1
            .clone()
    };
    let wecom = body_of("/wecom");
    assert_eq!(wecom["msgtype"], "markdown");
    let content = wecom["markdown"]["content"].as_str().unwrap();
    assert!(
        content.contains("【网页篡改】示例省财政厅门户网站首页")
            && content.contains("已切断对外服务"),
        "{content}"
    );
    let feishu = body_of("/feishu");
    assert_eq!(feishu["msg_type"], "text");
    assert!(
        feishu["content"]["text"]
            .as_str()
            .unwrap()
            .contains("初次报告截止 09:30")
    );
    let sms = body_of("/sms");
    assert_eq!(sms["mobile"], "138-0000-0001");
    assert_eq!(sms["id"], "sms-1");
    assert!(sms["content"].as_str().unwrap().contains("已切断对外服务"));

    // The robot refused the wrongly signed message: a dead letter that says why.
    let refused = store.outbox_message("feishu-2").await.unwrap().unwrap();
    assert_eq!(refused.state, OutboxState::Dead);
    assert!(
        refused.last_error.as_deref().unwrap().contains("19021"),
        "{refused:?}"
    );
    let signed_well = seen
        .iter()
        .filter(|(at, body, _)| at == "/feishu" && feishu_signature_is_valid(body, FEISHU_SECRET))
        .count();
    assert_eq!(signed_well, 1);
}
