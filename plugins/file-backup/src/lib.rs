//! file-backup: copies the environment's SQLite database file into the backup directory
//! (mounted by the host at `/backups`) under a new name that is never reused.
//!
//! Settings: `source` (required), the guest path of the database file inside a granted
//! directory, e.g. `/project/db.sqlite3`.
//!
//! The copy goes through WASI files in fixed-size chunks; the plugin sees nothing but the
//! directory that holds the database (read-only) and the backup directory.

use platform_migrate_sdk::backup::*;
use platform_migrate_sdk::{config, log, register_backup};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// `YYYYMMDDTHHMMSSZ` from seconds since the epoch (UTC), without a date library.
fn utc_stamp(secs: u64) -> (String, String) {
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

fn random_suffix() -> String {
    // std seeds RandomState from wasi:random, so this is 24 unpredictable bits; the file is
    // still created with create_new and another name tried on a collision.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:06x}", h.finish() & 0xff_ffff)
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
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (stamp, created) = utc_stamp(secs);
        // Never overwrite: create_new, and try another suffix on the rare collision.
        for _ in 0..16 {
            let id = format!("{}-{stamp}-{}", ctx.env, random_suffix());
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
        let mut out = Vec::new();
        let entries = std::fs::read_dir(BACKUP_DIR)
            .map_err(|e| BackupError::Other(format!("{BACKUP_DIR}: {e}")))?;
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = file.strip_suffix(".sqlite3") {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(BackupInfo {
                    id: id.to_string(),
                    file,
                    size,
                    created: String::new(),
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

register_backup!(FileBackup);

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamp_is_calendar_correct() {
        assert_eq!(super::utc_stamp(0).0, "19700101T000000Z");
        assert_eq!(super::utc_stamp(1_795_000_000).1, "2026-11-18T11:06:40Z");
        assert_eq!(super::utc_stamp(951_782_400).0, "20000229T000000Z");
    }
}
