//! Destructive and locking changes in a plan, found from the SQL each step runs (PostgreSQL,
//! through its own parser: `sql.rs`) or from Django's operation descriptions (other
//! databases). Each finding names the migration, the statement and a safer pattern. A
//! statement on a table created earlier in the same plan is exempt: it has no rows and no
//! readers yet. Rules can be switched off per project (`[lint] disable = [...]`). Free of
//! wasmtime; every rule has a firing and a quiet unit test.

mod rules;
mod sql;
mod types;

pub use rules::Rule;
pub use types::ColumnType;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One finding in one plan step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub app: String,
    pub name: String,
    pub backwards: bool,
    /// The statement or operation that triggered it (shortened).
    pub detail: String,
    pub advice: String,
    /// The table (or index) the statement changes, when the SQL names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Which of the migration's operations (0-based, in the file's order) it comes from, when
    /// known; `None` for findings about the whole migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<usize>,
}

/// For each SQL entry of a step, the operation it belongs to. Django renders each operation
/// under a three-line header (`--`, `-- <description>`, `--`); a backwards step runs its
/// operations last first. `None` before the first header.
pub fn operation_of_entries(
    sql: &[String],
    operations: usize,
    backwards: bool,
) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(sql.len());
    let mut seen: Option<usize> = None;
    let mut i = 0;
    while i < sql.len() {
        let header = sql[i].trim() == "--"
            && sql
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("-- "))
            && sql.get(i + 2).is_some_and(|l| l.trim() == "--");
        if header {
            seen = Some(seen.map_or(0, |n| n + 1));
            for _ in 0..3 {
                out.push(None);
            }
            i += 3;
            continue;
        }
        let op = seen.map(|k| {
            if backwards {
                operations.saturating_sub(1).saturating_sub(k)
            } else {
                k
            }
        });
        out.push(op.filter(|&o| o < operations.max(1)));
        i += 1;
    }
    out
}

/// Whether a finding's rule is one an empty table exempts ([`Rule::rows`]).
fn about_rows(f: &Finding) -> bool {
    Rule::from_id(&f.rule).is_some_and(Rule::rows)
}

/// The tables of findings that an empty table would exempt: what to ask the database about.
pub fn row_tables(findings: &[Finding]) -> Vec<String> {
    let set: BTreeSet<String> = findings
        .iter()
        .filter(|f| about_rows(f))
        .filter_map(|f| f.table.clone())
        .collect();
    set.into_iter().collect()
}

/// Drop the findings of rules about rows ([`Rule::rows`]) on tables the database reports `empty`; returns how
/// many were dropped.
pub fn exempt_empty(findings: &mut Vec<Finding>, empty: &[String]) -> usize {
    let before = findings.len();
    findings.retain(|f| !(about_rows(f) && f.table.as_ref().is_some_and(|t| empty.contains(t))));
    before - findings.len()
}

/// What to look at in one step.
pub struct Step<'a> {
    pub app: &'a str,
    pub name: &'a str,
    pub backwards: bool,
    pub operations: &'a [String],
    /// The step's SQL, when the runner rendered the plan's (`Some(&[])`: the runner left the
    /// step out because it only builds tables the plan creates; `None`: no SQL, so the
    /// operation descriptions are linted).
    pub sql: Option<&'a [String]>,
    /// Whether the migration runs in one transaction (`None`: the runner does not say).
    pub atomic: Option<bool>,
}

fn short(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 160 {
        format!("{}...", one.chars().take(157).collect::<String>())
    } else {
        one
    }
}

/// A data operation (`RunPython`) beside schema operations in one migration.
fn data_and_schema(ops: &[String]) -> bool {
    let data = ops.iter().any(|o| o == "Raw Python operation");
    let schema = ops.iter().any(|o| !o.starts_with("Raw "));
    data && schema
}

/// The operation that makes `data-and-schema-in-one-migration` true: the first data step.
fn data_operation(ops: &[String]) -> Option<usize> {
    ops.iter().position(|o| o == "Raw Python operation")
}

/// Rules from Django's operation descriptions, for databases whose SQL is not linted.
fn operation_rules(op: &str) -> Vec<Rule> {
    let o = op.to_ascii_lowercase();
    let mut hits = Vec::new();
    if o.starts_with("delete model ") {
        hits.push(Rule::DropTable);
    }
    if o.starts_with("remove field ") {
        hits.push(Rule::DropColumn);
    }
    if o.starts_with("rename model ") || o.starts_with("rename table ") {
        hits.push(Rule::RenameTable);
    }
    if o.starts_with("rename field ") {
        hits.push(Rule::RenameColumn);
    }
    hits
}

/// Lints the steps of one plan in order, remembering the tables the plan creates.
pub struct Linter<'a> {
    disabled: &'a [String],
    /// Relations (tables, indexes) created by earlier statements of this plan, under every
    /// name they have had: exempt from every rule.
    created: BTreeSet<String>,
    /// Findings not made because they touch only what the plan itself creates.
    set_aside: usize,
    /// Column types before the plan (from the catalog), then as the plan changes them:
    /// (table, column) -> type.
    columns: BTreeMap<(String, String), ColumnType>,
    /// `alter-column-type` findings not made because the change keeps the table's bytes.
    no_rewrite: usize,
}

impl<'a> Linter<'a> {
    pub fn new(disabled: &'a [String]) -> Linter<'a> {
        Linter {
            disabled,
            created: BTreeSet::new(),
            set_aside: 0,
            columns: BTreeMap::new(),
            no_rewrite: 0,
        }
    }

    /// The types of columns before the plan: (table, column, definition as a schema
    /// snapshot gives it, `character varying(200) not null`).
    pub fn known_columns<'c>(
        &mut self,
        columns: impl IntoIterator<Item = (&'c str, &'c str, &'c str)>,
    ) {
        for (table, column, definition) in columns {
            if let Some(t) = ColumnType::from_catalog(definition) {
                self.columns
                    .insert((table.to_string(), column.to_string()), t);
            }
        }
    }

    /// How many type changes were not flagged because they rewrite nothing (a longer
    /// `varchar`, `varchar` to `text`, ...).
    pub fn no_rewrite(&self) -> usize {
        self.no_rewrite
    }

    /// True when `hit` changes a column's type in a way that keeps the table (its type before
    /// is known and the new one accepts its bytes as they are). Either way the column's type
    /// is now the new one.
    fn keeps_the_table(&mut self, hit: &sql::Hit) -> bool {
        let (Some(table), Some(r)) = (&hit.table, &hit.retype) else {
            return false;
        };
        let key = (table.clone(), r.column.clone());
        let before = self.columns.remove(&key);
        let Some(to) = r.to.clone() else {
            return false;
        };
        let keeps = !r.using && before.is_some_and(|b| !b.rewrites_into(&to));
        self.columns.insert(key, to);
        keeps
    }

    /// How many findings were set aside so far because they touch only relations this plan
    /// creates (or that do not exist before it): no rows and no readers yet.
    pub fn set_aside(&self) -> usize {
        self.set_aside
    }

    /// Relations the plan creates in steps whose SQL the runner left out (`lint-sql`), and
    /// any the runner knows do not exist before the plan.
    pub fn plan_creates(&mut self, tables: &[String]) {
        self.created.extend(tables.iter().cloned());
    }

    /// Lint the next step. `postgresql` selects SQL rules (with the step's SQL) over operation
    /// rules.
    pub fn step(&mut self, step: &Step<'_>, postgresql: bool) -> Vec<Finding> {
        let mut out = Vec::new();
        let disabled = self.disabled;
        let mut push = |rule: Rule, detail: &str, table: Option<&String>, operation| {
            if !disabled.iter().any(|d| d == rule.id()) {
                out.push(Finding {
                    rule: rule.id().into(),
                    app: step.app.into(),
                    name: step.name.into(),
                    backwards: step.backwards,
                    detail: short(detail),
                    advice: rule.advice().into(),
                    table: table.cloned(),
                    operation,
                });
            }
        };
        let atomic = step.atomic == Some(true);
        let data = atomic && data_and_schema(step.operations);
        let linting_sql = postgresql && step.sql.is_some();
        if data && !linting_sql {
            push(
                Rule::DataAndSchemaInOneMigration,
                &step.operations.join("; "),
                None,
                data_operation(step.operations),
            );
        }
        // On PostgreSQL only schema changes of tables that existed before the plan count: a
        // fresh install creates its tables and fills them in one migration without harm.
        let mut changes_existing = false;
        let mut changes_created = false;
        if linting_sql {
            let sql = step.sql.unwrap_or_default();
            let owners = operation_of_entries(sql, step.operations.len(), step.backwards);
            // Columns this step adds, with the operation that adds each: Django defers an
            // added field's index to the end of the migration, after the last operation's
            // header, and it belongs to the field's operation.
            let mut added: Vec<((String, String), Option<usize>)> = Vec::new();
            for (raw, op) in sql.iter().zip(owners) {
                // Django refuses to render a concurrent operation inside a transaction.
                if atomic
                    && raw.trim_start().starts_with("-- cannot render SQL")
                    && raw.contains("inside a transaction")
                {
                    push(Rule::ConcurrentlyInAtomic, raw, None, op);
                    continue;
                }
                let statements = match sql::lint_sql(raw) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(
                            "{}.{}: PostgreSQL's parser rejects a statement, so it is not linted ({e}): {}",
                            step.app,
                            step.name,
                            short(raw)
                        );
                        continue;
                    }
                };
                for st in statements {
                    added.extend(st.adds_columns.iter().map(|c| (c.clone(), op)));
                    // An operation that builds indexes itself (AddIndex, RunSQL) keeps its own.
                    let builds_indexes = op
                        .and_then(|o| step.operations.get(o))
                        .is_some_and(|d| d.contains("index") || d.starts_with("Raw SQL"));
                    let op = st
                        .indexes
                        .as_ref()
                        .filter(|_| !builds_indexes)
                        .and_then(|(t, cols)| {
                            added
                                .iter()
                                .find(|((at, ac), _)| at == t && cols.contains(ac))
                        })
                        .map_or(op, |(_, owner)| *owner);
                    if atomic && st.outside_transaction {
                        push(Rule::ConcurrentlyInAtomic, raw, None, op);
                    }
                    match &st.alters {
                        Some(t) if self.created.contains(t) => changes_created = true,
                        Some(_) => changes_existing = true,
                        None => {}
                    }
                    for h in &st.hits {
                        if h.retype.is_some() && self.keeps_the_table(h) {
                            self.no_rewrite += 1;
                            continue;
                        }
                        if h.table.as_ref().is_some_and(|t| self.created.contains(t)) {
                            if !disabled.iter().any(|d| d == h.rule.id()) {
                                self.set_aside += 1;
                            }
                            continue;
                        }
                        push(h.rule, raw, h.table.as_ref(), op);
                    }
                    self.created.extend(st.creates);
                    // A relation the plan created keeps its exemption under its new name; one
                    // that existed before keeps its rows and readers under it.
                    for (old, new) in st.renames {
                        if self.created.contains(&old) {
                            self.created.insert(new);
                        } else {
                            self.created.remove(&new);
                        }
                    }
                }
            }
            if data && changes_existing {
                push(
                    Rule::DataAndSchemaInOneMigration,
                    &step.operations.join("; "),
                    None,
                    data_operation(step.operations),
                );
            } else if data && changes_created {
                self.set_aside += 1;
            }
        } else {
            for (i, op) in step.operations.iter().enumerate() {
                for rule in operation_rules(op) {
                    push(rule, op, None, Some(i));
                }
            }
        }
        out
    }
}

/// Lint one step on its own.
#[cfg(test)]
pub fn lint(step: &Step<'_>, postgresql: bool, disabled: &[String]) -> Vec<Finding> {
    Linter::new(disabled).step(step, postgresql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &[&str]) -> Vec<String> {
        let sql: Vec<String> = sql.iter().map(|s| s.to_string()).collect();
        let step = Step {
            app: "orders",
            name: "0004_x",
            backwards: false,
            operations: &[],
            sql: Some(&sql),
            atomic: Some(true),
        };
        lint(&step, true, &[]).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn each_sql_rule_fires_on_the_unsafe_form_and_not_on_its_safe_twin() {
        // The two rules about a whole step (its atomicity) have tests of their own below.
        let step_rules = [
            Rule::ConcurrentlyInAtomic,
            Rule::DataAndSchemaInOneMigration,
        ];
        for rule in Rule::ALL {
            assert!(
                rule.example().is_some() || step_rules.contains(rule),
                "{rule} has no example: give it a statement it fires on and its safe twin"
            );
        }
        let cases = Rule::ALL
            .iter()
            .filter_map(|r| r.example().map(|(bad, good)| (r.id(), bad, good)));
        for (rule, unsafe_sql, safe_sql) in cases {
            assert!(
                pg(&[unsafe_sql]).contains(&rule.to_string()),
                "{rule} did not fire on {unsafe_sql}"
            );
            assert!(
                !pg(&[safe_sql]).contains(&rule.to_string()),
                "{rule} fired on its safe twin {safe_sql}"
            );
        }
    }

    #[test]
    fn statements_on_a_table_created_in_the_same_step_are_fine() {
        let hits = pg(&[
            "--\n-- Create model Order\n--",
            r#"CREATE TABLE "orders_order" ("id" bigint NOT NULL PRIMARY KEY, "user_id" bigint NOT NULL);"#,
            r#"ALTER TABLE "orders_order" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users_user" ("id") DEFERRABLE INITIALLY DEFERRED;"#,
            r#"CREATE INDEX "orders_order_user_id" ON "orders_order" ("user_id");"#,
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn statements_on_a_table_created_earlier_in_the_plan_are_fine() {
        let create =
            vec![r#"CREATE TABLE "shop_item" ("id" bigint NOT NULL PRIMARY KEY);"#.to_string()];
        let later = vec![
            r#"ALTER TABLE "shop_item" ADD COLUMN "owner_id" bigint NULL CONSTRAINT "fk" REFERENCES "users_user"("id") DEFERRABLE INITIALLY DEFERRED;"#.to_string(),
            r#"CREATE INDEX "shop_item_owner" ON "shop_item" ("owner_id");"#.to_string(),
            r#"ALTER TABLE "users_user" ADD COLUMN "nick" varchar(10) NULL UNIQUE;"#.to_string(),
        ];
        let step = |name: &'static str, sql: &'static [String]| Step {
            app: "shop",
            name,
            backwards: false,
            operations: &[],
            sql: Some(sql),
            atomic: Some(true),
        };
        let create: &'static [String] = Box::leak(create.into_boxed_slice());
        let later: &'static [String] = Box::leak(later.into_boxed_slice());
        let mut plan = Linter::new(&[]);
        assert!(plan.step(&step("0001", create), true).is_empty());
        let f = plan.step(&step("0002", later), true);
        // Only the table that existed before the plan is flagged.
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "unique-constraint");
        // The same statements on their own (the table existed before) all fire.
        assert_eq!(lint(&step("0002", later), true, &[]).len(), 3);
    }

    #[test]
    fn what_cannot_run_in_a_transaction_is_flagged_in_an_atomic_migration_only() {
        let sql = vec![r#"CREATE INDEX CONCURRENTLY "i" ON "orders_order" ("note");"#.to_string()];
        let rendered_refusal = vec!["-- cannot render SQL: NotSupportedError: The AddIndexConcurrently operation cannot be executed inside a transaction (set atomic = False on the migration).".to_string()];
        for (sql, atomic, fires) in [
            (&sql, Some(true), true),
            (&sql, Some(false), false),
            (&sql, None, false),
            (&rendered_refusal, Some(true), true),
            (&rendered_refusal, Some(false), false),
        ] {
            let step = Step {
                app: "orders",
                name: "0009",
                backwards: false,
                operations: &[],
                sql: Some(sql),
                atomic,
            };
            let rules: Vec<String> = lint(&step, true, &[]).into_iter().map(|f| f.rule).collect();
            assert_eq!(
                rules.contains(&"concurrently-in-atomic".to_string()),
                fires,
                "{atomic:?} {sql:?}: {rules:?}"
            );
        }
    }

    #[test]
    fn data_beside_schema_changes_in_one_atomic_migration_is_flagged() {
        let mixed = vec![
            "Add field x to order".to_string(),
            "Raw Python operation".to_string(),
        ];
        let data = vec![
            "Raw Python operation".to_string(),
            "Raw SQL operation".to_string(),
        ];
        let rules = |ops: &[String], atomic| -> Vec<String> {
            let step = Step {
                app: "orders",
                name: "0010",
                backwards: false,
                operations: ops,
                sql: None,
                atomic,
            };
            lint(&step, false, &[])
                .into_iter()
                .map(|f| f.rule)
                .collect()
        };
        assert_eq!(
            rules(&mixed, Some(true)),
            ["data-and-schema-in-one-migration"]
        );
        assert!(rules(&mixed, Some(false)).is_empty());
        assert!(rules(&data, Some(true)).is_empty());
    }

    #[test]
    fn each_statement_is_traced_to_its_operation_through_django_headers() {
        let sql: Vec<String> = [
            "--",
            "-- Add field buyer to order",
            "--",
            "ALTER TABLE a ADD COLUMN b int;",
            "CREATE INDEX i ON a (b);",
            "--",
            "-- Raw Python operation",
            "--",
            "-- THIS OPERATION CANNOT BE WRITTEN AS SQL",
            "--",
            "-- Create index x on field(s) b of model a",
            "--",
            "CREATE INDEX x ON a (b);",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let forwards = operation_of_entries(&sql, 3, false);
        assert_eq!(forwards[3], Some(0));
        assert_eq!(forwards[4], Some(0));
        assert_eq!(forwards[8], Some(1));
        assert_eq!(forwards[12], Some(2));
        // Backwards, Django renders the last operation first.
        let backwards = operation_of_entries(&sql, 3, true);
        assert_eq!(backwards[3], Some(2));
        assert_eq!(backwards[12], Some(0));
        // Raw SQL without headers belongs to no operation.
        assert_eq!(operation_of_entries(&sql[3..5], 1, false), vec![None, None]);
        let step = Step {
            app: "orders",
            name: "0004",
            backwards: false,
            operations: &[
                "Add field buyer to order".to_string(),
                "Raw Python operation".to_string(),
                "Create index x on field(s) b of model a".to_string(),
            ],
            sql: Some(&sql),
            atomic: Some(true),
        };
        let f = lint(&step, true, &[]);
        let ops: Vec<(String, Option<usize>)> =
            f.into_iter().map(|f| (f.rule, f.operation)).collect();
        assert!(
            ops.contains(&("index-without-concurrently".into(), Some(0))),
            "{ops:?}"
        );
        assert!(
            ops.contains(&("index-without-concurrently".into(), Some(2))),
            "{ops:?}"
        );
    }

    #[test]
    fn a_relation_that_existed_before_keeps_its_findings_under_a_new_name() {
        // The runner names what the database lacks before the plan, the new name included;
        // renamed from a relation that existed, it holds that relation's rows.
        let sql: Vec<String> = vec![
            r#"ALTER TABLE "orders_order" RENAME TO "orders_purchase";"#.to_string(),
            r#"DROP TABLE "orders_purchase" CASCADE;"#.to_string(),
            r#"DROP INDEX "orders_new_idx";"#.to_string(),
        ];
        let step = Step {
            app: "orders",
            name: "0009",
            backwards: false,
            operations: &[],
            sql: Some(&sql),
            atomic: Some(true),
        };
        let mut plan = Linter::new(&[]);
        plan.plan_creates(&["orders_purchase".to_string(), "orders_new_idx".to_string()]);
        let rules: Vec<String> = plan.step(&step, true).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["rename-table", "drop-table"]);
        assert_eq!(plan.set_aside(), 1);
    }

    #[test]
    fn a_longer_varchar_is_no_rewrite_when_the_type_before_is_known() {
        let sql: Vec<String> = [
            r#"ALTER TABLE "shop_item" ALTER COLUMN "title" TYPE varchar(400);"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "code" TYPE varchar(10);"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "note" TYPE text;"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "note" TYPE text USING "note"::text;"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "price" TYPE numeric(12, 2) USING "price" * 100;"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "other" TYPE varchar(400);"#,
            r#"ALTER TABLE "shop_item" ALTER COLUMN "title" TYPE varchar(300);"#,
        ]
        .map(String::from)
        .to_vec();
        let step = Step {
            app: "shop",
            name: "0002",
            backwards: false,
            operations: &[],
            sql: Some(&sql),
            atomic: Some(true),
        };
        let mut plan = Linter::new(&[]);
        plan.known_columns([
            ("shop_item", "title", "character varying(200) not null"),
            ("shop_item", "code", "character varying(20) not null"),
            ("shop_item", "note", "character varying(50)"),
            ("shop_item", "price", "numeric(10,2)"),
        ]);
        let found: Vec<String> = plan
            .step(&step, true)
            .into_iter()
            .map(|f| f.detail)
            .collect();
        // Shorter, a USING expression, a column of unknown type, and shortening what this
        // plan lengthened: each can rewrite or check every row.
        assert_eq!(found.len(), 4, "{found:?}");
        for (f, col) in found.iter().zip(["code", "price", "other", "title"]) {
            assert!(f.contains(col), "{f}");
        }
        assert_eq!(plan.no_rewrite(), 3);
    }

    #[test]
    fn a_deferred_index_belongs_to_the_operation_that_added_its_column() {
        // Django renders AddField(ForeignKey)'s index after the migration's last operation.
        let sql: Vec<String> = [
            "--",
            "-- Add field buyer to order",
            "--",
            r#"ALTER TABLE "orders_order" ADD COLUMN "buyer_id" bigint NULL;"#,
            "--",
            "-- Alter field note on order",
            "--",
            r#"ALTER TABLE "orders_order" ALTER COLUMN "note" DROP NOT NULL;"#,
            r#"CREATE INDEX "orders_order_buyer_id_idx" ON "orders_order" ("buyer_id");"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let step = Step {
            app: "orders",
            name: "0004",
            backwards: false,
            operations: &[
                "Add field buyer to order".to_string(),
                "Alter field note on order".to_string(),
            ],
            sql: Some(&sql),
            atomic: Some(true),
        };
        let f = lint(&step, true, &[]);
        let index: Vec<Option<usize>> = f
            .iter()
            .filter(|f| f.rule == "index-without-concurrently")
            .map(|f| f.operation)
            .collect();
        assert_eq!(index, vec![Some(0)], "{f:?}");
    }

    #[test]
    fn the_data_step_is_where_data_beside_schema_points() {
        let ops = vec![
            "Add field x to order".to_string(),
            "Alter field y on order".to_string(),
            "Raw Python operation".to_string(),
        ];
        let step = Step {
            app: "orders",
            name: "0010",
            backwards: false,
            operations: &ops,
            sql: None,
            atomic: Some(true),
        };
        let f = lint(&step, false, &[]);
        assert_eq!(f[0].rule, "data-and-schema-in-one-migration");
        assert_eq!(f[0].operation, Some(2));
    }

    #[test]
    fn operations_are_linted_where_sql_is_not_and_rules_can_be_disabled() {
        let ops = vec![
            "Remove field note from order".to_string(),
            "Add field x to order".to_string(),
        ];
        let step = Step {
            app: "orders",
            name: "0005",
            backwards: false,
            operations: &ops,
            sql: None,
            atomic: Some(true),
        };
        let f = lint(&step, false, &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "drop-column");
        assert!(f[0].advice.contains("SeparateDatabaseAndState"));
        assert!(lint(&step, false, &["drop-column".into()]).is_empty());
        assert!(Rule::from_id("set-not-null").is_some() && Rule::from_id("nope").is_none());
    }
}
