//! file-backup: copies the environment's SQLite database file into the backup directory
//! (mounted by the host at `/backups`) under a new name that is never reused.
//!
//! Settings: `source` (required), the guest path of the database file inside a granted
//! directory, e.g. `/project/db.sqlite3`.
//!
//! The copy goes through WASI files in fixed-size chunks; the plugin sees nothing but the
//! directory that holds the database (read-only) and the backup directory.
//!
//! `restore` (`backups restore ID --to /restores/db.sqlite3`) writes a new file in a
//! read-write grant with `cat` (granted as `{ program = "cat", args = [] }`): the host feeds
//! the backup on stdin and writes stdout into the new file.

use platform_migrate_sdk::backup::*;
use platform_migrate_sdk::process::{self, Command, Error as ProcessError};
use platform_migrate_sdk::{config, log, register_backup};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};

/// Valid SQLite files start with this.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

struct FileBackup;

fn source() -> Result<String, BackupError> {
    config::get("source").ok_or_else(|| {
        BackupError::Misconfigured(
            "setting `source` is missing; set it to the database file's guest path, e.g. source = \"/project/db.sqlite3\"".into(),
        )
    })
}

fn copy(src: &mut File, dst: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
    dst.sync_all()?;
    Ok(total)
}

impl BackupProvider for FileBackup {
    fn describe() -> PluginInfo {
        let mut caps = vec![Capability::Directory(BACKUP_DIR.into())];
        if let Some(src) = config::get("source") {
            if let Some((dir, _)) = src.rsplit_once('/') {
                caps.push(Capability::Directory(if dir.is_empty() {
                    "/".into()
                } else {
                    dir.into()
                }));
            }
        }
        let mut info = platform_migrate_sdk::info!(
            "file-backup",
            "Copies a SQLite database file into the backup directory",
            []
        );
        // The backup directory is mounted by the host itself; only the source needs a grant.
        info.capabilities = caps
            .into_iter()
            .filter(|c| !matches!(c, Capability::Directory(d) if d == BACKUP_DIR))
            .collect();
        info
    }

    fn create(ctx: RunContext) -> Result<BackupInfo, BackupError> {
        let source = source()?;
        let mut src = match File::open(&source) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BackupError::SourceMissing(format!(
                    "{source} does not exist yet"
                )));
            }
            Err(e) => return Err(BackupError::Other(format!("cannot open {source}: {e}"))),
        };
        // SQLite creates an empty file on first connect: there is nothing to back up yet.
        if src.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            return Err(BackupError::SourceMissing(format!("{source} is empty")));
        }
        // Never overwrite: create_new, and try another suffix on the rare collision.
        for _ in 0..16 {
            let (id, created) = new_backup_id(&ctx.env);
            let file = format!("{id}.sqlite3");
            let path = format!("{BACKUP_DIR}/{file}");
            let mut dst = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(BackupError::Other(format!("cannot create {path}: {e}"))),
            };
            let size = copy(&mut src, &mut dst)
                .map_err(|e| BackupError::Other(format!("copying {source} to {path}: {e}")))?;
            log::info(&format!("copied {source} to {path} ({size} bytes)"));
            return Ok(BackupInfo {
                id,
                file,
                size,
                created,
            });
        }
        Err(BackupError::AlreadyExists(
            "16 candidate names were all taken".into(),
        ))
    }

    fn verify(_ctx: RunContext, backup: BackupInfo) -> Result<(), BackupError> {
        let path = format!("{BACKUP_DIR}/{}", backup.file);
        let mut f = File::open(&path).map_err(|e| BackupError::Invalid(format!("{path}: {e}")))?;
        let mut head = [0u8; 16];
        f.read_exact(&mut head)
            .map_err(|e| BackupError::Invalid(format!("{path}: too short ({e})")))?;
        if &head != SQLITE_MAGIC {
            return Err(BackupError::Invalid(format!(
                "{path} is not a SQLite database"
            )));
        }
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len != backup.size {
            return Err(BackupError::Invalid(format!(
                "{path} has {len} bytes, expected {}",
                backup.size
            )));
        }
        Ok(())
    }

    fn list_backups(_ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
        list_backup_files(".sqlite3")
    }

    /// Copy the backup into `target`, a new file (guest path) in a read-write grant, with
    /// `cat`: the host feeds it the backup (from `/backups` or the env's backup store) and
    /// writes its output into the new file, so the bytes never pass through the plugin.
    fn restore(_ctx: RunContext, backup: BackupInfo, target: String) -> Result<(), BackupError> {
        if backup.file.contains('/') || backup.file.starts_with('.') {
            return Err(BackupError::Invalid(format!(
                "{:?} is not a file name in {BACKUP_DIR}",
                backup.file
            )));
        }
        if !target.starts_with('/') || target.split('/').any(|p| p == "..") {
            return Err(BackupError::Misconfigured(format!(
                "restore target {target:?} must be a guest path in a read-write grant, e.g. /restores/db.sqlite3"
            )));
        }
        if source().is_ok_and(|s| s == target) {
            return Err(BackupError::AlreadyExists(format!(
                "{target} is the environment's own database; restore into a new file and switch over by hand"
            )));
        }
        let out = Command::new("cat")
            .stdin_file(format!("{BACKUP_DIR}/{}", backup.file))
            .stdout_file(&target)
            .run()
            .map_err(|e| match e {
                ProcessError::FileExists(m) => {
                    BackupError::AlreadyExists(format!("{m} already exists; pick a new file"))
                }
                ProcessError::Denied(m) => BackupError::Denied(m),
                other => BackupError::CommandFailed(process::message(&other)),
            })?;
        if out.exit_code != Some(0) {
            return Err(BackupError::CommandFailed(format!(
                "cat into {target}: {}",
                process::tail(&out.stderr, 3)
            )));
        }
        let mut head = [0u8; 16];
        File::open(&target)
            .and_then(|mut f| f.read_exact(&mut head))
            .map_err(|e| BackupError::Invalid(format!("{target}: {e}")))?;
        if &head != SQLITE_MAGIC {
            return Err(BackupError::Invalid(format!(
                "{target} is not a SQLite database"
            )));
        }
        log::info(&format!("restored {} into {target}", backup.file));
        Ok(())
    }
}

register_backup!(FileBackup);
