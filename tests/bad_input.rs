//! Bad input: each gets a clear one-line error, the documented exit code, and changes nothing.
//! Exit codes: 2 usage/config, 3 refused by a safety gate, 4 denied by the sandbox.

use crate::common;

use common::Project;

/// Nothing happened to the database and no backup was written.
#[track_caller]
fn unchanged(p: &Project) {
    assert!(
        p.applied().is_empty(),
        "database changed: {:?}",
        p.applied()
    );
    assert!(p.backups("dev").is_empty() && p.backups("prod").is_empty());
}

#[test]
fn missing_env_is_a_usage_error() {
    let p = Project::new();
    let r = p.run(&[]);
    r.expect(2);
    assert!(r.stderr.contains("--env"), "{}", r.all());
    unchanged(&p);
}

/// Each command prints only the formats it has: `--output markdown` on `history` or `sarif` on a
/// run is refused before anything runs, naming what the command prints.
#[test]
fn an_output_format_a_command_lacks_is_refused() {
    let p = Project::new();
    for (args, says) in [
        (
            &["--output", "markdown", "history"][..],
            "`history` prints human or json",
        ),
        (
            &["--output", "sarif", "backups", "list"],
            "`backups` prints human or json",
        ),
        (
            &["--output", "markdown", "targets", "--env", "dev"],
            "`targets` prints human or json",
        ),
        (
            &["--env", "dev", "--output", "sarif"],
            "a run prints human, json or markdown",
        ),
    ] {
        let r = p.run(args);
        r.expect(2);
        assert!(r.error_line().contains(says), "{args:?}: {}", r.all());
    }
    unchanged(&p);
}

#[test]
fn unknown_env_lists_the_configured_ones() {
    let p = Project::new();
    let r = p.run(&["--env", "staging"]);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("unknown environment 'staging'; configured environments: dev, prod, test"),
        "{}",
        r.all()
    );
    unchanged(&p);
}

#[test]
fn make_rollback_and_migration_require_app() {
    let p = Project::new();
    for flags in [&["--make"][..], &["--rollback"], &["--migration", "0001"]] {
        let mut args = vec!["--env", "dev"];
        args.extend_from_slice(flags);
        let r = p.run(&args);
        r.expect(2);
        assert!(r.stderr.contains("--app"), "{flags:?}: {}", r.all());
    }
    unchanged(&p);
    assert!(p.history().is_empty());
}

#[test]
fn unknown_app_names_the_known_ones() {
    let p = Project::new();
    let r = p.run(&["--env", "dev", "--app", "payments"]);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("unknown app 'payments'; apps with migrations: orders, users"),
        "{}",
        r.all()
    );
    unchanged(&p);
}

#[test]
fn unknown_migration_lists_the_apps_migrations() {
    let p = Project::new();
    let r = p.run(&["--env", "dev", "--app", "users", "--migration", "0009"]);
    r.expect(2);
    let e = r.error_line();
    assert!(
        e.contains("unknown migration '0009' for app users"),
        "{}",
        r.all()
    );
    assert!(e.contains("0001_initial"), "{e}");
    unchanged(&p);
}

#[test]
fn shell_metacharacters_in_app_never_reach_a_shell() {
    let p = Project::new();
    let marker = p.path().join("pwned");
    let app = format!("users; touch {}", marker.display());
    for flags in [
        vec!["--app", app.as_str()],
        vec!["--make", "--app", app.as_str()],
        vec!["--rollback", "--app", app.as_str()],
    ] {
        let mut args = vec!["--env", "dev"];
        args.extend(flags);
        let r = p.run(&args);
        r.expect(2);
        assert!(r.error_line().contains("invalid --app"), "{}", r.all());
    }
    assert!(!marker.exists(), "a shell ran the app name");
    unchanged(&p);
}

#[test]
fn missing_config_says_how_to_fix_it() {
    let p = Project::new();
    std::fs::remove_file(p.path().join("platform-migrate.toml")).unwrap();
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    assert!(
        r.error_line().contains("platform-migrate.toml not found"),
        "{}",
        r.all()
    );
    assert!(r.error_line().contains("--config"), "{}", r.all());
}

#[test]
fn malformed_config_names_file_line_and_column() {
    let p = Project::new();
    p.write_config("[env.dev]\nrunner = \"django\"\nbackup = = \"x\"\n");
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    assert!(
        r.error_line()
            .starts_with("error: platform-migrate.toml:3:"),
        "{}",
        r.all()
    );

    p.write_config(&common::config_text().replace(
        "runner = \"django\"\nbackup",
        "runner = \"djangoo\"\nbackup",
    ));
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("names plugin 'djangoo', which is not configured"),
        "{}",
        r.all()
    );
    unchanged(&p);
}

/// `error: platform-migrate.toml:LINE:COLUMN:` of the first `needle` in the config `text`.
fn at(text: &str, needle: &str) -> String {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .expect("needle in the config");
    let column = line[..line.find(needle).unwrap()].chars().count() + 1;
    format!("error: platform-migrate.toml:{}:{column}:", n + 1)
}

#[test]
fn a_mistyped_plugin_setting_is_refused_where_it_is_written() {
    let p = Project::new();
    // The runner declares its settings; `plugin inspect` lists them with their types.
    let shown = p.run(&["plugin", "inspect", "django"]);
    shown.expect(0);
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.starts_with("settings      manage ") && l.ends_with("(required)")),
        "{}",
        shown.all()
    );
    let text = common::config_text().replace(
        "\"manage.py\"] }",
        "\"manage.py\"], databse = \"default\" }",
    );
    p.write_config(&text);
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    let e = r.error_line();
    assert!(e.starts_with(&at(&text, "databse")), "{}", r.all());
    assert!(
        e.contains("plugin 'django' has no setting `databse`"),
        "{e}"
    );
    assert!(e.contains("did you mean `database`?"), "{e}");
    // Refused at step 1: the runner was never asked to do anything, so no command ran.
    assert!(!r.all().contains("manage.py"), "{}", r.all());
    unchanged(&p);
    let history = p.history();
    assert_eq!(history.last().unwrap()["outcome"], "failed", "{history:?}");

    // The same check in `plugin inspect` of the entry, which says what is wrong.
    let r = p.run(&["plugin", "inspect", "django"]);
    r.expect(2);
    assert!(r.stdout.contains("settings      WRONG: "), "{}", r.all());
}

#[test]
fn an_ill_typed_or_missing_setting_is_refused_with_the_type_wanted() {
    let p = Project::new();
    let text = common::config_text().replace("source = \"/project/db.sqlite3\"", "source = 3");
    p.write_config(&text);
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    let e = r.error_line();
    assert!(e.starts_with(&at(&text, "3 }")), "{}", r.all());
    assert!(
        e.contains("plugins.sqlite-backup.settings.source: expected a string, found an integer"),
        "{e}"
    );
    unchanged(&p);

    p.write_config(
        &common::config_text().replace("settings = { source = \"/project/db.sqlite3\" }\n", ""),
    );
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    let e = r.error_line();
    assert!(e.contains("setting `source` is required"), "{e}");
    assert!(
        e.contains("add it under [plugins.sqlite-backup.settings]"),
        "{e}"
    );
    unchanged(&p);
}

#[test]
fn missing_plugin_file_is_named_with_its_config_location() {
    let p = Project::new();
    let text = common::config_text();
    let runner = common::plugin("django_runner").display().to_string();
    p.write_config(&text.replace(&runner, "/nonexistent/runner.wasm"));
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    let e = r.error_line();
    assert!(
        e.contains("/nonexistent/runner.wasm not found"),
        "{}",
        r.all()
    );
    assert!(e.contains("platform-migrate.toml:3:"), "{e}");
    unchanged(&p);
}

#[test]
fn files_that_are_not_components_are_refused() {
    let p = Project::new();
    let runner = common::plugin("django_runner").display().to_string();
    let core = p.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\x00\x00\x00").unwrap();
    let text = p.path().join("notes.wasm");
    std::fs::write(&text, b"just some text, not wasm").unwrap();
    for (file, why) in [(&core, "core module"), (&text, "not WebAssembly")] {
        p.write_config(&common::config_text().replace(&runner, &file.display().to_string()));
        let r = p.run(&["--env", "dev"]);
        r.expect(2);
        let e = r.error_line();
        assert!(
            e.contains("is not a WebAssembly component") && e.contains(why),
            "{}",
            r.all()
        );
    }
    unchanged(&p);
}

#[test]
fn a_runner_plugged_into_the_wrong_world_is_refused() {
    let p = Project::new();
    let runner = common::plugin("django_runner").display().to_string();
    let backup = common::plugin("file_backup").display().to_string();
    // The runner entry points at the backup component.
    let text = common::config_text().replacen(&runner, &backup, 1);
    p.write_config(&text);
    let r = p.run(&["--env", "dev"]);
    r.expect(2);
    assert!(
        r.error_line().contains("is not a migration-runner plugin"),
        "{}",
        r.all()
    );
    unchanged(&p);
}

#[test]
fn runner_without_its_python_grant_is_denied_with_the_fix() {
    let p = Project::new();
    let py = common::python().display().to_string();
    let text = common::config_text().replace(
        &format!("grants.commands = {}\n", common::django_commands(&py)),
        "",
    );
    assert_ne!(text, common::config_text());
    p.write_config(&text);
    let r = p.run(&["--env", "dev"]);
    r.expect(4);
    let e = r.error_line();
    assert!(e.contains(&format!("program = \"{py}\"")), "{}", r.all());
    assert!(e.contains("plugins.django.grants.commands"), "{e}");
    unchanged(&p);
    assert_eq!(p.history()[0]["exit_code"], 4);
}

#[test]
fn arguments_outside_the_grant_are_denied_at_call_time() {
    let p = Project::new();
    // The program is granted, but its helper script is pinned to another sha256: the
    // runner's `manage.py shell -c` is refused by the host before anything is spawned.
    let text = common::config_text().replace(&common::helper_sha256(), &"0".repeat(64));
    assert_ne!(text, common::config_text());
    p.write_config(&text);
    let r = p.run(&["--env", "dev"]);
    r.expect(4);
    let e = r.error_line();
    assert!(
        e.contains("may not run") && e.contains("arguments match none"),
        "{}",
        r.all()
    );
    assert!(e.contains("plugins.django.grants.commands"), "{e}");
    unchanged(&p);
}

#[test]
fn prod_without_confirm_is_refused_and_recorded() {
    let p = Project::new();
    let r = p.run(&["--env", "prod"]);
    r.expect(3);
    let e = r.error_line();
    assert!(e.contains("env prod requires --confirm"), "{}", r.all());
    assert!(e.contains("apply all pending migrations"), "{e}");
    unchanged(&p);
    let h = p.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["outcome"], "refused");
    assert_eq!(h[0]["exit_code"], 3);
    // --show needs no confirmation.
    p.run(&["--env", "prod", "--show"]).expect(0);
}
