//! The sha256 of each migration file as it was when platform-migrate applied it, per
//! environment: `<state-dir>/checksums/<env>.json`, replaced atomically. A later run that finds
//! an applied migration whose file changed reports drift (see `run/drift.rs`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `app.name` -> sha256 of the file when it was applied.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checksums {
    pub version: u32,
    pub migrations: BTreeMap<String, String>,
}

pub fn path(state_dir: &Path, env: &str) -> PathBuf {
    state_dir.join("checksums").join(format!("{env}.json"))
}

/// The recorded checksums (none recorded yet: empty).
pub fn load(state_dir: &Path, env: &str) -> std::io::Result<Checksums> {
    match std::fs::read(path(state_dir, env)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checksums {
            version: 1,
            ..Default::default()
        }),
        Err(e) => Err(e),
    }
}

/// Write them: a temp file in the same folder, fsync'd, renamed over the old one.
pub fn save(state_dir: &Path, env: &str, c: &Checksums) -> std::io::Result<()> {
    let p = path(state_dir, env);
    let dir = p.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
    std::fs::create_dir_all(dir)?;
    let mut body = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    body.push(b'\n');
    crate::atomic::replace(&p, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_is_empty() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path(), "prod").unwrap().migrations.is_empty());
        let mut c = Checksums {
            version: 1,
            ..Default::default()
        };
        c.migrations
            .insert("orders.0001_initial".into(), "ab".repeat(32));
        save(d.path(), "prod", &c).unwrap();
        assert_eq!(load(d.path(), "prod").unwrap(), c);
        assert!(load(d.path(), "dev").unwrap().migrations.is_empty());
    }
}
