//! Offenders: what live log watching found per site and client address
//! (attacks by class, flood requests, the last blocking decision). Written
//! in batches by the live watch; read by the playbook's `block_offenders`
//! step and by people investigating an incident.

use crate::{Result, Store};
use sqlx::Row;

/// What one address did on one site. Written as an update (the counts
/// since the last one, added to the stored row); read back as the sums.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Offender {
    /// The plan's site name.
    pub site: String,
    /// The client address.
    pub ip: String,
    /// First seen (Unix ms).
    pub first_seen_ms: i64,
    /// Last seen (Unix ms).
    pub last_seen_ms: i64,
    /// Attacks counted.
    pub attacks: u64,
    /// Attack classes seen (`sqli`, `web_shell`…), sorted when read.
    pub classes: Vec<String>,
    /// Highest confidence of its attacks.
    pub max_confidence: f64,
    /// The rule of its latest attack.
    pub last_rule: String,
    /// The request line of its latest attack.
    pub last_request: String,
    /// Requests it made during floods.
    pub flood_requests: u64,
    /// The last blocking decision in words, when one was made.
    pub decision: Option<String>,
}

fn join_classes(old: &str, new: &[String]) -> String {
    let mut classes: Vec<&str> = old.split(',').filter(|c| !c.is_empty()).collect();
    classes.extend(new.iter().map(String::as_str));
    classes.sort_unstable();
    classes.dedup();
    classes.join(",")
}

impl Store {
    /// Adds a batch of updates, one transaction.
    pub async fn record_offenders(&self, updates: &[Offender]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for update in updates {
            let old: Option<String> =
                sqlx::query_scalar("SELECT classes FROM offenders WHERE site = $1 AND ip = $2")
                    .bind(&update.site)
                    .bind(&update.ip)
                    .fetch_optional(&mut *tx)
                    .await?;
            let classes = join_classes(old.as_deref().unwrap_or(""), &update.classes);
            sqlx::query(
                "INSERT INTO offenders (site, ip, first_seen_ms, last_seen_ms, attacks, classes,
                     max_confidence, last_rule, last_request, flood_requests, decision)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, ''))
                 ON CONFLICT (site, ip) DO UPDATE SET
                     first_seen_ms = MIN(first_seen_ms, $3),
                     last_seen_ms = MAX(last_seen_ms, $4),
                     attacks = attacks + $5,
                     classes = $6,
                     max_confidence = MAX(max_confidence, $7),
                     last_rule = CASE WHEN $8 = '' THEN last_rule ELSE $8 END,
                     last_request = CASE WHEN $9 = '' THEN last_request ELSE $9 END,
                     flood_requests = flood_requests + $10,
                     decision = COALESCE($11, decision)",
            )
            .bind(&update.site)
            .bind(&update.ip)
            .bind(update.first_seen_ms)
            .bind(update.last_seen_ms)
            .bind(i64::try_from(update.attacks).unwrap_or(i64::MAX))
            .bind(&classes)
            .bind(update.max_confidence)
            .bind(&update.last_rule)
            .bind(&update.last_request)
            .bind(i64::try_from(update.flood_requests).unwrap_or(i64::MAX))
            .bind(update.decision.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The offenders of `site` last seen at or after `since_ms`, the most
    /// active first.
    pub async fn offenders(&self, site: &str, since_ms: i64) -> Result<Vec<Offender>> {
        let rows = sqlx::query(
            "SELECT site, ip, first_seen_ms, last_seen_ms, attacks, classes, max_confidence,
                    last_rule, last_request, flood_requests, decision
             FROM offenders WHERE site = $1 AND last_seen_ms >= $2
             ORDER BY decision = '' , attacks + flood_requests DESC, ip",
        )
        .bind(site)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| Offender {
                site: row.get("site"),
                ip: row.get("ip"),
                first_seen_ms: row.get("first_seen_ms"),
                last_seen_ms: row.get("last_seen_ms"),
                attacks: u64::try_from(row.get::<i64, _>("attacks")).unwrap_or(0),
                classes: row
                    .get::<String, _>("classes")
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                max_confidence: row.get("max_confidence"),
                last_rule: row.get("last_rule"),
                last_request: row.get("last_request"),
                flood_requests: u64::try_from(row.get::<i64, _>("flood_requests")).unwrap_or(0),
                decision: Some(row.get::<String, _>("decision")).filter(|d| !d.is_empty()),
            })
            .collect())
    }
}
