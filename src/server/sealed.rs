//! The 2026-07-28 way of asking: a round that needs answers ends the request
//! with an `input_required` result whose `requestState` seals what the next
//! round must know; the client's retry is a new, fully governed request.
//!
//! Invariant: a state is bound to its principal, tool and arguments, expires
//! after [`STATE_TTL_SECS`], and is honoured once (the nonce is consumed in
//! the commit).

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::tools::ask::Interrupt;
use crate::tools::ask::state::{self, StateKey, StatePayload};
use crate::tools::context::{Asked, Asker, CallContext};

/// How long a sealed request state stays valid.
pub const STATE_TTL_SECS: i64 = 600;

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
