//! Backup operations shared by step 3 of a run and the `backups` subcommands: create a backup
//! through a provider, measure it in the host, catalogue it, verify it, and apply retention.
//! The host measures the file itself: size and sha256 come from its own pass over the bytes
//! (while a program's stdout streamed into the file, or by reading the file right after),
//! never from the plugin. A backup is recorded in the catalog as soon as it exists and marked
//! verified once the provider's check passes.

use crate::catalog;
use crate::config::EnvConfig;
use crate::plugin_api::{BackupError, BackupInfo, BackupPlugin, RunContext};
use std::path::Path;

/// The provider-facing description of a catalogued backup.
pub fn info_of(b: &catalog::Backup) -> BackupInfo {
    BackupInfo {
        id: b.id.clone(),
        file: b.file.clone(),
        size: b.size,
        created: b.created.clone(),
    }
}

/// Why a backup did not happen.
pub enum Failed {
    /// The provider said so.
    Plugin(BackupError),
    /// The host could not call the provider or record the backup; carries the message.
    Host(String),
}

pub fn message(e: &BackupError) -> String {
    match e {
        BackupError::SourceMissing(m) => format!("nothing to back up: {m}"),
        BackupError::AlreadyExists(m) => {
            format!("backup file already exists: {m} (never overwritten)")
        }
        BackupError::Invalid(m) => format!("backup is invalid: {m}"),
        BackupError::CommandFailed(m) => format!("backup command failed: {m}"),
        BackupError::Denied(m) => m.clone(),
        BackupError::Misconfigured(m) => format!("backup plugin is misconfigured: {m}"),
        BackupError::Other(m) => m.clone(),
    }
}

/// A file name the provider returned must be a plain name inside the backup directory: at
/// most 255 bytes, no `/`, no leading `.`, no control characters, and no secret in it.
fn plain_name(file: &str) -> bool {
    !file.is_empty()
        && file.len() <= 255
        && !file.contains('/')
        && !file.starts_with('.')
        && !file.chars().any(char::is_control)
        && crate::secrets::Redactor::default().redact(file) == file
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Size and sha256 of a backup file: the host's record from streaming it when the file is
/// still that size, otherwise a fresh pass over the file.
fn measure(backup: &dyn BackupPlugin, dir: &Path, file: &str) -> std::io::Result<(u64, String)> {
    let path = dir.join(file);
    if let Some(w) = backup.written(&path) {
        if std::fs::metadata(&path).map(|m| m.len()).ok() == Some(w.size) {
            return Ok((w.size, w.sha256));
        }
    }
    catalog::measure(dir, file)
}

/// Create, measure, catalogue, verify: the backup of one run (or of `backups create`).
pub fn take(
    backup: &mut dyn BackupPlugin,
    name: &str,
    env: &EnvConfig,
    state_dir: &Path,
    ctx: &RunContext,
) -> Result<catalog::Backup, Failed> {
    let dir = &env.backup_dir;
    let info = backup
        .create(ctx)
        .map_err(|e| Failed::Host(e.to_string()))?
        .map_err(Failed::Plugin)?;
    if let Err(why) = crate::text::check_id(&info.id) {
        return Err(Failed::Plugin(BackupError::Invalid(format!(
            "plugin '{name}' returned a backup id that is not allowed: {why}"
        ))));
    }
    if !plain_name(&info.file) {
        return Err(Failed::Plugin(BackupError::Invalid(format!(
            "plugin '{name}' named the backup file {:?}, which is not a plain file name in the backup directory (at most 255 bytes, no '/' or leading '.', no control characters or secrets)",
            crate::text::cut(info.file.clone(), 80)
        ))));
    }
    let (size, sha256) = measure(backup, dir, &info.file).map_err(|e| {
        Failed::Plugin(BackupError::Invalid(format!(
            "plugin '{name}' reported {} but the host cannot read it: {e}",
            info.file
        )))
    })?;
    let mut entry = catalog::Backup {
        id: info.id.clone(),
        env: env.name.clone(),
        provider: name.to_string(),
        file: info.file.clone(),
        path: dir.join(&info.file),
        size,
        sha256,
        created: if info.created.is_empty() {
            now()
        } else {
            info.created.clone()
        },
        verified: false,
        verified_at: None,
        run_id: ctx.run_id.clone(),
    };
    // Recorded before verifying: a crash now still leaves the file accounted for.
    catalog::add(state_dir, &entry)
        .map_err(|e| Failed::Plugin(BackupError::Invalid(format!("plugin '{name}': {e}"))))?;
    if size == 0 {
        return Err(Failed::Plugin(BackupError::Invalid(format!(
            "{} is empty",
            info.file
        ))));
    }
    let checked = BackupInfo { size, ..info };
    backup
        .verify(ctx, &checked)
        .map_err(|e| Failed::Host(e.to_string()))?
        .map_err(Failed::Plugin)?;
    entry.verified = true;
    entry.verified_at = Some(now());
    catalog::mark(state_dir, &entry).map_err(|e| Failed::Host(e.to_string()))?;
    Ok(entry)
}

/// Delete what `keep = N` no longer keeps, through the provider that made each backup.
/// Failures are reported and leave the catalog entry in place. Returns lines to show.
pub fn retention(
    backup: &mut dyn BackupPlugin,
    provider: &str,
    env: &EnvConfig,
    state_dir: &Path,
    ctx: &RunContext,
    current: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(keep) = env.keep else {
        return out;
    };
    let all = match catalog::load(state_dir) {
        Ok(a) => a,
        Err(e) => {
            out.push(format!("warning: retention skipped: {e}"));
            return out;
        }
    };
    let doomed: Vec<catalog::Backup> = catalog::to_prune(&all, &env.name, keep, current)
        .into_iter()
        .cloned()
        .collect();
    for b in doomed {
        if b.provider != provider {
            out.push(format!(
                "retention: kept {} (made by plugin '{}', not '{provider}'; delete it by hand)",
                b.id, b.provider
            ));
            continue;
        }
        match backup.delete(ctx, &info_of(&b)) {
            Ok(Ok(())) => match catalog::remove(state_dir, &b.env, &b.id) {
                Ok(()) => out.push(format!("retention (keep = {keep}): deleted {}", b.id)),
                Err(e) => out.push(format!("warning: {e}")),
            },
            Ok(Err(e)) => out.push(format!(
                "warning: retention could not delete {}: {}",
                b.id,
                message(&e)
            )),
            Err(e) => out.push(format!("warning: retention could not delete {}: {e}", b.id)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn backup_files_must_be_plain_names() {
        assert!(plain_name("prod-20260101T000000Z-abc123.dump"));
        assert!(!plain_name("../x"));
        assert!(!plain_name("a/b"));
        assert!(!plain_name(".hidden"));
        assert!(!plain_name(""));
        assert!(!plain_name(&"a".repeat(256)));
        assert!(!plain_name("a\x1bb"));
    }
}
