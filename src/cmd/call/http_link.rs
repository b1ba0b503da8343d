//! The client's HTTP and HTTPS transport: one POST per JSON-RPC message, a
//! JSON or SSE answer read message by message.
//!
//! Invariants: a certificate is trusted only if it chains to `--ca` (or, with
//! no `--ca`, to the system's roots); a client certificate is presented only
//! when both `--client-cert` and `--client-key` were given; the credential is
//! sent in `Authorization` and never printed.

use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use super::message::LinkError;

/// Where and how to connect over HTTP(S).
#[derive(Debug, Clone, Default)]
pub struct HttpTarget {
    /// `http://host:port/path` or `https://…`.
    pub url: String,
    /// `--ca`: trust only this CA (PEM).
    pub ca: Option<PathBuf>,
    /// `--client-cert` and `--client-key` (PEM), for mTLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
}

/// A parsed target, ready to send.
pub struct HttpLink {
    host: String,
    port: u16,
    path: String,
    authority: String,
    tls: Option<tokio_rustls::TlsConnector>,
    /// `Authorization: Bearer …`, if a credential was given.
    authorization: Option<String>,
}

/// One HTTP answer being read: its status and the messages of its body.
pub struct Answer {
    pub status: u16,
    pub session: Option<String>,
    body: Incoming,
    sse: bool,
    buffer: Vec<u8>,
    ended: bool,
}

impl HttpLink {
    /// Check the URL and read the TLS files; nothing is sent yet.
    pub fn new(target: &HttpTarget, bearer: Option<String>) -> Result<Self, LinkError> {
        let uri: hyper::Uri =
            target.url.parse().map_err(|e| LinkError::Usage(format!("--url {:?} is not a URL: {e}", target.url)))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(LinkError::Usage(format!("--url {:?} must start with http:// or https://", target.url))),
        };
        let host = uri.host().ok_or_else(|| LinkError::Usage(format!("--url {:?} has no host", target.url)))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map(|p| p.as_str().to_owned()).filter(|p| p != "/").unwrap_or("/mcp".into());
        if !https && (target.ca.is_some() || target.client_identity.is_some()) {
            return Err(LinkError::Usage("--ca, --client-cert and --client-key need an https:// --url".into()));
        }
        let tls = if https { Some(connector(target)?) } else { None };
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_else(|| host.clone());
        Ok(Self { host, port, path, authority, tls, authorization: bearer.map(|b| format!("Bearer {b}")) })
    }

    /// POST one JSON-RPC message with extra headers; the answer's head, its body still to read.
    pub async fn post(&self, headers: &[(&str, String)], body: &Value) -> Result<Answer, LinkError> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| LinkError::Transport(format!("cannot connect to {}:{}: {e}", self.host, self.port)))?;
        match &self.tls {
            None => self.send_on(stream, headers, body).await,
            Some(connector) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| LinkError::Usage(format!("{:?} is not a TLS server name: {e}", self.host)))?;
                let tls = connector
                    .connect(name, stream)
                    .await
                    .map_err(|e| LinkError::Transport(format!("TLS handshake with {}: {e}", self.authority)))?;
                self.send_on(tls, headers, body).await
            }
        }
    }

    async fn send_on<T>(&self, io: T, headers: &[(&str, String)], body: &Value) -> Result<Answer, LinkError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let broken = |e: &dyn std::fmt::Display| LinkError::Transport(format!("HTTP to {}: {e}", self.authority));
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| broken(&e))?;
        tokio::spawn(conn);
        let mut req = Request::post(self.path.as_str())
            .header("host", self.authority.as_str())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a.as_str());
        }
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| broken(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| broken(&e))?;
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let sse = header("content-type").is_some_and(|v| v.starts_with("text/event-stream"));
        let session = header("mcp-session-id");
        Ok(Answer {
            status: resp.status().as_u16(),
            session,
            body: resp.into_body(),
            sse,
            buffer: Vec::new(),
            ended: false,
        })
    }
}

impl Answer {
    /// The next JSON-RPC message of the body; `None` when the body ended.
    pub async fn next(&mut self) -> Result<Option<Value>, LinkError> {
        loop {
            if let Some(message) = self.take_buffered()? {
                return Ok(Some(message));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Err(LinkError::Transport(format!("reading the answer: {e}"))),
                None => self.ended = true,
            }
        }
    }

    /// A whole message from the buffer: one SSE `data:` line, or the JSON body once it ended.
    fn take_buffered(&mut self) -> Result<Option<Value>, LinkError> {
        if !self.sse {
            if !self.ended || self.buffer.is_empty() {
                return Ok(None);
            }
            let body = std::mem::take(&mut self.buffer);
            return serde_json::from_slice(&body).map(Some).map_err(|_| {
                let text = String::from_utf8_lossy(&body);
                LinkError::Transport(format!("HTTP {}: not a JSON-RPC answer: {}", self.status, text.trim()))
            });
        }
        next_sse(&mut self.buffer, self.ended)
    }
}

/// The next SSE `data:` message in `buffer` (consumed), or `None` until a
/// whole line is there; `ended`: the body is over, so a last line without
/// its newline counts.
fn next_sse(buffer: &mut Vec<u8>, ended: bool) -> Result<Option<Value>, LinkError> {
    loop {
        let end = match buffer.iter().position(|b| *b == b'\n') {
            Some(i) => i,
            None if ended && !buffer.is_empty() => buffer.len(),
            None => return Ok(None),
        };
        let line: Vec<u8> = buffer.drain(..end).collect();
        if !buffer.is_empty() {
            buffer.remove(0);
        }
        let line = String::from_utf8_lossy(&line);
        if let Some(data) = line.trim_end_matches('\r').strip_prefix("data:") {
            let message = serde_json::from_str(data.trim())
                .map_err(|e| LinkError::Transport(format!("an SSE message is not JSON ({e})")))?;
            return Ok(Some(message));
        }
    }
}

fn file_error(flag: &str, path: &std::path::Path, e: impl std::fmt::Display) -> LinkError {
    LinkError::Usage(format!("--{flag} {}: {e}", path.display()))
}

/// The rustls client: `--ca` or the system roots, and the client certificate if given.
fn connector(target: &HttpTarget) -> Result<tokio_rustls::TlsConnector, LinkError> {
    let mut roots = rustls::RootCertStore::empty();
    match &target.ca {
        Some(ca) => {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| file_error("ca", ca, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error("ca", ca, e))?;
            if certs.is_empty() {
                return Err(file_error("ca", ca, "holds no PEM certificate"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| file_error("ca", ca, e))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(crate::transport::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| LinkError::Usage(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let mut config = match &target.client_identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file_error("client-cert", cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error("client-cert", cert, e))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("client-key", key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| LinkError::Usage(format!("--client-key does not match --client-cert: {e}")))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_messages_are_read_line_by_line_and_only_whole() {
        let mut buffer = b"event: message\r\ndata: {\"id\":1}\r\n\ndata: {\"id\"".to_vec();
        assert_eq!(next_sse(&mut buffer, false).unwrap(), Some(serde_json::json!({"id": 1})));
        assert_eq!(next_sse(&mut buffer, false).unwrap(), None, "half a line waits");
        buffer.extend_from_slice(b":2}");
        assert_eq!(next_sse(&mut buffer, true).unwrap(), Some(serde_json::json!({"id": 2})), "a last line at the end");
        assert_eq!(next_sse(&mut buffer, true).unwrap(), None);
        let mut bad = b"data: {nope\n".to_vec();
        assert!(matches!(next_sse(&mut bad, false), Err(LinkError::Transport(_))));
    }

    #[test]
    fn urls_default_to_the_mcp_path_and_the_schemes_port() {
        let link = |url: &str| HttpLink::new(&HttpTarget { url: url.into(), ..HttpTarget::default() }, None);
        let plain = link("http://127.0.0.1:8787").unwrap();
        assert_eq!((plain.host.as_str(), plain.port, plain.path.as_str()), ("127.0.0.1", 8787, "/mcp"));
        let v6 = link("http://[::1]/custom").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.path.as_str()), ("::1", 80, "/custom"));
        assert!(matches!(link("ftp://x/mcp"), Err(LinkError::Usage(_))));
        assert!(matches!(link("not a url"), Err(LinkError::Usage(_))));
        let tls_flags = HttpTarget { url: "http://x/mcp".into(), ca: Some("ca.pem".into()), client_identity: None };
        assert!(matches!(HttpLink::new(&tls_flags, None), Err(LinkError::Usage(_))), "--ca needs https");
    }
}
