//! dir-archive-backup: archives a granted directory (uploads, media, a file-based store) as a
//! gzipped tar in the environment's backup directory. An example for PLUGINS.md.
//!
//! Settings: `source` (default `/data`), the guest path of the directory to archive. Grant it
//! read-only in `grants.dirs`; the host mounts the backup directory at `/backups` itself.
//! `upload-url` (optional): an off-site copy. Once the archive is written and checked, it is
//! sent with `PUT upload-url/FILE` (the origin must be in `grants.hosts`); a failed upload
//! fails the backup.
//!
//! The archive ends with a manifest entry (`.platform-migrate-manifest`: file count and bytes).
//! `verify` reads the whole archive back (gzip CRC, every tar header) and compares it with the
//! manifest, so a truncated or corrupted archive fails verification. Regular files and
//! directories are archived; symlinks and other special files are skipped and logged.

use platform_migrate_sdk::backup::*;
use platform_migrate_sdk::{config, http, log, register_backup};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

struct DirArchive;

const SUFFIX: &str = ".tar.gz";
const MANIFEST: &str = ".platform-migrate-manifest";

fn source() -> String {
    config::get("source").unwrap_or_else(|| "/data".into())
}

/// `scheme://host[:port]` of a URL: what `grants.hosts` must list.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Send the checked archive off-site: `PUT {upload-url}/{file}`.
fn upload(base: &str, file: &str, path: &str) -> Result<(), BackupError> {
    let bytes = std::fs::read(path).map_err(|e| BackupError::Other(format!("{path}: {e}")))?;
    let url = format!("{}/{file}", base.trim_end_matches('/'));
    let resp = http::send(
        "PUT",
        &url,
        &[("content-type", "application/gzip")],
        &bytes,
        Some(std::time::Duration::from_secs(60)),
    )
    .map_err(|e| match e {
        http::HttpError::Denied(m) => BackupError::Denied(m),
        other => BackupError::Other(format!("uploading to {url}: {other}")),
    })?;
    if !(200..300).contains(&resp.status) {
        return Err(BackupError::Other(format!(
            "uploading to {url}: HTTP {}",
            resp.status
        )));
    }
    log::info(&format!("uploaded {file} ({} bytes) to {url}", bytes.len()));
    Ok(())
}

/// What an archive holds: regular files and their total size.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub files: u64,
    pub bytes: u64,
}

impl Counts {
    fn line(&self) -> String {
        format!("files={} bytes={}\n", self.files, self.bytes)
    }
    fn parse(s: &str) -> Option<Counts> {
        let mut c = Counts::default();
        for part in s.split_whitespace() {
            match part.split_once('=')? {
                ("files", n) => c.files = n.parse().ok()?,
                ("bytes", n) => c.bytes = n.parse().ok()?,
                _ => return None,
            }
        }
        Some(c)
    }
}

/// Add `dir` (recursively, sorted) under `prefix`, counting regular files.
fn add_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &Path,
    counts: &mut Counts,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = prefix.join(e.file_name());
        let kind = e.file_type()?;
        if kind.is_dir() {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            tar.append_data(&mut h, &name, io::empty())?;
            add_dir(tar, &e.path(), &name, counts)?;
        } else if kind.is_file() {
            let mut f = File::open(e.path())?;
            let len = f.metadata()?.len();
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(len);
            tar.append_data(&mut h, &name, &mut f)?;
            counts.files += 1;
            counts.bytes += len;
        } else {
            log::warn(&format!(
                "skipped {} (not a regular file or directory)",
                name.display()
            ));
        }
    }
    Ok(())
}

/// Write a gzipped tar of `src` (with its manifest) to `out`.
pub fn archive<W: Write>(src: &Path, out: W) -> io::Result<(W, Counts)> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut counts = Counts::default();
    add_dir(&mut tar, src, Path::new(""), &mut counts)?;
    let line = counts.line();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(line.len() as u64);
    tar.append_data(&mut h, MANIFEST, line.as_bytes())?;
    let out = tar.into_inner()?.finish()?;
    Ok((out, counts))
}

/// Read a whole archive back and check it against its manifest.
pub fn check<R: Read>(input: R) -> Result<Counts, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(input));
    let mut seen = Counts::default();
    let mut manifest = None;
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| format!("broken entry: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if path == Path::new(MANIFEST) {
            manifest = Some(String::from_utf8_lossy(&data).into_owned());
        } else if entry.header().entry_type().is_file() {
            seen.files += 1;
            seen.bytes += data.len() as u64;
        }
    }
    let text = manifest.ok_or("no manifest: the archive is truncated or not ours")?;
    let want = Counts::parse(&text).ok_or("the manifest is unreadable")?;
    if want != seen {
        return Err(format!(
            "the manifest says {want:?} but the archive holds {seen:?}"
        ));
    }
    Ok(seen)
}

impl BackupProvider for DirArchive {
    fn describe() -> PluginInfo {
        let mut info = platform_migrate_sdk::info!(
            "dir-archive-backup",
            "Archives a granted directory as .tar.gz",
            []
        );
        info.capabilities = vec![Capability::Directory(source())];
        if let Some(o) = config::get("upload-url").as_deref().and_then(origin) {
            info.capabilities.push(Capability::OutboundHttp(o));
        }
        info.with_settings([
            Setting::text(
                "source",
                "guest path of the directory to archive, granted read-only",
            )
            .default_toml("\"/data\""),
            Setting::text(
                "upload-url",
                "PUT each checked archive to UPLOAD-URL/FILE (its origin in grants.hosts)",
            ),
        ])
    }

    fn create(ctx: RunContext) -> Result<BackupInfo, BackupError> {
        let src = source();
        if !Path::new(&src).is_dir() {
            return Err(BackupError::Misconfigured(format!(
                "{src} is not a directory; grant it in grants.dirs or fix the `source` setting"
            )));
        }
        let (id, created) = new_backup_id(&ctx.env);
        let file = format!("{id}{SUFFIX}");
        let path = format!("{BACKUP_DIR}/{file}");
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| BackupError::Other(format!("cannot create {path}: {e}")))?;
        let (out, counts) = archive(Path::new(&src), io::BufWriter::new(out))
            .map_err(|e| BackupError::Other(format!("archiving {src}: {e}")))?;
        let out = out
            .into_inner()
            .map_err(|e| BackupError::Other(e.to_string()))?;
        out.sync_all()
            .map_err(|e| BackupError::Other(e.to_string()))?;
        let size = out.metadata().map(|m| m.len()).unwrap_or(0);
        log::info(&format!(
            "archived {} files ({} bytes) from {src}",
            counts.files, counts.bytes
        ));
        if let Some(base) = config::get("upload-url") {
            // Only a checked archive leaves the machine.
            let f = File::open(&path).map_err(|e| BackupError::Other(format!("{path}: {e}")))?;
            check(io::BufReader::new(f))
                .map_err(|e| BackupError::Invalid(format!("{file}: {e}")))?;
            upload(&base, &file, &path)?;
        }
        Ok(BackupInfo {
            id,
            file,
            size,
            created,
        })
    }

    fn verify(_ctx: RunContext, backup: BackupInfo) -> Result<(), BackupError> {
        let path = format!("{BACKUP_DIR}/{}", backup.file);
        let f = File::open(&path).map_err(|e| BackupError::Invalid(format!("{path}: {e}")))?;
        let c = check(io::BufReader::new(f))
            .map_err(|e| BackupError::Invalid(format!("{}: {e}", backup.file)))?;
        log::info(&format!(
            "{}: {} files, {} bytes, manifest matches",
            backup.file, c.files, c.bytes
        ));
        Ok(())
    }

    fn list_backups(_ctx: RunContext) -> Result<Vec<BackupInfo>, BackupError> {
        list_backup_files(SUFFIX)
    }
}

register_backup!(DirArchive);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_and_damage_is_found() {
        let dir = std::env::temp_dir().join(format!("dir-archive-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.join("sub/b.bin"), vec![7u8; 10_000]).unwrap();
        let (bytes, counts) = archive(&dir, Vec::new()).unwrap();
        assert_eq!(
            counts,
            Counts {
                files: 2,
                bytes: 10_005
            }
        );
        assert_eq!(check(&bytes[..]).unwrap(), counts);
        // Truncated: gzip or tar notices, or the manifest is gone.
        assert!(check(&bytes[..bytes.len() / 2]).is_err());
        // One flipped byte inside the compressed stream.
        let mut bad = bytes.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        assert!(check(&bad[..]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
