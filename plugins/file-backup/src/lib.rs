//! file-backup: copies the environment's SQLite database file into the backup directory
//! (mounted by the host at `/backups`) under a new name that is never reused.
//!
//! Settings: `source` (required), the guest path of the database file inside a granted
//! directory, e.g. `/project/db.sqlite3`.
//!
//! The copy goes through WASI files in fixed-size chunks; the plugin sees nothing but the
//! directory that holds the database (read-only) and the backup directory.
//!
//! With `method = "sqlite3"`, the copy is SQLite's online backup instead, taken by the
//! `sqlite3` program (`.backup`), so a database that is being written while the backup runs
//! still gives a consistent copy; `verify` then also runs `PRAGMA quick_check` on the copy.
//! The program needs host paths, which the plugin gets from the host (`process::host_path`)
//! and which the grant allows with `<path:..>`:
//! `{ program = "sqlite3", args = ["-readonly", "<path:/project>", ".backup \"<path:/backups>\""] }`
//! and `{ program = "sqlite3", args = ["-readonly", "<path:/backups>", "PRAGMA quick_check"] }`.
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

/// How the copy is taken (setting `method`).
#[derive(PartialEq)]
enum Method {
    /// Read the file through WASI, in chunks.
    Copy,
    /// SQLite's online backup, by the `sqlite3` program.
    Sqlite3,
}

fn method() -> Result<Method, BackupError> {
    match config::get("method").as_deref() {
        None | Some("copy") => Ok(Method::Copy),
        Some("sqlite3") => Ok(Method::Sqlite3),
        Some(other) => Err(BackupError::Misconfigured(format!(
            "setting `method` is {other:?}; use \"copy\" or \"sqlite3\""
        ))),
    }
}

/// The sqlite3 program as granted (setting `sqlite3`).
fn sqlite3() -> String {
    config::get("sqlite3").unwrap_or_else(|| "sqlite3".into())
}

fn process_error(e: ProcessError) -> BackupError {
    match e {
        ProcessError::Denied(m) => BackupError::Denied(m),
        other => BackupError::CommandFailed(process::message(&other)),
    }
}

/// `sqlite3 -readonly SOURCE '.backup "COPY"'` into `path`, an empty file just created.
fn online_backup(source: &str, path: &str) -> Result<u64, BackupError> {
    let db = process::host_path(source).map_err(process_error)?;
    let copy = process::host_path(path).map_err(process_error)?;
    let out = Command::new(sqlite3())
        .args(["-readonly".to_string(), db, format!(".backup \"{copy}\"")])
        .run()
        .map_err(process_error)?;
    if out.exit_code != Some(0) || !out.stderr.trim().is_empty() {
        return Err(BackupError::CommandFailed(format!(
            "sqlite3 .backup of {source}: {}",
            process::tail(&format!("{}{}", out.stdout, out.stderr), 3)
        )));
    }
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| BackupError::Other(format!("{path}: {e}")))
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
        if method().is_ok_and(|m| m == Method::Sqlite3) {
            info.capabilities.push(Capability::RunProgram(sqlite3()));
        }
        info.with_settings([
            Setting::text(
                "source",
                "guest path of the SQLite database file inside a granted directory, e.g. /project/db.sqlite3",
            )
            .required(),
            Setting::text(
                "method",
                "\"copy\" (read the file) or \"sqlite3\" (SQLite's online backup, consistent while the database is written)",
            )
            .default_toml("\"copy\""),
            Setting::text("sqlite3", "the sqlite3 program as granted (method = \"sqlite3\")")
                .default_toml("\"sqlite3\""),
        ])
    }

    fn create(ctx: RunContext) -> Result<BackupInfo, BackupError> {
        let source = source()?;
        let method = method()?;
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
            let size = if method == Method::Sqlite3 {
                drop(dst);
                match online_backup(&source, &path) {
                    Ok(size) => size,
                    Err(e) => {
                        // The file is this call's own, new and unfinished: not a backup.
                        let _ = std::fs::remove_file(&path);
                        return Err(e);
                    }
                }
            } else {
                copy(&mut src, &mut dst)
                    .map_err(|e| BackupError::Other(format!("copying {source} to {path}: {e}")))?
            };
            let how = if method == Method::Sqlite3 {
                "backed up (sqlite3 .backup)"
            } else {
                "copied"
            };
            log::info(&format!("{how} {source} to {path} ({size} bytes)"));
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
        if method()? == Method::Sqlite3 {
            let copy = process::host_path(&path).map_err(process_error)?;
            let out = Command::new(sqlite3())
                .args(["-readonly", copy.as_str(), "PRAGMA quick_check"])
                .run()
                .map_err(process_error)?;
            if out.exit_code != Some(0) || out.stdout.trim() != "ok" {
                return Err(BackupError::Invalid(format!(
                    "{path}: PRAGMA quick_check says {}",
                    process::tail(&format!("{}{}", out.stdout, out.stderr), 3)
                )));
            }
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
