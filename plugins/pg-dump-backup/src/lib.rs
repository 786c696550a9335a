//! pg-dump-backup: backs up a PostgreSQL database with `pg_dump --format=custom` into the
//! backup directory (mounted by the host at `/backups`) and verifies the archive with
//! `pg_restore --list`.
//!
//! The dump's bytes never pass through this plugin: it asks the host to write `pg_dump`'s
//! standard output straight into a new file (`stdout-file`), and the host measures size and
//! sha256 as the bytes go by. Verification feeds the file to `pg_restore --list` on its stdin.
//!
//! Settings:
//! - `url-secret`: name of a granted secret holding `postgresql://user:password@host:port/db`
//!   (unix sockets: `postgresql://user@%2Fvar%2Frun%2Fpostgresql/db` or `?host=/path`); or
//! - `host`, `port`, `user`, `dbname` and `password-secret` (a granted secret's name);
//! - `pg-dump`, `pg-restore`: the programs as granted (default `pg_dump`, `pg_restore`);
//! - `lock-wait-timeout-secs` (default 60): pg_dump fails instead of queueing behind DDL;
//! - `connect-timeout-secs` (default 10); `timeout-secs`: cap on one pg_dump run.
//!
//! The password is handed to the programs in `PGPASSWORD`, never on their argv.

mod conn;

use platform_migrate_sdk::backup::*;
use platform_migrate_sdk::process::{self, Command, Error as ProcessError};
use platform_migrate_sdk::{config, log, register_backup};

const SUFFIX: &str = ".dump";

struct PgDump;

fn setting_u64(key: &str, default: u64) -> Result<u64, BackupError> {
    Ok(config::get_json::<u64>(key)
        .map_err(BackupError::Misconfigured)?
        .unwrap_or(default))
}

fn program(key: &str, default: &str) -> String {
    config::get(key).unwrap_or_else(|| default.to_string())
}

fn host_error(e: ProcessError) -> BackupError {
    match e {
        ProcessError::Denied(m) => BackupError::Denied(m),
        ProcessError::FileExists(m) => BackupError::AlreadyExists(m),
        other => BackupError::CommandFailed(process::message(&other)),
    }
}

fn with_env(mut cmd: Command, env: &conn::Env) -> Command {
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd
}

/// A plain file name in `/backups` (no directories, no hidden files).
fn plain(file: &str) -> Result<String, BackupError> {
    if file.is_empty() || file.contains('/') || file.starts_with('.') {
        return Err(BackupError::Invalid(format!(
            "{file:?} is not a file name in {BACKUP_DIR}"
        )));
    }
    Ok(format!("{BACKUP_DIR}/{file}"))
}

/// Every setting, for `describe` (the host checks the config's entry against it).
fn settings() -> Vec<Setting> {
    let int = |name: &str, default: Option<&str>, description: &str| {
        let s = Setting::new(name, SettingType::Integer, description);
        match default {
            Some(d) => s.default_toml(d),
            None => s,
        }
    };
    vec![
        Setting::text(
            "url-secret",
            "a granted secret holding postgresql://user:password@host:port/dbname",
        )
        .secret(),
        Setting::text(
            "host",
            "PGHOST: server host or socket folder (overrides url-secret's)",
        ),
        Setting::new("port", SettingType::Any, "PGPORT (overrides url-secret's)"),
        Setting::text("user", "PGUSER (overrides url-secret's)"),
        Setting::text("dbname", "PGDATABASE (overrides url-secret's)"),
        Setting::text("password-secret", "a granted secret holding the password").secret(),
        Setting::text("pg-dump", "the pg_dump program as granted").default_toml("\"pg_dump\""),
        Setting::text("pg-restore", "the pg_restore program as granted")
            .default_toml("\"pg_restore\""),
        int(
            "lock-wait-timeout-secs",
            Some("60"),
            "pg_dump fails instead of queueing behind DDL for longer",
        ),
        int("connect-timeout-secs", Some("10"), "PGCONNECT_TIMEOUT"),
        int("timeout-secs", None, "cap on one pg_dump run"),
    ]
}

impl BackupProvider for PgDump {
    fn describe() -> PluginInfo {
        let mut caps = vec![
            Capability::RunProgram(program("pg-dump", "pg_dump")),
            Capability::RunProgram(program("pg-restore", "pg_restore")),
        ];
        caps.extend(conn::VARS.iter().map(|v| Capability::EnvVar(v.to_string())));
        for key in ["url-secret", "password-secret"] {
            if let Some(name) = config::get(key) {
                caps.push(Capability::Secret(name));
            }
        }
        let mut info = platform_migrate_sdk::info!(
            "pg-dump-backup",
            "Backs up PostgreSQL with pg_dump --format=custom; verifies with pg_restore --list",
            []
        );
        info.capabilities = caps;
        info.with_settings(settings())
    }

    fn create(ctx: RunContext) -> Result<BackupInfo, BackupError> {
        let env = conn::load()?;
        let lock_wait = setting_u64("lock-wait-timeout-secs", 60)?;
        let timeout =
            config::get_json::<u64>("timeout-secs").map_err(BackupError::Misconfigured)?;
        let pg_dump = program("pg-dump", "pg_dump");
        // A name is never reused: the host creates the file with create_new and answers
        // FileExists on a collision, and another suffix is tried.
        for _ in 0..16 {
            let (id, created) = new_backup_id(&ctx.env);
            let file = format!("{id}{SUFFIX}");
            let path = format!("{BACKUP_DIR}/{file}");
            let mut cmd = with_env(Command::new(&pg_dump), &env)
                .args([
                    "--format=custom".to_string(),
                    "--no-password".to_string(),
                    format!("--lock-wait-timeout={}", lock_wait * 1000),
                ])
                .stdout_file(&path);
            if let Some(t) = timeout {
                cmd = cmd.timeout_ms(t.saturating_mul(1000));
            }
            log::info(&format!("pg_dump of {} into {path}", conn::describe(&env)));
            let out = match cmd.run() {
                Ok(out) => out,
                Err(ProcessError::FileExists(_)) => continue,
                Err(e) => {
                    // A timed-out dump may have left a partial file: it is not a backup.
                    let _ = std::fs::remove_file(&path);
                    return Err(host_error(e));
                }
            };
            if out.exit_code != Some(0) {
                let _ = std::fs::remove_file(&path);
                return Err(BackupError::CommandFailed(format!(
                    "{} exited with {}: {}",
                    cmd.display(),
                    out.exit_code
                        .map_or("a signal".to_string(), |c| format!("code {c}")),
                    process::tail(&out.stderr, 5)
                )));
            }
            let size = out.written.map(|w| w.size).unwrap_or(0);
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
        let path = plain(&backup.file)?;
        // The host measured the archive (it may live in a backup store, not in /backups).
        if backup.size == 0 {
            return Err(BackupError::Invalid(format!("{path} is empty")));
        }
        // The table of contents is read from stdin, which the host feeds from the file or from
        // the backup store: no host path needed, nothing restored.
        let cmd = Command::new(program("pg-restore", "pg_restore"))
            .arg("--list")
            .stdin_file(&path);
        let out = cmd.run().map_err(host_error)?;
        if out.exit_code != Some(0) {
            return Err(BackupError::Invalid(format!(
                "pg_restore --list cannot read {path}: {}",
                process::tail(&out.stderr, 3)
            )));
        }
        if !out.stdout.contains("; Archive created at") {
            return Err(BackupError::Invalid(format!(
                "pg_restore --list found no table of contents in {path}"
            )));
        }
        let entries = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
            .count();
        log::info(&format!("{path}: archive readable, {entries} entries"));
        Ok(())
    }

    fn list_backups(_ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
        list_backup_files(SUFFIX)
    }

    /// `createdb TARGET` (which fails when it exists), then `pg_restore` of the archive, fed
    /// on stdin by the host, into it. Never into the database the env migrates.
    fn restore(_ctx: RunContext, backup: BackupInfo, target: String) -> Result<(), BackupError> {
        let path = plain(&backup.file)?;
        let ok = target
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && target.len() <= 63
            && target
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(BackupError::Misconfigured(format!(
                "restore target {target:?} is not a plain database name (letters, digits, '_' and '-'; at most 63)"
            )));
        }
        let env = conn::load()?;
        if env.iter().any(|(k, v)| k == "PGDATABASE" && *v == target) {
            return Err(BackupError::AlreadyExists(format!(
                "{target} is the environment's own database; restore into a new one and switch over by hand"
            )));
        }
        let created = with_env(Command::new(program("createdb", "createdb")), &env)
            .args(["--no-password".to_string(), target.clone()])
            .run()
            .map_err(host_error)?;
        if created.exit_code != Some(0) {
            return Err(if created.stderr.contains("already exists") {
                BackupError::AlreadyExists(format!(
                    "database {target} already exists; pick a new name"
                ))
            } else {
                BackupError::CommandFailed(format!(
                    "createdb {target}: {}",
                    process::tail(&created.stderr, 3)
                ))
            });
        }
        log::info(&format!("restoring {path} into the new database {target}"));
        let cmd = with_env(Command::new(program("pg-restore", "pg_restore")), &env)
            .args([
                "--no-owner".to_string(),
                "--exit-on-error".to_string(),
                "--no-password".to_string(),
                "--dbname".to_string(),
                target.clone(),
            ])
            .stdin_file(&path);
        let out = cmd.run().map_err(host_error)?;
        if out.exit_code != Some(0) {
            return Err(BackupError::CommandFailed(format!(
                "pg_restore into {target} failed (the half-restored database {target} is left for inspection; drop it when done): {}",
                process::tail(&out.stderr, 5)
            )));
        }
        Ok(())
    }
}

register_backup!(PgDump);
