//! tollgate as an OAuth 2.1 protected resource over HTTP: the RFC 9728
//! metadata document and the `WWW-Authenticate` challenges of 401 and 403.
//!
//! Invariants: the resource URI and the metadata URL come from
//! configuration, never from `Host`; a 401 always points to the metadata;
//! a 403 says `insufficient_scope` only when more scope would help (the gate
//! said so), never for an unbound subject or a role that forbids the tool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::reply::json_reply;
use crate::config::OAuthConfig;

/// Largest error body read to find its reason.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// What the transport publishes about the resource.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    /// The path the metadata is served at (`/.well-known/oauth-protected-resource/mcp`).
    pub metadata_path: String,
    /// The absolute URL of the metadata (the `resource_metadata` of every challenge).
    pub metadata_url: String,
    /// The RFC 9728 document.
    pub document: Value,
    /// Scopes a client should ask for first (`scope` of a 401 challenge).
    pub scope: String,
}

impl ProtectedResource {
    /// From the `[oauth]` settings; `None` when OAuth is off.
    pub fn of(config: &OAuthConfig) -> Option<Arc<Self>> {
        if !config.enabled() {
            return None;
        }
        let (scheme, rest) = config.resource.split_once("://")?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        let metadata_path = format!("/.well-known/oauth-protected-resource{path}");
        let metadata_url = format!("{scheme}://{authority}{metadata_path}");
        let issuers: Vec<&str> = config.issuers.iter().map(|i| i.url.as_str()).collect();
        let document = json!({
            "resource": config.resource,
            "authorization_servers": issuers,
            "scopes_supported": config.scopes_supported,
            "bearer_methods_supported": ["header"],
            "resource_name": "tollgate",
        });
        Some(Arc::new(Self { metadata_path, metadata_url, document, scope: config.scopes_supported.join(" ") }))
    }

    /// The challenge of a 401: `error="invalid_token"` unless no credential was sent.
    pub fn unauthorized(&self, reason: Option<&str>) -> String {
        let error = match reason {
            Some("missing_credential") | None => String::new(),
            Some(_) => "error=\"invalid_token\", ".to_owned(),
        };
        let scope = if self.scope.is_empty() { String::new() } else { format!(", scope=\"{}\"", self.scope) };
        format!("Bearer {error}resource_metadata=\"{}\"{scope}", self.metadata_url)
    }

    /// The challenge of a 403 for too little scope.
    pub fn insufficient_scope(&self, scope: &str) -> String {
        format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"", self.metadata_url)
    }
}

/// `GET /.well-known/oauth-protected-resource/…`.
pub async fn metadata(State(resource): State<Arc<ProtectedResource>>) -> Response {
    json_reply(StatusCode::OK, &resource.document, &[])
}

/// Give a 401 or 403 its OAuth challenge (read from the JSON-RPC error's `data`).
pub async fn challenge(State(resource): State<Option<Arc<ProtectedResource>>>, response: Response) -> Response {
    let status = response.status();
    let Some(resource) = resource.filter(|_| status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN)
    else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let data = &parsed["error"]["data"];
    let reason = data["reason"].as_str();
    let value = match (status, reason) {
        (StatusCode::UNAUTHORIZED, _) => Some(resource.unauthorized(reason)),
        (_, Some("insufficient_scope")) => data["scope"].as_str().map(|s| resource.insufficient_scope(s)),
        _ => None,
    };
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        parts.headers.insert(header::WWW_AUTHENTICATE, v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> Arc<ProtectedResource> {
        let mut c = OAuthConfig { resource: "https://mcp.example.com/mcp".into(), ..OAuthConfig::default() };
        c.set_issuer("https://auth.example.com");
        ProtectedResource::of(&c).expect("on")
    }

    #[test]
    fn the_metadata_describes_exactly_the_configured_resource_at_its_path_suffixed_url() {
        let r = resource();
        assert_eq!(r.metadata_path, "/.well-known/oauth-protected-resource/mcp");
        assert_eq!(r.metadata_url, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
        assert_eq!(r.document["resource"], "https://mcp.example.com/mcp");
        assert_eq!(r.document["authorization_servers"], json!(["https://auth.example.com"]));
        assert_eq!(r.document["bearer_methods_supported"], json!(["header"]));
        assert!(ProtectedResource::of(&OAuthConfig::default()).is_none());
    }

    #[test]
    fn challenges_say_invalid_token_only_when_a_credential_was_sent() {
        let r = resource();
        assert!(!r.unauthorized(Some("missing_credential")).contains("error="));
        let bad = r.unauthorized(Some("token_expired"));
        assert!(
            bad.starts_with("Bearer error=\"invalid_token\", resource_metadata=\"https://mcp.example.com/"),
            "{bad}"
        );
        assert!(r.insufficient_scope("tollgate:admin").contains("scope=\"tollgate:admin\""));
    }
}
