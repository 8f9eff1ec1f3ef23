//! The channel extension point: one implementation per kind of channel.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so channels can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message as a channel sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The deduplication id; receivers see it.
    pub id: String,
    /// The recipient (e-mail address, phone number), None for group robots.
    pub recipient: Option<String>,
    /// Subject or title.
    pub subject: String,
    /// Body (Markdown-flavoured text).
    pub body: String,
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The channel is down, slow, rate-limiting or answered garbage: retry later.
    #[error("{0}")]
    Transient(String),
    /// The channel refused the message for good (bad address, bad
    /// credentials, bad configuration): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// A notification channel.
pub trait Channel: Send + Sync {
    /// Sends one message; Ok only when the channel confirmed it.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>>;

    /// The least time between two messages on this channel (robots limit
    /// how fast a group may be posted to). None: no limit.
    fn min_interval(&self) -> Option<Duration> {
        None
    }
}
