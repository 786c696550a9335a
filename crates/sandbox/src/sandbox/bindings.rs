//! Host-side bindings, one module per supported version of the WIT package, generated from
//! `sdk/wit/since_vX.Y.Z`, the one copy of the WIT on disk (kept side by side, like Zed's
//! extension host; the SDK ships it). In each, the host imports
//! are generated once (world `host`) and shared by the three plugin worlds. The newest's
//! (`latest`) carry the host's implementation of the imports; the others delegate to it
//! (`host_older.rs`).

/// One version's bindings: the host imports, then the three plugin worlds sharing them.
macro_rules! version {
    ($(#[$doc:meta])* $version:ident, $path:literal) => {
        $(#[$doc])*
        pub mod $version {
            wasmtime::component::bindgen!({
                path: $path,
                world: "host",
                with: {
                    // Handles of background programs live in the plugin's resource table.
                    "platform:migrate/process.child": crate::background::Background,
                },
            });

            world!(
                /// The migration-runner world.
                runner,
                $path,
                "migration-runner"
            );
            world!(
                /// The backup-provider world.
                backup,
                $path,
                "backup-provider"
            );
            world!(
                /// The notifier world.
                notifier,
                $path,
                "notifier"
            );
        }
    };
}

/// One plugin world's bindings, sharing its version's host imports.
macro_rules! world {
    ($(#[$doc:meta])* $module:ident, $path:literal, $world:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: $world,
                with: {
                    "platform:migrate/log": super::platform::migrate::log,
                    "platform:migrate/config": super::platform::migrate::config,
                    "platform:migrate/process": super::platform::migrate::process,
                },
            });
        }
    };
}

/// Every supported version, oldest first: its module, its `Wit` variant and its WIT folder.
/// Adding a version is one line here (plus its conversions and its host imports' file); the
/// host imports of each are linked and each world's types checked from this one list.
macro_rules! versions {
    ($($(#[$doc:meta])* $version:ident: $wit:ident, $path:literal;)*) => {
        $(version!($(#[$doc])* $version, $path);)*

        /// Link every version's host imports, side by side (each older or newer version's
        /// delegate to the implementation in `host_log.rs`, `host_config.rs`, `host_process.rs`).
        pub fn add_imports_to_linker(
            linker: &mut wasmtime::component::Linker<super::PluginState>,
        ) -> wasmtime::Result<()> {
            use super::PluginState;
            use wasmtime::component::HasSelf;
            $({
                use $version::platform::migrate::{config as cfg, log, process};
                log::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
                cfg::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
                process::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
            })*
            Ok(())
        }

        /// Whether a linked component's exports have the types of `world` at `wit`.
        pub fn check_world(
            world: super::World,
            wit: super::versions::Wit,
            pre: wasmtime::component::InstancePre<super::PluginState>,
        ) -> wasmtime::Result<()> {
            use super::versions::Wit;
            use super::World;
            match wit {
                $(Wit::$wit => match world {
                    World::Runner => $version::runner::MigrationRunnerPre::new(pre).map(drop),
                    World::Backup => $version::backup::BackupProviderPre::new(pre).map(drop),
                    World::Notifier => $version::notifier::NotifierPre::new(pre).map(drop),
                },)*
            }
        }
    };
}

versions! {
    /// `platform:migrate@0.1.0`, frozen: plugins built against it keep loading.
    v0_1: V0_1, "../../sdk/wit/since_v0.1.0";
    /// `platform:migrate@0.2.0`: adds the runner's ledger (`ledger-read`, `ledger-append`).
    v0_2: V0_2, "../../sdk/wit/since_v0.2.0";
    /// `platform:migrate@0.3.0`: adds the runner's `schema-snapshot` and `services`.
    v0_3: V0_3, "../../sdk/wit/since_v0.3.0";
}

/// The newest version's bindings: what the SDK builds against and where a new export goes.
pub use v0_3 as latest;
