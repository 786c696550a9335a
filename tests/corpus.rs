//! The large-app corpus (issue 38): real applications from PyPI, each installed into its own
//! venv by `just corpus` (tests/corpus/*-requirements.txt), run through the built binary on
//! built-in plugins exactly as a user configures them, against a real PostgreSQL cluster and
//! the real services their settings name (Redis, started here). These tests take minutes each,
//! so they are `#[ignore]`d in `just test` and run by `just corpus`; wagtail's fresh install
//! (tests/lint_corpus.rs) is the fast case kept in CI.
//!
//! Each app: `--show` on an empty database finds nothing (what the plan does to what it creates
//! is set aside) and a fresh prod install passes the gate with `--confirm` alone; the schema it
//! leaves equals the one `manage.py migrate` leaves (`pg_dump --schema-only`, normalised); a
//! prod rollback of one app's last migration runs, and the backup taken before it restores the
//! column it dropped. The timings beside Django's are printed for BENCHMARKS.md.

use crate::common;

use common::pg::Pg;
use common::{root, Run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

/// A Redis server on a free port of 127.0.0.1, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (`just corpus` installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Redis { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv `just corpus` made for `app`.
fn venv(app: &str) -> PathBuf {
    let v = root().join("target/corpus").join(app);
    assert!(
        v.join("bin/python").exists(),
        "{} has no venv: run `just corpus`",
        v.display()
    );
    v
}

fn run_bin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, f64) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_platform-migrate"))
        .args(args)
        .current_dir(dir)
        .env_remove("PLATFORM_MIGRATE_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (Run::from(out), t.elapsed().as_secs_f64())
}

/// `pg_dump --schema-only` of `db` without what differs between two equal schemas: comments,
/// blank lines, `SET`/`SELECT pg_catalog` preamble, ownership, and platform-migrate's own
/// ledger schema.
fn schema(pg: &Pg, db: &str) -> String {
    let out = pg
        .client("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d", db])
        .args(["--exclude-schema", "platform_migrate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .filter(|l| !l.starts_with("SET ") && !l.starts_with("SELECT pg_catalog."))
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Nautobot (PyPI `nautobot`): 471 migrations across its own 13 apps, Django's and third-party
/// ones, PostgreSQL, a Redis cache in its settings.
#[test]
#[ignore = "minutes long: `just corpus` runs it"]
fn nautobot_installs_through_the_prod_gate_equals_django_and_rolls_back() {
    let venv = venv("nautobot");
    let python = venv.join("bin/python").display().to_string();
    let pg = Pg::start();
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let config_py = dir.path().join("nautobot_config.py");
    let nb_root = dir.path().join("root");
    std::fs::create_dir_all(&nb_root).unwrap();
    let init = Command::new(&python)
        .args(["-m", "nautobot.core.cli", "init"])
        .arg(&config_py)
        .env("NAUTOBOT_ROOT", &nb_root)
        .output()
        .unwrap();
    assert!(
        config_py.exists(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let ours = pg.create_db("nb_ours");
    let theirs = pg.create_db("nb_django");
    let port = pg.port.to_string();
    // Nautobot's settings read these; the password is a secret, the rest pinned values.
    let nautobot_env = |db: &str| -> Vec<(String, String)> {
        vec![
            ("NAUTOBOT_CONFIG".into(), config_py.display().to_string()),
            ("NAUTOBOT_ROOT".into(), nb_root.display().to_string()),
            ("NAUTOBOT_DB_HOST".into(), pg.host.clone()),
            ("NAUTOBOT_DB_PORT".into(), port.clone()),
            ("NAUTOBOT_DB_USER".into(), pg.user.clone()),
            ("NAUTOBOT_DB_NAME".into(), db.into()),
            ("NAUTOBOT_REDIS_HOST".into(), "127.0.0.1".into()),
            ("NAUTOBOT_REDIS_PORT".into(), redis.port.to_string()),
        ]
    };
    let settings_env = nautobot_env(&ours)
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        dir.path().join("platform-migrate.toml"),
        format!(
            r#"
[plugins.nautobot]
plugin = "builtin:django-runner"
settings.manage = ["{python}", "-m", "nautobot.core.cli"]
settings.connect = [{redis}]
settings.env = {{ {settings_env} }}
settings.secret-env = {{ NAUTOBOT_DB_PASSWORD = "db-password" }}
grants.secrets.db-password = {{ env = "PM_NB_DB_PASSWORD" }}

[plugins.pg-backup]
plugin = "builtin:pg-dump-backup"
settings.url-secret = "database-url"
grants.secrets.database-url = {{ env = "PM_NB_DATABASE_URL" }}

[env.prod]
runner = "nautobot"
backup = "pg-backup"
"#,
            redis = redis.port,
        ),
    )
    .unwrap();
    let url = pg.url(&ours);
    let env = [
        ("PM_NB_DB_PASSWORD", pg.password.as_str()),
        ("PM_NB_DATABASE_URL", url.as_str()),
    ];
    let manage = |args: &[&str], db: &str| -> f64 {
        let t = Instant::now();
        let out = Command::new(&python)
            .args(["-m", "nautobot.core.cli"])
            .args(args)
            .current_dir(dir.path())
            .envs(nautobot_env(db))
            .env("NAUTOBOT_DB_PASSWORD", &pg.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nautobot-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };

    // Planning everything on an empty database: no finding, and next to `migrate --plan`.
    let (shown, show_secs) = run_bin(
        dir.path(),
        &["--env", "prod", "--show", "--output", "json"],
        &env,
    );
    shown.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let steps = doc["plan"].as_array().unwrap().len();
    assert!(steps >= 400, "{steps} steps\n{}", shown.all());
    assert_eq!(doc["findings"], serde_json::json!([]), "{}", shown.all());
    let plan_secs = manage(&["migrate", "--plan"], &theirs);

    // The fresh install passes the prod gate with --confirm alone.
    let (run, run_secs) = run_bin(dir.path(), &["--env", "prod", "--confirm"], &env);
    run.expect(0);
    assert!(run.stdout.contains("finding(s) set aside"), "{}", run.all());
    let migrate_secs = manage(&["migrate"], &theirs);
    assert_eq!(pg.applied(&ours).len(), pg.applied(&theirs).len());
    let (a, b) = (schema(&pg, &ours), schema(&pg, &theirs));
    if a != b {
        let only_ours: Vec<&str> = a.lines().filter(|l| !b.contains(l)).take(20).collect();
        let only_theirs: Vec<&str> = b.lines().filter(|l| !a.contains(l)).take(20).collect();
        panic!("schemas differ:\nours only: {only_ours:#?}\ndjango only: {only_theirs:#?}");
    }

    // A prod rollback of dcim's last migration (it drops a column), then the backup taken
    // before it restores that column into a new database.
    let column = "controller_managed_device_group_id";
    let has_column = |db: &str| {
        pg.psql(
            db,
            &format!("SELECT count(*) FROM information_schema.columns WHERE table_name = 'dcim_virtualdevicecontext' AND column_name = '{column}'"),
        ) == "1"
    };
    assert!(has_column(&ours));
    let (back, _) = run_bin(
        dir.path(),
        &[
            "--env",
            "prod",
            "--rollback",
            "--app",
            "dcim",
            "--confirm",
            "--allow-destructive",
            "--output",
            "json",
        ],
        &env,
    );
    back.expect(0);
    assert!(!has_column(&ours));
    let report: serde_json::Value = serde_json::from_str(&back.stdout).unwrap();
    let id = report["backup"]["id"].as_str().unwrap().to_string();
    let restored = pg.db_name("nb_restored");
    let (r, _) = run_bin(
        dir.path(),
        &["backups", "restore", &id, "--to", &restored],
        &env,
    );
    r.expect(0);
    assert!(has_column(&restored));

    println!(
        "nautobot ({steps} migrations): --show {show_secs:.2} s vs migrate --plan {plan_secs:.2} s = {:.2}x; \
         fresh prod install {run_secs:.1} s vs migrate {migrate_secs:.1} s = {:.2}x",
        show_secs / plan_secs,
        run_secs / migrate_secs
    );
}
