//! TLS for `serve`: the rustls server configuration built from PEM files.
//!
//! Invariants: TLS 1.2 and 1.3 only, rustls' default (modern, AEAD-only)
//! cipher suites, ALPN `http/1.1`; a client certificate is accepted only if
//! it chains to `--client-ca` (verified by rustls during the handshake), and
//! with `--require-client-cert` a client without one is refused with a TLS
//! alert before any HTTP is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// What `serve` was told about TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// `--tls-cert`: the server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// `--tls-key`: the server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `--client-ca`: accept client certificates issued by these CAs (mTLS).
    pub client_ca: Option<PathBuf>,
    /// `--require-client-cert`: refuse clients without a certificate.
    pub require_client_cert: bool,
}

/// Why TLS could not be set up; each names the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--{flag} {path}: {detail}")]
    File { flag: &'static str, path: String, detail: String },
    #[error("--require-client-cert needs --client-ca (the CA that issues client certificates)")]
    RequireWithoutCa,
    #[error("TLS setup: {0}")]
    Rustls(String),
}

fn file_error(flag: &'static str, path: &Path, detail: impl std::fmt::Display) -> TlsError {
    TlsError::File { flag, path: path.display().to_string(), detail: detail.to_string() }
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(flag, path, e))?;
    if certs.is_empty() {
        return Err(file_error(flag, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The rustls provider tollgate uses (ring; no OpenSSL, no C toolchain beyond ring's).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Build the server configuration, reading and checking every file.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates("tls-cert", &settings.cert)?;
    let key = PrivateKeyDer::from_pem_file(&settings.key).map_err(|e| file_error("tls-key", &settings.key, e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (&settings.client_ca, settings.require_client_cert) {
        (None, true) => return Err(TlsError::RequireWithoutCa),
        (None, false) => builder.with_no_client_auth(),
        (Some(ca), require) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates("client-ca", ca)? {
                roots.add(cert).map_err(|e| file_error("client-ca", ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if require { verifier } else { verifier.allow_unauthenticated() };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| file_error("client-ca", ca, e))?)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| file_error("tls-key", &settings.key, format!("does not match --tls-cert: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The `Strict-Transport-Security` value sent on every answer when TLS is on.
pub const HSTS: &str = "max-age=31536000";
