//! Compiled-plugin cache: each component is compiled to native code once and reused by later
//! runs. Entries are keyed by the `.wasm`'s sha256 and the engine's compatibility hash (wasmtime
//! version, compiler settings, CPU features), so a changed plugin or a new host never loads
//! stale code. Loading precompiled code trusts its bytes, so the cache lives only in a
//! directory the host owns — `$PLATFORM_MIGRATE_CACHE_DIR`, else `$XDG_CACHE_HOME` or
//! `~/.cache` + `platform-migrate/components` — never a path from the config or a plugin; the
//! directory must belong to the current user and not be writable by others, and entries are
//! written as 0600 files through a temp file and a rename. Anything odd means "compile again".

use sha2::{Digest, Sha256};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The host-owned cache directory, or `None` when there is no home to put it in or caching is
/// turned off (`PLATFORM_MIGRATE_CACHE_DIR=off`).
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("PLATFORM_MIGRATE_CACHE_DIR") {
        Some(v) if v == "off" => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ => {}
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("platform-migrate").join("components"))
}

/// Where the cache is, and whether the last load came from it.
pub struct Cache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

impl Cache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Cache {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Cache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    fn entry(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{}.cwasm", self.engine_key)))
    }

    /// The component for `bytes` (whose sha256 is `sha256`): from the cache when a trusted
    /// entry exists, else compiled (and stored for next time).
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        if let Some(path) = self.entry(sha256) {
            if trusted_dir(path.parent()) && trusted_file(&path) {
                // SAFETY: the file is ours (owner and mode checked), named by the sha256 of the
                // very bytes we were given and by this engine's compatibility hash, and was
                // written by `Component::serialize` of this host; wasmtime also checks its
                // header against the engine.
                match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(c) => return Ok((c, Origin::Cached)),
                    Err(e) => tracing::debug!("cache entry {} unusable: {e:#}", path.display()),
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = self.entry(sha256) {
            if let Err(e) = store(&path, &component) {
                tracing::debug!("cannot cache compiled plugin in {}: {e}", path.display());
            }
        }
        Ok((component, Origin::Compiled))
    }
}

/// sha256 of the bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// SAFETY: getuid cannot fail and touches no memory.
fn my_uid() -> u32 {
    unsafe { libc::getuid() }
}

/// Ours and not writable by group or others.
fn trusted_dir(dir: Option<&Path>) -> bool {
    dir.and_then(|d| std::fs::symlink_metadata(d).ok())
        .is_some_and(|m| m.is_dir() && m.uid() == my_uid() && m.mode() & 0o022 == 0)
}

fn trusted_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && m.uid() == my_uid() && m.mode() & 0o077 == 0)
}

fn store(path: &Path, component: &Component) -> std::io::Result<()> {
    let dir = path.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if !trusted_dir(Some(dir)) {
        return Err(std::io::Error::other(
            "the cache directory is not owned by this user or is writable by others",
        ));
    }
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), rand_suffix()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f.write_all(&bytes).and_then(|()| f.sync_all());
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

fn rand_suffix() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{t:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The smallest component: `(component)`.
    const EMPTY: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn a_second_load_comes_from_the_cache_and_a_tampered_entry_is_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("components");
        let engine = Engine::default();
        let cache = Cache::new(&engine, Some(dir.clone()));
        let sha = sha256_hex(EMPTY);
        let (_, first) = cache.load(&engine, EMPTY, &sha).unwrap();
        assert_eq!(first, Origin::Compiled);
        let (_, second) = cache.load(&engine, EMPTY, &sha).unwrap();
        assert_eq!(second, Origin::Cached);
        let entry = cache.entry(&sha).unwrap();
        assert_eq!(std::fs::metadata(&entry).unwrap().mode() & 0o777, 0o600);
        // Group-writable entry: compiled again, and the entry replaced.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o660)).unwrap();
        let (_, third) = cache.load(&engine, EMPTY, &sha).unwrap();
        assert_eq!(third, Origin::Compiled);
        // Garbage in a trusted entry: compiled again.
        std::fs::write(&entry, b"garbage").unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (_, fourth) = cache.load(&engine, EMPTY, &sha).unwrap();
        assert_eq!(fourth, Origin::Compiled);
        assert_eq!(cache.load(&engine, EMPTY, &sha).unwrap().1, Origin::Cached);
    }

    #[test]
    fn no_directory_means_no_cache() {
        let engine = Engine::default();
        let cache = Cache::new(&engine, None);
        let sha = sha256_hex(EMPTY);
        assert_eq!(
            cache.load(&engine, EMPTY, &sha).unwrap().1,
            Origin::Compiled
        );
        assert_eq!(
            cache.load(&engine, EMPTY, &sha).unwrap().1,
            Origin::Compiled
        );
    }
}
