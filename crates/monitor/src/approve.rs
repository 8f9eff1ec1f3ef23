//! Approving a baseline: fetch a page several times, learn what changes
//! between the fetches (counters, clocks, rotating items) as volatile, and
//! store the fingerprint and the full body as the page's next approved
//! version.

use crate::check::sha256_hex;
use crate::targets::{PageTarget, Targets};
use sitewarden_analysis::{Baseline, decode_body, fingerprint};
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
    /// Regions learned as volatile from the fetches.
    pub learned_volatile: usize,
    /// The charset the body was decoded with.
    pub encoding: String,
}

/// How many fetches a baseline is learned from. Two find most volatile
/// regions; a third catches rotations that happen to repeat between two
/// fetches (three banners picked by visit count, two fetches three visits
/// apart because another page of the site was fetched in between).
pub const BASELINE_FETCHES: usize = 3;

/// Fetches the page [`BASELINE_FETCHES`] times as a browser and stores the
/// approved baseline.
pub async fn approve_baseline(
    prober: &Prober,
    targets: &Targets,
    target: &PageTarget,
    store: &Store,
    approved_by: &str,
    now_ms: i64,
) -> Result<ApprovedBaseline, ApproveError> {
    let mut bodies = Vec::with_capacity(BASELINE_FETCHES);
    for _ in 0..BASELINE_FETCHES {
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
    let first = prints.next().expect("several fetches");
    let mut baseline = Baseline::from_single(first);
    for other in prints {
        baseline.learn_from(&other);
    }
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
