//! `platform-migrate init`: write a first `platform-migrate.toml` for the Django project in the
//! config's folder. It finds `manage.py` (there or one folder down), the virtualenv's python
//! (`$VIRTUAL_ENV`, `.venv`, `venv`) and the settings module, asks the built-in runner which
//! database Django is configured with (Django answers, not a reading of settings.py), and
//! writes a short commented config on the built-ins: `dev` and `test` on that database, `prod`
//! on PostgreSQL at `$DATABASE_URL` with a verified pg_dump backup. It never overwrites a file.

use crate::config::Config;
use crate::exit::{Code, Exit};
use crate::plugin_api::{Opener, RunContext};
use std::path::{Path, PathBuf};

/// What init found in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Project {
    /// `manage.py`, relative to the config's folder.
    manage: String,
    /// The python, relative to the config's folder when it lies inside it.
    python: String,
    /// `DJANGO_SETTINGS_MODULE` when the environment sets one other than manage.py's default.
    settings_env: Option<String>,
    /// The settings module Django will use (for the heading comment).
    settings: Option<String>,
    /// Ports of the services the settings name besides the database (caches, other
    /// databases, a broker), with where each is named: granted to the runner's programs.
    connect: Vec<(u16, String)>,
}

/// `platform-migrate init`, writing `config` (exit 2 when it exists or no project is found).
pub fn main(config: &Path) -> Result<Code, Exit> {
    let config = std::path::absolute(config)
        .map_err(|e| Exit::usage(format!("cannot resolve {}: {e}", config.display())))?;
    let shown = config.display().to_string();
    if config.exists() {
        return Err(Exit::usage(format!(
            "{shown} already exists; init never overwrites a config: edit it, remove it first, or pass --config OTHER.toml"
        )));
    }
    let dir = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut project = find(&dir)?;
    let (vendor, database, connect) = ask_django(&dir, &config, &project)?;
    project.connect = connect;
    let text = render(&project, &vendor, &database, &dir);
    // create_new: a file that appeared meanwhile is still never overwritten.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config)
        .map_err(|e| Exit::usage(format!("cannot create {shown}: {e}")))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| Exit::failed(format!("cannot write {shown}: {e}")))?;
    // The config must load as written (the same check every later command makes).
    Config::load(&config).map_err(|e| {
        Exit::failed(format!(
            "init wrote {shown}, but it does not load ({e}); this is a bug, please report it"
        ))
    })?;
    println!(
        "wrote {shown}: dev and test on the project's {vendor} database, prod on PostgreSQL at $DATABASE_URL"
    );
    let cd = std::env::current_dir()
        .ok()
        .filter(|c| c != &dir)
        .map(|_| format!("cd {} && ", dir.display()))
        .unwrap_or_default();
    println!("next: {cd}platform-migrate --env dev --show");
    Ok(Code::Success)
}

/// `manage.py`, the python and the settings module of the project in `dir`.
fn find(dir: &Path) -> Result<Project, Exit> {
    let manage = find_manage(dir)?;
    let manage_dir = dir.join(&manage).parent().map(Path::to_path_buf);
    let python = find_python(dir, manage_dir.as_deref())?;
    let text = std::fs::read_to_string(dir.join(&manage)).unwrap_or_default();
    let default = settings_default(&text);
    let from_env = std::env::var("DJANGO_SETTINGS_MODULE")
        .ok()
        .filter(|s| !s.is_empty());
    let settings_env = from_env.clone().filter(|e| Some(e) != default.as_ref());
    Ok(Project {
        manage,
        python,
        settings_env,
        settings: from_env.or(default),
        connect: Vec::new(),
    })
}

fn find_manage(dir: &Path) -> Result<String, Exit> {
    if dir.join("manage.py").is_file() {
        return Ok("manage.py".into());
    }
    let mut below: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Exit::usage(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("manage.py").is_file())
        .filter_map(|e| e.file_name().to_str().map(|n| format!("{n}/manage.py")))
        .filter(|p| !p.starts_with('.'))
        .collect();
    below.sort();
    match below.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Exit::usage(format!(
            "no manage.py in {0} (looked at {0}/manage.py and {0}/*/manage.py); run init in your Django project's folder, or pass --config PROJECT/platform-migrate.toml",
            dir.display()
        ))),
        many => Err(Exit::usage(format!(
            "several manage.py below {}: {}; run init in the folder of the one to migrate",
            dir.display(),
            many.join(", ")
        ))),
    }
}

/// The virtualenv's python: `$VIRTUAL_ENV`, then `.venv` and `venv` beside the config or
/// manage.py. Written relative to the config's folder when inside it.
fn find_python(dir: &Path, manage_dir: Option<&Path>) -> Result<String, Exit> {
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(v).join("bin/python"));
    }
    for base in std::iter::once(dir).chain(manage_dir) {
        for venv in [".venv", "venv"] {
            candidates.push(base.join(venv).join("bin/python"));
        }
    }
    let found = candidates.iter().find(|p| p.exists()).ok_or_else(|| {
        Exit::usage(format!(
            "no virtualenv found (looked at $VIRTUAL_ENV, {0}/.venv and {0}/venv); create one with Django installed (python3 -m venv .venv && .venv/bin/pip install -r requirements.txt) or activate it, then run init again",
            dir.display()
        ))
    })?;
    // The venv's own path, not the interpreter it links to: only it gives the venv's packages.
    Ok(match found.strip_prefix(dir) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => found.display().to_string(),
    })
}

/// The module manage.py sets by default: `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")`.
fn settings_default(manage: &str) -> Option<String> {
    let at = manage.find("DJANGO_SETTINGS_MODULE")?;
    let rest = &manage[at + "DJANGO_SETTINGS_MODULE".len()..];
    let rest = rest.trim_start_matches(['"', '\'']).trim_start();
    let rest = rest.strip_prefix(',')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    valid.then(|| value.to_string())
}

/// `text` as a TOML string (quoted and escaped as TOML reads it back).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The runner entry's settings lines for `project` (shared by dev, test and prod).
fn runner_settings(p: &Project) -> String {
    let mut out = format!(
        "settings.manage = [{}, {}]\n",
        quoted(&p.python),
        quoted(&p.manage)
    );
    if let Some(s) = &p.settings_env {
        out.push_str(&format!(
            "settings.env = {{ DJANGO_SETTINGS_MODULE = {} }}\n",
            quoted(s)
        ));
    }
    if !p.connect.is_empty() {
        let ports: Vec<String> = p.connect.iter().map(|(port, _)| port.to_string()).collect();
        let named: Vec<String> = p
            .connect
            .iter()
            .map(|(_, setting)| crate::text::for_terminal(setting).replace(['\n', '\r'], " "))
            .collect();
        out.push_str(&format!(
            "settings.connect = [{}]  # {}\n",
            ports.join(", "),
            named.join(", ")
        ));
    }
    out
}

/// What init learns from Django through the built-in runner: the database's vendor and name,
/// and the ports of the other services the settings name.
type Learned = (String, String, Vec<(u16, String)>);

/// Ask Django, through the built-in runner, which database the project uses and which other
/// services its settings name (a runner before WIT 0.3.0 cannot say: none then).
fn ask_django(dir: &Path, config: &Path, p: &Project) -> Result<Learned, Exit> {
    let text = format!(
        "[plugins.django]\nplugin = \"builtin:django-runner\"\n{}\n[env.init]\nrunner = \"django\"\n",
        runner_settings(p)
    );
    let cfg =
        Config::parse(&text, "init", config.to_path_buf(), dir.to_path_buf()).map_err(|e| {
            Exit::failed(format!(
                "init's own probe config does not load ({e}); this is a bug, please report it"
            ))
        })?;
    let env = cfg.env("init").map_err(Exit::failed)?;
    let ui = crate::ui::Ui::new(crate::ui::Verbosity::Quiet).on_stderr();
    let sandbox = crate::sandbox::Sandbox::new(crate::secrets::Redactor::default(), ui)
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    let mut runner = sandbox.runner(&cfg.base_dir, &cfg.plugins["django"], env.runner_env())?;
    let ctx = RunContext::new("init", "init", false);
    let info = runner.plugin.check_connection(&ctx)?.map_err(|e| {
        Exit::failed(format!(
            "Django could not start with {} {} ({}); fix that (does `{} {} check` work?), then run init again",
            p.python,
            p.manage,
            e.message(),
            p.python,
            p.manage
        ))
    })?;
    let mut connect: Vec<(u16, String)> = Vec::new();
    match runner.plugin.services(&ctx)? {
        Ok(services) => {
            for svc in services {
                let Some(port) = svc.port.filter(|p| *p > 0) else {
                    continue;
                };
                match connect.iter_mut().find(|(p, _)| *p == port) {
                    Some((_, named)) => {
                        named.push_str(" and ");
                        named.push_str(&svc.setting);
                    }
                    None => connect.push((port, svc.setting)),
                }
            }
        }
        Err(e) => tracing::debug!("the runner cannot list services: {}", e.message()),
    }
    connect.sort();
    Ok((info.vendor.to_string(), info.database, connect))
}

/// The config text (at most about 30 lines).
fn render(p: &Project, vendor: &str, database: &str, dir: &Path) -> String {
    let runner = runner_settings(p);
    let settings = p.settings.as_deref().unwrap_or("the project's settings");
    let mut out = format!(
        "# platform-migrate config for {settings}, by `platform-migrate init`. Paths start here;\n\
         # each built-in's grant comes from its settings (`platform-migrate plugin inspect NAME`).\n\
         [plugins.django]\nplugin = \"builtin:django-runner\"\n{runner}"
    );
    // A SQLite file inside this folder gets a backup in dev; the built-in sees it at /project.
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let sqlite_file = (vendor == "sqlite")
        .then(|| {
            let db = Path::new(database);
            db.strip_prefix(dir)
                .or_else(|_| db.strip_prefix(&real))
                .ok()
                .map(Path::to_path_buf)
        })
        .flatten();
    if let Some(rel) = &sqlite_file {
        out.push_str(&format!(
            "\n[plugins.sqlite-backup]\nplugin = \"builtin:file-backup\"\nsettings.source = {}\n",
            quoted(&format!("/project/{}", rel.display()))
        ));
    }
    out.push_str(&format!(
        "\n[plugins.django-prod]  # PostgreSQL at $DATABASE_URL: settings.py must read it (dj-database-url)\nplugin = \"builtin:django-runner\"\n{runner}\
         settings.secret-env = {{ DATABASE_URL = \"database-url\" }}\n\
         grants.secrets.database-url = {{ env = \"DATABASE_URL\" }}\n\n\
         [plugins.pg-backup]\nplugin = \"builtin:pg-dump-backup\"\nsettings.url-secret = \"database-url\"\n\
         grants.secrets.database-url = {{ env = \"DATABASE_URL\" }}\n\n\
         [env.dev]\nrunner = \"django\"\n"
    ));
    if sqlite_file.is_some() {
        out.push_str("backup = \"sqlite-backup\"   # optional in dev: a failure only warns\n");
    }
    out.push_str(
        "\n[env.test]\nrunner = \"django\"           # CI: `--env test --reset` starts from an empty database\n\n\
         [env.prod]\nrunner = \"django-prod\"\n\
         backup = \"pg-backup\"         # required and verified; prod also needs --confirm\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_default_is_read_from_manage_py() {
        let manage =
            "def main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n";
        assert_eq!(settings_default(manage).as_deref(), Some("mysite.settings"));
        let manage = "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"a.b\")";
        assert_eq!(settings_default(manage).as_deref(), Some("a.b"));
        assert_eq!(settings_default("import os"), None);
        assert_eq!(
            settings_default("os.environ.setdefault('DJANGO_SETTINGS_MODULE', x)"),
            None
        );
    }

    /// The config `init` wrote for a project in /srv/app, loaded as every command loads it.
    fn load(text: &str) -> Config {
        Config::parse(
            text,
            "platform-migrate.toml",
            "/srv/app/platform-migrate.toml".into(),
            "/srv/app".into(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn the_config_is_short_has_no_hash_and_loads() {
        let p = Project {
            manage: "manage.py".into(),
            python: ".venv/bin/python".into(),
            settings_env: None,
            settings: Some("mysite.settings".into()),
            connect: Vec::new(),
        };
        for (vendor, db) in [("sqlite", "/srv/app/db.sqlite3"), ("postgresql", "app")] {
            let text = render(&p, vendor, db, Path::new("/srv/app"));
            let lines = text.lines().count();
            assert!(lines <= 31, "{lines} lines:\n{text}");
            assert!(!text.contains("sha256"), "{text}");
            let cfg = load(&text);
            assert_eq!(cfg.envs.len(), 3);
            assert_eq!(
                cfg.envs["dev"].backup.is_some(),
                vendor == "sqlite",
                "{text}"
            );
            assert_eq!(cfg.envs["prod"].backup.as_deref(), Some("pg-backup"));
        }
    }

    #[test]
    fn odd_paths_are_written_as_toml_reads_them() {
        let p = Project {
            manage: "src/manage.py".into(),
            python: "/opt/my \"venv\"\\x/bin/python\u{1b}".into(),
            settings_env: Some("shop.settings.prod".into()),
            settings: None,
            connect: vec![
                (6379, "CACHES[\"default\"]\n".into()),
                (11211, "CACHES[\"x\"]".into()),
            ],
        };
        let text = render(
            &p,
            "sqlite",
            "/srv/app/data/db \"1\".sqlite3",
            Path::new("/srv/app"),
        );
        let cfg = load(&text);
        let setting = |plugin: &str, key: &str| {
            cfg.plugins[plugin]
                .setting_entries
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
                .unwrap()
        };
        assert_eq!(
            setting("django", "manage")[0].as_str(),
            Some(p.python.as_str())
        );
        assert_eq!(
            setting("sqlite-backup", "source").as_str(),
            Some("/project/data/db \"1\".sqlite3")
        );
        // The services' ports reach both runners; a setting's name stays in its comment.
        for runner in ["django", "django-prod"] {
            let ports = setting(runner, "connect");
            assert_eq!(ports.as_array().map(Vec::len), Some(2), "{text}");
        }
        assert!(
            text.contains(
                "settings.connect = [6379, 11211]  # CACHES[\"default\"] , CACHES[\"x\"]\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_manage_py_says_where_it_looked() {
        let d = tempfile::tempdir().unwrap();
        let e = find_manage(d.path()).unwrap_err();
        assert_eq!(e.code, Code::Usage);
        assert!(e.message.contains("manage.py"), "{}", e.message);
        assert!(e.message.contains(&d.path().display().to_string()));
        std::fs::create_dir(d.path().join("src")).unwrap();
        std::fs::write(d.path().join("src/manage.py"), "").unwrap();
        assert_eq!(find_manage(d.path()).unwrap(), "src/manage.py");
    }
}
