//! Fleets on a real PostgreSQL server: eight throwaway databases of one cluster, each a
//! target of env prod, reached through DATABASE_URL secrets chosen per target
//! (`env = "PM_FLEET_URL_${target}"`).

use crate::common;

use common::pg::Pg;
use common::{Project, Run};
use serde_json::Value;
use std::collections::BTreeSet;

const TARGETS: [&str; 8] = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"];
/// Migrations of the demo project (Django's own apps included) once all are applied.
fn all_applied(pg: &Pg, db: &str) -> usize {
    pg.applied(db).len()
}

struct Fleet {
    pg: Pg,
    p: Project,
    /// Database of each target.
    dbs: Vec<(String, String)>,
}

/// The fleet config; in the second, in-session pass of the tests (`common::session_mode`),
/// with `warm-python` as well, so that every fleet scenario also runs warm-started.
fn config(fleet: &str) -> String {
    let py = common::python().display().to_string();
    config_with(fleet, common::session_mode().then_some(py.as_str()))
}

/// [`config`] with `warm-python = python` when given.
fn config_with(fleet: &str, python: Option<&str>) -> String {
    let warm = python
        .map(|p| format!("warm-python = {p:?}\n"))
        .unwrap_or_default();
    format!(
        "{}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n\n[env.prod.fleet]\n{fleet}\n{warm}\n[env.single]\nrunner = \"django-pg\"\n",
        common::pg::django_pg_plugin("PM_FLEET_URL_${target}"),
        common::pg::pg_backup_plugin("PM_FLEET_URL_${target}"),
    )
}

impl Fleet {
    fn new(fleet: &str) -> Fleet {
        let pg = Pg::start();
        let dbs = TARGETS
            .iter()
            .map(|t| (t.to_string(), pg.create_db(t)))
            .collect();
        let p = Project::new();
        p.write_config(&config(fleet));
        Fleet { pg, p, dbs }
    }

    fn env(&self) -> Vec<(String, String)> {
        self.dbs
            .iter()
            .map(|(t, db)| (format!("PM_FLEET_URL_{t}"), self.pg.url(db)))
            .collect()
    }

    /// The binary with `args` and every target's URL in its environment, not started.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.p.command(args, &[]);
        c.envs(self.env());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    fn db(&self, target: &str) -> &str {
        &self.dbs.iter().find(|(t, _)| t == target).unwrap().1
    }

    fn applied(&self, target: &str) -> usize {
        all_applied(&self.pg, self.db(target))
    }
}

fn report(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()))
}

fn outcomes(doc: &Value) -> Vec<(String, String)> {
    doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const EIGHT: &str = "targets = [\"t1\", \"t2\", \"t3\", \"t4\", \"t5\", \"t6\", \"t7\", \"t8\"]\ncanary = [\"t1\"]\nparallel = 2";

#[test]
fn every_target_migrates_canary_first_with_bounded_parallelism() {
    let f = Fleet::new(EIGHT);
    let r = f.run(&[
        "--env",
        "prod",
        "--confirm",
        "--parallel",
        "3",
        "--output",
        "json",
    ]);
    r.expect(0);
    let doc = report(&r);
    common::validate_schema(&doc, "schemas/fleet-report.schema.json");
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(
        outcomes(&doc),
        TARGETS
            .iter()
            .map(|t| (t.to_string(), "succeeded".to_string()))
            .collect::<Vec<_>>()
    );
    let expected = common::ALL.len();
    for t in TARGETS {
        assert_eq!(f.applied(t), expected, "{t}");
    }
    // The canary finished before any other target started; never more than 3 ran at once.
    let lines: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with('[')).collect();
    let canary_done = lines
        .iter()
        .position(|l| l.starts_with("[t1] succeeded"))
        .expect("canary line");
    let first_other = lines
        .iter()
        .position(|l| l.ends_with("started") && !l.starts_with("[t1]"))
        .expect("other targets started");
    assert!(canary_done < first_other, "{lines:#?}");
    let mut running = 0i32;
    let mut most = 0;
    for l in &lines {
        if l.ends_with("] started") {
            running += 1;
        } else {
            running -= 1;
        }
        most = most.max(running);
    }
    assert!(
        (2..=3).contains(&most),
        "at most {most} at once: {lines:#?}"
    );
    // Each target has its own history row, backup folder and report.
    let h = f.p.history();
    let targets: BTreeSet<String> = h
        .iter()
        .filter_map(|e| e["target"].as_str().map(str::to_string))
        .collect();
    assert_eq!(targets.len(), 8, "{targets:?}");
    for t in TARGETS {
        let dir = f.p.state().join("backups/prod").join(t);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "{}",
            dir.display()
        );
    }
    for t in doc["targets"].as_array().unwrap() {
        assert_eq!(t["report"]["target"], t["target"]);
        assert_eq!(t["report"]["env"], "prod");
    }
}

#[test]
fn a_failed_canary_stops_the_rollout_before_any_other_target() {
    let f = Fleet::new(EIGHT);
    // The canary's database already has a table the first migration creates.
    f.pg.psql(f.db("t1"), "CREATE TABLE users_user (id int)");
    let r = f.run(&["--env", "prod", "--confirm", "--output", "json"]);
    r.expect(1);
    let doc = report(&r);
    assert_eq!(doc["outcome"], "failed");
    let o = outcomes(&doc);
    assert_eq!(o[0], ("t1".into(), "failed".into()));
    for (t, outcome) in &o[1..] {
        assert_eq!(outcome, "not_started", "{t}");
        assert_eq!(f.applied(t), 0, "{t} was touched");
    }
    assert!(
        r.error_line()
            .contains("1 target(s) failed (t1); 7 not started"),
        "{}",
        r.all()
    );
}

#[test]
fn continue_mode_migrates_the_others_and_names_the_one_that_failed() {
    let f = Fleet::new(&EIGHT.replace("parallel = 2", "parallel = 3\non-failure = \"continue\""));
    // t5 breaks mid-way: its users app migrates, then orders' first migration collides.
    f.pg.psql(f.db("t5"), "CREATE TABLE orders_order (id int)");
    let r = f.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    assert!(
        r.error_line()
            .contains("fleet prod: 1 target(s) failed (t5)"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("[t5] failed (exit 1): "), "{}", r.all());
    let full = f.applied("t1");
    for t in TARGETS {
        if t == "t5" {
            let n = f.applied(t);
            assert!(n > 0 && n < full, "t5 has {n} of {full}");
        } else {
            assert_eq!(f.applied(t), full, "{t}");
        }
    }
}

#[test]
fn shards_cover_every_target_once_and_run_only_their_slice() {
    let f = Fleet::new(EIGHT);
    let mut seen = Vec::new();
    for i in 1..=3 {
        let r = f.run(&[
            "targets",
            "--env",
            "prod",
            "--shard",
            &format!("{i}/3"),
            "--output",
            "json",
        ]);
        r.expect(0);
        let names: Vec<String> = serde_json::from_str(&r.stdout).unwrap();
        assert!(!names.is_empty());
        seen.extend(names);
    }
    seen.sort();
    assert_eq!(seen, TARGETS.map(String::from).to_vec());
    let all: Vec<String> = serde_json::from_str(
        &f.run(&["targets", "--env", "prod", "--output", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(all, TARGETS.map(String::from).to_vec());

    // The plan, per target and once for the fleet: t4 is one step ahead of the others.
    f.run(&[
        "--env",
        "prod",
        "--confirm",
        "--target",
        "t4",
        "--app",
        "users",
        "--migration",
        "0001",
    ])
    .expect(0);
    let r = f.run(&["--env", "prod", "--show", "--output", "json"]);
    r.expect(0);
    let doc = report(&r);
    common::validate_schema(&doc, "schemas/fleet-report.schema.json");
    let plan = doc["plan"].as_array().unwrap();
    assert_eq!(plan.len(), common::ALL.len(), "{plan:#?}");
    let first = &plan[0];
    assert_eq!(first["step"], "users.0001_initial");
    assert_eq!(first["targets"].as_array().unwrap().len(), 7, "{first}");
    assert!(plan[1]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "t4"));
    for t in doc["targets"].as_array().unwrap() {
        let pending = t["report"]["plan"].as_array().unwrap().len();
        let want = if t["target"] == "t4" {
            common::ALL.len() - 1
        } else {
            common::ALL.len()
        };
        assert_eq!(pending, want, "{}", t["target"]);
    }
    let r = f.run(&["--env", "prod", "--show"]);
    r.expect(0);
    assert!(
        r.stdout
            .contains("  users.0001_initial  on t1, t2, t3, t5, t6, t7, t8"),
        "{}",
        r.all()
    );
    // Per target too, grouped: seven share one plan, t4 has its own.
    // (Django's order: each app's dependencies first.)
    let all = [
        "users.0001_initial",
        "orders.0001_initial",
        "orders.0002_order_status",
        "orders.0003_order_note",
        "users.0002_user_email_user_joined",
        "users.0003_fill_emails",
    ];
    assert!(
        r.stdout.contains(&format!(
            "  t1, t2, t3, t5, t6, t7, t8 (7 targets): {} step(s): {}",
            all.len(),
            all.join(", ")
        )),
        "{}",
        r.all()
    );
    assert!(
        r.stdout
            .contains(&format!("  t4: {} step(s): ", all.len() - 1)),
        "{}",
        r.all()
    );
    f.run(&[
        "--env",
        "prod",
        "--confirm",
        "--allow-destructive",
        "--target",
        "t4",
        "--app",
        "users",
        "--migration",
        "zero",
    ])
    .expect(0);

    // Shard 2/3 migrates its targets and nothing else.
    let r = f.run(&["--env", "prod", "--confirm", "--shard", "2/3"]);
    r.expect(0);
    for (i, t) in TARGETS.iter().enumerate() {
        assert_eq!(f.applied(t) > 0, i % 3 == 1, "{t}");
    }
    // One target alone, as a matrix job runs it.
    f.run(&["--env", "prod", "--confirm", "--target", "t1"])
        .expect(0);
    assert!(f.applied("t1") > 0);
    assert_eq!(f.applied("t3"), 0);
}

#[test]
fn two_fleet_runs_at_once_never_migrate_the_same_target_together() {
    let f = Fleet::new(&EIGHT.replace("parallel = 2", "parallel = 4\non-failure = \"continue\""));
    let mut a = f.command(&["--env", "prod", "--confirm"]).spawn().unwrap();
    let mut b = f.command(&["--env", "prod", "--confirm"]).spawn().unwrap();
    let (ra, rb) = (a.wait().unwrap(), b.wait().unwrap());
    // Each target: one run migrated it; the other found it busy (8) or nothing to do (0).
    for code in [ra.code(), rb.code()] {
        assert!(matches!(code, Some(0) | Some(8)), "{code:?}");
    }
    let full = f.applied("t1");
    for t in TARGETS {
        assert_eq!(f.applied(t), full, "{t}");
    }
    let h = f.p.history();
    for t in TARGETS {
        let changed: Vec<&Value> = h
            .iter()
            .filter(|e| e["target"] == t && !e["applied"].as_array().unwrap().is_empty())
            .collect();
        assert_eq!(changed.len(), 1, "{t} migrated by {} runs", changed.len());
    }
}

#[test]
fn bad_fleet_input_is_a_clear_usage_error_and_touches_nothing() {
    let f = Fleet::new(EIGHT);
    let untouched = |f: &Fleet| {
        for t in TARGETS {
            assert_eq!(f.applied(t), 0, "{t}");
        }
    };
    let r = f.run(&["--env", "prod", "--confirm", "--target", "t9"]);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("unknown target \"t9\"; env prod has: t1, t2"),
        "{}",
        r.all()
    );
    for shard in ["4/3", "0/3", "x"] {
        let r = f.run(&["--env", "prod", "--confirm", "--shard", shard]);
        r.expect(2);
        assert!(r.all().contains("expected I/N"), "{}", r.all());
    }
    let r = f.run(&["--env", "single", "--shard", "1/2"]);
    r.expect(2);
    assert!(
        r.error_line().contains("env single is one database"),
        "{}",
        r.all()
    );

    // A list command that fails, or prints garbage.
    f.p.write_config(&config(
        "targets-command = { argv = [\"sh\", \"-c\", \"echo no database >&2; exit 3\"] }",
    ));
    let r = f.run(&["--env", "prod", "--confirm"]);
    r.expect(2);
    assert!(
        r.error_line().contains("failed (exit 3): no database"),
        "{}",
        r.all()
    );
    f.p.write_config(&config(
        "targets-command = { argv = [\"sh\", \"-c\", \"echo 't1; rm -rf /'\"] }",
    ));
    let r = f.run(&["--env", "prod", "--confirm"]);
    r.expect(2);
    assert!(
        r.error_line().contains("is not a target list"),
        "{}",
        r.all()
    );
    // A good command: its output is the list.
    f.p.write_config(&config(
        "targets-command = { argv = [\"sh\", \"-c\", \"printf 't2\\\\nt1\\\\n'\"] }",
    ));
    let r = f.run(&["targets", "--env", "prod"]);
    r.expect(0);
    assert_eq!(r.stdout, "t2\nt1\n");
    // warm-python must be a program the runner is granted, written as in its grant.
    f.p.write_config(&config_with(EIGHT, Some("/usr/bin/python3")));
    let r = f.run(&["--env", "prod", "--confirm"]);
    r.expect(2);
    assert!(
        r.error_line().contains(
            "warm-python \"/usr/bin/python3\" is not a program the runner 'django-pg' is granted"
        ),
        "{}",
        r.all()
    );
    untouched(&f);
}

#[test]
fn a_rollout_reads_its_target_list_once_and_every_target_runs_from_it() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The list comes from a service on 127.0.0.1 that counts how often it is asked, through a
    // list command granted that port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = conn.read(&mut [0u8; 16]);
            let _ = conn.write_all(b"[\"t1\", \"t2\", \"t3\"]\n");
        }
    });
    let py = common::python().display().to_string();
    let f = Fleet::new(&format!(
        "targets-command = {{ argv = [\"{py}\", \"-c\", \"import socket; s = socket.create_connection(('127.0.0.1', {port})); s.sendall(b'list'); s.shutdown(socket.SHUT_WR); print(s.makefile().read())\"], connect = [{port}] }}\nparallel = 2"
    ));
    let r = f.run(&["--env", "prod", "--confirm", "--output", "json"]);
    r.expect(0);
    let doc = report(&r);
    assert_eq!(
        outcomes(&doc),
        ["t1", "t2", "t3"].map(|t| (t.to_string(), "succeeded".to_string()))
    );
    // Once for the rollout, not once more per target.
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    for t in ["t1", "t2", "t3"] {
        assert_eq!(f.applied(t), f.applied("t1"), "{t}");
    }
    assert!(f.applied("t1") > 0);
    assert_eq!(f.applied("t4"), 0);
    // A run of one target on its own (a CI matrix job) reads the list itself, and a name the
    // list lacks is refused there.
    f.run(&["--env", "prod", "--confirm", "--target", "t4"])
        .expect(2);
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(f.applied("t4"), 0);
}

#[test]
fn each_target_backs_up_into_its_own_folder_of_the_object_store_and_restores_from_it() {
    let s3 = common::s3::S3::start();
    let pg = Pg::start();
    let dbs: Vec<(String, String)> = ["t1", "t2", "t3"]
        .iter()
        .map(|t| (t.to_string(), pg.create_db(t)))
        .collect();
    let text = format!(
        "{}{}",
        config("targets = [\"t1\", \"t2\", \"t3\"]\nparallel = 3"),
        s3.store_table("prod", "shop", "PM_S3_ID", "PM_S3_SECRET")
    );
    // Two machines with the same config and their own state folders.
    let (a, b) = (Project::new(), Project::new());
    a.write_config(&text);
    b.write_config(&text);
    let mut env: Vec<(String, String)> = dbs
        .iter()
        .map(|(t, db)| (format!("PM_FLEET_URL_{t}"), pg.url(db)))
        .collect();
    env.push(("PM_S3_ID".into(), s3.key_id.clone()));
    env.push(("PM_S3_SECRET".into(), s3.secret.clone()));
    let run = |on: &Project, args: &[&str]| {
        let mut c = on.command(args, &[]);
        c.envs(env.clone());
        Run::from(c.output().unwrap())
    };
    let listed = |on: &Project, args: &[&str]| -> Vec<Value> {
        let mut all = vec!["backups", "list", "--output", "json"];
        all.extend_from_slice(args);
        let r = run(on, &all);
        r.expect(0);
        let doc = report(&r);
        common::validate_schema(&doc, "schemas/backups-list.schema.json");
        doc["backups"].as_array().unwrap().clone()
    };
    run(&a, &["--env", "prod", "--confirm", "--app", "users"]).expect(0);
    run(&a, &["--env", "prod", "--confirm"]).expect(0);

    // Two backups per target, each in the target's own folder, with its manifest.
    let keys = s3.keys();
    for t in ["t1", "t2", "t3"] {
        let own: Vec<&String> = keys
            .iter()
            .filter(|k| k.starts_with(&format!("shop/prod@{t}/")))
            .collect();
        assert_eq!(own.len(), 4, "{t}: {keys:#?}");
    }
    assert_eq!(keys.len(), 12, "{keys:#?}");

    // The env lists every target's backups; --target only its own; both machines agree.
    for on in [&a, &b] {
        let all = listed(on, &["--env", "prod"]);
        assert_eq!(all.len(), 6, "{all:#?}");
        let t2 = listed(on, &["--env", "prod", "--target", "t2"]);
        assert_eq!(t2.len(), 2, "{t2:#?}");
        assert!(t2.iter().all(|b| b["env"] == "prod@t2"), "{t2:#?}");
        assert_eq!(listed(on, &[]).len(), 6);
    }
    let human = run(&b, &["backups", "list", "--env", "prod"]);
    human.expect(0);
    assert!(human.stdout.contains("prod@t3"), "{}", human.all());

    // Machine B verifies and restores t2's second backup (taken before the full install) from
    // the store alone: it reaches t2's database through t2's own secret.
    let t2 = listed(&b, &["--env", "prod", "--target", "t2"]);
    assert!(t2.iter().all(|x| x["local_removed"] == true), "{t2:#?}");
    let second = t2[1]["id"].as_str().unwrap().to_string();
    run(&b, &["backups", "verify", &second]).expect(0);
    let r = run(&b, &["backups", "restore", &second, "--to", "t2_before"]);
    r.expect(0);
    let mut before = pg.applied("t2_before");
    before.sort();
    assert_eq!(
        before,
        [
            "users.0001_initial",
            "users.0002_user_email_user_joined",
            "users.0003_fill_emails"
        ]
    );

    // A backup on demand names its target; a fleet env alone is not enough.
    let r = run(&a, &["backups", "create", "--env", "prod"]);
    r.expect(2);
    assert!(r.error_line().contains("--target"), "{}", r.all());
    run(
        &a,
        &["backups", "create", "--env", "prod", "--target", "t1"],
    )
    .expect(0);
    assert_eq!(listed(&a, &["--env", "prod", "--target", "t1"]).len(), 3);
    let r = run(&a, &["backups", "list", "--env", "prod", "--target", "t9"]);
    r.expect(2);
    assert!(r.error_line().contains("t9"), "{}", r.all());
}

/// A `platform-migrate` on PATH, as the engines' images have it.
fn path_with_binary() -> (tempfile::TempDir, String) {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_platform-migrate"),
        bin.path().join("platform-migrate"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (bin, path)
}

fn example(name: &str) -> String {
    let text = std::fs::read_to_string(common::root().join("examples/fleet").join(name)).unwrap();
    let readme = std::fs::read_to_string(common::root().join("docs/fleets.md")).unwrap();
    assert!(
        readme.contains(text.trim()),
        "docs/fleets.md shows examples/fleet/{name} as it is"
    );
    text
}

/// Each target was migrated by exactly one run, and completely.
#[track_caller]
fn migrated_once_each(f: &Fleet) {
    let h = f.p.history();
    for t in TARGETS {
        assert_eq!(f.applied(t), common::ALL.len(), "{t}");
        let runs = h
            .iter()
            .filter(|e| e["target"] == t && !e["applied"].as_array().unwrap().is_empty())
            .count();
        assert_eq!(runs, 1, "{t} was migrated by {runs} runs");
    }
}

#[test]
fn the_github_actions_matrix_runs_as_written() {
    use yaml_rust2::YamlLoader;
    let f = Fleet::new(EIGHT);
    let doc = &YamlLoader::load_from_str(&example("github-actions.yml")).unwrap()[0];
    let (_bin, path) = path_with_binary();
    let out_dir = tempfile::tempdir().unwrap();
    let run = |script: &str, extra: &[(&str, String)]| {
        let mut c = std::process::Command::new("bash");
        c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(f.p.path())
            .env("XDG_STATE_HOME", f.p.state_home.path())
            .env("PATH", &path);
        for (k, v) in f.env() {
            c.env(k, v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        Run::from(c.output().unwrap())
    };
    let steps = |job: &str| -> Vec<yaml_rust2::Yaml> {
        doc["jobs"][job]["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter(|s| {
                s["run"].as_str().is_some()
                    && !s["name"].as_str().unwrap_or("").starts_with("Install")
            })
            .cloned()
            .collect()
    };
    // targets: the list into $GITHUB_OUTPUT.
    let output = out_dir.path().join("github_output");
    for s in steps("targets") {
        run(
            s["run"].as_str().unwrap(),
            &[("GITHUB_OUTPUT", output.display().to_string())],
        )
        .expect(0);
    }
    let text = std::fs::read_to_string(&output).unwrap();
    let list = text.lines().find_map(|l| l.strip_prefix("list=")).unwrap();
    assert_eq!(
        doc["jobs"]["migrate"]["strategy"]["matrix"]["target"].as_str(),
        Some("${{ fromJSON(needs.targets.outputs.list) }}")
    );
    let matrix: Vec<String> = serde_json::from_str(list).unwrap();
    assert_eq!(matrix, TARGETS.map(String::from).to_vec());
    // canary, then one job per matrix entry.
    for s in steps("canary") {
        run(s["run"].as_str().unwrap(), &[]).expect(0);
    }
    assert_eq!(f.applied("t1"), common::ALL.len());
    for target in &matrix {
        for s in steps("migrate") {
            assert_eq!(s["env"]["TARGET"].as_str(), Some("${{ matrix.target }}"));
            run(s["run"].as_str().unwrap(), &[("TARGET", target.clone())]).expect(0);
            let report: Value = serde_json::from_str(
                &std::fs::read_to_string(f.p.path().join("report.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(report["target"], target.as_str());
        }
    }
    migrated_once_each(&f);
}

#[test]
fn the_kubernetes_indexed_job_shards_cover_every_target_once() {
    use yaml_rust2::YamlLoader;
    let f = Fleet::new(EIGHT);
    let doc = &YamlLoader::load_from_str(&example("k8s-indexed-job.yaml")).unwrap()[0];
    let spec = &doc["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().unwrap();
    let container = &spec["template"]["spec"]["containers"][0];
    let command: Vec<&str> = container["command"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let script = container["args"][0].as_str().unwrap();
    let (_bin, path) = path_with_binary();
    // Every pod at once, as the Job's parallelism starts them.
    let pods: Vec<_> = (0..completions)
        .map(|index| {
            let mut c = std::process::Command::new(command[0]);
            c.args(&command[1..])
                .arg(script)
                .current_dir(f.p.path())
                .env("XDG_STATE_HOME", f.p.state_home.path())
                .env("PATH", &path)
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            for (k, v) in f.env() {
                c.env(k, v);
            }
            c.spawn().unwrap()
        })
        .collect();
    for pod in pods {
        Run::from(pod.wait_with_output().unwrap()).expect(0);
    }
    migrated_once_each(&f);
}

#[test]
fn sigint_starts_no_new_target_and_lets_the_running_one_finish() {
    use std::io::BufRead;
    let f = Fleet::new(&EIGHT.replace("parallel = 2", "parallel = 1"));
    let mut child = f
        .command(&["--env", "prod", "--confirm"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line == "[t2] started" {
            break;
        }
    }
    // To the fleet's own process only: the target running now is not told.
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    seen.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:#?}");
    // t1 and t2 finished whole; nothing after them started.
    assert_eq!(f.applied("t1"), common::ALL.len());
    assert_eq!(f.applied("t2"), common::ALL.len(), "{seen:#?}");
    for t in &TARGETS[2..] {
        assert_eq!(f.applied(t), 0, "{t} started after SIGINT: {seen:#?}");
    }
    assert!(
        seen.iter()
            .any(|l| l.starts_with("interrupted: 2 of 8 target(s) succeeded")),
        "{seen:#?}"
    );
    let h = f.p.history();
    assert!(h.iter().all(|e| e["outcome"] == "succeeded"), "{h:#?}");
}

#[test]
fn django_database_aliases_are_a_fleet() {
    let pg = Pg::start();
    let p = Project::new();
    let aliases = ["default", "eu", "us"];
    let urls: serde_json::Map<String, Value> = aliases
        .iter()
        .map(|a| (a.to_string(), Value::String(pg.url(&pg.create_db(a)))))
        .collect();
    // A settings module with one DATABASES entry per alias, all from one secret.
    std::fs::write(
        p.path().join("demo/settings_fleet.py"),
        "import json, os\nfrom .settings import *  # noqa: F401,F403\nfrom .settings import postgres\n\nDATABASES = {a: postgres(u) for a, u in json.loads(os.environ[\"FLEET_DATABASES\"]).items()}\n",
    )
    .unwrap();
    let py = common::python().display().to_string();
    p.write_config(&format!(
        r#"
[plugins.django-multi]
path = "{runner}"
settings = {{ manage = ["{py}", "manage.py"], database = "${{target}}", env = {{ DJANGO_SETTINGS_MODULE = "demo.settings_fleet" }}, secret-env = {{ FLEET_DATABASES = "databases" }} }}
grants.commands = {commands}
grants.env = ["DJANGO_SETTINGS_MODULE", {{ name = "FLEET_DATABASES", secret = "databases" }}]
grants.secrets = {{ databases = {{ env = "PM_FLEET_DATABASES" }} }}
grants.confine.connect = {ports}

[env.multi]
runner = "django-multi"

[env.multi.fleet]
database-aliases = true
parallel = 3
"#,
        runner = common::plugin("django_runner").display(),
        commands = common::django_commands(&py),
        ports = common::pg::ports(),
    ));
    let secret = Value::Object(urls).to_string();
    let env = [("PM_FLEET_DATABASES", secret.as_str())];
    let r = p.run_with(&["targets", "--env", "multi", "--output", "json"], &env);
    r.expect(0);
    let listed: Vec<String> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed, aliases.map(String::from).to_vec());
    let r = p.run_with(&["--env", "multi"], &env);
    r.expect(0);
    for a in aliases {
        assert_eq!(pg.applied(&pg.db_name(a)).len(), common::ALL.len(), "{a}");
    }
    assert!(!r.all().contains(&pg.password), "{}", r.all());
}

#[test]
fn on_a_terminal_each_running_target_has_a_live_line() {
    let f = Fleet::new(&EIGHT.replace("parallel = 2", "parallel = 4"));
    // `script` gives the run a terminal, as a person at a shell has.
    let cmd = format!(
        "{} --env prod --confirm",
        env!("CARGO_BIN_EXE_platform-migrate")
    );
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .current_dir(f.p.path())
        .env("XDG_STATE_HOME", f.p.state_home.path());
    for (k, v) in f.env() {
        c.env(k, v);
    }
    c.env_remove("NO_COLOR").env("TERM", "xterm");
    let r = Run::from(c.output().unwrap());
    r.expect(0);
    // Spinners redrawn in place (cursor movement), the latest step of a target in its line,
    // and a line per finished target; no plain "started" lines.
    assert!(r.stdout.contains("\u{1b}["), "{}", r.all());
    assert!(
        r.stdout.contains("/6] "),
        "a live line shows a step: {}",
        r.all()
    );
    for t in TARGETS {
        assert!(
            r.stdout
                .contains(&format!("[{t}] succeeded: 6 migration(s)")),
            "{}",
            r.all()
        );
    }
    assert!(!r.stdout.contains("] started"), "{}", r.all());
    migrated_once_each(&f);
}

/// A migration that fails unless it runs in a warm start (a fork of the fleet's Python),
/// confined (it cannot read `outside`, nor open the zygote's descriptors, environment or
/// memory), and with no other target's DATABASE_URL anywhere in its memory or environment.
fn warm_probe(outside: &std::path::Path) -> String {
    format!(
        r#"import os, re, sys
from django.db import migrations

OUTSIDE = {outside:?}


def probe(apps, schema_editor):
    if sys.orig_argv[1:3] != ["-P", "-s"]:
        raise RuntimeError("not a warm start: %r" % sys.orig_argv[:3])
    try:
        open(OUTSIDE).read()
    except PermissionError:
        pass
    else:
        raise RuntimeError("a warm start read a file outside its grants")
    # The zygote (this fork's parent) is out of its reach: its descriptors, environment and
    # memory.
    for what in ("fd/3", "environ", "mem"):
        try:
            open("/proc/%d/%s" % (os.getppid(), what), "rb").close()
        except PermissionError:
            pass
        else:
            raise RuntimeError("a warm start opened the zygote's " + what)
    mine = os.environ["DATABASE_URL"].encode()
    seen = set()
    own = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            for m in re.finditer(rb"postgresql://[^\s\"'\x00]+", data):
                if m.group(0) == mine:
                    own += 1
                elif b"@/" in m.group(0):
                    seen.add(m.group(0))
    if own == 0:
        raise RuntimeError("the scan did not even find this target's own URL")
    with open("/proc/self/environ", "rb") as f:
        for var in f.read().split(b"\0"):
            if b"postgresql://" in var and not var.endswith(mine):
                seen.add(var)
    if seen:
        raise RuntimeError("another target's URL is in this process: %d" % len(seen))


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_order_note")]
    operations = [migrations.RunPython(probe, migrations.RunPython.noop)]
"#
    )
}

/// A warm-started fleet of `targets` (each a database of a new server): the runner
/// migrating in its session (with `runner_extra` settings), `fleet` lines and
/// `warm-python`; and a command of the binary with `args` and every target's URL.
struct Warm {
    pg: Pg,
    p: Project,
    dbs: Vec<(String, String)>,
    py: String,
}

impl Warm {
    fn new(targets: &[&str], fleet: &str, runner_extra: &str) -> Warm {
        let pg = Pg::start();
        let dbs = targets
            .iter()
            .map(|t| (t.to_string(), pg.create_db(t)))
            .collect();
        let p = Project::new();
        let py = common::python().display().to_string();
        let runner = common::pg::django_pg_plugin_in_session("PM_FLEET_URL_${target}").replacen(
            "migrate-in-session = true }",
            &format!("migrate-in-session = true{runner_extra} }}"),
            1,
        );
        p.write_config(&format!(
            "{runner}\n[env.prod]\nrunner = \"django-pg\"\nbackup-required = false\n\n[env.prod.fleet]\n{fleet}\nwarm-python = {py:?}\n",
        ));
        Warm { pg, p, dbs, py }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.p.command(args, &[]);
        c.envs(
            self.dbs
                .iter()
                .map(|(t, db)| (format!("PM_FLEET_URL_{t}"), self.pg.url(db))),
        );
        c
    }
}

#[test]
fn warm_python_targets_fork_from_one_interpreter_each_confined_and_with_its_own_secret_only() {
    let w = Warm::new(&TARGETS, EIGHT, "");
    let (pg, p, dbs) = (&w.pg, &w.p, &w.dbs);
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("outside.txt");
    std::fs::write(&secret, "not for plugins").unwrap();
    common::add_migration(p, "orders", "0004_probe", &warm_probe(&secret));
    let mut c = w.command(&[
        "--env",
        "prod",
        "--confirm",
        "--parallel",
        "3",
        "--output",
        "json",
    ]);
    c.env("PLATFORM_MIGRATE_LOG", "platform_migrate=debug");
    let r = Run::from(c.output().unwrap());
    let logs = || {
        let mut out = String::new();
        for run in std::fs::read_dir(p.state().join("fleet")).unwrap() {
            for f in std::fs::read_dir(run.unwrap().path()).unwrap() {
                let f = f.unwrap().path();
                if f.ends_with("t1.log") || f.ends_with("warm-python.log") {
                    out += &format!(
                        "--- {}\n{}",
                        f.display(),
                        std::fs::read_to_string(&f).unwrap()
                    );
                }
            }
        }
        out
    };
    assert_eq!(r.code, 0, "{}\n{}", r.all(), logs());
    let doc = report(&r);
    assert_eq!(doc["outcome"], "succeeded", "{}", r.all());
    for (t, db) in dbs {
        let applied = pg.applied(db);
        assert_eq!(applied.len(), common::ALL.len() + 1, "{t}");
        assert!(applied.contains(&"orders.0004_probe".to_string()), "{t}");
    }
    // The same install without warm-python: the probe fails (it is not a warm start), so it
    // is the warm start that passed it above.
    let cold_db = pg.create_db("cold");
    let mut c = p.command(&["--env", "prod", "--confirm", "--target", "t1"], &[]);
    c.env("PM_FLEET_URL_t1", pg.url(&cold_db));
    let r = Run::from(c.output().unwrap());
    r.expect(1);
    assert!(r.all().contains("not a warm start"), "{}", r.all());
}

#[test]
fn a_warm_started_migrate_past_its_time_is_stopped_and_leaves_no_process() {
    // t2's migration starts a daemon and sleeps past timeout-secs; t1's does neither. The
    // fork running t2's session is stopped as a fresh program would be, the other target is
    // unaffected, and nothing of the warm start outlives the fleet.
    let w = Warm::new(
        &["t1", "t2"],
        "targets = [\"t1\", \"t2\"]\nparallel = 2\non-failure = \"continue\"",
        ", timeout-secs = 3",
    );
    let (pg, p, dbs, py) = (&w.pg, &w.p, &w.dbs, &w.py);
    common::add_migration(
        p,
        "orders",
        "0004_slow_on_t2",
        "import os, sys, time\nfrom django.db import migrations\n\n\
         def slow(apps, schema_editor):\n    \
         if os.environ['DATABASE_URL'].split('?')[0].endswith('_t2'):\n        \
         r, w = os.pipe()\n        \
         first = os.fork()\n        \
         if first == 0:\n            \
         os.setsid()\n            \
         if os.fork() == 0:\n                \
         os.write(w, str(os.getpid()).encode())\n                \
         time.sleep(120)\n            \
         os._exit(0)\n        \
         os.waitpid(first, 0)\n        \
         daemon = os.read(r, 20).decode()\n        \
         print('WARM-PIDS', os.getpid(), os.getppid(), daemon, file=sys.stderr, flush=True)\n        \
         time.sleep(120)\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(slow, migrations.RunPython.noop)]\n",
    );
    let mut c = w.command(&["--env", "prod", "--confirm", "--output", "json"]);
    let started = std::time::Instant::now();
    let r = Run::from(c.output().unwrap());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    r.expect(1);
    let doc = report(&r);
    assert_eq!(
        outcomes(&doc),
        vec![
            ("t1".to_string(), "succeeded".to_string()),
            ("t2".to_string(), "failed".to_string())
        ],
        "{}",
        r.all()
    );
    assert!(r.all().contains("timed out"), "{}", r.all());
    assert!(pg
        .applied(&dbs[0].1)
        .contains(&"orders.0004_slow_on_t2".to_string()));
    assert!(!pg
        .applied(&dbs[1].1)
        .contains(&"orders.0004_slow_on_t2".to_string()));
    // Neither the fork, nor the warm-start Python it came from, nor a daemon the migration
    // left in a session of its own outlives the fleet.
    let log = doc["targets"][1]["log"].as_str().unwrap();
    let all = std::fs::read_to_string(log).unwrap();
    let pids: Vec<u32> = all
        .split("WARM-PIDS ")
        .nth(1)
        .unwrap_or_else(|| panic!("no pids: {all}"))
        .split_whitespace()
        .take(3)
        .map(|n| {
            n.trim_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap()
        })
        .collect();
    for pid in pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(py.as_str()),
            "{pid} still runs: {}",
            String::from_utf8_lossy(&cmdline)
        );
    }
}
