//! Shared harness: a fresh copy of the demo project in a temp dir, a config pointing at the
//! built plugins and the venv, and helpers that read the real SQLite database and history.

pub mod helper;
pub mod pg;
pub mod receiver;
pub mod s3;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run the tests with `just test`, which creates it",
        p.display()
    );
    p
}

pub fn plugin(name: &str) -> PathBuf {
    let p = root()
        .join("target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run the tests with `just test`, which builds the plugins",
        p.display()
    );
    p
}

/// The findings of a run report or a lint report, as (migration name, rule), in its order.
pub fn findings(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub struct Project {
    pub dir: tempfile::TempDir,
    /// `XDG_STATE_HOME` for every run: the state directory lies outside the project.
    pub state_home: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n == "db.sqlite3"
            || n == ".platform-migrate"
            || n == "__pycache__"
            || n == "platform-migrate.toml"
        {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The standard output of a finished command, after asserting it succeeded (its standard
/// error is the panic message otherwise).
pub fn succeeded(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// sha256 of django-runner's helper script: what its minimal grant pins for `shell -c`.
pub fn helper_sha256() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(helper::text().as_bytes()))
}

/// sha256 of the helper text `migrate-in-session` sends: what that grant pins instead.
pub fn helper_migrating_sha256() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(helper::migrating_text().as_bytes()))
}

/// django-runner's minimal command grant for `py` (as in the demo's config and the README).
pub fn django_commands(py: &str) -> String {
    django_grants(py, &helper_sha256(), true)
}

/// django-runner's grant for `migrate-in-session = true`: the migrating helper in place of the
/// plain one, and no `manage.py migrate` at all (the session migrates).
pub fn django_commands_in_session(py: &str) -> String {
    django_grants(py, &helper_migrating_sha256(), false)
}

fn django_grants(py: &str, helper: &str, migrate: bool) -> String {
    let migrate = if migrate {
        format!(
            "\n    {{ program = \"{py}\", args = [\"manage.py\", \"migrate\", \"--noinput\", \"-v1\", \"?--fake\", \"?--database=*\", \"?<name>\", \"?<name>\"] }},"
        )
    } else {
        String::new()
    };
    format!(
        r#"[
    {{ program = "{py}", args = ["manage.py", "shell", "-c", "sha256:{helper}"] }},{migrate}
    {{ program = "{py}", args = ["manage.py", "makemigrations", "--noinput", "<name>"] }},
    {{ program = "{py}", args = ["manage.py", "loaddata", "-v1", "?--database=*", "<name>"] }},
]"#
    )
}

/// Whether this test run drives django-runner with `migrate-in-session = true` everywhere
/// (`PM_TEST_RUNNER=session`; `just test` runs the scenario tests once more that way, so
/// both ways of migrating keep the same behaviour).
pub fn session_mode() -> bool {
    std::env::var("PM_TEST_RUNNER").as_deref() == Ok("session")
}

/// django-runner's settings and command grant for `py`, with `extra` settings: the demo's, or
/// with `in_session` the same migrating in its session.
pub fn django_entry(py: &str, extra: &str, in_session: bool) -> (String, String) {
    if in_session {
        (
            format!("manage = [\"{py}\", \"manage.py\"]{extra}, migrate-in-session = true"),
            django_commands_in_session(py),
        )
    } else {
        (
            format!("manage = [\"{py}\", \"manage.py\"]{extra}"),
            django_commands(py),
        )
    }
}

/// The config the tests use: the demo's, with absolute paths (in [`session_mode`], its
/// runner migrating in its session).
pub fn config_text() -> String {
    config_text_with(session_mode())
}

/// [`config_text`], its runner migrating in its session or not.
pub fn config_text_with(in_session: bool) -> String {
    let py = python().display().to_string();
    let django = django_entry(&py, "", in_session);
    format!(
        r#"
[plugins.django]
path = "{runner}"
settings = {{ {settings} }}
grants.commands = {commands}
grants.confine.write = ["."]

[plugins.sqlite-backup]
path = "{backup}"
settings = {{ source = "/project/db.sqlite3" }}
grants.dirs = [{{ host = ".", guest = "/project", access = "read-only" }}]

[env.dev]
runner = "django"
backup = "sqlite-backup"

[env.test]
runner = "django"

[env.prod]
runner = "django"
backup = "sqlite-backup"
"#,
        runner = plugin("django_runner").display(),
        backup = plugin("file_backup").display(),
        settings = django.0,
        commands = django.1,
    )
}

impl Project {
    /// A fresh copy of examples/demo with the test config.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&root().join("examples/demo"), dir.path());
        std::fs::write(dir.path().join("platform-migrate.toml"), config_text()).unwrap();
        Project {
            dir,
            state_home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory of the config in the project folder, as the host names it by
    /// default: `$XDG_STATE_HOME/platform-migrate/<folder>-<sha256 of its real path, 12 hex>`.
    pub fn state(&self) -> PathBuf {
        use sha2::{Digest, Sha256};
        let real = std::fs::canonicalize(self.path()).unwrap();
        let digest = hex::encode(Sha256::digest(real.as_os_str().as_encoded_bytes()));
        let name: String = real
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        self.state_home
            .path()
            .join("platform-migrate")
            .join(format!("{name}-{}", &digest[..12]))
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("platform-migrate.toml"), text).unwrap();
    }

    /// Run the built binary in the project folder.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// The binary as a command, with extra environment variables, not yet started.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_platform-migrate"));
        c.args(args)
            .current_dir(self.path())
            .env("XDG_STATE_HOME", self.state_home.path())
            .env_remove("PLATFORM_MIGRATE_LOG")
            .envs(env.iter().copied());
        c
    }

    /// Run the built binary with extra environment variables (secrets).
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::from(self.command(args, env).output().unwrap())
    }

    /// The backup catalog as JSON (`backups` array), empty when there is none.
    pub fn catalog(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(self.state().join("backups.json")) {
            Ok(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                v["backups"].as_array().cloned().unwrap_or_default()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Every file the run wrote under the state dir, concatenated (to look for secrets).
    pub fn state_text(&self) -> String {
        let mut out = String::new();
        for name in ["history.jsonl", "backups.json"] {
            if let Ok(t) = std::fs::read_to_string(self.state().join(name)) {
                out.push_str(&t);
            }
        }
        out
    }

    /// `(app, name)` of every migration recorded as applied in the real SQLite file.
    pub fn applied(&self) -> BTreeSet<(String, String)> {
        let db = self.path().join("db.sqlite3");
        if !db.exists() {
            return BTreeSet::new();
        }
        let script = "import sqlite3,sys,json\n\
            c=sqlite3.connect(sys.argv[1])\n\
            t=c.execute(\"select count(*) from sqlite_master where name='django_migrations'\").fetchone()[0]\n\
            rows=c.execute('select app,name from django_migrations').fetchall() if t else []\n\
            print(json.dumps(rows))";
        let rows: Vec<(String, String)> =
            serde_json::from_slice(&self.sqlite(script, &[])).unwrap();
        rows.into_iter().collect()
    }

    /// Rows of a SQL query against the SQLite file, as JSON arrays.
    pub fn query(&self, sql: &str) -> Vec<serde_json::Value> {
        let script = "import sqlite3,sys,json\n\
            c=sqlite3.connect(sys.argv[1])\n\
            rows=[list(r) for r in c.execute(sys.argv[2])]\n\
            c.commit()\n\
            print(json.dumps(rows))";
        serde_json::from_slice(&self.sqlite(script, &[sql])).unwrap()
    }

    /// Run a Python script with the SQLite file as argv[1] (then `args`); its stdout.
    fn sqlite(&self, script: &str, args: &[&str]) -> Vec<u8> {
        succeeded(
            Command::new(python())
                .args(["-c", script])
                .arg(self.path().join("db.sqlite3"))
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// Names of the tables in the SQLite file.
    pub fn tables(&self) -> BTreeSet<String> {
        let script = "import sqlite3,sys,json\n\
            c=sqlite3.connect(sys.argv[1])\n\
            print(json.dumps([r[0] for r in c.execute(\"select name from sqlite_master where type='table'\")]))";
        let rows: Vec<String> = serde_json::from_slice(&self.sqlite(script, &[])).unwrap();
        rows.into_iter().collect()
    }

    /// History lines as JSON.
    pub fn history(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(self.state().join("history.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn backups(&self, env: &str) -> Vec<PathBuf> {
        let dir = self.state().join("backups").join(env);
        let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }
}

/// Write `<app>/migrations/<name>.py` into the project.
pub fn add_migration(p: &Project, app: &str, name: &str, body: &str) {
    std::fs::write(
        p.path()
            .join(app)
            .join("migrations")
            .join(format!("{name}.py")),
        body,
    )
    .unwrap();
}

/// Add `orders/migrations/0004_slow.py`: a migration after the demo's last orders migration
/// whose one statement is `SELECT pg_sleep(seconds)`.
pub fn add_slow_sql_migration(p: &Project, seconds: u32) {
    add_migration(
        p,
        "orders",
        "0004_slow",
        &format!(
            "from django.db import migrations\n\n\
             class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
             operations = [migrations.RunSQL(\"SELECT pg_sleep({seconds})\", migrations.RunSQL.noop)]\n"
        ),
    );
}

/// Assert that `doc` matches the JSON schema at `schema` (a path from the repository root),
/// as the reference validator reads it: Python's `jsonschema` in the test venv
/// (tests/requirements.txt), with the draft the schema names. (A Rust validator in the test
/// build turned on features of crates the binary shares, so `cargo test` built wasmtime a
/// second time.)
#[track_caller]
pub fn validate_schema(doc: &serde_json::Value, schema: &str) {
    const CHECK: &str = "import json, sys\n\
from jsonschema import validators\n\
schema = json.load(open(sys.argv[1]))\n\
doc = json.load(sys.stdin)\n\
cls = validators.validator_for(schema)\n\
cls.check_schema(schema)\n\
errors = ['%s at /%s' % (e.message, '/'.join(map(str, e.absolute_path))) for e in cls(schema).iter_errors(doc)]\n\
print(json.dumps(errors))\n";
    let mut child = std::process::Command::new(python())
        .args(["-c", CHECK])
        .arg(root().join(schema))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test venv's python runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(doc.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the schema check could not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<String> = serde_json::from_slice(&out.stdout).expect("a JSON list of errors");
    assert!(
        errors.is_empty(),
        "does not match the schema: {errors:#?}\n{doc:#}"
    );
}

/// `app.name` of each migration a history entry says changed, in its order.
pub fn changed_ids(entry: &serde_json::Value) -> Vec<String> {
    entry["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}.{}",
                a["app"].as_str().unwrap(),
                a["name"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, n)| (a.to_string(), n.to_string()))
        .collect()
}

pub const ALL: &[(&str, &str)] = &[
    ("users", "0001_initial"),
    ("users", "0002_user_email_user_joined"),
    ("users", "0003_fill_emails"),
    ("orders", "0001_initial"),
    ("orders", "0002_order_status"),
    ("orders", "0003_order_note"),
];

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.all());
        self
    }

    /// The one-line error message main printed.
    pub fn error_line(&self) -> String {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or("")
            .to_string()
    }
}
