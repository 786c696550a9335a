//! Step 5: execute: apply the plan (or create migrations with --make). When it fails, the host
//! reads the state again so that history and the message say exactly what did change.

use super::request::Action;
use super::state::{changed_summary, diff};
use super::{Done, Fail, Run};
use crate::plugin_api::Target;

impl Run<'_> {
    /// `--reset`: empty the database, then plan everything from zero.
    fn reset(&mut self) -> Result<(), Fail> {
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        runner
            .reset_database(&ctx)?
            .map_err(|e| self.runner_fail("reset the database", e))?;
        self.ui.detail("database emptied");
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        self.before = runner
            .list_migrations(&ctx)?
            .map_err(|e| self.runner_fail("list migrations", e))?;
        self.make_plan(&Target::All)
    }

    pub(super) fn execute(&mut self) -> Result<Done, Fail> {
        let ctx = self.ctx();
        if self.req.action == Action::Show {
            return Ok(Done::Skipped("--show".into()));
        }
        if self.req.action == Action::Make {
            let app = self.req.app.clone().unwrap_or_default();
            let runner = self.runner.as_mut().expect("runner loaded in step 1");
            let created = runner
                .make_migrations(&ctx, &app)?
                .map_err(|e| self.runner_fail("makemigrations", e))?;
            self.entry.created = created.iter().map(ToString::to_string).collect();
            if created.is_empty() {
                return Ok(Done::Ok("no changes detected".into()));
            }
            for c in &self.entry.created {
                self.ui.detail(&format!("created {c}"));
            }
            return Ok(Done::Ok(format!("{} migration(s) created", created.len())));
        }
        if self.req.reset {
            self.reset()?;
        }
        let plan = self.plan.as_ref().expect("planned in step 2");
        if plan.steps.is_empty() {
            return match self.load_fixtures()? {
                Some(f) => Ok(Done::Ok(format!("nothing to migrate; {f}"))),
                None => Ok(Done::Skipped("nothing to migrate".into())),
            };
        }
        let targets = match &self.phase_targets {
            Some(t) => t.clone(),
            None => vec![plan.resolved.clone()],
        };
        // One apply per target (`--phase pre`: per app), stopping at the first that fails.
        let mut result = Ok(Ok(()));
        for target in &targets {
            result = self.apply_with_retries(target);
            if !matches!(result, Ok(Ok(()))) {
                break;
            }
        }
        // Whatever happened (an interruption included), find out what changed.
        crate::interrupt::begin_cleanup();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let after = runner.list_migrations(&ctx);
        if let Ok(Ok(after)) = &after {
            self.entry.applied = diff(&self.before, after, &self.entry.plan);
            if result.as_ref().is_ok_and(|r| r.is_err()) {
                // Verify will not run: record what did apply now.
                self.record_checksums(after);
            }
        }
        match result? {
            Ok(()) => {
                let n = self.entry.applied.len();
                let mut word = if self.req.fake {
                    format!("{n} recorded (fake)")
                } else {
                    format!("{n} migration(s)")
                };
                if let Some(f) = self.load_fixtures()? {
                    word = format!("{word}; {f}");
                }
                Ok(Done::Ok(word))
            }
            Err(e) => {
                let mut fail = self.runner_fail("migration", e);
                if !self.entry.lock_holders.is_empty() {
                    let tried = match self.entry.lock_retries.len() {
                        0 => "no retry".to_string(),
                        n => format!("{} attempts", n + 1),
                    };
                    fail.message.push_str(&format!(
                        "; after {tried}, locks were held by {}",
                        self.entry.lock_holders.join("; ")
                    ));
                }
                match &after {
                    Ok(Ok(_)) => {
                        let changed = changed_summary(&self.entry.applied);
                        if changed.is_empty() {
                            // Only the record was read: a migration whose schema change
                            // committed before its record failed would not show here.
                            let restore = match &self.entry.backup {
                                Some(b) => format!("; if the failure came after a migration's schema change committed, backup {} holds the state before the run (`platform-migrate backups restore {} --to NEW_DATABASE`)", b.id, b.id),
                                None => String::new(),
                            };
                            self.ui.detail(&format!(
                                "no migration was recorded as applied or unapplied (django_migrations is as before; the schema itself was not compared){restore}"
                            ));
                        } else {
                            self.ui
                                .detail(&format!("changed before the failure: {changed}"));
                        }
                    }
                    _ => {
                        fail.message.push_str("; the database state after the failure could not be read, check it with --show");
                    }
                }
                Err(fail)
            }
        }
    }
}
