//! Backups off the runner (an S3-compatible object store) and the backup catalog.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_config::config;
use platform_migrate_core::{atomic, secrets};

pub mod catalog;
pub mod store;
