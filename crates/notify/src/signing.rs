//! Request signatures: sitewarden's own webhook signature and the robot
//! signing schemes of DingTalk and Feishu.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// sitewarden's webhook signature: hex HMAC-SHA256 over `"{timestamp}.{body}"`,
/// sent as `X-Sitewarden-Signature: sha256=<hex>` with `X-Sitewarden-Timestamp`.
/// Binding the timestamp stops a captured request from being replayed later.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), &message)))
}

/// DingTalk robot signing: base64 HMAC-SHA256 keyed with the secret over
/// `"{timestamp_ms}\n{secret}"`, URL-encoded by the caller as `sign`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let message = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(secret.as_bytes(), message.as_bytes()))
}

/// Feishu robot signing: base64 HMAC-SHA256 keyed with
/// `"{timestamp_s}\n{secret}"` over an empty message.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(key.as_bytes(), b""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed independently with Python's `hmac` module.
    #[test]
    fn signatures_match_an_independent_implementation() {
        assert_eq!(
            webhook_signature("s3cret", 1700000000, b"{}"),
            "sha256=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
        assert_eq!(
            dingtalk_sign("SECxyz", 1700000000000),
            "0PUR1j8g85Xg3vlFV/UrEcxXfF5HpCAGzcjrNfyJoyg="
        );
        assert_eq!(
            feishu_sign("feishu", 1700000000),
            "hliLG+zWj6SRnCtD1QgoXSxdZbACZebJ75EBjGuV5IA="
        );
    }
}
