//! Step 2: connect to the database through the runner, read every migration's state, and
//! check the requested app and target against it (nothing is changed).

use super::request::Action;
use super::{Done, Fail, Run};
use crate::history::MigrationRecord;
use crate::plugin_api::{MigrationRef, RunContext, RunnerError, Target, Vendor};
use std::time::{Duration, Instant};

impl Run<'_> {
    /// What every call into a plugin in this run is told about the run.
    pub(super) fn ctx(&self) -> RunContext {
        RunContext::new(&self.env.name, self.run_id.clone(), self.verbose)
    }

    /// Take the database's run lock through the runner (PostgreSQL: an advisory lock held by a
    /// background session for the rest of the run), waiting up to `--wait` for a holder.
    fn lock_database(&mut self) -> Result<(), Fail> {
        let ctx = self.ctx();
        let label = format!(
            "pm {} pid {}@{}",
            self.run_id,
            std::process::id(),
            self.entry.host
        );
        let until = self.req.wait.map(|w| Instant::now() + w);
        loop {
            let runner = self.runner.as_mut().expect("runner loaded in step 1");
            match runner.lock_database(&ctx, &label)? {
                Ok(()) => {
                    self.ui.detail("database run lock taken");
                    return Ok(());
                }
                Err(RunnerError::Unsupported(_)) => return Ok(()),
                Err(RunnerError::Locked(_))
                    if until.is_some_and(|u| Instant::now() < u)
                        && !crate::interrupt::aborting() =>
                {
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(self.runner_fail("lock the database", e)),
            }
        }
    }

    pub(super) fn connect(&mut self) -> Result<Done, Fail> {
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let info = runner
            .check_connection(&ctx)?
            .map_err(|e| self.runner_fail("connect", e))?;
        self.ui.detail(&format!(
            "{} database {} ({})",
            info.vendor, info.database, info.framework
        ));
        self.vendor = info.vendor.clone();
        self.database = info.database.clone();
        if let Some(why) = self.backup_of_another_database() {
            return Err(Fail::usage(why));
        }
        if self.req.action != Action::Show {
            self.lock_database()?;
        }

        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let list = runner
            .list_migrations(&ctx)?
            .map_err(|e| self.runner_fail("list migrations", e))?;
        self.before = list;
        self.open_ledger()?;
        self.find_drift();
        let applied = self.before.iter().filter(|m| m.applied).count();
        self.ui.detail(&format!(
            "{} migrations known, {} applied",
            self.before.len(),
            applied
        ));

        if self.req.action == Action::Make {
            return Ok(Done::Ok("ok".into()));
        }
        if let Some(app) = &self.req.app {
            if !self.before.iter().any(|m| &m.id.app == app) {
                return Err(self.runner_fail(
                    "connect",
                    crate::plugin_api::RunnerError::UnknownApp(app.clone()),
                ));
            }
        }
        // Plan now (read-only) so that a bad target fails before any backup is taken.
        let target = match (self.req.rollback, &self.req.app, &self.req.migration) {
            (true, Some(app), _) => Target::Rollback(app.clone()),
            (_, Some(app), Some(m)) => Target::Migration(MigrationRef {
                app: app.clone(),
                name: m.clone(),
            }),
            (_, Some(app), None) => Target::App(app.clone()),
            (_, None, _) => Target::All,
        };
        self.make_plan(&target)?;
        self.lint_plan()?;
        self.split_phases()?;
        self.gate_drift()?;
        self.gate_lint()?;
        self.gate_plan()?;
        Ok(Done::Ok("ok".into()))
    }

    /// A built-in backup provider made for another kind of database than the one the runner
    /// reached: its backup would not hold what the run changes. Typically a prod runner handed
    /// DATABASE_URL by settings that ignore it, so Django still opens its SQLite file.
    fn backup_of_another_database(&self) -> Option<String> {
        let name = self.env.backup.as_ref()?;
        let builtin = self.cfg.plugins.get(name)?.builtin?;
        let backs_up = match builtin {
            "pg-dump-backup" => Vendor::PostgreSql,
            "file-backup" => Vendor::Sqlite,
            _ => return None,
        };
        (self.vendor != backs_up).then(|| {
            format!(
                "env {} backs up a {backs_up} database (builtin:{builtin}), but its runner reached a {} database ({}), so the backup would not hold what this run changes; if the runner is handed DATABASE_URL, make the project's settings build DATABASES from it (e.g. with dj-database-url), or configure the backup for that database; nothing was changed",
                self.env.name, self.vendor, self.database
            )
        })
    }

    /// Ask the runner for the plan to reach `target` (read-only) and record it.
    pub(super) fn make_plan(&mut self, target: &Target) -> Result<(), Fail> {
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let plan = runner
            .plan(&ctx, target)?
            .map_err(|e| self.runner_fail("plan", e))?;
        self.entry.plan = plan
            .steps
            .iter()
            .map(|s| MigrationRecord {
                app: s.id.app.clone(),
                name: s.id.name.clone(),
                backwards: s.backwards,
                phase: None,
            })
            .collect();
        self.plan = Some(plan);
        Ok(())
    }
}
