//! The channels and their configuration.

mod email;
mod http;

pub use email::{EmailChannel, email_message_id};
pub use http::{HttpChannel, HttpFlavour, header_safe_id};

use crate::channel::{BoxFuture, Channel, Outgoing, SendError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); required, not opportunistic.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or in tests.
    None,
}

/// One channel as configured. Secrets are already resolved (the plan names
/// environment variables; the caller reads them).
#[derive(Debug, Clone)]
pub enum ChannelConfig {
    /// E-mail over SMTP.
    Email {
        /// SMTP host.
        host: String,
        /// SMTP port.
        port: u16,
        /// Transport security.
        security: SmtpSecurity,
        /// Login, if the server wants one.
        username: Option<String>,
        /// Password for the login.
        password: Option<String>,
        /// The From address.
        from: String,
    },
    /// Generic JSON webhook with an HMAC-SHA256 signature header.
    Webhook {
        /// Where to POST.
        url: String,
        /// The signing secret; unsigned without one.
        secret: Option<String>,
    },
    /// DingTalk group robot (钉钉机器人), with its signing secret.
    DingTalk {
        /// The robot's webhook URL (with its access_token).
        url: String,
        /// The robot's signing secret (加签), if set.
        secret: Option<String>,
    },
    /// WeCom group robot (企业微信机器人).
    WeCom {
        /// The robot's webhook URL (with its key).
        url: String,
    },
    /// Feishu group robot (飞书机器人), with its signing secret.
    Feishu {
        /// The robot's webhook URL.
        url: String,
        /// The robot's signing secret, if set.
        secret: Option<String>,
    },
    /// SMS through an HTTP gateway that takes JSON `{"phone":…, "text":…}`
    /// (field names configurable).
    Sms {
        /// The gateway URL.
        url: String,
        /// Bearer token, if the gateway wants one.
        token: Option<String>,
        /// JSON field for the phone number.
        phone_field: String,
        /// JSON field for the text.
        text_field: String,
    },
}

/// Builds a channel from its configuration. `timeout` bounds every send,
/// so a slow channel never holds the dispatcher; `extra_ca_files` are
/// trusted beside the system roots (intranet gateways).
pub fn build_channel(
    config: &ChannelConfig,
    timeout: Duration,
    extra_ca_files: &[PathBuf],
) -> Result<Arc<dyn Channel>, String> {
    Ok(match config {
        ChannelConfig::Email {
            host,
            port,
            security,
            username,
            password,
            from,
        } => Arc::new(EmailChannel::new(
            host,
            *port,
            *security,
            username.clone().zip(password.clone()),
            from,
            timeout,
            extra_ca_files,
        )?),
        ChannelConfig::Webhook { url, secret } => Arc::new(HttpChannel::new(
            url,
            HttpFlavour::Webhook {
                secret: secret.clone(),
            },
            timeout,
            extra_ca_files,
        )?),
        ChannelConfig::DingTalk { url, secret } => Arc::new(HttpChannel::new(
            url,
            HttpFlavour::DingTalk {
                secret: secret.clone(),
            },
            timeout,
            extra_ca_files,
        )?),
        ChannelConfig::WeCom { url } => Arc::new(HttpChannel::new(
            url,
            HttpFlavour::WeCom,
            timeout,
            extra_ca_files,
        )?),
        ChannelConfig::Feishu { url, secret } => Arc::new(HttpChannel::new(
            url,
            HttpFlavour::Feishu {
                secret: secret.clone(),
            },
            timeout,
            extra_ca_files,
        )?),
        ChannelConfig::Sms {
            url,
            token,
            phone_field,
            text_field,
        } => Arc::new(HttpChannel::new(
            url,
            HttpFlavour::Sms {
                token: token.clone(),
                phone_field: phone_field.clone(),
                text_field: text_field.clone(),
            },
            timeout,
            extra_ca_files,
        )?),
    })
}

/// A channel sent at a pace the plan sets (`min_interval_ms`) instead of
/// its kind's default.
struct Paced {
    inner: Arc<dyn Channel>,
    interval: Option<Duration>,
}

impl Channel for Paced {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.inner.send(message)
    }

    fn min_interval(&self) -> Option<Duration> {
        self.interval
    }
}

/// `channel` with `min_interval` as the least time between two of its
/// messages; None or zero: no pacing at all. Its sends are the channel's own.
pub fn with_min_interval(
    channel: Arc<dyn Channel>,
    min_interval: Option<Duration>,
) -> Arc<dyn Channel> {
    Arc::new(Paced {
        inner: channel,
        interval: min_interval.filter(|interval| !interval.is_zero()),
    })
}
