//! Approved baselines: the fingerprint and full body of every page as a
//! person approved it. Every approval is a new version; old versions stay.

use crate::{Result, Store};
use sqlx::Row;

/// The current approved baseline of a page.
#[derive(Debug, Clone)]
pub struct StoredBaseline {
    /// The plan's site name.
    pub site: String,
    /// The plan's page name.
    pub page: String,
    /// The URL it was fetched from.
    pub url: String,
    /// Version number, from 1.
    pub version: i64,
    /// When it was approved (Unix ms).
    pub approved_at: i64,
    /// Who approved it.
    pub approved_by: String,
    /// SHA-256 of the approved body (in the blob directory).
    pub body_sha256: String,
    /// The analysis baseline (fingerprint and learned volatile regions) as JSON;
    /// the monitor owns its shape.
    pub baseline_json: String,
}

/// One line of a page's baseline history.
#[derive(Debug, Clone)]
pub struct BaselineVersion {
    /// Version number.
    pub version: i64,
    /// When it was approved (Unix ms).
    pub approved_at: i64,
    /// Who approved it.
    pub approved_by: String,
    /// SHA-256 of the approved body.
    pub body_sha256: String,
}

impl Store {
    /// Stores a new approved version of a page's baseline and returns its
    /// version number. The body goes to the blob directory first, so a
    /// baseline row never names a body that is not on disk.
    #[allow(clippy::too_many_arguments)]
    pub async fn approve_baseline(
        &self,
        site: &str,
        page: &str,
        url: &str,
        baseline_json: &str,
        body: &[u8],
        approved_by: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let body_sha256 = self.blobs.put(body)?;
        let mut tx = self.begin_write().await?;
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM baselines WHERE site = $1 AND page = $2",
        )
        .bind(site)
        .bind(page)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO baselines (site, page, url, version, approved_at, approved_by, body_sha256, baseline_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(site)
        .bind(page)
        .bind(url)
        .bind(version)
        .bind(now_ms)
        .bind(approved_by)
        .bind(&body_sha256)
        .bind(baseline_json)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// The newest approved baseline of a page, if it has one.
    pub async fn current_baseline(&self, site: &str, page: &str) -> Result<Option<StoredBaseline>> {
        let row = sqlx::query(
            "SELECT site, page, url, version, approved_at, approved_by, body_sha256, baseline_json
             FROM baselines WHERE site = $1 AND page = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(site)
        .bind(page)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| StoredBaseline {
            site: row.get("site"),
            page: row.get("page"),
            url: row.get("url"),
            version: row.get("version"),
            approved_at: row.get("approved_at"),
            approved_by: row.get("approved_by"),
            body_sha256: row.get("body_sha256"),
            baseline_json: row.get("baseline_json"),
        }))
    }

    /// Every approved version of a page, newest first.
    pub async fn baseline_versions(&self, site: &str, page: &str) -> Result<Vec<BaselineVersion>> {
        let rows = sqlx::query(
            "SELECT version, approved_at, approved_by, body_sha256
             FROM baselines WHERE site = $1 AND page = $2 ORDER BY version DESC",
        )
        .bind(site)
        .bind(page)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| BaselineVersion {
                version: row.get("version"),
                approved_at: row.get("approved_at"),
                approved_by: row.get("approved_by"),
                body_sha256: row.get("body_sha256"),
            })
            .collect())
    }
}
