//! The `tollgate` command line: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tollgate", version, about = "Multi-tenant MCP tool server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Streamable HTTP at /mcp.
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on stderr).
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Also accept this Host/Origin name (repeatable); loopback names are always accepted.
        #[arg(long = "allowed-host")]
        allowed_hosts: Vec<String>,
        /// Largest accepted request body in bytes.
        #[arg(long, default_value_t = tollgate::transport::http::DEFAULT_MAX_BODY)]
        max_body_bytes: usize,
        /// Register the conformance suites' fixture tools (loopback addresses only).
        #[arg(long, hide = true)]
        conformance: bool,
    },
    /// Serve newline-delimited JSON-RPC on stdin/stdout.
    Stdio {
        /// Register the conformance suites' fixture tools.
        #[arg(long, hide = true)]
        conformance: bool,
    },
    /// Write or check the published tool schemas.
    Schemas {
        /// Write one file per tool version into this directory.
        #[arg(long, conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Fail if `--dir` differs from the code or breaks a published version.
        #[arg(long)]
        check: bool,
        /// Directory checked by `--check`.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
    /// Run the main job end to end on a temporary server and print a summary.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tollgate::cli::init_logging();
    let result = match cli.command {
        Command::Serve {
            listen,
            allowed_hosts,
            max_body_bytes,
            conformance,
        } => tollgate::cli::serve(listen, allowed_hosts, max_body_bytes, conformance),
        Command::Stdio { conformance } => tollgate::cli::stdio(conformance),
        Command::Schemas { out: Some(dir), .. } => tollgate::cli::schemas_write(&dir),
        Command::Schemas {
            check: true, dir, ..
        } => tollgate::cli::schemas_check(&dir),
        Command::Schemas { .. } => tollgate::cli::schemas_print(),
        Command::Demo => tollgate::cli::demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
