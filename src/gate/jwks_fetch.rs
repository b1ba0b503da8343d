//! Fetching an issuer's metadata and keys: one bounded HTTPS GET.
//!
//! Invariants: only https (plain http only to a loopback host); no redirect
//! is followed; a body larger than [`MAX_BODY`] or slower than [`TIMEOUT`]
//! is a failure; nothing but a URL derived from configuration is fetched.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use crate::config::is_loopback_host;

/// Largest metadata or key-set document read.
pub const MAX_BODY: usize = 256 * 1024;
/// Longest time one fetch (connect, TLS, answer, body) may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fetch failed (said in logs; never shown to a caller).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("not an https URL (http only for loopback): {0}")]
    Scheme(String),
    #[error("cannot connect to {0}")]
    Connect(String),
    #[error("answered HTTP {0} (redirects are not followed)")]
    Status(u16),
    #[error("larger than {MAX_BODY} bytes or unreadable")]
    Body,
    #[error("took longer than {TIMEOUT:?}")]
    Timeout,
    #[error("not the JSON expected: {0}")]
    Json(String),
}

/// A parsed `http(s)://authority/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// `host[:port]` as written.
    pub authority: String,
    /// Path and nothing else, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Self, FetchError> {
        let bad = || FetchError::Scheme(s.to_owned());
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || s.contains(['#', ' ']) {
            return Err(bad());
        }
        if !https && !is_loopback_host(authority) {
            return Err(bad());
        }
        Ok(Self { https, authority: authority.to_owned(), path: path.to_owned() })
    }

    /// `scheme://authority`, what "the same origin" compares.
    pub fn origin(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.authority)
    }

    fn host_port(&self) -> (String, u16) {
        let default = if self.https { 443 } else { 80 };
        if let Some(rest) = self.authority.strip_prefix('[') {
            let (host, tail) = rest.split_once(']').unwrap_or((rest, ""));
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(default);
            return (host.to_owned(), port);
        }
        match self.authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(default)),
            None => (self.authority.clone(), default),
        }
    }
}

/// GET `url` and parse its JSON body, within the bounds above.
pub async fn get_json(url: &Url) -> Result<serde_json::Value, FetchError> {
    let bytes = tokio::time::timeout(TIMEOUT, get(url)).await.map_err(|_| FetchError::Timeout)??;
    serde_json::from_slice(&bytes).map_err(|e| FetchError::Json(e.to_string()))
}

async fn get(url: &Url) -> Result<Bytes, FetchError> {
    let (host, port) = url.host_port();
    let connect = || FetchError::Connect(url.origin());
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|_| connect())?;
    if url.https {
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| connect())?;
        let config = client_config().ok_or_else(connect)?;
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|_| connect())?;
        send(url, tls).await
    } else {
        send(url, tcp).await
    }
}

async fn send<S>(url: &Url, io: S) -> Result<Bytes, FetchError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connect = || FetchError::Connect(url.origin());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|_| connect())?;
    let driver = tokio::spawn(conn);
    let request = hyper::Request::get(url.path.as_str())
        .header(hyper::header::HOST, url.authority.as_str())
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "tollgate")
        .body(Empty::<Bytes>::new())
        .map_err(|_| connect())?;
    let response = sender.send_request(request).await.map_err(|_| connect())?;
    let status = response.status().as_u16();
    if status != 200 {
        driver.abort();
        return Err(FetchError::Status(status));
    }
    let body = Limited::new(response.into_body(), MAX_BODY).collect().await.map_err(|_| FetchError::Body)?;
    driver.abort();
    Ok(body.to_bytes())
}

/// Web PKI roots of this machine, with ring; built once (`None` if rustls refuses the provider).
fn client_config() -> Option<Arc<rustls::ClientConfig>> {
    static CONFIG: std::sync::OnceLock<Option<Arc<rustls::ClientConfig>>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_urls_are_fetched() {
        let u = Url::parse("https://auth.example.com:8443/t1/jwks").expect("https");
        assert_eq!((u.origin().as_str(), u.path.as_str()), ("https://auth.example.com:8443", "/t1/jwks"));
        assert_eq!(u.host_port(), ("auth.example.com".into(), 8443));
        assert!(Url::parse("http://127.0.0.1:4000/jwks").is_ok());
        assert_eq!(Url::parse("http://[::1]:4000/jwks").map(|u| u.host_port()), Ok(("::1".into(), 4000)));
        for bad in ["http://auth.example.com/jwks", "ftp://x/y", "https://user@x/y", "https:///y", "file:///etc/passwd"]
        {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
