//! The dev path end to end: the built binary, the real demo project (copied to a temp dir),
//! real Django from the venv, real plugins built from plugins/.

use crate::common;

use common::{add_migration, changed_ids, set, Project, ALL};
use sha2::{Digest, Sha256};

#[test]
fn show_lists_pending_migrations_and_changes_nothing() {
    let p = Project::new();
    let r = p.run(&["--env", "dev", "--show"]);
    r.expect(0);
    for (app, name) in ALL {
        assert!(
            r.stdout.contains(&format!("apply {app}.{name}")),
            "{} missing\n{}",
            name,
            r.all()
        );
    }
    assert!(
        r.stdout.contains("[4/6] show migration plan: 6 step(s)"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("[5/6] execute: skipped"), "{}", r.all());
    assert!(p.applied().is_empty());
    assert!(p.backups("dev").is_empty());
    let h = p.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["outcome"], "shown");
    assert_eq!(h[0]["plan"].as_array().unwrap().len(), 6);
}

#[test]
fn migrate_all_runs_six_steps_and_verifies() {
    let p = Project::new();
    let r = p.run(&["--env", "dev"]);
    r.expect(0);
    for (n, name) in [
        "validate environment",
        "connect to database",
        "backup",
        "show migration plan",
        "execute",
        "verify database state",
    ]
    .iter()
    .enumerate()
    {
        let prefix = format!("[{}/6] {name}: ", n + 1);
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line {prefix}\n{}", r.all()));
        assert!(
            line.ends_with(" ms)") || line.ends_with(" s)"),
            "no duration in {line}"
        );
    }
    // dev is verbose: the commands and Django's own output are shown.
    assert!(r.stdout.contains("$ "), "{}", r.all());
    assert!(
        r.stdout.contains("Applying users.0001_initial... OK"),
        "{}",
        r.all()
    );
    assert_eq!(p.applied(), set(ALL));
    assert!(p.tables().contains("orders_order"));
    let h = p.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["outcome"], "succeeded");
    assert_eq!(h[0]["exit_code"], 0);
    assert_eq!(h[0]["applied"].as_array().unwrap().len(), 6);
    assert_eq!(h[0]["steps"].as_array().unwrap().len(), 6);

    // A second run has nothing to do and still succeeds.
    let again = p.run(&["--env", "dev"]);
    again.expect(0);
    assert!(
        again.stdout.contains("nothing to migrate"),
        "{}",
        again.all()
    );
    assert_eq!(p.history().len(), 2);
}

#[test]
fn migrate_one_app_up_to_a_named_migration() {
    let p = Project::new();
    p.run(&["--env", "dev", "--app", "users", "--migration", "0002"])
        .expect(0);
    assert_eq!(
        p.applied(),
        set(&[
            ("users", "0001_initial"),
            ("users", "0002_user_email_user_joined")
        ])
    );
    let h = p.history();
    assert_eq!(h[0]["app"], "users");
    assert_eq!(h[0]["migration"], "0002");
    assert_eq!(h[0]["applied"].as_array().unwrap().len(), 2);

    // One app to its latest: orders needs users.0001 only.
    p.run(&["--env", "dev", "--app", "orders"]).expect(0);
    let applied = p.applied();
    assert!(applied.contains(&("orders".into(), "0003_order_note".into())));
    assert!(!applied.contains(&("users".into(), "0003_fill_emails".into())));
}

#[test]
fn rollback_unapplies_the_apps_last_migration_after_a_backup() {
    let p = Project::new();
    p.run(&["--env", "dev"]).expect(0);
    let r = p.run(&["--env", "dev", "--rollback", "--app", "orders"]);
    r.expect(0);
    assert!(
        r.stdout.contains("unapply orders.0003_order_note"),
        "{}",
        r.all()
    );
    let mut expected = set(ALL);
    expected.remove(&("orders".to_string(), "0003_order_note".to_string()));
    assert_eq!(p.applied(), expected);
    let last = p.history().pop().unwrap();
    assert_eq!(last["action"], "rollback");
    assert_eq!(last["applied"][0]["name"], "0003_order_note");
    assert_eq!(last["applied"][0]["backwards"], true);

    // The backup was taken before the rollback, and its checksum is the file's.
    let backups = p.backups("dev");
    assert_eq!(backups.len(), 1, "{backups:?}");
    let bytes = std::fs::read(&backups[0]).unwrap();
    assert_eq!(
        last["backup"]["sha256"],
        hex::encode(Sha256::digest(&bytes))
    );
    assert_eq!(last["backup"]["size"], bytes.len() as u64);
    assert!(bytes.starts_with(b"SQLite format 3\0"));

    // Rolling back again goes one further; backups are never overwritten.
    p.run(&["--env", "dev", "--rollback", "--app", "orders"])
        .expect(0);
    assert!(!p
        .applied()
        .contains(&("orders".into(), "0002_order_status".into())));
    assert_eq!(p.backups("dev").len(), 2);
}

#[test]
fn sqlite_online_backups_hand_the_program_host_paths_the_grant_allows() {
    let p = Project::new();
    let text = common::config_text().replace(
        "settings = { source = \"/project/db.sqlite3\" }\n",
        concat!(
            "settings = { source = \"/project/db.sqlite3\", method = \"sqlite3\" }\n",
            "grants.commands = [\n",
            "  { program = \"sqlite3\", args = [\"-readonly\", \"<path:/project>\", \".backup \\\"<path:/backups>\\\"\"] },\n",
            "  { program = \"sqlite3\", args = [\"-readonly\", \"<path:/backups>\", \"PRAGMA quick_check\"] },\n",
            "]\n",
        ),
    );
    assert!(
        text.contains("method = \"sqlite3\""),
        "config layout changed"
    );
    p.write_config(&text);
    p.run(&["--env", "dev"]).expect(0);
    let r = p.run(&["--env", "dev", "--rollback", "--app", "orders", "-v"]);
    r.expect(0);
    assert!(r.all().contains("sqlite3 .backup"), "{}", r.all());
    // The copy is a whole database in the state before the rollback, and it verifies.
    let backups = p.backups("dev");
    assert_eq!(backups.len(), 1, "{backups:?} {}", r.all());
    let out = std::process::Command::new("sqlite3")
        .arg(&backups[0])
        .arg("SELECT count(*) FROM django_migrations WHERE app = 'orders'")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    let id = p.history().pop().unwrap()["backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    p.run(&["backups", "verify", &id]).expect(0);
    // A damaged copy fails quick_check, not only the size and sha256 check.
    let bytes = std::fs::read(&backups[0]).unwrap();
    let mut bad = bytes.clone();
    for b in &mut bad[4096..8192] {
        *b = 0xff;
    }
    std::fs::write(&backups[0], &bad).unwrap();
    p.run(&["backups", "verify", &id]).expect(1);

    // Without the `<path:..>` grant, the program is refused, naming the grant that fits.
    std::fs::write(&backups[0], &bytes).unwrap();
    p.write_config(&text.replace("<path:/project>", "db.sqlite3").replace(
        "backup = \"sqlite-backup\"\n",
        "backup = \"sqlite-backup\"\nbackup-required = true\n",
    ));
    let r = p.run(&["--env", "dev", "--rollback", "--app", "orders"]);
    r.expect(4);
    assert!(
        r.error_line().contains(
            "args = [\"-readonly\", \"<path:/project>\", \".backup \\\"<path:/backups>\\\"\"]"
        ),
        "{}",
        r.all()
    );
}

#[test]
fn rollback_to_zero_and_nothing_left_to_roll_back() {
    let p = Project::new();
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    p.run(&["--env", "dev", "--rollback", "--app", "users"])
        .expect(0);
    assert!(p.applied().is_empty());
    let r = p.run(&["--env", "dev", "--rollback", "--app", "users"]);
    r.expect(2);
    assert!(
        r.error_line().contains("nothing to roll back"),
        "{}",
        r.all()
    );
}

#[test]
fn make_creates_a_migration_after_a_model_edit() {
    let p = Project::new();
    let models = p.path().join("users/models.py");
    let text = std::fs::read_to_string(&models).unwrap();
    let edited = text.replace(
        "    joined = models.DateTimeField(auto_now_add=True)\n",
        "    joined = models.DateTimeField(auto_now_add=True)\n    nickname = models.CharField(max_length=30, blank=True, default=\"\")\n",
    );
    assert_ne!(text, edited);
    std::fs::write(&models, edited).unwrap();
    let r = p.run(&["--env", "dev", "--make", "--app", "users"]);
    r.expect(0);
    let created: Vec<String> = std::fs::read_dir(p.path().join("users/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0004"))
        .collect();
    assert_eq!(
        created,
        vec!["0004_user_nickname.py".to_string()],
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("created users.0004_user_nickname"),
        "{}",
        r.all()
    );
    let h = p.history();
    assert_eq!(h[0]["action"], "make");
    assert_eq!(h[0]["created"][0], "users.0004_user_nickname");
    // Nothing was applied by --make.
    assert!(p.applied().is_empty());

    // No model change: nothing created.
    let again = p.run(&["--env", "dev", "--make", "--app", "users"]);
    again.expect(0);
    assert!(
        again.stdout.contains("no changes detected"),
        "{}",
        again.all()
    );
}

#[test]
fn fake_records_migrations_without_running_them() {
    let p = Project::new();
    let r = p.run(&["--env", "dev", "--fake"]);
    r.expect(0);
    assert_eq!(p.applied(), set(ALL));
    let tables = p.tables();
    assert!(
        !tables.contains("users_user"),
        "--fake created tables: {tables:?}"
    );
    assert!(
        !tables.contains("orders_order"),
        "--fake created tables: {tables:?}"
    );
    assert_eq!(p.history()[0]["fake"], true);
}

#[test]
fn history_command_prints_each_run() {
    let p = Project::new();
    p.run(&["--env", "dev", "--show"]).expect(0);
    p.run(&["--env", "dev", "--app", "users"]).expect(0);
    let r = p.run(&["history", "--env", "dev"]);
    r.expect(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.all());
    assert!(lines[0].contains("shown"), "{}", lines[0]);
    assert!(
        lines[1].contains("succeeded") && lines[1].contains("migrate users"),
        "{}",
        lines[1]
    );
}

#[test]
fn quiet_prints_only_the_outcome() {
    let p = Project::new();
    let r = p.run(&["--env", "dev", "-q"]);
    r.expect(0);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.all());
    assert!(
        r.stdout
            .starts_with("succeeded: 6 migration(s) applied in dev"),
        "{}",
        r.all()
    );
}

#[test]
fn automation_script_is_the_same_binary() {
    let p = Project::new();
    let script = common::root().join("automation/migrate.sh");
    let out = std::process::Command::new(&script)
        .args(["--env", "test", "--show"])
        .current_dir(p.path())
        .env("XDG_STATE_HOME", p.state_home.path())
        .env(
            "PLATFORM_MIGRATE_BIN",
            env!("CARGO_BIN_EXE_platform-migrate"),
        )
        .output()
        .unwrap();
    let r = common::Run::from(out);
    r.expect(0);
    assert!(
        r.stdout.contains("[4/6] show migration plan: 6 step(s)"),
        "{}",
        r.all()
    );
}

#[test]
fn show_with_rollback_previews_the_rollback_and_changes_nothing() {
    let p = Project::new();
    p.run(&["--env", "dev"]).expect(0);
    let r = p.run(&["--env", "dev", "--show", "--rollback", "--app", "users"]);
    r.expect(0);
    assert!(
        r.stdout.contains("unapply users.0003_fill_emails"),
        "{}",
        r.all()
    );
    assert_eq!(p.applied(), set(ALL));
    assert!(p.backups("dev").is_empty());
}

/// Write a test-only migration into the copied project.
#[test]
fn irreversible_migrations_are_marked_and_never_unapplied() {
    let p = Project::new();
    add_migration(
        &p,
        "orders",
        "0004_irreversible",
        "from django.db import migrations\n\n\
         def forwards(apps, schema_editor):\n    pass\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(forwards)]\n",
    );
    let shown = p.run(&["--env", "dev", "--show"]);
    shown.expect(0);
    assert!(
        shown
            .stdout
            .contains("apply orders.0004_irreversible  [irreversible: cannot be undone later]"),
        "{}",
        shown.all()
    );
    p.run(&["--env", "dev"]).expect(0);
    let before = p.applied();
    let r = p.run(&["--env", "dev", "--rollback", "--app", "orders"]);
    r.expect(3);
    assert!(
        r.error_line()
            .contains("cannot unapply orders.0004_irreversible"),
        "{}",
        r.all()
    );
    assert_eq!(p.applied(), before);
    assert_eq!(p.history().last().unwrap()["outcome"], "refused");
}

#[test]
fn a_migration_that_fails_midway_is_reported_exactly() {
    let p = Project::new();
    add_migration(
        &p,
        "orders",
        "0004_boom",
        "from django.db import migrations\n\n\
         def boom(apps, schema_editor):\n    raise RuntimeError(\"boom: the data is not what this migration expects\")\n\n\
         class Migration(migrations.Migration):\n    atomic = True\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(boom, migrations.RunPython.noop)]\n",
    );
    let r = p.run(&["--env", "dev", "--app", "orders"]);
    r.expect(1);
    let e = r.error_line();
    assert!(
        e.contains("boom: the data is not what this migration expects"),
        "{}",
        r.all()
    );
    assert!(e.contains("database changed before the failure"), "{e}");
    // Everything before the failing migration applied; it did not.
    let applied = p.applied();
    assert!(applied.contains(&("orders".into(), "0003_order_note".into())));
    assert!(!applied.contains(&("orders".into(), "0004_boom".into())));
    let h = p.history();
    let last = h.last().unwrap();
    assert_eq!(last["outcome"], "failed");
    assert_eq!(last["exit_code"], 1);
    let recorded = changed_ids(last);
    assert_eq!(
        recorded,
        vec![
            "users.0001_initial",
            "orders.0001_initial",
            "orders.0002_order_status",
            "orders.0003_order_note"
        ]
    );
}

#[test]
fn the_config_reference_pins_the_current_helper_script() {
    // The runner's `-c` script is pinned by sha256 in the config reference's grant for the
    // plugin file (the demo uses the built-in, whose grant the host derives); a change to
    // helper.py must change docs/configuration.md too.
    let sha = common::helper_sha256();
    let readme = std::fs::read_to_string(common::root().join("docs/configuration.md")).unwrap();
    assert!(
        readme.contains(&format!("sha256:{sha}")),
        "docs/configuration.md does not pin sha256:{sha}"
    );
    assert!(
        !readme.contains("args = [\"manage.py\", \"**\"]"),
        "docs/configuration.md still grants manage.py **"
    );
    // The reference gives the migrating helper's pin (`migrate-in-session`) too.
    let migrating = common::helper_migrating_sha256();
    assert!(
        readme.contains(&format!("sha256:{migrating}")),
        "docs/configuration.md does not pin the migrating helper, sha256:{migrating}"
    );
}

#[test]
fn a_project_with_hundreds_of_migrations_is_planned_and_applied() {
    // The runner's helper answers in one line holding every migration: for a project of this
    // size (a large third-party app set has as many) that line is far past 64 KiB, and it must
    // arrive whole.
    let p = Project::new();
    let mut prev = "0003_order_note".to_string();
    for i in 4..304 {
        let name = format!("{i:04}_a_long_descriptive_migration_name_as_real_projects_have_{i}");
        add_migration(
            &p,
            "orders",
            &name,
            &format!(
                "from django.db import migrations\n\n\
                 class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"{prev}\")]\n    \
                 operations = [migrations.RunSQL(\"SELECT {i}\", migrations.RunSQL.noop)]\n"
            ),
        );
        prev = name;
    }
    let shown = p.run(&["--env", "dev", "--show"]);
    shown.expect(0);
    assert!(shown.stdout.contains("306 step(s)"), "{}", shown.all());
    p.run(&["--env", "dev"]).expect(0);
    assert_eq!(p.applied().len(), 306);
}
