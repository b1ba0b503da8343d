//! The rounds of an interactive tool call, and the 2026-07-28 way of asking.
//!
//! A round that needs answers hands its questions to the request's
//! [`Asker`]: the 2026-07-28 asker here seals what the next round must know
//! into an `input_required` result (the client's retry is a new, fully
//! governed request); the 2025 asker (`protocol::asking`) puts them to the
//! client on the open exchange and the call runs again, in process.
//!
//! Invariants: each round passes the whole gate chain and leaves its own
//! audit record; only the round that finishes is charged; a call is bounded
//! in rounds.

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::server::call::{Governance, RoundEnd, RoundInput};
use crate::tools::ask::Interrupt;
use crate::tools::ask::state::{self, StateKey, StatePayload};
use crate::tools::context::{Asked, Asker, CallContext, SharedContext};
use crate::tools::{ToolError, ToolErrorCode, ToolOutcome};
use crate::wire::errors::RpcError;

/// How long a sealed request state stays valid.
pub const STATE_TTL_SECS: i64 = 600;

/// Most rounds one call may take in process (a tool cannot keep a client asking forever).
pub const MAX_ROUNDS: usize = 8;

/// Run a call to completion, or to the result that ends this request.
pub async fn drive(gov: &Governance, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
    let mut round = RoundInput {
        given: cx.retry.input_responses.clone(),
        state: cx.retry.request_state.clone(),
        ..RoundInput::default()
    };
    for _ in 0..MAX_ROUNDS {
        let (interrupt, asked) = match gov.round(&name, arguments.clone(), &cx, round).await? {
            RoundEnd::Done(result) => return Ok(result),
            RoundEnd::Ask(interrupt, asked) => (interrupt, asked),
        };
        let given = match cx.ask_via.ask(&cx, &interrupt, &asked).await {
            Ok(given) => given,
            Err(result) => return Ok(result),
        };
        round = RoundInput { given, state: None, carried: interrupt.answered, bound: interrupt.bind };
    }
    let failure =
        ToolError::new(ToolErrorCode::Internal, "the tool kept asking; gave up after the maximum number of rounds");
    Ok(ToolOutcome::failure(&failure).into_result())
}

/// The 2026-07-28 asker: an `input_required` result with the open questions
/// and the sealed state of this call.
pub struct Sealed {
    pub key: StateKey,
    pub clock: Clock,
}

impl Asker for Sealed {
    fn ask<'a>(
        &'a self,
        _cx: &'a CallContext,
        interrupt: &'a Interrupt,
        asked: &'a Asked,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Value>> {
        let result = input_required(self, interrupt, asked);
        Box::pin(async move { Err(result) })
    }

    // A tool that cannot ask is -32021 under 2026-07-28.
    fn unaskable_denies(&self) -> bool {
        true
    }
}

fn input_required(sealer: &Sealed, interrupt: &Interrupt, asked: &Asked) -> Value {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let payload = StatePayload {
        sub: asked.principal.clone(),
        tool: asked.tool.clone(),
        args: asked.args_digest.clone(),
        exp: sealer.clock.now().unix_timestamp() + STATE_TTL_SECS,
        nonce: hex::encode(nonce),
        bind: interrupt.bind.clone(),
        answers: interrupt.answered.clone(),
    };
    let requests: Map<String, Value> = interrupt.questions.iter().map(|(k, q)| (k.clone(), q.request())).collect();
    json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": state::seal(&sealer.key, &payload),
    })
}
