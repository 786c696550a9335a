//! Compiled-plugin cache: each component is compiled to native code once and reused by later
//! runs. Entries are keyed by the `.wasm`'s sha256 and the engine's compatibility hash (wasmtime
//! version, compiler settings, CPU features), so a changed plugin or a new host never loads
//! stale code. Loading precompiled code trusts its bytes, so the cache lives only in a
//! directory the host owns — `$PLATFORM_MIGRATE_CACHE_DIR`, else `$XDG_CACHE_HOME` or
//! `~/.cache` + `platform-migrate/components` — never a path from the config or a plugin; the
//! directory must belong to the current user and not be writable by others, and entries are
//! written as 0600 files through a temp file and a rename. Anything odd means "compile again".
//!
//! Each entry starts with an HMAC-SHA256 tag over the `.wasm`'s sha256, the engine key and the
//! compiled bytes, under a random key kept in the cache directory (`key`, 0600). An entry is
//! deserialized only when its tag checks, so an entry copied over another (another
//! component's compiled code under a pinned plugin's name) or edited in place is compiled
//! again instead. Programs that plugins start cannot reach the cache at all (see
//! `crate::confine`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
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
            if let Some(code) = self.verified(&path, sha256) {
                // SAFETY: the file is ours (owner and mode checked) and its tag proves this
                // host wrote exactly these bytes for the very `.wasm` we were given, with
                // `Component::serialize` on an engine of this compatibility hash; wasmtime
                // also checks the header against the engine.
                match unsafe { Component::deserialize(engine, &code) } {
                    Ok(c) => return Ok((c, Origin::Cached)),
                    Err(e) => tracing::debug!("cache entry {} unusable: {e:#}", path.display()),
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = self.entry(sha256) {
            if let Err(e) = self.store(&path, sha256, &component) {
                tracing::debug!("cannot cache compiled plugin in {}: {e}", path.display());
            }
        }
        Ok((component, Origin::Compiled))
    }
}

const TAG: usize = 32;

impl Cache {
    /// The compiled bytes of the entry at `path` when it is ours and its tag checks.
    fn verified(&self, path: &Path, sha256: &str) -> Option<Vec<u8>> {
        let dir = path.parent()?;
        if !(trusted_dir(Some(dir)) && trusted_file(path)) {
            return None;
        }
        let key = read_key(dir)?;
        let data = std::fs::read(path).ok()?;
        if data.len() < TAG {
            return None;
        }
        let (tag, code) = data.split_at(TAG);
        let mac = self.mac(&key, sha256, code)?;
        if mac.verify_slice(tag).is_err() {
            tracing::warn!(
                "compiled-plugin cache entry {} was not written by this host for this plugin; compiling it again",
                path.display()
            );
            return None;
        }
        Some(code.to_vec())
    }

    fn mac(&self, key: &[u8], sha256: &str, code: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(self.engine_key.as_bytes());
        mac.update(b"\0");
        mac.update(code);
        Some(mac)
    }

    fn store(&self, path: &Path, sha256: &str, component: &Component) -> std::io::Result<()> {
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
        let key = match read_key(dir) {
            Some(k) => k,
            None => make_key(dir)?,
        };
        let code = component.serialize().map_err(std::io::Error::other)?;
        let tag = self
            .mac(&key, sha256, &code)
            .ok_or_else(|| std::io::Error::other("bad cache key"))?
            .finalize()
            .into_bytes();
        let mut bytes = tag.to_vec();
        bytes.extend_from_slice(&code);
        write_private(dir, path, &bytes)
    }
}

/// The cache's key, when it exists and is ours.
fn read_key(dir: &Path) -> Option<Vec<u8>> {
    let p = dir.join("key");
    if !trusted_file(&p) {
        return None;
    }
    std::fs::read(&p).ok().filter(|k| k.len() == 32)
}

/// A new random key (from the kernel), written once.
fn make_key(dir: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    write_private(dir, &dir.join("key"), &key)?;
    read_key(dir).ok_or_else(|| std::io::Error::other("cannot read back the cache key"))
}

/// sha256 of the bytes, lowercase hex.
pub use crate::digest::sha256_hex;

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

/// Write `bytes` to `path` as a 0600 file, through a temp file and a rename.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), rand_suffix()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
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
    fn another_component_s_entry_copied_over_a_pinned_one_is_never_loaded() {
        // Two different components, both cached; B's entry copied over A's name.
        const OTHER: &[u8] = b"\0asm\x0d\x00\x01\x00\x00\x01\x00"; // an empty custom section
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("components");
        let engine = Engine::default();
        let cache = Cache::new(&engine, Some(dir.clone()));
        let (a, b) = (sha256_hex(EMPTY), sha256_hex(OTHER));
        cache.load(&engine, EMPTY, &a).unwrap();
        cache.load(&engine, OTHER, &b).unwrap();
        assert_eq!(cache.load(&engine, OTHER, &b).unwrap().1, Origin::Cached);
        std::fs::copy(cache.entry(&b).unwrap(), cache.entry(&a).unwrap()).unwrap();
        assert!(cache.verified(&cache.entry(&a).unwrap(), &a).is_none());
        assert_eq!(cache.load(&engine, EMPTY, &a).unwrap().1, Origin::Compiled);
        // And a bare serialized entry with no tag (what an older host or an attacker without
        // the key writes) is not trusted either.
        let raw = Component::new(&engine, OTHER).unwrap().serialize().unwrap();
        std::fs::write(cache.entry(&a).unwrap(), raw).unwrap();
        assert!(cache.verified(&cache.entry(&a).unwrap(), &a).is_none());
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
