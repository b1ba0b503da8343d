//! The client's transports behind one interface: send a JSON-RPC request and
//! read until its response, answering any request the server puts to the
//! client on the way (a 2025 `elicitation/create`).
//!
//! Invariant: a transport failure is a [`LinkError`], never a reply; a reply
//! is returned exactly as the server sent it.

use serde_json::Value;

use super::http_link::HttpLink;
use super::message::{Answerer, LinkError, is_response, is_server_request};
use super::stdio_link::StdioLink;

/// One connection to a server.
pub enum Link {
    Http {
        http: HttpLink,
        /// The legacy session and its version, once `initialize` opened one.
        session: Option<(String, String)>,
    },
    Stdio(StdioLink),
}

/// A reply and, over HTTP, the session id its answer carried.
pub struct Reply {
    pub message: Value,
    pub session: Option<String>,
}

impl Link {
    /// Send `request` (with `headers` over HTTP) and read until its response.
    pub async fn exchange(
        &mut self,
        request: &Value,
        headers: &[(&str, String)],
        answer: Answerer<'_>,
    ) -> Result<Reply, LinkError> {
        match self {
            Link::Stdio(stdio) => Ok(Reply { message: stdio.exchange(request, answer).await?, session: None }),
            Link::Http { http, session } => {
                let headers = with_session(headers, session.as_ref());
                let mut reply = http.post(&headers, request).await?;
                let id = request.get("id");
                while let Some(message) = reply.next().await? {
                    if is_server_request(&message) {
                        // Answered on its own POST while this stream stays open.
                        let response = answer(&message);
                        http.post(&headers, &response).await?;
                    } else if message.get("id") == id && is_response(&message) {
                        return Ok(Reply { message, session: reply.session });
                    }
                }
                Err(LinkError::Transport(format!(
                    "HTTP {}: the answer ended without a JSON-RPC response",
                    reply.status
                )))
            }
        }
    }

    /// Send a notification (no reply is read).
    pub async fn notify(&mut self, note: &Value, headers: &[(&str, String)]) -> Result<(), LinkError> {
        match self {
            Link::Stdio(stdio) => stdio.send(note).await,
            Link::Http { http, session } => {
                let headers = with_session(headers, session.as_ref());
                let answer = http.post(&headers, note).await?;
                match answer.status {
                    200..=299 => Ok(()),
                    status => Err(LinkError::Transport(format!("HTTP {status} to a notification"))),
                }
            }
        }
    }

    /// Remember the legacy session `initialize` opened (HTTP only).
    pub fn set_session(&mut self, id: Option<String>, version: &str) {
        if let (Link::Http { session, .. }, Some(id)) = (self, id) {
            *session = Some((id, version.to_owned()));
        }
    }

    /// End the connection (the stdio server exits on end of input).
    pub async fn close(self) {
        if let Link::Stdio(stdio) = self {
            stdio.close().await;
        }
    }
}

fn with_session<'a>(headers: &[(&'a str, String)], session: Option<&(String, String)>) -> Vec<(&'a str, String)> {
    let mut all = headers.to_vec();
    if let Some((id, version)) = session {
        all.push(("mcp-session-id", id.clone()));
        all.push(("mcp-protocol-version", version.clone()));
    }
    all
}
