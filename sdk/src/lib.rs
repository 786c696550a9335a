//! # platform-migrate SDK
//!
//! Write plugins for [platform-migrate](https://example.invalid/platform-migrate) in Rust: a
//! **migration runner**, a **backup provider** or a **notifier**. A plugin is a WebAssembly
//! component built for `wasm32-wasip2`; the host gives it nothing but what its config grants.
//!
//! 1. Depend on this crate with exactly one world feature: `runner`, `backup` or `notifier`.
//! 2. Implement the world's trait ([`Runner`], [`BackupProvider`] or [`Notifier`]); methods with
//!    a sensible default may be left out.
//! 3. Register the type with [`register_runner!`], [`register_backup!`] or [`register_notifier!`].
//! 4. `cargo build --release --target wasm32-wasip2` and point a `[plugins.NAME]` entry at the
//!    `.wasm` file.
//!
//! Host calls are wrapped in small helpers: [`process`] runs granted programs, [`config`] reads
//! settings and secrets, [`log`] writes into the host's log.
//!
//! Each world module starts with a complete plugin that compiles (they are doc tests):
//! [`notifier`] (with a webhook over [`http`]), [`backup`] (a dump program writing straight into
//! the backup directory) and [`runner`]. `platform-migrate plugin new --kind KIND NAME` writes
//! a crate to start from, and PLUGINS.md in the repository walks through building, checking,
//! pinning and granting one.
//!
//! Read these docs with `just sdk-docs` in a platform-migrate checkout (every world at once), or
//! `cargo doc -p platform-migrate-sdk --features notifier --open` (or `backup`, `runner`) for one
//! world: a plugin enables exactly one.

// Lets the generated export macros name this crate the same way from inside and outside.
extern crate self as platform_migrate_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Raw bindings of the host imports (`log`, `config`, `process`), shared by every world.
pub mod bindings {
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    wit_bindgen::generate!({
        path: "wit/since_v0.3.0",
        world: "host",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        generate_all,
    });
    #[cfg(feature = "wit-v0-2")]
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "host",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        generate_all,
    });
    #[cfg(feature = "wit-v0-1")]
    wit_bindgen::generate!({
        path: "wit/since_v0.1.0",
        world: "host",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        generate_all,
    });
}

pub mod config;
pub mod log;
pub mod process;

#[cfg(feature = "runner")]
pub mod runner;
#[cfg(feature = "runner")]
pub use runner::Runner;

#[cfg(feature = "backup")]
pub mod backup;
#[cfg(feature = "backup")]
pub use backup::BackupProvider;

#[cfg(any(feature = "notifier", feature = "backup"))]
pub mod http;
#[cfg(feature = "notifier")]
pub mod notifier;
#[cfg(feature = "notifier")]
pub use notifier::Notifier;

#[cfg(all(feature = "wit-v0-1", feature = "wit-v0-2"))]
compile_error!("enable at most one of the features `wit-v0-1` and `wit-v0-2`");

// Documentation (docs.rs, `just sdk-docs`) builds every world at once with `--cfg docsrs`.
#[cfg(all(
    not(docsrs),
    any(
        all(feature = "runner", feature = "backup"),
        all(feature = "runner", feature = "notifier"),
        all(feature = "backup", feature = "notifier")
    )
))]
compile_error!(
    "enable exactly one of the features `runner`, `backup`, `notifier`: a plugin implements one world"
);

/// Build a `PluginInfo` from the crate's version and a list of capabilities.
///
/// `info!("my-plugin", "What it does", [Capability::RunProgram("python".into())])`
#[macro_export]
macro_rules! info {
    ($name:expr, $description:expr, [$($cap:expr),* $(,)?]) => {
        PluginInfo::__new(
            ::std::string::String::from($name),
            ::std::string::String::from(env!("CARGO_PKG_VERSION")),
            ::std::string::String::from($description),
            ::std::vec![$($cap),*],
        )
    };
}

/// What every world module adds to its `PluginInfo` and (from WIT 0.2.0) `Setting`: the
/// constructor [`info!`] uses, and builders for a settings schema.
macro_rules! __info_impls {
    () => {
        impl PluginInfo {
            #[doc(hidden)]
            pub fn __new(
                name: String,
                version: String,
                description: String,
                capabilities: Vec<Capability>,
            ) -> PluginInfo {
                PluginInfo {
                    name,
                    version,
                    description,
                    capabilities,
                    #[cfg(not(feature = "wit-v0-1"))]
                    settings: None,
                }
            }

            /// Declare every setting the plugin reads. The host then refuses, at the setting's
            /// `file:line:column` and before calling anything but `describe`, a config that sets
            /// another key, gives one the wrong type or leaves out a required one; `plugin
            /// inspect` prints them. Without this the host hands over whatever the config sets.
            #[cfg(not(feature = "wit-v0-1"))]
            pub fn with_settings(mut self, settings: impl IntoIterator<Item = Setting>) -> Self {
                self.settings = Some(settings.into_iter().collect());
                self
            }

            /// Add capabilities worked out at run time (from the settings, say) to those
            /// [`info!`](crate::info) listed.
            pub fn with_capabilities(mut self, caps: impl IntoIterator<Item = Capability>) -> Self {
                self.capabilities.extend(caps);
                self
            }
        }

        #[cfg(not(feature = "wit-v0-1"))]
        impl Setting {
            /// An optional setting of type `kind`, with no default and no secret.
            pub fn new(name: &str, kind: SettingType, description: &str) -> Setting {
                Setting {
                    name: name.to_string(),
                    kind,
                    required: false,
                    default: None,
                    secret: false,
                    description: description.to_string(),
                }
            }
            /// An optional string setting.
            pub fn text(name: &str, description: &str) -> Setting {
                Setting::new(name, SettingType::Text, description)
            }
            /// The config must set it.
            pub fn required(mut self) -> Setting {
                self.required = true;
                self
            }
            /// What the plugin uses when it is absent, written as TOML (`"\"default\""`, `"5"`).
            pub fn default_toml(mut self, toml: &str) -> Setting {
                self.default = Some(toml.to_string());
                self
            }
            /// Its value names a secret (for a text table, every value does); the host checks
            /// that `grants.secrets` defines it.
            pub fn secret(mut self) -> Setting {
                self.secret = true;
                self
            }
        }
    };
}
#[allow(unused_imports)] // unused when no world feature is on
pub(crate) use __info_impls;
