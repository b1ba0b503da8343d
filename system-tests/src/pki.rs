//! A throwaway PKI for TLS tests: a CA, a server certificate for the loopback
//! names, client certificates, and HTTPS clients that trust only that CA.
//!
//! Everything is generated fresh (rcgen) so no key material lives in the repo.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A test CA with one server certificate (`localhost`, `127.0.0.1`).
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A client certificate issued by a [`Pki`] (or by another CA).
#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, lowercase hex (what tollgate binds).
    pub fingerprint: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).expect("self-sign CA");
    (cert.pem(), Issuer::new(params, key))
}

impl Pki {
    /// A fresh CA and server certificate.
    pub fn new() -> Self {
        let (ca_pem, issuer) = ca("tollgate test CA");
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).expect("sign server cert");
        Self { ca_pem, server_cert_pem: cert.pem(), server_key_pem: key.serialize_pem(), issuer }
    }

    /// A client certificate issued by this CA.
    pub fn client(&self, name: &str) -> ClientIdentity {
        issue_client(&self.issuer, name)
    }

    /// A client certificate from an unrelated CA (one the server does not trust).
    pub fn foreign_client(name: &str) -> ClientIdentity {
        let (_, issuer) = ca("some other CA");
        issue_client(&issuer, name)
    }

    /// Write `ca.pem`, `server.pem` and `server.key` into `dir`.
    pub fn write(&self, dir: &Path) -> Files {
        std::fs::create_dir_all(dir).expect("pki dir");
        let files = Files { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") };
        std::fs::write(&files.ca, &self.ca_pem).expect("write ca");
        std::fs::write(&files.cert, &self.server_cert_pem).expect("write cert");
        std::fs::write(&files.key, &self.server_key_pem).expect("write key");
        files
    }

    /// A rustls client config that trusts only this CA, presenting `identity` if given.
    pub fn client_config(&self, identity: Option<&ClientIdentity>) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).expect("CA PEM")).expect("add CA");
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = vec![CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).expect("client cert PEM")];
                let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("client key PEM");
                builder.with_client_auth_cert(chain, key).expect("client auth")
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }

    /// An HTTPS client (reqwest) that trusts only this CA.
    pub fn https_client(&self, identity: Option<&ClientIdentity>) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_backend_preconfigured(self.client_config(identity))
            .build()
            .expect("https client")
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

fn issue_client(issuer: &Issuer<'static, KeyPair>, name: &str) -> ClientIdentity {
    let key = KeyPair::generate().expect("client key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).expect("sign client cert");
    use sha2::Digest;
    let fingerprint = hex::encode(sha2::Sha256::digest(cert.der().as_ref()));
    ClientIdentity { cert_pem: cert.pem(), key_pem: key.serialize_pem(), fingerprint }
}

/// Where [`Pki::write`] put the files.
pub struct Files {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}
