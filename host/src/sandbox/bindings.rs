//! Host-side bindings generated from `wit/since_v0.1.0`. The host imports are generated once
//! (world `host`) and shared by the three plugin worlds.

wasmtime::component::bindgen!({
    path: "../wit/since_v0.1.0",
    world: "host",
    with: {
        // Handles of background programs live in the plugin's resource table.
        "platform:migrate/process.child": crate::background::Background,
    },
});

/// One plugin world's bindings, sharing the host imports generated above.
macro_rules! world {
    ($(#[$doc:meta])* $module:ident, $world:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../wit/since_v0.1.0",
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

world!(
    /// The migration-runner world.
    runner,
    "migration-runner"
);
world!(
    /// The backup-provider world.
    backup,
    "backup-provider"
);
world!(
    /// The notifier world.
    notifier,
    "notifier"
);
