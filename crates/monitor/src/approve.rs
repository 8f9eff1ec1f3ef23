//! Approving a baseline: fetch a page twice, learn what changes between the
//! two fetches (counters, clocks, rotating items) as volatile, and store the
//! fingerprint and the full body as the page's next approved version.

use crate::check::sha256_hex;
use crate::targets::{PageTarget, Targets};
use sitewarden_analysis::{decode_body, fingerprint, learn_baseline};
use sitewarden_probe::Prober;
use sitewarden_store::{Store, StoreError};

/// Why a page's baseline could not be approved. Nothing stored is changed.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// The page could not be fetched.
    #[error("{site}/{page}: cannot fetch {url}: {message}")]
    Fetch {
        /// Site name.
        site: String,
        /// Page name.
        page: String,
        /// URL.
        url: String,
        /// The fetch error.
        message: String,
    },
    /// The page answered with an error status; an error page is no baseline.
    #[error("{site}/{page}: {url} answers HTTP {status}; an error page cannot be approved")]
    Status {
        /// Site name.
        site: String,
        /// Page name.
        page: String,
        /// URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What was approved.
#[derive(Debug, Clone)]
pub struct ApprovedBaseline {
    /// Site name.
    pub site: String,
    /// Page name.
    pub page: String,
    /// The new version number.
    pub version: i64,
    /// SHA-256 of the approved body.
    pub body_sha256: String,
    /// Text blocks in the fingerprint.
    pub blocks: usize,
    /// Regions learned as volatile from the two fetches.
    pub learned_volatile: usize,
    /// The charset the body was decoded with.
    pub encoding: String,
}

/// Fetches the page twice as a browser and stores the approved baseline.
pub async fn approve_baseline(
    prober: &Prober,
    targets: &Targets,
    target: &PageTarget,
    store: &Store,
    approved_by: &str,
    now_ms: i64,
) -> Result<ApprovedBaseline, ApproveError> {
    let mut bodies = Vec::with_capacity(2);
    for _ in 0..2 {
        let page = prober
            .fetch(&target.url, &targets.browser_user_agent)
            .await
            .map_err(|error| ApproveError::Fetch {
                site: target.site.clone(),
                page: target.page.clone(),
                url: target.url.to_string(),
                message: error.to_string(),
            })?;
        if page.status >= 400 {
            return Err(ApproveError::Status {
                site: target.site.clone(),
                page: target.page.clone(),
                url: target.url.to_string(),
                status: page.status,
            });
        }
        bodies.push(page);
    }
    let prints: Vec<_> = bodies
        .iter()
        .map(|page| {
            fingerprint(
                &decode_body(&page.body, page.content_type()),
                &page.final_url,
                &target.volatile,
            )
        })
        .collect();
    let mut prints = prints.into_iter();
    let first = prints.next().expect("two fetches");
    let second = prints.next().expect("two fetches");
    let baseline = learn_baseline(first, &second);
    let baseline_json = serde_json::to_string(&baseline).expect("a baseline serialises");
    let body = &bodies[0].body;
    let version = store
        .approve_baseline(
            &target.site,
            &target.page,
            target.url.as_str(),
            &baseline_json,
            body,
            approved_by,
            now_ms,
        )
        .await?;
    Ok(ApprovedBaseline {
        site: target.site.clone(),
        page: target.page.clone(),
        version,
        body_sha256: sha256_hex(body),
        blocks: baseline.fingerprint.blocks.len(),
        learned_volatile: baseline.learned_volatile.len(),
        encoding: baseline.fingerprint.encoding.clone(),
    })
}
