//! One target of a fleet as a run sees it: the config with `${target}` and `${target.KEY}`
//! replaced in the settings and secret sources of the env's plugins, the env's backups in a
//! folder of the target's own, and the target named, so that its lock, history and
//! notifications are its own.

use super::Target;
use crate::config::Config;

/// `text` with `${target}`, `${target.name}` and `${target.KEY}` replaced; an unknown KEY is
/// an error naming it.
pub fn substitute(text: &str, target: &Target) -> Result<String, String> {
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
            if let Some(v) = &source.env {
                source.env = Some(substitute(v, target).map_err(at)?);
            }
            if let Some(f) = &source.file {
                source.file = Some(substitute(f, target).map_err(at)?);
            }
        }
    }
    Ok(out)
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
