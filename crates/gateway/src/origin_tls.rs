//! What `https` origins are verified against: the system's CA certificates
//! and the plan's `[gateway] origin_ca_files` (web servers inside signed by
//! a private or government CA), built once at start for both engines and
//! the background checks of verified paths.

use crate::error::GatewayError;
use pingora_core::utils::tls::{WrappedX509, parse_x509};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::PathBuf;
use std::sync::Arc;

/// The trust for origins, in each engine's form.
#[derive(Debug, Clone)]
pub struct OriginTrust {
    /// The extra CA files, as configured.
    pub ca_files: Vec<PathBuf>,
    /// For the hyper engine's origin connections (HTTP/1.1 only).
    pub rustls: Arc<rustls::ClientConfig>,
    /// For pingora's: the system's and the extra certificates, set on each
    /// TLS origin; None without extra files (pingora loads the system's).
    pub pingora: Option<Arc<[WrappedX509]>>,
}

impl OriginTrust {
    /// The system's certificates and those in `ca_files`; an unreadable
    /// file, or one with no usable certificate, is an error.
    pub fn load(ca_files: &[PathBuf]) -> Result<OriginTrust, GatewayError> {
        let mut rustls = sitewarden_probe::tls_client_config(ca_files)
            .map_err(|error| GatewayError::Tls(format!("gateway.origin_ca_files: {error}")))?;
        // One HTTP/1.1 connection per client connection: never h2.
        rustls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let pingora = if ca_files.is_empty() {
            None
        } else {
            let mut ders: Vec<CertificateDer<'static>> =
                rustls_native_certs::load_native_certs().certs;
            for path in ca_files {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|error| {
                        GatewayError::Tls(format!(
                            "gateway.origin_ca_files: {}: {error}",
                            path.display()
                        ))
                    })?;
                ders.extend(certs);
            }
            let wrapped: Vec<WrappedX509> = ders
                .into_iter()
                // pingora's parser panics on what it cannot read: only
                // certificates x509-parser accepts are handed over.
                .filter(|der| x509_parser::parse_x509_certificate(der).is_ok())
                .map(|der| WrappedX509::new(der.to_vec(), parse_x509))
                .collect();
            Some(Arc::from(wrapped))
        };
        Ok(OriginTrust {
            ca_files: ca_files.to_vec(),
            rustls: Arc::new(rustls),
            pingora,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_stops_the_start_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gov-ca.pem");
        let error = OriginTrust::load(std::slice::from_ref(&missing)).unwrap_err();
        assert!(error.to_string().contains("gov-ca.pem"), "{error}");
        std::fs::write(&missing, "not a certificate\n").unwrap();
        let error = OriginTrust::load(&[missing]).unwrap_err();
        assert!(error.to_string().contains("gov-ca.pem"), "{error}");
        // Without extra files: the system's, and pingora loads its own.
        let trust = OriginTrust::load(&[]).unwrap();
        assert!(trust.pingora.is_none());
        assert_eq!(trust.rustls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
