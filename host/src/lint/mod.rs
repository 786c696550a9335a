//! Destructive and locking changes in a plan, found from the SQL each step runs (PostgreSQL)
//! or from Django's operation descriptions (other databases). Each finding names the
//! migration, the statement and a safer pattern. Rules can be switched off per project
//! (`[lint] disable = [...]`). Free of wasmtime; every rule has a firing and a quiet unit test.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Every rule: id and the safer pattern to suggest.
pub const RULES: &[(&str, &str)] = &[
    ("drop-table", "dropping a table loses its data and breaks code still reading it: deploy code that no longer uses it first, keep a backup, and drop it in a later release"),
    ("drop-column", "dropping a column loses its data and breaks running code that selects it: stop using it in a release first (and remove it from the model with SeparateDatabaseAndState), then drop it later"),
    ("rename-table", "renaming a table breaks running code that uses the old name: add the new table (or a view), migrate code, then drop the old name in a later release"),
    ("rename-column", "renaming a column breaks running code that uses the old name: add the new column, backfill, switch code over, then drop the old one later"),
    ("alter-column-type", "changing a column type rewrites the table under an ACCESS EXCLUSIVE lock: add a new column, backfill in batches, then swap"),
    ("add-column-not-null-without-default", "a NOT NULL column without a default fails on a non-empty table: add it nullable or with a default, backfill, then set NOT NULL"),
    ("set-not-null", "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock: add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL"),
    ("constraint-without-not-valid", "adding a FOREIGN KEY or CHECK constraint validates every row under lock: add it NOT VALID, then VALIDATE CONSTRAINT in a separate migration"),
    ("unique-constraint", "adding a UNIQUE constraint builds its index under lock: CREATE UNIQUE INDEX CONCURRENTLY first (AddIndexConcurrently), then ADD CONSTRAINT ... USING INDEX"),
    ("index-without-concurrently", "CREATE INDEX blocks writes to the table while it builds: use AddIndexConcurrently in a non-atomic migration (CREATE INDEX CONCURRENTLY)"),
    ("drop-index-without-concurrently", "DROP INDEX blocks the table: use RemoveIndexConcurrently in a non-atomic migration (DROP INDEX CONCURRENTLY)"),
];

pub fn advice(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(id, _)| *id == rule)
        .map_or("", |(_, a)| a)
}

pub fn known(rule: &str) -> bool {
    RULES.iter().any(|(id, _)| *id == rule)
}

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
}

/// What to look at in one step.
pub struct Step<'a> {
    pub app: &'a str,
    pub name: &'a str,
    pub backwards: bool,
    pub operations: &'a [String],
    /// The step's SQL, when the runner rendered it.
    pub sql: &'a [String],
}

fn squash(s: &str) -> String {
    let no_comments: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("--"))
        .collect();
    no_comments
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The table an `ALTER TABLE`, `CREATE TABLE` or `CREATE INDEX ... ON` statement names.
fn table_of(stmt: &str, after: &str) -> Option<String> {
    let rest = &stmt[stmt.find(after)? + after.len()..];
    let rest = rest
        .trim_start_matches("IF NOT EXISTS ")
        .trim_start_matches("IF EXISTS ")
        .trim_start_matches("ONLY ");
    let name: String = rest.split([' ', '(']).next()?.trim_matches('"').to_string();
    (!name.is_empty()).then_some(name)
}

fn short(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 160 {
        format!("{}...", one.chars().take(157).collect::<String>())
    } else {
        one
    }
}

/// Rules that fire on one PostgreSQL statement; `new_tables` were created in this step.
fn sql_rules(stmt: &str, new_tables: &BTreeSet<String>) -> Vec<&'static str> {
    let mut hits = Vec::new();
    let on_new = |after: &str| table_of(stmt, after).is_some_and(|t| new_tables.contains(&t));
    if stmt.starts_with("DROP TABLE") {
        hits.push("drop-table");
    }
    if stmt.starts_with("ALTER TABLE") && !on_new("ALTER TABLE ") {
        if stmt.contains(" DROP COLUMN ") {
            hits.push("drop-column");
        }
        if stmt.contains(" RENAME TO ") {
            hits.push("rename-table");
        }
        if stmt.contains(" RENAME COLUMN ") {
            hits.push("rename-column");
        }
        if stmt.contains(" ALTER COLUMN ") && stmt.contains(" TYPE ") {
            hits.push("alter-column-type");
        }
        if stmt.contains(" ADD COLUMN ")
            && stmt.contains(" NOT NULL")
            && !stmt.contains(" DEFAULT ")
        {
            hits.push("add-column-not-null-without-default");
        }
        if stmt.contains(" SET NOT NULL") {
            hits.push("set-not-null");
        }
        if stmt.contains(" ADD CONSTRAINT ")
            && (stmt.contains(" FOREIGN KEY ") || stmt.contains(" CHECK "))
            && !stmt.contains(" NOT VALID")
        {
            hits.push("constraint-without-not-valid");
        }
        if stmt.contains(" ADD CONSTRAINT ")
            && stmt.contains(" UNIQUE")
            && !stmt.contains(" USING INDEX")
        {
            hits.push("unique-constraint");
        }
    }
    if (stmt.starts_with("CREATE INDEX") || stmt.starts_with("CREATE UNIQUE INDEX"))
        && !stmt.contains(" CONCURRENTLY ")
        && !on_new(" ON ")
    {
        hits.push("index-without-concurrently");
    }
    if stmt.starts_with("DROP INDEX") && !stmt.contains(" CONCURRENTLY ") {
        hits.push("drop-index-without-concurrently");
    }
    hits
}

/// Rules from Django's operation descriptions, for databases whose SQL is not linted.
fn operation_rules(op: &str) -> Vec<&'static str> {
    let o = op.to_ascii_lowercase();
    let mut hits = Vec::new();
    if o.starts_with("delete model ") {
        hits.push("drop-table");
    }
    if o.starts_with("remove field ") {
        hits.push("drop-column");
    }
    if o.starts_with("rename model ") || o.starts_with("rename table ") {
        hits.push("rename-table");
    }
    if o.starts_with("rename field ") {
        hits.push("rename-column");
    }
    hits
}

/// Lint one step. `postgresql` selects SQL rules (with the step's SQL) over operation rules.
pub fn lint(step: &Step<'_>, postgresql: bool, disabled: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |rule: &'static str, detail: &str| {
        if !disabled.iter().any(|d| d == rule) {
            out.push(Finding {
                rule: rule.into(),
                app: step.app.into(),
                name: step.name.into(),
                backwards: step.backwards,
                detail: short(detail),
                advice: advice(rule).into(),
            });
        }
    };
    if postgresql && !step.sql.is_empty() {
        let stmts: Vec<String> = step
            .sql
            .iter()
            .map(|s| squash(s))
            .filter(|s| !s.is_empty())
            .collect();
        let new_tables: BTreeSet<String> = stmts
            .iter()
            .filter(|s| s.starts_with("CREATE TABLE"))
            .filter_map(|s| table_of(s, "CREATE TABLE "))
            .collect();
        for (stmt, raw) in stmts
            .iter()
            .zip(step.sql.iter().filter(|s| !squash(s).is_empty()))
        {
            for rule in sql_rules(stmt, &new_tables) {
                push(rule, raw);
            }
        }
    } else {
        for op in step.operations {
            for rule in operation_rules(op) {
                push(rule, op);
            }
        }
    }
    out
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
            sql: &sql,
        };
        lint(&step, true, &[]).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn each_sql_rule_fires_on_the_unsafe_form_and_not_on_its_safe_twin() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "drop-table",
                r#"DROP TABLE "orders_old" CASCADE;"#,
                r#"CREATE TABLE "orders_new" ("id" bigint);"#,
            ),
            (
                "drop-column",
                r#"ALTER TABLE "orders_order" DROP COLUMN "note" CASCADE;"#,
                r#"ALTER TABLE "orders_order" ADD COLUMN "note2" text NULL;"#,
            ),
            (
                "rename-table",
                r#"ALTER TABLE "orders_order" RENAME TO "orders_purchase";"#,
                r#"CREATE VIEW "orders_purchase" AS SELECT 1;"#,
            ),
            (
                "rename-column",
                r#"ALTER TABLE "orders_order" RENAME COLUMN "note" TO "memo";"#,
                r#"ALTER TABLE "orders_order" ADD COLUMN "memo" text NULL;"#,
            ),
            (
                "alter-column-type",
                r#"ALTER TABLE "orders_order" ALTER COLUMN "total" TYPE numeric(12, 2) USING "total"::numeric(12, 2);"#,
                r#"ALTER TABLE "orders_order" ADD COLUMN "total2" numeric(12, 2) NULL;"#,
            ),
            (
                "add-column-not-null-without-default",
                r#"ALTER TABLE "orders_order" ADD COLUMN "priority" integer NOT NULL;"#,
                r#"ALTER TABLE "orders_order" ADD COLUMN "priority" integer DEFAULT 0 NOT NULL;"#,
            ),
            (
                "set-not-null",
                r#"ALTER TABLE "orders_order" ALTER COLUMN "note" SET NOT NULL;"#,
                r#"ALTER TABLE "orders_order" ALTER COLUMN "note" DROP NOT NULL;"#,
            ),
            (
                "constraint-without-not-valid",
                r#"ALTER TABLE "orders_order" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users_user" ("id") DEFERRABLE INITIALLY DEFERRED;"#,
                r#"ALTER TABLE "orders_order" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users_user" ("id") NOT VALID;"#,
            ),
            (
                "unique-constraint",
                r#"ALTER TABLE "orders_order" ADD CONSTRAINT "u" UNIQUE ("note");"#,
                r#"ALTER TABLE "orders_order" ADD CONSTRAINT "u" UNIQUE USING INDEX "u_idx";"#,
            ),
            (
                "index-without-concurrently",
                r#"CREATE INDEX "orders_note_idx" ON "orders_order" ("note");"#,
                r#"CREATE INDEX CONCURRENTLY "orders_note_idx" ON "orders_order" ("note");"#,
            ),
            (
                "drop-index-without-concurrently",
                r#"DROP INDEX IF EXISTS "orders_note_idx";"#,
                r#"DROP INDEX CONCURRENTLY IF EXISTS "orders_note_idx";"#,
            ),
        ];
        assert_eq!(cases.len(), RULES.len(), "every rule has a case");
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
            sql: &[],
        };
        let f = lint(&step, false, &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "drop-column");
        assert!(f[0].advice.contains("SeparateDatabaseAndState"));
        assert!(lint(&step, false, &["drop-column".into()]).is_empty());
        assert!(known("set-not-null") && !known("nope"));
    }
}
