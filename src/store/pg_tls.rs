//! Connecting to PostgreSQL, with TLS when the URL asks for it.
//!
//! Invariants: `sslmode=require`, `verify-ca` and `verify-full` all verify the
//! server's certificate and host name against `sslrootcert` (stricter than
//! libpq's `require`, which does not verify: fail closed); `disable`, `allow`,
//! `prefer` or no `sslmode` connect without TLS (a local socket or loopback);
//! no error message contains the URL (it may carry a password).

use std::path::Path;
use std::sync::Arc;

use postgres::{Client, NoTls};

use super::error::StoreError;

enum Tls {
    Off,
    Verify { root_cert: String },
}

/// Open a session to `url`.
pub fn connect(url: &str) -> Result<Client, StoreError> {
    let (url, tls) = split_tls(url)?;
    let mut config: postgres::Config =
        url.parse().map_err(|e| StoreError::Config(format!("database_url is not a valid PostgreSQL URL: {e}")))?;
    let connected = match tls {
        Tls::Off => config.connect(NoTls),
        Tls::Verify { root_cert } => {
            config.ssl_mode(postgres::config::SslMode::Require);
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(client_config(Path::new(&root_cert))?))
        }
    };
    connected
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL at {}: {e}", redacted(&config))))
}

/// Where a URL points, without user or password (for logs and errors).
pub fn redacted(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// Take `sslmode` and `sslrootcert` out of the URL's query (the driver knows
/// neither `verify-full` nor `sslrootcert`).
fn split_tls(url: &str) -> Result<(String, Tls), StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => return Ok((url.to_owned(), Tls::Off)),
    };
    let (mut mode, mut root_cert, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_owned()),
            Some(("sslrootcert", v)) => root_cert = Some(v.to_owned()),
            _ => kept.push(pair),
        }
    }
    let tls = match mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => Tls::Off,
        Some("require" | "verify-ca" | "verify-full") => Tls::Verify {
            root_cert: root_cert.ok_or_else(|| {
                StoreError::Config("database_url: sslmode=verify-full needs sslrootcert=PATH (the server's CA)".into())
            })?,
        },
        Some(other) => return Err(StoreError::Config(format!("database_url: unknown sslmode {other:?}"))),
    };
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, tls))
}

fn client_config(root_cert: &Path) -> Result<rustls::ClientConfig, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(root_cert)
        .map_err(|e| StoreError::Config(format!("sslrootcert {}: {e}", root_cert.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| StoreError::Config(format!("sslrootcert {}: {e}", root_cert.display())))?;
        roots.add(cert).map_err(|e| StoreError::Config(format!("sslrootcert {}: {e}", root_cert.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_the_url_and_verify_full_needs_a_root() {
        let (url, tls) = split_tls("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x")
            .expect("parsed");
        assert_eq!(url, "postgres://u:p@h/db?application_name=x");
        assert!(matches!(tls, Tls::Verify { root_cert } if root_cert == "/ca.pem"));
        assert!(matches!(split_tls("postgres://h/db?sslmode=verify-full"), Err(StoreError::Config(_))));
        assert!(matches!(split_tls("postgres://h/db?sslmode=bogus"), Err(StoreError::Config(_))));
        assert!(matches!(split_tls("postgres://h/db").expect("plain").1, Tls::Off));
    }

    #[test]
    fn a_connection_error_does_not_show_the_password() {
        let Err(e) = connect("postgres://tollgate:hunter2@127.0.0.1:1/db") else { panic!("nothing listens on port 1") };
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("127.0.0.1:1/db"), "{e}");
    }
}
