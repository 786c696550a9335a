//! Step 3: back up the database through the environment's backup provider. The host measures
//! the file itself (size and sha256, opened through cap-std inside the backup directory) and
//! asks the provider to verify it.

use super::request::Action;
use super::Run;
use super::{Done, Fail};
use crate::exit::Code;
use crate::history::BackupRecord;
use crate::sandbox::bindings::backup::platform::migrate::types::RunContext;
use crate::sandbox::bt::BackupError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Size and sha256 of `file` inside `dir`; `..` and symlinks out of `dir` are refused.
pub fn measure(dir: &Path, file: &str) -> std::io::Result<(u64, String)> {
    let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
    let mut f = root.open(file)?;
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

fn message(e: &BackupError) -> String {
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

impl Run<'_> {
    pub(super) fn backup(&mut self) -> Result<Done, Fail> {
        match self.req.action {
            Action::Show => return Ok(Done::Skipped("--show changes nothing".into())),
            Action::Make => return Ok(Done::Skipped("--make only writes migration files".into())),
            _ => {}
        }
        if self.plan.as_ref().is_some_and(|p| p.steps.is_empty()) {
            return Ok(Done::Skipped("nothing to migrate".into()));
        }
        let Some(name) = self.env.backup.clone() else {
            return Ok(Done::Skipped(format!(
                "no backup configured for env {}",
                self.env.name
            )));
        };
        let required = self.env.backup_required;
        match self.take_backup(&name) {
            Ok(record) => {
                self.ui.detail(&format!(
                    "{} -> {} ({} bytes, sha256 {}, verified)",
                    record.id,
                    self.env.backup_dir.join(&record.file).display(),
                    record.size,
                    &record.sha256[..16]
                ));
                self.entry.backup = Some(record);
                Ok(Done::Ok("ok".into()))
            }
            Err(Some(BackupError::SourceMissing(m))) if !required => {
                Ok(Done::Skipped(format!("nothing to back up yet ({m})")))
            }
            Err(Some(e)) if !required => {
                self.ui.detail(&format!(
                    "warning: {}; continuing because env.{}.backup-required is false",
                    message(&e),
                    self.env.name
                ));
                Ok(Done::Skipped("backup failed, not required".into()))
            }
            Err(Some(BackupError::Denied(m))) => Err(Fail::new(Code::Denied, m)),
            Err(Some(e)) => Err(Fail::failed(format!(
                "{}; nothing was migrated",
                message(&e)
            ))),
            Err(None) => Err(Fail::failed(
                "backup failed; nothing was migrated".to_string(),
            )),
        }
    }

    /// Create, measure and verify; `Err(None)` for host-side failures already reported.
    fn take_backup(&mut self, name: &str) -> Result<BackupRecord, Option<BackupError>> {
        let ctx = RunContext {
            env: self.env.name.clone(),
            run_id: self.run_id.clone(),
            verbose: self.verbose,
        };
        let dir = self.env.backup_dir.clone();
        let backup = self.backup.as_mut().expect("backup loaded in step 1");
        let info = match backup.create(&ctx) {
            Ok(r) => r?,
            Err(e) => {
                self.ui.detail(&format!("error: {e}"));
                return Err(None);
            }
        };
        let (size, sha256) = measure(&dir, &info.file).map_err(|e| {
            Some(BackupError::Invalid(format!(
                "plugin '{name}' reported {} but the host cannot read it: {e}",
                info.file
            )))
        })?;
        if size == 0 {
            return Err(Some(BackupError::Invalid(format!(
                "{} is empty",
                info.file
            ))));
        }
        match backup.verify(&ctx, &info) {
            Ok(r) => r?,
            Err(e) => {
                self.ui.detail(&format!("error: {e}"));
                return Err(None);
            }
        }
        Ok(BackupRecord {
            id: info.id,
            file: info.file,
            size,
            sha256,
            verified: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::measure;

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
    }
}
