//! Tools that ask the client for input: one interface for both eras.
//!
//! A tool calls [`Input::ask`] with its questions. If every question the
//! client can answer has an answer, it gets them back; otherwise `ask` returns
//! a [`ToolError`] that the tool passes on with `?`, and the reason it stopped
//! (a [`Stop`]) is left in the [`Input`]. The governed call then turns the
//! stop into a 2026-07-28 `input_required` result with a sealed
//! `requestState`, or into 2025 server-to-client requests on the open
//! exchange, and runs the tool again with the answers. Tools never know which.
//!
//! Invariants: a question is asked only if the client declared the capability
//! it needs; a malformed answer is a protocol error (-32602), never an answer;
//! a tool is re-run from the start each round, so its effect happens once,
//! in the round that has every answer.

pub mod answers;
pub mod question;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

pub use answers::{Answer, ElicitAction};
pub use question::Question;

use crate::sync::lock;
use crate::tools::{ToolError, ToolErrorCode};
use crate::wire::denial::{BadRetry, Denial};

/// Why a tool stopped before finishing (read by the governed call).
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Ask these questions, then run the tool again.
    Ask(Interrupt),
    /// An answer is not a valid result of its request (-32602).
    Malformed(Denial),
    /// None of the questions can be asked: the client lacks these capabilities.
    Unaskable(Map<String, Value>),
}

/// Questions still open, and what they were bound to.
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupt {
    /// Keyed questions, in key order.
    pub questions: BTreeMap<String, Question>,
    /// Answers already accepted (carried into the next round).
    pub answered: Map<String, Value>,
    /// What the questions were asked about (see [`Input::ask`]).
    pub bind: Value,
}

/// What a round of a tool call brings: earlier answers, the client's
/// capabilities, and where the tool's stop is left.
#[derive(Debug, Default)]
pub struct Input {
    /// Answers from the client (this round) and from the sealed state (earlier rounds).
    answers: Map<String, Value>,
    /// The binding the carried answers were given under.
    bound: Value,
    capabilities: Map<String, Value>,
    /// Answers accepted by `ask` so far this round (all carried if a later question stops).
    accepted: Mutex<Map<String, Value>>,
    stop: Mutex<Option<Stop>>,
}

impl Input {
    /// A round's input: `given` answers this round, `carried` from earlier
    /// rounds under `bound`.
    pub fn new(
        capabilities: Map<String, Value>,
        given: Map<String, Value>,
        carried: Map<String, Value>,
        bound: Value,
    ) -> Self {
        let mut answers = carried;
        answers.extend(given);
        Self { answers, bound, capabilities, accepted: Mutex::default(), stop: Mutex::new(None) }
    }

    /// Whether the client can be asked this kind of question.
    pub fn can_ask(&self, question: &Question) -> bool {
        self.capabilities.get(question.capability()).is_some_and(Value::is_object)
    }

    /// Answers to every question the client can be asked, or a stop.
    ///
    /// `bind` names what the questions are about (a digest of what will be
    /// done, say): answers given under another binding (or without the
    /// sealed state of the round that asked) do not count, so a confirmation
    /// is never reused for a changed plan nor made up by the client. `Null`
    /// binds nothing. A call binds at most one value. Questions the client
    /// cannot be asked are left out; if none is left, the call cannot proceed
    /// ([`Stop::Unaskable`]).
    pub fn ask(&self, questions: Vec<(&str, Question)>, bind: Value) -> Result<BTreeMap<String, Answer>, ToolError> {
        let (askable, unaskable): (Vec<_>, Vec<_>) = questions.into_iter().partition(|(_, q)| self.can_ask(q));
        if askable.is_empty() {
            let missing = unaskable.iter().map(|(_, q)| (q.capability().to_owned(), json!({}))).collect();
            return Err(self.stop(Stop::Unaskable(missing)));
        }
        // Answers count only under the binding they were given for: a tool that binds
        // its questions needs the sealed state of the round that asked them.
        let answers_count = bind.is_null() || bind == self.bound;
        let mut got = BTreeMap::new();
        let mut open = BTreeMap::new();
        for (key, question) in askable {
            match self.answers.get(key) {
                Some(raw) if answers_count => match answers::parse(&question, raw) {
                    Ok(answer) => {
                        lock(&self.accepted).insert(key.to_owned(), raw.clone());
                        got.insert(key.to_owned(), answer);
                    }
                    Err(detail) => {
                        let e = Denial::BadRetry {
                            what: BadRetry::InputResponseMalformed,
                            message: format!("inputResponses[\"{key}\"]: {detail}"),
                            key: Some(key.to_owned()),
                        };
                        return Err(self.stop(Stop::Malformed(e)));
                    }
                },
                _ => {
                    open.insert(key.to_owned(), question);
                }
            }
        }
        if open.is_empty() {
            return Ok(got);
        }
        let answered = lock(&self.accepted).clone();
        Err(self.stop(Stop::Ask(Interrupt { questions: open, answered, bind })))
    }

    fn stop(&self, stop: Stop) -> ToolError {
        let message = match &stop {
            Stop::Ask(_) => "the tool needs input from the client",
            Stop::Malformed(_) => "an input response is malformed",
            Stop::Unaskable(_) => "the tool needs input the client cannot give (a client capability is missing)",
        };
        let code = match &stop {
            Stop::Unaskable(_) => ToolErrorCode::ClientCapabilityMissing,
            _ => ToolErrorCode::InputRequired,
        };
        *lock(&self.stop) = Some(stop);
        ToolError::new(code, message)
    }

    /// Why the tool stopped, if it did (taken once).
    pub fn take_stop(&self) -> Option<Stop> {
        lock(&self.stop).take()
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
