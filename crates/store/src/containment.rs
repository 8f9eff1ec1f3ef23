//! Containment records: each site's switch (serving / maintenance) as last
//! set, the history of every switch with what each backend did, and the
//! gateway's blocklist. The gateway loads these at start and polls them, so
//! a switch or a ban written here reaches every gateway on the data
//! directory even when it was not running at the time.

use crate::{Result, Store};
use sqlx::Row;

/// A site's switch as last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSwitchRecord {
    /// The plan's site name.
    pub site: String,
    /// `serving` or `maintenance`.
    pub mode: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub by: String,
    /// When (Unix ms).
    pub at_ms: i64,
}

impl SiteSwitchRecord {
    /// Whether the site is switched to maintenance: cut off from external
    /// service, visitors get the maintenance page.
    pub fn is_cut_off(&self) -> bool {
        self.mode == "maintenance"
    }
}

/// One switch and what a backend did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchEvent {
    /// The switch.
    pub switch: SiteSwitchRecord,
    /// `gateway`, `nginx`, `command`, or `store` when only recorded.
    pub backend: String,
    /// `applied`, `failed`, `recorded`.
    pub outcome: String,
    /// What happened, in words (commands run, errors).
    pub detail: String,
}

/// A blocklist row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    /// Address or CIDR, canonical text.
    pub net: String,
    /// Unix ms after which it lapses; None for ever.
    pub until_ms: Option<i64>,
    /// Why.
    pub reason: String,
    /// Who put it there.
    pub source: String,
    /// Offences so far.
    pub offences: u32,
}

impl Store {
    /// Records a switch: the site's current mode (when `outcome` is not
    /// `failed`) and the history row, in one transaction.
    pub async fn record_switch(&self, event: &SwitchEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let s = &event.switch;
        if event.outcome != "failed" {
            sqlx::query(
                "INSERT INTO site_switches (site, mode, reason, by_actor, at_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (site) DO UPDATE SET mode = $2, reason = $3, by_actor = $4, at_ms = $5",
            )
            .bind(&s.site)
            .bind(&s.mode)
            .bind(&s.reason)
            .bind(&s.by)
            .bind(s.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO switch_events (site, mode, reason, by_actor, at_ms, backend, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.site)
        .bind(&s.mode)
        .bind(&s.reason)
        .bind(&s.by)
        .bind(s.at_ms)
        .bind(&event.backend)
        .bind(&event.outcome)
        .bind(&event.detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every site's switch as last set, by site.
    pub async fn site_switches(&self) -> Result<Vec<SiteSwitchRecord>> {
        let rows = sqlx::query(
            "SELECT site, mode, reason, by_actor, at_ms FROM site_switches ORDER BY site",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(switch_from_row).collect())
    }

    /// One site's switch as last set; `None` when it was never switched.
    pub async fn site_switch(&self, site: &str) -> Result<Option<SiteSwitchRecord>> {
        let row = sqlx::query(
            "SELECT site, mode, reason, by_actor, at_ms FROM site_switches WHERE site = $1",
        )
        .bind(site)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(switch_from_row))
    }

    /// The switch history, newest first, for one site or all.
    pub async fn switch_events(&self, site: Option<&str>, limit: i64) -> Result<Vec<SwitchEvent>> {
        let rows = sqlx::query(
            "SELECT site, mode, reason, by_actor, at_ms, backend, outcome, detail
             FROM switch_events WHERE $1 IS NULL OR site = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(site)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| SwitchEvent {
                switch: switch_from_row(row),
                backend: row.get("backend"),
                outcome: row.get("outcome"),
                detail: row.get("detail"),
            })
            .collect())
    }

    /// Adds or replaces a blocklist entry.
    pub async fn put_block(&self, block: &BlockRecord, now_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blocklist (net, until_ms, reason, source, offences, added_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (net) DO UPDATE SET until_ms = $2, reason = $3, source = $4,
                 offences = $5, added_at_ms = $6",
        )
        .bind(&block.net)
        .bind(block.until_ms)
        .bind(&block.reason)
        .bind(&block.source)
        .bind(i64::from(block.offences))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a blocklist entry; true when there was one.
    pub async fn remove_block(&self, net: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM blocklist WHERE net = $1")
            .bind(net)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Entries in force at `now_ms` (expired ones are deleted on the way).
    pub async fn active_blocks(&self, now_ms: i64) -> Result<Vec<BlockRecord>> {
        sqlx::query("DELETE FROM blocklist WHERE until_ms IS NOT NULL AND until_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT net, until_ms, reason, source, offences FROM blocklist ORDER BY net",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| BlockRecord {
                net: row.get("net"),
                until_ms: row.get("until_ms"),
                reason: row.get("reason"),
                source: row.get("source"),
                offences: u32::try_from(row.get::<i64, _>("offences")).unwrap_or(0),
            })
            .collect())
    }
}

fn switch_from_row(row: &sqlx::sqlite::SqliteRow) -> SiteSwitchRecord {
    SiteSwitchRecord {
        site: row.get("site"),
        mode: row.get("mode"),
        reason: row.get("reason"),
        by: row.get("by_actor"),
        at_ms: row.get("at_ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(mode: &str, at_ms: i64) -> SiteSwitchRecord {
        SiteSwitchRecord {
            site: "portal".into(),
            mode: mode.into(),
            reason: "defaced home page".into(),
            by: "duty officer".into(),
            at_ms,
        }
    }

    #[tokio::test]
    async fn switches_keep_the_last_good_one_and_every_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        for (mode, at, outcome) in [("maintenance", 1, "applied"), ("serving", 2, "failed")] {
            store
                .record_switch(&SwitchEvent {
                    switch: switch(mode, at),
                    backend: "gateway".into(),
                    outcome: outcome.into(),
                    detail: String::new(),
                })
                .await
                .unwrap();
        }
        let now = store.site_switches().await.unwrap();
        assert_eq!(now, vec![switch("maintenance", 1)]);
        let portal = store.site_switch("portal").await.unwrap().unwrap();
        assert!(portal.is_cut_off());
        assert_eq!(store.site_switch("other").await.unwrap(), None);
        let history = store.switch_events(Some("portal"), 10).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].outcome, "failed");
        assert!(
            store
                .switch_events(Some("other"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn blocks_expire_and_can_be_lifted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        for (net, until) in [("203.0.113.9/32", Some(100)), ("198.51.100.0/24", None)] {
            store
                .put_block(
                    &BlockRecord {
                        net: net.into(),
                        until_ms: until,
                        reason: "flood".into(),
                        source: "gateway".into(),
                        offences: 1,
                    },
                    0,
                )
                .await
                .unwrap();
        }
        assert_eq!(store.active_blocks(50).await.unwrap().len(), 2);
        assert_eq!(store.active_blocks(100).await.unwrap().len(), 1);
        assert!(store.remove_block("198.51.100.0/24").await.unwrap());
        assert!(!store.remove_block("198.51.100.0/24").await.unwrap());
        assert!(store.active_blocks(100).await.unwrap().is_empty());
    }
}
