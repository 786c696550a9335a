//! platform-migrate: run Django migrations safely across environments through sandboxed
//! WebAssembly plugins. This is the binary's crate: the command line (`cli`, `app`), the six
//! steps of a run (`run`, one file each), backups for step 3 and the `backups` commands
//! (`backup_ops`, `backups`), the run log (`history`, hash-chained) and the same log in the
//! environment's database (`ledger`), the words runs and steps end with (`outcome`), the
//! outputs (`report`: `--output json`, `markdown`, `sarif`), `lint --since` (`lint_cmd`, `git`,
//! `lint_report`), fleets (`fleet`), `init` and the `plugin(s)` commands (`plugins`).
//!
//! The rest lives in the library crates under `crates/` (docs/layout.md), whose dependencies
//! point one way, and is imported here under the same module names (`crate::config`, ...):
//! `core` (`text`, `secrets`, `exit`, `atomic`, `interrupt`, `phase`, `ui`), `policy` (`policy`,
//! `confine`), `lint`, `process` (`proc`, `background`, `warm`), `builtins`, `config`, `store`
//! (`store`, `catalog`), `plugin-api` (`plugin_api`) and `sandbox` (the only one with wasmtime).
//!
//! Only what `main.rs` and the benchmarks use is public; everything else is `pub(crate)`, so
//! the compiler reports what nothing uses.

pub mod app;
pub(crate) use platform_migrate_core::atomic;
pub(crate) use platform_migrate_core::digest;
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
