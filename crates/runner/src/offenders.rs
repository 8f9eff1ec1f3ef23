//! The playbook's `block_offenders` step (封禁攻击来源): block, at the
//! gateway, every address live log watching holds against the incident's
//! sites around the incident — attackers (attack hits or a blocking
//! decision) and heavy flood sources — except the allowlisted ones.
//!
//! Blocks go to the store (a gateway started later applies them, and
//! `sitewarden gateway blocklist --nft` exports them for the firewall) and
//! at once to a running gateway through its control socket.

use jiff::Timestamp;
use sitewarden_gateway::blocklist::{BlockEntry, parse_net};
use sitewarden_gateway::control::{self, Request};
use sitewarden_incident::Incident;
use sitewarden_logwatch::IpKey;
use sitewarden_plan::Plan;
use sitewarden_store::{BlockRecord, Offender, Store, StoreError};

/// How far before the incident's discovery offenders still count: the
/// upload that planted a shell often comes hours before the page changes.
const LOOKBACK_MS: i64 = 24 * 3_600_000;
/// Addresses named one by one in the timeline; the rest are counted.
const NAMED: usize = 20;

/// Whether an offender is one to block: a decision was made about it, an
/// attack was confident enough to count, or it was a heavy flood source.
fn to_block(offender: &Offender, plan: &Plan) -> bool {
    offender.decision.is_some()
        || offender.max_confidence >= f64::from(plan.logwatch.decisions.min_confidence)
        || offender.flood_requests > 0
}

fn allowlisted(ip: &str, plan: &Plan) -> bool {
    let by_logwatch = IpKey::parse(ip.as_bytes())
        .is_some_and(|key| plan.logwatch.decisions.allowlisted(key).is_some());
    let by_gateway = plan.gateway.as_ref().is_some_and(|gateway| {
        let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
            return false;
        };
        gateway
            .allowlist
            .iter()
            .filter_map(|net| parse_net(net).ok())
            .any(|net| net.contains(&addr))
    });
    by_logwatch || by_gateway
}

/// Carries the step out for `sites` of the incident; returns what was
/// done, for the timeline.
pub(crate) async fn block_offenders(
    store: &Store,
    plan: &Plan,
    incident: &Incident,
    sites: &[String],
    now: Timestamp,
) -> Result<String, StoreError> {
    let since = incident.discovered_at.as_millisecond() - LOOKBACK_MS;
    let now_ms = now.as_millisecond();
    let until_ms = now_ms + i64::from(plan.logwatch.decisions.ban_minutes) * 60_000;
    let in_force: Vec<String> = store
        .active_blocks(now_ms)
        .await?
        .into_iter()
        .map(|block| block.net)
        .collect();

    let mut blocked = Vec::new();
    let mut already = 0usize;
    let mut spared = Vec::new();
    let mut told_gateway = None;
    for site in sites {
        for offender in store.offenders(site, since).await? {
            if !to_block(&offender, plan) {
                continue;
            }
            if allowlisted(&offender.ip, plan) {
                spared.push(offender.ip);
                continue;
            }
            let Ok(net) = parse_net(&offender.ip) else {
                continue;
            };
            let net_text = net.to_string();
            if in_force.contains(&net_text) || blocked.contains(&net_text) {
                already += 1;
                continue;
            }
            let classes = if offender.classes.is_empty() {
                "flood".to_string()
            } else {
                offender.classes.join(", ")
            };
            let reason = format!("incident #{} (block_offenders): {classes}", incident.id);
            store
                .put_block(
                    &BlockRecord {
                        net: net_text.clone(),
                        until_ms: Some(until_ms),
                        reason: reason.clone(),
                        source: "playbook".into(),
                        offences: 1,
                    },
                    now_ms,
                )
                .await?;
            let entry = BlockEntry {
                net,
                until_ms: Some(until_ms),
                reason,
                source: "playbook".into(),
                offences: 1,
            };
            let answer = control::send(store.data_dir(), &Request::Ban { entry }).await;
            told_gateway = Some(matches!(answer, Ok(Some(response)) if response.ok));
            blocked.push(net_text);
        }
    }

    let sites = sites.join(", ");
    let mut detail = if blocked.is_empty() && already == 0 {
        format!(
            "no offenders known to log watching for {sites} since {}: nothing to block \
             (block one by hand with `sitewarden gateway ban ADDRESS`)",
            Timestamp::from_millisecond(since).unwrap_or(now)
        )
    } else if blocked.is_empty() {
        format!("nothing new to block: {already} address(es) already blocked")
    } else {
        let mut named: Vec<&str> = blocked.iter().take(NAMED).map(String::as_str).collect();
        if blocked.len() > NAMED {
            named.push("…");
        }
        format!(
            "{} address(es) blocked until {}{}{}; {already} already blocked",
            blocked.len(),
            Timestamp::from_millisecond(until_ms).unwrap_or(now),
            if named.is_empty() { "" } else { ": " },
            named.join(", "),
        )
    };
    match told_gateway {
        Some(true) => detail.push_str("; in force on the running gateway"),
        Some(false) => detail.push_str(
            "; no gateway answered: the blocks are in the store for the gateway to apply when it \
             runs, or export them with `sitewarden gateway blocklist --nft`",
        ),
        None => {}
    }
    if !spared.is_empty() {
        detail.push_str(&format!("; spared (allowlisted): {}", spared.join(", ")));
    }
    Ok(detail)
}
