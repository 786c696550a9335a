//! Step 5: execute: apply the plan (or create migrations with --make). When it fails, the host
//! reads the state again so that history and the message say exactly what did change.

use super::fingerprint::{self, Fingerprint};
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
        // The schema as it is just before anything runs, to compare after a failure.
        let before_schema = if self.req.fake {
            None
        } else {
            self.fingerprint()
        };
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
                let writing_record = match &e {
                    crate::plugin_api::RunnerError::CommandFailed(c) => {
                        record_failure(&c.output_tail)
                    }
                    _ => None,
                };
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
                // What the catalog shows changed, whatever the records say.
                let schema_changes = before_schema.as_ref().and_then(|before| {
                    self.fingerprint()
                        .map(|after| (before.changes(&after), before.len()))
                });
                if let Some((changes, _)) = &schema_changes {
                    self.entry.schema_changes = changes.clone();
                }
                match &after {
                    Ok(Ok(_)) => {
                        let changed = changed_summary(&self.entry.applied);
                        if let Some(half) = writing_record.and_then(|w| self.half_applied(w)) {
                            fail.message.push_str("; ");
                            fail.message.push_str(&half);
                            if let Some((changes, _)) =
                                schema_changes.as_ref().filter(|(c, _)| !c.is_empty())
                            {
                                self.ui.detail(&format!(
                                    "the schema changed: {}",
                                    fingerprint::summary(changes)
                                ));
                            }
                        } else if let (true, Some((changes, objects))) =
                            (changed.is_empty(), &schema_changes)
                        {
                            if changes.is_empty() {
                                self.ui.detail(&format!(
                                    "the database was not changed: django_migrations and the schema ({objects} objects in the catalog) are as before the run"
                                ));
                            } else if let Some(half) = self.unrecorded(changes) {
                                fail.message.push_str("; ");
                                fail.message.push_str(&half);
                            }
                        } else if changed.is_empty() {
                            // Only the record was read: a migration whose schema change
                            // committed before its record failed would not show here.
                            let restore = match &self.entry.backup {
                                Some(b) => format!("; if the failure came after a migration's schema change committed, backup {} holds the state before the run ({})", b.id, restore_command(&b.id)),
                                None => String::new(),
                            };
                            self.ui.detail(&format!(
                                "no migration was recorded as applied or unapplied (django_migrations is as before; the schema itself was not compared){restore}"
                            ));
                        } else {
                            self.ui
                                .detail(&format!("changed before the failure: {changed}"));
                            if let Some((changes, _)) =
                                schema_changes.as_ref().filter(|(c, _)| !c.is_empty())
                            {
                                // Which of them the failed migration made cannot be told
                                // apart; a non-atomic one may have left some behind.
                                let note = match self.failed_step() {
                                    Some(s) if s.atomic == Some(false) => format!(
                                        "; {}.{} is not atomic, so some of them may be its own, which no record shows",
                                        s.id.app, s.id.name
                                    ),
                                    _ => String::new(),
                                };
                                self.ui.detail(&format!(
                                    "the schema changed since the run began (the recorded migrations' changes included): {}{note}",
                                    fingerprint::summary(changes)
                                ));
                            }
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

/// The command that restores backup `id` into a new database, quoted for a message.
fn restore_command(id: &str) -> String {
    format!("`platform-migrate backups restore {id} --to NEW_DATABASE`")
}

/// Which record Django failed to write, read from the failed program's traceback (its frame
/// in `MigrationRecorder`): `Some(true)` removing a record (unapplying), `Some(false)` adding
/// one (applying).
fn record_failure(output: &str) -> Option<bool> {
    let frame = |f: &str| {
        output
            .lines()
            .any(|l| l.contains("django/db/migrations/recorder.py") && l.trim_end().ends_with(f))
    };
    if frame("in record_unapplied") {
        Some(true)
    } else if frame("in record_applied") {
        Some(false)
    } else {
        None
    }
}

impl Run<'_> {
    /// The schema as the runner reads it from the catalog; `None` when it cannot (a runner
    /// built before WIT 0.3.0, a database it cannot read), which the messages then say.
    fn fingerprint(&mut self) -> Option<Fingerprint> {
        let ctx = self.ctx();
        let runner = self.runner.as_mut()?;
        match runner.schema_snapshot(&ctx, &[]) {
            Ok(Ok(objects)) => Some(Fingerprint::new(objects)),
            Ok(Err(crate::plugin_api::RunnerError::Unsupported(_))) => None,
            Ok(Err(e)) => {
                tracing::warn!(
                    "cannot read the schema, so a failure is judged by the migration records only: {}",
                    crate::text::for_display(&format!("{e:?}"), 300)
                );
                None
            }
            Err(e) => {
                tracing::warn!("cannot read the schema: {e}");
                None
            }
        }
    }

    /// The step that was running when the run failed: the plan's first step not among those
    /// recorded as done.
    fn failed_step(&self) -> Option<&crate::plugin_api::PlanStep> {
        let done = &self.entry.applied;
        self.plan.as_ref()?.steps.iter().find(|s| {
            !done
                .iter()
                .any(|d| d.app == s.id.app && d.name == s.id.name)
        })
    }

    /// The first way out of a half-applied run, when a backup was taken: "restore backup X
    /// (command) to return to the state before the run, or ".
    fn restore_first(&self) -> String {
        match &self.entry.backup {
            Some(b) => format!(
                "restore backup {} ({}) to return to the state before the run, or ",
                b.id,
                restore_command(&b.id)
            ),
            None => String::new(),
        }
    }

    /// The catalog changed while no migration's record did: the step that was running left
    /// its changes behind (a non-atomic migration, or DDL that commits on its own). Recorded
    /// as half-applied; returns what to tell the person: the changes and the ways out.
    fn unrecorded(&mut self, changes: &[String]) -> Option<String> {
        let step = self.failed_step()?.clone();
        let (app, name) = (step.id.app.clone(), step.id.name.clone());
        self.entry.half_applied = Some(crate::history::MigrationRecord {
            app: app.clone(),
            name: name.clone(),
            backwards: step.backwards,
            phase: None,
        });
        let restore = self.restore_first();
        let (verb, recorded) = if step.backwards {
            ("unapplying", "still lists it as applied")
        } else {
            ("applying", "does not list it as applied")
        };
        Some(format!(
            "half-applied: the schema changed while {verb} {app}.{name}, but django_migrations {recorded}: {}. To recover, {restore}finish or undo those changes by hand so that the schema matches the record",
            fingerprint::summary(changes)
        ))
    }

    /// After Django failed writing a migration's record (`backwards`: removing it), the step
    /// that was running when the record failed: its schema change committed (Django unapplies
    /// in a transaction of its own and removes the record after it; a non-atomic migration
    /// commits as it goes) while `django_migrations` still says otherwise. Recorded as
    /// half-applied; returns what to tell the person: what disagrees and the two ways out.
    fn half_applied(&mut self, backwards: bool) -> Option<String> {
        let step = self.failed_step()?.clone();
        if step.backwards != backwards || (!backwards && step.atomic != Some(false)) {
            // An atomic migration records itself inside its own transaction: a failed
            // record undid its schema change too.
            return None;
        }
        let (app, name) = (step.id.app.clone(), step.id.name.clone());
        self.entry.half_applied = Some(crate::history::MigrationRecord {
            app: app.clone(),
            name: name.clone(),
            backwards,
            phase: None,
        });
        let (what, target) = if backwards {
            // The migration before it in its app: where the record should now stand.
            let names: Vec<&str> = self
                .before
                .iter()
                .filter(|m| m.id.app == app)
                .map(|m| m.id.name.as_str())
                .collect();
            let prev = names
                .iter()
                .position(|n| *n == name)
                .and_then(|i| i.checked_sub(1))
                .map_or("zero", |i| names[i]);
            (
                format!("its schema change was undone, but django_migrations still lists {app}.{name} as applied"),
                prev.to_string(),
            )
        } else {
            (
                format!("its schema change committed, but django_migrations does not list {app}.{name} as applied"),
                name.clone(),
            )
        };
        let confirm = if self.env.require_confirm {
            " --confirm"
        } else {
            ""
        };
        let restore = self.restore_first();
        Some(format!(
            "half-applied: Django failed while writing the record of {app}.{name} (the traceback runs through MigrationRecorder): {what}, so the next run would fail on it. To recover, {restore}record what happened without running it: `platform-migrate --env {} --app {app} --migration {target} --fake{confirm}`",
            self.env.name
        ))
    }
}
