//! A governed `tools/call`: gate chain, tool, and one commit.
//!
//! Invariants: every decision, allowed or denied, leaves an audit record;
//! an admitted call's effect and its record are committed in ONE transaction
//! (a tool failure rolls back the effect, never the record); the reply is
//! built only after that commit is durable; if the store cannot commit, the
//! caller gets -31503 and nothing is acknowledged (fail closed).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::Instrument;

use crate::audit::{Decision, RecordDraft, SYSTEM_CHAIN, digest_json};
use crate::billing::{BillingView, period};
use crate::clock::Clock;
use crate::config::Config;
use crate::events::{Announcements, Hub};
use crate::exec::{CommitPlan, Committed};
use crate::gate::address_limit::AddressLimit;
use crate::gate::credentials::Authenticator;
use crate::gate::{Admission, Chain, RateLimits, Refusal, policy};
use crate::identity::{Credential, Principal, TenantId};
use crate::server::heavy::{HeavyCalls, HeavySlot};
use crate::server::sealed::Sealed;
use crate::store::billing::IdempotencyScope;
use crate::store::denials::DenialKey;
use crate::store::held::Held;
use crate::store::notify::Heard;
use crate::store::{Store, StoreError, audit_log, tenants};
use crate::tools::ask::state::{self, StateKey};
use crate::tools::ask::{Input, Interrupt, Stop};
use crate::tools::context::{AskVia, Asked, CallContext, ServerFacts, SharedContext};
use crate::tools::registry::Handler;
use crate::tools::{RegisteredTool, Registry, ToolCx, ToolError, ToolErrorCode, ToolOutcome};
use crate::wire::TransportKind;
use crate::wire::denial::Denial;
use crate::wire::errors::RpcError;

/// Everything a governed call needs.
pub struct Governance {
    pub store: Arc<Store>,
    pub clock: Clock,
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub authenticator: Arc<Authenticator>,
    pub chain: Chain,
    /// Listen streams and the events addressed to them.
    pub events: Arc<Hub>,
    /// Seals and opens multi round-trip request states.
    state_key: StateKey,
    /// The 2026-07-28 asker (sealed `input_required` results), for the era layer to hand out.
    sealed: AskVia,
    address_limit: AddressLimit,
    /// The key and tenant buckets, shared with the gate's rate-limit step.
    pub(crate) rate_limits: Arc<RateLimits>,
    /// The heavy calls running per tenant.
    heavy: HeavyCalls,
    /// PostgreSQL: the thread hearing the other instances' events.
    _listener: Option<Arc<crate::store::notify::Listener>>,
    /// Start time and the like, for the operator console.
    facts: Arc<ServerFacts>,
}

/// What a round starts from: this round's answers, and either a sealed state
/// (2026-07-28) or the answers and binding carried in process (2025).
#[derive(Debug, Default)]
pub(crate) struct RoundInput {
    pub given: Map<String, Value>,
    pub state: Option<String>,
    pub carried: Map<String, Value>,
    pub bound: Value,
}

/// How a round ended.
pub(crate) enum RoundEnd {
    /// A result (a tool failure included) or a denial's answer.
    Done(Value),
    /// The tool needs answers first.
    Ask(Interrupt, Asked),
}

/// Who a request comes from, for its audit records (a download or a
/// session's DELETE has no call context).
pub(crate) struct Caller<'a> {
    pub credential: &'a Credential,
    pub transport: TransportKind,
    pub request_id: &'a str,
}

impl<'a> Caller<'a> {
    pub(crate) fn of(cx: &'a CallContext) -> Self {
        Self { credential: &cx.credential, transport: cx.transport, request_id: &cx.request_id }
    }
}

/// The ledger platform principals' calls are metered to.
pub const PLATFORM_LEDGER: &str = "_platform";

fn unavailable(e: &StoreError) -> RpcError {
    match e {
        StoreError::CommitUnknown(_) => RpcError::outcome_unknown(e),
        _ => RpcError::unavailable(e),
    }
}

/// The chain a decision is recorded in: the effective tenant's (if it
/// exists: a platform admin may name any string), else the principal's own
/// tenant's, else `_system`.
pub(crate) fn chain_of(store: &Store, principal: Option<&Principal>, tenant: Option<&TenantId>) -> String {
    let own = principal.and_then(|p| p.tenant.as_ref());
    let exists = |t: &TenantId| {
        store
            .read(|c| {
                c.set_scope(Some(&t.0))?;
                tenants::get(c, &t.0)
            })
            .ok()
            .flatten()
            .is_some()
    };
    let named = tenant.filter(|t| Some(*t) == own || exists(t));
    named.or(own).map(|t| t.0.clone()).unwrap_or_else(|| SYSTEM_CHAIN.to_owned())
}

impl Governance {
    pub fn new(store: Arc<Store>, clock: Clock, config: Config, registry: Arc<Registry>) -> Result<Self, StoreError> {
        let state_key = StateKey::new(store.derive_secret(state::KEY_LABEL)?)
            .map_err(|e| StoreError::Audit(format!("request-state key: {e}")))?;
        // Listen streams may hold at most half of the connections (at least one).
        let stream_capacity = (config.max_connections / 2).max(1);
        let authenticator = Arc::new(
            Authenticator::new(Arc::clone(&store), clock.clone(), config.multi_tenant).with_oauth(&config.oauth),
        );
        let rate_limits = Arc::new(RateLimits::new(Arc::clone(&store), clock.clone()));
        let chain = Chain::standard(
            Arc::clone(&registry),
            Arc::clone(&authenticator),
            clock.clone(),
            crate::gate::Flags::of(&config),
            Arc::clone(&rate_limits),
        );
        let rate = NonZeroU32::new(config.per_address_rps).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.per_address_burst).unwrap_or(NonZeroU32::MIN);
        let address_limit = AddressLimit::new(rate, burst);
        let sealed: AskVia = Arc::new(Sealed { key: state_key.clone(), clock: clock.clone() });
        let events = Arc::new(Hub::new(stream_capacity));
        // Several instances on one PostgreSQL: hear the others' events.
        let hub = Arc::downgrade(&events);
        let listener = store.listen_events(Box::new(move |heard| {
            let Some(hub) = hub.upgrade() else { return };
            match heard {
                Heard::Payload(p) => {
                    if !crate::events::apply_remote(&hub, &p) {
                        tracing::warn!("ignored an event payload this version does not understand");
                    }
                }
                Heard::Resync => hub.resync(),
            }
        }))?;
        let facts = Arc::new(ServerFacts {
            started_at: clock.now(),
            signing_key_file: store.signing_key_path().to_owned(),
            published: crate::tools::schemas::generate(&registry),
            schemas_gate: std::sync::OnceLock::new(),
        });
        Ok(Self {
            facts,
            sealed,
            store,
            clock,
            config: Arc::new(config),
            registry,
            authenticator,
            chain,
            events,
            _listener: listener.map(Arc::new),
            state_key,
            address_limit,
            rate_limits,
            heavy: HeavyCalls::default(),
        })
    }

    /// The per-client-address limit, before anything else is read; a refusal
    /// is counted in the `_system` chain's flood windows.
    pub fn admit_address(&self, addr: IpAddr, transport: TransportKind) -> Result<(), RpcError> {
        self.address_limit.check(addr).map_err(|denial| {
            let key = DenialKey {
                chain: SYSTEM_CHAIN.to_owned(),
                principal: "anonymous".to_owned(),
                reason: denial.reason().to_owned(),
                tool: None,
                transport: transport.as_str().to_owned(),
            };
            self.store.denials.note(key, self.clock.now(), "address-limit");
            denial.to_rpc()
        })
    }

    /// The asker of a 2026-07-28 request: questions become a sealed `input_required` result.
    pub fn sealed_asker(&self) -> AskVia {
        Arc::clone(&self.sealed)
    }

    /// Forget idle per-address buckets.
    pub fn sweep(&self) {
        self.address_limit.sweep();
    }

    /// The tools a principal may see, latest version of each, in name order:
    /// its role may call them, no flag turns them off, and its tenant's plan
    /// includes their feature (so a plan change can change the list, and
    /// listen streams are told).
    pub fn visible_tools(&self, principal: &Principal, view: Option<&BillingView>) -> Vec<Arc<RegisteredTool>> {
        let flags = crate::gate::Flags::of(&self.config);
        let now = self.clock.now();
        self.registry
            .latest(self.config.multi_tenant)
            .into_iter()
            .filter(|t| policy::allows(t, principal.role, &flags, view, now).is_ok())
            .collect()
    }

    fn draft(
        &self,
        cx: &CallContext,
        principal: Option<&Principal>,
        chain: &str,
        tool: Option<&RegisteredTool>,
    ) -> RecordDraft {
        RecordDraft {
            ts: self.clock.now_rfc3339(),
            request_id: cx.request_id.clone(),
            principal: principal.map(|p| p.id.clone()).unwrap_or_else(|| "anonymous".to_owned()),
            tenant: chain.to_owned(),
            tool: tool.map(|t| t.spec.name.to_owned()),
            version: tool.map(|t| t.spec.version),
            decision: Decision::Allow,
            reason: None,
            args_digest: None,
            result_digest: None,
            usage: Map::new(),
            transport: cx.transport.as_str().to_owned(),
            aggregate: None,
        }
    }

    /// Run one `tools/call` end to end (every round of it, for a 2025 client
    /// that answers questions on the open exchange); the result is era-neutral.
    /// Metered and logged (with the request id of its audit record) by [`crate::metrics::CallTimer`].
    pub async fn call_tool(&self, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
        let tool = self.registry.resolve(&name, self.config.multi_tenant).map_or("unknown", |t| t.spec.name);
        let timer = crate::metrics::CallTimer::start(tool, &cx.request_id, cx.transport);
        let result = drive(self, name, arguments, Arc::clone(&cx)).instrument(timer.span()).await;
        timer.finish(&result);
        result
    }

    /// One governed round of a call: gate chain, request state, tool, commit.
    pub(crate) async fn round(
        &self,
        name: &str,
        arguments: Value,
        cx: &SharedContext,
        round: RoundInput,
    ) -> Result<RoundEnd, RpcError> {
        let args_digest = digest_json(&arguments).unwrap_or_default();
        let mut admission = Admission::new(name.to_owned(), arguments, Arc::clone(cx));
        let permit = match self.chain.admit(&mut admission).await {
            Ok(permit) => permit,
            Err(refusal) => return self.deny(cx, &admission, refusal, Some(args_digest)).await.map(RoundEnd::Done),
        };
        let (tool, principal) = (Arc::clone(&permit.tool), permit.principal.clone());
        let opened = match &round.state {
            None => None,
            Some(sealed) => {
                let expected = state::Expected {
                    sub: &principal.id,
                    tool: &tool.contract(),
                    args: &args_digest,
                    now: self.clock.now().unix_timestamp(),
                };
                match state::open(&self.state_key, sealed, &expected) {
                    Ok(payload) => Some(payload),
                    Err(e) => {
                        let refusal = Refusal::Deny(e.refusal());
                        return self.deny(cx, &admission, refusal, Some(args_digest)).await.map(RoundEnd::Done);
                    }
                }
            }
        };
        let (carried, bound, consume) = match opened {
            Some(p) => (p.answers, p.bind, Some((p.nonce, p.exp))),
            None => (round.carried, round.bound, None),
        };
        // A 2025 request without an open exchange cannot be asked anything.
        let capabilities = if cx.ask_via.can_ask() { cx.client_capabilities.clone() } else { Map::new() };
        let input = Arc::new(Input::new(capabilities, round.given, carried, bound));
        let chain = chain_of(&self.store, Some(&principal), permit.tenant.as_ref());
        // A heavy tool holds one of its tenant's few slots while it runs.
        let slot: Option<HeavySlot> = match tool.spec.heavy.then(|| self.heavy.try_take(&chain)) {
            None => None,
            Some(Ok(slot)) => Some(slot),
            Some(Err(denial)) => {
                let refusal = Refusal::Deny(denial);
                return self.deny(cx, &admission, refusal, Some(args_digest)).await.map(RoundEnd::Done);
            }
        };
        let mut draft = self.draft(cx, Some(&principal), &chain, Some(&tool));
        draft.args_digest = Some(args_digest.clone());
        let ledger_tenant = principal.tenant.as_ref().map_or_else(|| PLATFORM_LEDGER.to_owned(), |t| t.0.clone());
        let idempotency = permit.idempotency_key.clone().map(|key| {
            let scope = IdempotencyScope {
                tenant: ledger_tenant.clone(),
                principal: principal.id.clone(),
                tool: tool.contract(),
                key,
            };
            (scope, !tool.spec.returns_secret)
        });
        let asked = Asked { principal: principal.id.clone(), tool: tool.contract(), args_digest: args_digest.clone() };
        let plan = CommitPlan {
            chain,
            draft,
            ledger_tenant,
            limits: permit.billing.as_ref().map(|b| b.limits),
            charges: permit.charges.clone(),
            period: period::containing(self.clock.now()),
            idempotency,
            args_digest,
            consume,
            unaskable_denies: cx.ask_via.unaskable_denies(),
        };
        let announcements = Announcements::default();
        let tcx = ToolCx {
            call: Arc::clone(cx),
            principal,
            tenant: permit.tenant.clone(),
            clock: self.clock.clone(),
            config: Arc::clone(&self.config),
            audit_keys: Arc::clone(&self.store.trusted_keys),
            billing: permit.billing.clone(),
            input: Arc::clone(&input),
            announcements: announcements.clone(),
            data_dir: self.store.data_dir(),
            server: Arc::clone(&self.facts),
        };
        let arguments = permit.arguments;
        // Transactional tools run inside the commit; the others run only once a
        // reservation decided replay and quota, and have no store effect.
        let committed = match tool.handler().clone() {
            Handler::Transactional(run) => {
                self.store.write(move |w| plan.transact(w, run.as_ref(), arguments, &tcx)).await
            }
            Handler::Streaming(run) => match self.reserve(plan).await {
                Ok(Reserved::Go(plan, held)) => {
                    let outcome = run(arguments, tcx).await;
                    self.commit_ran(*plan, held, outcome, input.take_stop()).await
                }
                Ok(Reserved::Done(done)) => Ok(done),
                Err(e) => Err(e),
            },
            Handler::Read(run) => match self.reserve(plan).await {
                Ok(Reserved::Go(plan, held)) => {
                    let scope = crate::store::audit_log::chain_scope(&plan.chain).map(str::to_owned);
                    let store = Arc::clone(&self.store);
                    // The reading task keeps the reservation until it ends, even if the call is dropped.
                    let working = (held.clone(), slot.clone());
                    let read = tokio::task::spawn_blocking(move || {
                        let _working = working;
                        store.read(|c| {
                            c.set_scope(scope.as_deref())?;
                            Ok(run(arguments, &tcx, c))
                        })
                    });
                    match read.await {
                        Ok(Ok(outcome)) => self.commit_ran(*plan, held, outcome, input.take_stop()).await,
                        Ok(Err(e)) => Err(e),
                        Err(e) => Err(StoreError::Unavailable(format!("the read task failed: {e}"))),
                    }
                }
                Ok(Reserved::Done(done)) => Ok(done),
                Err(e) => Err(e),
            },
        };
        match committed.map_err(|e| unavailable(&e))? {
            Committed::Result(result) => {
                if result.get("isError") != Some(&Value::Bool(true)) {
                    announcements.publish(&self.events);
                }
                Ok(RoundEnd::Done(result))
            }
            Committed::Denied(denial) => Err(denial.to_rpc()),
            Committed::Input(interrupt) => Ok(RoundEnd::Ask(interrupt, asked)),
        }
    }

    /// Before a tool whose work is outside the commit runs: replay, reused
    /// key, in-progress duplicate and quota are decided (and audited) here; a
    /// call that may go on holds its key and charges until [`Self::commit_ran`].
    async fn reserve(&self, mut plan: CommitPlan) -> Result<Reserved, StoreError> {
        // Tracked before it is committed, so that no way out of the call forgets it.
        let held = Held::new(Arc::clone(&self.store), plan.draft.request_id.clone());
        let owner = self.store.instance_id().to_owned();
        let (plan, done) = self.store.write(move |w| plan.reserve(w, &owner).map(|done| (plan, done))).await?;
        match done {
            Some(done) => {
                held.completed();
                Ok(Reserved::Done(done))
            }
            None => Ok(Reserved::Go(Box::new(plan), held)),
        }
    }

    /// Commit a reserved call whose tool already ran (no store effect): its
    /// reservation is released in the transaction that charges and records it.
    async fn commit_ran(
        &self,
        plan: CommitPlan,
        held: Held,
        outcome: ToolOutcome,
        stop: Option<Stop>,
    ) -> Result<Committed, StoreError> {
        let committed = self.store.write(move |w| plan.finish_reserved(w, outcome, stop)).await?;
        held.completed();
        Ok(committed)
    }

    async fn deny(
        &self,
        cx: &CallContext,
        admission: &Admission,
        refusal: Refusal,
        args_digest: Option<String>,
    ) -> Result<Value, RpcError> {
        let reason = refusal.reason();
        let principal = admission.principal.as_ref();
        match (&refusal, principal) {
            // Unauthenticated: aggregated per window so that floods cost nothing.
            (Refusal::Deny(Denial::Unauthenticated(failure)), None) => {
                self.note_flood(&Caller::of(cx), *failure, None);
                return reply_of(refusal);
            }
            // Rate-limited calls were counted in an aggregated record by the rate-limit step.
            (Refusal::Deny(Denial::RateLimited { .. }), _) => return reply_of(refusal),
            // Without a principal nothing else can be attributed (a store outage cannot
            // be recorded at all; the caller hears -31503).
            (_, None) => return reply_of(refusal),
            _ => {}
        }
        let chain = chain_of(&self.store, principal, admission.tenant.as_ref());
        let mut draft = self.draft(cx, principal, &chain, admission.tool.as_deref());
        draft.decision = Decision::Deny;
        draft.reason = Some(reason);
        draft.args_digest = args_digest;
        self.store
            .write(move |w| audit_log::append(w, &chain, draft).map(|_| ()))
            .await
            .map_err(|e| unavailable(&e))?;
        reply_of(refusal)
    }
}

/// Most rounds one call may take in process (a tool cannot keep a client asking forever).
pub const MAX_ROUNDS: usize = 8;

/// Run a call to completion, or to the result that ends this request.
async fn drive(gov: &Governance, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
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

/// What a reservation decided.
enum Reserved {
    /// The call may run; its key and charges are held.
    Go(Box<CommitPlan>, Held),
    /// Decided without running: a replay, a reused key, an in-progress duplicate, a quota denial.
    Done(Committed),
}

/// What the caller hears for a refusal: the denial, or the tool error as a result.
fn reply_of(refusal: Refusal) -> Result<Value, RpcError> {
    match refusal {
        Refusal::Deny(denial) => Err(denial.to_rpc()),
        Refusal::Tool(t) => Ok(ToolOutcome::failure(&t).into_result()),
    }
}
