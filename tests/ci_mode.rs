//! The test environment and CI mode: --reset, fixtures, --show --check, --output json (checked
//! against schemas/run-report.schema.json), and the exit codes CI gates on.

use crate::common;

use common::{config_text, Project, Run};

/// The test config with fixtures for env test.
fn project(fixtures: &[&str]) -> Project {
    let p = Project::new();
    let list: Vec<String> = fixtures.iter().map(|f| format!("\"{f}\"")).collect();
    let text = config_text().replace(
        "[env.test]\nrunner = \"django\"\n",
        &format!(
            "[env.test]\nrunner = \"django\"\nfixtures = [{}]\n",
            list.join(", ")
        ),
    );
    assert!(text.contains("fixtures = ["), "config layout changed");
    p.write_config(&text);
    p
}

fn count(p: &Project, table: &str) -> i64 {
    p.query(&format!("select count(*) from {table}"))[0][0]
        .as_i64()
        .unwrap()
}

fn validate(doc: &serde_json::Value) {
    common::validate_schema(doc, "schemas/run-report.schema.json");
}

/// Stdout is exactly one JSON document; returns it validated.
fn report(r: &Run) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{}", r.all()));
    validate(&doc);
    doc
}

#[test]
fn reset_twice_gives_the_same_state_with_fixtures_loaded() {
    let p = project(&["demo_users", "demo_orders"]);
    let first = p.run(&["--env", "test", "--reset"]);
    first.expect(0);
    assert!(
        first.stdout.contains("2 fixture(s), 4 object(s)"),
        "{}",
        first.all()
    );
    let applied = p.applied();
    assert_eq!(applied.len(), 6);
    let users = p.query("select username, email from users_user order by id");
    assert_eq!(
        users,
        vec![
            serde_json::json!(["ada", "ada@example.com"]),
            serde_json::json!(["grace", "grace@example.com"])
        ]
    );
    assert_eq!(count(&p, "orders_order"), 2);
    // Something a test left behind is gone after the next reset.
    p.query("insert into users_user (username, email, joined) values ('stray', '', '2026-01-01')");
    assert_eq!(count(&p, "users_user"), 3);
    p.run(&["--env", "test", "--reset"]).expect(0);
    assert_eq!(p.applied(), applied);
    assert_eq!(
        p.query("select username, email from users_user order by id"),
        users
    );
    assert_eq!(count(&p, "orders_order"), 2);
    let h = p.history();
    let last = h.last().unwrap();
    assert_eq!(last["reset"], true);
    assert_eq!(last["fixtures"][1]["fixture"], "demo_orders");
    assert_eq!(last["fixtures"][1]["objects"], 2);
    assert_eq!(last["applied"].as_array().unwrap().len(), 6);
}

#[test]
fn no_fixtures_skips_them() {
    let p = project(&["demo_users"]);
    let r = p.run(&["--env", "test", "--reset", "--no-fixtures"]);
    r.expect(0);
    assert!(
        r.stdout.contains("fixtures skipped (--no-fixtures)"),
        "{}",
        r.all()
    );
    assert_eq!(count(&p, "users_user"), 0);
}

#[test]
fn a_broken_fixture_fails_clearly_and_the_migrations_stand() {
    let p = project(&["demo_users", "broken", "demo_orders"]);
    std::fs::write(
        p.path().join("users/fixtures/broken.json"),
        r#"[{"model": "users.user", "pk": 9, "fields": {"username": "x", "no_such_field": 1}}]"#,
    )
    .unwrap();
    let r = p.run(&["--env", "test", "--reset"]);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("fixture 'broken' failed to load"), "{}", r.all());
    assert!(e.contains("no_such_field"), "{e}");
    assert_eq!(p.applied().len(), 6, "the migrations stand");
    assert_eq!(
        count(&p, "orders_order"),
        0,
        "later fixtures were not loaded"
    );
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["outcome"], "failed");
}

#[test]
fn check_exit_codes_for_clean_pending_and_model_changes() {
    let p = Project::new();
    let pending = p.run(&["--env", "test", "--show", "--check"]);
    pending.expect(6);
    assert!(
        pending
            .error_line()
            .contains("6 migration(s) pending in env test"),
        "{}",
        pending.all()
    );
    p.run(&["--env", "test"]).expect(0);
    let clean = p.run(&["--env", "test", "--show", "--check"]);
    clean.expect(0);
    // A model edit without its migration.
    let models = p.path().join("users/models.py");
    let text = std::fs::read_to_string(&models).unwrap();
    std::fs::write(
        &models,
        text.replace(
            "    joined = models.DateTimeField(auto_now_add=True)\n",
            "    joined = models.DateTimeField(auto_now_add=True)\n    nickname = models.CharField(max_length=40, blank=True, default=\"\")\n",
        ),
    )
    .unwrap();
    let changed = p.run(&["--env", "test", "--show", "--check"]);
    changed.expect(7);
    let e = changed.error_line();
    assert!(
        e.contains("models changed without a migration in app(s) users"),
        "{}",
        changed.all()
    );
    assert!(e.contains("--make --app users"), "{e}");
    assert!(
        changed.stdout.contains("Add field nickname to user"),
        "{}",
        changed.all()
    );
    // Nothing was written by the check.
    assert!(!p
        .path()
        .join("users/migrations/0004_user_nickname.py")
        .exists());
    assert_eq!(
        p.history().last().unwrap()["model_changes"][0]["app"],
        "users"
    );
    // --check needs --show.
    p.run(&["--env", "test", "--check"]).expect(2);
}

#[test]
fn json_reports_match_the_schema_for_success_failure_refusal_and_errors() {
    let p = project(&["demo_users", "broken"]);
    std::fs::write(
        p.path().join("users/fixtures/broken.json"),
        "not json at all",
    )
    .unwrap();

    let ok = p.run(&[
        "--env",
        "test",
        "--reset",
        "--no-fixtures",
        "--output",
        "json",
    ]);
    ok.expect(0);
    let doc = report(&ok);
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["steps"].as_array().unwrap().len(), 6);
    assert_eq!(doc["applied"].as_array().unwrap().len(), 6);
    // The human lines went to stderr.
    assert!(
        ok.stderr.contains("[6/6] verify database state: ok"),
        "{}",
        ok.all()
    );

    let failed = p.run(&["--env", "test", "--reset", "--output", "json"]);
    failed.expect(1);
    let doc = report(&failed);
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["exit_code"], 1);
    assert!(doc["error"].as_str().unwrap().contains("fixture 'broken'"));

    let refused = p.run(&["--env", "prod", "--output", "json"]);
    refused.expect(3);
    let doc = report(&refused);
    assert_eq!(doc["outcome"], "refused");
    assert_eq!(doc["steps"][0]["status"], "refused");

    let shown = p.run(&["--env", "test", "--show", "--check", "--output", "json"]);
    shown.expect(0);
    assert_eq!(report(&shown)["outcome"], "shown");

    let error = p.run(&["--env", "nope", "--output", "json"]);
    error.expect(2);
    let doc = report(&error);
    assert_eq!(doc["outcome"], "error");
    assert!(doc["error"]
        .as_str()
        .unwrap()
        .contains("unknown environment 'nope'"));
}

#[test]
fn reset_is_refused_in_prod_and_in_dev_unless_allowed_with_nothing_touched() {
    let p = project(&[]);
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    let before = p.applied();
    let backups = p.backups("prod").len();
    let r = p.run(&["--env", "prod", "--reset", "--confirm"]);
    r.expect(3);
    assert!(
        r.error_line().contains("never allowed in prod"),
        "{}",
        r.all()
    );
    let r = p.run(&["--env", "dev", "--reset"]);
    r.expect(3);
    assert!(
        r.error_line().contains("allow-reset = true in [env.dev]"),
        "{}",
        r.all()
    );
    assert_eq!(p.applied(), before);
    assert_eq!(p.backups("prod").len(), backups);
    assert_eq!(p.backups("dev").len(), 0);
    let h = p.history();
    assert_eq!(h[h.len() - 1]["outcome"], "refused");
    assert_eq!(h[h.len() - 2]["outcome"], "refused");
}

/// --reset on PostgreSQL recreates the schema: tables and rows a previous run left behind are
/// gone, every migration is applied from zero and the fixtures are loaded again.
#[test]
fn reset_on_postgresql_recreates_the_schema() {
    const URL_VAR: &str = "PM_TEST_DATABASE_URL";
    let pg = common::pg::Pg::start();
    let db = pg.create_db("ci");
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.test]\nrunner = \"django-pg\"\nfixtures = [\"demo_users\", \"demo_orders\"]\n",
        common::pg::django_pg_plugin(URL_VAR)
    ));
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    let rows = |sql: &str| pg.psql(&db, sql);

    p.run_with(&["--env", "test", "--reset"], &env).expect(0);
    let applied = pg.applied(&db);
    assert_eq!(applied.len(), 6, "{applied:?}");
    assert_eq!(
        rows("SELECT username FROM users_user ORDER BY id"),
        "ada\ngrace"
    );

    rows("INSERT INTO users_user (username, email, joined) VALUES ('stray', '', '2026-01-01')");
    rows("CREATE TABLE leftover (id int)");
    let r = p.run_with(&["--env", "test", "--reset", "--output", "json"], &env);
    r.expect(0);
    assert!(
        !r.all().contains(&url),
        "the database URL leaked: {}",
        r.all()
    );
    assert_eq!(report(&r)["reset"], true);
    assert_eq!(pg.applied(&db), applied);
    assert_eq!(
        rows("SELECT username FROM users_user ORDER BY id"),
        "ada\ngrace"
    );
    assert_eq!(rows("SELECT count(*) FROM orders_order"), "2");
    assert_eq!(rows("SELECT to_regclass('leftover') IS NULL"), "t");
}

/// `--output json` on the listing subcommands, and global flags on either side of them.
#[test]
fn history_and_backups_list_print_json_and_global_flags_go_before_or_after() {
    let p = Project::new();
    p.run(&["--env", "dev"]).expect(0);
    p.run(&["--env", "dev", "--show"]).expect(0);
    for args in [
        &["history", "--output", "json", "--limit", "5"][..],
        &[
            "--output",
            "json",
            "--config",
            "platform-migrate.toml",
            "history",
            "--limit",
            "5",
        ][..],
    ] {
        let r = p.run(args);
        r.expect(0);
        let doc: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{}", r.all()));
        common::validate_schema(&doc, "schemas/history.schema.json");
        let runs = doc["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{doc:#}");
        assert_eq!(runs[0]["action"], "migrate");
        assert_eq!(runs[1]["action"], "show");
        assert_eq!(doc["source"], "local");
    }
    p.run(&["backups", "create", "--env", "dev"]).expect(0);
    let r = p.run(&["backups", "list", "--output", "json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    common::validate_schema(&doc, "schemas/backups-list.schema.json");
    let backups = doc["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{doc:#}");
    assert_eq!(backups[0]["env"], "dev");
    assert_eq!(backups[0]["verified"], true);
    // A run's flag before a subcommand is refused, naming where it goes.
    let r = p.run(&["--env", "dev", "history"]);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("put the subcommand's own flags after it"),
        "{}",
        r.all()
    );
}

/// `plugins list --output json`, and a name longer than the old 16-column field keeps the
/// human listing aligned.
#[test]
fn plugins_list_prints_json_and_aligns_long_names() {
    let p = Project::new();
    let text = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    let long = "sqlite-backup-with-a-long-name";
    p.write_config(
        &text
            .replace("[plugins.sqlite-backup]", &format!("[plugins.{long}]"))
            .replace(
                "backup = \"sqlite-backup\"",
                &format!("backup = \"{long}\""),
            ),
    );
    let r = p.run(&["plugins", "list", "--output", "json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    common::validate_schema(&doc, "schemas/plugins-list.schema.json");
    let names: Vec<&str> = doc["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["django", long]);
    assert_eq!(doc["plugins"][1]["world"], "backup-provider");
    assert_eq!(doc["plugins"][0]["state"], "unpinned");
    let human = p.run(&["plugins", "list"]);
    human.expect(0);
    // Every second line (the world) starts at the same column as the state after the name.
    let lines: Vec<&str> = human.stdout.lines().collect();
    let col = lines[0].find("unpinned").unwrap();
    assert_eq!(lines[2].find("unpinned"), Some(col), "{}", human.stdout);
    assert_eq!(
        lines[1].find("migration-runner"),
        Some(col),
        "{}",
        human.stdout
    );
}
