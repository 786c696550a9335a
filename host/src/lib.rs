//! platform-migrate: run Django migrations safely across environments through sandboxed
//! WebAssembly plugins. Where things are:
//! - `cli`: the command line; `exit`: exit codes.
//! - `config`: `platform-migrate.toml`; `policy`: grants and their checks (no wasmtime);
//!   `secrets`: resolution and redaction.
//! - `plugin_api`: what the host asks of plugins, in its own types (one trait per world and
//!   `Opener`, the one way to open a plugin); `sandbox`: wasmtime, WASI, the host imports
//!   (`log`, `config`, `process`, `wasi:http`) and the WIT bindings, converted to
//!   `plugin_api` in `sandbox/convert.rs`.
//! - `proc`, `background`: spawning the programs plugins start; `confine`: the kernel
//!   confinement (Landlock) every such program runs under; `text`: plugin text made safe.
//! - `run`: the six steps, one file each; `backup_ops`: backups for step 3 and the `backups`
//!   commands; `history`: the run log (hash-chained); `ledger`: the same log and the drift
//!   checksums kept in the environment's database, for every machine; `outcome`: the words runs and steps end
//!   with; `ui`: human output; `report`: `--output json`; `markdown`: `--output markdown`.
//! - `lint_cmd`: `lint --since`, what a git branch adds (`git`); `lint_report`: what it found,
//!   read by every output (`markdown`, `sarif`);
//!   `phase`: deploy phases (`--phase pre|post`).
//! - `store`: backups off the runner, in an S3-compatible object store.
//! - `backups`, `plugins`: the `backups ...` and `plugin(s) ...` commands; `builtins`: the
//!   plugins embedded in the binary and the grants derived for them.
//!
//! Only what `main.rs` and the benchmarks use is public; everything else is `pub(crate)`, so
//! the compiler reports what nothing uses.

pub mod app;
pub(crate) use platform_migrate_core::atomic;
pub(crate) mod backup_ops;
pub(crate) mod backups;
pub(crate) use platform_migrate_builtins::builtins;
pub(crate) use platform_migrate_store::catalog;
pub(crate) mod checksums;
pub mod cli;
pub(crate) use platform_migrate_config::config;
pub use platform_migrate_core::exit;
pub use platform_migrate_policy::confine;
pub(crate) mod fleet;
pub(crate) mod git;
pub(crate) mod history;
pub(crate) mod history_cmd;
pub(crate) mod init;
pub use platform_migrate_core::interrupt;
pub(crate) mod ledger;
pub(crate) use platform_migrate_lint::lint;
pub(crate) mod lint_cmd;
pub(crate) mod lint_report;
pub(crate) mod lock;
pub(crate) mod markdown;
pub(crate) mod outcome;
pub use platform_migrate_core::phase;
pub(crate) use platform_migrate_plugin_api::plugin_api;
pub(crate) mod plugins;
pub(crate) use platform_migrate_policy::policy;
pub(crate) use platform_migrate_process::proc;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) use platform_migrate_sandbox::sandbox;
pub(crate) mod sarif;
pub use platform_migrate_core::secrets;
pub use platform_migrate_core::text;
pub(crate) use platform_migrate_store::store;

/// Colours of human output and logs, from `--color` (and `NO_COLOR`).
pub use ui::set_color;

pub(crate) use platform_migrate_core::ui;
pub use platform_migrate_process::warm;
/// For the benchmarks (`benches/compare.rs`): the engine plugins run on, and the
/// compiled-plugin cache.
pub use sandbox::{cache as compiled_cache, engine as plugin_engine};

/// What `--version` prints after the program's name: the host's version, the WIT versions it
/// loads, and each built-in's sha256.
pub fn version_text() -> String {
    let mut out = format!("{}\n", env!("CARGO_PKG_VERSION"));
    out.push_str(&format!(
        "wit: {} {}\n",
        crate::sandbox::versions::PACKAGE,
        crate::sandbox::versions::SUPPORTED.join(", ")
    ));
    for b in builtins::all() {
        match b.sha256() {
            Some(sha) => out.push_str(&format!("{:<24} sha256:{sha}\n", b.label())),
            None => out.push_str(&format!("{:<24} not built into this binary\n", b.label())),
        }
    }
    out.trim_end().to_string()
}
