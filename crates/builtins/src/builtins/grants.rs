//! The grant a built-in needs, derived from its entry's settings: exact argv patterns (the
//! runner's helper pinned by the sha256 of the text this binary's runner sends), libpq
//! variables pinned to the URL secret, the TCP port of that URL (resolved when the plugin is
//! loaded: `connect-url`), the folder a SQLite file lies in, Slack's origin. The result is a
//! `[plugins.NAME.grants]` table, read by the config like one written by hand, and printed in
//! full by `plugin inspect ENTRY`.

use std::collections::BTreeMap;
use toml::{Table, Value};

/// The derived grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// `[plugins.NAME.grants]` as the config would write it.
    pub grants: Table,
    /// How many of `grants.commands`, from the first, the built-in cannot work without: a
    /// narrowed grant must keep them.
    pub required_commands: usize,
    /// Why each command is there, in the same order (for `plugin inspect`).
    pub purposes: Vec<&'static str>,
}

/// A setting the derivation cannot use: its key (none: the entry as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: Option<String>,
    pub message: String,
}

/// A setting listing TCP ports (`connect = [6379]`): the services besides the database that
/// the project's own settings reach (a Redis cache, a broker, a search engine).
fn ports(s: &Settings, key: &str) -> Result<Vec<Value>, Problem> {
    let bad = || {
        problem(
            key,
            format!("setting {key} must be a list of TCP ports (1-65535), e.g. {key} = [6379]"),
        )
    };
    match s.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::Integer(i) if (1..=65535).contains(i) => Ok(Value::Integer(*i)),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn problem(key: &str, message: impl Into<String>) -> Problem {
    Problem {
        key: Some(key.to_string()),
        message: message.into(),
    }
}

type Settings = BTreeMap<String, Value>;

fn text<'a>(s: &'a Settings, key: &str) -> Result<Option<&'a str>, Problem> {
    match s.get(key) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(problem(key, format!("setting {key} must be a string"))),
    }
}

fn strings(s: &Settings, key: &str) -> Result<BTreeMap<String, String>, Problem> {
    match s.get(key) {
        None => Ok(BTreeMap::new()),
        Some(Value::Table(t)) => t
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                _ => Err(problem(key, format!("setting {key}.{k} must be a string"))),
            })
            .collect(),
        Some(_) => Err(problem(
            key,
            format!("setting {key} must be a table of strings"),
        )),
    }
}

fn command(program: &str, args: &[String]) -> Value {
    let mut t = Table::new();
    t.insert("program".into(), Value::String(program.into()));
    t.insert(
        "args".into(),
        Value::Array(args.iter().cloned().map(Value::String).collect()),
    );
    Value::Table(t)
}

fn pinned(name: &str, key: &str, value: &str) -> Value {
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.into()));
    t.insert(key.into(), Value::String(value.into()));
    Value::Table(t)
}

fn list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::Array(items.into_iter().map(|s| Value::String(s.into())).collect())
}

/// Is `arg` written as a literal argument pattern matches only itself?
fn literal(arg: &str) -> bool {
    !arg.is_empty()
        && !arg.starts_with('?')
        && !arg.ends_with('*')
        && !arg.starts_with("sha256:")
        && !arg.contains("<path:")
        && arg != "<name>"
        && !arg.chars().any(char::is_control)
}

/// The grant `builtin` needs with `settings`.
pub fn derive(builtin: &str, settings: &Settings) -> Result<Derived, Problem> {
    match builtin {
        "django-runner" => django_runner(settings),
        "pg-dump-backup" => pg_dump_backup(settings),
        "file-backup" => file_backup(settings),
        "slack-notifier" => slack_notifier(settings),
        other => Err(Problem {
            key: None,
            message: format!("no grant is known for built-in {other}"),
        }),
    }
}

fn django_runner(s: &Settings) -> Result<Derived, Problem> {
    let manage: Vec<String> = match s.get("manage") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| problem("manage", "setting manage must be a list of strings"))?,
        Some(_) => return Err(problem("manage", "setting manage must be a list of strings")),
        None => {
            return Err(Problem {
                key: None,
                message: "setting `manage` is missing; set it to the argv that reaches manage.py, e.g. manage = [\".venv/bin/python\", \"manage.py\"]".into(),
            })
        }
    };
    let Some((program, prefix)) = manage.split_first() else {
        return Err(problem("manage", "setting manage is empty; give the python and manage.py, e.g. [\".venv/bin/python\", \"manage.py\"]"));
    };
    if let Some(bad) = prefix.iter().find(|a| !literal(a)) {
        return Err(problem(
            "manage",
            format!("manage element {bad:?} is not a plain argument (no leading ?, trailing *, sha256:, <name> or <path:..>)"),
        ));
    }
    if s.contains_key("project-dir") {
        return Err(problem(
            "project-dir",
            "builtin:django-runner runs manage.py in the config's folder; put platform-migrate.toml beside manage.py (or give its path in manage), or use the plugin file (path = ...) with a full grant",
        ));
    }
    let in_session = match s.get("migrate-in-session") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => {
            return Err(problem(
                "migrate-in-session",
                "setting migrate-in-session must be true or false",
            ))
        }
    };
    let args = |rest: &[&str]| -> Vec<String> {
        prefix
            .iter()
            .cloned()
            .chain(rest.iter().map(|a| a.to_string()))
            .collect()
    };
    let helper = format!(
        "sha256:{}",
        crate::digest::sha256_hex(super::helper_text(in_session).as_bytes())
    );
    let mut commands = vec![command(program, &args(&["shell", "-c", &helper]))];
    let mut purposes = vec![if in_session {
        "the helper session: plan, lint, ledger, and migrate"
    } else {
        "the helper session: plan, lint, ledger"
    }];
    if !in_session {
        commands.push(command(
            program,
            &args(&[
                "migrate",
                "--noinput",
                "-v1",
                "?--fake",
                "?--database=*",
                "?<name>",
                "?<name>",
            ]),
        ));
        purposes.push("migrate (execute, rollback, --fake)");
    }
    let required = commands.len();
    commands.push(command(
        program,
        &args(&["makemigrations", "--noinput", "<name>"]),
    ));
    purposes.push("makemigrations (--make)");
    commands.push(command(
        program,
        &args(&["loaddata", "-v1", "?--database=*", "<name>"]),
    ));
    purposes.push("loaddata (fixtures)");
    // Names no grant may give are refused here, at the setting that names them.
    let grantable = |key: &str, names: &BTreeMap<String, String>| match names
        .keys()
        .find_map(|n| crate::policy::env::forbidden(n).map(|why| (n, why)))
    {
        Some((n, why)) => Err(problem(
            key,
            format!("setting {key} names {n}, which cannot be granted: {why}"),
        )),
        None => Ok(()),
    };
    let plain = strings(s, "env")?;
    grantable("env", &plain)?;
    let mut env = Vec::new();
    for (name, value) in plain {
        env.push(pinned(&name, "value", &value));
    }
    let secret_env = strings(s, "secret-env")?;
    grantable("secret-env", &secret_env)?;
    let mut secrets: Vec<String> = Vec::new();
    for (name, secret) in &secret_env {
        env.push(pinned(name, "secret", secret));
        if !secrets.contains(secret) {
            secrets.push(secret.clone());
        }
    }
    let mut grants = Table::new();
    grants.insert("commands".into(), Value::Array(commands));
    if !env.is_empty() {
        grants.insert("env".into(), Value::Array(env));
    }
    let mut confine = Table::new();
    // SQLite's file and journal, and the migrations `--make` writes.
    confine.insert("write".into(), list(["."]));
    let services = ports(s, "connect")?;
    if !services.is_empty() {
        confine.insert("connect".into(), Value::Array(services));
    }
    if !secrets.is_empty() {
        // The port of whichever secret is a postgresql:// URL (DATABASE_URL), read at load.
        confine.insert("connect-url".into(), list(secrets.clone()));
    }
    grants.insert("confine".into(), Value::Table(confine));
    with_secrets(&mut grants, secrets);
    Ok(Derived {
        grants,
        required_commands: required,
        purposes,
    })
}

/// The secrets the settings name; their sources are the entry's own `grants.secrets`.
fn with_secrets(grants: &mut Table, names: Vec<String>) {
    if !names.is_empty() {
        grants.insert("secrets".into(), list(names));
    }
}

fn pg_dump_backup(s: &Settings) -> Result<Derived, Problem> {
    let url = text(s, "url-secret")?;
    let password = text(s, "password-secret")?;
    let pg_dump = text(s, "pg-dump")?.unwrap_or("pg_dump");
    let pg_restore = text(s, "pg-restore")?.unwrap_or("pg_restore");
    if url.is_none() && text(s, "dbname")?.is_none() {
        return Err(Problem {
            key: None,
            message: "no database named: set url-secret to a granted secret holding postgresql://user:password@host:port/dbname".into(),
        });
    }
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let commands = vec![
        command(
            pg_dump,
            &v(&["--format=custom", "--no-password", "--lock-wait-timeout=*"]),
        ),
        command(pg_restore, &v(&["--list"])),
        command("createdb", &v(&["--no-password", "<name>"])),
        command(
            pg_restore,
            &v(&[
                "--no-owner",
                "--exit-on-error",
                "--no-password",
                "--dbname",
                "<name>",
            ]),
        ),
    ];
    let purposes = vec![
        "pg_dump (step 3)",
        "pg_restore --list (verify)",
        "createdb (backups restore --to NEW_DB)",
        "pg_restore (backups restore --to NEW_DB)",
    ];
    let mut env = Vec::new();
    let mut connect = Vec::new();
    for (key, var) in [
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("user", "PGUSER"),
        ("dbname", "PGDATABASE"),
    ] {
        let given = match s.get(key) {
            None => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(Value::Integer(i)) if key == "port" => Some(i.to_string()),
            Some(_) => return Err(problem(key, format!("setting {key} must be a string"))),
        };
        match (given, url) {
            (Some(value), _) => env.push(pinned(var, "value", &value)),
            (None, Some(secret)) => env.push(pinned(var, "url-secret", secret)),
            (None, None) => {}
        }
    }
    match (password, url) {
        (Some(secret), _) => env.push(pinned("PGPASSWORD", "secret", secret)),
        (None, Some(secret)) => env.push(pinned("PGPASSWORD", "url-secret", secret)),
        (None, None) => {}
    }
    if let Some(secret) = url {
        env.push(pinned("PGSSLMODE", "url-secret", secret));
    }
    env.push(Value::String("PGCONNECT_TIMEOUT".into()));
    // A host and port given as settings are known now; a URL's port when it is read.
    let host = text(s, "host")?;
    if host.is_some_and(|h| !h.starts_with('/')) {
        let port = match s.get("port") {
            Some(Value::Integer(i)) => u16::try_from(*i).ok(),
            Some(Value::String(p)) => p.parse().ok(),
            _ => Some(5432),
        };
        match port {
            Some(p) => connect.push(Value::Integer(p.into())),
            None => return Err(problem("port", "setting port must be a TCP port (1-65535)")),
        }
    }
    let mut grants = Table::new();
    grants.insert("commands".into(), Value::Array(commands));
    grants.insert("env".into(), Value::Array(env));
    let mut confine = Table::new();
    if !connect.is_empty() {
        confine.insert("connect".into(), Value::Array(connect));
    }
    if let Some(secret) = url {
        confine.insert("connect-url".into(), list([secret]));
    }
    if !confine.is_empty() {
        grants.insert("confine".into(), Value::Table(confine));
    }
    let secrets: Vec<String> = url
        .into_iter()
        .chain(password)
        .map(str::to_string)
        .collect();
    with_secrets(&mut grants, secrets);
    Ok(Derived {
        grants,
        required_commands: 2,
        purposes,
    })
}

/// Where builtin:file-backup sees the config's folder (read-only).
pub const FILE_BACKUP_GUEST: &str = "/project";

fn file_backup(s: &Settings) -> Result<Derived, Problem> {
    let Some(source) = text(s, "source")? else {
        return Err(Problem {
            key: None,
            message: format!("setting `source` is missing; name the SQLite file under {FILE_BACKUP_GUEST} (the config's folder), e.g. source = \"{FILE_BACKUP_GUEST}/db.sqlite3\""),
        });
    };
    let inside = source
        .strip_prefix(FILE_BACKUP_GUEST)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
    if !inside || source.split('/').any(|p| p == "..") {
        return Err(problem(
            "source",
            format!("builtin:file-backup reads the config's folder, mounted at {FILE_BACKUP_GUEST}: write source = \"{FILE_BACKUP_GUEST}/db.sqlite3\" (a file under it); for a file elsewhere use the plugin file (path = ...) with grants.dirs"),
        ));
    }
    let mut dir = Table::new();
    dir.insert("host".into(), Value::String(".".into()));
    dir.insert("guest".into(), Value::String(FILE_BACKUP_GUEST.into()));
    dir.insert("access".into(), Value::String("read-only".into()));
    let mut grants = Table::new();
    grants.insert("dirs".into(), Value::Array(vec![Value::Table(dir)]));
    let (mut commands, mut purposes) = (Vec::new(), Vec::new());
    if text(s, "method")? == Some("sqlite3") {
        let sqlite3 = text(s, "sqlite3")?.unwrap_or("sqlite3");
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        commands.push(command(
            sqlite3,
            &v(&[
                "-readonly",
                &format!("<path:{FILE_BACKUP_GUEST}>"),
                ".backup \"<path:/backups>\"",
            ]),
        ));
        commands.push(command(
            sqlite3,
            &v(&["-readonly", "<path:/backups>", "PRAGMA quick_check"]),
        ));
        purposes = vec!["sqlite3 .backup (step 3)", "sqlite3 quick_check (verify)"];
    }
    let required = commands.len();
    if !commands.is_empty() {
        grants.insert("commands".into(), Value::Array(commands));
    }
    Ok(Derived {
        grants,
        required_commands: required,
        purposes,
    })
}

/// The origin builtin:slack-notifier posts to.
pub const SLACK_ORIGIN: &str = "https://hooks.slack.com";

fn slack_notifier(s: &Settings) -> Result<Derived, Problem> {
    let secret = text(s, "webhook-secret")?.unwrap_or("slack-webhook");
    let mut grants = Table::new();
    grants.insert("hosts".into(), list([SLACK_ORIGIN]));
    with_secrets(&mut grants, vec![secret.to_string()]);
    Ok(Derived {
        grants,
        required_commands: 0,
        purposes: Vec::new(),
    })
}

/// An inline table with its naming key first (`name`, `program`, `host`), as people write
/// them; other values as TOML writes them.
fn inline(v: &Value) -> String {
    let Value::Table(t) = v else {
        return v.to_string();
    };
    let first = ["name", "program", "host"];
    let mut keys: Vec<&String> = t.keys().collect();
    keys.sort_by_key(|k| first.iter().position(|f| f == k).unwrap_or(first.len()));
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{k} = {}", inline(&t[k.as_str()])))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// The derived grant as TOML lines under `[plugins.NAME.grants]`, one command per line.
pub fn to_toml(grants: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in grants {
        match value {
            Value::Array(items) if items.iter().any(Value::is_table) => {
                out.push(format!("{key} = ["));
                for item in items {
                    out.push(format!("    {},", inline(item)));
                }
                out.push("]".into());
            }
            Value::Table(t) => {
                for (k, v) in t {
                    out.push(format!("{key}.{k} = {v}"));
                }
            }
            other => out.push(format!("{key} = {other}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        toml::from_str(text).unwrap()
    }

    fn commands(d: &Derived) -> Vec<String> {
        d.grants["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn the_runner_gets_exact_patterns_with_the_helper_it_sends() {
        let d = derive(
            "django-runner",
            &settings(r#"manage = [".venv/bin/python", "manage.py"]"#),
        )
        .unwrap();
        let c = commands(&d);
        let plain = crate::digest::sha256_hex(super::super::HELPER.as_bytes());
        assert!(c[0].contains(&format!("sha256:{plain}")), "{}", c[0]);
        assert!(c[0].contains(r#"".venv/bin/python""#), "{}", c[0]);
        assert!(c[1].contains(r#""migrate", "--noinput""#), "{}", c[1]);
        assert_eq!(d.required_commands, 2);
        assert!(c.iter().all(|c| !c.contains("**")));
        assert!(!d.grants.contains_key("secrets"));
    }

    #[test]
    fn in_session_the_migrating_helper_replaces_migrate() {
        let d = derive(
            "django-runner",
            &settings(
                r#"manage = ["py", "src/manage.py"]
                migrate-in-session = true"#,
            ),
        )
        .unwrap();
        let c = commands(&d);
        let migrating = crate::digest::sha256_hex(super::super::helper_text(true).as_bytes());
        assert!(c[0].contains(&migrating), "{}", c[0]);
        assert!(c[0].contains(r#""src/manage.py", "shell""#), "{}", c[0]);
        assert!(!c.iter().any(|c| c.contains(r#""migrate""#)), "{c:?}");
        assert_eq!(d.required_commands, 1);
    }

    #[test]
    fn a_database_url_secret_is_pinned_and_its_port_read_at_load() {
        let d = derive(
            "django-runner",
            &settings(
                r#"manage = ["py", "manage.py"]
                secret-env = { DATABASE_URL = "db" }
                env = { DJANGO_SETTINGS_MODULE = "shop.settings" }"#,
            ),
        )
        .unwrap();
        let lines = to_toml(&d.grants).join("\n");
        assert!(
            lines.contains(r#"{ name = "DATABASE_URL", secret = "db" }"#),
            "{lines}"
        );
        assert!(
            lines.contains(r#"{ name = "DJANGO_SETTINGS_MODULE", value = "shop.settings" }"#),
            "{lines}"
        );
        assert!(lines.contains(r#"confine.connect-url = ["db"]"#), "{lines}");
        assert!(lines.contains(r#"secrets = ["db"]"#), "{lines}");
    }

    #[test]
    fn the_services_a_project_reaches_are_ports_of_its_own_setting() {
        let d = derive(
            "django-runner",
            &settings(
                r#"manage = ["py", "manage.py"]
                connect = [6379, 9200]"#,
            ),
        )
        .unwrap();
        let lines = to_toml(&d.grants).join("\n");
        assert!(lines.contains("confine.connect = [6379, 9200]"), "{lines}");
        for bad in [
            "connect = [0]",
            "connect = [70000]",
            "connect = 6379",
            r#"connect = ["6379"]"#,
        ] {
            let e = derive(
                "django-runner",
                &settings(&format!("manage = [\"py\", \"manage.py\"]\n{bad}")),
            )
            .unwrap_err();
            assert_eq!(e.key.as_deref(), Some("connect"), "{bad}");
            assert!(e.message.contains("connect = [6379]"), "{}", e.message);
        }
    }

    #[test]
    fn runner_settings_the_derivation_cannot_use_are_named() {
        let e = derive("django-runner", &settings("")).unwrap_err();
        assert!(e.message.contains("`manage` is missing"), "{e:?}");
        let e = derive("django-runner", &settings(r#"manage = ["py", "**"]"#)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("manage"));
        let e = derive(
            "django-runner",
            &settings(
                r#"manage = ["py", "manage.py"]
            project-dir = "/src""#,
            ),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("project-dir"));
    }

    #[test]
    fn variables_no_grant_may_give_are_refused_at_their_setting() {
        for key in ["env", "secret-env"] {
            let e = derive(
                "django-runner",
                &settings(&format!(
                    "manage = [\"py\", \"manage.py\"]\n{key} = {{ LD_PRELOAD = \"x\" }}"
                )),
            )
            .unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key));
            assert!(e.message.contains("LD_PRELOAD"), "{e:?}");
        }
    }

    #[test]
    fn pg_dump_pins_every_connection_variable_to_the_url() {
        let d = derive("pg-dump-backup", &settings(r#"url-secret = "db""#)).unwrap();
        let lines = to_toml(&d.grants).join("\n");
        for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"] {
            assert!(
                lines.contains(&format!(r#"{{ name = "{var}", url-secret = "db" }}"#)),
                "{var}: {lines}"
            );
        }
        assert!(lines.contains(r#"confine.connect-url = ["db"]"#), "{lines}");
        assert_eq!(d.required_commands, 2);
        let d = derive(
            "pg-dump-backup",
            &settings(
                r#"url-secret = "db"
            host = "db.internal"
            port = 6543"#,
            ),
        )
        .unwrap();
        let lines = to_toml(&d.grants).join("\n");
        assert!(
            lines.contains(r#"{ name = "PGHOST", value = "db.internal" }"#),
            "{lines}"
        );
        assert!(lines.contains("confine.connect = [6543]"), "{lines}");
    }

    #[test]
    fn file_backup_reads_the_config_folder_only() {
        let d = derive(
            "file-backup",
            &settings(r#"source = "/project/db.sqlite3""#),
        )
        .unwrap();
        let lines = to_toml(&d.grants).join("\n");
        assert!(
            lines.contains(r#"{ host = ".", access = "read-only", guest = "/project" }"#),
            "{lines}"
        );
        assert!(!d.grants.contains_key("commands"));
        for bad in ["/etc/passwd", "/project", "/project/../etc/x", "db.sqlite3"] {
            let e = derive("file-backup", &settings(&format!("source = {bad:?}"))).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("source"), "{bad}");
        }
        let d = derive(
            "file-backup",
            &settings(
                r#"source = "/project/db.sqlite3"
            method = "sqlite3""#,
            ),
        )
        .unwrap();
        assert_eq!(d.required_commands, 2);
    }

    #[test]
    fn slack_reaches_slack_only() {
        let d = derive("slack-notifier", &settings("")).unwrap();
        let lines = to_toml(&d.grants).join("\n");
        assert!(
            lines.contains(r#"hosts = ["https://hooks.slack.com"]"#),
            "{lines}"
        );
        assert!(lines.contains(r#"secrets = ["slack-webhook"]"#), "{lines}");
    }
}
