//! Step 3: back up the database through the environment's backup provider, before anything
//! changes (the operations themselves are `crate::backup_ops`, shared with `backups create`),
//! then apply retention.

use super::request::Action;
use super::Run;
use super::{Done, Fail};
use crate::backup_ops::{message, retention, take, Failed};
use crate::exit::Code;
use crate::history::BackupRecord;
use crate::plugin_api::BackupError;

impl Run<'_> {
    pub(super) fn backup(&mut self) -> Result<Done, Fail> {
        match self.req.action {
            Action::Show => return Ok(Done::Skipped("--show changes nothing".into())),
            Action::Make => return Ok(Done::Skipped("--make only writes migration files".into())),
            _ => {}
        }
        // A reset empties the database even when nothing is pending.
        if !self.req.reset && self.plan.as_ref().is_some_and(|p| p.steps.is_empty()) {
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
                    record.store.as_deref().unwrap_or(&record.path),
                    record.size,
                    &record.sha256[..16]
                ));
                let id = record.id.clone();
                self.entry.backup = Some(record);
                self.retention(&name, &id);
                Ok(Done::Ok("ok, verified".into()))
            }
            // The provider found nothing to copy; the host checks the database itself before
            // a required backup lets the run go on without one.
            Err(Failed::Plugin(BackupError::SourceMissing(m))) => {
                match super::empty_db::nothing_to_lose(&self.vendor, &self.database, &self.cfg.base_dir) {
                    Some(why) => {
                        self.entry.nothing_to_back_up = Some(why.clone());
                        Ok(Done::Skipped(format!("nothing to back up: {why}")))
                    }
                    None if !required => {
                        Ok(Done::Skipped(format!("nothing to back up yet ({m})")))
                    }
                    None => Err(Fail::failed(format!(
                        "nothing to back up: {m}, but the database ({} {}) is not empty as far as the host can tell; fix the backup's source setting; nothing was migrated",
                        self.vendor, self.database
                    ))),
                }
            }
            Err(e) if !required => {
                let m = match &e {
                    Failed::Plugin(e) => message(e),
                    Failed::Host(m) => m.clone(),
                };
                self.ui.detail(&format!(
                    "warning: {m}; continuing because env.{}.backup-required is false",
                    self.env.name
                ));
                Ok(Done::Skipped("backup failed, not required".into()))
            }
            Err(Failed::Plugin(BackupError::Denied(m))) => Err(Fail::new(Code::Denied, m)),
            Err(Failed::Plugin(e)) => Err(Fail::failed(format!(
                "{}; nothing was migrated",
                message(&e)
            ))),
            Err(Failed::Host(m)) => Err(Fail::failed(format!("{m}; nothing was migrated"))),
        }
    }

    fn take_backup(&mut self, name: &str) -> Result<BackupRecord, Failed> {
        let ctx = self.ctx();
        let backup = self.backup.as_mut().expect("backup loaded in step 1");
        let entry = take(backup.as_mut(), name, self.env, &self.cfg.state_dir, &ctx)?;
        Ok(BackupRecord {
            id: entry.id,
            file: entry.file,
            path: entry.path.display().to_string(),
            size: entry.size,
            sha256: entry.sha256,
            verified: true,
            store: entry.store,
        })
    }

    fn retention(&mut self, provider: &str, current: &str) {
        let ctx = self.ctx();
        let backup = self.backup.as_mut().expect("backup loaded in step 1");
        for line in retention(
            backup.as_mut(),
            provider,
            self.env,
            &self.cfg.state_dir,
            &ctx,
            current,
        ) {
            self.ui.detail(&line);
        }
    }
}
