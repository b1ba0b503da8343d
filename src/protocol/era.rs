//! The era layer: turns a 2026-07-28 or a 2025 request into the same internal
//! call, and the internal result back into that era's shape.
//!
//! Invariant: this is the only place that branches on the era. Modern checks
//! run in the order the spec fixes: method known, `_meta` shape (-32602),
//! headers equal the body (-32020), version supported (-32022).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::asking::{ClientRequests, Nowhere};
use super::headers::{self, McpHeaders};
use super::meta;
use crate::audit::new_request_id;
use crate::identity::Credential;
use crate::protocol::session::LegacySession;
use crate::tools::context::{AskVia, CallContext, Retry};
use crate::wire::NotificationSink;
use crate::wire::TransportKind;
use crate::wire::errors::RpcError;
use crate::wire::jsonrpc::Request;
use crate::wire::{Era, MODERN_VERSION};

/// Methods a 2026-07-28 client may call.
pub const MODERN_METHODS: [&str; 4] = ["server/discover", "tools/list", "tools/call", "subscriptions/listen"];

/// Methods a 2025 client may call.
pub const LEGACY_METHODS: [&str; 5] = ["initialize", "ping", "logging/setLevel", "tools/list", "tools/call"];

/// How a transport has classified a request.
#[derive(Debug, Clone)]
pub enum Route {
    /// Stateless 2026-07-28; `headers` is present over HTTP.
    Modern { headers: Option<McpHeaders> },
    /// A 2025 conversation (the stdio process's, or an HTTP session).
    Legacy { session: Arc<LegacySession> },
}

impl Route {
    pub fn era(&self) -> Era {
        match self {
            Route::Modern { .. } => Era::Modern,
            Route::Legacy { .. } => Era::Legacy,
        }
    }
}

/// stdio decides per message: modern `_meta` (or a modern-only method) is
/// served statelessly; everything else belongs to the process's conversation.
pub fn route_for_stdio(request: &Request, conversation: &Arc<LegacySession>) -> Route {
    let modern_meta = request.params.get("_meta").and_then(Value::as_object).is_some_and(|m| {
        m.contains_key(crate::wire::META_PROTOCOL_VERSION) || m.contains_key(crate::wire::META_CLIENT_CAPABILITIES)
    });
    if modern_meta || request.method == "server/discover" {
        Route::Modern { headers: None }
    } else {
        Route::Legacy { session: Arc::clone(conversation) }
    }
}

/// Check a request against its era and build the context the dispatcher sees.
pub fn admit(
    request: &Request,
    route: &Route,
    transport: TransportKind,
    sink: Option<NotificationSink>,
    credential: Credential,
    sealed: &AskVia,
) -> Result<CallContext, RpcError> {
    let mut cx = match route {
        Route::Modern { headers } => admit_modern(request, headers.as_ref(), transport, sink, sealed)?,
        Route::Legacy { session } => admit_legacy(request, session, transport, sink)?,
    };
    cx.credential = credential;
    Ok(cx)
}

fn admit_modern(
    request: &Request,
    headers: Option<&McpHeaders>,
    transport: TransportKind,
    sink: Option<NotificationSink>,
    sealed: &AskVia,
) -> Result<CallContext, RpcError> {
    if !MODERN_METHODS.contains(&request.method.as_str()) {
        return Err(RpcError::method_not_found(&request.method));
    }
    let meta = meta::read(&request.params)?;
    if let Some(h) = headers {
        let tool_name = request.params.get("name").and_then(Value::as_str);
        headers::check(h, &meta.protocol_version, &request.method, tool_name)?;
    }
    if meta.protocol_version != MODERN_VERSION {
        return Err(RpcError::unsupported_version(&json!(meta.protocol_version)));
    }
    let retry = if request.method == "tools/call" { retry(&request.params)? } else { Retry::default() };
    Ok(CallContext {
        era: Era::Modern,
        protocol_version: meta.protocol_version,
        transport,
        client_capabilities: meta.client_capabilities,
        log_level: meta.log_level,
        progress_token: meta.progress_token,
        sink,
        request_id: new_request_id(),
        credential: Credential::None,
        session_principal: None,
        idempotency_key: idempotency_key(&request.params),
        rpc_id: request.id.value().clone(),
        ask_via: Arc::clone(sealed),
        retry,
    })
}

/// The multi round-trip fields of a 2026-07-28 `tools/call`: `inputResponses`
/// must be an object of objects and `requestState` a string, if present.
fn retry(params: &Map<String, Value>) -> Result<Retry, RpcError> {
    let input_responses = match params.get("inputResponses") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(RpcError::invalid_params("inputResponses must be an object keyed like inputRequests")
                .with_data(json!({ "reason": "input_response_malformed" })));
        }
    };
    let request_state = match params.get("requestState") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(RpcError::invalid_params("requestState must be the string the server sent")
                .with_data(json!({ "reason": "request_state_invalid" })));
        }
    };
    Ok(Retry { input_responses, request_state })
}

fn admit_legacy(
    request: &Request,
    session: &Arc<LegacySession>,
    transport: TransportKind,
    sink: Option<NotificationSink>,
) -> Result<CallContext, RpcError> {
    if !LEGACY_METHODS.contains(&request.method.as_str()) {
        return Err(RpcError::method_not_found(&request.method));
    }
    let state = session.state();
    let version = match (&state.version, request.method.as_str()) {
        (_, "initialize") => negotiate(&request.params),
        (Some(v), _) => v.clone(),
        (None, "ping") => crate::wire::LEGACY_DEFAULT.to_owned(),
        (None, _) => return Err(not_initialized()),
    };
    // 2025 clients answer questions as requests on the open exchange, when there is one.
    let ask_via: AskVia =
        if sink.is_some() { Arc::new(ClientRequests(Arc::clone(session))) } else { Arc::new(Nowhere) };
    Ok(CallContext {
        era: Era::Legacy,
        protocol_version: version,
        transport,
        client_capabilities: state.client_capabilities,
        log_level: state.log_level,
        progress_token: meta::progress_token(&request.params),
        sink,
        request_id: new_request_id(),
        credential: Credential::None,
        session_principal: state.principal,
        idempotency_key: idempotency_key(&request.params),
        rpc_id: request.id.value().clone(),
        ask_via,
        retry: Retry::default(),
    })
}

/// The idempotency key in `_meta`, as sent (either era).
fn idempotency_key(params: &Map<String, Value>) -> Option<Value> {
    params.get("_meta").and_then(|m| m.get(crate::wire::META_IDEMPOTENCY_KEY)).cloned()
}

/// The legacy version an `initialize` gets: the one asked for if we speak it, else the newest.
pub fn negotiate(params: &Map<String, Value>) -> String {
    match params.get("protocolVersion").and_then(Value::as_str) {
        Some(v) if crate::wire::is_legacy_version(v) => v.to_owned(),
        _ => crate::wire::LEGACY_DEFAULT.to_owned(),
    }
}

/// The documented answer to a legacy request before `initialize`.
pub fn not_initialized() -> RpcError {
    RpcError::invalid_request(
        "Invalid request: no protocol session. Send `initialize` first (2025 revisions), or include \
         params._meta[\"io.modelcontextprotocol/protocolVersion\"] and \
         [\"io.modelcontextprotocol/clientCapabilities\"] (2026-07-28).",
    )
    .with_data(json!({ "reason": "not_initialized", "supported": crate::wire::SUPPORTED_VERSIONS }))
}

/// What the server implements in each era: list changes are delivered on
/// 2026-07-28 listen streams; 2025 sessions have no stream to deliver them on.
pub fn capabilities(era: Era) -> Value {
    let list_changed = era == Era::Modern;
    json!({ "tools": { "listChanged": list_changed }, "logging": {} })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::headers::HeaderField;
    use crate::wire::errors::{HEADER_MISMATCH, INVALID_PARAMS, METHOD_NOT_FOUND, UNSUPPORTED_VERSION};

    fn request(method: &str, params: Value) -> Request {
        Request {
            id: crate::wire::jsonrpc::Id::from_value(json!(1)),
            method: method.to_owned(),
            params: params.as_object().cloned().unwrap_or_default(),
        }
    }

    fn modern_meta(version: &str) -> Value {
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}})
    }

    fn admit_t(
        r: &Request,
        route: &Route,
        t: TransportKind,
        sink: Option<NotificationSink>,
    ) -> Result<CallContext, RpcError> {
        let sealed: AskVia = Arc::new(super::super::asking::Nowhere);
        admit(r, route, t, sink, Credential::None, &sealed)
    }

    fn code(r: Result<CallContext, RpcError>) -> Option<i32> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn modern_checks_run_in_spec_order() {
        let route = |v: &str| Route::Modern {
            headers: Some(McpHeaders {
                protocol_version: HeaderField::Value(v.to_owned()),
                method: HeaderField::Value("tools/list".to_owned()),
                name: HeaderField::Absent,
            }),
        };
        let t = TransportKind::Http;
        assert_eq!(code(admit_t(&request("ping", json!({})), &route("2026-07-28"), t, None)), Some(METHOD_NOT_FOUND));
        // Bad _meta beats a header mismatch; a mismatch beats an unsupported version.
        assert_eq!(
            code(admit_t(&request("tools/list", json!({})), &route("1999-01-01"), t, None)),
            Some(INVALID_PARAMS)
        );
        let mismatched = request("tools/list", modern_meta("1999-01-01"));
        assert_eq!(code(admit_t(&mismatched, &route("2026-07-28"), t, None)), Some(HEADER_MISMATCH));
        let unsupported = request("tools/list", modern_meta("1999-01-01"));
        assert_eq!(code(admit_t(&unsupported, &route("1999-01-01"), t, None)), Some(UNSUPPORTED_VERSION));
        assert!(admit_t(&request("tools/list", modern_meta("2026-07-28")), &route("2026-07-28"), t, None).is_ok());
    }

    #[test]
    fn legacy_requests_need_initialize_except_ping() {
        let route = Route::Legacy { session: Arc::new(LegacySession::new()) };
        let t = TransportKind::Stdio;
        assert_eq!(code(admit_t(&request("tools/list", json!({})), &route, t, None)), Some(-32600));
        assert!(admit_t(&request("ping", json!({})), &route, t, None).is_ok());
        assert_eq!(code(admit_t(&request("server/discover", json!({})), &route, t, None)), Some(METHOD_NOT_FOUND));
    }

    #[test]
    fn initialize_echoes_a_legacy_version_and_answers_newest_otherwise() {
        for (asked, got) in [
            ("2025-03-26", "2025-03-26"),
            ("2025-06-18", "2025-06-18"),
            ("2024-11-05", "2025-11-25"),
            ("2026-07-28", "2025-11-25"),
        ] {
            assert_eq!(negotiate(&request("initialize", json!({"protocolVersion": asked})).params), got);
        }
    }

    #[test]
    fn only_2026_clients_are_promised_list_changes() {
        assert_eq!(capabilities(Era::Modern)["tools"]["listChanged"], true);
        assert_eq!(capabilities(Era::Legacy)["tools"]["listChanged"], false, "no 2025 stream delivers them");
    }
}
