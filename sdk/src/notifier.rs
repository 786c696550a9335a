//! The **notifier** world: tell people about runs.
//!
//! Implement [`Notifier`] and register it with [`register_notifier!`](crate::register_notifier).

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export shims
pub mod world {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "notifier",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.1.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.1.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.1.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_notifier_world",
        default_bindings_module: "::platform_migrate_sdk::notifier::world",
    });
}

pub use world::platform::migrate::notifier_types::{
    AppliedMigration, NotifyError, Outcome, RunEvent,
};
pub use world::platform::migrate::types::{Capability, MigrationRef, PluginInfo};

/// A notifier. Both methods are required.
pub trait Notifier {
    /// Name, version and the capabilities the plugin needs.
    fn describe() -> PluginInfo;
    /// Deliver one run event.
    fn notify(event: RunEvent) -> Result<(), NotifyError>;
}

/// Export a [`Notifier`] implementation as the plugin's component exports.
#[macro_export]
macro_rules! register_notifier {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __PlatformMigrateNotifier;
        impl $crate::notifier::world::Guest for __PlatformMigrateNotifier {
            fn describe() -> $crate::notifier::PluginInfo {
                <$t as $crate::notifier::Notifier>::describe()
            }
            fn notify(
                event: $crate::notifier::RunEvent,
            ) -> Result<(), $crate::notifier::NotifyError> {
                <$t as $crate::notifier::Notifier>::notify(event)
            }
        }
        $crate::notifier::world::__export_notifier_world!(__PlatformMigrateNotifier);
    };
}
