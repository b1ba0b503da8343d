//! Checks on an HTTP request before its body is read: Origin and Host
//! (against DNS rebinding), Accept and Content-Type.
//!
//! Invariant: a browser page on another origin can never reach `/mcp`, and a
//! DNS name that merely resolves to us is refused unless configured.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::reply::rpc_error_reply;
use crate::wire::errors::RpcError;

/// Host names (without port) that `Host` and `Origin` may name.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    names: BTreeSet<String>,
}

impl Default for AllowedHosts {
    /// Loopback names only.
    fn default() -> Self {
        Self { names: ["localhost", "127.0.0.1", "[::1]"].into_iter().map(str::to_owned).collect() }
    }
}

impl AllowedHosts {
    /// Loopback names plus the given extra names (e.g. the server's public DNS name).
    pub fn with_extra(extra: impl IntoIterator<Item = String>) -> Self {
        let mut hosts = Self::default();
        hosts.names.extend(extra.into_iter().map(|n| n.to_ascii_lowercase()));
        hosts
    }

    /// Also allow the address the server is bound to (unless it is a wildcard).
    pub fn add_bound(&mut self, addr: SocketAddr) {
        if !addr.ip().is_unspecified() {
            let host = match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            };
            self.names.insert(host);
        }
    }

    fn allows_authority(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        let host = if authority.starts_with('[') {
            authority.split_once(']').map(|(h, _)| format!("{h}]")).unwrap_or_default()
        } else {
            authority.split(':').next().unwrap_or_default().to_owned()
        };
        self.names.contains(&host)
    }

    /// 403 unless Host is allowed and Origin, when present, names an allowed host.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), axum::http::StatusCode> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if !self.allows_authority(host) {
            return Err(StatusCode::FORBIDDEN);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            if !authority.is_some_and(|a| !a.contains('/') && self.allows_authority(a)) {
                return Err(StatusCode::FORBIDDEN);
            }
        }
        Ok(())
    }
}

/// Whether an Accept header admits `wanted` (`type/subtype`).
fn accepts(accept: &str, wanted: &str) -> bool {
    let (wanted_type, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        media == wanted || media == "*/*" || media == format!("{wanted_type}/*")
    })
}

/// 406 unless Accept allows both JSON and SSE; 415 unless the body is JSON.
pub fn check_post_headers(headers: &HeaderMap) -> Result<(), Response> {
    let accept = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !(accepts(accept, "application/json") && accepts(accept, "text/event-stream")) {
        let e = RpcError::invalid_request("Not Acceptable: Accept must allow application/json and text/event-stream");
        return Err(rpc_error_reply(StatusCode::NOT_ACCEPTABLE, &e));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        let e = RpcError::invalid_request("Unsupported Media Type: Content-Type must be application/json");
        return Err(rpc_error_reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_hosts_and_origins_pass_and_others_are_forbidden() {
        let allowed = AllowedHosts::default();
        assert!(allowed.check(&headers(&[(header::HOST, "127.0.0.1:8787")])).is_ok());
        assert!(
            allowed
                .check(&headers(&[(header::HOST, "localhost:1"), (header::ORIGIN, "http://localhost:3000")]))
                .is_ok()
        );
        assert!(allowed.check(&headers(&[(header::HOST, "[::1]:8787")])).is_ok());
        for bad in [
            headers(&[(header::HOST, "evil.example:8787")]),
            headers(&[]),
            headers(&[(header::HOST, "localhost.evil.example")]),
            headers(&[(header::HOST, "localhost"), (header::ORIGIN, "http://evil.example")]),
            headers(&[(header::HOST, "localhost"), (header::ORIGIN, "null")]),
        ] {
            assert_eq!(allowed.check(&bad), Err(StatusCode::FORBIDDEN), "{bad:?}");
        }
    }

    #[test]
    fn accept_needs_both_media_types() {
        assert!(accepts("application/json, text/event-stream", "text/event-stream"));
        assert!(accepts("*/*", "application/json"));
        assert!(!accepts("application/json", "text/event-stream"));
        assert!(accepts("application/*;q=0.5", "application/json"));
    }
}
