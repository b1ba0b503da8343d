//! Fixture tools the MCP conformance suites call (`--conformance` only).
//!
//! Never registered outside conformance mode, which is loopback-only. Names,
//! arguments and results follow the suites' source (0.1.16 and
//! 0.2.0-alpha.12); see docs/conformance.md.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::registry::{Handler, RegistryError, ToolSpec};
use super::result::{ToolOutcome, text_block};
use crate::tools::Registry;
use crate::wire::LogLevel;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
/// Pause between the notifications of the streaming fixtures.
const STEP: Duration = Duration::from_millis(50);

fn spec(name: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec::open(name, 1, name, description)
}

fn no_args() -> Value {
    json!({ "type": "object", "properties": {} })
}

fn fixed(content: Vec<Value>, is_error: bool) -> Handler {
    Handler::Streaming(Arc::new(move |_, _| {
        let outcome = ToolOutcome { content: content.clone(), structured: None, is_error, after: None };
        Box::pin(async move { outcome })
    }))
}

fn image() -> Value {
    json!({ "type": "image", "data": PNG, "mimeType": "image/png" })
}

/// Register every fixture.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    let simple = vec![text_block("This is a simple text response for testing.")];
    registry.add_raw(spec("test_simple_text", "Returns a simple text response."), no_args(), fixed(simple, false))?;
    registry.add_raw(spec("test_image_content", "Returns an image."), no_args(), fixed(vec![image()], false))?;
    let audio = json!({ "type": "audio", "data": WAV, "mimeType": "audio/wav" });
    registry.add_raw(spec("test_audio_content", "Returns audio."), no_args(), fixed(vec![audio], false))?;
    let resource = json!({ "type": "resource", "resource": {
        "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content." } });
    registry.add_raw(
        spec("test_embedded_resource", "Returns an embedded resource."),
        no_args(),
        fixed(vec![resource], false),
    )?;
    let mixed = vec![
        text_block("Multiple content types test:"),
        image(),
        json!({ "type": "resource", "resource": {
            "uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}" } }),
    ];
    registry.add_raw(
        spec("test_multiple_content_types", "Returns text, image and resource."),
        no_args(),
        fixed(mixed, false),
    )?;
    let error = vec![text_block("This tool intentionally returns an error for testing")];
    registry.add_raw(spec("test_error_handling", "Always fails as a tool error."), no_args(), fixed(error, true))?;
    for name in ["test_tool_with_logging", "test_logging_tool"] {
        registry.add_raw(spec(name, "Sends three log notifications, then answers."), no_args(), logging())?;
    }
    registry.add_raw(spec("test_tool_with_progress", "Reports progress 0, 50, 100 of 100."), no_args(), progress())?;
    let mut needs_sampling = spec("test_missing_capability", "Needs the client's sampling capability.");
    needs_sampling.requires = &["sampling"];
    registry.add_raw(needs_sampling, no_args(), fixed(vec![text_block("sampling is available")], false))?;
    super::conformance_interactive::register(registry)
}

fn logging() -> Handler {
    Handler::Streaming(Arc::new(|_, cx: crate::tools::ToolCx| {
        Box::pin(async move {
            for message in ["Tool execution started", "Tool processing data", "Tool execution completed"] {
                cx.call.log(LogLevel::Info, "conformance", json!(message));
                tokio::time::sleep(STEP).await;
            }
            ToolOutcome::content(vec![text_block("Logging completed")])
        })
    }))
}

fn progress() -> Handler {
    Handler::Streaming(Arc::new(|_, cx: crate::tools::ToolCx| {
        Box::pin(async move {
            for step in [0, 50, 100] {
                cx.call.progress(step, Some(100), Some("working"));
                tokio::time::sleep(STEP).await;
            }
            ToolOutcome::content(vec![text_block("Progress completed")])
        })
    }))
}
