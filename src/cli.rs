//! What each command does, so that `main.rs` only parses.
//!
//! Invariant: every failure reaches the user as a [`CliError`] with a message
//! that says what to do and a stable exit code; logs go to stderr only.

use std::net::SocketAddr;
use std::path::Path;

use crate::context::TransportKind;
use crate::schemas;
use crate::server::{McpServer, ServerOptions};
use crate::transport::http::{AllowedHosts, HttpOptions};

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("could not start the server: {0}")]
    Build(#[from] crate::server::BuildError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("schemas/ does not match the code:\n{0}")]
    Schemas(String),
    #[error("demo failed: {0}")]
    Demo(String),
}

impl CliError {
    /// 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters, `RUST_LOG_FORMAT=json` switches to JSON lines.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("RUST_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `tollgate serve`.
pub fn serve(
    listen: SocketAddr,
    allowed: Vec<String>,
    max_body_bytes: usize,
    conformance: bool,
) -> Result<(), CliError> {
    if conformance && !listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--conformance serves fixture tools without authentication and listens on loopback only; {} is not a loopback address",
            listen.ip()
        )));
    }
    let server = McpServer::new(ServerOptions {
        conformance,
        ..ServerOptions::default()
    })?;
    let options = HttpOptions {
        max_body_bytes,
        allowed_hosts: AllowedHosts::with_extra(allowed),
        transport: TransportKind::Http,
    };
    runtime()?.block_on(crate::transport::http::serve(server, listen, options))?;
    Ok(())
}

/// `tollgate stdio`.
pub fn stdio(conformance: bool) -> Result<(), CliError> {
    let server = McpServer::new(ServerOptions {
        conformance,
        ..ServerOptions::default()
    })?;
    runtime()?.block_on(async move {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        crate::transport::stdio::serve(server, input, tokio::io::stdout()).await
    })?;
    Ok(())
}

fn standard_schemas() -> Result<std::collections::BTreeMap<String, serde_json::Value>, CliError> {
    let server = McpServer::new(ServerOptions::default())?;
    Ok(schemas::generate(server.registry()))
}

/// `tollgate schemas --out DIR`.
pub fn schemas_write(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    let generated = standard_schemas()?;
    for (file, doc) in &generated {
        std::fs::write(dir.join(file), schemas::render(doc))?;
    }
    eprintln!(
        "wrote {} schema files to {}",
        generated.len(),
        dir.display()
    );
    Ok(())
}

/// `tollgate schemas --check [--dir DIR]`.
pub fn schemas_check(dir: &Path) -> Result<(), CliError> {
    let committed = schemas::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", dir.display())))?;
    let problems = schemas::check(&committed, &standard_schemas()?);
    if problems.is_empty() {
        eprintln!("schemas: {} files match the code", committed.len());
        return Ok(());
    }
    Err(CliError::Schemas(
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// `tollgate schemas`: print every schema as one JSON object.
pub fn schemas_print() -> Result<(), CliError> {
    let generated = standard_schemas()?;
    println!(
        "{}",
        serde_json::to_string_pretty(&generated).unwrap_or_default()
    );
    Ok(())
}

/// `tollgate demo`.
pub fn demo() -> Result<(), CliError> {
    runtime()?
        .block_on(crate::demo::run(&mut std::io::stdout()))
        .map_err(CliError::Demo)
}
