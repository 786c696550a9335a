//! The only crate that runs wasmtime: loading plugins, WASI, the host imports and the WIT bindings, converted to the plugin API.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_config::config;
use platform_migrate_core::{digest, interrupt, secrets, text, ui};
use platform_migrate_plugin_api::plugin_api;
use platform_migrate_policy::{confine, policy};
use platform_migrate_process::{background, proc};
use platform_migrate_store::store;

pub mod sandbox;
