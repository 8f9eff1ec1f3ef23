//! E-mail over SMTP (lettre), with STARTTLS or TLS.

use super::SmtpSecurity;
use crate::channel::{BoxFuture, Channel, Outgoing, SendError};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// An SMTP channel.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Builds the transport; nothing connects until the first send.
    /// `extra_ca_files` are trusted beside the public roots (an intranet
    /// mail server with its own CA).
    pub fn new(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        credentials: Option<(String, String)>,
        from: &str,
        timeout: Duration,
        extra_ca_files: &[PathBuf],
    ) -> Result<EmailChannel, String> {
        let from = from
            .parse()
            .map_err(|error| format!("from address {from:?}: {error}"))?;
        let tls = if security == SmtpSecurity::None {
            Tls::None
        } else {
            let mut parameters = TlsParameters::builder(host.to_string());
            for path in extra_ca_files {
                let pem = std::fs::read(path)
                    .map_err(|error| format!("CA file {}: {error}", path.display()))?;
                let certificate = Certificate::from_pem(&pem)
                    .map_err(|error| format!("CA file {}: {error}", path.display()))?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|error| error.to_string())?;
            match security {
                // Required, not opportunistic: a server that does not offer
                // STARTTLS must not get the incident in clear text.
                SmtpSecurity::StartTls => Tls::Required(parameters),
                _ => Tls::Wrapper(parameters),
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(EmailChannel {
            transport: builder.build(),
            from,
        })
    }
}

/// The Message-ID of the e-mail for outbox message `id`:
/// `<` + the first 32 hex digits of SHA-256(id) + `@sitewarden>`.
///
/// Not the id itself: the runner's ids carry a recipient's name in Chinese
/// and `:` (`incident-1/approval:7:report_upward/email/王小明`), and a
/// Message-ID must be ASCII in the `dot-atom` shape of RFC 5322 — lettre
/// RFC 2047-encodes non-ASCII there, which no mail system takes as a
/// Message-ID. A hash is ASCII, fixed in length, and the same for every
/// attempt at the same message, which is what deduplication needs; 128 bits
/// make two outbox ids colliding out of the question.
pub fn email_message_id(id: &str) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(id.as_bytes()));
    format!("<{}@sitewarden>", &digest[..32])
}

impl Channel for EmailChannel {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let to = message.recipient.as_deref().ok_or_else(|| {
                SendError::Permanent("an e-mail needs a recipient address".into())
            })?;
            let to = to
                .parse()
                .map_err(|error| SendError::Permanent(format!("recipient {to:?}: {error}")))?;
            let email = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&message.subject)
                // A Message-ID derived from the outbox id lets a mail system
                // drop the duplicate that at-least-once delivery may produce.
                .message_id(Some(email_message_id(&message.id)))
                .header(ContentType::TEXT_PLAIN)
                .body(message.body.clone())
                .map_err(|error| {
                    SendError::Permanent(format!("cannot build the e-mail: {error}"))
                })?;
            match self.transport.send(email).await {
                Ok(_) => Ok(()),
                Err(error) if error.is_permanent() => Err(SendError::Permanent(error.to_string())),
                Err(error) => Err(SendError::Transient(error.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the Message-ID was `<{id}@sitewarden>` with the raw
    /// id, which went out RFC 2047-encoded for runner ids.
    #[test]
    fn message_ids_are_ascii_and_stable_for_runner_ids() {
        let id = "incident-1/approval:7:report_upward/email/王小明";
        let message_id = email_message_id(id);
        assert_eq!(
            message_id,
            email_message_id(id),
            "the same for every attempt"
        );
        assert_ne!(
            message_id,
            email_message_id("incident-1/approval:7:report_upward/email/张丽")
        );
        let local = message_id
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix("@sitewarden>"))
            .unwrap();
        assert_eq!(local.len(), 32);
        assert!(
            local
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
