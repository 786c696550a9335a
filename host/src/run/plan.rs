//! Step 4: show the migration plan and the rollback plan. The plan's safety gates
//! ([`Run::gate_plan`]) run as soon as the plan is known, in step 2, so that a refused plan
//! never waits for a backup.

use super::request::Action;
use super::rollback_plan::{self, Invocation};
use super::Run;
use super::{Done, Fail};

impl Run<'_> {
    /// Refuse plans that cannot or may not run: irreversible steps backwards (always, unless
    /// --fake), irreversible steps forwards where the environment refuses them (prod) unless
    /// --allow-irreversible.
    pub(super) fn gate_plan(&self) -> Result<(), Fail> {
        let Some(plan) = self.plan.as_ref() else {
            return Ok(());
        };
        if self.req.action == Action::Show || self.req.fake {
            return Ok(());
        }
        let names = |backwards: bool| -> Vec<String> {
            plan.steps
                .iter()
                .filter(|s| s.irreversible && s.backwards == backwards)
                .map(|s| s.id.to_string())
                .collect()
        };
        let blocked = names(true);
        if !blocked.is_empty() {
            return Err(Fail::refused(format!(
                "cannot unapply {}: it has an operation without reverse code (RunPython/RunSQL); restore a backup instead, or use --fake to only record the rollback",
                blocked.join(", ")
            )));
        }
        if self.irreversible_refused() {
            let one_way = names(false);
            let shown: Vec<&str> = one_way.iter().take(3).map(String::as_str).collect();
            let more = match one_way.len().saturating_sub(shown.len()) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            return Err(Fail::refused(format!(
                "env {} refuses irreversible migrations: {}{more} cannot be undone by migrating back (RunPython without reverse_code or RunSQL without reverse_sql). Add the reverse, or run anyway relying on the backup: {}",
                self.env.name,
                crate::text::for_display(&shown.join(", "), 600),
                self.proceed_with(&["--allow-irreversible"])
            )));
        }
        Ok(())
    }

    /// Whether the plan has a step migrating back cannot undo, in an env that refuses those
    /// without --allow-irreversible.
    pub(super) fn irreversible_refused(&self) -> bool {
        self.env.refuse_irreversible
            && !self.req.allow_irreversible
            && !self.req.fake
            && self.req.action != Action::Show
            && self.one_way_steps() > 0
            && !self.nothing_applied_before()
    }

    /// How many steps of the plan migrating back cannot undo.
    pub(super) fn one_way_steps(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| {
            p.steps
                .iter()
                .filter(|s| s.irreversible && !s.backwards)
                .count()
        })
    }

    /// True when the database records no migration as applied before this run: a fresh
    /// install, whose way back is the backup of the empty database rather than migrating
    /// back, so an irreversible step is no reason to refuse it.
    pub(super) fn nothing_applied_before(&self) -> bool {
        !self.before.is_empty() && self.before.iter().all(|m| !m.applied)
    }

    /// `--show --sql`: each step's SQL from the runner (recorded in history too).
    fn plan_sql(&mut self) -> Result<Vec<Vec<String>>, Fail> {
        if !self.req.sql {
            return Ok(Vec::new());
        }
        let steps = self.plan_steps();
        let sql = self.step_sql()?;
        self.entry.plan_sql = steps
            .iter()
            .zip(&sql)
            .map(|(st, s)| crate::history::StepSql {
                app: st.id.app.clone(),
                name: st.id.name.clone(),
                backwards: st.backwards,
                sql: s.clone(),
            })
            .collect();
        Ok(sql)
    }

    pub(super) fn show_plan(&mut self) -> Result<Done, Fail> {
        if self.req.action == Action::Make {
            let app = self.req.app.clone().unwrap_or_default();
            self.ui.detail(&format!("makemigrations for app {app}"));
            return Ok(Done::Ok("1 step".into()));
        }
        if self.req.reset {
            let n = self.before.len();
            self.ui.detail(&format!(
                "reset: the database is emptied, then all {n} migration(s) are applied from zero"
            ));
            if let Some(b) = &self.entry.backup {
                self.ui.detail(&format!("to undo: restore backup {}", b.id));
            }
            return Ok(Done::Ok(format!("reset, then {n} step(s)")));
        }
        self.find_model_changes()?;
        let plan = self.plan.as_ref().expect("planned in step 2");
        if plan.steps.is_empty() {
            let word = if self.entry.model_changes.is_empty() {
                "nothing to migrate"
            } else {
                "nothing to migrate, but models changed"
            };
            return Ok(Done::Ok(word.into()));
        }
        let sql = self.plan_sql()?;
        let plan = self.plan.as_ref().expect("planned in step 2");
        for (i, step) in plan.steps.iter().enumerate() {
            let dir = if step.backwards { "unapply" } else { "apply" };
            let warn = match (step.irreversible, step.backwards) {
                (true, true) => "  [IRREVERSIBLE: cannot be unapplied]",
                (true, false) => "  [irreversible: cannot be undone later]",
                _ => "",
            };
            let phase = self
                .entry
                .plan
                .get(i)
                .and_then(|r| r.phase)
                .map(|p| format!("  [{}-deploy]", p.as_str()))
                .unwrap_or_default();
            self.ui.detail(&format!(
                "{dir} {}.{}{warn}{phase}",
                step.id.app, step.id.name
            ));
            for op in &step.operations {
                self.ui.detail(&format!("    - {op}"));
            }
            for f in self.entry.findings.iter().filter(|f| {
                f.app == step.id.app && f.name == step.id.name && f.backwards == step.backwards
            }) {
                self.ui
                    .detail(&format!("    ! {}: {}", f.rule.to_uppercase(), f.detail));
                self.ui.detail(&format!("      safer: {}", f.advice));
            }
            for statement in sql.get(i).into_iter().flatten() {
                for line in statement.lines() {
                    self.ui.detail(&format!("      {line}"));
                }
            }
        }
        let n = plan.steps.len();
        if self.req.action.changes_database() {
            let how = Invocation {
                config: &self.cfg.path,
                env: &self.env.name,
                confirm: self.env.require_confirm,
                refuse_destructive: self.env.refuse_destructive,
            };
            let backup_id = self.entry.backup.as_ref().map(|b| b.id.as_str());
            let rp = rollback_plan::compute(&self.before, plan, &how, backup_id);
            for line in rollback_plan::lines(&rp) {
                self.ui.detail(&line);
            }
            self.entry.rollback_plan = Some(rp);
        }
        Ok(Done::Ok(format!("{n} step(s)")))
    }
}
