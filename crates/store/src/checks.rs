//! Check results: the latest state of every page, and the history of the
//! checks worth keeping.

use crate::{Result, Store, from_json, to_json};
use sqlx::Row;

/// One finished check of one page, as the monitor recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRecord {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name.
    pub page: String,
    /// The URL checked.
    pub url: String,
    /// When the check finished (Unix ms).
    pub checked_at: i64,
    /// `clean`, `changed`, `defaced` or `down`.
    pub verdict: String,
    /// Score 0–100.
    pub score: u32,
    /// Human-readable reasons.
    pub reasons: Vec<String>,
    /// The final HTTP status, when a response came.
    pub http_status: Option<u16>,
    /// Time to the full body (ms).
    pub response_ms: Option<u64>,
    /// When the server's TLS certificate expires (Unix ms), for HTTPS.
    pub tls_expires_at: Option<i64>,
    /// The redirect chain, first URL first.
    pub redirects: Vec<String>,
    /// SHA-256 of the body as fetched (browser view).
    pub body_sha256: Option<String>,
    /// The fetch error, when the fetch failed.
    pub error: Option<String>,
    /// Consecutive failed fetches up to and including this check.
    pub consecutive_failures: u32,
    /// Whether the page counts as up (fewer failures than the plan's limit).
    pub up: bool,
}

/// The latest known state of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageState {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name.
    pub page: String,
    /// The URL checked.
    pub url: String,
    /// The last verdict.
    pub verdict: String,
    /// The last score.
    pub score: u32,
    /// The last reasons.
    pub reasons: Vec<String>,
    /// When it was last checked (Unix ms).
    pub checked_at: i64,
    /// The last HTTP status.
    pub http_status: Option<u16>,
    /// The last response time (ms).
    pub response_ms: Option<u64>,
    /// TLS certificate expiry (Unix ms).
    pub tls_expires_at: Option<i64>,
    /// Consecutive failures so far.
    pub consecutive_failures: u32,
    /// Whether the page counts as up.
    pub up: bool,
}

impl Store {
    /// Records a finished check: overwrites the page's latest state, and adds
    /// the check to the history when it is not clean or its verdict differs
    /// from the previous one.
    pub async fn record_check(&self, check: &CheckRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT verdict FROM page_states WHERE site = $1 AND page = $2")
                .bind(&check.site)
                .bind(&check.page)
                .fetch_optional(&mut *tx)
                .await?;
        let reasons = to_json(&check.reasons);
        sqlx::query(
            "INSERT INTO page_states (site, page, url, verdict, score, reasons_json, checked_at,
                 http_status, response_ms, tls_expires_at, consecutive_failures, up)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (site, page) DO UPDATE SET
                 url = excluded.url, verdict = excluded.verdict, score = excluded.score,
                 reasons_json = excluded.reasons_json, checked_at = excluded.checked_at,
                 http_status = excluded.http_status, response_ms = excluded.response_ms,
                 tls_expires_at = excluded.tls_expires_at,
                 consecutive_failures = excluded.consecutive_failures, up = excluded.up",
        )
        .bind(&check.site)
        .bind(&check.page)
        .bind(&check.url)
        .bind(&check.verdict)
        .bind(check.score as i64)
        .bind(&reasons)
        .bind(check.checked_at)
        .bind(check.http_status.map(i64::from))
        .bind(check.response_ms.map(|ms| ms as i64))
        .bind(check.tls_expires_at)
        .bind(check.consecutive_failures as i64)
        .bind(check.up)
        .execute(&mut *tx)
        .await?;
        if check.verdict != "clean" || previous.as_deref() != Some(check.verdict.as_str()) {
            sqlx::query(
                "INSERT INTO checks (site, page, url, checked_at, verdict, score, reasons_json,
                     http_status, response_ms, tls_expires_at, redirects_json, body_sha256, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&check.site)
            .bind(&check.page)
            .bind(&check.url)
            .bind(check.checked_at)
            .bind(&check.verdict)
            .bind(check.score as i64)
            .bind(&reasons)
            .bind(check.http_status.map(i64::from))
            .bind(check.response_ms.map(|ms| ms as i64))
            .bind(check.tls_expires_at)
            .bind(to_json(&check.redirects))
            .bind(&check.body_sha256)
            .bind(&check.error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest state of every page that has been checked, by site and page.
    pub async fn page_states(&self) -> Result<Vec<PageState>> {
        let rows = sqlx::query(
            "SELECT site, page, url, verdict, score, reasons_json, checked_at, http_status,
                    response_ms, tls_expires_at, consecutive_failures, up
             FROM page_states ORDER BY site, page",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(PageState {
                    site: row.get("site"),
                    page: row.get("page"),
                    url: row.get("url"),
                    verdict: row.get("verdict"),
                    score: row.get::<i64, _>("score") as u32,
                    reasons: from_json("page_states.reasons_json", row.get("reasons_json"))?,
                    checked_at: row.get("checked_at"),
                    http_status: row.get::<Option<i64>, _>("http_status").map(|s| s as u16),
                    response_ms: row.get::<Option<i64>, _>("response_ms").map(|ms| ms as u64),
                    tls_expires_at: row.get("tls_expires_at"),
                    consecutive_failures: row.get::<i64, _>("consecutive_failures") as u32,
                    up: row.get("up"),
                })
            })
            .collect()
    }

    /// How many checks the history holds for a page (for tests and status).
    pub async fn check_history_len(&self, site: &str, page: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM checks WHERE site = $1 AND page = $2")
                .bind(site)
                .bind(page)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
