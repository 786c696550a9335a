//! The large-app corpus (issue 38): real applications from PyPI (Nautobot, pretix; wagtail's
//! fresh install is in tests/lint_corpus.rs and runs in CI), each installed into its own
//! venv by `just corpus` (tests/corpus/*-requirements.txt), run through the built binary on
//! built-in plugins exactly as a user configures them, against a real PostgreSQL cluster and
//! the real services their settings name (Redis, started here). These tests take minutes each,
//! so they are `#[ignore]`d in `just test` and run by `just corpus`.
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

/// One corpus app as a user configures it.
struct App<'a> {
    /// Its venv under target/corpus (and its requirements file's name).
    name: &'a str,
    /// What follows the venv's python to reach Django's management commands.
    manage: &'a [&'a str],
    /// Environment variables its settings read for the database `db` (the password apart).
    env: &'a dyn Fn(&str) -> Vec<(String, String)>,
    /// The variable its settings read the database password from.
    password_var: &'a str,
    /// Extra `[plugins.NAME]` lines (`settings.connect = [...]`).
    extra: String,
    /// At least this many migrations pending on an empty database.
    steps: usize,
    /// The app whose last migration a prod rollback undoes, and the (table, column) that
    /// migration added, which the rollback drops and the backup brings back.
    rollback: (&'a str, &'a str, &'a str),
    /// The findings of an upgrade (the first half of the history installed, a row in every
    /// table, the rest planned), reviewed one by one: (migration, rule, why it is a real risk
    /// on a populated table).
    upgrade: &'a [(&'a str, &'a str, &'a str)],
}

/// One row in every table of `db`'s public schema (foreign keys not enforced while writing:
/// `session_replication_role = replica`), so that no finding is set aside as on an empty
/// table. Returns (tables filled, tables whose constraints refused the row).
fn one_row_everywhere(pg: &Pg, db: &str) -> (u32, u32) {
    let out = pg.psql(
        db,
        r#"SET session_replication_role = replica;
CREATE TEMP TABLE pm_fill (ok int, bad int);
DO $$
DECLARE r record; cols text; vals text; ok int := 0; bad int := 0;
BEGIN
  FOR r IN SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS t
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND c.relname <> 'django_migrations' LOOP
    SELECT string_agg(format('%I', a.attname), ', '),
           string_agg(coalesce(quote_literal(CASE
             WHEN t.typname = 'uuid' THEN gen_random_uuid()::text
             WHEN t.typname IN ('json', 'jsonb') THEN '{}'
             WHEN t.typname = 'ltree' THEN 'a'
             WHEN t.typname = 'bytea' THEN ''
             WHEN t.typtype = 'e' THEN (SELECT enumlabel FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder LIMIT 1)
             WHEN t.typcategory = 'N' THEN '1'
             WHEN t.typcategory = 'B' THEN 'false'
             WHEN t.typcategory = 'S' THEN 'x'
             WHEN t.typcategory = 'D' THEN 'now'
             WHEN t.typcategory = 'T' THEN '1 day'
             WHEN t.typcategory = 'I' THEN '10.0.0.1'
             WHEN t.typcategory = 'A' THEN '{}'
           END), 'NULL') || '::' || format_type(a.atttypid, a.atttypmod), ', ')
      INTO cols, vals
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
        AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '';
    BEGIN
      IF cols IS NULL THEN
        EXECUTE format('INSERT INTO %s DEFAULT VALUES', r.t);
      ELSE
        EXECUTE format('INSERT INTO %s (%s) VALUES (%s)', r.t, cols, vals);
      END IF;
      ok := ok + 1;
    EXCEPTION WHEN others THEN
      bad := bad + 1;
    END;
  END LOOP;
  INSERT INTO pm_fill VALUES (ok, bad);
END $$;
SELECT ok || ' ' || bad FROM pm_fill;"#,
    );
    // psql prints each statement's tag before the last one's row.
    let last = out.lines().last().unwrap_or_default();
    let mut n = last
        .split_whitespace()
        .map(|x| x.parse::<u32>().unwrap_or_else(|_| panic!("{out}")));
    (n.next().unwrap(), n.next().unwrap())
}

/// Everything the corpus checks for one app, in `dir` (its project folder), on `pg`.
fn check(app: &App<'_>, dir: &Path, pg: &Pg) {
    let venv = venv(app.name);
    let python = venv.join("bin/python").display().to_string();
    let ours = pg.create_db(&format!("{}_ours", app.name));
    let theirs = pg.create_db(&format!("{}_django", app.name));
    let config_for = |db: &str| -> String {
        let settings_env = (app.env)(db)
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let manage = std::iter::once(python.as_str())
            .chain(app.manage.iter().copied())
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            r#"
[plugins.{name}]
plugin = "builtin:django-runner"
settings.manage = [{manage}]
settings.env = {{ {settings_env} }}
settings.secret-env = {{ {password_var} = "db-password" }}
grants.secrets.db-password = {{ env = "PM_CORPUS_DB_PASSWORD" }}
{extra}

[plugins.pg-backup]
plugin = "builtin:pg-dump-backup"
settings.url-secret = "database-url"
grants.secrets.database-url = {{ env = "PM_CORPUS_DATABASE_URL" }}

[env.prod]
runner = "{name}"
backup = "pg-backup"
"#,
            name = app.name,
            password_var = app.password_var,
            extra = app.extra,
        )
    };
    std::fs::write(dir.join("platform-migrate.toml"), config_for(&ours)).unwrap();
    let url = pg.url(&ours);
    let env = [
        ("PM_CORPUS_DB_PASSWORD", pg.password.as_str()),
        ("PM_CORPUS_DATABASE_URL", url.as_str()),
    ];
    // `partial`: a migrate to a point half-way, whose post_migrate handlers may assume a fully
    // migrated project (Nautobot's look up models of apps not migrated yet): Django records
    // the migrations before it sends the signal, so only such a failure is let through.
    let manage = |args: &[&str], db: &str, partial: bool| -> f64 {
        let t = Instant::now();
        let out = Command::new(&python)
            .args(app.manage)
            .args(args)
            .current_dir(dir)
            .envs((app.env)(db))
            .env(app.password_var, &pg.password)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || (partial && stderr.contains("in emit_post_migrate_signal")),
            "{} {args:?}: {stderr}",
            app.name,
        );
        t.elapsed().as_secs_f64()
    };
    let by_hand = |args: &[&str], db: &str| manage(args, db, false);

    // Planning everything on an empty database: no finding, and next to `migrate --plan`.
    let (shown, show_secs) = run_bin(dir, &["--env", "prod", "--show", "--output", "json"], &env);
    shown.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let steps = doc["plan"].as_array().unwrap().len();
    assert!(steps >= app.steps, "{steps} steps\n{}", shown.all());
    assert_eq!(doc["findings"], serde_json::json!([]), "{}", shown.all());
    let plan_secs = by_hand(&["migrate", "--plan"], &theirs);

    // The fresh install passes the prod gate with --confirm alone.
    let (run, run_secs) = run_bin(dir, &["--env", "prod", "--confirm"], &env);
    run.expect(0);
    let migrate_secs = by_hand(&["migrate"], &theirs);
    assert_eq!(pg.applied(&ours).len(), pg.applied(&theirs).len());
    // More pairs on fresh databases (`PM_CORPUS_PAIRS`, default 1), every other one with
    // Django first: one pair of four-minute installs on this machine varies by more than
    // the 5% the install may cost, so the figure is the median of the pairs' ratios.
    let pairs: usize = std::env::var("PM_CORPUS_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut ratios = vec![run_secs / migrate_secs];
    for k in 1..pairs {
        let (o, t) = (
            pg.create_db(&format!("{}_ours_{k}", app.name)),
            pg.create_db(&format!("{}_django_{k}", app.name)),
        );
        let config = format!("pair{k}.toml");
        std::fs::write(dir.join(&config), config_for(&o)).unwrap();
        let url_k = pg.url(&o);
        let env_k = [
            ("PM_CORPUS_DB_PASSWORD", pg.password.as_str()),
            ("PM_CORPUS_DATABASE_URL", url_k.as_str()),
        ];
        let ours_run = || {
            let (r, secs) = run_bin(
                dir,
                &["--config", &config, "--env", "prod", "--confirm"],
                &env_k,
            );
            r.expect(0);
            secs
        };
        let (a, b) = if k % 2 == 1 {
            let b = by_hand(&["migrate"], &t);
            (ours_run(), b)
        } else {
            (ours_run(), by_hand(&["migrate"], &t))
        };
        println!(
            "{} install pair {}: ours {a:.1} s, migrate {b:.1} s = {:.2}x",
            app.name,
            k + 1,
            a / b
        );
        ratios.push(a / b);
    }
    ratios.sort_by(f64::total_cmp);
    let median_ratio = ratios[ratios.len() / 2];
    let (a, b) = (schema(pg, &ours), schema(pg, &theirs));
    if a != b {
        let only_ours: Vec<&str> = a.lines().filter(|l| !b.contains(l)).take(20).collect();
        let only_theirs: Vec<&str> = b.lines().filter(|l| !a.contains(l)).take(20).collect();
        panic!("schemas differ:\nours only: {only_ours:#?}\ndjango only: {only_theirs:#?}");
    }

    // A prod rollback of one app's last migration drops a column; the backup taken before it
    // restores that column into a new database.
    let (rollback_app, table, column) = app.rollback;
    let has_column = |db: &str| {
        pg.psql(
            db,
            &format!("SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}' AND column_name = '{column}'"),
        ) == "1"
    };
    assert!(has_column(&ours));
    let (back, _) = run_bin(
        dir,
        &[
            "--env",
            "prod",
            "--rollback",
            "--app",
            rollback_app,
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
    let restored = pg.db_name(&format!("{}_restored", app.name));
    let (r, _) = run_bin(dir, &["backups", "restore", &id, "--to", &restored], &env);
    r.expect(0);
    assert!(has_column(&restored));

    // An upgrade: the first half of the plan installed by Django, a row in every table, the
    // rest planned. Every finding left is a reviewed, real risk on a populated table.
    let upgrade = pg.create_db(&format!("{}_upgrade", app.name));
    let plan: Vec<(String, String)> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["app"].as_str().unwrap().to_string(),
                s["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut targets: Vec<(String, String)> = Vec::new();
    for (a, n) in &plan[..plan.len() / 2] {
        targets.retain(|(t, _)| t != a);
        targets.push((a.clone(), n.clone()));
    }
    // The latest target first: it brings most of the first half with it.
    for (a, n) in targets.iter().rev() {
        manage(&["migrate", a, n], &upgrade, true);
    }
    let installed = pg.applied(&upgrade).len();
    assert!(installed >= plan.len() / 2, "{installed} installed");
    let (filled, refused) = one_row_everywhere(pg, &upgrade);
    std::fs::write(dir.join("upgrade.toml"), config_for(&upgrade)).unwrap();
    let (shown, up_show_secs) = run_bin(
        dir,
        &[
            "--config",
            "upgrade.toml",
            "--env",
            "prod",
            "--show",
            "--output",
            "json",
        ],
        &env,
    );
    shown.expect(0);
    let up_plan_secs = by_hand(&["migrate", "--plan"], &upgrade);
    let up: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let found: std::collections::BTreeSet<(String, String)> = up["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{}.{}",
                    f["app"].as_str().unwrap(),
                    f["name"].as_str().unwrap()
                ),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reviewed: std::collections::BTreeSet<(String, String)> = app
        .upgrade
        .iter()
        .map(|(m, r, _)| (m.to_string(), r.to_string()))
        .collect();
    let pending_after = up["plan"].as_array().unwrap().len();
    assert_eq!(
        found,
        reviewed,
        "{}: upgrade findings differ from the review ({pending_after} steps pending, {filled} tables with a row, {refused} refused one)\nfound: {found:#?}\ndetails: {:#}",
        app.name,
        up["findings"]
    );

    println!(
        "{} upgrade: {installed} of {steps} migrations installed first, {filled} tables given a row ({refused} refused), {pending_after} planned: {} findings, each reviewed",
        app.name,
        found.len()
    );
    println!(
        "{} ({steps} migrations): --show {show_secs:.2} s vs migrate --plan {plan_secs:.2} s = {:.2}x; \
         fresh prod install {run_secs:.1} s vs migrate {migrate_secs:.1} s = {:.2}x (median of {} pair(s): {median_ratio:.2}x); \
         upgrade ({pending_after} pending) --show {up_show_secs:.2} s vs migrate --plan {up_plan_secs:.2} s = {:.2}x",
        app.name,
        show_secs / plan_secs,
        run_secs / migrate_secs,
        ratios.len(),
        up_show_secs / up_plan_secs,
    );
}

/// Nautobot (PyPI `nautobot`): 471 migrations across its own apps, Django's and third-party
/// ones, PostgreSQL, a Redis cache in its settings (a real redis-server here).
#[test]
#[ignore = "minutes long: `just corpus` runs it"]
fn nautobot_installs_through_the_prod_gate_equals_django_and_rolls_back() {
    let pg = Pg::start();
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let config_py = dir.path().join("nautobot_config.py");
    let nb_root = dir.path().join("root");
    std::fs::create_dir_all(&nb_root).unwrap();
    let init = Command::new(venv("nautobot").join("bin/python"))
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
    let port = pg.port.to_string();
    let env = |db: &str| -> Vec<(String, String)> {
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
    let app = App {
        name: "nautobot",
        manage: &["-m", "nautobot.core.cli"],
        env: &env,
        password_var: "NAUTOBOT_DB_PASSWORD",
        extra: format!("settings.connect = [{}]", redis.port),
        steps: 400,
        rollback: (
            "dcim",
            "dcim_virtualdevicecontext",
            "controller_managed_device_group_id",
        ),
        upgrade: NAUTOBOT_UPGRADE,
    };
    check(&app, dir.path(), &pg);
}

/// pretix (PyPI `pretix`): 302 migrations, 348 files in its base app alone (squashed ones
/// among them), a model moved between apps with SeparateDatabaseAndState; its settings read
/// `PRETIX_<SECTION>_<KEY>` variables.
#[test]
#[ignore = "minutes long: `just corpus` runs it"]
fn pretix_installs_through_the_prod_gate_equals_django_and_rolls_back() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let port = pg.port.to_string();
    let env = |db: &str| -> Vec<(String, String)> {
        vec![
            ("DJANGO_SETTINGS_MODULE".into(), "pretix.settings".into()),
            ("PRETIX_PRETIX_DATADIR".into(), data.display().to_string()),
            ("PRETIX_DATABASE_BACKEND".into(), "postgresql".into()),
            ("PRETIX_DATABASE_HOST".into(), pg.host.clone()),
            ("PRETIX_DATABASE_PORT".into(), port.clone()),
            ("PRETIX_DATABASE_USER".into(), pg.user.clone()),
            ("PRETIX_DATABASE_NAME".into(), db.into()),
        ]
    };
    let app = App {
        name: "pretix",
        manage: &["-m", "pretix"],
        env: &env,
        password_var: "PRETIX_DATABASE_PASSWORD",
        extra: String::new(),
        steps: 290,
        rollback: ("pretixmultidomain", "pretixmultidomain_knowndomain", "mode"),
        upgrade: PRETIX_UPGRADE,
    };
    check(&app, dir.path(), &pg);
}

// Why a finding of each rule on a table that holds rows before the plan is a real risk (the
// review of each upgrade finding below names one of these, or says more).
const FK: &str = "ADD COLUMN ... REFERENCES checks every row while it holds SHARE ROW EXCLUSIVE on both tables: writes stall; add the constraint NOT VALID, then VALIDATE";
const UNIQUE: &str =
    "a unique constraint builds its index under a lock that blocks writes for the whole build";
const INDEX: &str =
    "CREATE INDEX without CONCURRENTLY blocks every write to the table while it builds";
const DROP_COLUMN: &str =
    "the column's data is gone, and code still running that reads it fails: after the deploy only";
const RENAME: &str =
    "code still running uses the old name and fails from the moment the migration commits";
const NOT_NULL: &str = "SET NOT NULL scans every row under ACCESS EXCLUSIVE: reads and writes stall; add a NOT VALID check first";
const DATA_AND_SCHEMA: &str = "the data step runs inside the schema change's transaction, so its locks are held for as long as the data takes";
const DROP_INDEX: &str =
    "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table";
const CHECKED_CONSTRAINT: &str = "ADD CONSTRAINT ... FOREIGN KEY (or CHECK) without NOT VALID reads every row under a lock that blocks writes";

/// Nautobot's upgrade findings, reviewed one by one (Nautobot 3.2.7: 236 migrations planned
/// after the first half, every table holding a row; 304 findings in 110 (migration, rule)
/// pairs). Each is on a table or index that exists before the plan: the drops of indexes are
/// Django rebuilding a foreign key's index (a DROP then a CREATE of the same name, both
/// locking); the one type change was checked against the migration that made the column.
const NAUTOBOT_UPGRADE: &[(&str, &str, &str)] = &[
    ("circuits.0018_status_nonnullable", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("circuits.0018_status_nonnullable", "set-not-null", NOT_NULL),
    ("circuits.0019_remove_providernetwork_slug", "drop-column", DROP_COLUMN),
    ("circuits.0022_circuittermination_cloud_network", "foreign-key-inline", FK),
    ("circuits.0022_circuittermination_cloud_network", "index-without-concurrently", INDEX),
    ("circuits.0023_remove_circuittermination_cable_peer_fields", "drop-column", DROP_COLUMN),
    ("dcim.0047_status_nonnullable", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("dcim.0047_status_nonnullable", "set-not-null", NOT_NULL),
    ("dcim.0048_ensure_virtual_chassis_names_are_unique_and_add_uniqueness_constraint", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("dcim.0048_ensure_virtual_chassis_names_are_unique_and_add_uniqueness_constraint", "drop-index-without-concurrently", DROP_INDEX),
    ("dcim.0048_ensure_virtual_chassis_names_are_unique_and_add_uniqueness_constraint", "index-without-concurrently", INDEX),
    ("dcim.0048_ensure_virtual_chassis_names_are_unique_and_add_uniqueness_constraint", "unique-constraint", UNIQUE),
    ("dcim.0049_remove_slugs_and_change_device_primary_ip_fields", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("dcim.0049_remove_slugs_and_change_device_primary_ip_fields", "drop-column", DROP_COLUMN),
    ("dcim.0049_remove_slugs_and_change_device_primary_ip_fields", "index-without-concurrently", INDEX),
    ("dcim.0052_fix_interface_redundancy_group_created", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("dcim.0052_fix_interface_redundancy_group_created", "drop-column", DROP_COLUMN),
    ("dcim.0052_fix_interface_redundancy_group_created", "rename-column", RENAME),
    ("dcim.0052_fix_interface_redundancy_group_created", "set-not-null", NOT_NULL),
    ("dcim.0053_create_device_family_model", "foreign-key-inline", FK),
    ("dcim.0053_create_device_family_model", "index-without-concurrently", INDEX),
    ("dcim.0054_softwareimage_softwareversion", "foreign-key-inline", FK),
    ("dcim.0054_softwareimage_softwareversion", "index-without-concurrently", INDEX),
    ("dcim.0057_controller_models", "foreign-key-inline", FK),
    ("dcim.0057_controller_models", "index-without-concurrently", INDEX),
    ("dcim.0059_add_role_field_to_interface_models", "foreign-key-inline", FK),
    ("dcim.0059_add_role_field_to_interface_models", "index-without-concurrently", INDEX),
    ("dcim.0061_module_models", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("dcim.0061_module_models", "foreign-key-inline", FK),
    ("dcim.0061_module_models", "index-without-concurrently", INDEX),
    ("dcim.0061_module_models", "unique-constraint", UNIQUE),
    ("dcim.0072_alter_powerfeed_options_and_more", "foreign-key-inline", FK),
    ("dcim.0072_alter_powerfeed_options_and_more", "index-without-concurrently", INDEX),
    ("dcim.0072_alter_powerfeed_options_and_more", "unique-constraint", UNIQUE),
    ("dcim.0078_remove_device_cluster", "drop-column", DROP_COLUMN),
    ("dcim.0081_alter_device_device_redundancy_group_priority_and_more", "alter-column-type", "smallint to integer on dcim_device and its redundancy-group association (PositiveSmallIntegerField to PositiveIntegerField): every row rewritten under ACCESS EXCLUSIVE"),
    ("dcim.0088_cabletocabletermination", "foreign-key-inline", FK),
    ("dcim.0088_cabletocabletermination", "index-without-concurrently", INDEX),
    ("dcim.0088_cabletocabletermination", "unique-constraint", UNIQUE),
    ("dcim.0090_remove_cable_old_gfk_fields", "drop-column", DROP_COLUMN),
    ("dcim.0091_cablepath_add_lane_fields", "drop-column", DROP_COLUMN),
    ("dcim.0091_cablepath_add_lane_fields", "unique-constraint", UNIQUE),
    ("dcim.0092_remove_consoleport_dcim_consoleport_device_name_unique_and_more", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("dcim.0092_remove_consoleport_dcim_consoleport_device_name_unique_and_more", "drop-index-without-concurrently", DROP_INDEX),
    ("dcim.0092_remove_consoleport_dcim_consoleport_device_name_unique_and_more", "index-without-concurrently", INDEX),
    ("django_celery_results.0007_remove_taskresult_hidden", "drop-column", DROP_COLUMN),
    ("django_celery_results.0009_groupresult", "drop-index-without-concurrently", DROP_INDEX),
    ("django_celery_results.0009_groupresult", "index-without-concurrently", INDEX),
    ("django_celery_results.0013_taskresult_django_cele_periodi_1993cf_idx", "index-without-concurrently", INDEX),
    ("extras.0086_taggeditem_uniqueness", "index-without-concurrently", INDEX),
    ("extras.0086_taggeditem_uniqueness", "unique-constraint", UNIQUE),
    ("extras.0087_job__celery_task_fields__dryrun_support", "drop-column", DROP_COLUMN),
    ("extras.0087_job__celery_task_fields__dryrun_support", "rename-column", RENAME),
    ("extras.0087_job__celery_task_fields__dryrun_support", "set-not-null", NOT_NULL),
    ("extras.0093_uniqueness_fixup", "drop-column", DROP_COLUMN),
    ("extras.0093_uniqueness_fixup", "drop-index-without-concurrently", DROP_INDEX),
    ("extras.0093_uniqueness_fixup", "index-without-concurrently", INDEX),
    ("extras.0093_uniqueness_fixup", "unique-constraint", UNIQUE),
    ("extras.0094_alter_objectchange_unique_together", "unique-constraint", UNIQUE),
    ("extras.0096_remove_slugs", "drop-column", DROP_COLUMN),
    ("extras.0096_remove_slugs", "unique-constraint", UNIQUE),
    ("extras.0097_alter_job_result_remove_result", "drop-column", DROP_COLUMN),
    ("extras.0098_rename_data_jobresult_result", "rename-column", RENAME),
    ("extras.0100_fileproxy_job_result", "foreign-key-inline", FK),
    ("extras.0100_fileproxy_job_result", "index-without-concurrently", INDEX),
    ("extras.0102_set_null_objectchange_contenttype", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("extras.0103_add_db_indexes_to_object_change", "index-without-concurrently", INDEX),
    ("extras.0109_dynamicgroup_group_type_dynamicgroup_tags_and_more", "foreign-key-inline", FK),
    ("extras.0109_dynamicgroup_group_type_dynamicgroup_tags_and_more", "index-without-concurrently", INDEX),
    ("extras.0117_create_job_queue_model", "foreign-key-inline", FK),
    ("extras.0117_create_job_queue_model", "index-without-concurrently", INDEX),
    ("extras.0117_create_job_queue_model", "rename-column", RENAME),
    ("extras.0119_remove_task_queues_from_job_and_queue_from_scheduled_job", "drop-column", DROP_COLUMN),
    ("extras.0119_remove_task_queues_from_job_and_queue_from_scheduled_job", "set-not-null", NOT_NULL),
    ("extras.0122_add_graphqlquery_owner_content_type", "foreign-key-inline", FK),
    ("extras.0122_add_graphqlquery_owner_content_type", "index-without-concurrently", INDEX),
    ("extras.0123_alter_joblogentry_created", "index-without-concurrently", INDEX),
    ("extras.0124_add_joblogentry_index", "index-without-concurrently", INDEX),
    ("extras.0125_jobresult_date_started", "index-without-concurrently", INDEX),
    ("extras.0128_remove_job_approval_required_and_more", "drop-column", DROP_COLUMN),
    ("extras.0128_remove_job_approval_required_and_more", "rename-column", RENAME),
    ("extras.0136_scheduledjob_clocked_scheduledjob_exchange_and_more", "foreign-key-inline", FK),
    ("extras.0136_scheduledjob_clocked_scheduledjob_exchange_and_more", "index-without-concurrently", INDEX),
    ("extras.0140_scheduledjob_state", "index-without-concurrently", INDEX),
    ("extras.0142_remove_scheduledjob_approval_required", "drop-column", DROP_COLUMN),
    ("extras.0143_computedfield_output_type_jobresult_cancel_type_and_more", "foreign-key-inline", FK),
    ("extras.0143_computedfield_output_type_jobresult_cancel_type_and_more", "index-without-concurrently", INDEX),
    ("ipam.0036_add_uniqueness_constraints_to_service", "unique-constraint", UNIQUE),
    ("ipam.0038_vlan_group_name_unique_remove_slug", "drop-column", DROP_COLUMN),
    ("ipam.0038_vlan_group_name_unique_remove_slug", "drop-index-without-concurrently", DROP_INDEX),
    ("ipam.0038_vlan_group_name_unique_remove_slug", "index-without-concurrently", INDEX),
    ("ipam.0038_vlan_group_name_unique_remove_slug", "unique-constraint", UNIQUE),
    ("ipam.0042_remove_location_from_vlan_and_prefix", "drop-column", DROP_COLUMN),
    ("ipam.0044_ip_version_nonnullable", "set-not-null", NOT_NULL),
    ("ipam.0048_vrf_status", "foreign-key-inline", FK),
    ("ipam.0048_vrf_status", "index-without-concurrently", INDEX),
    ("ipam.0051_added_optional_vrf_relationship_to_vdc", "foreign-key-inline", FK),
    ("ipam.0051_added_optional_vrf_relationship_to_vdc", "index-without-concurrently", INDEX),
    ("ipam.0051_added_optional_vrf_relationship_to_vdc", "unique-constraint", UNIQUE),
    ("ipam.0052_alter_ipaddress_index_together_and_more", "index-without-concurrently", INDEX),
    ("ipam.0054_namespace_tenant", "foreign-key-inline", FK),
    ("ipam.0054_namespace_tenant", "index-without-concurrently", INDEX),
    ("users.0006_make_object_permission_name_globally_unique", "index-without-concurrently", INDEX),
    ("users.0006_make_object_permission_name_globally_unique", "unique-constraint", UNIQUE),
    ("virtualization.0026_change_virtualmachine_primary_ip_fields", "constraint-without-not-valid", CHECKED_CONSTRAINT),
    ("virtualization.0026_change_virtualmachine_primary_ip_fields", "index-without-concurrently", INDEX),
    ("virtualization.0027_virtualmachine_software_image", "foreign-key-inline", FK),
    ("virtualization.0027_virtualmachine_software_image", "index-without-concurrently", INDEX),
    ("virtualization.0029_add_role_field_to_interface_models", "foreign-key-inline", FK),
    ("virtualization.0029_add_role_field_to_interface_models", "index-without-concurrently", INDEX),
];

/// pretix's upgrade findings, reviewed one by one (pretix 2026.8.0: 151 migrations planned
/// after the first 151, every table holding a row). Each is on a table that exists before the
/// plan; the two type changes were checked against the migrations that made the columns.
const PRETIX_UPGRADE: &[(&str, &str, &str)] = &[
    ("pretixapi.0009_auto_20221217_1847", "foreign-key-inline", FK),
    ("pretixapi.0009_auto_20221217_1847", "unique-constraint", UNIQUE),
    ("pretixbase.0250_eventmetaproperty_filter_public", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0250_eventmetaproperty_filter_public", "drop-column", DROP_COLUMN),
    ("pretixbase.0252_logentry_organizer", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0252_logentry_organizer", "foreign-key-inline", FK),
    ("pretixbase.0252_logentry_organizer", "index-without-concurrently", INDEX),
    ("pretixbase.0257_item_default_price_not_null", "set-not-null", NOT_NULL),
    ("pretixbase.0258_uniq_indx", "foreign-key-inline", FK),
    ("pretixbase.0258_uniq_indx", "index-without-concurrently", INDEX),
    ("pretixbase.0258_uniq_indx", "unique-constraint", UNIQUE),
    ("pretixbase.0260_alter_reusablemedium_index_together", "drop-index-without-concurrently", DROP_INDEX),
    ("pretixbase.0265_saleschannel_and_more", "foreign-key-inline", FK),
    ("pretixbase.0265_saleschannel_and_more", "index-without-concurrently", INDEX),
    ("pretixbase.0265_saleschannel_and_more", "rename-column", RENAME),
    ("pretixbase.0267_remove_old_sales_channels", "drop-column", DROP_COLUMN),
    ("pretixbase.0267_remove_old_sales_channels", "set-not-null", NOT_NULL),
    ("pretixbase.0282_taxrule_default", "index-without-concurrently", INDEX),
    ("pretixbase.0285_voucher_created", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0285_voucher_created", "set-not-null", NOT_NULL),
    ("pretixbase.0286_settingsstore_unique", "unique-constraint", UNIQUE),
    ("pretixbase.0288_invoice_transmission", "rename-column", RENAME),
    ("pretixbase.0289_invoiceline_period", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0289_invoiceline_period", "rename-column", RENAME),
    ("pretixbase.0291_alter_logentry_object_id", "alter-column-type", "integer to bigint on pretixbase_logentry (USING a cast): every row rewritten under ACCESS EXCLUSIVE, and the log is the largest table"),
    ("pretixbase.0292_giftcard_customer", "foreign-key-inline", FK),
    ("pretixbase.0292_giftcard_customer", "index-without-concurrently", INDEX),
    ("pretixbase.0298_pluggable_permissions", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0298_pluggable_permissions", "drop-column", DROP_COLUMN),
    ("pretixbase.0301_reusablemedium_remove_orderposition", "data-and-schema-in-one-migration", DATA_AND_SCHEMA),
    ("pretixbase.0301_reusablemedium_remove_orderposition", "drop-column", DROP_COLUMN),
    ("pretixbase.0303_alter_order_organizer_alter_orderposition_organizer", "set-not-null", NOT_NULL),
    ("pretixbase.0304_tax_rate_decimals", "alter-column-type", "numeric(7,2) to (7,4) on six tables: a new scale rewrites every row under ACCESS EXCLUSIVE (the catalog shows the type before)"),
    ("pretixbase.0306_alter_eventmetaproperty_unique_together", "unique-constraint", UNIQUE),
    ("pretixbase.0308_checkoutsession_invoiceaddress_checkout_session", "foreign-key-inline", FK),
    ("pretixbase.0308_checkoutsession_invoiceaddress_checkout_session", "unique-constraint", UNIQUE),
    ("pretixbase.0309_alter_questionanswer_unique_together_and_more", "foreign-key-inline", FK),
    ("pretixbase.0309_alter_questionanswer_unique_together_and_more", "index-without-concurrently", INDEX),
    ("pretixbase.0309_alter_questionanswer_unique_together_and_more", "unique-constraint", UNIQUE),
];
