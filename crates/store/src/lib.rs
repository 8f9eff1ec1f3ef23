//! The store: everything sitewarden must not lose, in one data directory.
//!
//! `store.db` is an embedded SQLite database (WAL mode, migrations applied on
//! open); `blobs/` holds page bodies and evidence content-addressed by
//! SHA-256. Callers use only the methods of [`Store`]: the SQL stays inside
//! this crate and uses numbered `$N` parameters and portable types, so a
//! PostgreSQL backend can be added behind the same methods for scale-out.
//!
//! This crate does not decide anything: it records what the monitor and the
//! incident model decided, atomically.

mod baselines;
mod blobs;
mod checks;
mod containment;
mod engine;
mod error;
mod evidence;
mod incidents;
mod offenders;
mod outbox;

pub use baselines::{BaselineVersion, StoredBaseline};
pub use blobs::Blobs;
pub use checks::{CheckRecord, PageState};
pub use containment::{BlockRecord, SiteSwitchRecord, SwitchEvent};
pub use engine::ApplyError;
pub use error::StoreError;
pub use evidence::{EvidenceInput, EvidenceRecord};
pub use incidents::{IncidentDetail, IncidentEvent, IncidentSummary, SignalOutcome, SignalRecord};
pub use offenders::Offender;
pub use outbox::{
    NewMessage, OutboxCounts, OutboxLock, OutboxMessage, OutboxState, RetrySelection,
};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The result type of every store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A handle on the data directory. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    blobs: Blobs,
    data_dir: PathBuf,
    /// The plan, when the incident engine runs on this store: signals are
    /// then applied to each incident's engine state (see `engine.rs`).
    plan: Option<std::sync::Arc<sitewarden_plan::Plan>>,
}

impl Store {
    /// Opens (creating if needed) the data directory and its database, and
    /// applies any pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let db_path = data_dir.join("store.db");
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(StoreError::Db)?
            .filename(&db_path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable across process crashes; FULL also
            // survives power loss at the cost of an fsync per commit, which
            // is what evidence and incident records deserve.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: db_path.clone(),
                source,
            })?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: db_path,
                source,
            })?;
        let blobs = Blobs::open(&data_dir.join("blobs"))?;
        Ok(Store {
            pool,
            blobs,
            data_dir: data_dir.to_path_buf(),
            plan: None,
        })
    }

    /// The same store with the incident engine running on the plan: new
    /// incidents get engine state, signals and commands are applied to it.
    /// Fails when the plan cannot be resolved (its time zone, say).
    pub fn with_plan(
        mut self,
        plan: std::sync::Arc<sitewarden_plan::Plan>,
    ) -> std::result::Result<Store, sitewarden_incident::RulesError> {
        sitewarden_incident::Rules::new(&plan)?;
        self.plan = Some(plan);
        Ok(self)
    }

    /// The plan the engine runs on, if any.
    pub fn plan(&self) -> Option<&sitewarden_plan::Plan> {
        self.plan.as_deref()
    }

    /// The data directory this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The content-addressed blob directory.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Closes the pool, waiting for connections to finish their work.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction that takes SQLite's write lock up front.
    ///
    /// A deferred transaction that reads before it writes can fail to upgrade
    /// when another connection (or another sitewarden process on the same
    /// data directory) committed in between; IMMEDIATE makes it wait instead.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::Db)
    }
}

/// Converts a stored JSON column back, naming the column when it is corrupt.
fn from_json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| StoreError::CorruptJson { column, source })
}

/// Serialises a value for a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data structs to a String cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}
