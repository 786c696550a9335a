//! The **notifier** world: tell people about runs.
//!
//! Implement [`Notifier`] and register it with [`register_notifier!`](crate::register_notifier).
//!
//! A complete notifier that POSTs a line of text to a webhook whose URL is a granted secret
//! (config: `grants.secrets = { team-hook = { env = "TEAM_HOOK_URL" } }` and
//! `grants.hosts = ["https://chat.example.com"]`):
//!
//! ```no_run
//! use platform_migrate_sdk::notifier::*;
//! use platform_migrate_sdk::{config, http, log, register_notifier};
//!
//! struct TeamHook;
//!
//! impl Notifier for TeamHook {
//!     fn describe() -> PluginInfo {
//!         platform_migrate_sdk::info!(
//!             "team-hook",
//!             "Posts one line per run to the team's chat",
//!             [
//!                 Capability::Secret("team-hook".into()),
//!                 Capability::OutboundHttp("https://chat.example.com".into()),
//!             ]
//!         )
//!     }
//!
//!     fn notify(event: RunEvent) -> Result<(), NotifyError> {
//!         let url = config::secret("team-hook")
//!             .map_err(|e| NotifyError::Misconfigured(config::message(&e)))?;
//!         let text = format!("{}: {} {:?}, {} changes", event.env, event.action,
//!                            event.outcome, event.applied.len());
//!         let body = serde_json::json!({ "text": text });
//!         match http::post_json(&url, &body) {
//!             Ok(r) if r.status < 300 => Ok(()),
//!             Ok(r) => Err(NotifyError::Rejected(format!("status {}", r.status))),
//!             Err(http::HttpError::Denied(m)) => Err(NotifyError::Denied(m)),
//!             Err(e) => {
//!                 log::warn(&format!("webhook unreachable: {e}"));
//!                 Err(NotifyError::Unavailable(e.to_string()))
//!             }
//!         }
//!     }
//! }
//!
//! register_notifier!(TeamHook);
//! # fn main() {}
//! ```

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export shims
pub mod world {
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    wit_bindgen::generate!({
        path: "wit/since_v0.3.0",
        world: "notifier",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.3.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.3.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.3.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_notifier_world",
        default_bindings_module: "::platform_migrate_sdk::notifier::world",
    });
    #[cfg(feature = "wit-v0-2")]
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "notifier",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.2.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.2.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.2.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_notifier_world",
        default_bindings_module: "::platform_migrate_sdk::notifier::world",
    });
    #[cfg(feature = "wit-v0-1")]
    wit_bindgen::generate!({
        path: "wit/since_v0.1.0",
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
#[cfg(not(feature = "wit-v0-1"))]
pub use world::platform::migrate::types::{Setting, SettingType};
crate::__info_impls!();

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
