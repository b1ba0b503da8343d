//! The one JSON-RPC dispatcher every transport and both eras share.
//!
//! Invariant: methods see only the [`CallContext`] the era layer built (in the
//! request's `Extensions`) and return era-neutral results; a `tools/call`
//! reaches a tool only through the gate chain.

use std::sync::Arc;

use jsonrpsee::core::server::MethodCallback;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{ConnectionId, Extensions, RpcModule};
use serde_json::{Map, Value, json};

use crate::events::Filter;
use crate::server::call::Governance;
use crate::tools::Registry;
use crate::tools::context::{CallContext, SharedContext};
use crate::wire::cursor;
use crate::wire::errors::RpcError;

/// Default number of tools per `tools/list` page.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// How long a client may cache list results (milliseconds).
pub const LIST_TTL_MS: u64 = 60_000;

/// State the methods share.
pub struct Core {
    pub gov: Arc<Governance>,
    pub page_size: usize,
}

/// The dispatcher: a jsonrpsee `RpcModule` holding every MCP method.
pub struct Dispatcher {
    module: RpcModule<Core>,
    gov: Arc<Governance>,
}

impl Dispatcher {
    /// Build the dispatcher over the governed core.
    pub fn new(gov: Arc<Governance>, page_size: usize) -> Result<Self, jsonrpsee::core::RegisterMethodError> {
        let core = Core { gov: Arc::clone(&gov), page_size: page_size.max(1) };
        let mut module = RpcModule::new(core);
        module.register_async_method("tools/list", |p, core, ext| async move { list_tools(&core, &p, &ext) })?;
        module.register_async_method("tools/call", |p, core, ext| async move { call_tool(&core, p, ext).await })?;
        module
            .register_async_method("subscriptions/listen", |p, core, ext| async move { listen(&core, p, ext).await })?;
        Ok(Self { module, gov })
    }

    /// Dispatch one admitted request; `conversation` is its legacy session, if any.
    pub async fn call(
        &self,
        method: &str,
        params: &Map<String, Value>,
        context: CallContext,
    ) -> Result<Value, RpcError> {
        let Some(MethodCallback::Async(callback)) = self.module.method(method) else {
            return Err(RpcError::method_not_found(method));
        };
        let mut ext = Extensions::new();
        ext.insert::<SharedContext>(Arc::new(context));
        let raw = Value::Object(params.clone()).to_string();
        let response = callback(
            jsonrpsee::types::Id::Number(0),
            Params::new(Some(&raw)).into_owned(),
            ConnectionId(0),
            usize::MAX,
            ext,
        )
        .await;
        let mut reply: Value = serde_json::from_str(response.as_json().get())
            .map_err(|e| RpcError::internal(format!("dispatcher produced invalid JSON: {e}")))?;
        if let Some(result) = reply.get_mut("result") {
            return Ok(result.take());
        }
        let error = reply.get_mut("error").map(Value::take).unwrap_or(Value::Null);
        Err(RpcError {
            code: error.get("code").and_then(Value::as_i64).and_then(|c| i32::try_from(c).ok()).unwrap_or(-32603),
            message: error.get("message").and_then(Value::as_str).unwrap_or("Internal error").to_owned(),
            data: error.get("data").cloned(),
        })
    }

    /// The registry behind `tools/list` and `tools/call`.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.gov.registry
    }

    /// The governed core (store, gate chain, clock, config).
    pub fn governance(&self) -> &Arc<Governance> {
        &self.gov
    }
}

type MethodResult = Result<Value, ErrorObjectOwned>;

fn context(ext: &Extensions) -> Result<SharedContext, ErrorObjectOwned> {
    ext.get::<SharedContext>()
        .cloned()
        .ok_or_else(|| RpcError::internal("request reached a method without context").into())
}

fn object_params(p: &Params<'_>) -> Result<Map<String, Value>, ErrorObjectOwned> {
    if p.is_object() || p.as_str().is_none() {
        p.parse::<Option<Map<String, Value>>>()
            .map(Option::unwrap_or_default)
            .map_err(|_| RpcError::invalid_params("params must be an object").into())
    } else {
        Err(RpcError::invalid_params("params must be an object").into())
    }
}

fn list_tools(core: &Core, p: &Params<'_>, ext: &Extensions) -> MethodResult {
    let cx = context(ext)?;
    let (principal, view) = core.gov.authenticate_with_billing(&cx, "tools/list").map_err(ErrorObjectOwned::from)?;
    let params = object_params(p)?;
    let cursor = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.as_str()),
        Some(_) => return Err(RpcError::invalid_params("cursor must be a string").into()),
    };
    let visible = core.gov.visible_tools(&principal, view.as_ref());
    let tools: Vec<Value> = visible.iter().map(|t| t.descriptor(t.spec.name)).collect();
    let (page, next) = cursor::page(&tools, cursor, core.page_size).map_err(ErrorObjectOwned::from)?;
    // The list depends on the caller's role, so it may only be cached privately.
    let mut result = json!({ "tools": page, "ttlMs": LIST_TTL_MS, "cacheScope": "private" });
    if let Some(n) = next {
        result["nextCursor"] = json!(n);
    }
    Ok(result)
}

async fn call_tool(core: &Core, p: Params<'static>, ext: Extensions) -> MethodResult {
    let cx = context(&ext)?;
    let mut params = object_params(&p)?;
    let Some(Value::String(name)) = params.remove("name") else {
        return Err(RpcError::invalid_params("tools/call needs a string \"name\"").into());
    };
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err(RpcError::invalid_params("tools/call \"arguments\" must be an object").into()),
    };
    core.gov.call_tool(name, arguments, cx).await.map_err(ErrorObjectOwned::from)
}

/// `subscriptions/listen`: acknowledge, then deliver the events addressed to
/// the caller's audience until the server ends the stream (the client ends
/// it by closing the stream or cancelling the request, which drops this call).
async fn listen(core: &Core, p: Params<'static>, ext: Extensions) -> MethodResult {
    let cx = context(&ext)?;
    let principal = core.gov.authenticate(&cx, "subscriptions/listen").map_err(ErrorObjectOwned::from)?;
    let params = object_params(&p)?;
    let filter = Filter::honoured(params.get("notifications"));
    let Some(sink) = cx.sink.clone() else {
        return Err(RpcError::invalid_request("subscriptions/listen needs a stream to deliver on").into());
    };
    let mut subscription = core.gov.events.listen(&principal, filter, cx.rpc_id.clone(), sink).map_err(|e| {
        ErrorObjectOwned::from(
            RpcError::new(crate::wire::errors::RATE_LIMITED, e.to_string())
                .with_data(json!({ "reason": "too_many_streams" })),
        )
    })?;
    // Ends when the server shuts down or the stream has lived its lifetime (the client listens again).
    let _ = tokio::time::timeout(crate::events::STREAM_LIFETIME, subscription.ended()).await;
    Ok(json!({ "_meta": { crate::events::META_SUBSCRIPTION_ID: cx.rpc_id } }))
}
