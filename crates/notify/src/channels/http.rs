//! Channels that are an HTTP POST: sitewarden's generic webhook, the
//! DingTalk, WeCom and Feishu group robots, and an SMS gateway. They differ
//! only in the body they post, how they sign it and how the answer says
//! "accepted".

use crate::channel::{BoxFuture, Channel, Outgoing, SendError};
use crate::signing::{dingtalk_sign, feishu_sign, webhook_signature};
use std::path::PathBuf;
use std::time::Duration;

/// The group robots' default pace: they accept about 20 messages a
/// minute. The plan's `min_interval_ms` overrides it per channel.
pub const ROBOT_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// Which HTTP channel this is.
#[derive(Debug, Clone)]
pub enum HttpFlavour {
    /// JSON `{id, subject, body, recipient}` with an HMAC signature header.
    Webhook {
        /// Signing secret.
        secret: Option<String>,
    },
    /// DingTalk robot: markdown message, `timestamp` and `sign` in the URL.
    DingTalk {
        /// Signing secret.
        secret: Option<String>,
    },
    /// WeCom robot: markdown message.
    WeCom,
    /// Feishu robot: text message, `timestamp` and `sign` in the body.
    Feishu {
        /// Signing secret.
        secret: Option<String>,
    },
    /// SMS gateway: JSON with the phone number and the text.
    Sms {
        /// Bearer token.
        token: Option<String>,
        /// Field for the phone number.
        phone_field: String,
        /// Field for the text.
        text_field: String,
    },
}

/// An HTTP POST channel.
#[derive(Debug)]
pub struct HttpChannel {
    client: reqwest::Client,
    url: url::Url,
    flavour: HttpFlavour,
}

impl HttpChannel {
    /// Builds the channel; the URL must be absolute http(s).
    pub fn new(
        url: &str,
        flavour: HttpFlavour,
        timeout: Duration,
        extra_ca_files: &[PathBuf],
    ) -> Result<HttpChannel, String> {
        let url = url::Url::parse(url).map_err(|error| format!("{url:?}: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url}: not an http(s) URL"));
        }
        let tls = sitewarden_probe::tls_client_config(extra_ca_files)
            .map_err(|error| error.to_string())?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(timeout)
            // A robot URL that redirects is misconfigured; following a
            // redirect would re-send a signed message somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|error| error.to_string())?;
        Ok(HttpChannel {
            client,
            url,
            flavour,
        })
    }

    fn request(&self, message: &Outgoing) -> Result<reqwest::RequestBuilder, SendError> {
        let now = jiff::Timestamp::now();
        let text = format!("{}\n\n{}", message.subject, message.body);
        let request = match &self.flavour {
            HttpFlavour::Webhook { secret } => {
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": message.id,
                    "subject": message.subject,
                    "body": message.body,
                    "recipient": message.recipient,
                }))
                .expect("JSON of strings");
                let timestamp = now.as_second();
                let mut request = self
                    .client
                    .post(self.url.clone())
                    .header("content-type", "application/json")
                    .header("x-sitewarden-message-id", header_safe_id(&message.id))
                    .header("x-sitewarden-timestamp", timestamp.to_string());
                if let Some(secret) = secret {
                    request = request.header(
                        "x-sitewarden-signature",
                        webhook_signature(secret, timestamp, &body),
                    );
                }
                request.body(body)
            }
            HttpFlavour::DingTalk { secret } => {
                let mut url = self.url.clone();
                if let Some(secret) = secret {
                    let timestamp = now.as_millisecond();
                    url.query_pairs_mut()
                        .append_pair("timestamp", &timestamp.to_string())
                        .append_pair("sign", &dingtalk_sign(secret, timestamp));
                }
                let mut body = serde_json::json!({
                    "msgtype": "markdown",
                    "markdown": { "title": message.subject, "text": format!("### {}\n\n{}", message.subject, message.body) },
                });
                if let Some(phone) = &message.recipient {
                    body["at"] = serde_json::json!({ "atMobiles": [phone] });
                }
                self.client.post(url).json(&body)
            }
            HttpFlavour::WeCom => self.client.post(self.url.clone()).json(&serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "content": format!("**{}**\n{}", message.subject, message.body) },
            })),
            HttpFlavour::Feishu { secret } => {
                let mut body = serde_json::json!({
                    "msg_type": "text",
                    "content": { "text": text },
                });
                if let Some(secret) = secret {
                    let timestamp = now.as_second();
                    body["timestamp"] = serde_json::json!(timestamp.to_string());
                    body["sign"] = serde_json::json!(feishu_sign(secret, timestamp));
                }
                self.client.post(self.url.clone()).json(&body)
            }
            HttpFlavour::Sms {
                token,
                phone_field,
                text_field,
            } => {
                let phone = message
                    .recipient
                    .as_ref()
                    .ok_or_else(|| SendError::Permanent("an SMS needs a phone number".into()))?;
                let mut body = serde_json::Map::new();
                body.insert(phone_field.clone(), serde_json::json!(phone));
                body.insert(text_field.clone(), serde_json::json!(text));
                body.insert("id".into(), serde_json::json!(message.id));
                let mut request = self.client.post(self.url.clone()).json(&body);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                request
            }
        };
        Ok(request)
    }

    /// Reads the robots' JSON answer: they say HTTP 200 even when they refuse.
    fn accepted(&self, body: &[u8]) -> Result<(), SendError> {
        let code_field = match self.flavour {
            HttpFlavour::DingTalk { .. } | HttpFlavour::WeCom => "errcode",
            HttpFlavour::Feishu { .. } => "code",
            HttpFlavour::Webhook { .. } | HttpFlavour::Sms { .. } => return Ok(()),
        };
        let answer: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
            SendError::Transient(format!(
                "the robot answered something that is not JSON: {}",
                preview(body)
            ))
        })?;
        match answer.get(code_field).and_then(|code| code.as_i64()) {
            Some(0) => Ok(()),
            // Rate limits: DingTalk 130101, WeCom 45009, Feishu 9499 / 11232.
            Some(code @ (130101 | 45009 | 9499 | 11232)) => Err(SendError::Transient(format!(
                "the robot is rate-limiting (code {code}): {}",
                preview(body)
            ))),
            Some(code) => Err(SendError::Permanent(format!(
                "the robot refused the message (code {code}): {}",
                preview(body)
            ))),
            None => Err(SendError::Transient(format!(
                "the robot's answer has no {code_field}: {}",
                preview(body)
            ))),
        }
    }
}

impl Channel for HttpChannel {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let response = self.request(message)?.send().await.map_err(|error| {
                SendError::Transient(format!(
                    "{}: {error}",
                    self.url.host_str().unwrap_or("channel")
                ))
            })?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|error| SendError::Transient(format!("reading the answer: {error}")))?;
            if status.is_success() {
                return self.accepted(&body);
            }
            let detail = format!("HTTP {status}: {}", preview(&body));
            if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                Err(SendError::Transient(detail))
            } else {
                Err(SendError::Permanent(detail))
            }
        })
    }

    fn min_interval(&self) -> Option<Duration> {
        match self.flavour {
            HttpFlavour::DingTalk { .. } | HttpFlavour::WeCom | HttpFlavour::Feishu { .. } => {
                Some(ROBOT_MIN_INTERVAL)
            }
            HttpFlavour::Webhook { .. } | HttpFlavour::Sms { .. } => None,
        }
    }
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut preview: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        preview.push('…');
    }
    preview
}

/// The outbox id as an ASCII header value: the ids name people ("…/王小明"),
/// and raw UTF-8 in a header is obs-text that receivers read as Latin-1 or
/// refuse. Bytes outside visible ASCII, and `%` itself, are percent-encoded
/// (RFC 3986 style), so the same id always gives the same header; the JSON
/// body's `id` carries it unencoded.
pub fn header_safe_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::with_min_interval;
    use std::sync::Arc;

    fn channel(flavour: HttpFlavour) -> HttpChannel {
        HttpChannel::new(
            "http://127.0.0.1:9/hook",
            flavour,
            Duration::from_secs(1),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn robots_are_paced_by_default_and_the_plan_can_change_it() {
        for flavour in [
            HttpFlavour::DingTalk { secret: None },
            HttpFlavour::WeCom,
            HttpFlavour::Feishu { secret: None },
        ] {
            assert_eq!(
                channel(flavour).min_interval(),
                Some(Duration::from_secs(3))
            );
        }
        let webhook = channel(HttpFlavour::Webhook { secret: None });
        assert_eq!(webhook.min_interval(), None);
        let robot: Arc<dyn Channel> = Arc::new(channel(HttpFlavour::WeCom));
        assert_eq!(
            with_min_interval(robot.clone(), Some(Duration::from_millis(500))).min_interval(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            with_min_interval(robot, Some(Duration::ZERO)).min_interval(),
            None,
            "0 is no pacing"
        );
    }

    #[test]
    fn message_ids_become_ascii_header_values() {
        assert_eq!(
            super::header_safe_id("incident-3/notify:duty_officer:0/duty-room/王小明"),
            "incident-3/notify:duty_officer:0/duty-room/%E7%8E%8B%E5%B0%8F%E6%98%8E"
        );
        assert_eq!(super::header_safe_id("a b%c"), "a%20b%25c");
    }
}
