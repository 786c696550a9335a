//! The built-in plugins embedded in the binary, and the grants derived for them.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_core::digest;
use platform_migrate_policy::policy;

pub mod builtins;
