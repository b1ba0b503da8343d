//! What every HTTP handler shares: the endpoint, the options, and how a
//! request's credential is read off it.
//!
//! Invariant: the transport extracts a credential and decides nothing with
//! it; a client certificate comes only from the connection's TLS session.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::guard::AllowedHosts;
use crate::identity::{CertFingerprint, Credential};
use crate::protocol::endpoint::McpServer;
use crate::wire::TransportKind;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub max_body_bytes: usize,
    pub allowed_hosts: AllowedHosts,
    pub transport: TransportKind,
    /// Conformance mode: a request without credentials acts as the local admin.
    pub local_admin_fallback: bool,
    /// OAuth on: the resource metadata and the challenges that point to it.
    pub oauth: Option<Arc<super::oauth::ProtectedResource>>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) server: Arc<McpServer>,
    pub(crate) options: Arc<HttpOptions>,
}

/// The credential a request presents; the transport decides nothing with it.
/// A client certificate comes only from the connection's TLS session (`cert`);
/// a header that claims one is ignored. More than one `Authorization` header
/// is [`Credential::Ambiguous`], for the server to refuse.
pub(crate) fn credential(state: &AppState, headers: &HeaderMap, cert: Option<&CertFingerprint>) -> Credential {
    if headers.get_all(axum::http::header::AUTHORIZATION).iter().nth(1).is_some() {
        return Credential::Ambiguous;
    }
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    if let Some(fingerprint) = cert {
        return Credential::Certificate { fingerprint: fingerprint.clone(), bearer };
    }
    match bearer.map(Credential::Bearer) {
        Some(c) => c,
        None if state.options.local_admin_fallback => Credential::LocalAdmin,
        None => Credential::None,
    }
}
