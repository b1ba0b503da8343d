//! `tollgate stdio`: newline-delimited JSON-RPC on stdin/stdout.
//!
//! Invariants: only protocol messages go to stdout (logs go to stderr); a bad
//! line (too long, not UTF-8, not JSON) gets an error response and the server
//! goes on; a cancelled request sends nothing more; EOF ends the process after
//! in-flight requests finish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use crate::identity::Credential;
use crate::protocol::endpoint::McpServer;
use crate::protocol::era;
use crate::protocol::session::LegacySession;
use crate::sync::lock;
use crate::wire::TransportKind;
use crate::wire::errors::RpcError;
use crate::wire::jsonrpc::{self, Id, Incoming, Outgoing};

/// Longest accepted line, in bytes.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// In-flight requests by id, so `notifications/cancelled` can stop them.
type InFlight = Arc<Mutex<HashMap<String, AbortHandle>>>;

/// Serve until `input` ends.
pub async fn serve<R, W>(server: Arc<McpServer>, mut input: R, output: W, credential: Credential) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let writer = tokio::spawn(write_lines(rx, output));
    let conversation = Arc::new(LegacySession::new());
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        let line = match read_line(&mut input).await? {
            Line::Eof => break,
            Line::TooLong => {
                let error =
                    RpcError::invalid_request(format!("Invalid request: line longer than {MAX_LINE_BYTES} bytes"));
                let _ = tx.send(jsonrpc::failure(&Id::null(), &error).into());
                continue;
            }
            Line::Text(bytes) => bytes,
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        while tasks.try_join_next().is_some() {}
        match jsonrpc::parse(&line) {
            Err(rejected) => {
                let _ = tx.send(jsonrpc::failure(&rejected.id, &rejected.error).into());
            }
            Ok(Incoming::Request(request)) => {
                let route = era::route_for_stdio(&request, &conversation);
                let (server, tx, credential) = (Arc::clone(&server), tx.clone(), credential.clone());
                let key = request.id.value().to_string();
                let mut registered = lock(&in_flight);
                let in_flight = Arc::clone(&in_flight);
                let handle = tasks.spawn(async move {
                    let outcome =
                        server.request(&request, &route, TransportKind::Stdio, Some(tx.clone()), credential).await;
                    let ended_stream = request.method == "subscriptions/listen" && outcome.is_ok();
                    let reply = match outcome {
                        Ok(result) => jsonrpc::success(&request.id, result),
                        Err(e) => jsonrpc::failure(&request.id, &e),
                    };
                    // Removing ourselves first means a late cancellation finds nothing to abort.
                    lock(&in_flight).remove(&request.id.value().to_string());
                    let _ = tx.send(reply.into());
                    if ended_stream {
                        // On stdio the server also cancels the listen request it tore down.
                        let params = json!({ "requestId": request.id, "reason": "the server ended the subscription" });
                        let _ = tx.send(jsonrpc::notification("notifications/cancelled", params).into());
                    }
                });
                registered.insert(key, handle);
            }
            Ok(Incoming::Notification(n)) => {
                if n.method == "notifications/cancelled" {
                    let id = n.params.get("requestId").map(Value::to_string).unwrap_or_default();
                    if let Some(h) = lock(&in_flight).remove(&id) {
                        h.abort();
                    }
                }
                server.notification(&n);
            }
            Ok(Incoming::Response { id, outcome }) => {
                // The answer to a question a tool put to the client.
                if !conversation.answer(&id, outcome) {
                    tracing::debug!(%id, "a client response matched no waiting request");
                }
            }
            Ok(Incoming::Batch(items)) => {
                let session = Some(&conversation);
                match server.batch(items, session, TransportKind::Stdio, &credential).await {
                    Ok(Some(replies)) => {
                        let _ = tx.send(Outgoing::Replies(replies));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(jsonrpc::failure(&Id::null(), &e).into());
                    }
                }
            }
        }
    }
    // Input ended: listen streams end with their closing messages, other requests finish.
    server.begin_shutdown();
    while tasks.join_next().await.is_some() {}
    drop(tx);
    writer.await.map_err(std::io::Error::other)?
}

enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// Read one line without ever holding more than [`MAX_LINE_BYTES`] of it.
async fn read_line<R: AsyncBufRead + Unpin>(input: &mut R) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Text(line),
            });
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = done.unwrap_or(buf.len());
        input.consume(consumed);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Text(line) });
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut out: W,
) -> std::io::Result<()> {
    while let Some(message) = rx.recv().await {
        let mut line = jsonrpc::to_text(&message).into_bytes();
        line.push(b'\n');
        out.write_all(&line).await?;
        out.flush().await?;
    }
    Ok(())
}
