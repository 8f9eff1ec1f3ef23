//! The demo's duty-room screen: a webhook receiver on loopback that takes
//! the notifications sitewarden sends, checks their signatures, and hands
//! them to whoever watches. The demo points every channel here, so no
//! sample channel host is ever contacted.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::net::SocketAddr;
use tokio::sync::broadcast;

/// One notification as the duty room received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyMessage {
    /// The message id (the outbox's deduplication key).
    pub id: String,
    /// Who it is for.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
}

#[derive(Clone)]
struct Screen {
    secret: String,
    messages: broadcast::Sender<DutyMessage>,
}

async fn receive(State(screen): State<Screen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let timestamp: i64 = header("x-sitewarden-timestamp").parse().unwrap_or(0);
    if header("x-sitewarden-signature")
        != sitewarden_notify::webhook_signature(&screen.secret, timestamp, &body)
    {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let text = |key: &str| json[key].as_str().unwrap_or("").to_string();
    let _ = screen.messages.send(DutyMessage {
        id: text("id"),
        recipient: text("recipient"),
        subject: text("subject"),
        body: text("body"),
    });
    StatusCode::OK
}

/// A running duty-room receiver on 127.0.0.1.
pub struct DutyRoom {
    addr: SocketAddr,
    secret: String,
    messages: broadcast::Sender<DutyMessage>,
    server: tokio::task::JoinHandle<()>,
}

impl DutyRoom {
    /// Starts the receiver; webhooks must be signed with `secret`.
    pub async fn start(secret: &str) -> std::io::Result<DutyRoom> {
        let (messages, _) = broadcast::channel(256);
        let screen = Screen {
            secret: secret.to_string(),
            messages: messages.clone(),
        };
        let app = Router::new()
            .route("/duty-room", post(receive))
            .with_state(screen);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(DutyRoom {
            addr,
            secret: secret.to_string(),
            messages,
            server,
        })
    }

    /// The webhook URL to put in the plan.
    pub fn url(&self) -> String {
        format!("http://{}/duty-room", self.addr)
    }

    /// The signing secret to put in the plan.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Every notification received from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DutyMessage> {
        self.messages.subscribe()
    }

    /// Stops the receiver.
    pub async fn shutdown(self) {
        self.server.abort();
        let _ = self.server.await;
    }
}
