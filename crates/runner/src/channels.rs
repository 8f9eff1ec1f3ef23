//! The plan's channels as notify channels, secrets read from the
//! environment variables the plan names.

use sitewarden_notify::{Channel, ChannelConfig, SmtpSecurity, build_channel, with_min_interval};
use sitewarden_plan::{ChannelKind, Plan};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long one send may take before it counts as failed (and is retried).
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// A secret given inline, or read from the named environment variable.
fn secret(
    inline: &Option<String>,
    env: &Option<String>,
    id: &str,
    what: &str,
) -> Result<Option<String>, String> {
    match (inline, env) {
        (Some(value), _) => Ok(Some(value.clone())),
        (None, Some(variable)) => std::env::var(variable).map(Some).map_err(|_| {
            format!("channels {id}: the {what} is to come from ${variable}, which is not set")
        }),
        (None, None) => Ok(None),
    }
}

/// Builds every channel of the plan. A channel that cannot be built (a
/// secret missing from the environment) is reported and left out; the
/// others still work, and messages for the missing one go to dead letters
/// with the reason.
pub fn channels_from_plan(plan: &Plan) -> (HashMap<String, Arc<dyn Channel>>, Vec<String>) {
    let mut channels = HashMap::new();
    let mut problems = Vec::new();
    for channel in &plan.channels {
        let id = channel.id.as_str();
        let url = || channel.url.clone().unwrap_or_default();
        let config = (|| -> Result<ChannelConfig, String> {
            Ok(match channel.kind {
                ChannelKind::Email => {
                    let security = match channel.security {
                        Some(sitewarden_plan::SmtpSecurity::Tls) => SmtpSecurity::Tls,
                        Some(sitewarden_plan::SmtpSecurity::None) => SmtpSecurity::None,
                        _ => SmtpSecurity::StartTls,
                    };
                    ChannelConfig::Email {
                        host: channel.smtp_host.clone().unwrap_or_default(),
                        port: channel.smtp_port.unwrap_or(match security {
                            SmtpSecurity::Tls => 465,
                            SmtpSecurity::StartTls => 587,
                            SmtpSecurity::None => 25,
                        }),
                        security,
                        username: channel.username.clone(),
                        password: secret(&channel.password, &channel.password_env, id, "password")?,
                        from: channel.from.clone().unwrap_or_default(),
                    }
                }
                ChannelKind::Webhook => ChannelConfig::Webhook {
                    url: url(),
                    secret: secret(&channel.secret, &channel.secret_env, id, "signing secret")?,
                },
                ChannelKind::Dingtalk => ChannelConfig::DingTalk {
                    url: url(),
                    secret: secret(&channel.secret, &channel.secret_env, id, "signing secret")?,
                },
                ChannelKind::Wecom => ChannelConfig::WeCom { url: url() },
                ChannelKind::Feishu => ChannelConfig::Feishu {
                    url: url(),
                    secret: secret(&channel.secret, &channel.secret_env, id, "signing secret")?,
                },
                ChannelKind::Sms => ChannelConfig::Sms {
                    url: url(),
                    token: secret(&channel.token, &channel.token_env, id, "token")?,
                    phone_field: channel
                        .phone_field
                        .clone()
                        .unwrap_or_else(|| "phone".into()),
                    text_field: channel.text_field.clone().unwrap_or_else(|| "text".into()),
                },
            })
        })();
        match config
            .and_then(|config| build_channel(&config, SEND_TIMEOUT, &plan.probe.extra_ca_files))
        {
            Ok(built) => {
                // The plan's pace, when it sets one, instead of the kind's default.
                let built = match channel.min_interval_ms {
                    Some(ms) => with_min_interval(built, Some(Duration::from_millis(ms))),
                    None => built,
                };
                channels.insert(id.to_string(), built);
            }
            Err(problem) => problems.push(format!("channels {id}: {problem}")),
        }
    }
    (channels, problems)
}
