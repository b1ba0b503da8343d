//! Building HTTP answers: JSON bodies, SSE streams, security headers.
//!
//! Invariant: a request's answer is JSON unless its handler sends a
//! notification first; by then every check has passed, so a 200 stream never
//! has to turn into an error status. Under 2026-07-28 a closed stream cancels
//! the request; under 2025 a dropped connection does not.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::identity::Credential;
use crate::protocol::endpoint::McpServer;
use crate::protocol::era::Route;
use crate::wire::TransportKind;
use crate::wire::errors::{INVALID_REQUEST, PARSE_ERROR, RpcError};
use crate::wire::jsonrpc::{self, Id, Outgoing, Request};

/// Status of a JSON-RPC error answered on the 2025 path: gate denials and
/// malformed messages keep their status; other protocol errors travel in a 200.
pub fn legacy_status(error: &RpcError) -> StatusCode {
    let status = match error.code {
        PARSE_ERROR | INVALID_REQUEST => 400,
        c if (-31999..=-31000).contains(&c) => error.http_status(),
        _ => 200,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// Status of a JSON-RPC error on the 2026-07-28 path.
pub fn modern_status(error: &RpcError) -> StatusCode {
    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Serve a request, answering JSON or, if the handler notifies first, SSE.
pub async fn serve_request(
    server: Arc<McpServer>,
    request: Request,
    route: Route,
    transport: TransportKind,
    modern: bool,
    credential: Credential,
) -> Response {
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let id = request.id.clone();
    let mut task =
        Some(tokio::spawn(async move { server.request(&request, &route, transport, Some(tx), credential).await }));
    let mut guard = TaskGuard { task: task.take(), abort_on_drop: modern };
    let first = rx.recv().await;
    match first {
        None => {
            let outcome = guard.finish().await;
            let (status, body) = match outcome {
                Ok(result) => (StatusCode::OK, jsonrpc::success(&id, result)),
                Err(e) => (if modern { modern_status(&e) } else { legacy_status(&e) }, jsonrpc::failure(&id, &e)),
            };
            let retry = body.error().and_then(|e| e.data.as_ref()?.get("retry_after_ms")?.as_u64());
            let extra: Vec<(&'static str, String)> =
                retry.map(|ms| ("retry-after", retry_after(ms))).into_iter().collect();
            json_reply(status, &body, &extra)
        }
        Some(note) => sse_reply(id, note, rx, guard, &[]),
    }
}

/// Owns the request task; aborts it when dropped if the era treats a closed stream as cancellation.
struct TaskGuard {
    task: Option<JoinHandle<Result<Value, RpcError>>>,
    abort_on_drop: bool,
}

impl TaskGuard {
    async fn finish(&mut self) -> Result<Value, RpcError> {
        match self.task.take() {
            Some(t) => t.await.unwrap_or_else(|e| Err(RpcError::internal(format!("request task failed: {e}")))),
            None => Err(RpcError::internal("request task already finished")),
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let (Some(task), true) = (&self.task, self.abort_on_drop) {
            task.abort();
        }
    }
}

fn sse_frame(message: &Outgoing) -> Bytes {
    Bytes::from(format!("event: message\ndata: {}\n\n", jsonrpc::to_text(message)))
}

fn sse_reply(
    id: Id,
    first: Outgoing,
    rx: mpsc::UnboundedReceiver<Outgoing>,
    guard: TaskGuard,
    extra: &[(&'static str, String)],
) -> Response {
    enum State {
        First(Outgoing, mpsc::UnboundedReceiver<Outgoing>, TaskGuard),
        Notes(mpsc::UnboundedReceiver<Outgoing>, TaskGuard),
        Done,
    }
    let stream = futures::stream::unfold(State::First(first, rx, guard), move |state| {
        let id = id.clone();
        async move {
            match state {
                State::First(note, rx, guard) => Some((sse_frame(&note), State::Notes(rx, guard))),
                State::Notes(mut rx, mut guard) => match rx.recv().await {
                    Some(note) => Some((sse_frame(&note), State::Notes(rx, guard))),
                    None => {
                        let reply = match guard.finish().await {
                            Ok(result) => jsonrpc::success(&id, result),
                            Err(e) => jsonrpc::failure(&id, &e),
                        };
                        Some((sse_frame(&reply.into()), State::Done))
                    }
                },
                State::Done => None,
            }
        }
    });
    let body = Body::from_stream(futures::StreamExt::map(stream, Ok::<_, std::convert::Infallible>));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    add_headers(&mut response, extra);
    response
}

/// A JSON body with a status.
pub fn json_reply<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
    extra: &[(&'static str, String)],
) -> Response {
    let mut response = Response::new(Body::from(jsonrpc::to_text(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    add_headers(&mut response, extra);
    response
}

/// A JSON-RPC error that belongs to no readable request (id null).
pub fn rpc_error_reply(status: StatusCode, error: &RpcError) -> Response {
    json_reply(status, &jsonrpc::failure(&Id::null(), error), &[])
}

/// -31429 as HTTP 429 with `Retry-After` in whole seconds, rounded up.
pub fn rate_limited(error: &RpcError) -> Response {
    let ms = error.data.as_ref().and_then(|d| d.get("retry_after_ms")).and_then(Value::as_u64).unwrap_or(1000);
    json_reply(
        StatusCode::TOO_MANY_REQUESTS,
        &jsonrpc::failure(&Id::null(), error),
        &[("retry-after", retry_after(ms))],
    )
}

/// `Retry-After` for a wait in milliseconds: whole seconds, rounded up, at least 1.
pub fn retry_after(ms: u64) -> String {
    ms.div_ceil(1000).max(1).to_string()
}

/// A status with no body.
pub fn status_only(status: StatusCode, extra: &[(&'static str, &'static str)]) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    for (k, v) in extra {
        response.headers_mut().insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    response
}

fn add_headers(response: &mut Response, extra: &[(&'static str, String)]) {
    for (k, v) in extra {
        if let Ok(value) = HeaderValue::from_str(v) {
            response.headers_mut().insert(HeaderName::from_static(k), value);
        }
    }
}

/// Headers every answer carries (and a bare challenge on a 401 that OAuth did not challenge).
pub async fn security_headers(mut response: Response) -> Response {
    let unauthorized = response.status() == StatusCode::UNAUTHORIZED;
    let h = response.headers_mut();
    if unauthorized && !h.contains_key(header::WWW_AUTHENTICATE) {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
