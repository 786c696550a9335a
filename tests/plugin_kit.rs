//! The third-party plugin kit end to end: `plugin new` scaffolds of each kind built with cargo
//! and run through the host; `plugin inspect`/`check` on good components, a wrong world and an
//! unknown WIT version; the two example plugins in examples/plugins run in real migrations.

use crate::common;

use common::receiver::{Answer, Receiver};
use common::{config_text, plugin, root, Project, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_platform-migrate"));
    c.env_remove("PLATFORM_MIGRATE_LOG");
    c
}

fn run(mut c: Command) -> Run {
    Run::from(c.output().unwrap())
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Scaffolds live outside the repository: build them with its pinned toolchain, which
    // `just setup` gave the wasm32-wasip2 target (the machine's default may lack it).
    let pin = std::fs::read_to_string(root().join("rust-toolchain.toml")).unwrap();
    let channel = pin
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel = "))
        .map(|v| v.trim_matches('"').to_string());
    if let Some(channel) = channel {
        c.env("RUSTUP_TOOLCHAIN", channel);
    }
    c
}

/// One target directory for every scaffolded crate, kept between test runs.
fn scaffold_target() -> PathBuf {
    root().join("target/plugin-kit")
}

/// Scaffold (with `extra` flags of `plugin new`), unit-test and build one plugin; returns its
/// component.
fn scaffold(dir: &Path, kind: &str, name: &str, extra: &[&str]) -> PathBuf {
    let mut c = bin();
    c.current_dir(dir)
        .args(["plugin", "new", "--kind", kind, name])
        .args(extra);
    let out = run(c);
    out.expect(0);
    assert!(
        out.stdout.contains(&format!("plugin '{name}' in")),
        "{}",
        out.all()
    );
    let crate_dir = dir.join(name);
    // What a careful author runs: formatting and lints are clean as generated, the generated
    // tests pass, and one command builds the component.
    for args in [
        &["fmt", "--check"][..],
        &["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"][..],
        &["test", "--quiet"][..],
        &["build", "--release", "--quiet", "--target", "wasm32-wasip2"][..],
    ] {
        let o = cargo()
            .args(args)
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", scaffold_target())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cargo {args:?} failed in the scaffolded {kind} plugin\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let wasm = scaffold_target()
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    wasm
}

/// The config block a scaffold's README tells the user to paste.
fn readme_config(crate_dir: &Path) -> String {
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("README has a toml block") + 8;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

#[test]
fn scaffolded_plugins_of_each_kind_build_test_and_run_through_the_host() {
    let work = tempfile::tempdir().unwrap();
    let runner = scaffold(work.path(), "runner", "sql-runner", &[]);
    let backup = scaffold(work.path(), "backup", "copy-backup", &[]);
    // Built with nothing from this checkout: the SDK the binary carries, written beside it.
    let notifier = scaffold(
        work.path(),
        "notifier",
        "log-notifier",
        &["--sdk", "vendor"],
    );
    let manifest = std::fs::read_to_string(work.path().join("log-notifier/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("path = \"platform-migrate-sdk\""),
        "{manifest}"
    );
    assert!(work
        .path()
        .join("log-notifier/platform-migrate-sdk/wit/since_v0.3.0/notifier.wit")
        .is_file());

    for (wasm, kind, world) in [
        (&runner, "runner", "migration-runner"),
        (&backup, "backup", "backup-provider"),
        (&notifier, "notifier", "notifier"),
    ] {
        let mut c = bin();
        c.args(["plugin", "check", "--kind", kind]).arg(wasm);
        let out = run(c);
        out.expect(0);
        assert!(out.stdout.contains(world), "{}", out.all());
    }

    // A project of plain SQL migrations, configured from the runner's README, backed up and
    // notified by the other two scaffolds. The README's path points at the crate's own
    // target/, which this test redirected.
    let proj = work.path().join("proj");
    std::fs::create_dir_all(proj.join("migrations/shop")).unwrap();
    std::fs::write(
        proj.join("migrations/shop/0001_init.sql"),
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("migrations/shop/0002_price.sql"),
        "ALTER TABLE item ADD COLUMN price INTEGER NOT NULL DEFAULT 0;\n",
    )
    .unwrap();
    let runner_block = readme_config(&work.path().join("sql-runner")).replace(
        &work
            .path()
            .canonicalize()
            .unwrap()
            .join("sql-runner/target/wasm32-wasip2/release/sql_runner.wasm")
            .display()
            .to_string(),
        &runner.display().to_string(),
    );
    assert!(
        runner_block.contains(&runner.display().to_string()),
        "{runner_block}"
    );
    let config = format!(
        r#"{runner_block}
backup = "copy-backup"
notifiers = ["log-notifier"]

[plugins.copy-backup]
path = "{}"
settings = {{ source = "/project/db.sqlite3" }}
grants.dirs = [{{ host = ".", guest = "/project", access = "read-only" }}]

[plugins.log-notifier]
path = "{}"
settings = {{ prefix = "kit-test" }}
"#,
        backup.display(),
        notifier.display()
    );
    std::fs::write(proj.join("platform-migrate.toml"), config).unwrap();
    // Something to back up: a database with one unrelated table.
    let sqlite = |sql: &str| -> String {
        let o = Command::new("sqlite3")
            .arg(proj.join("db.sqlite3"))
            .arg(sql)
            .output()
            .expect("sqlite3 is installed");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    sqlite("CREATE TABLE keep (x);");

    let in_proj = |args: &[&str]| {
        let mut c = bin();
        c.current_dir(&proj)
            .env("XDG_STATE_HOME", work.path().join("state"))
            .args(args);
        run(c)
    };
    let shown = in_proj(&["--env", "dev", "--show"]);
    shown.expect(0);
    assert!(shown.stdout.contains("shop.0001_init"), "{}", shown.all());
    assert!(shown.stdout.contains("2 step(s)"), "{}", shown.all());

    let done = in_proj(&["-v", "--env", "dev"]);
    done.expect(0);
    assert!(
        done.stderr.contains(
            "kit-test: dev: migrate succeeded, 2 changes (shop.0001_init, shop.0002_price)"
        ),
        "the scaffolded notifier's line is missing\n{}",
        done.all()
    );
    let schema = sqlite(".schema item");
    assert!(schema.contains("price INTEGER"), "{schema}");
    let ledger = sqlite("SELECT app || '.' || name FROM platform_migrate_applied ORDER BY name;");
    assert_eq!(ledger.trim(), "shop.0001_init\nshop.0002_price");
    // The scaffolded backup provider's copy is in the catalog, verified, and a real database.
    let state = std::fs::read_dir(work.path().join("state/platform-migrate"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let backups: Vec<PathBuf> = std::fs::read_dir(state.join("backups/dev"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bak"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let o = Command::new("sqlite3")
        .arg(&backups[0])
        .arg(".tables")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "keep");

    // A failing file changes nothing: its table and its ledger row are rolled back together.
    std::fs::write(
        proj.join("migrations/shop/0003_bad.sql"),
        "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);\n",
    )
    .unwrap();
    let failed = in_proj(&["--env", "dev"]);
    failed.expect(1);
    assert!(
        failed.all().contains("no such table: no_such_table"),
        "{}",
        failed.all()
    );
    assert!(sqlite(".tables").split_whitespace().all(|t| t != "half"));
    assert_eq!(
        sqlite("SELECT count(*) FROM platform_migrate_applied;").trim(),
        "2"
    );
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_directories() {
    let work = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.current_dir(work.path())
        .args(["plugin", "new", "--kind", "notifier", "My_Plugin"]);
    let out = run(c);
    out.expect(2);
    assert!(out.error_line().contains("not valid"), "{}", out.all());

    std::fs::create_dir(work.path().join("taken")).unwrap();
    std::fs::write(work.path().join("taken/keep.txt"), "mine").unwrap();
    let mut c = bin();
    c.current_dir(work.path())
        .args(["plugin", "new", "--kind", "backup", "taken"]);
    let out = run(c);
    out.expect(2);
    assert!(out.error_line().contains("not empty"), "{}", out.all());
    assert_eq!(
        std::fs::read_to_string(work.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );
    assert!(!work.path().join("taken/Cargo.toml").exists());
}

// ---- inspect and check ----------------------------------------------------------------

/// A component whose functions trap, built from WIT text for `world` (no plugin code runs in
/// `check`, so the bodies do not matter).
fn dummy_component(wit_dir: &Path, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(wit_dir).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// The repository's WIT package copied with its version replaced.
fn wit_as_version(dir: &Path, version: &str) -> PathBuf {
    let out = dir.join(format!("wit-{version}"));
    std::fs::create_dir_all(&out).unwrap();
    for e in std::fs::read_dir(root().join("sdk/wit/since_v0.1.0")).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        std::fs::write(
            out.join(e.file_name()),
            text.replace("@0.1.0", &format!("@{version}")),
        )
        .unwrap();
    }
    out
}

fn check(file: &Path, kind: Option<&str>) -> Run {
    let mut c = bin();
    c.args(["plugin", "check"]).arg(file);
    if let Some(k) = kind {
        c.args(["--kind", k]);
    }
    run(c)
}

#[test]
fn inspect_reports_world_version_capabilities_hash_and_size() {
    let file = plugin("slack_notifier");
    let mut c = bin();
    c.args(["plugin", "inspect", "--json"]).arg(&file);
    let out = run(c);
    out.expect(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let bytes = std::fs::read(&file).unwrap();
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(v["world"], "notifier");
    assert_eq!(v["wit_package"], "platform:migrate");
    assert_eq!(v["wit_version"], "0.3.0");
    assert_eq!(v["name"], "slack-notifier");
    assert_eq!(v["sha256"], sha.as_str());
    assert_eq!(v["size"], bytes.len() as u64);
    assert_eq!(v["capabilities"][0]["kind"], "secret");
    assert_eq!(v["capabilities"][0]["value"], "slack-webhook");
    let imports: Vec<&str> = v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@")),
        "{imports:?}"
    );

    // Human output carries the same facts and a config entry with the pin and grants.
    let mut c = bin();
    c.args(["plugin", "inspect"]).arg(plugin("django_runner"));
    let out = run(c);
    out.expect(0);
    for want in [
        "world         migration-runner",
        "platform:migrate@0.3.0",
        "process: run granted programs",
        "[plugins.django-runner]",
    ] {
        assert!(out.stdout.contains(want), "missing {want:?}\n{}", out.all());
    }
}

#[test]
fn check_accepts_every_built_plugin_and_names_what_is_wrong_otherwise() {
    for (name, world) in [
        ("django_runner", "migration-runner"),
        ("file_backup", "backup-provider"),
        ("pg_dump_backup", "backup-provider"),
        ("slack_notifier", "notifier"),
        ("webhook_notifier", "notifier"),
        ("dir_archive_backup", "backup-provider"),
    ] {
        let out = check(&plugin(name), None);
        out.expect(0);
        assert!(
            out.stdout.contains(&format!("is a {world} plugin")),
            "{}",
            out.all()
        );
    }

    // The right component for the wrong job.
    let out = check(&plugin("slack_notifier"), Some("backup"));
    out.expect(2);
    assert!(
        out.error_line()
            .contains("is not a backup-provider plugin: it is a notifier plugin"),
        "{}",
        out.all()
    );

    let dir = tempfile::tempdir().unwrap();
    // A component of some other world entirely.
    let other = dir.path().join("other-wit");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("w.wit"),
        "package acme:tools@1.0.0;\nworld tool {\n  export frobnicate: func(x: u32) -> u32;\n}\n",
    )
    .unwrap();
    let file = dir.path().join("tool.wasm");
    std::fs::write(&file, dummy_component(&other, "tool")).unwrap();
    let out = check(&file, None);
    out.expect(2);
    let line = out.error_line();
    assert!(
        line.contains("implements none of the plugin worlds"),
        "{line}"
    );
    assert!(line.contains("frobnicate"), "{line}");

    // A notifier built against a WIT version this host does not have.
    let file = dir.path().join("future.wasm");
    std::fs::write(
        &file,
        dummy_component(&wit_as_version(dir.path(), "0.9.0"), "notifier"),
    )
    .unwrap();
    let out = check(&file, None);
    out.expect(2);
    let line = out.error_line();
    assert!(line.contains("platform:migrate@0.9.0"), "{line}");
    assert!(line.contains("platform:migrate@0.1.0"), "{line}");

    // The same component named in a config is refused before the run starts.
    let p = Project::new();
    p.write_config(&format!(
        "{}notifiers = [\"future\"]\n\n[plugins.future]\npath = \"{}\"\n",
        config_text(),
        file.display()
    ));
    let out = p.run(&["--env", "prod", "--confirm"]);
    out.expect(2);
    let line = out.error_line();
    assert!(line.contains("plugin 'future'"), "{line}");
    assert!(line.contains("0.9.0") && line.contains("0.1.0"), "{line}");
    assert!(p.applied().is_empty(), "the run went ahead");
    // `plugins list` says the same of every entry, as a pre-flight check.
    let listed = p.run(&["plugins", "list"]);
    listed.expect(1);
    assert!(listed.stdout.contains("CANNOT LOAD"), "{}", listed.all());
    assert!(
        listed
            .stdout
            .contains("migration-runner plugin, platform:migrate@0.3.0"),
        "{}",
        listed.all()
    );
    assert!(listed.error_line().contains("0.9.0"), "{}", listed.all());

    // An entry of the wrong world for its role is caught by `plugins list` before any run.
    let q = Project::new();
    q.write_config(&format!(
        "{}
[plugins.slack]
path = \"{}\"
",
        config_text().replacen("backup = \"sqlite-backup\"", "backup = \"slack\"", 1),
        plugin("slack_notifier").display()
    ));
    let listed = q.run(&["plugins", "list"]);
    listed.expect(1);
    assert!(
        listed
            .error_line()
            .contains("env.dev.backup names 'slack', a notifier plugin; name a backup-provider plugin entry there"),
        "{}",
        listed.all()
    );

    // A dummy of our own version and world passes: the checks above failed for their reasons.
    let file = dir.path().join("current.wasm");
    std::fs::write(
        &file,
        dummy_component(&root().join("sdk/wit/since_v0.1.0"), "notifier"),
    )
    .unwrap();
    check(&file, Some("notifier")).expect(0);

    // A notifier of our version that also imports an interface the host does not provide.
    let extra = wit_as_version(dir.path(), "0.1.0");
    std::fs::write(
        extra.join("extra.wit"),
        "package platform:migrate@0.1.0;\ninterface backdoor {\n  poke: func();\n}\n",
    )
    .unwrap();
    let notifier_wit = std::fs::read_to_string(extra.join("notifier.wit")).unwrap();
    std::fs::write(
        extra.join("notifier.wit"),
        notifier_wit.replace(
            "world notifier {\n",
            "world notifier {\n    import backdoor;\n",
        ),
    )
    .unwrap();
    let file = dir.path().join("extra.wasm");
    std::fs::write(&file, dummy_component(&extra, "notifier")).unwrap();
    let out = check(&file, None);
    out.expect(2);
    let line = out.error_line();
    assert!(
        line.contains("imports something this host does not provide"),
        "{line}"
    );
    assert!(line.contains("backdoor"), "{line}");

    // Not a component at all.
    let file = dir.path().join("text.wasm");
    std::fs::write(&file, "hello").unwrap();
    let out = check(&file, None);
    out.expect(2);
    assert!(
        out.error_line().contains("not a WebAssembly component"),
        "{}",
        out.all()
    );
}

// ---- the example plugins ----------------------------------------------------------------

#[test]
fn example_plugins_archive_a_directory_and_post_json_to_a_webhook() {
    let hook = Receiver::start(vec![Answer::new(503, "busy"), Answer::new(204, "")]);
    // The backup provider's off-site copy goes to a store of its own.
    let offsite = Receiver::start(vec![Answer::new(201, "")]);
    let p = Project::new();
    let media = p.path().join("media");
    std::fs::create_dir_all(media.join("avatars")).unwrap();
    std::fs::write(media.join("avatars/a.png"), vec![1u8; 5000]).unwrap();
    std::fs::write(media.join("readme.txt"), "uploads").unwrap();
    let token = "tok-ExampleSecret-42";
    p.write_config(&format!(
        r#"{}
[env.staging]
runner = "django"
backup = "media"
notifiers = ["hook"]

[plugins.media]
path = "{}"
settings = {{ source = "/media", upload-url = "{}/backups/media" }}
grants.dirs = [{{ host = "media", guest = "/media", access = "read-only" }}]
grants.hosts = ["{}"]

[plugins.hook]
path = "{}"
settings = {{ token-secret = "hook-token" }}
grants.secrets = {{ webhook-url = {{ env = "PM_TEST_HOOK_URL" }}, hook-token = {{ env = "PM_TEST_HOOK_TOKEN" }} }}
grants.hosts = ["{}"]
"#,
        config_text(),
        plugin("dir_archive_backup").display(),
        offsite.origin(),
        offsite.origin(),
        plugin("webhook_notifier").display(),
        hook.origin()
    ));
    let url = format!("{}/hooks/deploys", hook.origin());
    let env = [
        ("PM_TEST_HOOK_URL", url.as_str()),
        ("PM_TEST_HOOK_TOKEN", token),
    ];
    let out = p.run_with(&["--env", "staging"], &env);
    out.expect(0);
    assert!(!out.all().contains(token), "token leaked\n{}", out.all());

    // The archive went off-site once, checked, byte for byte what the catalog records.
    let up = offsite.received();
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].method, "PUT");
    let cat = p.catalog();
    let entry = cat
        .iter()
        .find(|b| b["env"] == "staging")
        .expect("a staging backup");
    assert_eq!(
        up[0].path,
        format!("/backups/media/{}", entry["file"].as_str().unwrap())
    );
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&up[0].bytes)),
        entry["sha256"].as_str().unwrap()
    );

    // The webhook got one JSON document (after one 503) with the bearer token.
    let got = hook.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let last = &got[1];
    assert_eq!(last.path, "/hooks/deploys");
    assert!(last
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == &format!("Bearer {token}")));
    // Sent with its length, not chunked: some servers refuse chunked requests.
    let length = last
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.clone());
    assert_eq!(
        length,
        Some(last.body.len().to_string()),
        "{:?}",
        last.headers
    );
    let doc = last.json();
    assert_eq!(doc["schema"], "platform-migrate.run/1");
    assert_eq!(doc["env"], "staging");
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["applied"].as_array().unwrap().len(), common::ALL.len());
    assert!(doc["backup_id"].as_str().unwrap().starts_with("staging-"));

    // The archive is in the catalog, verified; it holds the directory; damage is found.
    let catalog = p.catalog();
    assert_eq!(catalog.len(), 1, "{catalog:?}");
    assert_eq!(catalog[0]["verified"], true);
    let id = catalog[0]["id"].as_str().unwrap().to_string();
    let archive = p.backups("staging").into_iter().next().unwrap();
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("avatars/a.png") && listing.contains("readme.txt"),
        "{listing}"
    );
    p.run(&["backups", "verify", &id]).expect(0);

    // Inspecting a config entry describes it with its settings and checks its grants.
    let shown = p.run(&["plugin", "inspect", "media"]);
    shown.expect(0);
    assert!(shown.stdout.contains("directory /media"), "{}", shown.all());
    assert!(
        shown
            .stdout
            .contains("grants        cover every declared capability"),
        "{}",
        shown.all()
    );
    let cfg = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&cfg.replace(", hook-token = { env = \"PM_TEST_HOOK_TOKEN\" }", ""));
    // The plugin declares `token-secret` as a setting that names a secret, so the host finds
    // the gap in the settings, at their place in the config (exit 2, as for any config error).
    let shown = p.run(&["plugin", "inspect", "--json", "hook"]);
    shown.expect(2);
    let v: serde_json::Value = serde_json::from_str(&shown.stdout).expect(&shown.stdout);
    assert_eq!(v["grants_cover_needs"], false);
    assert!(
        shown.error_line().contains(
            "plugins.hook.settings.token-secret names secret `hook-token`, which plugins.hook.grants.secrets does not define"
        ),
        "{}",
        shown.all()
    );
    let settings = v["settings"].as_array().expect("the schema in JSON");
    assert!(
        settings
            .iter()
            .any(|s| s["name"] == "attempts" && s["type"] == "integer" && s["default"] == "3"),
        "{settings:?}"
    );
    p.write_config(&cfg);

    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() - 40]).unwrap();
    let out = p.run(&["backups", "verify", &id]);
    assert_ne!(out.code, 0, "a truncated archive verified\n{}", out.all());
}

#[test]
fn a_notifier_written_in_python_runs_through_the_host() {
    let file = root().join("target/python/file_notifier.wasm");
    assert!(
        file.is_file(),
        "{} is missing: `just test` builds it (`just python-plugin`)",
        file.display()
    );
    check(&file, Some("notifier")).expect(0);

    let p = Project::new();
    std::fs::create_dir(p.path().join("audit")).unwrap();
    p.write_config(&format!(
        r#"{}
[env.qa]
runner = "django"
notifiers = ["audit"]

[plugins.audit]
path = "{}"
settings = {{ dir = "/out" }}
grants.dirs = [{{ host = "audit", guest = "/out", access = "read-write" }}]
"#,
        config_text(),
        file.display()
    ));
    p.run(&["--env", "qa", "--app", "users"]).expect(0);
    p.run(&["--env", "qa", "--app", "users", "--rollback"])
        .expect(0);
    let text = std::fs::read_to_string(p.path().join("audit/runs.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["env"], "qa");
    assert_eq!(lines[0]["outcome"], "succeeded");
    let users = common::ALL.iter().filter(|(a, _)| *a == "users").count();
    assert_eq!(lines[0]["applied"].as_array().unwrap().len(), users);
    assert_eq!(lines[1]["action"], "rollback");
    assert_eq!(lines[1]["applied"][0]["backwards"], true);

    // Read-only, the same plugin cannot write: the notification fails (exit 5), the run stands.
    let cfg = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&cfg.replace(
        "access = \"read-write\" }]\n",
        "access = \"read-only\" }]\n",
    ));
    let out = p.run(&["--env", "qa", "--app", "users"]);
    out.expect(5);
    assert!(
        out.all().contains("cannot append to /out/runs.jsonl"),
        "{}",
        out.all()
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("audit/runs.jsonl")).unwrap(),
        text
    );
}
