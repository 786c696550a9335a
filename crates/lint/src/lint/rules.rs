//! Every lint rule, in one typed table: its id, the safer pattern a finding suggests, whether
//! an empty table exempts it, whether it breaks code still running (so it belongs after the
//! deploy), and a statement it fires on with its safe twin. The linter (`sql.rs`, `mod.rs`),
//! the deploy phases, the config's `[lint] disable`, the SARIF and Markdown reports and the
//! docs' rule list (checked by a test) all read it. Adding a rule: one entry here, its match in
//! `sql.rs`, its line in docs/production.md, and a case in the corpus (tests/lint_corpus.rs).

/// Declares [`Rule`] and its table from one list of entries.
macro_rules! rules {
    ($(
        $(#[$doc:meta])*
        $variant:ident {
            id: $id:literal,
            rows: $rows:literal,
            breaks_running_code: $breaks:literal,
            example: $example:expr,
            advice: $advice:literal $(,)?
        }
    )*) => {
        /// A lint rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in the order reports list them.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The id findings carry and `[lint] disable` names (`drop-column`).
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)*
                }
            }

            /// The safer pattern a finding suggests.
            pub fn advice(self) -> &'static str {
                match self {
                    $(Rule::$variant => $advice,)*
                }
            }

            /// Whether the hazard is locks held or rows rewritten while the statement runs: on
            /// a table the database reports empty it costs nothing, so the finding is dropped.
            /// Drops and renames are not (they break running code whatever the table holds),
            /// nor is what fails whatever the rows.
            pub fn rows(self) -> bool {
                match self {
                    $(Rule::$variant => $rows,)*
                }
            }

            /// Whether it breaks code still running against the old schema: a migration with
            /// such a finding belongs after the deploy (`--phase post`).
            pub fn breaks_running_code(self) -> bool {
                match self {
                    $(Rule::$variant => $breaks,)*
                }
            }

            /// A PostgreSQL statement the rule fires on and its safe twin it keeps quiet on;
            /// `None` for the rules about a whole step, which have tests of their own.
            pub fn example(self) -> Option<(&'static str, &'static str)> {
                match self {
                    $(Rule::$variant => $example,)*
                }
            }
        }
    };
}

impl Rule {
    /// The rule an id names.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

rules! {
    DropTable {
        id: "drop-table",
        rows: false,
        breaks_running_code: true,
        example: Some((r#"DROP TABLE "orders_old" CASCADE;"#, r#"CREATE TABLE "orders_new" ("id" bigint);"#)),
        advice: "dropping a table loses its data and breaks code still reading it: deploy code that no longer uses it first, keep a backup, and drop it in a later release",
    }
    DropColumn {
        id: "drop-column",
        rows: false,
        breaks_running_code: true,
        example: Some((r#"ALTER TABLE "orders_order" DROP COLUMN "note" CASCADE;"#, r#"ALTER TABLE "orders_order" ADD COLUMN "note2" text NULL;"#)),
        advice: "dropping a column loses its data and breaks running code that selects it: stop using it in a release first (and remove it from the model with SeparateDatabaseAndState), then drop it later",
    }
    RenameTable {
        id: "rename-table",
        rows: false,
        breaks_running_code: true,
        example: Some((r#"ALTER TABLE "orders_order" RENAME TO "orders_purchase";"#, r#"CREATE VIEW "orders_purchase" AS SELECT 1;"#)),
        advice: "renaming a table breaks running code that uses the old name: add the new table (or a view), migrate code, then drop the old name in a later release",
    }
    RenameColumn {
        id: "rename-column",
        rows: false,
        breaks_running_code: true,
        example: Some((r#"ALTER TABLE "orders_order" RENAME COLUMN "note" TO "memo";"#, r#"ALTER TABLE "orders_order" ADD COLUMN "memo" text NULL;"#)),
        advice: "renaming a column breaks running code that uses the old name: add the new column, backfill, switch code over, then drop the old one later",
    }
    AlterColumnType {
        id: "alter-column-type",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ALTER COLUMN "total" TYPE numeric(12, 2) USING "total"::numeric(12, 2);"#, r#"ALTER TABLE "orders_order" ADD COLUMN "total2" numeric(12, 2) NULL;"#)),
        advice: "changing a column type rewrites the table under an ACCESS EXCLUSIVE lock: add a new column, backfill in batches, then swap",
    }
    AddColumnNotNullWithoutDefault {
        id: "add-column-not-null-without-default",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD COLUMN "priority" integer NOT NULL;"#, r#"ALTER TABLE "orders_order" ADD COLUMN "priority" integer DEFAULT 0 NOT NULL;"#)),
        advice: "a NOT NULL column without a default fails on a non-empty table: add it nullable or with a default, backfill, then set NOT NULL",
    }
    SetNotNull {
        id: "set-not-null",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ALTER COLUMN "note" SET NOT NULL;"#, r#"ALTER TABLE "orders_order" ALTER COLUMN "note" DROP NOT NULL;"#)),
        advice: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock: add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL",
    }
    ConstraintWithoutNotValid {
        id: "constraint-without-not-valid",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users_user" ("id") DEFERRABLE INITIALLY DEFERRED;"#, r#"ALTER TABLE "orders_order" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "users_user" ("id") NOT VALID;"#)),
        advice: "adding a FOREIGN KEY or CHECK constraint validates every row under lock: add it NOT VALID, then VALIDATE CONSTRAINT in a separate migration",
    }
    UniqueConstraint {
        id: "unique-constraint",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD CONSTRAINT "u" UNIQUE ("note");"#, r#"ALTER TABLE "orders_order" ADD CONSTRAINT "u" UNIQUE USING INDEX "u_idx";"#)),
        advice: "adding a UNIQUE constraint builds its index under lock: CREATE UNIQUE INDEX CONCURRENTLY first (AddIndexConcurrently), then ADD CONSTRAINT ... USING INDEX",
    }
    IndexWithoutConcurrently {
        id: "index-without-concurrently",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"CREATE INDEX "orders_note_idx" ON "orders_order" ("note");"#, r#"CREATE INDEX CONCURRENTLY "orders_note_idx" ON "orders_order" ("note");"#)),
        advice: "CREATE INDEX blocks writes to the table while it builds: use AddIndexConcurrently in a non-atomic migration (CREATE INDEX CONCURRENTLY)",
    }
    DropIndexWithoutConcurrently {
        id: "drop-index-without-concurrently",
        rows: false,
        breaks_running_code: false,
        example: Some((r#"DROP INDEX IF EXISTS "orders_note_idx";"#, r#"DROP INDEX CONCURRENTLY IF EXISTS "orders_note_idx";"#)),
        advice: "DROP INDEX blocks the table: use RemoveIndexConcurrently in a non-atomic migration (DROP INDEX CONCURRENTLY)",
    }
    ForeignKeyInline {
        id: "foreign-key-inline",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD COLUMN "user_id" bigint NULL CONSTRAINT "fk" REFERENCES "users_user"("id") DEFERRABLE INITIALLY DEFERRED;"#, r#"ALTER TABLE "orders_order" ADD COLUMN "user_id" bigint NULL;"#)),
        advice: "a column added with REFERENCES validates its foreign key under lock (Django renders ForeignKey this way): add the column without db_constraint, then add the constraint NOT VALID and VALIDATE it in a later migration",
    }
    AddPrimaryKeyOrIdentity {
        id: "add-primary-key-or-identity",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD COLUMN "n" integer GENERATED BY DEFAULT AS IDENTITY;"#, r#"ALTER TABLE "orders_order" ADD CONSTRAINT "pk" PRIMARY KEY USING INDEX "pk_idx";"#)),
        advice: "adding a primary key or an identity column builds an index or rewrites the table under an ACCESS EXCLUSIVE lock: build a unique index CONCURRENTLY first and add the key USING INDEX",
    }
    DefaultRewritesTable {
        id: "default-rewrites-table",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"ALTER TABLE "orders_order" ADD COLUMN "u" uuid DEFAULT gen_random_uuid() NOT NULL;"#, r#"ALTER TABLE "orders_order" ADD COLUMN "u" uuid DEFAULT '00000000-0000-0000-0000-000000000000' NOT NULL;"#)),
        advice: "a default computed per row (gen_random_uuid(), random(), clock_timestamp(), a generated column) rewrites the whole table under lock: add the column nullable, backfill in batches, then set the default",
    }
    ReindexWithoutConcurrently {
        id: "reindex-without-concurrently",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"REINDEX INDEX "orders_note_idx";"#, r#"REINDEX INDEX CONCURRENTLY "orders_note_idx";"#)),
        advice: "REINDEX blocks writes to the table while it rebuilds: use REINDEX ... CONCURRENTLY outside a transaction",
    }
    VacuumFullOrCluster {
        id: "vacuum-full-or-cluster",
        rows: true,
        breaks_running_code: false,
        example: Some((r#"VACUUM FULL "orders_order";"#, r#"VACUUM "orders_order";"#)),
        advice: "VACUUM FULL and CLUSTER rewrite the whole table under an ACCESS EXCLUSIVE lock, so every read and write waits until they finish: take them out of the migration and rewrite the table online with pg_repack (or pg_squeeze) at a quiet time",
    }
    ConcurrentlyInAtomic {
        id: "concurrently-in-atomic",
        rows: false,
        breaks_running_code: false,
        example: None,
        advice: "CREATE INDEX CONCURRENTLY (and DROP INDEX / REINDEX CONCURRENTLY) cannot run inside a transaction, so this atomic migration fails when it runs: set atomic = False on the migration",
    }
    DataAndSchemaInOneMigration {
        id: "data-and-schema-in-one-migration",
        rows: false,
        breaks_running_code: false,
        example: None,
        advice: "a data migration (RunPython) in the same atomic migration as schema changes holds the schema changes' locks while the data is processed: move the data step into a migration of its own",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_read_back() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "{} twice", r.id());
            assert!(
                r.id().chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id()
            );
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            assert!(!r.advice().is_empty(), "{} has no advice", r.id());
        }
        assert_eq!(Rule::from_id("no-such-rule"), None);
    }

    /// The docs list every rule (docs/production.md, "Destructive and locking changes"), and
    /// every rule-like id they list is one.
    #[test]
    fn the_docs_list_every_rule() {
        let docs = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/production.md"),
        )
        .unwrap();
        let start = docs
            .find("Rules: ")
            .expect("the rule list in docs/production.md");
        let list = &docs[start..];
        let list = &list[..list.find("\n\n").unwrap_or(list.len())];
        for r in Rule::ALL {
            assert!(
                list.contains(&format!("`{}`", r.id())),
                "docs/production.md does not list rule {}",
                r.id()
            );
        }
    }
}
