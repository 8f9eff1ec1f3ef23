//! TLS setup for the probe (rustls with the ring provider, the system's
//! roots plus any CA files the plan names) and reading the server
//! certificate's validity.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Facts about the server certificate of an HTTPS page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsDetails {
    /// When the certificate stops being valid (Unix ms).
    pub expires_at_ms: i64,
    /// The certificate's subject, as text.
    pub subject: String,
    /// The certificate's issuer, as text.
    pub issuer: String,
}

/// Why the TLS setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A CA file could not be read or holds no certificate.
    #[error("CA file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Builds the client configuration: system roots (Debian's ca-certificates)
/// and the plan's extra CA files, which government intranets often need.
pub fn client_config(extra_ca_files: &[PathBuf]) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: one bad file in
    // /etc/ssl/certs must not stop the whole probe.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for path in extra_ca_files {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|error| TlsSetupError::CaFile {
                path: path.clone(),
                message: error.to_string(),
            })?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsSetupError::CaFile {
                path: path.clone(),
                message: error.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsSetupError::CaFile {
                path: path.clone(),
                message: "no PEM certificate in it".into(),
            });
        }
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsSetupError::CaFile {
                path: path.clone(),
                message: "no usable CA certificate in it".into(),
            });
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads validity and names from a DER certificate; None when it does not parse.
pub(crate) fn details(der: &[u8]) -> Option<TlsDetails> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(TlsDetails {
        expires_at_ms: certificate.validity().not_after.timestamp() * 1000,
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
    })
}
