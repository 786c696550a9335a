//! `env.NAME.ledger` and `ledger-schema`: what the config says about the run ledger the
//! host keeps in the environment's database (`ledger.rs` in the host keeps the rows).

/// The schema the ledger lives in unless `ledger-schema` says otherwise.
pub const DEFAULT_SCHEMA: &str = "platform_migrate";

/// `env.NAME.ledger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the ledger where the runner reports PostgreSQL and can keep one; otherwise the
    /// history stays on the machine (with a note).
    Auto,
    /// Keep it or fail the run before anything changes.
    On,
    /// Keep history on the machine only.
    Off,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "auto" => Some(Mode::Auto),
            "on" => Some(Mode::On),
            "off" => Some(Mode::Off),
            _ => None,
        }
    }
}

/// A schema name the ledger may use: a plain lowercase PostgreSQL identifier, so it never
/// needs quoting and can never reach into another schema.
pub fn check_schema(name: &str) -> Result<String, String> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok_start || !ok_rest || name.len() > 63 {
        return Err(format!(
            "must be a lowercase identifier (a-z, 0-9, _; at most 63 characters, not starting with a digit), not {name:?}"
        ));
    }
    if name.starts_with("pg_") || name == "public" || name == "information_schema" {
        return Err(format!(
            "must be a schema of its own, not {name:?}; the default is {DEFAULT_SCHEMA}"
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers_of_their_own() {
        assert_eq!(
            check_schema("platform_migrate").unwrap(),
            "platform_migrate"
        );
        assert!(check_schema("ops_2").is_ok());
        for bad in [
            "",
            "Platform",
            "a-b",
            "x\"; drop",
            "1abc",
            "public",
            "pg_catalog",
            &"a".repeat(64),
        ] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("auto"), Some(Mode::Auto));
        assert_eq!(Mode::parse("on"), Some(Mode::On));
        assert_eq!(Mode::parse("off"), Some(Mode::Off));
        assert_eq!(Mode::parse("yes"), None);
    }
}
