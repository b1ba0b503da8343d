//! Asking a 2025 client: the tool's questions go to the client as requests
//! on the call's own exchange (the POST's SSE stream, or stdout), and the
//! answers come back as responses on the same conversation.
//!
//! Invariant: a question is forgotten however its wait ends (answered, timed
//! out, or the call cancelled), so a late or forged response finds nothing.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::protocol::session::LegacySession;
use crate::tools::ask::Interrupt;
use crate::tools::context::{Asked, Asker, CallContext};
use crate::tools::{ToolError, ToolErrorCode, ToolOutcome};

/// How long a 2025 call waits for the client to answer one question (a person may be answering).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// Questions as requests to the client of one legacy conversation.
pub struct ClientRequests(pub Arc<LegacySession>);

/// A 2025 request without an open exchange (a batch element): nothing can be asked.
pub struct Nowhere;

impl Asker for ClientRequests {
    fn ask<'a>(
        &'a self,
        cx: &'a CallContext,
        interrupt: &'a Interrupt,
        _asked: &'a Asked,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Value>> {
        Box::pin(async move { ask_client(cx, &self.0, interrupt).await.map_err(ToolOutcome::into_result) })
    }

    // Under 2025 a tool that cannot ask fails as itself (`client_capability_missing`).
    fn unaskable_denies(&self) -> bool {
        false
    }
}

impl Asker for Nowhere {
    fn ask<'a>(
        &'a self,
        _cx: &'a CallContext,
        _interrupt: &'a Interrupt,
        _asked: &'a Asked,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Value>> {
        // Unreachable in practice: a context that cannot ask declares no capability.
        let failure = ToolError::new(ToolErrorCode::ClientCapabilityMissing, "this request cannot ask");
        Box::pin(async move { Err(ToolOutcome::failure(&failure).into_result()) })
    }

    fn can_ask(&self) -> bool {
        false
    }

    fn unaskable_denies(&self) -> bool {
        false
    }
}

/// Put each open question to a 2025 client and collect its answers.
async fn ask_client(
    cx: &CallContext,
    session: &LegacySession,
    interrupt: &Interrupt,
) -> Result<Map<String, Value>, ToolOutcome> {
    let unreachable =
        || ToolOutcome::failure(&ToolError::new(ToolErrorCode::ClientCapabilityMissing, "the client cannot be asked"));
    let sink = cx.sink.as_ref().ok_or_else(unreachable)?;
    let mut given = Map::new();
    for (key, question) in &interrupt.questions {
        let (id, answer) = session.expect_answer();
        // Forget the request however this ends (answered, timed out, or the call cancelled).
        let _waiting = Waiting { session, id: &id };
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": question.method(), "params": question.params() });
        if sink.send(request.into()).is_err() {
            return Err(unreachable());
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(Ok(result))) => {
                given.insert(key.clone(), result);
            }
            Ok(Ok(Err(error))) => {
                let said = error.get("message").and_then(Value::as_str).unwrap_or("an error");
                let message = format!("the client answered {} with {said}", question.method());
                return Err(ToolOutcome::failure(&ToolError::new(ToolErrorCode::Declined, message)));
            }
            Ok(Err(_)) | Err(_) => {
                let message = format!("the client did not answer {} in time", question.method());
                return Err(ToolOutcome::failure(&ToolError::new(ToolErrorCode::Declined, message)));
            }
        }
    }
    Ok(given)
}

/// A question waiting for its answer; dropping it forgets the question.
struct Waiting<'a> {
    session: &'a LegacySession,
    id: &'a str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.session.forget(self.id);
    }
}
