//! What each command does, so that `main.rs` only parses.
//!
//! Invariant: every failure reaches the user as a [`CliError`] with a message
//! that says what to do and a stable exit code; logs go to stderr only.

pub mod audit;
pub mod backup;
pub mod bench;
pub mod call;
pub mod client;
pub mod demo;
pub mod demo_oauth;
pub mod docs;
pub mod export;
pub mod inproc;
pub mod migrate;
pub mod seed;
pub mod store_copy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::Credential;
use crate::protocol::endpoint::{McpServer, ServerOptions};
use crate::store::{Store, StoreOptions, datadir::DataDir};
use crate::tools::schemas;
use crate::transport::http::{AllowedHosts, HttpOptions};
use crate::wire::TransportKind;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("could not start the server: {0}")]
    Build(#[from] crate::protocol::endpoint::BuildError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("schemas/ does not match the code:\n{0}")]
    Schemas(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// 2 for usage errors, 1 for everything else (an invalid audit chain included).
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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::env::var("RUST_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Where the data dir is: the flag, else `TOLLGATE_DATA_DIR` (clap reads both).
fn require_dir(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))
}

/// The config for a data dir: `TOLLGATE_CONFIG`, else `DIR/tollgate.toml`.
fn load_config(dir: &Path) -> Result<Config, CliError> {
    match std::env::var_os("TOLLGATE_CONFIG").map(PathBuf::from) {
        // A config named explicitly must exist; the data dir's may be absent (defaults).
        Some(path) if !path.is_file() => {
            Err(CliError::Usage(format!("TOLLGATE_CONFIG names {}, which is not a file", path.display())))
        }
        Some(path) => Ok(Config::load(&path)?),
        None => Ok(Config::load(&DataDir::new(dir).config())?),
    }
}

fn clock(clock_file: Option<PathBuf>) -> Clock {
    clock_file.map(Clock::from_file).unwrap_or_default()
}

/// Open the store and build a server on it.
fn open(dir: &Path, conformance: bool, clock: Clock) -> Result<(Arc<McpServer>, Arc<Store>, Config), CliError> {
    open_with(dir, conformance, clock, Ok)
}

/// [`open`], with the loaded config adjusted (and validated again) first.
fn open_with(
    dir: &Path,
    conformance: bool,
    clock: Clock,
    adjust: impl FnOnce(Config) -> Result<Config, CliError>,
) -> Result<(Arc<McpServer>, Arc<Store>, Config), CliError> {
    let config = adjust(load_config(dir)?)?;
    config.validate()?;
    let options = StoreOptions {
        checkpoint_every: config.checkpoint_every,
        checkpoint_interval: std::time::Duration::from_secs(config.checkpoint_interval_secs),
        denial_persist_interval: std::time::Duration::from_millis(config.denial_persist_ms),
        database_url: config.database_url.clone(),
        maintenance: false,
    };
    let store = Store::open(dir, clock, options)?;
    let server_options = ServerOptions {
        conformance,
        session_capacity: config.session_capacity,
        session_idle: std::time::Duration::from_secs(config.session_idle_secs),
        ..ServerOptions::default()
    };
    let server = McpServer::new(server_options, Arc::clone(&store), config.clone())?;
    Ok((server, store, config))
}

/// `tollgate init`.
pub fn init(dir: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let dir = require_dir(dir)?;
    // The database comes from the environment (TOLLGATE_DATABASE_URL); the
    // data dir has no config yet.
    let url = Config::load(&DataDir::new(&dir).config())?.database_url;
    let out = crate::store::datadir::init_with(&dir, Clock::system(), url)?;
    if json {
        println!("{}", serde_json::json!({ "data_dir": out.data_dir, "api_key": out.api_key }));
    } else {
        println!("initialized {}", out.data_dir);
        println!("platform admin key (shown once; store it safely): {}", out.api_key);
        println!("next: tollgate serve --data-dir {}", out.data_dir);
    }
    Ok(())
}

/// `tollgate serve`.
pub struct ServeArgs {
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub allowed_hosts: Vec<String>,
    pub conformance: bool,
    pub clock_file: Option<PathBuf>,
    /// HTTPS (and mTLS) instead of plain HTTP.
    pub tls: Option<crate::transport::tls::TlsSettings>,
    /// Serve `/metrics` on this separate address.
    pub metrics_listen: Option<SocketAddr>,
    /// `--oauth-issuer`: the one trusted issuer (replaces the config's).
    pub oauth_issuer: Option<String>,
    /// `--oauth-resource`: this server's canonical resource URI.
    pub oauth_resource: Option<String>,
}

/// `tollgate serve`.
pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    let loopback = args.listen.ip().is_loopback();
    if (args.conformance || args.clock_file.is_some()) && !loopback {
        return Err(CliError::Usage(format!(
            "--conformance and --clock-file are for tests and listen on loopback only; {} is not a loopback address",
            args.listen.ip()
        )));
    }
    let dir = require_dir(args.data_dir)?;
    let _lock = crate::store::lock::acquire_shared(&dir)?;
    // TLS files are checked before the store is opened: a bad flag changes nothing.
    let tls = args
        .tls
        .as_ref()
        .map(crate::transport::tls::server_config)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let (issuer, resource) = (args.oauth_issuer.clone(), args.oauth_resource.clone());
    let (server, store, config) = open_with(&dir, args.conformance, clock(args.clock_file), move |mut c| {
        if let Some(url) = issuer {
            c.oauth.set_issuer(&url);
        }
        if let Some(r) = resource {
            c.oauth.resource = r;
        }
        Ok(c)
    })?;
    let options = HttpOptions {
        max_body_bytes: config.max_body_bytes,
        allowed_hosts: AllowedHosts::with_extra(args.allowed_hosts),
        transport: if tls.is_some() { TransportKind::Https } else { TransportKind::Http },
        local_admin_fallback: args.conformance,
        oauth: crate::transport::http::oauth::ProtectedResource::of(&config.oauth),
    };
    let secs = std::time::Duration::from_secs;
    let listen_options = crate::transport::http::listener::ListenOptions {
        tls,
        max_connections: config.max_connections,
        max_per_address: config.connections_per_address(),
        exempt_loopback: config.per_address_exempt_loopback,
        handshake_timeout: secs(config.tls_handshake_timeout_secs),
        header_timeout: secs(config.header_timeout_secs),
        request_timeout: secs(config.request_timeout_secs),
        shutdown_grace: secs(config.shutdown_grace_secs),
    };
    let served = runtime()?.block_on(async move {
        // Fetch the issuers' keys now and keep them fresh; tollgate serves keys and mTLS meanwhile.
        if let Some(oauth) = server.governance().authenticator.oauth() {
            oauth.keys.spawn_background();
        }
        if let Some(at) = args.metrics_listen {
            crate::transport::metrics::spawn(Arc::clone(&server), at).await?;
        }
        crate::transport::http::serve(server, args.listen, options, listen_options).await
    });
    store.shutdown();
    Ok(served?)
}

/// `tollgate stdio`.
pub fn stdio(
    data_dir: Option<PathBuf>,
    api_key: Option<String>,
    local_admin: bool,
    conformance: bool,
    clock_file: Option<PathBuf>,
) -> Result<(), CliError> {
    let credential = match (api_key.filter(|k| !k.trim().is_empty()), local_admin || conformance) {
        (Some(k), _) => Credential::Bearer(k),
        (None, true) => Credential::LocalAdmin,
        (None, false) => {
            return Err(CliError::Usage(
                "no credential: set TOLLGATE_API_KEY (not empty), or pass --local-admin to act as the platform admin at this terminal"
                    .into(),
            ));
        }
    };
    let dir = require_dir(data_dir)?;
    let _lock = crate::store::lock::acquire_shared(&dir)?;
    let (server, store, _) = open(&dir, conformance, clock(clock_file))?;
    // The start-up key goes through the same authentication as every call, and a refusal is audited.
    if let Err(denial) = server.governance().admit_stdio_key(&credential) {
        store.shutdown();
        return Err(CliError::Usage(format!(
            "{} ({}); set it to a key `init`, `tenant.bootstrap` or `key.issue` printed",
            call::stdio_link::STDIO_KEY_REFUSED,
            denial.reason()
        )));
    }
    let served = runtime()?.block_on(async move {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        crate::transport::stdio::serve(server, input, tokio::io::stdout(), credential).await
    });
    store.shutdown();
    Ok(served?)
}

fn standard_schemas() -> Result<std::collections::BTreeMap<String, serde_json::Value>, CliError> {
    let registry = crate::protocol::endpoint::registry(&ServerOptions::default())
        .map_err(crate::protocol::endpoint::BuildError::from)?;
    Ok(schemas::generate(&registry))
}

/// `tollgate schemas --out DIR`.
pub fn schemas_write(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    let generated = standard_schemas()?;
    for (file, doc) in &generated {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        std::fs::write(path, schemas::render(doc))?;
    }
    eprintln!("wrote {} schema files to {}", generated.len(), dir.display());
    Ok(())
}

/// `tollgate schemas --check [--dir DIR]`.
pub fn schemas_check(dir: &Path) -> Result<(), CliError> {
    let committed =
        schemas::read_dir(dir).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", dir.display())))?;
    let problems = schemas::check(&committed, &standard_schemas()?);
    if problems.is_empty() {
        eprintln!("schemas: {} files match the code", committed.len());
        return Ok(());
    }
    Err(CliError::Schemas(problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")))
}

/// `tollgate schemas`: print every schema as one JSON object.
pub fn schemas_print() -> Result<(), CliError> {
    let generated = standard_schemas()?;
    println!("{}", serde_json::to_string_pretty(&generated).unwrap_or_default());
    Ok(())
}

/// `tollgate demo [--keep DIR] [--json]`: exit 1 if any step misbehaved.
pub fn demo(keep: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let options = demo::DemoOptions { keep, json };
    let summary = runtime()?.block_on(demo::run(&options, &mut std::io::stdout()));
    if json {
        println!("{summary}");
    }
    if summary["ok"] == true {
        return Ok(());
    }
    let failed =
        summary["steps"].as_array().and_then(|s| s.iter().find(|s| s["ok"] != true)).cloned().unwrap_or_default();
    Err(CliError::Failed(format!(
        "demo failed at step {} ({}): {}",
        failed["step"],
        failed["name"].as_str().unwrap_or("?"),
        failed["error"].as_str().unwrap_or("?")
    )))
}

/// `tollgate bench`.
pub fn bench(calls: usize, clients: &[usize]) -> Result<(), CliError> {
    if calls == 0 || clients.is_empty() || clients.contains(&0) {
        return Err(CliError::Usage("--calls and every --clients value must be at least 1".into()));
    }
    runtime()?
        .block_on(crate::cmd::bench::run(&mut std::io::stdout(), calls, clients))
        .map(|_| ())
        .map_err(CliError::Failed)
}

/// `tollgate call` and `tollgate tools`: run, print, and return the exit code (see [`call::Outcome`]).
pub fn client(connect: &call::Connect, request: Option<&call::CallRequest>, json: bool) -> u8 {
    let outcome = match runtime() {
        Err(e) => call::Outcome::Transport(format!("cannot start the runtime: {e}")),
        Ok(rt) => rt.block_on(async {
            match request {
                Some(r) => call::call(connect, r).await,
                None => call::tools(connect).await,
            }
        }),
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match (&outcome, request, json) {
        (call::Outcome::Success(list), None, false) => println!("{}", call::tool_lines(list)),
        _ => outcome.print(json, &mut out, &mut err),
    }
    outcome.exit_code()
}

/// `tollgate seed --data-dir DIR [--seed N] [--json]`.
pub fn seed(dir: Option<PathBuf>, seed: u64, json: bool) -> Result<(), CliError> {
    let dir = require_dir(dir)?;
    let out = runtime()?.block_on(seed::run(&dir, seed)).map_err(CliError::Failed)?;
    if json {
        println!("{out}");
    } else {
        println!("{}", seed::summary(&out));
    }
    Ok(())
}

pub use crate::cmd::audit::{audit_pubkey, audit_rotate_key, audit_verify};
pub use crate::cmd::backup::command::{backup, restore};
pub use crate::cmd::export::{audit_export, verify_package};
