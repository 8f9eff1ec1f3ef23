//! Remote HTTP checks: fetch one URL as one user agent, and say exactly what
//! happened — final status, headers, body (capped), the redirect chain, the
//! time to the full body, and the server certificate's expiry for HTTPS.
//!
//! This crate only fetches. It does not judge a page (that is
//! `sitewarden-analysis`), schedule checks or store anything (that is
//! `sitewarden-monitor`). Redirects are followed here, by hand, so that every
//! hop is recorded and a loop is named as a loop.

mod fetch;
mod tls;

pub use fetch::{FetchError, FetchedPage, Hop, ProbeConfig, Prober};
pub use tls::{TlsDetails, TlsSetupError, client_config as tls_client_config};
