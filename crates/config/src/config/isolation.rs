//! What no plugin may reach. The state directory (history, the backup catalog, locks, run
//! reports and every env's default backup folder) lies outside every folder a program a
//! plugin starts may read or write: by default under the user's state home, never in the
//! config's folder (which every such program may read); and one env's backups lie outside
//! every grant of another env's plugins. Checked when the config is read, so a grant that
//! would cover them is refused before anything runs.

use super::{Config, ConfigError, PluginConfig};
use std::path::{Component, Path, PathBuf};

/// The default state directory of the config in `base_dir`:
/// `$XDG_STATE_HOME/platform-migrate/<folder>-<hash>` (`~/.local/state/...` without it), one
/// per config folder, named after it so a person finds it.
pub fn default_state_dir(base_dir: &Path) -> Result<PathBuf, String> {
    let home = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/state"),
            None => {
                return Err(
                    "no place for the state directory: neither XDG_STATE_HOME nor HOME is set; set one, or `state-dir` in the config to a folder outside the project"
                        .into(),
                )
            }
        },
    };
    let real = std::fs::canonicalize(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
    let digest = { crate::digest::sha256_hex(real.as_os_str().as_encoded_bytes()) };
    let name: String = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    Ok(home
        .join("platform-migrate")
        .join(format!("{name}-{}", &digest[..12])))
}

/// The state directory the config in `base_dir` used before 0.3 (`.platform-migrate` beside
/// it), moved to `state_dir` when the config keeps the default and nothing is there yet: a
/// rename, so nothing is lost; across file systems the message says how to move it.
pub fn adopt_old_state(base_dir: &Path, state_dir: &Path, shown: &str) -> Result<(), ConfigError> {
    let old = base_dir.join(".platform-migrate");
    if !old.is_dir() || old.is_symlink() || state_dir.exists() {
        return Ok(());
    }
    let whole = |message: String| ConfigError::Whole {
        path: shown.to_string(),
        message,
    };
    if let Some(parent) = state_dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| whole(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::rename(&old, state_dir).map_err(|e| {
        whole(format!(
            "the state directory {} lies in the config's folder, which every program a plugin starts may read, and could not be moved to {} ({e}): move it there (`mv {} {}`), or set `state-dir` to a folder outside the project",
            old.display(),
            state_dir.display(),
            old.display(),
            state_dir.display()
        ))
    })?;
    tracing::warn!(
        "moved the state directory {} to {}: in the config's folder every program a plugin starts could read it",
        old.display(),
        state_dir.display()
    );
    Ok(())
}

/// `path` without `.` and `..` (lexically) and, where it exists, through its symlinks.
fn normal(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    // The deepest part that exists, through its symlinks, and the rest as written.
    let mut head = out.clone();
    let mut tail = Vec::new();
    while !head.exists() {
        match head.file_name() {
            Some(n) => tail.push(n.to_os_string()),
            None => return out,
        }
        if !head.pop() {
            return out;
        }
    }
    let mut real = std::fs::canonicalize(&head).unwrap_or(head);
    for n in tail.iter().rev() {
        real.push(n);
    }
    real
}

/// "contains" or "lies inside" when one of the folders holds the other.
fn overlap(a: &Path, b: &Path) -> Option<&'static str> {
    let (a, b) = (normal(a), normal(b));
    if b.starts_with(&a) {
        Some("contains")
    } else if a.starts_with(&b) {
        Some("lies inside")
    } else {
        None
    }
}

/// Every host folder a plugin's grants open to it or to the programs it starts.
fn granted(p: &PluginConfig) -> Vec<&Path> {
    p.grants
        .dirs
        .iter()
        .map(|d| d.host.as_path())
        .chain(p.grants.confine.read.iter().map(PathBuf::as_path))
        .chain(p.grants.confine.write.iter().map(PathBuf::as_path))
        .collect()
}

/// The checks above; the message names the folder, the grant and the way out.
pub fn check(cfg: &Config) -> Result<(), String> {
    let state = &cfg.state_dir;
    if let Some(how) = overlap(state, &cfg.base_dir) {
        return Err(format!(
            "the state directory {} {how} the config's folder {}, which every program a plugin starts may read: history and every env's backups would be open to them; remove `state-dir` to keep it in the default place outside the project, or name a folder outside it",
            state.display(),
            cfg.base_dir.display()
        ));
    }
    for (name, p) in &cfg.plugins {
        for g in granted(p) {
            if let Some(how) = overlap(g, state) {
                return Err(format!(
                    "plugins.{name} grants {}, which {how} the state directory {}: a plugin never reaches history or backups; grant a folder outside it",
                    g.display(),
                    state.display()
                ));
            }
        }
    }
    for (env_name, env) in &cfg.envs {
        let dir = &env.backup_dir;
        if dir.parent() == Some(state.join("backups").as_path()) {
            // The default place: inside the state directory, one folder per env.
        } else if let Some(how) = overlap(dir, &cfg.base_dir) {
            return Err(format!(
                "env.{env_name}.backup-dir {} {how} the config's folder, which every program a plugin starts may read; name a folder outside the project, or remove backup-dir to use {}",
                dir.display(),
                state.join("backups").join(env_name).display()
            ));
        }
        for (other_name, other) in &cfg.envs {
            if other_name == env_name {
                continue;
            }
            if let Some(how) = overlap(&other.backup_dir, dir) {
                return Err(format!(
                    "env.{other_name}'s backup folder {} {how} env.{env_name}'s {}: one env's backup provider would reach the other's backups; give each env a folder of its own",
                    other.backup_dir.display(),
                    dir.display()
                ));
            }
            let plugins = std::iter::once(&other.runner)
                .chain(other.backup.iter())
                .chain(other.notifiers.iter());
            for plugin in plugins {
                let Some(p) = cfg.plugins.get(plugin) else {
                    continue;
                };
                for g in granted(p) {
                    if let Some(how) = overlap(g, dir) {
                        return Err(format!(
                            "plugins.{plugin} (used by env {other_name}) grants {}, which {how} env {env_name}'s backup folder {}: one env's plugins never read another's backups; grant a folder outside it",
                            g.display(),
                            dir.display()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_outside_the_project_and_one_per_folder() {
        let a = default_state_dir(Path::new("/work/shop")).unwrap();
        let b = default_state_dir(Path::new("/work/other/shop")).unwrap();
        assert!(!a.starts_with("/work/shop"), "{}", a.display());
        assert_ne!(a, b);
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("shop-"),
            "{}",
            a.display()
        );
    }

    #[test]
    fn folders_overlap_when_one_holds_the_other_whatever_their_spelling() {
        assert_eq!(
            overlap(Path::new("/a"), Path::new("/a/b")),
            Some("contains")
        );
        assert_eq!(
            overlap(Path::new("/a/b/../c"), Path::new("/a")),
            Some("lies inside")
        );
        assert_eq!(overlap(Path::new("/a/b"), Path::new("/a/bc")), None);
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        assert_eq!(
            overlap(&d.path().join("link/state"), &d.path().join("real")),
            Some("lies inside")
        );
    }
}
