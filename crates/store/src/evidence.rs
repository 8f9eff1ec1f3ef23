//! The evidence register: what was captured, when, its SHA-256, and a hash
//! chain over the records so that a record altered or removed afterwards is
//! detectable (the plan's "keep the attack traces intact", PLAN §5).

use crate::blobs::sha256_hex;
use crate::{Result, Store, from_json, to_json};
use sqlx::Row;

/// Evidence to register: the bytes go to the blob directory, the record to
/// the register.
#[derive(Debug, Clone)]
pub struct EvidenceInput {
    /// What it is: `page_snapshot`, `fetch_metadata`, later `quarantined_file`, `log_slice`…
    pub kind: String,
    /// The captured bytes, exactly as received.
    pub content: Vec<u8>,
    /// Their media type (`text/html`, `application/json`…).
    pub media_type: String,
    /// When they were captured (Unix ms).
    pub captured_at: i64,
    /// Facts about the capture (URL, user agent, status…).
    pub metadata: serde_json::Value,
}

/// A registered piece of evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRecord {
    /// Record id.
    pub id: i64,
    /// The incident it belongs to.
    pub incident_id: Option<i64>,
    /// The signal it was captured for.
    pub signal_id: Option<i64>,
    /// What it is.
    pub kind: String,
    /// SHA-256 of the content.
    pub content_sha256: String,
    /// Content size in bytes.
    pub size: i64,
    /// Media type.
    pub media_type: String,
    /// Capture time (Unix ms).
    pub captured_at: i64,
    /// Facts about the capture.
    pub metadata: serde_json::Value,
    /// The previous record's hash (all zeros for the first record).
    pub prev_record_hash: String,
    /// This record's hash over its fields and the previous hash.
    pub record_hash: String,
}

/// The hash of the first record's predecessor.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chained hash of one record. Every field a reader relies on is in it.
#[allow(clippy::too_many_arguments)]
fn record_hash(
    prev: &str,
    incident_id: Option<i64>,
    signal_id: Option<i64>,
    kind: &str,
    content_sha256: &str,
    size: i64,
    media_type: &str,
    captured_at: i64,
    metadata_json: &str,
) -> String {
    let canonical = format!(
        "sitewarden-evidence-v1\n{prev}\n{}\n{}\n{kind}\n{content_sha256}\n{size}\n{media_type}\n{captured_at}\n{metadata_json}",
        incident_id.map(|id| id.to_string()).unwrap_or_default(),
        signal_id.map(|id| id.to_string()).unwrap_or_default(),
    );
    sha256_hex(canonical.as_bytes())
}

impl Store {
    /// Registers evidence inside an open write transaction (the caller's),
    /// after its bytes were put in the blob directory.
    pub(crate) async fn register_evidence(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        incident_id: Option<i64>,
        signal_id: Option<i64>,
        input: &EvidenceInput,
        content_sha256: &str,
    ) -> Result<i64> {
        let prev: String =
            sqlx::query_scalar("SELECT record_hash FROM evidence ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?
                .unwrap_or_else(|| GENESIS.to_string());
        let metadata_json = to_json(&input.metadata);
        let size = input.content.len() as i64;
        let hash = record_hash(
            &prev,
            incident_id,
            signal_id,
            &input.kind,
            content_sha256,
            size,
            &input.media_type,
            input.captured_at,
            &metadata_json,
        );
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO evidence (incident_id, signal_id, kind, content_sha256, size, media_type,
                 captured_at, metadata_json, prev_record_hash, record_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(incident_id)
        .bind(signal_id)
        .bind(&input.kind)
        .bind(content_sha256)
        .bind(size)
        .bind(&input.media_type)
        .bind(input.captured_at)
        .bind(&metadata_json)
        .bind(&prev)
        .bind(&hash)
        .fetch_one(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Attaches evidence gathered after the fact (a log timeline, a file a
    /// person collected) to an incident: content first, then the chained
    /// record and a timeline entry, in one transaction. Returns the record id.
    pub async fn attach_evidence(
        &self,
        incident_id: i64,
        input: &EvidenceInput,
        actor: &str,
        note: &str,
    ) -> Result<i64> {
        let digest = self.blobs.put(&input.content)?;
        let mut tx = self.begin_write().await?;
        let id = self
            .register_evidence(&mut tx, Some(incident_id), None, input, &digest)
            .await?;
        crate::incidents::append_event(
            &mut tx,
            incident_id,
            input.captured_at,
            actor,
            "evidence",
            &serde_json::json!({
                "evidence_ids": [id],
                "kind": input.kind,
                "note": note,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The evidence of an incident, oldest first.
    pub async fn incident_evidence(&self, incident_id: i64) -> Result<Vec<EvidenceRecord>> {
        let rows = sqlx::query(
            "SELECT id, incident_id, signal_id, kind, content_sha256, size, media_type, captured_at,
                    metadata_json, prev_record_hash, record_hash
             FROM evidence WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(evidence_from_row).collect()
    }

    /// Verifies the whole register: every record's hash and link to its
    /// predecessor, and every blob's bytes against its SHA-256. Returns the
    /// number of records checked, or the list of problems found.
    pub async fn verify_evidence(&self) -> Result<std::result::Result<usize, Vec<String>>> {
        let rows = sqlx::query(
            "SELECT id, incident_id, signal_id, kind, content_sha256, size, media_type, captured_at,
                    metadata_json, prev_record_hash, record_hash
             FROM evidence ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut problems = Vec::new();
        let mut prev = GENESIS.to_string();
        let count = rows.len();
        for row in rows {
            let metadata_json: String = row.get("metadata_json");
            let record = evidence_from_row(row)?;
            if record.prev_record_hash != prev {
                problems.push(format!(
                    "evidence #{}: chain broken (expected previous hash {prev}, found {})",
                    record.id, record.prev_record_hash
                ));
            }
            let expected = record_hash(
                &record.prev_record_hash,
                record.incident_id,
                record.signal_id,
                &record.kind,
                &record.content_sha256,
                record.size,
                &record.media_type,
                record.captured_at,
                &metadata_json,
            );
            if expected != record.record_hash {
                problems.push(format!("evidence #{}: record was altered", record.id));
            }
            if let Err(error) = self.blobs.get(&record.content_sha256) {
                problems.push(format!("evidence #{}: {error}", record.id));
            }
            prev = record.record_hash;
        }
        Ok(if problems.is_empty() {
            Ok(count)
        } else {
            Err(problems)
        })
    }
}

fn evidence_from_row(row: sqlx::sqlite::SqliteRow) -> Result<EvidenceRecord> {
    Ok(EvidenceRecord {
        id: row.get("id"),
        incident_id: row.get("incident_id"),
        signal_id: row.get("signal_id"),
        kind: row.get("kind"),
        content_sha256: row.get("content_sha256"),
        size: row.get("size"),
        media_type: row.get("media_type"),
        captured_at: row.get("captured_at"),
        metadata: from_json("evidence.metadata_json", row.get("metadata_json"))?,
        prev_record_hash: row.get("prev_record_hash"),
        record_hash: row.get("record_hash"),
    })
}
