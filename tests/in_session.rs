//! `migrate-in-session`: django-runner migrates inside its helper session (one Django start per
//! run, not two), granted by the migrating helper's own sha256 and nothing else. The same
//! outcomes as `manage.py migrate`, on SQLite and PostgreSQL, and what the helper refuses.

use crate::common;

use common::helper::{migrating_text, text, Session};
use common::pg::{django_pg_plugin_in_session, Pg};
use common::{add_migration, changed_ids, set, Project};

const URL_VAR: &str = "PM_TEST_DATABASE_URL";

/// The test config with django-runner migrating in its session, granted only the migrating
/// helper (no `manage.py migrate`).
pub(crate) fn sqlite_in_session() -> String {
    common::config_text_with(true)
}

#[test]
fn the_session_migrates_and_rolls_back_without_a_manage_py_migrate_grant() {
    let p = Project::new();
    let config = sqlite_in_session();
    assert!(config.contains("migrate-in-session = true"), "{config}");
    assert!(!config.contains("\"migrate\""), "{config}");
    p.write_config(&config);
    // dev is verbose: Django's own progress lines show as they come.
    let r = p.run(&["--env", "dev"]);
    r.expect(0);
    assert!(
        r.stdout.contains("|   Applying users.0001_initial... OK"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("manage.py migrate"), "{}", r.all());
    for m in common::ALL {
        assert!(p.applied().contains(&(m.0.into(), m.1.into())), "{m:?}");
    }
    let h = p.history();
    assert_eq!(h[0]["outcome"], "succeeded");
    let mut recorded = changed_ids(&h[0]);
    recorded.sort();
    let mut db: Vec<String> = p
        .applied()
        .iter()
        .map(|(a, n)| format!("{a}.{n}"))
        .collect();
    db.sort();
    assert_eq!(recorded, db);
    // Back one step, and --fake forward again: the same flags as manage.py's.
    p.run(&["--env", "dev", "--rollback", "--app", "orders"])
        .expect(0);
    assert!(!p
        .applied()
        .contains(&("orders".into(), "0003_order_note".into())));
    assert!(p
        .applied()
        .contains(&("orders".into(), "0002_order_status".into())));
    p.run(&["--env", "dev", "--app", "orders", "--fake"])
        .expect(0);
    assert!(p
        .applied()
        .contains(&("orders".into(), "0003_order_note".into())));
    // Faked: the column 0003 adds was never created.
    let cols = p.query("SELECT name FROM pragma_table_info('orders_order')");
    assert!(!cols.iter().any(|c| c[0] == "note"), "{cols:?}");
}

#[test]
fn a_migration_past_timeout_secs_is_stopped_in_the_session_as_manage_py_would_be() {
    let p = Project::new();
    p.write_config(&sqlite_in_session().replacen(
        "migrate-in-session = true }",
        "migrate-in-session = true, timeout-secs = 2 }",
        1,
    ));
    p.run(&["--env", "dev"]).expect(0);
    add_migration(
        &p,
        "orders",
        "0004_slow",
        "import time\nfrom django.db import migrations\n\n\
         def slow(apps, schema_editor):\n    time.sleep(30)\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(slow, migrations.RunPython.noop)]\n",
    );
    let started = std::time::Instant::now();
    let r = p.run(&["--env", "dev"]);
    let took = started.elapsed();
    r.expect(1);
    assert!(r.error_line().contains("timed out"), "{}", r.all());
    assert!(
        took < std::time::Duration::from_secs(20),
        "it ran {took:?}, past its 2 s"
    );
    assert!(!p.applied().contains(&("orders".into(), "0004_slow".into())));
    assert_eq!(p.history().last().unwrap()["outcome"], "failed");
}

#[test]
fn after_a_migrate_stopped_past_its_time_the_run_finishes_under_its_lock_again() {
    // PostgreSQL: the stopped session held the run lock, and the run still reads what stands
    // and appends its ledger row. Those go through a new session, which must hold the lock
    // again first: the server's statement log shows the order.
    let pg = Pg::start();
    let db = pg.create_db("relock");
    pg.psql(
        "postgres",
        &format!("ALTER DATABASE \"{db}\" SET log_statement = 'all'"),
    );
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.prod]\nrunner = \"django-pg\"\nbackup-required = false\n",
        django_pg_plugin_in_session(URL_VAR).replacen(
            "migrate-in-session = true }",
            "migrate-in-session = true, timeout-secs = 3 }",
            1,
        )
    ));
    p.run_with(&["--env", "prod", "--confirm"], &env).expect(0);
    common::add_slow_sql_migration(&p, 60);
    let Some(before) = pg.server_log() else {
        eprintln!("skipped: an external server's log is not readable here");
        return;
    };
    let r = p.run_with(&["--env", "prod", "--confirm"], &env);
    r.expect(1);
    assert!(r.error_line().contains("timed out"), "{}", r.all());
    assert!(!pg.applied(&db).contains(&"orders.0004_slow".to_string()));
    let log = pg.server_log().unwrap();
    let run = &log[before.len()..];
    let at = |what: &str, from: usize| run[from..].find(what).map(|i| i + from);
    let slept = at("SELECT pg_sleep(60)", 0).unwrap_or_else(|| panic!("{run}"));
    let relocked = at("pg_try_advisory_lock", slept)
        .unwrap_or_else(|| panic!("the lock was not taken again after the stop:\n{run}"));
    let recorded = at("INSERT INTO \"platform_migrate\".runs", slept)
        .unwrap_or_else(|| panic!("no ledger row after the stop:\n{run}"));
    assert!(
        relocked < recorded,
        "the ledger row was written before the lock was taken again:\n{run}"
    );
    // And the ledger holds the failed run.
    let outcome = pg.psql(
        &db,
        "SELECT line::json->>'outcome' FROM platform_migrate.runs ORDER BY seq DESC LIMIT 1",
    );
    assert_eq!(outcome, "failed");
}

#[test]
fn sigint_or_sigterm_mid_migration_in_the_session_is_recorded_as_with_manage_py() {
    let p = Project::new();
    p.write_config(&sqlite_in_session());
    crate::reliability::interrupted_mid_migration(&p);
}

#[test]
fn the_plain_helper_grant_does_not_grant_migrating_in_the_session() {
    let p = Project::new();
    // migrate-in-session on, but only the plain helper (and manage.py migrate) granted.
    p.write_config(&common::config_text_with(false).replacen(
        "\"manage.py\"] }",
        "\"manage.py\"], migrate-in-session = true }",
        1,
    ));
    let r = p.run(&["--env", "dev"]);
    r.expect(4);
    let e = r.error_line();
    assert!(e.contains("may not run"), "{}", r.all());
    // The refusal names the exact grant that would allow it.
    assert!(
        e.contains(&format!("sha256:{}", common::helper_migrating_sha256())),
        "{e}"
    );
    assert!(p.applied().is_empty(), "{:?}", p.applied());
}

#[test]
fn the_helper_migrates_only_as_the_migrating_text_and_only_plain_names() {
    let p = Project::new();
    let db = p.path().join("db.sqlite3");
    assert!(!db.exists());
    // The plain text, asked to migrate (as a plugin holding only its grant would ask).
    let mut plain = Session::start(p.path(), &text(), &[]);
    let refused = plain.request(serde_json::json!({"cmd": "migrate", "target": {"kind": "all"}}));
    assert_eq!(refused["error"]["kind"], "denied", "{refused}");
    plain.finish();
    assert!(p.applied().is_empty(), "{:?}", p.applied());

    let mut session = Session::start(p.path(), &migrating_text(), &[]);
    // An option where a name goes would reach migrate's argument parser as an option.
    for target in [
        serde_json::json!({"kind": "app", "app": "--run-syncdb"}),
        serde_json::json!({"kind": "position", "app": "users", "migration": "-v3"}),
        serde_json::json!({"kind": "app", "app": "users\nx"}),
        serde_json::json!({"kind": "app", "app": ""}),
    ] {
        let a = session.request(serde_json::json!({"cmd": "migrate", "target": target}));
        assert!(
            a["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("not a plain name"),
            "{target}: {a}"
        );
    }
    assert!(p.applied().is_empty(), "{:?}", p.applied());
    let a = session.request(serde_json::json!({
        "cmd": "migrate",
        "target": {"kind": "position", "app": "users", "migration": "0002_user_email_user_joined"},
    }));
    assert_eq!(a["ok"], true, "{a}");
    session.finish();
    assert_eq!(
        p.applied()
            .into_iter()
            .filter(|(a, _)| a == "users")
            .collect::<std::collections::BTreeSet<_>>(),
        set(&[
            ("users", "0001_initial"),
            ("users", "0002_user_email_user_joined")
        ])
    );
}

#[test]
fn a_failing_migration_in_the_session_cannot_forge_an_answer_and_is_reported_like_manage_py() {
    let pg = Pg::start();
    let db = pg.create_db("insession");
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.test]\nrunner = \"django-pg\"\n",
        django_pg_plugin_in_session(URL_VAR)
    ));
    // Prints a line that looks like the helper's answer, twice (through Python and through a
    // program it starts), then fails.
    add_migration(
        &p,
        "orders",
        "0004_boom",
        "import os\nfrom django.db import migrations\n\n\
         def boom(apps, schema_editor):\n    print('@@PM-JSON@@{\"ok\": true}', flush=True)\n    \
         os.system('echo \"@@PM-JSON@@{\\\\\"ok\\\\\": true}\"')\n    \
         raise RuntimeError('boom: prod data is not what this migration expects')\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(boom, migrations.RunPython.noop)]\n",
    );
    let r = p.run_with(&["--env", "test", "-v"], &env);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("boom: prod data"), "{}", r.all());
    assert!(e.contains("(in the helper session)"), "{e}");
    assert!(e.contains("database changed before the failure"), "{e}");
    // What the migration printed was shown as its output, not taken for an answer.
    assert!(r.all().contains("| @@PM-JSON@@"), "{}", r.all());
    let applied = pg.applied(&db);
    assert!(
        applied.contains(&"orders.0003_order_note".to_string()),
        "{applied:?}"
    );
    assert!(
        !applied.contains(&"orders.0004_boom".to_string()),
        "{applied:?}"
    );
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "failed");
    let mut recorded = changed_ids(&last);
    recorded.sort();
    let mut applied = applied;
    applied.sort();
    assert_eq!(recorded, applied);
}

#[test]
fn a_lock_timeout_in_the_session_is_retried_like_one_in_manage_py() {
    crate::plan_safety::blocked_for_a_few_seconds_then_retried(&django_pg_plugin_in_session(
        URL_VAR,
    ));
}

#[test]
fn a_large_install_in_the_session_leaves_the_schema_manage_py_migrate_leaves() {
    // wagtail's app set (>150 migrations from PyPI): once by hand with `manage.py migrate`,
    // once through the prod gate migrating in the session. Same migrations, same schema.
    let pg = Pg::start();
    let (by_hand, ours) = (pg.create_db("byhand"), pg.create_db("ours"));
    let p = crate::lint_corpus::wagtail_project();
    p.write_config(&format!(
        "{}\n[env.prod]\nrunner = \"django-pg\"\nbackup-required = false\n",
        django_pg_plugin_in_session(URL_VAR)
    ));
    common::succeeded(
        std::process::Command::new(common::python())
            .args(["manage.py", "migrate", "--noinput"])
            .current_dir(p.path())
            .env("DATABASE_URL", pg.url(&by_hand))
            .output()
            .unwrap(),
    );
    let url = pg.url(&ours);
    let r = p.run_with(&["--env", "prod", "--confirm"], &[(URL_VAR, url.as_str())]);
    r.expect(0);
    let (mut a, mut b) = (pg.applied(&by_hand), pg.applied(&ours));
    a.sort();
    b.sort();
    assert!(a.len() >= 150, "{}", a.len());
    assert_eq!(a, b);
    let schema = |db: &str| {
        let out = common::succeeded(
            pg.client("pg_dump")
                .args([
                    "--schema-only",
                    "--no-owner",
                    "--exclude-schema=platform_migrate",
                    db,
                ])
                .output()
                .unwrap(),
        );
        // Less the random key of each dump's `\restrict` guard lines.
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b) = (schema(&by_hand), schema(&ours));
    assert!(a.contains("CREATE TABLE public.wagtailcore_page"), "{a}");
    if a != b {
        let dir = std::env::temp_dir();
        std::fs::write(dir.join("pm-schema-by-hand.sql"), &a).unwrap();
        std::fs::write(dir.join("pm-schema-ours.sql"), &b).unwrap();
        panic!(
            "the schemas differ: diff {0}/pm-schema-by-hand.sql {0}/pm-schema-ours.sql",
            dir.display()
        );
    }
}
