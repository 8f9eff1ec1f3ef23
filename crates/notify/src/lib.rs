//! Notifications that never get lost.
//!
//! Callers write messages to the store's outbox (`Store::enqueue_message`)
//! and wake the [`Dispatcher`]; the dispatcher claims due messages, hands
//! each to its [`Channel`], and records the outcome: sent, due again after
//! an exponential backoff, or dead after the last attempt (shown to users).
//! One dispatcher sends a data directory's outbox (the store's outbox
//! lock); a message a killed process was sending is sent again as soon as
//! the next dispatcher takes the lock: at-least-once, with the message id
//! carried to the receiver (webhook header, e-mail Message-ID derived from it) for
//! deduplication.
//!
//! This is the only crate that opens sockets to notification channels. It
//! does not decide who is told what: the incident engine writes the
//! messages.

mod channel;
pub mod channels;
mod dispatcher;
mod signing;

pub use channel::{BoxFuture, Channel, Outgoing, SendError};
pub use channels::{
    ChannelConfig, SmtpSecurity, build_channel, email_message_id, header_safe_id, with_min_interval,
};
pub use dispatcher::{Dispatcher, RetryPolicy};
pub use signing::{dingtalk_sign, feishu_sign, webhook_signature};
