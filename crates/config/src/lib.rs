//! platform-migrate.toml: loading and checking it, every error with file, line and column.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_builtins::builtins;
use platform_migrate_core::{digest, secrets};
use platform_migrate_lint::lint;
use platform_migrate_policy::policy;
use platform_migrate_process::proc;

pub mod config;
pub mod fleet;
pub mod store_config;
