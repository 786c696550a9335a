//! Column types, as the catalog prints them (`character varying(200)`) and as a statement
//! names them (`varchar(400)`), and whether changing one into the other rewrites the table.
//! PostgreSQL changes a column's type without rewriting the table or its indexes when the new
//! type is binary coercible and accepts every old value: a longer or unbounded `varchar`,
//! `varchar` to `text`, a `numeric` with more precision and the same scale (since 9.2).

/// A column's type: its base name (aliases folded: `varchar`, `numeric`, ...) and modifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    pub base: String,
    /// Length, or precision and scale; empty when unconstrained.
    pub mods: Vec<i64>,
}

/// The base name PostgreSQL's parser uses for a name the catalog prints.
fn folded(name: &str) -> String {
    match name.trim() {
        "character varying" => "varchar",
        "character" => "bpchar",
        "decimal" => "numeric",
        "integer" | "int" => "int4",
        "bigint" => "int8",
        "smallint" => "int2",
        other => other,
    }
    .to_string()
}

impl ColumnType {
    /// A statement's type: `names` as the parser gives them (`pg_catalog`, `varchar`) and its
    /// modifiers. `None` for an array or a type with a modifier that is no number.
    pub fn parsed(names: &[String], mods: Vec<i64>, array: bool) -> Option<ColumnType> {
        if array {
            return None;
        }
        let base = names.last()?;
        Some(ColumnType {
            base: folded(base),
            mods,
        })
    }

    /// A column definition from a schema snapshot: `character varying(200) not null default
    /// ...` (the type, then what `schema-snapshot` appends). `None` for an array or what does
    /// not read as `name` or `name(n, ...)`.
    pub fn from_catalog(definition: &str) -> Option<ColumnType> {
        let ty = definition.split(" default ").next()?;
        let ty = ty.strip_suffix(" not null").unwrap_or(ty).trim();
        if ty.ends_with("[]") {
            return None;
        }
        let (name, mods) = match ty.split_once('(') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix(')')?;
                let mods = inner
                    .split(',')
                    .map(|m| m.trim().parse::<i64>().ok())
                    .collect::<Option<Vec<_>>>()?;
                (name, mods)
            }
            None => (ty, Vec::new()),
        };
        Some(ColumnType {
            base: folded(name),
            mods,
        })
    }

    /// True unless changing a column from `self` to `to` is known to keep the table as it is.
    pub fn rewrites_into(&self, to: &ColumnType) -> bool {
        if self == to {
            return false;
        }
        match (self.base.as_str(), to.base.as_str()) {
            // Longer or unbounded: every old value fits, the bytes stay.
            ("varchar", "varchar") => match (self.mods.as_slice(), to.mods.as_slice()) {
                (_, []) => false,
                ([old], [new]) => new < old,
                _ => true,
            },
            ("varchar", "text") => false,
            // More precision, same scale (or unconstrained).
            ("numeric", "numeric") => match (self.mods.as_slice(), to.mods.as_slice()) {
                (_, []) => false,
                ([p], [np]) => np < p,
                ([p, s], [np, ns]) => ns != s || np < p,
                _ => true,
            },
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(s: &str) -> ColumnType {
        ColumnType::from_catalog(s).unwrap()
    }
    fn new(name: &str, mods: &[i64]) -> ColumnType {
        ColumnType::parsed(&["pg_catalog".into(), name.into()], mods.to_vec(), false).unwrap()
    }

    #[test]
    fn catalog_definitions_read_as_the_parser_names_them() {
        assert_eq!(
            cat("character varying(200) not null"),
            new("varchar", &[200])
        );
        assert_eq!(cat("character varying"), new("varchar", &[]));
        assert_eq!(cat("numeric(10,2) default 0"), new("numeric", &[10, 2]));
        assert_eq!(cat("text not null default ''::text"), new("text", &[]));
        assert_eq!(
            cat("timestamp with time zone"),
            new("timestamp with time zone", &[])
        );
        assert_eq!(ColumnType::from_catalog("character varying(20)[]"), None);
        assert_eq!(ColumnType::from_catalog("character varying(x)"), None);
    }

    #[test]
    fn lengthening_a_varchar_or_widening_a_numeric_keeps_the_table() {
        let v200 = cat("character varying(200) not null");
        assert!(!v200.rewrites_into(&new("varchar", &[400])));
        assert!(!v200.rewrites_into(&new("varchar", &[200])));
        assert!(!v200.rewrites_into(&new("varchar", &[])));
        assert!(!v200.rewrites_into(&new("text", &[])));
        assert!(
            v200.rewrites_into(&new("varchar", &[100])),
            "shorter checks every row"
        );
        assert!(v200.rewrites_into(&new("int4", &[])));
        assert!(cat("text").rewrites_into(&new("varchar", &[10])));
        let n = cat("numeric(10,2)");
        assert!(!n.rewrites_into(&new("numeric", &[12, 2])));
        assert!(!n.rewrites_into(&new("numeric", &[])));
        assert!(
            n.rewrites_into(&new("numeric", &[12, 3])),
            "scale changes every value"
        );
        assert!(n.rewrites_into(&new("numeric", &[8, 2])));
        assert!(
            cat("integer").rewrites_into(&new("int8", &[])),
            "int to bigint rewrites"
        );
    }
}
