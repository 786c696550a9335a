//! The plan linter in a run: destructive and locking changes found in step 2 (from the SQL
//! the runner renders on PostgreSQL, from operations elsewhere), shown under each step of the
//! plan, recorded in history, and refused where the env says so (prod by default) unless
//! `--allow-destructive`.

use super::{Fail, Run};
use crate::lint::{Linter, Step};

impl Run<'_> {
    /// The plan's steps (none before step 2 has planned).
    pub(super) fn plan_steps(&self) -> Vec<crate::plugin_api::PlanStep> {
        self.plan
            .as_ref()
            .map(|p| p.steps.clone())
            .unwrap_or_default()
    }

    /// Each step's SQL, rendered once per run.
    pub(super) fn step_sql(&mut self) -> Result<Vec<Vec<String>>, Fail> {
        if let Some(s) = &self.step_sql {
            return Ok(s.clone());
        }
        let ctx = self.ctx();
        let steps = self.plan_steps();
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let sql = runner
            .sql(&ctx, &steps)?
            .map_err(|e| self.runner_fail("render the SQL", e))?;
        self.step_sql = Some(sql.clone());
        Ok(sql)
    }

    pub(super) fn lint_plan(&mut self) -> Result<(), Fail> {
        let postgresql = self.vendor == "postgresql";
        let steps = self.plan_steps();
        if steps.is_empty() {
            return Ok(());
        }
        let sql = if postgresql {
            self.step_sql()?
        } else {
            Vec::new()
        };
        let mut findings = Vec::new();
        // One linter over the whole plan: tables an earlier step creates are exempt later.
        let mut linter = Linter::new(&self.cfg.lint_disabled);
        for (i, st) in steps.iter().enumerate() {
            let step = Step {
                app: &st.id.app,
                name: &st.id.name,
                backwards: st.backwards,
                operations: &st.operations,
                sql: sql.get(i).map(Vec::as_slice).unwrap_or(&[]),
                atomic: st.atomic,
            };
            findings.extend(linter.step(&step, postgresql));
        }
        self.entry.findings = findings;
        Ok(())
    }

    /// Refuse a plan with findings where the env refuses them, unless --allow-destructive.
    pub(super) fn gate_lint(&self) -> Result<(), Fail> {
        if self.entry.findings.is_empty()
            || !self.env.refuse_destructive
            || self.req.allow_destructive
            || !self.req.action.changes_database()
            || self.req.fake
        {
            return Ok(());
        }
        let list: Vec<String> = self
            .entry
            .findings
            .iter()
            .map(|f| format!("{}.{}: {}", f.app, f.name, f.rule))
            .collect();
        Err(Fail::refused(format!(
            "env {} refuses destructive or locking changes: {}. See the safer patterns with `--env {} --show`, or re-run with --allow-destructive",
            self.env.name,
            list.join(", "),
            self.env.name
        )))
    }
}
