//! The demo's record of what happened: one [`Step`] per stage, each with
//! what it showed (`lines`, for people) and what it proved (`facts`, for
//! `--json` and the system test that asserts them).
//!
//! Invariant: a step is `ok` only if its checks passed; the first step that
//! misbehaves stops the demo, and the exit code says so.

use std::io::Write;

use serde_json::{Value, json};

/// What one step showed and proved.
#[derive(Debug, Default)]
pub struct Shown {
    pub lines: Vec<String>,
    pub facts: serde_json::Map<String, Value>,
}

impl Shown {
    pub fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    pub fn fact(&mut self, key: &str, value: impl Into<Value>) {
        self.facts.insert(key.to_owned(), value.into());
    }
}

/// One finished step.
#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub title: &'static str,
    pub ok: bool,
    pub shown: Shown,
    pub error: Option<String>,
}

/// A step misbehaved: the demo stops (the step's error is in the report).
#[derive(Debug)]
pub struct Stopped;

/// Every step so far, printed as it goes unless the output is JSON.
pub struct Report<'a> {
    pub steps: Vec<Step>,
    total: usize,
    progress: Option<&'a mut dyn Write>,
}

impl<'a> Report<'a> {
    /// `progress`: where people read along (None for `--json`).
    pub fn new(total: usize, progress: Option<&'a mut dyn Write>) -> Self {
        Self { steps: Vec::new(), total, progress }
    }

    /// Record a step's outcome; `Err` when it misbehaved (the demo stops).
    pub fn record(
        &mut self,
        name: &'static str,
        title: &'static str,
        outcome: Result<Shown, String>,
    ) -> Result<(), Stopped> {
        let (ok, shown, error) = match outcome {
            Ok(shown) => (true, shown, None),
            Err(e) => (false, Shown::default(), Some(e)),
        };
        if let Some(out) = self.progress.as_deref_mut() {
            let _ = writeln!(out, "[{}/{}] {title}", self.steps.len() + 1, self.total);
            for line in &shown.lines {
                let _ = writeln!(out, "      {line}");
            }
            if let Some(e) = &error {
                let _ = writeln!(out, "      FAILED: {e}");
            }
        }
        self.steps.push(Step { name, title, ok, shown, error });
        if ok { Ok(()) } else { Err(Stopped) }
    }

    /// Every step passed.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok) && self.steps.len() == self.total
    }

    /// The `--json` summary.
    pub fn to_json(&self, data_dir: &str, kept: bool) -> Value {
        json!({
            "ok": self.ok(),
            "data_dir": data_dir,
            "kept": kept,
            "steps": self.steps.iter().enumerate().map(|(i, s)| json!({
                "step": i + 1,
                "name": s.name,
                "title": s.title,
                "ok": s.ok,
                "facts": s.shown.facts,
                "lines": s.shown.lines,
                "error": s.error,
            })).collect::<Vec<_>>(),
        })
    }
}
