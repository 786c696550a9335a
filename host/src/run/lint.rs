//! The plan linter in a run: destructive and locking changes found in step 2 (from the SQL
//! the runner renders on PostgreSQL, from operations elsewhere), shown under each step of the
//! plan, recorded in history, and refused where the env says so (prod by default) unless
//! `--allow-destructive`.

use super::{Fail, Run};
use crate::lint::{self, Linter, Step};
use crate::plugin_api::{LintSql, RunnerError, SchemaKind, SchemaObject, Vendor};

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

    /// What the linter reads: `lint-sql` (steps that only build tables the plan creates left
    /// out, and what the plan creates named: django-runner also names every relation the
    /// statements use that the database lacks before the plan). With `--sql`, which shows
    /// the full SQL anyway, the linter reads that, with the same names, so both give one
    /// verdict.
    fn lint_sql(&mut self) -> Result<LintSql, Fail> {
        let ctx = self.ctx();
        let steps = self.plan_steps();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let mut sql = runner
            .lint_sql(&ctx, &steps)?
            .map_err(|e| self.runner_fail("render the SQL", e))?;
        if self.req.sql {
            sql.steps = self.step_sql()?;
        }
        Ok(sql)
    }

    pub(super) fn lint_plan(&mut self) -> Result<(), Fail> {
        let postgresql = self.vendor == Vendor::PostgreSql;
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
        let columns = self.column_types(&sql)?;
        linter.known_columns(
            columns
                .iter()
                .map(|o| (o.relation.as_str(), o.name.as_str(), o.definition.as_str())),
        );
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
        if linter.no_rewrite() > 0 {
            self.ui.detail(&format!(
                "{} column type change(s) not flagged: the database's catalog shows each keeps the table as it is (a longer varchar, varchar to text, more numeric precision)",
                linter.no_rewrite()
            ));
        }
        if linter.set_aside() > 0 {
            self.ui.detail(&format!(
                "{} finding(s) set aside: they touch only what this plan creates (relations the database does not have before it), which has no rows and no readers yet",
                linter.set_aside()
            ));
        }
        let one_way = self.one_way_steps();
        if one_way > 0
            && self.env.refuse_irreversible
            && !self.req.allow_irreversible
            && self.nothing_applied_before()
        {
            self.ui.detail(&format!(
                "{one_way} irreversible step(s) not refused: no migration is applied before this plan, so the way back is the backup of the empty database, not migrating back"
            ));
        }
        self.exempt_empty_tables(&mut findings)?;
        self.entry.findings = findings;
        Ok(())
    }

    /// The columns' types before the plan, read from the catalog only when a statement
    /// changes a column's type (what the linter compares them with). A runner that cannot
    /// read the catalog leaves every type change flagged.
    fn column_types(&mut self, sql: &LintSql) -> Result<Vec<SchemaObject>, Fail> {
        let retypes = sql.steps.iter().flatten().any(|s| {
            let s = s.to_ascii_uppercase();
            s.contains("ALTER COLUMN") && s.contains(" TYPE ")
        });
        if !retypes {
            return Ok(Vec::new());
        }
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        Ok(match runner.schema_snapshot(&ctx, &[])? {
            Ok(objects) => objects
                .into_iter()
                .filter(|o| o.kind == SchemaKind::Column)
                .collect(),
            Err(RunnerError::Unsupported(_)) => Vec::new(),
            Err(e) => {
                tracing::warn!(
                    "cannot read column types, so every type change is flagged: {}",
                    crate::text::for_display(&format!("{e:?}"), 300)
                );
                Vec::new()
            }
        })
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
    /// The message counts them by rule, names the first few migrations, and ends with the
    /// command that would proceed, so no cut can take the way forward away.
    pub(super) fn gate_lint(&self) -> Result<(), Fail> {
        if self.entry.findings.is_empty()
            || !self.env.refuse_destructive
            || self.req.allow_destructive
            || !self.req.action.changes_database()
            || self.req.fake
        {
            return Ok(());
        }
        let findings = &self.entry.findings;
        // Each migration once, in plan order, with its rules.
        let mut by_migration: Vec<(String, Vec<&str>)> = Vec::new();
        for f in findings {
            let id = format!("{}.{}", f.app, f.name);
            match by_migration.iter_mut().find(|(m, _)| *m == id) {
                Some((_, rules)) if !rules.contains(&f.rule.as_str()) => rules.push(&f.rule),
                Some(_) => {}
                None => by_migration.push((id, vec![&f.rule])),
            }
        }
        let named: Vec<String> = by_migration
            .iter()
            .take(SHOWN)
            .map(|(m, rules)| format!("{m}: {}", rules.join("+")))
            .collect();
        let more = match by_migration.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let mut flags = vec!["--allow-destructive"];
        if self.irreversible_refused() {
            flags.push("--allow-irreversible");
        }
        Err(Fail::refused(format!(
            "env {} refuses destructive or locking changes: {} finding(s) in {} migration(s) ({}): {}{more}; `--env {} --show` lists each with its safer pattern. To run anyway: {}",
            self.env.name,
            findings.len(),
            by_migration.len(),
            counted(findings.iter().map(|f| f.rule.as_str())),
            crate::text::for_display(&named.join("; "), 600),
            self.env.name,
            self.proceed_with(&flags)
        )))
    }

    /// The command line as given, with `flags` added: what proceeds past a refusing gate.
    pub(super) fn proceed_with(&self, flags: &[&str]) -> String {
        let mut args: Vec<String> = self.entry.args.iter().skip(1).cloned().collect();
        for f in flags {
            if !args.iter().any(|a| a == f) {
                args.push(f.to_string());
            }
        }
        let quoted: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
        format!("platform-migrate {}", quoted.join(" "))
    }
}

/// How many migrations a refusal names before "and N more".
const SHOWN: usize = 3;

/// `rule-a 20, rule-b 13`: how often each item occurs, most first.
fn counted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(i, _)| *i == item) {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .iter()
        .map(|(i, n)| format!("{i} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An argument as a POSIX shell reads it back: as it is when plain, else single-quoted.
fn shell_word(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{counted, shell_word};

    #[test]
    fn counts_come_most_first() {
        let items = ["a", "b", "b", "c", "b", "a"];
        assert_eq!(counted(items.into_iter()), "b 3, a 2, c 1");
    }

    #[test]
    fn shell_words_read_back_as_given() {
        assert_eq!(shell_word("--env"), "--env");
        assert_eq!(shell_word("my config.toml"), "'my config.toml'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
