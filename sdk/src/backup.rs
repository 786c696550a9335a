//! The **backup-provider** world: back up the environment's database before migrations run.
//!
//! The host mounts the environment's backup directory at [`BACKUP_DIR`] (read-write). Implement
//! [`BackupProvider`] and register it with [`register_backup!`](crate::register_backup).
//!
//! A complete provider that runs a dump program and has the host write its stdout straight into
//! the backup directory (config: `grants.commands = [{ program = "mysqldump", args =
//! ["--single-transaction", "*"] }]`). `verify`, `delete` and `list_backups` fall back to the
//! trait's defaults except `list_backups`, which lists this provider's files:
//!
//! ```no_run
//! use platform_migrate_sdk::backup::*;
//! use platform_migrate_sdk::process::{self, Command};
//! use platform_migrate_sdk::{config, register_backup};
//!
//! struct MysqlDump;
//!
//! impl BackupProvider for MysqlDump {
//!     fn describe() -> PluginInfo {
//!         platform_migrate_sdk::info!("mysql-dump", "mysqldump into the backup directory",
//!                                     [Capability::RunProgram("mysqldump".into())])
//!     }
//!
//!     fn create(ctx: RunContext) -> Result<BackupInfo, BackupError> {
//!         let db = config::get("database")
//!             .ok_or_else(|| BackupError::Misconfigured("setting `database` is missing".into()))?;
//!         let (id, created) = new_backup_id(&ctx.env);
//!         let file = format!("{id}.sql");
//!         let out = Command::new("mysqldump")
//!             .args(["--single-transaction", db.as_str()])
//!             .stdout_file(format!("{BACKUP_DIR}/{file}"))
//!             .run()
//!             .map_err(|e| BackupError::Other(process::message(&e)))?;
//!         if out.exit_code != Some(0) {
//!             return Err(BackupError::Other(process::tail(&out.stderr, 5)));
//!         }
//!         let size = std::fs::metadata(format!("{BACKUP_DIR}/{file}"))
//!             .map(|m| m.len())
//!             .unwrap_or(0);
//!         Ok(BackupInfo { id, file, size, created })
//!     }
//!
//!     fn list_backups(_ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
//!         list_backup_files(".sql")
//!     }
//! }
//!
//! register_backup!(MysqlDump);
//! # fn main() {}
//! ```

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export shims
pub mod world {
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    wit_bindgen::generate!({
        path: "wit/since_v0.3.0",
        world: "backup-provider",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.3.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.3.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.3.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_backup_world",
        default_bindings_module: "::platform_migrate_sdk::backup::world",
    });
    #[cfg(feature = "wit-v0-2")]
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "backup-provider",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.2.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.2.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.2.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_backup_world",
        default_bindings_module: "::platform_migrate_sdk::backup::world",
    });
    #[cfg(feature = "wit-v0-1")]
    wit_bindgen::generate!({
        path: "wit/since_v0.1.0",
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
#[cfg(not(feature = "wit-v0-1"))]
pub use world::platform::migrate::types::{Setting, SettingType};
crate::__info_impls!();

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
    /// Delete a backup that the host's retention no longer keeps. Default: remove
    /// `BACKUP_DIR/<file>`.
    fn delete(ctx: RunContext, backup: BackupInfo) -> Result<(), BackupError> {
        let _ = ctx;
        if backup.file.contains('/') || backup.file.starts_with('.') {
            return Err(BackupError::Other(format!(
                "refusing to delete {:?}: not a plain file name",
                backup.file
            )));
        }
        let path = format!("{BACKUP_DIR}/{}", backup.file);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackupError::Other(format!("cannot delete {path}: {e}"))),
        }
    }
    /// The backups in [`BACKUP_DIR`]. Default: none known.
    fn list_backups(ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
        let _ = ctx;
        Ok(Vec::new())
    }
    /// Restore `backup` into `target`, a new database or file that must not exist yet; never
    /// over the live one. Read the archive through `stdin-file` of `BACKUP_DIR/<file>`: the
    /// host feeds it from the backup directory or the env's backup store, sha256 checked.
    /// Default: not supported.
    #[cfg(not(feature = "wit-v0-1"))]
    fn restore(ctx: RunContext, backup: BackupInfo, target: String) -> Result<(), BackupError> {
        let _ = (ctx, backup, target);
        Err(BackupError::Unsupported(
            "this backup provider cannot restore; restore by hand".into(),
        ))
    }
}

/// The restore export of [`register_backup!`] (WIT 0.2.0 and later).
#[doc(hidden)]
#[cfg(not(feature = "wit-v0-1"))]
#[macro_export]
macro_rules! __backup_restore_export {
    ($t:ty) => {
        fn restore(
            ctx: $crate::backup::RunContext,
            backup: $crate::backup::BackupInfo,
            target: String,
        ) -> Result<(), $crate::backup::BackupError> {
            <$t as $crate::backup::BackupProvider>::restore(ctx, backup, target)
        }
    };
}

/// WIT 0.1.0 has no restore.
#[doc(hidden)]
#[cfg(feature = "wit-v0-1")]
#[macro_export]
macro_rules! __backup_restore_export {
    ($t:ty) => {};
}

/// Every file in [`BACKUP_DIR`] whose name ends in `suffix`, as backups whose id is the name
/// without the suffix, sorted by id. A ready-made `list_backups` for file-based providers.
pub fn list_backup_files(suffix: &str) -> Result<Vec<BackupInfo>, BackupError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(BACKUP_DIR)
        .map_err(|e| BackupError::Other(format!("{BACKUP_DIR}: {e}")))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = file.strip_suffix(suffix) {
            out.push(BackupInfo {
                id: id.to_string(),
                size: entry.metadata().map(|m| m.len()).unwrap_or(0),
                file,
                created: String::new(),
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A fresh backup name: `<env>-<UTC stamp>-<6 hex>` and the RFC 3339 creation time. Create the
/// file with `create_new` (or [`crate::process::Command::stdout_file`]) and call again on a
/// collision: two backups in the same second get different suffixes.
pub fn new_backup_id(env: &str) -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (stamp, created) = utc_stamp(secs);
    (format!("{env}-{stamp}-{}", random_suffix()), created)
}

/// `(YYYYMMDDTHHMMSSZ, YYYY-MM-DDTHH:MM:SSZ)` for seconds since the epoch, in UTC.
pub fn utc_stamp(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// 24 unpredictable bits as 6 hex digits (std seeds `RandomState` from `wasi:random`).
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:06x}", h.finish() & 0xff_ffff)
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
            fn delete(
                ctx: $crate::backup::RunContext,
                backup: $crate::backup::BackupInfo,
            ) -> Result<(), $crate::backup::BackupError> {
                <$t as $crate::backup::BackupProvider>::delete(ctx, backup)
            }
            fn list_backups(
                ctx: $crate::backup::RunContext,
            ) -> Result<Vec<$crate::backup::BackupInfo>, $crate::backup::BackupError> {
                <$t as $crate::backup::BackupProvider>::list_backups(ctx)
            }
            $crate::__backup_restore_export!($t);
        }
        $crate::backup::world::__export_backup_world!(__PlatformMigrateBackup);
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamp_is_calendar_correct() {
        assert_eq!(super::utc_stamp(0).0, "19700101T000000Z");
        assert_eq!(super::utc_stamp(1_795_000_000).1, "2026-11-18T11:06:40Z");
        assert_eq!(super::utc_stamp(951_782_400).0, "20000229T000000Z");
    }

    #[test]
    fn ids_in_the_same_second_differ() {
        let ids: std::collections::BTreeSet<_> =
            (0..50).map(|_| super::new_backup_id("prod").0).collect();
        assert!(ids.len() >= 49, "{ids:?}");
    }
}
