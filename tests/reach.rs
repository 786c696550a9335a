//! Reach: the built-in plugins (named without a path, grants derived from their settings,
//! narrowed only), `init`, a first deploy with nothing to back up, `--version`, colours, and
//! the wheel and GitHub action a user installs from (no cargo on PATH).

use crate::common;

use common::pg::Pg;
use common::{root, Project, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The demo's own config (examples/demo/platform-migrate.toml), with the venv's absolute path.
fn demo_config() -> String {
    let text = std::fs::read_to_string(root().join("examples/demo/platform-migrate.toml")).unwrap();
    text.replace(
        "../../.venv/bin/python",
        &common::python().display().to_string(),
    )
}

fn project_with(config: &str) -> Project {
    let p = Project::new();
    p.write_config(config);
    p
}

fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn the_demo_config_is_short_and_pins_nothing() {
    let text = std::fs::read_to_string(root().join("examples/demo/platform-migrate.toml")).unwrap();
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert!(lines <= 40, "{lines} lines besides comments");
    assert!(!text.contains("sha256"), "the demo config pins a hash");
    assert!(
        !text.contains("path ="),
        "the demo config names a plugin file"
    );
    assert!(!text.contains("first-install"));
    // And it runs: show, then migrate, in dev.
    let p = project_with(&demo_config());
    p.run(&["--env", "dev", "--show"]).expect(0);
    let r = p.run(&["--env", "dev"]);
    r.expect(0);
    assert_eq!(p.applied(), common::set(common::ALL));
}

#[test]
fn version_names_the_wit_versions_and_each_builtin_by_the_sha256_of_its_build() {
    let p = Project::new();
    let r = p.run(&["--version"]);
    r.expect(0);
    assert!(
        r.stdout.starts_with("platform-migrate 0.2.0\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("platform:migrate 0.1.0, 0.2.0, 0.3.0"),
        "{}",
        r.stdout
    );
    for (name, file) in [
        ("django-runner", "django_runner"),
        ("file-backup", "file_backup"),
        ("pg-dump-backup", "pg_dump_backup"),
        ("slack-notifier", "slack_notifier"),
    ] {
        let sha = sha256_file(&common::plugin(file));
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("builtin:{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {}", r.stdout));
        assert!(line.ends_with(&format!("sha256:{sha}")), "{line} vs {sha}");
    }
}

#[test]
fn builtins_are_listed_and_inspected_with_the_grant_the_host_derives() {
    let p = project_with(&demo_config());
    let r = p.run(&["plugins", "list", "--output", "json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    common::validate_schema(&doc, "schemas/plugins-list.schema.json");
    for entry in doc["plugins"].as_array().unwrap() {
        assert_eq!(entry["state"], "builtin", "{entry}");
        assert!(entry["path"].as_str().unwrap().starts_with("builtin:"));
        assert_eq!(entry["wit_version"], "0.3.0");
    }
    let r = p.run(&["plugin", "inspect", "django"]);
    r.expect(0);
    let helper = common::helper_sha256();
    assert!(
        r.stdout.contains(&format!(
            "\"manage.py\", \"shell\", \"-c\", \"sha256:{helper}\""
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("confine.write = [\".\"]"), "{}", r.stdout);
    assert!(!r.stdout.contains("\"**\""), "{}", r.stdout);
    let r = p.run(&["plugin", "inspect", "pg-backup", "--json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let grant = doc["derived_grant"].as_str().unwrap();
    assert!(
        grant.contains("{ name = \"PGPASSWORD\", url-secret = \"database-url\" }"),
        "{grant}"
    );
    assert!(
        grant.contains("confine.connect-url = [\"database-url\"]"),
        "{grant}"
    );
    assert_eq!(doc["builtin"], "builtin:pg-dump-backup");
    // `plugins lock` pins files, never built-ins.
    let r = p.run(&["plugins", "lock", "django"]);
    r.expect(2);
    assert!(r.error_line().contains("built-in"), "{}", r.all());
}

/// A config with one django entry: the demo's runner with `extra` lines added to its table.
fn runner_with(extra: &str) -> String {
    let py = common::python().display().to_string();
    format!(
        "[plugins.django]\nplugin = \"builtin:django-runner\"\nsettings.manage = [\"{py}\", \"manage.py\"]\n{extra}\n[env.dev]\nrunner = \"django\"\n"
    )
}

#[test]
fn bad_builtin_entries_are_named_at_their_place() {
    let p = Project::new();
    let py = common::python().display().to_string();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "[plugins.django]\nplugin = \"builtin:django-runer\"\n[env.dev]\nrunner = \"django\"\n"
                .into(),
            "platform-migrate.toml:2:10:",
            "builtin:django-runner, builtin:file-backup, builtin:pg-dump-backup, builtin:slack-notifier",
        ),
        (
            runner_with("sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\""),
            "platform-migrate.toml:4:10:",
            "remove sha256",
        ),
        (
            // Narrowed so far that the runner cannot plan: the helper session is gone.
            runner_with(&format!(
                "grants.commands = [{{ program = \"{py}\", args = [\"manage.py\", \"makemigrations\", \"--noinput\", \"<name>\"] }}]"
            )),
            "platform-migrate.toml:4:20:",
            "no longer covers what builtin:django-runner needs",
        ),
        (
            // Widened: a command the derived grant does not have.
            runner_with(&format!(
                "grants.commands = [{{ program = \"{py}\", args = [\"manage.py\", \"**\"] }}]"
            )),
            "platform-migrate.toml:4:20:",
            "can only be narrowed",
        ),
        (
            runner_with("grants.env = [\"PGHOST\"]"),
            "platform-migrate.toml:4:15:",
            "comes from the settings",
        ),
        (
            runner_with("settings.secret-env = { DATABASE_URL = \"db\" }"),
            "platform-migrate.toml:1:10:",
            "add grants.secrets.db",
        ),
        (
            // A secret no setting names would only widen what the runner may read.
            runner_with("grants.secrets.stolen = { env = \"HOME\" }"),
            "platform-migrate.toml:4:25:",
            "no setting of builtin:django-runner names this secret",
        ),
        (
            "[plugins.django]\nsettings.manage = [\"py\"]\n[env.dev]\nrunner = \"django\"\n".into(),
            "platform-migrate.toml:1:10:",
            "names no plugin",
        ),
    ];
    for (config, at, says) in cases {
        p.write_config(&config);
        let r = p.run(&["--env", "dev", "--show"]);
        r.expect(2);
        let e = r.error_line();
        assert!(e.starts_with(&format!("error: {at}")), "{e}\n{config}");
        assert!(e.contains(says), "{e}\n{config}");
    }
    // A narrowed grant that keeps what the runner needs works: no makemigrations, so --make is
    // denied (exit 4), naming the grant.
    p.write_config(&runner_with(&format!(
        "grants.commands = [\n  {{ program = \"{py}\", args = [\"manage.py\", \"shell\", \"-c\", \"sha256:{}\"] }},\n  {{ program = \"{py}\", args = [\"manage.py\", \"migrate\", \"--noinput\", \"-v1\", \"?--fake\", \"?--database=*\", \"?<name>\", \"?<name>\"] }},\n]",
        common::helper_sha256()
    )));
    p.run(&["--env", "dev"]).expect(0);
    let r = p.run(&["--env", "dev", "--make", "--app", "users"]);
    r.expect(4);
    let r = p.run(&["plugin", "inspect", "django"]);
    assert!(!r.stdout.contains("makemigrations"), "{}", r.stdout);
}

#[test]
fn prod_on_postgresql_runs_its_first_install_with_confirm_alone_on_builtins() {
    let pg = Pg::start();
    let db = pg.create_db("shop");
    let p = project_with(&demo_config());
    let url = pg.url(&db);
    let env = [("PM_PROD_DATABASE_URL", url.as_str())];
    let r = p.run_with(&["--env", "prod", "--confirm", "--output", "json"], &env);
    r.expect(0);
    assert!(!r.all().contains(&pg.password), "the password was printed");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    common::validate_schema(&doc, "schemas/run-report.schema.json");
    assert_eq!(doc["backup"]["verified"], true, "{}", r.stdout);
    assert!(doc.get("nothing_to_back_up").is_none());
    assert_eq!(pg.applied(&db).len(), 6);
    // The backup it took restores (pg_restore into a new database).
    let file = p
        .state()
        .join("backups/prod")
        .join(doc["backup"]["file"].as_str().unwrap());
    assert!(file.is_file());
    let r = p.run_with(
        &["backups", "verify", doc["backup"]["id"].as_str().unwrap()],
        &env,
    );
    r.expect(0);
}

#[test]
fn a_first_run_with_a_required_file_backup_and_no_database_records_nothing_to_back_up() {
    let mut config = demo_config();
    config.push_str(
        "\n[env.first]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\nbackup-required = true\n",
    );
    let p = project_with(&config);
    assert!(!p.path().join("db.sqlite3").exists());
    let r = p.run(&["--env", "first", "--output", "json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    common::validate_schema(&doc, "schemas/run-report.schema.json");
    let why = doc["nothing_to_back_up"].as_str().unwrap();
    assert!(why.starts_with("db.sqlite3 "), "{why}");
    assert!(doc["backup"].is_null());
    assert!(
        r.stderr
            .contains("[3/6] backup: skipped, nothing to back up"),
        "{}",
        r.stderr
    );
    assert_eq!(p.applied(), common::set(common::ALL));
    let history = p.history();
    assert_eq!(history.last().unwrap()["nothing_to_back_up"], why);
    // Now there is something to lose: the next run that changes anything takes its backup.
    common::add_migration(
        &p,
        "users",
        "0004_note",
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [('users', '0003_fill_emails')]\n    operations = [migrations.AddField('user', 'note', models.TextField(default=''))]\n",
    );
    let r = p.run(&["--env", "first", "--output", "json"]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["backup"]["verified"], true, "{}", r.stdout);
    assert!(doc.get("nothing_to_back_up").is_none());
}

#[test]
fn a_required_backup_that_finds_nothing_while_the_database_has_tables_still_fails() {
    // The backup reads another file than the one Django uses: the provider finds nothing, but
    // the host sees that Django's database holds tables, so the run stops before migrating.
    let config = demo_config().replace("/project/db.sqlite3", "/project/other.sqlite3")
        + "\n[env.first]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\nbackup-required = true\n";
    let p = project_with(&config);
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    let before = p.applied();
    let r = p.run(&["--env", "first"]);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("is not empty"), "{e}");
    assert!(e.contains("nothing was migrated"), "{e}");
    assert_eq!(p.applied(), before);
}

#[test]
fn a_pg_dump_backup_for_a_runner_that_reached_sqlite_is_refused_before_anything_runs() {
    // Settings that ignore DATABASE_URL: Django opens its SQLite file while pg_dump would back
    // up the PostgreSQL database, so the backup would not hold what the run changes.
    let config = demo_config()
        + "\n[env.wrong]\nrunner = \"django\"\nbackup = \"pg-backup\"\nbackup-required = true\n";
    let p = project_with(&config);
    let env = [("PM_PROD_DATABASE_URL", "postgresql://u:p@127.0.0.1:1/x")];
    for args in [&["--env", "wrong", "--show"][..], &["--env", "wrong"][..]] {
        let r = p.run_with(args, &env);
        r.expect(2);
        let e = r.error_line();
        assert!(e.contains("reached a sqlite database"), "{e}");
        assert!(e.contains("DATABASES from it"), "{e}");
    }
    assert!(p.applied().is_empty());
}

#[test]
fn builtin_slack_posts_to_slack_only_and_its_denial_does_not_suggest_widening() {
    // The webhook secret points at a local receiver: builtin:slack-notifier's derived grant
    // reaches https://hooks.slack.com only, so the notification is denied (exit 5) and the
    // migration stands; the message says the grant cannot be widened, not which line to add.
    let rx = common::receiver::Receiver::start(vec![]);
    let config = demo_config().replace(
        "# [plugins.slack]\n# plugin = \"builtin:slack-notifier\"\n# grants.secrets.slack-webhook = { env = \"SLACK_WEBHOOK_URL\" }",
        "[plugins.slack]\nplugin = \"builtin:slack-notifier\"\ngrants.secrets.slack-webhook = { env = \"SLACK_WEBHOOK_URL\" }",
    ) + "\n[env.notified]\nrunner = \"django\"\nnotifiers = [\"slack\"]\n";
    assert!(
        config.contains("\n[plugins.slack]\n"),
        "the demo's commented slack entry changed"
    );
    let p = project_with(&config);
    let hook = format!("{}/services/T0/B0/SECRETPART", rx.origin());
    let r = p.run_with(
        &["--env", "notified"],
        &[("SLACK_WEBHOOK_URL", hook.as_str())],
    );
    r.expect(5);
    assert!(rx.received().is_empty());
    let e = r.error_line();
    assert!(e.contains(&rx.origin()), "{e}");
    assert!(e.contains("cannot widen"), "{e}");
    assert!(!e.contains("grants.hosts"), "{e}");
    assert!(
        !r.all().contains("SECRETPART"),
        "the webhook URL was printed"
    );
    assert_eq!(p.applied(), common::set(common::ALL));
}

#[test]
fn colours_follow_the_flag_and_no_color() {
    let p = project_with(&demo_config());
    let r = p.run(&["--env", "dev", "--show", "--color", "always"]);
    r.expect(0);
    assert!(r.stdout.contains("\u{1b}[32mok"), "{}", r.stdout);
    assert!(r.stdout.contains("\u{1b}[32mshown"), "{}", r.stdout);
    let r = p.run(&["--env", "dev", "--show", "--color", "never"]);
    assert!(!r.stdout.contains('\u{1b}'), "{}", r.stdout);
    // Not a terminal: none by default.
    let r = p.run(&["--env", "dev", "--show"]);
    assert!(!r.stdout.contains('\u{1b}'), "{}", r.stdout);
}

#[test]
fn a_python_that_may_not_be_executed_is_named_once_with_the_fix() {
    let p = Project::new();
    let fake = p.path().join("py");
    std::fs::write(&fake, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.write_config(
        "[plugins.django]\nplugin = \"builtin:django-runner\"\nsettings.manage = [\"./py\", \"manage.py\"]\n[env.dev]\nrunner = \"django\"\n",
    );
    let r = p.run(&["--env", "dev", "--show"]);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("permission denied"), "{e}");
    assert!(e.contains("chmod +x"), "{e}");
    assert!(!e.contains("not found"), "{e}");
}

#[test]
fn init_refuses_a_folder_without_manage_py_and_an_existing_config() {
    let d = tempfile::tempdir().unwrap();
    let r = Run::from(
        Command::new(env!("CARGO_BIN_EXE_platform-migrate"))
            .arg("init")
            .current_dir(d.path())
            .output()
            .unwrap(),
    );
    r.expect(2);
    let e = r.error_line();
    assert!(e.contains("no manage.py in"), "{e}");
    assert!(
        e.contains(&format!("{}/*/manage.py", d.path().display())),
        "{e}"
    );
    assert!(!d.path().join("platform-migrate.toml").exists());
    let p = Project::new();
    let before = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    let r = p.run(&["init"]);
    r.expect(2);
    assert!(r.error_line().contains("already exists"), "{}", r.all());
    assert_eq!(
        std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap(),
        before
    );
}

/// The wheel `just dist` built (target/wheels), which `just test` builds before the tests.
fn wheel() -> PathBuf {
    let dir = root().join("target/wheels");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap_or_else(|| {
            panic!(
                "no wheel in {}: run the tests with `just test`, which runs `just dist`",
                dir.display()
            )
        })
}

/// PATH with only the system's folders (no cargo, no rustup) and `first` in front.
fn path_without_cargo(first: &Path) -> String {
    format!("{}:/usr/local/bin:/usr/bin:/bin", first.display())
}

/// A fresh venv with `packages` installed, as a user makes one.
fn venv(at: &Path, packages: &[&str]) -> PathBuf {
    let python3 = which("python3");
    let ok = Command::new(&python3)
        .args(["-m", "venv"])
        .arg(at)
        .status()
        .unwrap()
        .success();
    assert!(ok, "python3 -m venv failed");
    common::succeeded(
        Command::new(at.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .env("PATH", path_without_cargo(&at.join("bin")))
            .output()
            .unwrap(),
    );
    at.join("bin")
}

fn which(program: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// Run `platform-migrate ARGS` from the venv `bin` in `dir`, as a user would: no cargo on PATH.
fn installed(bin: &Path, dir: &Path, args: &[&str], venv: &Path) -> Run {
    Run::from(
        Command::new(bin.join("platform-migrate"))
            .args(args)
            .current_dir(dir)
            .env("XDG_STATE_HOME", venv.with_file_name("state"))
            .env("PATH", path_without_cargo(bin))
            .env("VIRTUAL_ENV", venv)
            .env_remove("CARGO_HOME")
            .env_remove("RUSTUP_HOME")
            .output()
            .unwrap(),
    )
}

/// The demo's Django version, so the fresh venv gets the same (from pip's cache when it can).
fn django_requirement() -> String {
    std::fs::read_to_string(root().join("examples/demo/requirements.txt"))
        .unwrap()
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("django"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_wheel_installs_into_a_fresh_venv_and_init_configures_two_projects() {
    let wheel = wheel();
    let home = tempfile::tempdir().unwrap();
    let venv_dir = home.path().join("venv");
    let started = std::time::Instant::now();
    let bin = venv(&venv_dir, &[wheel.to_str().unwrap(), &django_requirement()]);
    eprintln!("pip install took {:?}", started.elapsed());
    assert!(
        !path_without_cargo(&bin)
            .split(':')
            .any(|d| Path::new(d).join("cargo").exists()),
        "cargo is on the PATH the test gives the user"
    );
    let r = installed(&bin, home.path(), &["--version"], &venv_dir);
    r.expect(0);
    assert_eq!(r.stdout.matches("sha256:").count(), 4, "{}", r.stdout);
    // On a platform the wheel is not built for, pip refuses it itself (as the README says).
    let out = Command::new(bin.join("pip"))
        .args([
            "install",
            "--dry-run",
            "--disable-pip-version-check",
            "--only-binary=:all:",
        ])
        .args(["--platform", "manylinux_2_17_x86_64", "--target"])
        .arg(home.path().join("other"))
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("is not a supported wheel on this platform"),
        "{said}"
    );

    // A copy of the demo, and a project made by django-admin startproject.
    let demo = Project::new();
    std::fs::remove_file(demo.path().join("platform-migrate.toml")).unwrap();
    let fresh = home.path().join("mysite");
    std::fs::create_dir(&fresh).unwrap();
    common::succeeded(
        Command::new(bin.join("django-admin"))
            .args(["startproject", "mysite", "."])
            .current_dir(&fresh)
            .env("PATH", path_without_cargo(&bin))
            .output()
            .unwrap(),
    );

    for dir in [demo.path(), fresh.as_path()] {
        let r = installed(&bin, dir, &["init"], &venv_dir);
        r.expect(0);
        assert!(
            r.stdout.contains("next: platform-migrate --env dev --show"),
            "{}",
            r.stdout
        );
        let text = std::fs::read_to_string(dir.join("platform-migrate.toml")).unwrap();
        assert!(text.lines().count() <= 31, "{text}");
        assert!(!text.contains("sha256"), "{text}");
        installed(&bin, dir, &["--env", "dev", "--show"], &venv_dir).expect(0);
        let r = installed(&bin, dir, &["--env", "dev"], &venv_dir);
        r.expect(0);
        assert!(r.stdout.contains("succeeded:"), "{}", r.all());
        let r = installed(&bin, dir, &["--env", "test", "--reset"], &venv_dir);
        r.expect(0);
        // init never overwrites what it wrote.
        installed(&bin, dir, &["init"], &venv_dir).expect(2);
    }
    assert_eq!(demo.applied(), common::set(common::ALL));
}

#[test]
fn the_github_action_installs_the_wheel_runs_and_writes_the_summary() {
    use yaml_rust2::YamlLoader;
    let wheel = wheel();
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    for input in ["env", "args", "version"] {
        assert!(
            !doc["inputs"][input].is_badvalue(),
            "action.yml has no input {input}"
        );
    }
    assert_eq!(doc["runs"]["using"].as_str(), Some("composite"));
    let p = project_with(&demo_config());
    let runner = tempfile::tempdir().unwrap();
    let (summary, output, gh_path) = (
        runner.path().join("summary.md"),
        runner.path().join("output"),
        runner.path().join("path"),
    );
    for f in [&summary, &output, &gh_path] {
        std::fs::write(f, "").unwrap();
    }
    let wheel_text = wheel.display().to_string();
    let inputs = [
        ("env", "dev"),
        ("args", "--app users"),
        ("version", wheel_text.as_str()),
        ("config", "platform-migrate.toml"),
        ("working-directory", "."),
    ];
    let expand = |v: &str| {
        let mut v = v.to_string();
        for (name, value) in inputs {
            v = v.replace(&format!("${{{{ inputs.{name} }}}}"), value);
        }
        v
    };
    let mut path = path_without_cargo(Path::new("/nonexistent"));
    let mut ran = Vec::new();
    for step in doc["runs"]["steps"].as_vec().unwrap() {
        assert_eq!(step["shell"].as_str(), Some("bash"));
        let script = step["run"].as_str().unwrap();
        // What GitHub adds to PATH from $GITHUB_PATH before each later step.
        let added = std::fs::read_to_string(&gh_path).unwrap();
        for line in added.lines().filter(|l| !l.is_empty()) {
            path = format!("{line}:{path}");
        }
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(
                p.path()
                    .join(expand(step["working-directory"].as_str().unwrap_or("."))),
            )
            .env("XDG_STATE_HOME", p.state_home.path())
            .env("PATH", &path)
            .env("RUNNER_TEMP", runner.path())
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_PATH", &gh_path);
        if let Some(env) = step["env"].as_hash() {
            for (k, v) in env {
                cmd.env(k.as_str().unwrap(), expand(v.as_str().unwrap()));
            }
        }
        let r = Run::from(cmd.output().unwrap());
        r.expect(0);
        ran.push(step["name"].as_str().unwrap().to_string());
    }
    assert_eq!(ran, ["Install platform-migrate", "Run platform-migrate"]);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().trim(),
        "exit-code=0"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("users.0001_initial"), "{md}");
    assert!(
        !md.contains("orders.0001_initial"),
        "--app users was passed on: {md}"
    );
    assert_eq!(
        p.applied(),
        common::set(&common::ALL[..3]),
        "only the users app was migrated"
    );
}

/// `orders/0004_ping`: a data migration that calls the project's own `orders/hooks.py`,
/// which connects to 127.0.0.1:`port` (a service such as a Redis cache) and, when it may,
/// writes what the environment variable DEMO_CACHE_PORT holds to `pinned.txt`.
fn add_ping_migration(p: &Project, port: u16) {
    std::fs::write(
        p.path().join("orders/hooks.py"),
        format!(
            "import os, socket\n\n\ndef ping(apps, schema_editor):\n    \
             try:\n        \
             socket.create_connection((\"127.0.0.1\", {port}), timeout=5).close()\n    \
             except OSError as e:  # as redis-py reports it\n        \
             raise ConnectionError(f\"Error {{e.errno}} connecting to 127.0.0.1:{port}. {{e.strerror}}.\")\n    \
             with open(\"pinned.txt\", \"w\") as f:\n        \
             f.write(os.environ.get(\"DEMO_CACHE_PORT\", \"unset\"))\n"
        ),
    )
    .unwrap();
    common::add_migration(
        p,
        "orders",
        "0004_ping",
        "from django.db import migrations\nfrom orders.hooks import ping\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(ping, migrations.RunPython.noop)]\n",
    );
}

/// A program the sandbox refuses a connection fails with the project's traceback; the run
/// says the sandbox most likely refused it, what the entry grants and the line to add, and
/// with that line (a built-in's `connect` setting) the same run succeeds.
#[test]
fn a_connection_the_sandbox_refuses_is_named_with_the_line_that_grants_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = project_with(&runner_with(""));
    add_ping_migration(&p, port);
    let r = p.run(&["--env", "dev"]);
    r.expect(1);
    let e = r.error_line();
    assert!(
        e.contains(&format!(
            "a program of plugin 'django' tried to connect to port {port}, and plugins.django grants its programs no TCP port"
        )),
        "{}",
        r.all()
    );
    assert!(
        e.contains(&format!(
            "add to [plugins.django]: settings.connect = [{port}] (database changed before"
        )),
        "{e}"
    );
    // The project's own frame is shown, not only the library's.
    assert!(r.stdout.contains("orders/hooks.py"), "{}", r.all());
    assert!(!p.path().join("pinned.txt").exists());

    p.write_config(&runner_with(&format!("settings.connect = [{port}]")));
    let r = p.run(&["--env", "dev"]);
    r.expect(0);
    assert_eq!(
        std::fs::read_to_string(p.path().join("pinned.txt")).unwrap(),
        "unset"
    );
}

/// A variable `grants.env` pins to a value reaches the programs the plugin starts, even when
/// the plugin's settings do not set it: a pin is never accepted and then without effect.
#[test]
fn a_value_pinned_in_grants_env_reaches_the_program() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = Project::new();
    add_ping_migration(&p, port);
    let config = common::config_text().replacen(
        "grants.confine.write = [\".\"]",
        &format!(
            "grants.confine.write = [\".\"]\ngrants.confine.connect = [{port}]\ngrants.env = [{{ name = \"DEMO_CACHE_PORT\", value = \"{port}\" }}]"
        ),
        1,
    );
    assert!(config.contains("DEMO_CACHE_PORT"), "{config}");
    p.write_config(&config);
    p.run(&["--env", "dev"]).expect(0);
    assert_eq!(
        std::fs::read_to_string(p.path().join("pinned.txt")).unwrap(),
        port.to_string()
    );
}

/// `init` asks Django (WIT 0.3.0 `services`) which services the settings name besides the
/// database, and grants their ports to the runner's programs: a project whose migration
/// reaches its Redis cache runs with the config init wrote, unchanged.
#[test]
fn init_grants_the_ports_of_the_services_the_settings_name() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = Project::new();
    std::fs::remove_file(p.path().join("platform-migrate.toml")).unwrap();
    let settings = p.path().join("demo/settings.py");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str(&format!(
        "\nCACHES = {{\"default\": {{\"BACKEND\": \"django.core.cache.backends.redis.RedisCache\", \"LOCATION\": \"redis://127.0.0.1:{port}/0\"}}}}\n"
    ));
    std::fs::write(&settings, text).unwrap();
    add_ping_migration(&p, port);
    let venv = common::root().join(".venv");
    let r = p.run_with(&["init"], &[("VIRTUAL_ENV", venv.to_str().unwrap())]);
    r.expect(0);
    let config = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    assert!(
        config.contains(&format!(
            "settings.connect = [{port}]  # CACHES[\"default\"]\n"
        )),
        "{config}"
    );
    p.run(&["--env", "dev"]).expect(0);
    assert_eq!(
        std::fs::read_to_string(p.path().join("pinned.txt")).unwrap(),
        "unset"
    );
}
