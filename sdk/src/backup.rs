//! The **backup-provider** world: back up the environment's database before migrations run.
//!
//! The host mounts the environment's backup directory at [`BACKUP_DIR`] (read-write). Implement
//! [`BackupProvider`] and register it with [`register_backup!`](crate::register_backup).

#[doc(hidden)]
pub mod world {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "backup-provider",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.1.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.1.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.1.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_backup_world",
        default_bindings_module: "::platform_migrate_sdk::backup::world",
    });
}

pub use world::platform::migrate::backup_types::{BackupError, BackupInfo};
pub use world::platform::migrate::types::{Capability, PluginInfo, RunContext};

/// Where the host mounts the environment's backup directory inside the plugin.
pub const BACKUP_DIR: &str = "/backups";

/// A backup provider. Only `describe` and `create` are required.
pub trait BackupProvider {
    /// Name, version and the capabilities the plugin needs.
    fn describe() -> PluginInfo;
    /// Make a new backup under a never-reused name in [`BACKUP_DIR`].
    fn create(ctx: RunContext) -> Result<BackupInfo, BackupError>;
    /// Check a backup. Default: the file exists in [`BACKUP_DIR`] and is not empty.
    fn verify(ctx: RunContext, backup: BackupInfo) -> Result<(), BackupError> {
        let _ = ctx;
        let path = format!("{BACKUP_DIR}/{}", backup.file);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > 0 => Ok(()),
            Ok(_) => Err(BackupError::Invalid(format!("{} is empty", backup.file))),
            Err(e) => Err(BackupError::Invalid(format!("{}: {e}", backup.file))),
        }
    }
    /// The backups in [`BACKUP_DIR`]. Default: none known.
    fn list_backups(ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

/// Export a [`BackupProvider`] implementation as the plugin's component exports.
#[macro_export]
macro_rules! register_backup {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __PlatformMigrateBackup;
        impl $crate::backup::world::Guest for __PlatformMigrateBackup {
            fn describe() -> $crate::backup::PluginInfo {
                <$t as $crate::backup::BackupProvider>::describe()
            }
            fn create(
                ctx: $crate::backup::RunContext,
            ) -> Result<$crate::backup::BackupInfo, $crate::backup::BackupError> {
                <$t as $crate::backup::BackupProvider>::create(ctx)
            }
            fn verify(
                ctx: $crate::backup::RunContext,
                backup: $crate::backup::BackupInfo,
            ) -> Result<(), $crate::backup::BackupError> {
                <$t as $crate::backup::BackupProvider>::verify(ctx, backup)
            }
            fn list_backups(
                ctx: $crate::backup::RunContext,
            ) -> Result<Vec<$crate::backup::BackupInfo>, $crate::backup::BackupError> {
                <$t as $crate::backup::BackupProvider>::list_backups(ctx)
            }
        }
        $crate::backup::world::__export_backup_world!(__PlatformMigrateBackup);
    };
}
