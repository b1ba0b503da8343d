//! The rounds of an interactive tool call, in each era's way.
//!
//! 2026-07-28: a round that needs answers ends the request with an
//! `input_required` result whose `requestState` seals what the next round
//! must know; the client's retry is a new, fully governed request.
//! 2025: the questions go to the client as requests on the open exchange
//! (the POST's SSE stream, or stdout), and the call runs again, in process,
//! with the answers.
//!
//! Invariants: each round passes the whole gate chain and leaves its own
//! audit record; only the round that finishes is charged; a 2025 exchange
//! is bounded in rounds and in how long it waits for each answer.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::protocol::session::LegacySession;
use crate::server::call::{Asked, Governance, RoundEnd, RoundInput};
use crate::tools::ask::Interrupt;
use crate::tools::ask::state::{self, StatePayload};
use crate::tools::context::{AskVia, CallContext, SharedContext};
use crate::tools::{ToolError, ToolErrorCode, ToolOutcome};
use crate::wire::errors::RpcError;

/// How long a sealed request state stays valid.
pub const STATE_TTL_SECS: i64 = 600;

/// Most rounds one 2025 call may take (a tool cannot keep a client asking forever).
pub const MAX_LEGACY_ROUNDS: usize = 8;

/// How long a 2025 call waits for the client to answer one question (a person may be answering).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// Run a call to completion, or to the `input_required` result that ends this request.
pub async fn drive(gov: &Governance, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
    let mut round = RoundInput {
        given: cx.retry.input_responses.clone(),
        state: cx.retry.request_state.clone(),
        ..RoundInput::default()
    };
    for _ in 0..MAX_LEGACY_ROUNDS {
        let (interrupt, asked) = match gov.round(&name, arguments.clone(), &cx, round).await? {
            RoundEnd::Done(result) => return Ok(result),
            RoundEnd::Ask(interrupt, asked) => (interrupt, asked),
        };
        let session = match &cx.ask_via {
            AskVia::InputRequired => return Ok(input_required(gov, &interrupt, &asked)),
            AskVia::ClientRequests(session) => session,
            // Unreachable in practice: a context that cannot ask declares no capability.
            AskVia::Nowhere => return Ok(failure(ToolErrorCode::ClientCapabilityMissing, "this request cannot ask")),
        };
        let given = match ask_client(&cx, session, &interrupt).await {
            Ok(given) => given,
            Err(failed) => return Ok(failed.into_result()),
        };
        round = RoundInput { given, state: None, carried: interrupt.answered, bound: interrupt.bind };
    }
    Ok(failure(ToolErrorCode::Internal, "the tool kept asking; gave up after the maximum number of rounds"))
}

fn failure(code: ToolErrorCode, message: &str) -> Value {
    ToolOutcome::failure(&ToolError::new(code, message)).into_result()
}

/// The 2026-07-28 result that asks: the open questions and the sealed state of this call.
fn input_required(gov: &Governance, interrupt: &Interrupt, asked: &Asked) -> Value {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let payload = StatePayload {
        sub: asked.principal.clone(),
        tool: asked.tool.clone(),
        args: asked.args_digest.clone(),
        exp: gov.clock.now().unix_timestamp() + STATE_TTL_SECS,
        nonce: hex::encode(nonce),
        bind: interrupt.bind.clone(),
        answers: interrupt.answered.clone(),
    };
    let requests: Map<String, Value> = interrupt.questions.iter().map(|(k, q)| (k.clone(), q.request())).collect();
    json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": state::seal(gov.state_key(), &payload),
    })
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
        if sink.send(request).is_err() {
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
