//! Rules over PostgreSQL's own parse tree of each statement (`pg_query`: libpg_query, the
//! server's parser), so inline constraints, quoting, comments and letter case never fool a
//! rule. Each hit names the rule and the table it touches; `mod.rs` exempts tables created
//! earlier in the same plan.

use super::Rule;
use pg_query::protobuf::node::Node as N;
use pg_query::protobuf::{
    AlterTableType, ColumnDef, ConstrType, Constraint, Node, ObjectType, RangeVar,
};

/// One rule firing on one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: Rule,
    /// The relation (table or index: one namespace in PostgreSQL) the statement changes,
    /// unqualified, when it names one.
    pub table: Option<String>,
    /// For `alter-column-type`: the column and the type it changes to, which the linter
    /// compares with the column's type before (a longer `varchar` rewrites nothing).
    pub retype: Option<Retype>,
}

/// A column's new type in `ALTER COLUMN ... TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retype {
    pub column: String,
    /// `None` when the type cannot be read as a name and numbers (an array, ...).
    pub to: Option<super::types::ColumnType>,
    /// A `USING` expression (or a collation) computes every value again.
    pub using: bool,
}

/// The new type of an `ALTER COLUMN ... TYPE` command's column definition.
fn retype(column: &str, def: Option<&Node>) -> Retype {
    let col = match def.and_then(|d| d.node.as_ref()) {
        Some(N::ColumnDef(c)) => Some(c),
        _ => None,
    };
    let to = col.and_then(|c| c.type_name.as_ref()).and_then(column_type);
    // Django writes `USING "col"::type` for a cast PostgreSQL would make anyway: that one
    // computes nothing new.
    let plain_cast = |e: &Node| match &e.node {
        Some(N::TypeCast(tc)) => {
            let of_itself = match tc.arg.as_ref().and_then(|a| a.node.as_ref()) {
                Some(N::ColumnRef(r)) => matches!(
                    r.fields.last().and_then(|f| f.node.as_ref()),
                    Some(N::String(x)) if x.sval == column
                ),
                _ => false,
            };
            of_itself && tc.type_name.as_ref().and_then(column_type) == to
        }
        _ => false,
    };
    Retype {
        column: column.to_string(),
        using: col.is_some_and(|c| {
            c.raw_default.as_deref().is_some_and(|e| !plain_cast(e)) || c.coll_clause.is_some()
        }),
        to,
    }
}

/// A type name as the parser gives it, read as a [`ColumnType`].
fn column_type(t: &pg_query::protobuf::TypeName) -> Option<super::types::ColumnType> {
    {
        let names: Vec<String> = t
            .names
            .iter()
            .filter_map(|n| match &n.node {
                Some(N::String(s)) => Some(s.sval.clone()),
                _ => None,
            })
            .collect();
        let mods = t
            .typmods
            .iter()
            .map(|m| match &m.node {
                Some(N::AConst(a)) => match &a.val {
                    Some(pg_query::protobuf::a_const::Val::Ival(i)) => Some(i64::from(i.ival)),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<i64>>>()?;
        super::types::ColumnType::parsed(&names, mods, !t.array_bounds.is_empty())
    }
}

/// What a statement tells the plan besides hits: the relations (tables and indexes) it
/// creates, and the ones it renames (old, new).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statement {
    pub hits: Vec<Hit>,
    pub creates: Vec<String>,
    pub renames: Vec<(String, String)>,
    /// The statement cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`,
    /// `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`, `VACUUM`, ...).
    pub outside_transaction: bool,
    /// The relation whose schema the statement changes (ALTER TABLE, CREATE INDEX ON, RENAME,
    /// DROP), when it is a schema change of an existing relation.
    pub alters: Option<String>,
    /// Columns the statement adds: (table, column).
    pub adds_columns: Vec<(String, String)>,
    /// The table and columns an index it creates covers.
    pub indexes: Option<(String, Vec<String>)>,
}

/// The last name of a qualified name (a list of strings).
fn last_name(n: &Node) -> Option<String> {
    match &n.node {
        Some(N::List(l)) => l.items.iter().rev().find_map(|p| match &p.node {
            Some(N::String(x)) => Some(x.sval.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// Functions whose value differs per row: a DEFAULT using one rewrites the whole table.
const VOLATILE: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
];

fn table(r: &Option<RangeVar>) -> Option<String> {
    r.as_ref().map(|r| r.relname.clone())
}

fn hit(rule: Rule, t: Option<String>) -> Hit {
    Hit {
        rule,
        table: t,
        retype: None,
    }
}

fn constraints(nodes: &[Node]) -> impl Iterator<Item = &Constraint> {
    nodes.iter().filter_map(|n| match &n.node {
        Some(N::Constraint(c)) => Some(c.as_ref()),
        _ => None,
    })
}

/// Whether an expression calls a volatile function anywhere in it.
fn volatile(n: &Node) -> bool {
    match &n.node {
        Some(N::FuncCall(f)) => {
            let name = f.funcname.iter().rev().find_map(|p| match &p.node {
                Some(N::String(s)) => Some(s.sval.to_ascii_lowercase()),
                _ => None,
            });
            name.is_some_and(|n| VOLATILE.contains(&n.as_str())) || f.args.iter().any(volatile)
        }
        Some(N::TypeCast(c)) => c.arg.as_deref().is_some_and(volatile),
        Some(N::AExpr(e)) => {
            e.lexpr.as_deref().is_some_and(volatile) || e.rexpr.as_deref().is_some_and(volatile)
        }
        _ => false,
    }
}

/// Rules on a column an `ADD COLUMN` adds.
fn added_column(c: &ColumnDef, t: &Option<String>, out: &mut Vec<Hit>) {
    let cons: Vec<&Constraint> = constraints(&c.constraints).collect();
    let has = |k: ConstrType| cons.iter().any(|x| x.contype() == k);
    let default = cons
        .iter()
        .find(|x| x.contype() == ConstrType::ConstrDefault);
    if (has(ConstrType::ConstrNotnull) || c.is_not_null) && default.is_none() {
        out.push(hit(Rule::AddColumnNotNullWithoutDefault, t.clone()));
    }
    if has(ConstrType::ConstrForeign) {
        out.push(hit(Rule::ForeignKeyInline, t.clone()));
    }
    if has(ConstrType::ConstrUnique) {
        out.push(hit(Rule::UniqueConstraint, t.clone()));
    }
    if has(ConstrType::ConstrPrimary) || has(ConstrType::ConstrIdentity) || !c.identity.is_empty() {
        out.push(hit(Rule::AddPrimaryKeyOrIdentity, t.clone()));
    }
    let rewrites = has(ConstrType::ConstrGenerated)
        || default.is_some_and(|d| d.raw_expr.as_deref().is_some_and(volatile))
        || c.raw_default.as_deref().is_some_and(volatile);
    if rewrites {
        out.push(hit(Rule::DefaultRewritesTable, t.clone()));
    }
}

/// A `VACUUM` option that asks for `FULL` (`VACUUM FULL t`, `VACUUM (FULL) t`), and not
/// `FULL false`.
fn full(option: &Node) -> bool {
    let Some(N::DefElem(d)) = &option.node else {
        return false;
    };
    let off = match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
        Some(N::Boolean(b)) => !b.boolval,
        Some(N::String(s)) => ["false", "off", "0"].contains(&s.sval.to_ascii_lowercase().as_str()),
        Some(N::Integer(i)) => i.ival == 0,
        _ => false,
    };
    d.defname.eq_ignore_ascii_case("full") && !off
}

/// Rules on an `ADD CONSTRAINT`.
fn added_constraint(c: &Constraint, t: &Option<String>, out: &mut Vec<Hit>) {
    match c.contype() {
        ConstrType::ConstrForeign | ConstrType::ConstrCheck if !c.skip_validation => {
            out.push(hit(Rule::ConstraintWithoutNotValid, t.clone()))
        }
        ConstrType::ConstrUnique | ConstrType::ConstrExclusion if c.indexname.is_empty() => {
            out.push(hit(Rule::UniqueConstraint, t.clone()))
        }
        ConstrType::ConstrPrimary if c.indexname.is_empty() => {
            out.push(hit(Rule::AddPrimaryKeyOrIdentity, t.clone()))
        }
        _ => {}
    }
}

/// The rules one parsed statement fires, and the tables it creates.
fn statement(n: &N) -> Statement {
    let mut s = Statement::default();
    let mut hits = Vec::new();
    let out = &mut hits;
    match n {
        N::CreateStmt(c) => s.creates.extend(table(&c.relation)),
        N::CreateTableAsStmt(c) => {
            if let Some(into) = &c.into {
                s.creates.extend(table(&into.rel));
            }
        }
        N::VacuumStmt(v) => {
            s.outside_transaction = true;
            if v.options.iter().any(full) {
                let rels = v.rels.iter().filter_map(|r| match &r.node {
                    Some(N::VacuumRelation(r)) => Some(table(&r.relation)),
                    _ => None,
                });
                let rels: Vec<Option<String>> = rels.collect();
                if rels.is_empty() {
                    out.push(hit(Rule::VacuumFullOrCluster, None));
                }
                for t in rels {
                    out.push(hit(Rule::VacuumFullOrCluster, t));
                }
            }
        }
        N::ClusterStmt(c) => {
            // CLUSTER without a table reclusters every table, and only outside a transaction.
            s.outside_transaction = c.relation.is_none();
            out.push(hit(Rule::VacuumFullOrCluster, table(&c.relation)));
        }
        N::CreatedbStmt(_) | N::DropdbStmt(_) => s.outside_transaction = true,
        N::DropStmt(d) if d.concurrent => s.outside_transaction = true,
        N::DropStmt(d) => match d.remove_type() {
            ObjectType::ObjectTable => {
                for o in &d.objects {
                    out.push(hit(Rule::DropTable, last_name(o)));
                }
            }
            ObjectType::ObjectIndex if !d.concurrent => {
                for o in &d.objects {
                    out.push(hit(Rule::DropIndexWithoutConcurrently, last_name(o)));
                }
            }
            _ => {}
        },
        N::RenameStmt(r) => match r.rename_type() {
            ObjectType::ObjectTable => {
                out.push(hit(Rule::RenameTable, table(&r.relation)));
                s.renames
                    .extend(table(&r.relation).map(|old| (old, r.newname.clone())));
            }
            ObjectType::ObjectIndex => {
                s.renames
                    .extend(table(&r.relation).map(|old| (old, r.newname.clone())));
            }
            ObjectType::ObjectColumn => out.push(hit(Rule::RenameColumn, table(&r.relation))),
            _ => {}
        },
        N::IndexStmt(i) => {
            s.outside_transaction = i.concurrent;
            if !i.concurrent {
                out.push(hit(Rule::IndexWithoutConcurrently, table(&i.relation)));
            }
            if !i.idxname.is_empty() {
                s.creates.push(i.idxname.clone());
            }
            let columns = i
                .index_params
                .iter()
                .filter_map(|p| match &p.node {
                    Some(N::IndexElem(e)) if !e.name.is_empty() => Some(e.name.clone()),
                    _ => None,
                })
                .collect();
            s.indexes = table(&i.relation).map(|t| (t, columns));
        }
        N::ReindexStmt(r) => {
            let concurrently = r.params.iter().any(|p| {
                matches!(&p.node, Some(N::DefElem(d)) if d.defname.eq_ignore_ascii_case("concurrently"))
            });
            if concurrently {
                s.outside_transaction = true;
            } else {
                out.push(hit(Rule::ReindexWithoutConcurrently, table(&r.relation)));
            }
        }
        N::AlterTableStmt(a) => {
            let t = table(&a.relation);
            for cmd in &a.cmds {
                let Some(N::AlterTableCmd(c)) = &cmd.node else {
                    continue;
                };
                match c.subtype() {
                    AlterTableType::AtDropColumn => out.push(hit(Rule::DropColumn, t.clone())),
                    AlterTableType::AtAlterColumnType => out.push(Hit {
                        retype: Some(retype(&c.name, c.def.as_deref())),
                        ..hit(Rule::AlterColumnType, t.clone())
                    }),
                    AlterTableType::AtSetNotNull => out.push(hit(Rule::SetNotNull, t.clone())),
                    AlterTableType::AtAddIdentity => {
                        out.push(hit(Rule::AddPrimaryKeyOrIdentity, t.clone()))
                    }
                    AlterTableType::AtAddColumn => {
                        if let Some(N::ColumnDef(col)) =
                            c.def.as_ref().and_then(|d| d.node.as_ref())
                        {
                            added_column(col, &t, out);
                            if let Some(t) = &t {
                                s.adds_columns.push((t.clone(), col.colname.clone()));
                            }
                        }
                    }
                    AlterTableType::AtAddConstraint => {
                        if let Some(N::Constraint(con)) =
                            c.def.as_ref().and_then(|d| d.node.as_ref())
                        {
                            added_constraint(con, &t, out);
                            // UNIQUE, PRIMARY KEY and EXCLUDE build an index of that name.
                            let indexed = matches!(
                                con.contype(),
                                ConstrType::ConstrUnique
                                    | ConstrType::ConstrPrimary
                                    | ConstrType::ConstrExclusion
                            );
                            if indexed && !con.conname.is_empty() {
                                s.creates.push(con.conname.clone());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    s.alters = match n {
        N::AlterTableStmt(a) => table(&a.relation),
        N::IndexStmt(i) => table(&i.relation),
        N::RenameStmt(r) => table(&r.relation),
        _ => hits.iter().find_map(|h| h.table.clone()),
    };
    s.hits = hits;
    s
}

/// Parse `sql` (one or more statements; comments are nothing) and lint each statement.
/// A statement PostgreSQL's parser rejects is an error naming why.
pub fn lint_sql(sql: &str) -> Result<Vec<Statement>, String> {
    let parsed =
        pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    Ok(parsed
        .protobuf
        .stmts
        .iter()
        .filter_map(|raw| raw.stmt.as_ref().and_then(|s| s.node.as_ref()))
        .map(statement)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<&'static str> {
        lint_sql(sql)
            .unwrap()
            .into_iter()
            .flat_map(|s| s.hits.into_iter().map(|h| h.rule.id()))
            .collect()
    }

    #[test]
    fn vacuum_full_and_cluster_fire_in_every_spelling() {
        for sql in [
            "VACUUM FULL orders_order",
            "vacuum (full, analyze) orders_order",
            "VACUUM (FULL true) public.orders_order",
            "CLUSTER orders_order USING orders_order_pkey",
            "CLUSTER orders_order",
        ] {
            assert_eq!(rules(sql), ["vacuum-full-or-cluster"], "{sql}");
        }
        let all = lint_sql("VACUUM FULL").unwrap();
        assert_eq!(all[0].hits[0].table, None);
        for sql in [
            "VACUUM orders_order",
            "VACUUM (FULL false) orders_order",
            "ANALYZE orders_order",
        ] {
            assert!(rules(sql).is_empty(), "{sql}");
        }
    }

    #[test]
    fn case_quoting_and_comments_do_not_fool_the_parser() {
        assert_eq!(
            rules("/* x */ alter   TABLE \"Orders\"\n drop column \"ADD CONSTRAINT\" -- y"),
            ["drop-column"]
        );
        // A string that looks like a statement is only a string.
        assert!(rules("SELECT 'ALTER TABLE t DROP COLUMN c'").is_empty());
        assert!(rules("-- only a comment").is_empty());
        assert!(lint_sql("ALTER TABLE").is_err());
    }

    #[test]
    fn inline_foreign_keys_and_unique_columns_fire() {
        let fk = r#"ALTER TABLE "orders_order" ADD COLUMN "user_id" bigint NULL CONSTRAINT "orders_order_user_id_fk" REFERENCES "users_user"("id") DEFERRABLE INITIALLY DEFERRED; SET CONSTRAINTS "orders_order_user_id_fk" IMMEDIATE;"#;
        assert_eq!(rules(fk), ["foreign-key-inline"]);
        let unique = r#"ALTER TABLE "orders_order" ADD COLUMN "code" varchar(20) NULL UNIQUE;"#;
        assert_eq!(rules(unique), ["unique-constraint"]);
        assert!(
            rules(r#"ALTER TABLE "orders_order" ADD COLUMN "code" varchar(20) NULL;"#).is_empty()
        );
    }

    #[test]
    fn defaults_that_rewrite_the_table_fire_and_constant_ones_do_not() {
        assert_eq!(
            rules("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid() NOT NULL"),
            ["default-rewrites-table"]
        );
        assert!(rules("ALTER TABLE t ADD COLUMN n integer DEFAULT 0 NOT NULL").is_empty());
        assert!(rules("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now() NOT NULL").is_empty());
    }

    #[test]
    fn renames_and_created_indexes_are_reported_for_the_plan() {
        let s = lint_sql(r#"ALTER TABLE "a_old" RENAME TO "a_new"; ALTER INDEX "i1" RENAME TO "i2"; ALTER TABLE "t" ADD CONSTRAINT "u1" UNIQUE ("x"); DROP INDEX "i2";"#)
            .unwrap();
        assert_eq!(s[0].renames, [("a_old".to_string(), "a_new".to_string())]);
        assert_eq!(s[1].renames, [("i1".to_string(), "i2".to_string())]);
        assert_eq!(s[2].creates, ["u1"]);
        assert_eq!(s[3].hits[0].table.as_deref(), Some("i2"));
    }

    #[test]
    fn creates_are_reported_for_the_plan() {
        let s = lint_sql(r#"CREATE TABLE "a_b" ("id" bigint); CREATE INDEX "i" ON "a_b" ("id");"#)
            .unwrap();
        assert_eq!(s[0].creates, ["a_b"]);
        assert_eq!(s[1].hits[0].table.as_deref(), Some("a_b"));
    }
}
