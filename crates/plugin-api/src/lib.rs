//! What the host asks of plugins, in its own types: one trait per world, the opener, the WIT versions and world shapes; free of wasmtime.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_config::config;
use platform_migrate_core::{exit, phase, text};
use platform_migrate_policy::policy;
use platform_migrate_store::store;

pub mod plugin_api;
pub mod shape;
pub mod versions;
