//! Backup operations shared by step 3 of a run and the `backups` subcommands: create a backup
//! through a provider, measure it in the host, catalogue it, verify it, and apply retention.
//! The host measures the file itself: size and sha256 come from its own pass over the bytes
//! (while a program's stdout streamed into the file, or by reading the file right after),
//! never from the plugin. A backup is recorded in the catalog as soon as it exists and marked
//! verified once the provider's check passes.

use crate::catalog;
use crate::config::EnvConfig;
use crate::plugin_api::{BackupError, BackupInfo, BackupPlugin, RunContext};
use crate::store::Store;
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
        BackupError::Unsupported(m) => m.clone(),
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
    let (f, len) = catalog::open_backup(dir, file)?;
    match backup.written(&dir.join(file)) {
        Some(w) if w.size == len => Ok((w.size, w.sha256)),
        _ => catalog::hash(f),
    }
}

/// The env's backup store, connected and reachable, or why not (before any backup is taken).
pub fn open_store(env: &EnvConfig) -> Result<Option<Store>, Failed> {
    let Some(cfg) = &env.backup_store else {
        return Ok(None);
    };
    let store = Store::open(cfg, &env.name, &crate::secrets::Redactor::default())
        .map_err(|e| Failed::Host(e.to_string()))?;
    store
        .check_access(&env.qualified_name())
        .map_err(|e| Failed::Host(e.to_string()))?;
    Ok(Some(store))
}

/// Copy a verified local backup into the store: stream it up, check that the store holds the
/// bytes the host measured, then write its manifest (only then is it a backup in the store:
/// an upload cut short leaves no manifest, and an aborted multipart upload no object), and
/// remove the local file unless `keep-local`.
pub fn send_to_store(
    store: &Store,
    state_dir: &Path,
    entry: &mut catalog::Backup,
) -> Result<(), Failed> {
    let host = |e: crate::store::StoreError| Failed::Host(e.to_string());
    let key = store.cfg.key(&entry.env, &entry.file);
    // One handle from the measured file to the store: what the provider does to the path
    // after its `verify` (a symlink in its place, another file) is not followed.
    let dir = entry.path.parent().unwrap_or(Path::new("/"));
    // What was verified is no longer what lies there (swapped, changed, gone): the catalog
    // stops listing it as verified, and nothing is stored.
    let unverified = |entry: &mut catalog::Backup, why: String| {
        entry.verified = false;
        entry.verified_at = None;
        match catalog::mark(state_dir, entry) {
            Ok(()) => Failed::Host(format!(
                "{why}; nothing was stored, and the catalog no longer lists it as verified"
            )),
            Err(e) => Failed::Host(format!(
                "{why}; nothing was stored, and the catalog could not be updated: {e}"
            )),
        }
    };
    let (file, len) = match catalog::open_backup(dir, &entry.file) {
        Ok(x) => x,
        Err(e) => {
            let why = format!("cannot read {}: {e}", entry.path.display());
            return Err(unverified(entry, why));
        }
    };
    let changed = |entry: &catalog::Backup, size: u64, sha: &str| {
        format!(
            "{} changed after it was measured ({size} bytes, sha256 {sha}; measured {} bytes, sha256 {})",
            entry.path.display(),
            entry.size,
            entry.sha256
        )
    };
    if len != entry.size {
        let why = changed(entry, len, "not read");
        return Err(unverified(entry, why));
    }
    // Compared before the multipart upload completes: an object whose bytes differ from what
    // the host measured never appears in the store (the upload is aborted instead).
    let mut up = store.begin_upload(&key).map_err(host)?;
    up.feed(file).map_err(host)?;
    let (size, sha) = up.so_far();
    if size != entry.size || sha != entry.sha256 {
        up.abort();
        let why = changed(entry, size, &sha);
        return Err(unverified(entry, why));
    }
    let (size, sha) = up.finish().map_err(host)?;
    store.check(&key, size, &sha).map_err(host)?;
    entry.store = Some(store.cfg.object_url(&key));
    store.put_manifest(&key, entry).map_err(host)?;
    if !store.cfg.keep_local {
        std::fs::remove_file(&entry.path).map_err(|e| {
            Failed::Host(format!(
                "the store holds {}, but the local copy {} could not be removed: {e}",
                entry.id,
                entry.path.display()
            ))
        })?;
        entry.local_removed = true;
    }
    catalog::mark(state_dir, entry).map_err(|e| Failed::Host(e.to_string()))
}

/// Create, measure, catalogue, verify (and copy into the env's store): the backup of one run
/// (or of `backups create`).
pub fn take(
    backup: &mut dyn BackupPlugin,
    name: &str,
    env: &EnvConfig,
    state_dir: &Path,
    ctx: &RunContext,
) -> Result<catalog::Backup, Failed> {
    // An unreachable store or wrong credentials fail here, before a dump is taken.
    let store = open_store(env)?.map(std::sync::Arc::new);
    if let Some(s) = store.as_ref().filter(|s| !s.cfg.keep_local) {
        // Dumps written to /backups stream straight into the store.
        backup.stream_to(s.clone(), &env.qualified_name());
    }
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
    let streamed = backup
        .written(&dir.join(&info.file))
        .and_then(|w| w.stored.clone().map(|key| (key, w.size, w.sha256)));
    let (size, sha256, stored_key) = match streamed {
        Some((key, size, sha)) => (size, sha, Some(key)),
        None => {
            let (size, sha) = measure(backup, dir, &info.file).map_err(|e| {
                Failed::Plugin(BackupError::Invalid(format!(
                    "plugin '{name}' reported {} but the host cannot read it: {e}",
                    info.file
                )))
            })?;
            (size, sha, None)
        }
    };
    // No archive format the providers write is empty; an empty file is a dump that failed
    // without saying so (a program that exited 0 and wrote nothing).
    if size == 0 {
        return Err(Failed::Plugin(BackupError::Invalid(format!(
            "plugin '{name}' reported the backup {} but it is empty (0 bytes): the program that wrote it produced nothing; check the provider's settings and grants, and run `backups create --env {}` to see its output",
            info.file, env.name
        ))));
    }
    let mut entry = catalog::Backup {
        id: info.id.clone(),
        env: env.qualified_name(),
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
        store: match (&store, &stored_key) {
            (Some(s), Some(k)) => Some(s.cfg.object_url(k)),
            _ => None,
        },
        local_removed: stored_key.is_some(),
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
    if let (Some(s), Some(key)) = (&store, &stored_key) {
        // The store holds exactly the bytes the host saw pass.
        s.check(key, size, &entry.sha256)
            .map_err(|e| Failed::Host(e.to_string()))?;
    }
    let checked = BackupInfo { size, ..info };
    backup
        .verify(ctx, &checked)
        .map_err(|e| Failed::Host(e.to_string()))?
        .map_err(Failed::Plugin)?;
    entry.verified = true;
    entry.verified_at = Some(now());
    catalog::mark(state_dir, &entry).map_err(|e| Failed::Host(e.to_string()))?;
    match (&store, &stored_key) {
        // Verified where it lies: only now is it a backup in the store.
        (Some(s), Some(key)) => s
            .put_manifest(key, &entry)
            .map_err(|e| Failed::Host(e.to_string()))?,
        (Some(s), None) => send_to_store(s, state_dir, &mut entry)?,
        _ => {}
    }
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
    if env.backup_store.is_some() {
        return store_retention(backup, provider, env, state_dir, ctx, current, keep);
    }
    let all = match catalog::load(state_dir) {
        Ok(a) => a,
        Err(e) => {
            out.push(format!("warning: retention skipped: {e}"));
            return out;
        }
    };
    let doomed: Vec<catalog::Backup> =
        catalog::to_prune(&all, &env.qualified_name(), keep, current)
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

/// Retention where the env has a store: decided on the store's manifests, so every machine's
/// backups count; each doomed backup leaves the store (manifest first), and this machine's
/// local copy goes through its provider.
fn store_retention(
    backup: &mut dyn BackupPlugin,
    provider: &str,
    env: &EnvConfig,
    state_dir: &Path,
    ctx: &RunContext,
    current: &str,
    keep: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let store = match open_store(env) {
        Ok(Some(s)) => s,
        Ok(None) => return out,
        Err(Failed::Host(m)) => {
            out.push(format!("warning: retention skipped: {m}"));
            return out;
        }
        Err(Failed::Plugin(e)) => {
            out.push(format!("warning: retention skipped: {}", message(&e)));
            return out;
        }
    };
    let all = match store.manifests(&env.qualified_name()) {
        Ok(a) => a,
        Err(e) => {
            out.push(format!("warning: retention skipped: {e}"));
            return out;
        }
    };
    let local = catalog::load(state_dir).unwrap_or_default();
    for b in catalog::to_prune(&all, &env.qualified_name(), keep, current) {
        let Some(key) = b.store.as_deref().and_then(|u| store.cfg.key_of(u)) else {
            continue;
        };
        let mine = local.iter().find(|l| l.env == b.env && l.id == b.id);
        if let Some(l) = mine.filter(|l| !l.local_removed && l.path.exists()) {
            if l.provider == provider {
                if let Ok(Err(e)) = backup.delete(ctx, &info_of(l)) {
                    out.push(format!(
                        "warning: retention could not delete the local copy of {}: {}",
                        b.id,
                        message(&e)
                    ));
                }
            }
        }
        match store.delete(&key) {
            Ok(()) => {
                if mine.is_some() {
                    let _ = catalog::remove(state_dir, &b.env, &b.id);
                }
                out.push(format!(
                    "retention (keep = {keep}): deleted {} from {}",
                    b.id, store.cfg.url
                ));
            }
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
