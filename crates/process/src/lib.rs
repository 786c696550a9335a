//! Starting the programs plugins ask for: confined, bounded in time and output, and warm-started for fleets.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

use platform_migrate_core::interrupt;
use platform_migrate_policy::{confine, policy};

pub mod background;
pub mod proc;
pub mod warm;
