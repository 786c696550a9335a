//! One target of a fleet as a run sees it: the config with `${target}` and `${target.KEY}`
//! replaced in the settings and secret sources of the env's plugins, the env's backups in a
//! folder of the target's own, and the target named, so that its lock, history and
//! notifications are its own.

use super::Target;
use crate::config::Config;

/// `text` with `${target}`, `${target.name}` and `${target.KEY}` replaced; an unknown KEY is
/// an error naming it.
pub fn substitute(text: &str, target: &Target) -> Result<String, String> {
    substitute_checked(text, target, |_| Ok(()))
}

/// [`substitute`], with each value put in passed through `check` first.
fn substitute_checked(
    text: &str,
    target: &Target,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${target") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed `${{` in {text:?}"));
        };
        let key = &after[..end];
        let value = match key.strip_prefix("target") {
            Some("") | Some(".name") => target.name.clone(),
            Some(k) if k.starts_with('.') => target.vars.get(&k[1..]).cloned().ok_or_else(|| {
                format!(
                    "`${{{key}}}` names a value target {:?} does not have; give it `vars = {{ {} = \"...\" }}` in the target list",
                    target.name,
                    &k[1..]
                )
            })?,
            _ => {
                // `${targets}` or the like: not ours, kept as written.
                out.push_str(&rest[at..at + 2 + end + 1]);
                rest = &after[end + 1..];
                continue;
            }
        };
        check(&value).map_err(|why| {
            format!(
                "`${{{key}}}` of target {:?} is {:?}, which {why}",
                crate::text::for_terminal(&target.name),
                crate::text::cut(crate::text::for_terminal(&value), 80)
            )
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `cfg` as target `target` of env `env` sees it.
pub fn config_for(cfg: &Config, env: &str, target: &Target) -> Result<Config, String> {
    let mut out = cfg.clone();
    let e = out
        .envs
        .get_mut(env)
        .ok_or_else(|| format!("unknown environment '{env}'"))?;
    e.target = Some(target.name.clone());
    e.backup_dir = e.backup_dir.join(&target.name);
    let mut used = vec![e.runner.clone()];
    used.extend(e.backup.clone());
    used.extend(e.notifiers.clone());
    for name in used {
        let Some(p) = out.plugins.get_mut(&name) else {
            continue;
        };
        let at = |why: String| format!("plugins.{name}: {why}");
        for s in p.setting_entries.iter_mut() {
            s.value = substitute_toml(&s.value, target).map_err(at)?;
        }
        for source in p.secrets.values_mut() {
            // Secret sources read what the host may read: a target (its list may come from
            // a command) picks among the variables or files the template names, and never
            // leads to another one.
            if let Some(v) = &source.env {
                source.env = Some(substitute_checked(v, target, env_part).map_err(at)?);
            }
            if let Some(f) = &source.file {
                source.file = Some(substitute_checked(f, target, file_part).map_err(at)?);
            }
        }
    }
    Ok(out)
}

/// A target's value inside a secret's environment variable name: letters, digits, `_`, `-`
/// and `.` (what target names may hold).
fn env_part(value: &str) -> Result<(), String> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Ok(())
    } else {
        Err(
            "may not stand in a secret's variable name (only letters, digits, `_`, `-` and `.`)"
                .into(),
        )
    }
}

/// A target's value inside a secret's file path: one plain name, so that the path stays in
/// the folder the template names (no `/`, `..`, `.` or control characters).
fn file_part(value: &str) -> Result<(), String> {
    let plain = !value.is_empty()
        && value != "."
        && value != ".."
        && !value.contains('/')
        && !value.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err("may not stand in a secret's file path: only one plain file or folder name (no `/`, `.` or `..`) keeps it in the folder the path names".into())
    }
}

fn substitute_toml(v: &toml::Value, target: &Target) -> Result<toml::Value, String> {
    Ok(match v {
        toml::Value::String(s) => toml::Value::String(substitute(s, target)?),
        toml::Value::Array(a) => toml::Value::Array(
            a.iter()
                .map(|x| substitute_toml(x, target))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, x)| Ok((k.clone(), substitute_toml(x, target)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Target {
        Target {
            name: "eu".into(),
            vars: [("db".to_string(), "shop_eu".to_string())].into(),
        }
    }

    #[test]
    fn names_and_vars_are_replaced() {
        assert_eq!(substitute("db_${target}", &t()).unwrap(), "db_eu");
        assert_eq!(
            substitute("${target.name}/${target.db}", &t()).unwrap(),
            "eu/shop_eu"
        );
        assert_eq!(
            substitute("${targets} ${HOME}", &t()).unwrap(),
            "${targets} ${HOME}"
        );
        let e = substitute("${target.host}", &t()).unwrap_err();
        assert!(e.contains("vars = { host = \"...\" }"), "{e}");
        assert!(substitute("${target", &t()).is_err());
    }

    /// A target's vars cannot point a secret at another file or variable than the ones its
    /// template names (issue 32).
    #[test]
    fn target_values_stay_inside_the_secret_sources_they_fill() {
        let cfg = Config::parse(
            "[plugins.r]\npath = \"r.wasm\"\ngrants.secrets.url = { file = \"secrets/${target.file}\" }\ngrants.secrets.key = { env = \"PM_KEY_${target}\" }\n\n[env.prod]\nrunner = \"r\"\n",
            "pm.toml",
            "/c/pm.toml".into(),
            "/c".into(),
        )
        .unwrap();
        let with = |name: &str, file: &str| Target {
            name: name.into(),
            vars: [("file".to_string(), file.to_string())].into(),
        };
        let ok = config_for(&cfg, "prod", &with("eu_1", "eu.url")).unwrap();
        let sources = &ok.plugins["r"].secrets;
        assert_eq!(sources["url"].file.as_deref(), Some("/c/secrets/eu.url"));
        assert_eq!(sources["key"].env.as_deref(), Some("PM_KEY_eu_1"));
        for bad in [
            "../../etc/shadow",
            "/etc/shadow",
            "..",
            ".",
            "a/b",
            "",
            "x\ny",
        ] {
            let e = config_for(&cfg, "prod", &with("eu", bad)).unwrap_err();
            assert!(e.contains("secret's file path"), "{bad:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        for bad in ["A=B", "x y", ""] {
            let e = config_for(&cfg, "prod", &with(bad, "eu.url")).unwrap_err();
            assert!(e.contains("secret's variable name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn json_settings_are_replaced_inside_their_strings() {
        let cfg = Config::parse(
            "[plugins.r]\npath = \"r.wasm\"\nsettings = { env = { DATABASE_NAME = \"${target.db}\", n = 1 }, list = [\"${target.db}\"] }\n\n[env.prod]\nrunner = \"r\"\n",
            "pm.toml",
            "/c/pm.toml".into(),
            "/c".into(),
        )
        .unwrap();
        let setting = |t: &Target, key: &str| {
            config_for(&cfg, "prod", t).unwrap().plugins["r"]
                .settings()
                .into_iter()
                .find(|(k, _)| k == key)
                .unwrap()
                .1
        };
        assert_eq!(setting(&t(), "env"), r#"{"DATABASE_NAME":"shop_eu","n":1}"#);
        // A value with a quote stays valid JSON.
        let mut q = t();
        q.vars.insert("db".into(), "a\"b".into());
        let s = setting(&q, "list");
        assert_eq!(serde_json::from_str::<Vec<String>>(&s).unwrap(), ["a\"b"]);
    }
}
