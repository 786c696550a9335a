//! The plan linter in a run: destructive and locking changes found in step 2 (from the SQL
//! the runner renders on PostgreSQL, from operations elsewhere), shown under each step of the
//! plan, recorded in history, and refused where the env says so (prod by default) unless
//! `--allow-destructive`.

use super::{Fail, Run};
use crate::lint::{self, Linter, Step};
use crate::plugin_api::{LintSql, RunnerError};

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

    /// What the linter reads: the full SQL when `--sql` shows it anyway, else `lint-sql`
    /// (steps that only build tables the plan creates left out, those tables named).
    fn lint_sql(&mut self) -> Result<LintSql, Fail> {
        if self.req.sql {
            return Ok(LintSql {
                steps: self.step_sql()?,
                created: Vec::new(),
            });
        }
        let ctx = self.ctx();
        let steps = self.plan_steps();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        runner
            .lint_sql(&ctx, &steps)?
            .map_err(|e| self.runner_fail("render the SQL", e))
    }

    pub(super) fn lint_plan(&mut self) -> Result<(), Fail> {
        let postgresql = self.vendor == "postgresql";
        let steps = self.plan_steps();
        if steps.is_empty() {
            return Ok(());
        }
        let sql = if postgresql {
            self.lint_sql()?
        } else {
            LintSql::default()
        };
        let mut findings = Vec::new();
        // One linter over the whole plan: tables an earlier step creates are exempt later.
        let mut linter = Linter::new(&self.cfg.lint_disabled);
        linter.plan_creates(&sql.created);
        for (i, st) in steps.iter().enumerate() {
            let step = Step {
                app: &st.id.app,
                name: &st.id.name,
                backwards: st.backwards,
                operations: &st.operations,
                sql: sql.steps.get(i).map(Vec::as_slice),
                atomic: st.atomic,
            };
            findings.extend(linter.step(&step, postgresql));
        }
        self.exempt_empty_tables(&mut findings)?;
        self.entry.findings = findings;
        Ok(())
    }

    /// Drop lock and rewrite findings on tables the database reports empty (they hold no
    /// rows to scan or rewrite). A runner that cannot tell leaves every finding standing.
    fn exempt_empty_tables(&mut self, findings: &mut Vec<lint::Finding>) -> Result<(), Fail> {
        let tables = lint::row_tables(findings);
        if tables.is_empty() {
            return Ok(());
        }
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        match runner.empty_tables(&ctx, &tables)? {
            Ok(empty) => {
                // Only what was asked: a runner cannot exempt other tables.
                let empty: Vec<String> = empty.into_iter().filter(|t| tables.contains(t)).collect();
                let dropped = lint::exempt_empty(findings, &empty);
                if dropped > 0 {
                    self.ui.detail(&format!(
                        "{dropped} locking finding(s) not counted: the database reports {} empty",
                        crate::text::for_display(&empty.join(", "), 300)
                    ));
                }
            }
            Err(RunnerError::Unsupported(_)) => {}
            Err(e) => tracing::warn!(
                "cannot ask which tables are empty, so every finding stands: {}",
                crate::text::for_display(&format!("{e:?}"), 300)
            ),
        }
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
