//! platform-migrate: run Django migrations safely across environments through sandboxed
//! WebAssembly plugins. Where things are:
//! - `cli`: the command line; `exit`: exit codes.
//! - `config`: `platform-migrate.toml`; `policy`: grants and their checks (no wasmtime);
//!   `secrets`: resolution and redaction.
//! - `sandbox`: wasmtime, WASI and the host imports (`log`, `config`, `process`);
//!   `proc`: spawning child processes for plugins; `confine`: the kernel confinement
//!   (Landlock) every such process runs under; `text`: plugin text made safe to show.
//! - `run`: the six steps, one file each; `history`: the run log (hash-chained); `ui`: human
//!   output; `report`: `--output json`.
//! - `backups`, `plugins`: the `backups ...` and `plugins list|lock` commands.

pub mod app;
pub mod atomic;
pub mod background;
pub mod backup_ops;
pub mod backups;
pub mod catalog;
pub mod checksums;
pub mod cli;
pub mod config;
pub mod confine;
pub mod exit;
pub mod history;
pub mod interrupt;
pub mod lint;
pub mod lock;
pub mod outcome;
pub mod plugin_api;
pub mod plugins;
pub mod policy;
pub mod proc;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod secrets;
pub mod text;
pub mod ui;
