//! Host-side bindings, one module per supported version of the WIT package, generated from
//! `sdk/wit/since_vX.Y.Z`, the one copy of the WIT on disk (kept side by side, like Zed's
//! extension host; the SDK ships it). In each, the host imports
//! are generated once (world `host`) and shared by the three plugin worlds. 0.2.0's carry the host's
//! implementation of the imports; the others delegate to it (`host_v0_1.rs`, `host_v0_3.rs`).

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

version!(
    /// `platform:migrate@0.1.0`, frozen: plugins built against it keep loading.
    v0_1,
    "../../sdk/wit/since_v0.1.0"
);
version!(
    /// `platform:migrate@0.2.0`: adds the runner's ledger (`ledger-read`, `ledger-append`).
    v0_2,
    "../../sdk/wit/since_v0.2.0"
);
version!(
    /// `platform:migrate@0.3.0`: adds the runner's `schema-snapshot` and `services`.
    v0_3,
    "../../sdk/wit/since_v0.3.0"
);
