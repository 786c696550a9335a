//! Reliability: the tamper-evident history, pinned plugin files, one run at a time per
//! environment, and interrupted runs.

use crate::common;

use common::Project;

#[test]
fn history_verify_finds_an_edited_line() {
    let p = Project::new();
    p.run(&["--env", "dev", "--show"]).expect(0);
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    p.run(&["--env", "prod"]).expect(3);
    let ok = p.run(&["history", "verify"]);
    ok.expect(0);
    assert!(
        ok.stdout.contains("history intact: 3 run(s)"),
        "{}",
        ok.all()
    );

    // Rewrite the refusal as a success: the line itself parses, but the chain breaks.
    let file = p.state().join("history.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let forged = lines[1].replace("\"outcome\":\"succeeded\"", "\"outcome\":\"failed\"");
    assert_ne!(forged, lines[1], "line 2 is the succeeded run");
    std::fs::write(&file, [lines[0], &forged, lines[2]].join("\n") + "\n").unwrap();
    let bad = p.run(&["history", "verify"]);
    bad.expect(1);
    let e = bad.error_line();
    assert!(
        e.contains("history line 3 does not follow line 2"),
        "{}",
        bad.all()
    );
    // Removing the last line keeps the chain intact, but history.head remembers it.
    std::fs::write(&file, [lines[0], lines[1]].join("\n") + "\n").unwrap();
    let cut = p.run(&["history", "verify"]);
    cut.expect(1);
    assert!(
        cut.error_line()
            .contains("the history ends at line 2, but history.head records line 3"),
        "{}",
        cut.all()
    );
    std::fs::write(&file, [lines[0], &forged, lines[2]].join("\n") + "\n").unwrap();
    // `history` still prints every run.
    let shown = p.run(&["history"]);
    shown.expect(0);
    assert_eq!(shown.stdout.lines().count(), 3, "{}", shown.all());
}

#[test]
fn pinned_plugins_load_and_a_replaced_file_is_refused_before_it_runs() {
    let p = Project::new();
    // Work on copies of the plugin files so they can be swapped.
    let text = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    let mut text = text.clone();
    for name in ["django_runner", "file_backup"] {
        let src = common::plugin(name);
        let dst = p.path().join(format!("{name}.wasm"));
        std::fs::copy(&src, &dst).unwrap();
        text = text.replace(&src.display().to_string(), &format!("{name}.wasm"));
    }
    p.write_config(&format!("# keep this comment\n{text}"));

    let listed = p.run(&["plugins", "list"]);
    listed.expect(0);
    assert!(listed.stdout.contains("unpinned"), "{}", listed.all());
    let locked = p.run(&["plugins", "lock"]);
    locked.expect(0);
    assert!(
        locked.stdout.contains("pinned django: sha256 "),
        "{}",
        locked.all()
    );
    let cfg = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    assert!(cfg.starts_with("# keep this comment\n"), "{cfg}");
    assert_eq!(cfg.matches("sha256 = \"").count(), 2, "{cfg}");
    let listed = p.run(&["plugins", "list"]);
    listed.expect(0);
    assert_eq!(
        listed.stdout.matches(" pinned ").count(),
        2,
        "{}",
        listed.all()
    );
    p.run(&["--env", "dev", "--show"]).expect(0);

    // Swap the backup provider for another valid component: refused, nothing migrated.
    std::fs::copy(
        common::plugin("pg_dump_backup"),
        p.path().join("file_backup.wasm"),
    )
    .unwrap();
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    let e = r.error_line();
    assert!(
        e.contains("plugin 'sqlite-backup'") && e.contains("not the pinned"),
        "{}",
        r.all()
    );
    assert!(e.contains("plugins lock"), "{e}");
    assert!(p.applied().is_empty());
    p.run(&["plugins", "list"]).expect(1);
    assert!(p
        .run(&["plugins", "lock", "nope"])
        .error_line()
        .contains("no plugin entry 'nope'"));
    // Re-pinning on purpose makes it load again (and the wrong world is then reported).
    p.run(&["plugins", "lock", "sqlite-backup"]).expect(0);
    p.run(&["plugins", "list"]).expect(0);
}

#[test]
fn a_malformed_pin_is_a_config_error_at_its_line() {
    let p = Project::new();
    let text = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&text.replace(
        "[plugins.sqlite-backup]\n",
        "[plugins.sqlite-backup]\nsha256 = \"ABC\"\n",
    ));
    let r = p.run(&["--env", "dev", "--show"]);
    r.expect(2);
    assert!(
        r.error_line().contains("must be 64 lowercase hex digits"),
        "{}",
        r.all()
    );
}

/// A migration that waits until the file `release` appears in the project folder, so a test
/// can hold a run in the middle of step 5 for as long as it needs.
fn add_gate(p: &Project) {
    common::add_migration(
        p,
        "orders",
        "0004_gate",
        "import os, time\nfrom django.db import migrations\n\n\
         def wait(apps, schema_editor):\n    \
         for _ in range(1200):\n        \
         if os.path.exists('release'):\n            return\n        time.sleep(0.05)\n    \
         raise RuntimeError('the test never released the gate')\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(wait, migrations.RunPython.noop)]\n",
    );
}

/// Wait until `file` names `pid` as its holder.
fn wait_for_holder(file: &std::path::Path, pid: u32) {
    for _ in 0..1200 {
        if let Ok(t) = std::fs::read_to_string(file) {
            if t.contains(&format!("\"pid\":{pid},")) {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never named pid {pid}", file.display());
}

#[test]
fn a_second_run_of_the_same_env_fails_fast_naming_the_holder_or_waits() {
    let p = Project::new();
    add_gate(&p);
    let mut a = p
        .command(&["--env", "dev"], &[])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = p.state().join("locks/dev.lock");
    wait_for_holder(&lock, a.id());

    let b = p.run(&["--env", "dev"]);
    b.expect(8);
    let e = b.error_line();
    assert!(
        e.contains(&format!(
            "env dev is busy: another run holds its lock (pid {} on host",
            a.id()
        )),
        "{}",
        b.all()
    );
    assert!(e.contains("--wait SECONDS"), "{e}");
    // Reading the plan needs no lock; other environments are not blocked.
    p.run(&["--env", "dev", "--show"]).expect(0);
    p.run(&["--env", "test", "--app", "users", "--migration", "0001"])
        .expect(0);

    let c = p
        .command(&["--env", "dev", "--wait", "120"], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(p.path().join("release"), "").unwrap();
    assert!(a.wait().unwrap().success());
    let c = c.wait_with_output().unwrap();
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(out.contains("nothing to migrate"), "{out}");
    let outcomes: Vec<(String, i64)> = p
        .history()
        .iter()
        .filter(|h| h["env"] == "dev" && h["action"] == "migrate")
        .map(|h| {
            (
                h["outcome"].as_str().unwrap().to_string(),
                h["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("busy".to_string(), 8),
            ("succeeded".to_string(), 0),
            ("succeeded".to_string(), 0)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "the holder is cleared on release"
    );
}

/// Runs of one PostgreSQL database from two state directories (two checkouts, two CI jobs):
/// the file locks do not meet, the database's advisory lock keeps them apart.
#[test]
fn two_state_directories_on_one_postgresql_database_are_kept_apart_and_a_crash_frees_the_lock() {
    const URL_VAR: &str = "PM_TEST_DATABASE_URL";
    let pg = common::pg::Pg::start();
    let db = pg.create_db("shared");
    let p = Project::new();
    add_gate(&p);
    let entry = common::pg::django_pg_plugin(URL_VAR);
    for (file, state) in [
        ("platform-migrate.toml", "state-a"),
        ("other.toml", "state-b"),
    ] {
        let state = p.state_home.path().join(state);
        std::fs::write(
            p.path().join(file),
            format!(
                "state-dir = \"{}\"\n{entry}\n[env.test]\nrunner = \"django-pg\"\n",
                state.display()
            ),
        )
        .unwrap();
    }
    let url = pg.url(&db);
    let env = [(URL_VAR, url.as_str())];
    let held = || {
        pg.psql(
            &db,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 1886218599 AND granted",
        )
    };

    let mut a = p
        .command(&["--env", "test"], &env)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&p.state_home.path().join("state-a/locks/test.lock"), a.id());
    for _ in 0..600 {
        if held() == "1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(held(), "1", "run A holds the advisory lock");

    let b = p.run_with(&["--config", "other.toml", "--env", "test"], &env);
    b.expect(8);
    let e = b.error_line();
    assert!(
        e.contains("another run holds the database's run lock (pm test-"),
        "{}",
        b.all()
    );
    assert!(
        e.contains(&format!("pid {}@", a.id())),
        "the holder is named: {e}"
    );
    assert!(!b.all().contains(&url), "the database URL leaked");

    // A crash (SIGKILL: no cleanup at all) frees both locks.
    a.kill().unwrap();
    a.wait().unwrap();
    std::fs::write(p.path().join("release"), "").unwrap();
    let c = p.run_with(&["--env", "test", "--wait", "30"], &env);
    c.expect(0);
    assert_eq!(pg.applied(&db).len(), 7, "{}", c.all());
    assert_eq!(held(), "0", "the lock ends with the run");
    p.run_with(&["--config", "other.toml", "--env", "test"], &env)
        .expect(0);
}

/// SIGINT or SIGTERM in the middle of a migration: the child is stopped, the run is recorded
/// as interrupted with exit 130 / 143, the locks are released and nothing is half-applied.
#[test]
fn an_interrupted_run_is_recorded_and_releases_its_lock() {
    interrupted_mid_migration(&Project::new());
}

/// The scenario above on `p` (whatever its config runs the migration with).
pub(crate) fn interrupted_mid_migration(p: &Project) {
    add_gate(p);
    let lock = p.state().join("locks/dev.lock");
    for (sig, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let a = p
            .command(&["--env", "dev", "--output", "json"], &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_holder(&lock, a.id());
        // Let it reach the gated migration (step 5).
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let t = std::time::Instant::now();
        // SAFETY: sends a signal to the child we started.
        assert_eq!(unsafe { libc::kill(a.id() as i32, sig) }, 0);
        let out = a.wait_with_output().unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["outcome"], "interrupted");
        assert_eq!(doc["exit_code"], code);
        let last = p.history().last().unwrap().clone();
        assert_eq!(last["outcome"], "interrupted");
        assert!(
            last["error"]
                .as_str()
                .unwrap()
                .contains(&format!("interrupted by {name}")),
            "{last:#}"
        );
        assert!(
            !p.applied()
                .contains(&("orders".to_string(), "0004_gate".to_string())),
            "the interrupted migration did not apply"
        );
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "", "lock released");
    }
    std::fs::write(p.path().join("release"), "").unwrap();
    p.run(&["--env", "dev"]).expect(0);
    assert!(p
        .applied()
        .contains(&("orders".to_string(), "0004_gate".to_string())));
    p.run(&["history", "verify"]).expect(0);
}
