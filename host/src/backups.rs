//! `platform-migrate backups list|verify`: the backup catalog from the command line.
//! `verify` re-checks size and sha256 in the host, then asks the provider that made the
//! backup to check the archive itself (for pg_dump: `pg_restore --list`).

use crate::backup_ops::{info_of, message, retention, take, Failed};
use crate::catalog::{self, Backup};
use crate::cli::BackupsCommand;
use crate::config::{split_qualified, within, Config};
use crate::exit::{Code, Exit};
use crate::plugin_api::{BackupPlugin, Opener, RunContext};
use crate::sandbox::Sandbox;
use crate::secrets::Redactor;
use crate::store::Store;
use crate::ui::{Ui, Verbosity};

fn human(size: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = size as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{size} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn main(
    cfg: &Config,
    cmd: &BackupsCommand,
    verbosity: Verbosity,
    output: crate::cli::ListOutput,
) -> Result<Code, Exit> {
    let json = output == crate::cli::ListOutput::Json;
    match cmd {
        BackupsCommand::List { env, target } => {
            let shown = match (env, target) {
                (Some(e), Some(t)) => {
                    let env = cfg.env(e).map_err(Exit::usage)?;
                    // Checked like a run's --target (exit 2 when the list lacks it).
                    crate::fleet::rollout::config_for_target(cfg, env, t)?;
                    Some(format!("{e}@{t}"))
                }
                (e, _) => e.clone(),
            };
            list(cfg, shown.as_deref(), json)
        }
        BackupsCommand::Verify { id } => verify(cfg, id, verbosity),
        BackupsCommand::Create { env, target } => {
            let e = cfg.env(env).map_err(Exit::usage)?;
            match (&e.fleet, target) {
                (_, Some(t)) => {
                    let tcfg = crate::fleet::rollout::config_for_target(cfg, e, t)?;
                    create(&tcfg, env, verbosity)
                }
                (Some(_), None) => Err(Exit::usage(format!(
                    "env {env} is a fleet: name the target to back up with --target (`platform-migrate targets --env {env}` lists them)"
                ))),
                (None, None) => create(cfg, env, verbosity),
            }
        }
        BackupsCommand::Restore { id, to } => restore(cfg, id, to, verbosity),
    }
}

/// The backup provider `name`, opened with `dir` mounted at `/backups`.
fn provider(
    cfg: &Config,
    name: &str,
    dir: &std::path::Path,
    verbosity: Verbosity,
) -> Result<Box<dyn BackupPlugin>, Exit> {
    let sandbox = Sandbox::new(Redactor::default(), Ui::new(verbosity))
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    Ok(sandbox
        .backup(&cfg.base_dir, &cfg.plugins[name], dir)?
        .plugin)
}

fn create(cfg: &Config, env_name: &str, verbosity: Verbosity) -> Result<Code, Exit> {
    let env = cfg.env(env_name).map_err(Exit::usage)?;
    let Some(name) = env.backup.clone() else {
        return Err(Exit::usage(format!(
            "env {env_name} has no backup provider; set env.{env_name}.backup to a backup-provider plugin"
        )));
    };
    let redactor = Redactor::default();
    let mut b = provider(cfg, &name, &env.backup_dir, verbosity)?;
    let ctx = RunContext::new(
        &env.name,
        format!("manual-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
        verbosity == Verbosity::Verbose,
    );
    let denial = |b: &dyn BackupPlugin| b.denials().first().cloned();
    match take(b.as_mut(), &name, env, &cfg.state_dir, &ctx) {
        Ok(entry) => {
            println!(
                "{}: {} ({} bytes, sha256 {}, verified)",
                entry.id,
                entry
                    .store
                    .clone()
                    .unwrap_or_else(|| entry.path.display().to_string()),
                entry.size,
                entry.sha256
            );
            for line in retention(b.as_mut(), &name, env, &cfg.state_dir, &ctx, &entry.id) {
                println!("{line}");
            }
            Ok(Code::Success)
        }
        Err(_) if denial(b.as_ref()).is_some() => Err(Exit::new(
            Code::Denied,
            denial(b.as_ref()).unwrap_or_default(),
        )),
        Err(f) => {
            let m = match f {
                Failed::Plugin(e) => message(&e),
                Failed::Host(m) => m,
            };
            Err(Exit::failed(
                redactor.redact(&format!("backup of env {env_name} failed: {m}")),
            ))
        }
    }
}

/// The config as the backup's env sees it: for a fleet target's backup (`prod@t1`), the
/// target's config (its `${target}` settings and secret sources, its backup folder); and the
/// env's name in it.
fn config_of(cfg: &Config, backup_env: &str) -> Result<(Config, String), Exit> {
    let (env, target) = split_qualified(backup_env);
    let e = cfg.env(env).map_err(Exit::usage)?;
    let cfg = match target {
        Some(t) => crate::fleet::rollout::config_for_target(cfg, e, t)?,
        None => cfg.clone(),
    };
    Ok((cfg, env.to_string()))
}

fn load(cfg: &Config) -> Result<Vec<Backup>, Exit> {
    catalog::load(&cfg.state_dir).map_err(|e| Exit::failed(e.to_string()))
}

/// The local catalog, with every backup the stores of the envs shown hold (from any machine):
/// a backup in both is shown once, with where it is.
fn everything(cfg: &Config, env: Option<&str>) -> Result<Vec<Backup>, Exit> {
    let mut all: Vec<Backup> = load(cfg)?
        .into_iter()
        .filter(|b| env.is_none_or(|e| within(&b.env, e)))
        .collect();
    for (name, e) in &cfg.envs {
        let base = env.map(|x| split_qualified(x).0);
        if base.is_some_and(|x| x != name) || e.backup_store.is_none() {
            continue;
        }
        let store = match crate::backup_ops::open_store(e) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(f) => return Err(Exit::failed(failed_message(f))),
        };
        // A fleet's targets keep their backups in folders of their own (`prod@t1/`).
        let stored = if e.fleet.is_some() {
            store.fleet_manifests(name)
        } else {
            store.manifests(name)
        }
        .map_err(|e| Exit::failed(e.to_string()))?;
        for m in stored
            .into_iter()
            .filter(|m| env.is_none_or(|x| within(&m.env, x)))
        {
            match all.iter_mut().find(|b| b.env == m.env && b.id == m.id) {
                Some(local) => local.store = m.store.clone(),
                None => all.push(Backup {
                    local_removed: true,
                    ..m
                }),
            }
        }
    }
    all.sort_by(|a, b| a.created.cmp(&b.created));
    Ok(all)
}

fn failed_message(f: Failed) -> String {
    match f {
        Failed::Plugin(e) => message(&e),
        Failed::Host(m) => m,
    }
}

/// Where a backup is: this machine, the store, or both.
fn location(b: &Backup) -> &'static str {
    match (b.store.is_some(), b.local_removed) {
        (true, true) => "store",
        (true, false) => "both",
        (false, _) => "local",
    }
}

fn list(cfg: &Config, env: Option<&str>, json: bool) -> Result<Code, Exit> {
    if let Some(e) = env {
        cfg.env(split_qualified(e).0).map_err(Exit::usage)?;
    }
    let shown = everything(cfg, env)?;
    if json {
        // One document (schemas/backups-list.schema.json): the catalog entries, oldest first.
        let doc = serde_json::json!({ "schema_version": 1, "env": env, "backups": shown });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(Code::Success);
    }
    if shown.is_empty() {
        println!(
            "no backups in {}{}",
            catalog::path(&cfg.state_dir).display(),
            env.map(|e| format!(" for env {e}")).unwrap_or_default()
        );
        return Ok(Code::Success);
    }
    let env_width = shown.iter().map(|b| b.env.len()).max().unwrap_or(0).max(5);
    println!(
        "{:<34} {:<w$} {:<20} {:>10} {:<16} {:<10} {:<6} {:<28} FILE",
        "ID",
        "ENV",
        "CREATED",
        "SIZE",
        "SHA256",
        "VERIFIED",
        "WHERE",
        "RUN",
        w = env_width
    );
    for b in &shown {
        println!(
            "{:<34} {:<w$} {:<20} {:>10} {:<16} {:<10} {:<6} {:<28} {}",
            b.id,
            b.env,
            b.created,
            human(b.size),
            &b.sha256[..b.sha256.len().min(16)],
            if b.verified { "yes" } else { "NO" },
            location(b),
            b.run_id,
            match (&b.store, b.local_removed) {
                (Some(url), true) => url.clone(),
                _ => b.path.display().to_string(),
            },
            w = env_width
        );
    }
    Ok(Code::Success)
}

/// The backup `id`, from the local catalog or any env's store.
fn find(cfg: &Config, id: &str) -> Result<Backup, Exit> {
    if let Some(b) = load(cfg)?.into_iter().find(|b| b.id == id) {
        return Ok(b);
    }
    everything(cfg, None)?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| {
            Exit::usage(format!(
                "no backup with id {id} in {} or the envs' backup stores; list them with `platform-migrate backups list`",
                catalog::path(&cfg.state_dir).display()
            ))
        })
}

/// Check the store's copy of `b` (when it has one): the bytes the host measured, else exit 1.
/// When no local copy exists, the copy is fetched into the backup directory for the
/// provider's own check (and removed after); its path is returned.
/// The env's store, connected, and the key of `b`'s copy in it (`b.store` is `url`).
fn stored_copy(cfg: &Config, b: &Backup, url: &str) -> Result<(Store, String), Exit> {
    let (cfg, name) = config_of(cfg, &b.env)?;
    let env = cfg.env(&name).map_err(Exit::usage)?;
    let store = match crate::backup_ops::open_store(env) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(Exit::usage(format!(
                "backup {} is in {url}, but env.{}.backup-store is not configured; add it back to reach the copy",
                b.id, b.env
            )))
        }
        Err(f) => return Err(Exit::failed(failed_message(f))),
    };
    let key = store.cfg.key_of(url).ok_or_else(|| {
        Exit::usage(format!(
            "backup {} is in {url}, outside env.{}.backup-store ({}); point the config at that bucket to reach it",
            b.id, b.env, store.cfg.url
        ))
    })?;
    Ok((store, key))
}

fn check_store_copy(cfg: &Config, b: &Backup) -> Result<Option<std::path::PathBuf>, Exit> {
    let Some(url) = &b.store else {
        return Ok(None);
    };
    let (tcfg, name) = config_of(cfg, &b.env)?;
    let env = tcfg.env(&name).map_err(Exit::usage)?;
    let (store, key) = stored_copy(cfg, b, url)?;
    let local = env.backup_dir.join(&b.file);
    let damaged =
        |e: crate::store::StoreError| Exit::failed(format!("backup {} is damaged: {e}", b.id));
    if local.exists() {
        store.check(&key, b.size, &b.sha256).map_err(damaged)?;
        println!("{}: the store's copy {url} matches the catalog", b.id);
        return Ok(None);
    }
    std::fs::create_dir_all(&env.backup_dir)
        .map_err(|e| Exit::failed(format!("cannot create {}: {e}", env.backup_dir.display())))?;
    let found = store
        .download(&key, &local)
        .map_err(|e| Exit::failed(e.to_string()))?;
    if let Err(e) = store.same(&key, b.size, &b.sha256, found) {
        let _ = std::fs::remove_file(&local);
        return Err(damaged(e));
    }
    println!(
        "{}: the store's copy {url} has {} bytes, sha256 {}, as recorded",
        b.id, b.size, b.sha256
    );
    Ok(Some(local))
}

fn verify(cfg: &Config, id: &str, verbosity: Verbosity) -> Result<Code, Exit> {
    let mut b = find(cfg, id)?;
    let fetched = check_store_copy(cfg, &b)?;
    // A fetched copy is removed whatever the provider says.
    struct Remove(Option<std::path::PathBuf>);
    impl Drop for Remove {
        fn drop(&mut self) {
            if let Some(p) = &self.0 {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let _remove = Remove(fetched.clone());
    if let Some(p) = &fetched {
        b.path = p.clone();
    }
    if let Err(m) = catalog::check_file(&b) {
        return Err(Exit::failed(format!("backup {id} is damaged: {m}")));
    }
    println!(
        "{id}: {} bytes, sha256 {} matches the catalog",
        b.size, b.sha256
    );
    if !cfg.plugins.contains_key(&b.provider) {
        return Err(Exit::usage(format!(
            "backup {id} was made by plugin '{}', which the config no longer has; add it back to check the archive",
            b.provider
        )));
    }
    let dir = b
        .path
        .parent()
        .unwrap_or(std::path::Path::new("/"))
        .to_path_buf();
    let (tcfg, _) = config_of(cfg, &b.env)?;
    let mut provider = provider(&tcfg, &b.provider, &dir, verbosity)?;
    let ctx = RunContext::new(
        &b.env,
        format!("verify-{id}"),
        verbosity == Verbosity::Verbose,
    );
    let in_catalog = load(cfg)?.iter().any(|x| x.env == b.env && x.id == b.id);
    match provider.verify(&ctx, &info_of(&b))? {
        Ok(()) => {
            b.verified = true;
            b.verified_at =
                Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            if in_catalog {
                catalog::mark(&cfg.state_dir, &b).map_err(|e| Exit::failed(e.to_string()))?;
            }
            println!("{id}: verified by plugin '{}'", b.provider);
            Ok(Code::Success)
        }
        Err(e) => {
            b.verified = false;
            if in_catalog {
                let _ = catalog::mark(&cfg.state_dir, &b);
            }
            Err(Exit::failed(format!(
                "backup {id} failed verification by plugin '{}': {}",
                b.provider,
                message(&e)
            )))
        }
    }
}

fn restore(cfg: &Config, id: &str, to: &str, verbosity: Verbosity) -> Result<Code, Exit> {
    let b = find(cfg, id)?;
    let (tcfg, name) = config_of(cfg, &b.env)?;
    let env = tcfg.env(&name).map_err(Exit::usage)?;
    if !cfg.plugins.contains_key(&b.provider) {
        return Err(Exit::usage(format!(
            "backup {id} was made by plugin '{}', which the config no longer has; add it back to restore",
            b.provider
        )));
    }
    let damaged =
        |m: String| Exit::failed(format!("backup {id} is damaged, nothing was restored: {m}"));
    // The bytes are checked before anything is created.
    let store = match (&b.store, b.local_removed || !b.path.exists()) {
        (Some(url), true) => {
            let (store, key) = stored_copy(cfg, &b, url)?;
            store
                .check(&key, b.size, &b.sha256)
                .map_err(|e| damaged(e.to_string()))?;
            Some(std::sync::Arc::new(store))
        }
        _ => {
            catalog::check_file(&b).map_err(damaged)?;
            None
        }
    };
    println!("{id}: {} bytes, sha256 {} as recorded", b.size, b.sha256);
    let mut p = provider(&tcfg, &b.provider, &env.backup_dir, verbosity)?;
    if let Some(s) = store {
        p.stream_to(s, &b.env);
    }
    let ctx = RunContext::new(
        &b.env,
        format!("restore-{id}"),
        verbosity == Verbosity::Verbose,
    );
    match p.restore(&ctx, &info_of(&b), to)? {
        Ok(()) => {
            println!("restored {id} into {to}");
            Ok(Code::Success)
        }
        Err(_) if !p.denials().is_empty() => Err(Exit::new(
            Code::Denied,
            p.denials().first().cloned().unwrap_or_default(),
        )),
        Err(e @ crate::plugin_api::BackupError::Unsupported(_))
        | Err(e @ crate::plugin_api::BackupError::AlreadyExists(_))
        | Err(e @ crate::plugin_api::BackupError::Misconfigured(_)) => Err(Exit::usage(format!(
            "cannot restore {id} into {to}: {}",
            message(&e)
        ))),
        Err(e) => Err(Exit::failed(format!(
            "restoring {id} into {to} failed: {}",
            message(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(super::human(12), "12 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
