//! The backup catalog: every backup the host took, with the size and sha256 the host measured
//! itself, whether it was verified, and the run it protects. Kept in
//! `<state-dir>/backups.json`, replaced atomically on every change. Retention (`keep = N`)
//! is decided here, free of plugins, so it has plain unit tests.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Backup {
    /// The provider's id, e.g. `prod-20261124T101500Z-3f9a1c`.
    pub id: String,
    pub env: String,
    /// The backup-provider plugin (config name) that made it.
    pub provider: String,
    /// File name inside the backup directory, as the provider named it.
    pub file: String,
    /// Absolute host path of the file.
    pub path: PathBuf,
    /// Bytes, as the host measured them.
    pub size: u64,
    /// sha256 of the file, computed by the host.
    pub sha256: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// True once the provider verified the archive (and the host its size and sha256).
    pub verified: bool,
    /// When it was last verified.
    pub verified_at: Option<String>,
    /// The run this backup was taken for.
    pub run_id: String,
    /// Where the env's backup store holds it (`s3://bucket/key`), once it holds a checked copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// The local file was removed once the store held a checked copy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_removed: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    backups: Vec<Backup>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the backup catalog {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write the backup catalog {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("backups.json")
}

/// Every backup in the catalog, oldest first; empty when there is no catalog yet.
pub fn load(state_dir: &Path) -> Result<Vec<Backup>, CatalogError> {
    let p = path(state_dir);
    let err = |reason: String| CatalogError::Read {
        path: p.display().to_string(),
        reason,
    };
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e.to_string())),
    };
    let f: File = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    Ok(f.backups)
}

/// Replace the catalog: a new file in the same folder, fsync'd, then renamed over the old one,
/// so a crash leaves either the old or the new catalog, never half of one.
pub fn save(state_dir: &Path, backups: &[Backup]) -> Result<(), CatalogError> {
    let p = path(state_dir);
    let err = |e: std::io::Error| CatalogError::Write {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let body = serde_json::to_string_pretty(&File {
        version: 1,
        backups: backups.to_vec(),
    })
    .map_err(|e| err(std::io::Error::other(e)))?;
    crate::atomic::replace(&p, format!("{body}\n").as_bytes()).map_err(err)
}

/// Read, change and save the catalog under an exclusive OS lock (`backups.lock`, flock), so
/// overlapping runs never lose each other's entries. The lock goes with the process.
fn update(state_dir: &Path, change: impl FnOnce(&mut Vec<Backup>)) -> Result<(), CatalogError> {
    let lock_path = state_dir.join("backups.lock");
    let err = |e: std::io::Error| CatalogError::Write {
        path: lock_path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(err)?;
    lock.lock().map_err(err)?;
    let mut all = load(state_dir)?;
    change(&mut all);
    save(state_dir, &all)
}

/// Add a new backup. Ids are namespaced by environment and never replaced: a provider that
/// returns an id the environment's catalog already holds is refused, so no plugin can
/// overwrite another backup's entry (a dev provider a verified prod backup's).
pub fn add(state_dir: &Path, backup: &Backup) -> Result<(), CatalogError> {
    let mut clash = false;
    update(state_dir, |all| {
        if all.iter().any(|b| b.env == backup.env && b.id == backup.id) {
            clash = true;
        } else {
            all.push(backup.clone());
        }
    })?;
    if clash {
        return Err(CatalogError::Refused(format!(
            "backup id {} already names a backup of env {}; a provider must return a new id for every backup (the existing entry is kept)",
            backup.id, backup.env
        )));
    }
    Ok(())
}

/// Record the verification state (and where the store holds it) of a backup already in the
/// catalog: the entry of the same environment, id, provider and file.
pub fn mark(state_dir: &Path, backup: &Backup) -> Result<(), CatalogError> {
    let mut found = false;
    update(state_dir, |all| {
        if let Some(b) = all.iter_mut().find(|b| {
            b.env == backup.env
                && b.id == backup.id
                && b.provider == backup.provider
                && b.file == backup.file
        }) {
            b.verified = backup.verified;
            b.verified_at = backup.verified_at.clone();
            b.store = backup.store.clone();
            b.local_removed = backup.local_removed;
            found = true;
        }
    })?;
    if !found {
        return Err(CatalogError::Refused(format!(
            "backup {} of env {} is not in the catalog",
            backup.id, backup.env
        )));
    }
    Ok(())
}

/// Remove one backup of `env` by id.
pub fn remove(state_dir: &Path, env: &str, id: &str) -> Result<(), CatalogError> {
    update(state_dir, |all| {
        all.retain(|b| !(b.env == env && b.id == id))
    })
}

/// A file more than this long is refused when less than half of it holds data: a dump is
/// written, not reserved, and a hole-punched file would keep the host hashing zeros for
/// minutes (1 TiB in 4 KiB on disk).
const SPARSE_FROM: u64 = 1 << 20;

/// Open the backup file `file` in `dir` once, for everything the host then does with it
/// (measure, hash, upload): never through a symbolic link (a provider may have swapped the
/// measured file for one), only a regular file, and not mostly holes. `file` is a plain name
/// (checked when the provider returned it); `dir` is the host's own folder.
pub fn open_backup(dir: &Path, file: &str) -> std::io::Result<(std::fs::File, u64)> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::OpenOptionsExt;
    if file.is_empty() || file.contains('/') || file == "." || file == ".." {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{file:?} is not a plain file name"),
        ));
    }
    let path = dir.join(file);
    let f = std::fs::OpenOptions::new()
        .read(true)
        // Non-blocking: a FIFO put in its place cannot hang the open.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{} is a symbolic link; the host reads only the file the provider wrote",
                    path.display()
                ),
            ),
            _ => e,
        })?;
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let len = meta.len();
    if len > SPARSE_FROM {
        let data = data_bytes(&f, len);
        // SEEK_DATA/SEEK_HOLE moved the offset: whoever reads the handle starts at byte 0.
        std::io::Seek::rewind(&mut &f)?;
        if data.saturating_mul(2) < len {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{} is {len} bytes long but holds data in only {data} of them (a sparse file); a backup is written in full",
                    path.display()
                ),
            ));
        }
    }
    Ok((f, len))
}

/// The bytes of `f` (of length `len`) that are data, not holes (`SEEK_DATA`/`SEEK_HOLE`); a
/// file system that cannot say reports the whole length.
fn data_bytes(f: &std::fs::File, len: u64) -> u64 {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let mut at: libc::off_t = 0;
    let mut data: u64 = 0;
    // Bounded: past this many extents the file is judged by what was seen plus the rest.
    for _ in 0..100_000 {
        // SAFETY: lseek on a descriptor this function borrows; no memory is passed.
        let start = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if start < 0 {
            return match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::ENXIO) => data, // no data after `at`
                _ => len,
            };
        }
        // SAFETY: as above.
        let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        if end < start {
            return len;
        }
        data += (end - start) as u64;
        at = end;
        if at as u64 >= len {
            return data;
        }
    }
    data + (len - at as u64)
}

/// Size and sha256 of the backup file `file` inside `dir` ([`open_backup`]'s checks).
pub fn measure(dir: &Path, file: &str) -> std::io::Result<(u64, String)> {
    let (f, _) = open_backup(dir, file)?;
    hash(f)
}

/// Size and sha256 of everything `f` yields.
pub fn hash(mut f: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Host-side check of a catalogued backup: the file is there with the recorded size and sha256.
pub fn check_file(b: &Backup) -> Result<(), String> {
    let dir = b.path.parent().unwrap_or(Path::new("/"));
    let (size, sha) =
        measure(dir, &b.file).map_err(|e| format!("cannot read {}: {e}", b.path.display()))?;
    if size != b.size {
        return Err(format!(
            "{} has {size} bytes, the catalog recorded {}",
            b.path.display(),
            b.size
        ));
    }
    if sha != b.sha256 {
        return Err(format!(
            "{} sha256 is {sha}, the catalog recorded {}",
            b.path.display(),
            b.sha256
        ));
    }
    Ok(())
}

/// The backups of `env` that retention deletes when keeping `keep` verified backups.
///
/// Never deleted: the backup of the current run (`current`, which counts towards `keep`), and
/// any unverified backup newer than it (another run may still be verifying it). Verified
/// backups are kept newest first up to `keep`; older unverified ones failed verification and
/// are deleted with the rest.
pub fn to_prune<'a>(
    backups: &'a [Backup],
    env: &str,
    keep: usize,
    current: &str,
) -> Vec<&'a Backup> {
    let mut mine: Vec<(usize, &Backup)> = backups
        .iter()
        .enumerate()
        .filter(|(_, b)| b.env == env)
        .collect();
    // Newest first. Providers stamp to the second, and ids end in a random suffix, so within a
    // second the catalog's order (entries are appended as they are taken) says which is newer.
    mine.sort_by(|(i, a), (j, b)| b.created.cmp(&a.created).then(j.cmp(i)));
    let mine: Vec<&Backup> = mine.into_iter().map(|(_, b)| b).collect();
    let current_created = mine
        .iter()
        .find(|b| b.id == current)
        .map(|b| b.created.clone());
    let mut kept = 0usize;
    let mut prune = Vec::new();
    for b in mine {
        if b.id == current {
            kept += 1;
            continue;
        }
        let newer_than_current = current_created
            .as_ref()
            .is_some_and(|c| b.created.as_str() >= c.as_str());
        if !b.verified && newer_than_current {
            continue;
        }
        if b.verified && kept < keep {
            kept += 1;
            continue;
        }
        prune.push(b);
    }
    prune
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: &str, env: &str, created: &str, verified: bool) -> Backup {
        Backup {
            id: id.into(),
            env: env.into(),
            provider: "pg".into(),
            file: format!("{id}.dump"),
            path: format!("/b/{id}.dump").into(),
            size: 1,
            sha256: "x".into(),
            created: created.into(),
            verified,
            verified_at: None,
            run_id: "r".into(),
            store: None,
            local_removed: false,
        }
    }

    fn ids(v: Vec<&Backup>) -> Vec<String> {
        v.into_iter().map(|b| b.id.clone()).collect()
    }

    #[test]
    fn within_one_second_the_later_entry_is_the_newer_whatever_its_id() {
        // Three runs in one second; the random id suffixes sort against the order taken.
        let all = vec![
            b(
                "prod-20260101T000001Z-ffffff",
                "prod",
                "2026-01-01T00:00:01Z",
                true,
            ),
            b(
                "prod-20260101T000001Z-000000",
                "prod",
                "2026-01-01T00:00:01Z",
                true,
            ),
            b(
                "prod-20260101T000001Z-888888",
                "prod",
                "2026-01-01T00:00:01Z",
                true,
            ),
        ];
        assert_eq!(
            ids(to_prune(&all, "prod", 2, "prod-20260101T000001Z-888888")),
            vec!["prod-20260101T000001Z-ffffff"]
        );
    }

    #[test]
    fn keeps_the_newest_verified_and_the_current() {
        let all = vec![
            b("p1", "prod", "2026-01-01T00:00:01Z", true),
            b("p2", "prod", "2026-01-01T00:00:02Z", true),
            b("p3", "prod", "2026-01-01T00:00:03Z", true),
            b("p4", "prod", "2026-01-01T00:00:04Z", true),
            b("d1", "dev", "2026-01-01T00:00:00Z", true),
        ];
        assert_eq!(ids(to_prune(&all, "prod", 2, "p4")), vec!["p2", "p1"]);
        assert_eq!(ids(to_prune(&all, "prod", 1, "p4")), vec!["p3", "p2", "p1"]);
        assert!(to_prune(&all, "prod", 10, "p4").is_empty());
        assert!(to_prune(&all, "dev", 1, "d1").is_empty());
    }

    #[test]
    fn never_deletes_the_current_run_even_when_it_is_not_newest() {
        let all = vec![
            b("p1", "prod", "2026-01-01T00:00:01Z", true),
            b("p2", "prod", "2026-01-01T00:00:02Z", true),
            b("p3", "prod", "2026-01-01T00:00:03Z", true),
        ];
        let pruned = ids(to_prune(&all, "prod", 1, "p1"));
        assert!(!pruned.contains(&"p1".to_string()), "{pruned:?}");
    }

    #[test]
    fn unverified_newer_backups_survive_unverified_older_ones_do_not() {
        let all = vec![
            b("old-bad", "prod", "2026-01-01T00:00:01Z", false),
            b("p2", "prod", "2026-01-01T00:00:02Z", true),
            b("cur", "prod", "2026-01-01T00:00:03Z", true),
            b("newer", "prod", "2026-01-01T00:00:04Z", false),
        ];
        assert_eq!(ids(to_prune(&all, "prod", 1, "cur")), vec!["p2", "old-bad"]);
    }

    #[test]
    fn same_second_backups_are_ordered_by_id() {
        let all = vec![
            b("prod-x-aaaaaa", "prod", "2026-01-01T00:00:01Z", true),
            b("prod-x-bbbbbb", "prod", "2026-01-01T00:00:01Z", true),
        ];
        assert_eq!(
            ids(to_prune(&all, "prod", 1, "prod-x-bbbbbb")),
            vec!["prod-x-aaaaaa"]
        );
    }

    #[test]
    fn catalog_round_trips_and_never_replaces_an_id() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).unwrap().is_empty());
        let mut x = b("p1", "prod", "2026-01-01T00:00:01Z", false);
        add(d.path(), &x).unwrap();
        x.verified = true;
        mark(d.path(), &x).unwrap();
        add(d.path(), &b("p2", "prod", "2026-01-01T00:00:02Z", true)).unwrap();
        // Another env's provider returning an existing id: its own namespace, no replacing.
        let mut dev = b("p2", "dev", "2026-01-01T00:00:03Z", false);
        add(d.path(), &dev).unwrap();
        let e = add(d.path(), &b("p2", "prod", "2026-01-01T00:00:04Z", false)).unwrap_err();
        assert!(
            e.to_string().contains("already names a backup of env prod"),
            "{e}"
        );
        dev.provider = "other".into();
        assert!(mark(d.path(), &dev).is_err());
        let all = load(d.path()).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].verified);
        assert!(all
            .iter()
            .any(|b| b.env == "prod" && b.id == "p2" && b.verified));
        remove(d.path(), "prod", "p1").unwrap();
        assert_eq!(
            ids(load(d.path()).unwrap().iter().collect()),
            vec!["p2", "p2"]
        );
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let d = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || {
                    for j in 0..5 {
                        let id = format!("p{i}-{j}");
                        add(&dir, &b(&id, "prod", "2026-01-01T00:00:01Z", true)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(load(d.path()).unwrap().len(), 40);
    }

    #[test]
    fn a_broken_catalog_is_an_error_not_an_empty_one() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(path(d.path()), "{not json").unwrap();
        assert!(load(d.path()).is_err());
    }

    #[test]
    fn measures_size_and_sha256() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b"), b"abc").unwrap();
        let (size, sha) = measure(d.path(), "b").unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn refuses_paths_outside_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let inner = d.path().join("backups");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(d.path().join("secret"), b"x").unwrap();
        assert!(measure(&inner, "../secret").is_err());
        std::os::unix::fs::symlink(d.path().join("secret"), inner.join("link")).unwrap();
        assert!(measure(&inner, "link").is_err());
        // A link to a file inside the folder is refused too: the host reads what was written.
        std::fs::write(inner.join("real"), b"x").unwrap();
        std::os::unix::fs::symlink("real", inner.join("inside")).unwrap();
        let e = measure(&inner, "inside").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::fs::create_dir(inner.join("dir")).unwrap();
        assert!(measure(&inner, "dir").is_err());
    }

    #[test]
    fn a_sparse_file_is_refused_before_it_is_read() {
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("sparse")).unwrap();
        f.set_len(1 << 40).unwrap(); // 1 TiB, nothing written
        let e = measure(d.path(), "sparse").unwrap_err();
        assert!(e.to_string().contains("sparse"), "{e}");
        // A file written in full of the same length class is measured.
        std::fs::write(d.path().join("full"), vec![7u8; 3 << 20]).unwrap();
        assert_eq!(measure(d.path(), "full").unwrap().0, 3 << 20);
    }
}
