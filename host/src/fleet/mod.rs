//! Fleets: an environment whose migrations go to several databases (targets). The settings,
//! the target list's shape and sharding are the config's (`platform_migrate_config::fleet`);
//! here `sources.rs` reads the list, `target.rs` derives one target's config, `rollout.rs`
//! runs many.

pub use platform_migrate_config::fleet::*;

pub mod rollout;
pub mod sources;
pub mod target;
