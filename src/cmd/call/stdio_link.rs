//! The client's stdio transport: a `tollgate stdio` child on the same data
//! dir, spoken to line by line.
//!
//! Invariants: the credential reaches the child in its environment
//! (`TOLLGATE_API_KEY`), never on its command line; the child's stderr is kept
//! only to explain why it ended.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

use super::message::{Answerer, LinkError, is_server_request};

/// How `tollgate stdio` begins its refusal of the start-up key; the client
/// reads the reason after it.
pub const STDIO_KEY_REFUSED: &str = "TOLLGATE_API_KEY is not usable";

/// A running `tollgate stdio` child.
pub struct StdioLink {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Option<JoinHandle<String>>,
}

/// Who the child acts as.
pub enum StdioCredential {
    /// An API key, passed as `TOLLGATE_API_KEY`.
    ApiKey(String),
    /// `--local-admin`: the platform admin at this terminal.
    LocalAdmin,
}

impl StdioLink {
    /// Start `tollgate stdio --data-dir DIR` (this same binary).
    pub fn spawn(data_dir: &Path, credential: StdioCredential) -> Result<Self, LinkError> {
        let exe = std::env::current_exe()
            .map_err(|e| LinkError::Transport(format!("cannot find the tollgate binary to start: {e}")))?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("stdio").arg("--data-dir").arg(data_dir).env_remove("TOLLGATE_API_KEY");
        match credential {
            StdioCredential::ApiKey(key) => cmd.env("TOLLGATE_API_KEY", key),
            StdioCredential::LocalAdmin => cmd.arg("--local-admin"),
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LinkError::Transport(format!("cannot start `tollgate stdio`: {e}")))?;
        let missing = || LinkError::Transport("the stdio child has no pipes".into());
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(missing)?).lines();
        let mut err = child.stderr.take().ok_or_else(missing)?;
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text).await;
            text
        });
        Ok(Self { child, stdin: Some(stdin), stdout, stderr: Some(stderr) })
    }

    /// Write one message as a line.
    pub async fn send(&mut self, message: &Value) -> Result<(), LinkError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(LinkError::Transport("the stdio server's input is closed".into()));
        };
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            return Err(self.ended().await);
        }
        Ok(())
    }

    /// Send a request and read until its response, answering the server's requests.
    pub async fn exchange(&mut self, request: &Value, answer: Answerer<'_>) -> Result<Value, LinkError> {
        self.send(request).await?;
        let id = request.get("id");
        loop {
            let line = match self.stdout.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => return Err(self.ended().await),
            };
            let message: Value = serde_json::from_str(&line)
                .map_err(|e| LinkError::Transport(format!("the stdio server wrote a line that is not JSON ({e})")))?;
            if is_server_request(&message) {
                let response = answer(&message);
                self.send(&response).await?;
            } else if message.get("id") == id && (message.get("result").is_some() || message.get("error").is_some()) {
                return Ok(message);
            }
        }
    }

    /// Why the child stopped answering: a refused credential, or another end.
    async fn ended(&mut self) -> LinkError {
        drop(self.stdin.take());
        let status = self.child.wait().await.ok().and_then(|s| s.code());
        let stderr = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        if let Some(reason) = refused_reason(&stderr) {
            return LinkError::Refused(reason);
        }
        let said = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("nothing on stderr").to_owned();
        let code = status.map(|c| c.to_string()).unwrap_or_else(|| "a signal".into());
        LinkError::Transport(format!("the stdio server ended (exit {code}) before answering: {said}"))
    }

    /// Close the child's input and wait for it to finish.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait().await;
    }
}

/// The reason in `tollgate stdio`'s start-up refusal of its key, if that is what it printed.
fn refused_reason(stderr: &str) -> Option<String> {
    let rest = stderr.split(STDIO_KEY_REFUSED).nth(1)?;
    let reason = rest.trim_start().strip_prefix('(')?.split(')').next()?;
    Some(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_reason_is_read_from_the_stdio_servers_message() {
        let stderr = format!("tollgate: {} (key_revoked); set it to a key …\n", STDIO_KEY_REFUSED);
        assert_eq!(refused_reason(&stderr).as_deref(), Some("key_revoked"));
        assert_eq!(refused_reason("tollgate: no data dir"), None);
    }
}
