//! Plan safety on PostgreSQL: lock and statement timeouts keep a migration from queueing behind
//! a long transaction (and the application from queueing behind the migration).

use crate::common;

use common::pg::{django_pg_plugin, Pg};
use common::{add_migration, Project};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const URL_VAR: &str = "PM_TEST_DATABASE_URL";

fn project(env_extra: &str) -> Project {
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.test]\nrunner = \"django-pg\"\n{env_extra}",
        django_pg_plugin(URL_VAR)
    ));
    p
}

#[test]
fn a_migration_blocked_by_another_session_fails_at_the_lock_timeout() {
    let pg = Pg::start();
    let db = pg.create_db("locks");
    let p = project("lock-timeout-ms = 1000\n");
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(&["--env", "test"], &env).expect(0);
    add_priority(&p);

    // Another session reads orders in a long transaction: ALTER TABLE must wait for it.
    let mut holder = share_lock_on_orders(&pg, &db, 120);
    let t = Instant::now();
    let r = p.run_with(&["--env", "test"], &env);
    let took = t.elapsed();
    // End the other session (killing psql alone leaves its backend asleep with the lock).
    pg.psql(
        &db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("lock timeout"), "{}", r.all());
    assert!(e.contains("lock-timeout-ms = 1000"), "{e}");
    assert!(e.contains("env.test.lock-timeout-ms"), "{e}");
    assert!(
        took < Duration::from_secs(60),
        "it waited {took:?} instead of giving up"
    );
    assert!(!pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "failed");
    // With the other session gone, the same run succeeds.
    p.run_with(&["--env", "test"], &env).expect(0);
    assert!(pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
}

#[test]
fn a_statement_past_the_statement_timeout_is_cancelled() {
    let pg = Pg::start();
    let db = pg.create_db("slow");
    let p = project("statement-timeout-ms = 1000\n");
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(&["--env", "test"], &env).expect(0);
    common::add_slow_sql_migration(&p, 30);
    let t = Instant::now();
    let r = p.run_with(&["--env", "test"], &env);
    r.expect(1);
    assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    assert!(
        r.error_line().contains("statement-timeout-ms = 1000"),
        "{}",
        r.all()
    );
}

#[test]
fn show_sql_prints_what_sqlmigrate_prints_forwards_and_backwards() {
    let pg = Pg::start();
    let db = pg.create_db("sql");
    let p = project("");
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(
        &["--env", "test", "--app", "orders", "--migration", "0001"],
        &env,
    )
    .expect(0);

    let sqlmigrate = |args: &[&str]| -> Vec<String> {
        let out = common::succeeded(
            Command::new(common::python())
                .args(["manage.py", "sqlmigrate"])
                .args(args)
                .current_dir(p.path())
                .env("DATABASE_URL", &url)
                .output()
                .unwrap(),
        );
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.trim().is_empty() && *l != "BEGIN;" && *l != "COMMIT;")
            .map(str::to_string)
            .collect()
    };
    let ours = |r: &common::Run, app: &str, name: &str| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let step = doc["plan_sql"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["app"] == app && s["name"] == name)
            .unwrap_or_else(|| panic!("no SQL for {app}.{name}: {doc:#}"))
            .clone();
        step["sql"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s.as_str()
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|l| !l.trim().is_empty())
            .collect()
    };

    let r = p.run_with(
        &["--env", "test", "--show", "--sql", "--output", "json"],
        &env,
    );
    r.expect(0);
    let forwards = ours(&r, "orders", "0002_order_status");
    assert!(
        forwards
            .iter()
            .any(|l| l.contains("ALTER TABLE \"orders_order\" ADD COLUMN \"status\"")),
        "{forwards:#?}"
    );
    assert_eq!(forwards, sqlmigrate(&["orders", "0002_order_status"]));
    let human = p.run_with(&["--env", "test", "--show", "--sql"], &env);
    assert!(
        human
            .stdout
            .contains("ALTER TABLE \"orders_order\" ADD COLUMN \"status\""),
        "{}",
        human.all()
    );

    p.run_with(&["--env", "test"], &env).expect(0);
    let r = p.run_with(
        &[
            "--env",
            "test",
            "--show",
            "--sql",
            "--rollback",
            "--app",
            "orders",
            "--output",
            "json",
        ],
        &env,
    );
    r.expect(0);
    assert_eq!(
        ours(&r, "orders", "0003_order_note"),
        sqlmigrate(&["--backwards", "orders", "0003_order_note"])
    );
    // --sql only with --show.
    p.run_with(&["--env", "test", "--sql"], &env).expect(2);
}

#[test]
fn an_edited_applied_migration_is_reported_and_blocks_prod_until_accepted() {
    let pg = Pg::start();
    let db = pg.create_db("drift");
    let (p, url) = prod_on_postgres(&pg, &db);
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    let run = |args: &[&str]| p.run_with(args, &env);
    run(&["--env", "prod", "--confirm"]).expect(0);
    let sums: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.state().join("checksums/prod.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sums["migrations"].as_object().unwrap().len(), 6, "{sums:#}");

    let file = p.path().join("orders/migrations/0002_order_status.py");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n# edited after it was applied\n");
    std::fs::write(&file, text).unwrap();
    add_priority(&p);

    let shown = run(&["--env", "prod", "--show"]);
    shown.expect(0);
    assert!(
        shown
            .stdout
            .contains("DRIFT: orders.0002_order_status changed since it was applied"),
        "{}",
        shown.all()
    );
    let refused = run(&["--env", "prod", "--confirm"]);
    refused.expect(3);
    let e = refused.error_line();
    assert!(
        e.contains("orders.0002_order_status") && e.contains("--accept-drift"),
        "{}",
        refused.all()
    );
    assert!(!pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
    let accepted = run(&["--env", "prod", "--confirm", "--accept-drift"]);
    accepted.expect(0);
    assert!(pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["accepted_drift"], true);
    assert_eq!(last["drift"][0]["name"], "0002_order_status");
    let again = run(&["--env", "prod", "--show"]);
    again.expect(0);
    assert!(!again.stdout.contains("DRIFT"), "{}", again.all());
}

/// prod on PostgreSQL with verified pg_dump backups.
fn prod_on_postgres(pg: &Pg, db: &str) -> (Project, String) {
    let p = Project::new();
    p.write_config(&format!(
        "{}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n",
        django_pg_plugin(URL_VAR),
        common::pg::pg_backup_plugin("PM_TEST_BACKUP_URL"),
    ));
    (p, pg.url(db))
}

#[test]
fn destructive_changes_are_shown_with_a_safer_pattern_and_refused_in_prod_unless_allowed() {
    let pg = Pg::start();
    let db = pg.create_db("lint");
    let (p, url) = prod_on_postgres(&pg, &db);
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    p.run_with(&["--env", "prod", "--confirm"], &env).expect(0);

    // The safe twin: a nullable column is added without findings or refusal.
    add_migration(
        &p,
        "orders",
        "0004_order_memo",
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.AddField(\"order\", \"memo\", models.TextField(null=True))]\n",
    );
    let ok = p.run_with(&["--env", "prod", "--confirm", "--output", "json"], &env);
    ok.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]), "{doc:#}");

    // The unsafe one: dropping a column.
    add_migration(
        &p,
        "orders",
        "0005_remove_order_note",
        "from django.db import migrations\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0004_order_memo\")]\n    \
         operations = [migrations.RemoveField(\"order\", \"note\")]\n",
    );
    let shown = p.run_with(&["--env", "prod", "--show"], &env);
    shown.expect(0);
    assert!(
        shown
            .stdout
            .contains("! DROP-COLUMN: ALTER TABLE \"orders_order\" DROP COLUMN \"note\""),
        "{}",
        shown.all()
    );
    assert!(
        shown
            .stdout
            .contains("safer: dropping a column loses its data"),
        "{}",
        shown.all()
    );
    let refused = p.run_with(&["--env", "prod", "--confirm"], &env);
    refused.expect(3);
    let e = refused.error_line();
    assert!(
        e.contains("1 finding(s) in 1 migration(s) (drop-column 1): orders.0005_remove_order_note: drop-column"),
        "{e}"
    );
    // The way forward ends the line: the command as given, with the flag that proceeds.
    assert!(
        e.ends_with("To run anyway: platform-migrate --env prod --confirm --allow-destructive"),
        "{e}"
    );
    assert!(!pg
        .applied(&db)
        .contains(&"orders.0005_remove_order_note".to_string()));
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "refused");
    assert_eq!(last["findings"][0]["rule"], "drop-column");

    let allowed = p.run_with(&["--env", "prod", "--confirm", "--allow-destructive"], &env);
    allowed.expect(0);
    assert!(pg
        .applied(&db)
        .contains(&"orders.0005_remove_order_note".to_string()));
    assert_eq!(p.history().last().unwrap()["allowed_destructive"], true);
}

#[test]
fn lint_rules_can_be_switched_off_per_project_and_unknown_ones_are_config_errors() {
    let pg = Pg::start();
    let db = pg.create_db("lintoff");
    let (p, url) = prod_on_postgres(&pg, &db);
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    p.run_with(&["--env", "prod", "--confirm"], &env).expect(0);
    pg.psql(&db, common::pg::DEMO_ROWS);
    add_migration(
        &p,
        "orders",
        "0004_order_note_index",
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.AddIndex(\"order\", models.Index(fields=[\"note\"], name=\"order_note_idx\"))]\n",
    );
    let r = p.run_with(&["--env", "prod", "--confirm"], &env);
    r.expect(3);
    assert!(
        r.error_line().contains("index-without-concurrently"),
        "{}",
        r.all()
    );
    let text = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&format!(
        "[lint]\ndisable = [\"index-without-concurrently\"]\n{text}"
    ));
    p.run_with(&["--env", "prod", "--confirm"], &env).expect(0);
    p.write_config(&format!("[lint]\ndisable = [\"no-such-rule\"]\n{text}"));
    let bad = p.run_with(&["--env", "prod", "--show"], &env);
    bad.expect(2);
    assert!(
        bad.error_line()
            .contains("unknown lint rule \"no-such-rule\""),
        "{}",
        bad.all()
    );
}

/// Add `ops` as a chain of orders migrations after 0003, one migration per entry; returns
/// their names in order.
fn chain(p: &Project, ops: &[(&str, &str)]) -> Vec<String> {
    let mut prev = "0003_order_note".to_string();
    let mut names = Vec::new();
    for (i, (label, op)) in ops.iter().enumerate() {
        let name = format!("{:04}_{label}", i + 4);
        let atomic = if op.contains("Concurrently") {
            "    atomic = False\n"
        } else {
            ""
        };
        add_migration(
            p,
            "orders",
            &name,
            &format!(
                "from django.db import migrations, models\n\
                 from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently\n\n\
                 class Migration(migrations.Migration):\n{atomic}    dependencies = [(\"orders\", \"{prev}\")]\n    \
                 operations = [{op}]\n"
            ),
        );
        names.push(name.clone());
        prev = name;
    }
    names
}

/// Findings of `--env test --show` on PostgreSQL, as (migration, rule).
fn findings(pg: &Pg, db: &str, p: &Project) -> Vec<(String, String)> {
    let url = pg.url(db);
    let r = p.run_with(
        &["--env", "test", "--show", "--output", "json"],
        &[(URL_VAR, url.as_str())],
    );
    r.expect(0);
    common::findings(&serde_json::from_str(&r.stdout).unwrap())
}

#[test]
fn every_rule_fires_on_a_real_unsafe_migration_and_not_on_its_safe_twin() {
    let pg = Pg::start();
    let url_db = pg.create_db("rules");
    let p = project("");
    p.run_with(&["--env", "test"], &[(URL_VAR, pg.url(&url_db).as_str())])
        .expect(0);
    pg.psql(&url_db, common::pg::DEMO_ROWS);
    // The index `unindex` drops exists before the plan (one the database lacks is the plan's).
    pg.psql(
        &url_db,
        "CREATE INDEX orders_order_old_idx ON orders_order (note)",
    );
    let unsafe_ops: &[(&str, &str, &str)] = &[
        ("drop_note", "migrations.RemoveField(\"order\", \"note\")", "drop-column"),
        ("rename_status", "migrations.RenameField(\"order\", \"status\", \"state\")", "rename-column"),
        ("total_type", "migrations.AlterField(\"order\", \"total\", models.DecimalField(max_digits=14, decimal_places=3))", "alter-column-type"),
        ("priority", "migrations.AddField(\"order\", \"priority\", models.IntegerField())", "add-column-not-null-without-default"),
        ("memo", "migrations.AddField(\"order\", \"memo\", models.TextField(null=True))", ""),
        ("memo_required", "migrations.AlterField(\"order\", \"memo\", models.TextField(default=\"\"))", "set-not-null"),
        ("check", "migrations.AddConstraint(\"order\", models.CheckConstraint(condition=models.Q(total__gte=0), name=\"total_nonneg\"))", "constraint-without-not-valid"),
        ("unique", "migrations.AddConstraint(\"order\", models.UniqueConstraint(fields=[\"total\", \"user\"], name=\"u_total_user\"))", "unique-constraint"),
        ("index", "migrations.AddIndex(\"order\", models.Index(fields=[\"total\"], name=\"order_total_idx\"))", "index-without-concurrently"),
        // An index that existed before the plan (one the plan created is exempt).
        ("unindex", "migrations.RunSQL(\"DROP INDEX orders_order_old_idx\", reverse_sql=migrations.RunSQL.noop)", "drop-index-without-concurrently"),
        ("table", "migrations.AlterModelTable(\"order\", \"orders_purchase\")", "rename-table"),
        ("delete", "migrations.DeleteModel(\"order\")", "drop-table"),
    ];
    let names = chain(
        &p,
        &unsafe_ops
            .iter()
            .map(|(l, o, _)| (*l, *o))
            .collect::<Vec<_>>(),
    );
    let found = findings(&pg, &url_db, &p);
    for ((_, _, rule), name) in unsafe_ops.iter().zip(&names) {
        let here: Vec<&String> = found
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, r)| r)
            .collect();
        if rule.is_empty() {
            assert!(here.is_empty(), "{name} is safe but got {here:?}");
        } else {
            assert!(
                here.contains(&&rule.to_string()),
                "{rule} did not fire on {name}: {here:?}"
            );
        }
    }
    let rules: std::collections::BTreeSet<&str> = unsafe_ops
        .iter()
        .map(|(_, _, r)| *r)
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(rules.len(), 11, "every rule has a real migration");

    // The safe twins of the same changes: nothing to report.
    let db2 = pg.create_db("twins");
    let q = project("");
    q.run_with(&["--env", "test"], &[(URL_VAR, pg.url(&db2).as_str())])
        .expect(0);
    pg.psql(&db2, common::pg::DEMO_ROWS);
    chain(
        &q,
        &[
            ("memo", "migrations.AddField(\"order\", \"memo\", models.TextField(null=True))"),
            ("priority", "migrations.AddField(\"order\", \"priority\", models.IntegerField(default=0))"),
            ("index", "AddIndexConcurrently(\"order\", models.Index(fields=[\"total\"], name=\"order_total_idx\"))"),
            ("unindex", "RemoveIndexConcurrently(\"order\", \"order_total_idx\")"),
            ("invoice", "migrations.CreateModel(\"Invoice\", [(\"id\", models.BigAutoField(primary_key=True)), (\"order\", models.ForeignKey(\"orders.Order\", models.CASCADE)), (\"number\", models.CharField(max_length=20, unique=True))])"),
        ],
    );
    assert_eq!(findings(&pg, &db2, &q), Vec::<(String, String)>::new());
}

/// A migration adding `orders.priority` (an ALTER TABLE that needs an exclusive lock).
fn add_priority(p: &Project) {
    add_migration(
        p,
        "orders",
        "0004_order_priority",
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.AddField(\"order\", \"priority\", models.IntegerField(default=0))]\n",
    );
}

/// Another session reads `orders_order` in a transaction that lasts `seconds`.
fn share_lock_on_orders(pg: &Pg, db: &str, seconds: u32) -> std::process::Child {
    hold(
        pg,
        db,
        &format!("BEGIN; LOCK TABLE orders_order IN ACCESS SHARE MODE; SELECT pg_sleep({seconds}); COMMIT;"),
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'orders_order' AND l.mode = 'AccessShareLock' AND l.granted",
    )
}

/// Another session runs `sql` (holding its locks until it ends); returns once `locked` (a
/// query counting the lock) says it holds them.
fn hold(pg: &Pg, db: &str, sql: &str, locked: &str) -> std::process::Child {
    let mut child = pg
        .client("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if pg.psql(db, locked) != "0" {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the other session never took its lock");
}

const RETRY_ENV: &str = "lock-timeout-ms = 500\nlock-retries = 8\nlock-retry-budget-secs = 60\n";

#[test]
fn a_migration_blocked_for_a_few_seconds_is_retried_and_succeeds() {
    blocked_for_a_few_seconds_then_retried(&django_pg_plugin(URL_VAR));
}

/// With `runner` as the `django-pg` entry: a migration blocked for 3 s gives up at its lock
/// timeout, is retried, succeeds, and the report and history say so.
pub(crate) fn blocked_for_a_few_seconds_then_retried(runner: &str) {
    let pg = Pg::start();
    let db = pg.create_db("retry");
    let p = Project::new();
    p.write_config(&format!(
        "{runner}\n[env.test]\nrunner = \"django-pg\"\n{RETRY_ENV}"
    ));
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(&["--env", "test"], &env).expect(0);
    // What the ledger row is written under: the run lock (an advisory lock) must still be
    // held after the retried migrate, in both ways of migrating.
    pg.psql(
        &db,
        "CREATE TABLE lock_at_ledger (locks int); GRANT ALL ON lock_at_ledger TO PUBLIC; \
         CREATE FUNCTION lock_at_ledger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO lock_at_ledger SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted; \
         RETURN NEW; END $$; \
         CREATE TRIGGER lock_at_ledger BEFORE INSERT ON platform_migrate.runs \
         FOR EACH ROW EXECUTE FUNCTION lock_at_ledger();",
    );
    add_priority(&p);
    let mut holder = share_lock_on_orders(&pg, &db, 3);
    let r = p.run_with(&["--env", "test", "--output", "json"], &env);
    holder.wait().unwrap();
    r.expect(0);
    assert_eq!(
        pg.psql(
            &db,
            "SELECT string_agg(locks::text, ',') FROM lock_at_ledger"
        ),
        "1",
        "the ledger row was written without the run lock held:\n{}",
        r.all()
    );
    assert!(
        r.stderr
            .contains("attempt 1: orders.0004_order_priority gave up at the lock timeout"),
        "{}",
        r.all()
    );
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let retries = doc["lock_retries"]
        .as_array()
        .expect("lock_retries in the report");
    assert!(!retries.is_empty());
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[0]["migration"], "orders.0004_order_priority");
    assert!(pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["lock_retries"], doc["lock_retries"]);
}

#[test]
fn a_lock_held_past_the_retry_budget_fails_naming_its_holder_and_changes_nothing() {
    let pg = Pg::start();
    let db = pg.create_db("retryout");
    let p = project("lock-timeout-ms = 300\nlock-retries = 10\nlock-retry-budget-secs = 3\n");
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(&["--env", "test"], &env).expect(0);
    add_priority(&p);
    let mut holder = share_lock_on_orders(&pg, &db, 120);
    let pid = pg.psql(
        &db,
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
    );
    let r = p.run_with(&["--env", "test"], &env);
    pg.psql(
        &db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    r.expect(1);
    let e = r.error_line();
    assert!(
        e.contains(&format!("pid {pid}")),
        "the holder is named: {}",
        r.all()
    );
    assert!(
        e.contains("pg_sleep(120)") && e.contains("orders_order"),
        "{e}"
    );
    assert!(
        r.stdout.contains("lock-retry-budget-secs = 3"),
        "{}",
        r.all()
    );
    assert!(!pg
        .applied(&db)
        .contains(&"orders.0004_order_priority".to_string()));
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'priority'"),
        "0",
        "the database is as before"
    );
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "failed");
    assert!(!last["lock_retries"].as_array().unwrap().is_empty());
    assert!(last["lock_holders"][0]
        .as_str()
        .unwrap()
        .contains(&format!("pid {pid}")));
}

#[test]
fn a_cancelled_concurrent_index_build_leaves_no_invalid_index_after_the_retry() {
    let pg = Pg::start();
    let db = pg.create_db("cic");
    let p = project(RETRY_ENV);
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    p.run_with(&["--env", "test"], &env).expect(0);
    add_migration(
        &p,
        "orders",
        "0004_order_total_idx",
        "from django.db import migrations, models\n\
         from django.contrib.postgres.operations import AddIndexConcurrently\n\n\
         class Migration(migrations.Migration):\n    atomic = False\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [AddIndexConcurrently(\"order\", models.Index(fields=[\"total\"], name=\"order_total_idx\"))]\n",
    );
    // A writer's open transaction: CREATE INDEX CONCURRENTLY records the index, then waits for
    // it and gives up at the lock timeout, leaving the index INVALID.
    let mut holder = hold(
        &pg,
        &db,
        "BEGIN; UPDATE orders_order SET note = note; SELECT pg_sleep(3); COMMIT;",
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'orders_order' AND l.mode = 'RowExclusiveLock' AND l.granted",
    );
    let r = p.run_with(&["--env", "test", "--output", "json"], &env);
    holder.wait().unwrap();
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let dropped: Vec<&str> = doc["lock_retries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["dropped_indexes"].as_array().into_iter().flatten())
        .filter_map(|v| v.as_str())
        .collect();
    assert!(dropped.contains(&"order_total_idx"), "{}", r.all());
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0",
        "no invalid index is left"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'order_total_idx'"
        ),
        "1"
    );
}

#[test]
fn an_index_another_session_is_building_is_never_taken_for_debris() {
    let pg = Pg::start();
    let db = pg.create_db("building");
    let p = project("");
    let url = pg.url(&db);
    p.run_with(&["--env", "test"], &[(URL_VAR, url.as_str())])
        .expect(0);
    // A writer keeps a transaction open on users_user; two concurrent index builds then wait
    // for it: one gives up at its lock timeout (debris: an INVALID index nobody builds), the
    // other keeps waiting (INVALID too, until it is done).
    let mut writer = hold(
        &pg,
        &db,
        "BEGIN; UPDATE users_user SET email = email; SELECT pg_sleep(8); COMMIT;",
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'users_user' AND l.mode = 'RowExclusiveLock' AND l.granted",
    );
    let dead = pg
        .client("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", &db])
        .args(["-c", "SET lock_timeout = '300ms'"])
        .args([
            "-c",
            "CREATE INDEX CONCURRENTLY users_dead_idx ON users_user (email)",
        ])
        .output()
        .unwrap();
    assert!(
        !dead.status.success(),
        "the first build was meant to give up"
    );
    let mut building = hold(
        &pg,
        &db,
        "CREATE INDEX CONCURRENTLY users_building_idx ON users_user (username)",
        "SELECT count(*) FROM pg_stat_progress_create_index",
    );
    // The build's catalog entry shows once its first transaction commits.
    let both = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        pg.psql(&db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == "2"
    });
    assert!(
        both,
        "two invalid indexes: the dead one and the one being built; found {} ({})",
        pg.psql(
            &db,
            "SELECT string_agg(indexrelid::regclass::text, ',') FROM pg_index WHERE NOT indisvalid"
        ),
        String::from_utf8_lossy(&dead.stderr)
    );
    // The helper, run as the plugin runs it (`manage.py shell -c HELPER`, DATABASE_URL set).
    let mut session = common::helper::Session::start(
        p.path(),
        &common::helper::text(),
        &[("DATABASE_URL", url.as_str())],
    );
    let invalid = session.request(serde_json::json!({"cmd": "invalid-indexes"}));
    assert_eq!(
        invalid["ok"],
        serde_json::json!(["users_dead_idx"]),
        "{invalid}"
    );
    let refused = session
        .request(serde_json::json!({"cmd": "drop-invalid-index", "name": "users_building_idx"}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("another session is building it; not dropped"),
        "{refused}"
    );
    session.finish();
    writer.wait().unwrap();
    building.wait().unwrap();
    // The other session's build finished: its index is there and valid.
    assert_eq!(
        pg.psql(
            &db,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_building_idx'::regclass"
        ),
        "t"
    );
}
