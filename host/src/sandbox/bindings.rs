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

/// The migration-runner world.
pub mod runner {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "migration-runner",
        with: {
            "platform:migrate/log": super::platform::migrate::log,
            "platform:migrate/config": super::platform::migrate::config,
            "platform:migrate/process": super::platform::migrate::process,
        },
    });
}

/// The backup-provider world.
pub mod backup {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "backup-provider",
        with: {
            "platform:migrate/log": super::platform::migrate::log,
            "platform:migrate/config": super::platform::migrate::config,
            "platform:migrate/process": super::platform::migrate::process,
        },
    });
}

/// The notifier world.
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "notifier",
        with: {
            "platform:migrate/log": super::platform::migrate::log,
            "platform:migrate/config": super::platform::migrate::config,
            "platform:migrate/process": super::platform::migrate::process,
        },
    });
}
