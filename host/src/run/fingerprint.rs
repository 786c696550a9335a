//! The schema before step 5 and after a failure (the runner's `schema-snapshot`, WIT 0.3.0):
//! what the database's catalog shows changed, beside what `django_migrations` records, so that
//! a failed run says exactly what it left behind and never claims an unchanged database it did
//! not check.

use crate::plugin_api::{SchemaKind, SchemaObject};
use std::collections::BTreeMap;

/// Changes listed in a message; the rest are counted (history keeps them all, bounded).
pub const SHOWN: usize = 5;
/// Changes kept in history.
const KEPT: usize = 200;

/// A schema as a snapshot gives it: (kind, relation, name) -> definition.
pub struct Fingerprint(BTreeMap<(SchemaKind, String, String), String>);

// A name or definition from the catalog is plugin output: one line each, masked, bounded.
use crate::text::one_line as shown;

impl Fingerprint {
    pub fn new(objects: Vec<SchemaObject>) -> Fingerprint {
        Fingerprint(
            objects
                .into_iter()
                .map(|o| ((o.kind, o.relation, o.name), o.definition))
                .collect(),
        )
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// What changed from `self` to `after`, one sentence per object (at most `KEPT`). An
    /// object of a table that was dropped or created is left out: the table's line says it.
    pub fn changes(&self, after: &Fingerprint) -> Vec<String> {
        let tables = |f: &Fingerprint| -> Vec<String> {
            f.0.keys()
                .filter(|(k, _, _)| *k == SchemaKind::Table)
                .map(|(_, r, _)| r.clone())
                .collect()
        };
        let (old_tables, new_tables) = (tables(self), tables(after));
        let whole = |relation: &str| {
            old_tables.iter().any(|t| t == relation) != new_tables.iter().any(|t| t == relation)
        };
        let mut out = Vec::new();
        let mut line = |kind: SchemaKind, relation: &str, name: &str, what: String| {
            if kind != SchemaKind::Table && whole(relation) {
                return;
            }
            let object = match kind {
                SchemaKind::Column => {
                    format!("column {}.{}", shown(relation, 100), shown(name, 100))
                }
                SchemaKind::Index | SchemaKind::Constraint => format!(
                    "{} {} on {}",
                    kind.word(),
                    shown(name, 100),
                    shown(relation, 100)
                ),
                _ => format!("{} {}", kind.word(), shown(relation, 100)),
            };
            out.push(format!("{object} {what}"));
        };
        for ((kind, relation, name), def) in &self.0 {
            match after.0.get(&(*kind, relation.clone(), name.clone())) {
                None => line(*kind, relation, name, "was dropped".into()),
                Some(now) if now != def => line(
                    *kind,
                    relation,
                    name,
                    format!(
                        "changed from `{}` to `{}`",
                        shown(def, 120),
                        shown(now, 120)
                    ),
                ),
                Some(_) => {}
            }
        }
        for ((kind, relation, name), def) in &after.0 {
            if !self
                .0
                .contains_key(&(*kind, relation.clone(), name.clone()))
            {
                let what = match kind {
                    SchemaKind::Column => format!("was added (`{}`)", shown(def, 120)),
                    _ => "was created".to_string(),
                };
                line(*kind, relation, name, what);
            }
        }
        out.truncate(KEPT);
        out
    }
}

/// The first `SHOWN` changes joined, then how many more there are.
pub fn summary(changes: &[String]) -> String {
    let mut text = changes
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if changes.len() > SHOWN {
        text.push_str(&format!(
            "; and {} more (history has them)",
            changes.len() - SHOWN
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(kind: SchemaKind, relation: &str, name: &str, def: &str) -> SchemaObject {
        SchemaObject {
            kind,
            relation: relation.into(),
            name: name.into(),
            definition: def.into(),
        }
    }

    fn before() -> Vec<SchemaObject> {
        use SchemaKind::*;
        vec![
            o(Table, "shop_item", "shop_item", ""),
            o(Column, "shop_item", "id", "bigint not null"),
            o(
                Column,
                "shop_item",
                "status",
                "character varying(20) not null",
            ),
            o(
                Column,
                "shop_item",
                "title",
                "character varying(200) not null",
            ),
            o(
                Index,
                "shop_item",
                "shop_item_pkey",
                "CREATE UNIQUE INDEX ...",
            ),
            o(Table, "shop_old", "shop_old", ""),
            o(Column, "shop_old", "id", "bigint not null"),
        ]
    }

    #[test]
    fn the_same_schema_has_no_changes() {
        let a = Fingerprint::new(before());
        assert!(a.changes(&Fingerprint::new(before())).is_empty());
        assert_eq!(a.len(), 7);
    }

    #[test]
    fn each_dropped_added_or_altered_object_is_one_sentence() {
        use SchemaKind::*;
        let mut after = before();
        after.retain(|x| x.name != "status" && x.relation != "shop_old");
        for x in &mut after {
            if x.name == "title" {
                x.definition = "character varying(400) not null".into();
            }
        }
        after.push(o(
            Index,
            "shop_item",
            "shop_item_title_idx",
            "CREATE INDEX ...",
        ));
        after.push(o(Table, "shop_new", "shop_new", ""));
        after.push(o(Column, "shop_new", "id", "bigint not null"));
        let changes = Fingerprint::new(before()).changes(&Fingerprint::new(after));
        assert_eq!(
            changes,
            [
                "table shop_old was dropped",
                "column shop_item.status was dropped",
                "column shop_item.title changed from `character varying(200) not null` to `character varying(400) not null`",
                "table shop_new was created",
                "index shop_item_title_idx on shop_item was created",
            ]
        );
        assert!(summary(&changes).ends_with("was created"));
    }

    #[test]
    fn names_from_the_catalog_stay_on_one_line_and_are_counted_past_five() {
        let mut after = before();
        for i in 0..7 {
            after.push(o(SchemaKind::Table, &format!("t{i}\n[6/6] ok"), "x", ""));
        }
        let changes = Fingerprint::new(before()).changes(&Fingerprint::new(after));
        assert!(changes.iter().all(|c| !c.contains('\n')), "{changes:?}");
        let s = summary(&changes);
        assert!(s.ends_with("and 2 more (history has them)"), "{s}");
    }
}
