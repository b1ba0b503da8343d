//! `tollgate demo`: the main job, end to end, on a throwaway (or kept) data
//! dir, every step checked, with a readable or a JSON summary.

pub mod context;
pub mod flow;
pub mod http_steps;
pub mod kill_switch;
pub mod package;
pub mod report;
pub mod stdio;
pub mod verify;

pub use flow::{DemoOptions, run};
