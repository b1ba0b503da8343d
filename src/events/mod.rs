//! Server events and the listen streams they go to (`subscriptions/listen`).
//!
//! Invariants: an event is addressed to one [`Audience`] and reaches only the
//! streams of that audience whose filter asked for its kind — never every
//! stream; a stream's acknowledgment is its first message (it is sent while
//! the stream is registered, under the same lock events are published under);
//! every message on a stream carries its subscription id; closing the hub
//! ends every stream with its closing message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::identity::{Principal, TenantId};
use crate::sync::lock;
use crate::wire::NotificationSink;
use crate::wire::jsonrpc;

/// `_meta` key that ties a message to its listen stream.
pub const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Who an event concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The principals of one tenant.
    Tenant(TenantId),
    /// Platform principals (no tenant).
    Platform,
}

impl Audience {
    /// The audience a principal listens as.
    pub fn of(principal: &Principal) -> Self {
        principal.tenant.clone().map_or(Audience::Platform, Audience::Tenant)
    }
}

/// Something a listen stream can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The tools a principal may call changed (a plan, a status, a deployment).
    ToolsListChanged,
}

impl Event {
    fn method(self) -> &'static str {
        match self {
            Event::ToolsListChanged => "notifications/tools/list_changed",
        }
    }
}

/// The notification kinds a stream asked for, reduced to what we honour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    pub tools_list_changed: bool,
}

impl Filter {
    /// The honoured subset of a `notifications` filter (unknown kinds are dropped).
    pub fn honoured(requested: Option<&Value>) -> Self {
        let wants = |k: &str| requested.and_then(|r| r.get(k)).and_then(Value::as_bool).unwrap_or(false);
        Filter { tools_list_changed: wants("toolsListChanged") }
    }

    fn wants(self, event: Event) -> bool {
        match event {
            Event::ToolsListChanged => self.tools_list_changed,
        }
    }

    /// The filter as the acknowledgment states it.
    pub fn to_json(self) -> Value {
        let mut m = Map::new();
        if self.tools_list_changed {
            m.insert("toolsListChanged".into(), json!(true));
        }
        Value::Object(m)
    }
}

struct Listener {
    audience: Audience,
    principal: String,
    filter: Filter,
    subscription_id: Value,
    sink: NotificationSink,
    /// Ends this stream alone (its principal lost its access).
    end: watch::Sender<bool>,
}

/// Most listen streams one principal may hold open (each holds a connection).
pub const MAX_STREAMS_PER_PRINCIPAL: usize = 16;

/// Most listen streams one audience (a tenant, or the platform) may hold open.
pub const MAX_STREAMS_PER_AUDIENCE: usize = 64;

/// How long a listen stream lives before the server ends it with its closing
/// result (the client listens again): an idle stream cannot hold a connection for ever.
pub const STREAM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// A stream was refused: one of the limits is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooManyStreams {
    #[error("this principal already holds {MAX_STREAMS_PER_PRINCIPAL} listen streams; close one first")]
    Principal,
    #[error("this tenant already holds {MAX_STREAMS_PER_AUDIENCE} listen streams; close one first")]
    Audience,
    #[error("the server holds its maximum of listen streams; retry later")]
    Server,
}

/// The listen streams of one server.
pub struct Hub {
    listeners: Mutex<HashMap<u64, Listener>>,
    next: AtomicU64,
    closing: watch::Sender<bool>,
    /// Most streams in all (kept well below the connection limit, so that
    /// streams can never take every connection).
    capacity: usize,
}

impl Hub {
    /// A hub holding at most `capacity` streams.
    pub fn new(capacity: usize) -> Self {
        Self { listeners: Mutex::default(), next: AtomicU64::new(1), closing: watch::Sender::new(false), capacity }
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(512)
    }
}

/// Tag a notification's params with its stream's subscription id.
fn tagged(method: &str, mut params: Map<String, Value>, subscription_id: &Value) -> Value {
    let meta = params.entry("_meta").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.insert(META_SUBSCRIPTION_ID.to_owned(), subscription_id.clone());
    }
    jsonrpc::notification(method, Value::Object(params))
}

impl Hub {
    /// Open a stream for `principal`: send its acknowledgment, then register it.
    /// Refused when the principal already holds [`MAX_STREAMS_PER_PRINCIPAL`].
    pub fn listen(
        self: &Arc<Self>,
        principal: &Principal,
        filter: Filter,
        subscription_id: Value,
        sink: NotificationSink,
    ) -> Result<Subscription, TooManyStreams> {
        let mut listeners = lock(&self.listeners);
        let audience = Audience::of(principal);
        if listeners.len() >= self.capacity {
            return Err(TooManyStreams::Server);
        }
        if listeners.values().filter(|l| l.audience == audience).count() >= MAX_STREAMS_PER_AUDIENCE {
            return Err(TooManyStreams::Audience);
        }
        if listeners.values().filter(|l| l.principal == principal.id).count() >= MAX_STREAMS_PER_PRINCIPAL {
            return Err(TooManyStreams::Principal);
        }
        let ack = tagged(
            "notifications/subscriptions/acknowledged",
            Map::from_iter([("notifications".to_owned(), filter.to_json())]),
            &subscription_id,
        );
        let _ = sink.send(ack.into());
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = watch::channel(false);
        let listener = Listener { audience, principal: principal.id.clone(), filter, subscription_id, sink, end };
        listeners.insert(key, listener);
        Ok(Subscription { hub: Arc::clone(self), key, closing: self.closing.subscribe(), ended })
    }

    /// Tell every stream of `audience` that asked for this kind of event; returns how many.
    pub fn publish(&self, audience: &Audience, event: Event) -> usize {
        let listeners = lock(&self.listeners);
        let mut delivered = 0;
        for l in listeners.values().filter(|l| &l.audience == audience && l.filter.wants(event)) {
            if l.sink.send(tagged(event.method(), Map::new(), &l.subscription_id).into()).is_ok() {
                delivered += 1;
            }
        }
        delivered
    }

    /// End every stream (server shutdown); streams opened later end at once.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// End the streams of these principals, or of a whole audience (access
    /// revoked: a revoked key's stream must not outlive the key).
    pub fn end_streams(&self, whose: &Ending) {
        for l in lock(&self.listeners).values() {
            let ends = match whose {
                Ending::Principals(ids) => ids.contains(&l.principal),
                Ending::Audience(a) => &l.audience == a,
            };
            if ends {
                l.end.send_replace(true);
            }
        }
    }

    /// Open streams (for metrics and tests).
    pub fn len(&self) -> usize {
        lock(&self.listeners).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Events a tool announces during a call; published only once the call's
/// commit is durable and the tool succeeded (a rolled-back change is never announced).
#[derive(Debug, Clone, Default)]
pub struct Announcements(Arc<Mutex<Vec<Announcement>>>);

/// Whose streams end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every stream of these principals (key ids, `cert:` fingerprints).
    Principals(Vec<String>),
    /// Every stream of an audience (a suspended or deleted tenant).
    Audience(Audience),
}

#[derive(Debug, Clone)]
enum Announcement {
    Event(Audience, Event),
    End(Ending),
}

impl Announcements {
    /// Announce `event` to `audience` after the commit.
    pub fn push(&self, audience: Audience, event: Event) {
        lock(&self.0).push(Announcement::Event(audience, event));
    }

    /// End these streams after the commit.
    pub fn end_streams(&self, whose: Ending) {
        lock(&self.0).push(Announcement::End(whose));
    }

    /// What was announced, as payloads for the other instances of a
    /// deployment (ids only; long lists of principals split to fit).
    pub fn encoded(&self) -> Vec<String> {
        let audience = |a: &Audience| match a {
            Audience::Tenant(t) => Value::String(t.0.clone()),
            Audience::Platform => Value::Null,
        };
        let mut out = Vec::new();
        for announcement in lock(&self.0).iter() {
            match announcement {
                Announcement::Event(a, Event::ToolsListChanged) => {
                    out.push(json!({"event": "tools_list_changed", "audience": audience(a)}).to_string());
                }
                Announcement::End(Ending::Audience(a)) => {
                    out.push(json!({"end": "audience", "audience": audience(a)}).to_string());
                }
                Announcement::End(Ending::Principals(ids)) => {
                    for chunk in ids.chunks(64) {
                        out.push(json!({"end": "principals", "ids": chunk}).to_string());
                    }
                }
            }
        }
        out
    }

    /// Deliver everything announced.
    pub fn publish(&self, hub: &Hub) {
        for announcement in lock(&self.0).drain(..) {
            match announcement {
                Announcement::Event(audience, event) => {
                    hub.publish(&audience, event);
                }
                Announcement::End(whose) => hub.end_streams(&whose),
            }
        }
    }
}

/// Deliver what another instance announced (see [`Announcements::encoded`]);
/// false for a payload this version does not understand (ignored, logged).
pub fn apply_remote(hub: &Hub, payload: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(payload) else { return false };
    let audience = |v: &Value| match v.get("audience") {
        Some(Value::String(t)) => Some(Audience::Tenant(TenantId(t.clone()))),
        Some(Value::Null) => Some(Audience::Platform),
        _ => None,
    };
    match (v.get("event").and_then(Value::as_str), v.get("end").and_then(Value::as_str)) {
        (Some("tools_list_changed"), None) => match audience(&v) {
            Some(a) => {
                hub.publish(&a, Event::ToolsListChanged);
                true
            }
            None => false,
        },
        (None, Some("audience")) => match audience(&v) {
            Some(a) => {
                hub.end_streams(&Ending::Audience(a));
                true
            }
            None => false,
        },
        (None, Some("principals")) => {
            let ids: Vec<String> = v
                .get("ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            hub.end_streams(&Ending::Principals(ids));
            true
        }
        _ => false,
    }
}

impl Hub {
    /// After events may have been missed (the listening session was lost):
    /// tell every stream that asked that its tool list may have changed (a
    /// client re-lists; a spurious notice costs one `tools/list`).
    pub fn resync(&self) {
        let listeners = lock(&self.listeners);
        for l in listeners.values().filter(|l| l.filter.wants(Event::ToolsListChanged)) {
            let _ = l.sink.send(tagged(Event::ToolsListChanged.method(), Map::new(), &l.subscription_id).into());
        }
    }
}

/// An open stream; dropping it (the client went away) unregisters it.
pub struct Subscription {
    hub: Arc<Hub>,
    key: u64,
    closing: watch::Receiver<bool>,
    ended: watch::Receiver<bool>,
}

impl Subscription {
    /// Resolves when the server ends the stream (shutdown, or its principal lost access).
    pub async fn ended(&mut self) {
        // An error means the sender is gone, which also ends the stream.
        tokio::select! {
            _ = self.closing.wait_for(|closing| *closing) => {}
            _ = self.ended.wait_for(|ended| *ended) => {}
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.hub.listeners).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn principal(id: &str, tenant: Option<&str>) -> Principal {
        Principal {
            id: id.into(),
            kind: crate::identity::PrincipalKind::ApiKey,
            tenant: tenant.map(|t| TenantId(t.into())),
            role: crate::identity::Role::TenantAdmin,
            oauth: None,
        }
    }

    /// A server message sent on a sink (never a reply, here).
    fn message(o: jsonrpc::Outgoing) -> Value {
        match o {
            jsonrpc::Outgoing::Message(v) => v,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn stream(
        hub: &Arc<Hub>,
        who: &Principal,
        tools: bool,
        id: i64,
    ) -> (Subscription, mpsc::UnboundedReceiver<jsonrpc::Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sub = hub.listen(who, Filter { tools_list_changed: tools }, json!(id), tx).expect("room");
        (sub, rx)
    }

    #[tokio::test]
    async fn events_reach_only_their_audience_and_filter_and_are_tagged() {
        let hub = Arc::new(Hub::default());
        let a = Audience::Tenant(TenantId("a".into()));
        let (_sa, mut ra) = stream(&hub, &principal("ka", Some("a")), true, 1);
        let (_sb, mut rb) = stream(&hub, &principal("kb", Some("b")), true, 2);
        let (_sn, mut rn) = stream(&hub, &principal("ka2", Some("a")), false, 3);
        for (rx, id) in [(&mut ra, 1), (&mut rb, 2), (&mut rn, 3)] {
            let ack = message(rx.try_recv().expect("ack first"));
            assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
            assert_eq!(ack["params"]["_meta"][META_SUBSCRIPTION_ID], id);
        }
        assert_eq!(hub.publish(&a, Event::ToolsListChanged), 1);
        let note = message(ra.try_recv().expect("a's stream is told"));
        assert_eq!(note["method"], "notifications/tools/list_changed");
        assert_eq!(note["params"]["_meta"][META_SUBSCRIPTION_ID], 1);
        assert!(rb.try_recv().is_err(), "another tenant hears nothing");
        assert!(rn.try_recv().is_err(), "a stream that did not ask hears nothing");
    }

    #[tokio::test]
    async fn closing_ends_streams_and_dropping_unregisters() {
        let hub = Arc::new(Hub::default());
        let admin = principal("p", None);
        let (mut sub, _rx) = stream(&hub, &admin, true, 1);
        assert_eq!(hub.len(), 1);
        let mut held = Vec::new();
        for i in 1..MAX_STREAMS_PER_PRINCIPAL {
            held.push(stream(&hub, &admin, true, 10 + i as i64));
        }
        let (tx, _) = mpsc::unbounded_channel();
        let refused = hub.listen(&admin, Filter::default(), json!(99), tx).err();
        assert_eq!(refused, Some(TooManyStreams::Principal), "one principal cannot hold more");
        drop(held);
        hub.close_all();
        sub.ended().await;
        drop(sub);
        assert!(hub.is_empty());
        assert_eq!(Filter::honoured(Some(&json!({"promptsListChanged": true}))).to_json(), json!({}));
    }

    #[tokio::test]
    async fn a_principal_losing_access_ends_only_its_own_streams() {
        let hub = Arc::new(Hub::default());
        let (mut gone, _r1) = stream(&hub, &principal("k1", Some("a")), true, 1);
        let (mut kept, _r2) = stream(&hub, &principal("k2", Some("a")), true, 2);
        let (mut other, _r3) = stream(&hub, &principal("k3", Some("b")), true, 3);
        hub.end_streams(&Ending::Principals(vec!["k1".into()]));
        gone.ended().await;
        let still_open = tokio::time::timeout(std::time::Duration::ZERO, kept.ended()).await;
        assert!(still_open.is_err(), "k2's stream goes on");
        hub.end_streams(&Ending::Audience(Audience::Tenant(TenantId("a".into()))));
        kept.ended().await;
        assert!(tokio::time::timeout(std::time::Duration::ZERO, other.ended()).await.is_err(), "b's goes on");
    }

    #[tokio::test]
    async fn a_tenant_and_the_server_have_stream_limits_too() {
        let hub = Arc::new(Hub::new(MAX_STREAMS_PER_AUDIENCE + 1));
        let mut held = Vec::new();
        for i in 0..MAX_STREAMS_PER_AUDIENCE {
            held.push(stream(&hub, &principal(&format!("k{i}"), Some("a")), true, i as i64));
        }
        let (tx, _) = mpsc::unbounded_channel();
        let refused = hub.listen(&principal("k-new", Some("a")), Filter::default(), json!(0), tx.clone()).err();
        assert_eq!(refused, Some(TooManyStreams::Audience), "one tenant cannot take every stream");
        held.push(stream(&hub, &principal("kb", Some("b")), true, 1));
        let refused = hub.listen(&principal("kc", Some("c")), Filter::default(), json!(0), tx).err();
        assert_eq!(refused, Some(TooManyStreams::Server));
    }
}
