//! A plugin's settings schema (WIT 0.2.0 `describe`) and the check of a config entry's
//! `[plugins.NAME.settings]` against it: unknown keys, wrong types, missing required settings
//! and secret names `grants.secrets` does not define, each at its `file:line:column`. Free of
//! wasmtime, so it is unit tested here.

use crate::config::{ConfigError, PluginConfig};

/// The type a setting's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Text,
    Integer,
    Number,
    Boolean,
    TextList,
    TextTable,
    Any,
}

impl SettingKind {
    /// How the type is written for people (in `plugin inspect` and in errors).
    pub fn word(self) -> &'static str {
        match self {
            SettingKind::Text => "string",
            SettingKind::Integer => "integer",
            SettingKind::Number => "number",
            SettingKind::Boolean => "boolean",
            SettingKind::TextList => "array of strings",
            SettingKind::TextTable => "table of strings",
            SettingKind::Any => "any",
        }
    }

    fn accepts(self, v: &toml::Value) -> bool {
        use toml::Value as V;
        match self {
            SettingKind::Text => matches!(v, V::String(_)),
            SettingKind::Integer => matches!(v, V::Integer(_)),
            SettingKind::Number => matches!(v, V::Integer(_) | V::Float(_)),
            SettingKind::Boolean => matches!(v, V::Boolean(_)),
            SettingKind::TextList => {
                matches!(v, V::Array(a) if a.iter().all(|x| matches!(x, V::String(_))))
            }
            SettingKind::TextTable => {
                matches!(v, V::Table(t) if t.values().all(|x| matches!(x, V::String(_))))
            }
            SettingKind::Any => true,
        }
    }
}

/// One setting a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingSpec {
    pub name: String,
    pub kind: SettingKind,
    pub required: bool,
    /// The default as TOML text, for people.
    pub default: Option<String>,
    /// The value names a secret (every value, for a table of strings).
    pub secret: bool,
    pub description: String,
}

fn describe_value(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a decimal number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The declared setting closest to `key` (a typo's likely intent), if any is close.
fn closest<'a>(key: &str, schema: &'a [SettingSpec]) -> Option<&'a str> {
    schema
        .iter()
        .map(|s| (strsim::levenshtein(key, &s.name), s.name.as_str()))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, name)| name)
}

/// Check `entry`'s settings against the schema its plugin declared.
pub fn check(entry: &PluginConfig, schema: &[SettingSpec]) -> Result<(), ConfigError> {
    let plugin = &entry.name;
    for set in &entry.setting_entries {
        let Some(spec) = schema.iter().find(|s| s.name == set.key) else {
            let hint = match closest(&set.key, schema) {
                Some(name) => format!("did you mean `{name}`?"),
                None if schema.is_empty() => "it declares no settings; remove the key".into(),
                None => format!(
                    "it reads: {}",
                    schema
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(set.key_at.error(format!(
                "plugins.{plugin}.settings: plugin '{plugin}' has no setting `{}`; {hint} (`platform-migrate plugin inspect {plugin}` lists its settings)",
                set.key
            )));
        };
        if !spec.kind.accepts(&set.value) {
            return Err(set.value_at.error(format!(
                "plugins.{plugin}.settings.{}: expected {}, found {}",
                set.key,
                article(spec.kind),
                describe_value(&set.value)
            )));
        }
        if spec.secret {
            let names: Vec<&str> = match &set.value {
                toml::Value::String(s) => vec![s.as_str()],
                toml::Value::Table(t) => t.values().filter_map(|v| v.as_str()).collect(),
                _ => vec![],
            };
            if let Some(missing) = names.iter().find(|n| !entry.secrets.contains_key(**n)) {
                return Err(set.value_at.error(format!(
                    "plugins.{plugin}.settings.{} names secret `{missing}`, which plugins.{plugin}.grants.secrets does not define; add `{missing} = {{ env = \"VAR\" }}` (or `file = \"PATH\"`) to it",
                    set.key
                )));
            }
        }
    }
    if let Some(spec) = schema
        .iter()
        .find(|s| s.required && !entry.setting_entries.iter().any(|e| e.key == s.name))
    {
        return Err(entry.path_loc.error(format!(
            "plugins.{plugin}: setting `{}` is required ({}); add it under [plugins.{plugin}.settings] as {}",
            spec.name,
            spec.description,
            article(spec.kind)
        )));
    }
    Ok(())
}

fn article(kind: SettingKind) -> String {
    match kind {
        SettingKind::Integer | SettingKind::Any => format!("an {}", kind.word()),
        SettingKind::TextList => "an array of strings".into(),
        SettingKind::TextTable => "a table of strings".into(),
        k => format!("a {}", k.word()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn entry(settings: &str) -> PluginConfig {
        let text = format!(
            "[plugins.p]\npath = \"p.wasm\"\ngrants.secrets = {{ hook = {{ env = \"HOOK\" }} }}\n\n[plugins.p.settings]\n{settings}\n\n[env.dev]\nrunner = \"p\"\n"
        );
        let cfg = Config::parse(&text, "pm.toml", "/c/pm.toml".into(), "/c".into()).unwrap();
        cfg.plugins["p"].clone()
    }

    fn schema() -> Vec<SettingSpec> {
        let s = |name: &str, kind| SettingSpec {
            name: name.into(),
            kind,
            required: false,
            default: None,
            secret: false,
            description: format!("the {name}"),
        };
        vec![
            SettingSpec {
                required: true,
                ..s("manage", SettingKind::TextList)
            },
            s("database", SettingKind::Text),
            s("timeout-secs", SettingKind::Integer),
            s("ratio", SettingKind::Number),
            s("verbose", SettingKind::Boolean),
            s("env", SettingKind::TextTable),
            SettingSpec {
                secret: true,
                ..s("webhook-secret", SettingKind::Text)
            },
            SettingSpec {
                secret: true,
                ..s("secret-env", SettingKind::TextTable)
            },
            s("extra", SettingKind::Any),
        ]
    }

    fn err(settings: &str) -> String {
        check(&entry(settings), &schema()).unwrap_err().to_string()
    }

    #[test]
    fn a_fitting_entry_passes() {
        let e = entry(
            "manage = [\"python\", \"manage.py\"]\ndatabase = \"default\"\ntimeout-secs = 5\nratio = 0.5\nverbose = true\nenv = { A = \"b\" }\nwebhook-secret = \"hook\"\nsecret-env = { DATABASE_URL = \"hook\" }\nextra = [1, \"x\"]",
        );
        check(&e, &schema()).unwrap();
        // An integer is a number too.
        check(&entry("manage = []\nratio = 2"), &schema()).unwrap();
    }

    #[test]
    fn a_typo_is_refused_at_its_key_with_the_likely_name() {
        let m = err("manage = []\ndatabse = \"default\"");
        assert!(m.starts_with("pm.toml:7:1: "), "{m}");
        assert!(m.contains("no setting `databse`"), "{m}");
        assert!(m.contains("did you mean `database`?"), "{m}");
        let m = err("manage = []\nzzz = 1");
        assert!(m.contains("it reads: manage, database,"), "{m}");
    }

    #[test]
    fn a_wrong_type_is_refused_at_its_value() {
        let m = err("manage = []\ntimeout-secs = \"5\"");
        assert!(m.starts_with("pm.toml:7:16: "), "{m}");
        assert!(m.contains("expected an integer, found a string"), "{m}");
        assert!(err("manage = \"python manage.py\"").contains("expected an array of strings"));
        assert!(err("manage = [\"python\", 1]").contains("expected an array of strings"));
        assert!(err("manage = []\nenv = { A = 1 }").contains("expected a table of strings"));
        assert!(err("manage = []\nverbose = \"yes\"").contains("expected a boolean"));
        assert!(err("manage = []\nratio = \"x\"").contains("expected a number"));
    }

    #[test]
    fn a_missing_required_setting_is_named() {
        let m = err("database = \"x\"");
        assert!(m.starts_with("pm.toml:2:8: "), "{m}");
        assert!(
            m.contains("setting `manage` is required (the manage)"),
            "{m}"
        );
        assert!(m.contains("as an array of strings"), "{m}");
    }

    #[test]
    fn a_secret_setting_must_name_a_granted_secret() {
        let m = err("manage = []\nwebhook-secret = \"hok\"");
        assert!(m.contains("names secret `hok`"), "{m}");
        assert!(m.contains("add `hok = { env = \"VAR\" }`"), "{m}");
        let m = err("manage = []\nsecret-env = { DATABASE_URL = \"db\" }");
        assert!(m.contains("names secret `db`"), "{m}");
    }

    #[test]
    fn an_empty_schema_refuses_every_key() {
        let m = check(&entry("x = 1"), &[]).unwrap_err().to_string();
        assert!(m.contains("it declares no settings; remove the key"), "{m}");
        check(&entry(""), &[]).unwrap();
    }
}
