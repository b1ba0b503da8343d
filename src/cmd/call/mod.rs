//! `tollgate call` and `tollgate tools`: a command-line MCP client for
//! scripts and operators, over HTTP, HTTPS (mTLS) or a stdio child, in either
//! protocol era, with stable exit codes ([`outcome`]).

pub mod ask;
pub mod conversation;
pub mod http_link;
pub mod link;
pub mod message;
pub mod options;
pub mod outcome;
pub mod run;
pub mod stdio_link;

pub use options::Connect;
pub use outcome::Outcome;
pub use run::{ArgsSource, CallRequest, call, tool_lines, tools};
