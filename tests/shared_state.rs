//! One truth for every machine (issue 17): the run ledger in the environment's PostgreSQL
//! database. Two checkouts with separate state directories deploy one database: each sees the
//! other's runs and drift; a runner with no state directory at all (a CI job on a fresh clone)
//! still gets both; the ledger's chain names a row edited by hand; a runner built against
//! WIT 0.1.0 still loads and runs.

use crate::common;

use common::pg::Pg;
use common::{Project, Run};

const URL_VAR: &str = "PM_TEST_DATABASE_URL";
const BACKUP_URL_VAR: &str = "PM_TEST_BACKUP_DATABASE_URL";

fn config(runner_path: Option<&std::path::Path>, env_extra: &str) -> String {
    let mut runner = common::pg::django_pg_plugin(URL_VAR);
    if let Some(path) = runner_path {
        runner = runner.replace(
            &common::plugin("django_runner").display().to_string(),
            &path.display().to_string(),
        );
    }
    format!(
        "{runner}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n{env_extra}",
        common::pg::pg_backup_plugin(BACKUP_URL_VAR),
    )
}

/// One PostgreSQL database and the secrets that reach it.
struct Db {
    pg: Pg,
    db: String,
    url: String,
}

impl Db {
    fn new() -> Db {
        let pg = Pg::start();
        let db = pg.create_db("shop");
        let url = pg.url(&db);
        Db { pg, db, url }
    }

    /// `p` run with the secrets; the password never shows.
    fn run(&self, p: &Project, args: &[&str]) -> Run {
        let r = p.run_with(
            args,
            &[
                (URL_VAR, self.url.as_str()),
                (BACKUP_URL_VAR, self.url.as_str()),
            ],
        );
        assert!(
            !r.all().contains(&self.pg.password),
            "password in output\n{}",
            r.all()
        );
        r
    }

    fn sql(&self, q: &str) -> String {
        self.pg.psql(&self.db, q)
    }

    fn ledger_runs(&self) -> usize {
        if self.sql("SELECT to_regclass('platform_migrate.runs') IS NOT NULL") != "t" {
            return 0;
        }
        self.sql("SELECT count(*) FROM platform_migrate.runs")
            .parse()
            .unwrap()
    }
}

/// A checkout of the project on its own machine: its own copy and its own state directory.
fn machine(text: &str) -> Project {
    let p = Project::new();
    p.write_config(text);
    p
}

fn run_id(p: &Project) -> String {
    p.history().last().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Change an applied migration's file after it was applied (a comment is enough).
fn edit_migration(p: &Project) {
    let f = p.path().join("orders/migrations/0002_order_status.py");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("\n# edited after it was applied\n");
    std::fs::write(&f, text).unwrap();
}

fn drift_of(r: &Run) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", r.all()));
    v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}.{}",
                d["app"].as_str().unwrap(),
                d["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn two_machines_share_history_and_drift_through_the_ledger() {
    let db = Db::new();
    let text = config(None, "");
    let a = machine(&text);
    let b = machine(&text);

    // --show reads the ledger but never writes it, so it does not create it either.
    db.run(&a, &["--env", "prod", "--show"]).expect(0);
    assert_eq!(db.ledger_runs(), 0);
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'platform_migrate'"),
        "0"
    );

    // A deploys: the ledger is created with the run and the checksum of every migration.
    db.run(&a, &["--env", "prod", "--confirm"]).expect(0);
    assert_eq!(db.ledger_runs(), 1);
    assert_eq!(
        db.sql("SELECT count(*) FROM platform_migrate.checksums"),
        "6"
    );
    let a_run = run_id(&a);
    assert_eq!(
        db.sql("SELECT run_id FROM platform_migrate.runs WHERE seq = 1"),
        a_run
    );
    let mark = a.history().last().unwrap()["ledger"].clone();
    assert_eq!(mark["seq"], 1, "{mark}");

    // B never ran: its history of prod is A's, read from the database.
    let h = db.run(&b, &["history", "--env", "prod"]);
    h.expect(0);
    assert!(h.stdout.contains("succeeded"), "{}", h.all());
    assert!(h.stderr.contains("every machine's runs"), "{}", h.all());
    assert_eq!(h.stdout.lines().count(), 1, "{}", h.all());
    let line = h.stdout.lines().next().unwrap();
    assert!(line.contains("6 changed"), "{line}");

    // A migration file edited in B's checkout after A applied it is drift, for B too.
    edit_migration(&b);
    let show = db.run(&b, &["--env", "prod", "--show", "--output", "json"]);
    show.expect(0);
    assert_eq!(drift_of(&show), ["orders.0002_order_status"]);
    // prod refuses to migrate over drift; the refusal reached the database, so it is in the
    // ledger for everyone.
    let refused = db.run(&b, &["--env", "prod", "--confirm"]);
    refused.expect(3);
    assert!(
        refused.error_line().contains("orders.0002_order_status"),
        "{}",
        refused.all()
    );
    assert_eq!(db.ledger_runs(), 2);
    // A run refused before it reached the database is in the local history only.
    db.run(&b, &["--env", "prod"]).expect(3);
    assert_eq!(db.ledger_runs(), 2);

    // The chain is intact, and B's own row is the one B wrote.
    let v = db.run(&b, &["history", "--env", "prod", "verify"]);
    v.expect(0);
    assert!(
        v.stdout
            .contains("ledger platform_migrate intact: 2 run(s)"),
        "{}",
        v.all()
    );
    assert!(v.stdout.contains("the 1 this machine wrote"), "{}", v.all());

    // A row edited by hand is named, from any machine.
    db.sql(
        "UPDATE platform_migrate.runs SET line = replace(line, '\"outcome\":\"succeeded\"', '\"outcome\":\"failed\"') WHERE seq = 1",
    );
    let v = db.run(&a, &["history", "--env", "prod", "verify"]);
    v.expect(1);
    assert!(v.error_line().contains("ledger row 1"), "{}", v.all());
    assert!(v.error_line().contains(&a_run), "{}", v.all());
}

#[test]
fn an_ephemeral_runner_still_gets_the_drift_check_and_the_history() {
    let db = Db::new();
    let text = config(None, "");
    let ci = machine(&text);
    let state = ci.state();
    // Every CI job starts from a fresh clone: nothing of the last job's state is left.
    db.run(&ci, &["--env", "prod", "--confirm"]).expect(0);
    std::fs::remove_dir_all(&state).unwrap();
    db.run(&ci, &["--env", "prod", "--confirm"]).expect(0);
    std::fs::remove_dir_all(&state).unwrap();
    edit_migration(&ci);
    let show = db.run(&ci, &["--env", "prod", "--show", "--output", "json"]);
    show.expect(0);
    assert_eq!(drift_of(&show), ["orders.0002_order_status"]);
    std::fs::remove_dir_all(&state).unwrap();
    let h = db.run(&ci, &["history", "--env", "prod"]);
    h.expect(0);
    // The deploy and the no-op run after it (nothing changed, but the ledger existed).
    assert_eq!(h.stdout.lines().count(), 2, "{}", h.all());
    let limited = db.run(&ci, &["history", "--env", "prod", "--limit", "1"]);
    assert_eq!(limited.stdout.lines().count(), 1, "{}", limited.all());
    // --accept-drift records the file as it is now, for every machine.
    db.run(&ci, &["--env", "prod", "--confirm", "--accept-drift"])
        .expect(0);
    std::fs::remove_dir_all(&state).unwrap();
    let show = db.run(&ci, &["--env", "prod", "--show", "--output", "json"]);
    assert!(drift_of(&show).is_empty(), "{}", show.all());
}

#[test]
fn the_ledger_is_created_with_the_migration_users_own_privileges() {
    let db = Db::new();
    // An application role that owns its database, as most deployments have: no superuser.
    let owner = db.pg.db_name("owner");
    let limited = db.pg.db_name("limited");
    db.sql(&format!(
        "CREATE ROLE \"{owner}\" LOGIN PASSWORD 'owner-pw'; CREATE ROLE \"{limited}\" LOGIN PASSWORD 'limited-pw'"
    ));
    let own_db = db.pg.create_db("owned");
    db.pg.psql(
        "postgres",
        &format!("ALTER DATABASE \"{own_db}\" OWNER TO \"{owner}\""),
    );
    db.pg.psql(
        &own_db,
        &format!("ALTER SCHEMA public OWNER TO \"{owner}\""),
    );
    let as_role = |role: &str, pw: &str, dbname: &str| {
        db.pg.url(dbname).replacen(
            &format!("{}:{}@", db.pg.user, db.pg.password),
            &format!("{role}:{pw}@"),
            1,
        )
    };
    let p = machine(&config(None, ""));
    let url = as_role(&owner, "owner-pw", &own_db);
    p.run_with(
        &["--env", "prod", "--confirm"],
        &[(URL_VAR, url.as_str()), (BACKUP_URL_VAR, url.as_str())],
    )
    .expect(0);
    assert_eq!(
        db.pg.psql(
            &own_db,
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'platform_migrate'"
        ),
        owner
    );

    // A role that may migrate the public schema but not create schemas: the run goes on with
    // the history on this machine (ledger = auto), and ledger = on refuses before migrating.
    db.sql(&format!("GRANT ALL ON SCHEMA public TO \"{limited}\""));
    let url = as_role(&limited, "limited-pw", &db.db);
    let env = [(URL_VAR, url.as_str()), (BACKUP_URL_VAR, url.as_str())];
    let strict = machine(&config(None, "ledger = \"on\"\n"));
    let r = strict.run_with(&["--env", "prod", "--confirm"], &env);
    r.expect(2);
    assert!(
        r.error_line()
            .contains("may not create schema platform_migrate"),
        "{}",
        r.all()
    );
    assert!(db.pg.applied(&db.db).is_empty(), "migrated before refusing");
    let relaxed = machine(&config(None, "verbose = true\n"));
    let r = relaxed.run_with(&["--env", "prod", "--confirm"], &env);
    r.expect(0);
    assert!(
        r.stdout.contains("history stays on this machine"),
        "{}",
        r.all()
    );
    assert_eq!(db.pg.applied(&db.db).len(), 6);
    assert_eq!(db.ledger_runs(), 0);
}

#[test]
fn a_runner_built_against_wit_0_1_0_still_loads_and_runs() {
    let legacy = common::root().join("target/legacy/django_runner_v0_1.wasm");
    assert!(
        legacy.exists(),
        "{} is missing: run the tests with `just test` (recipe legacy-runner)",
        legacy.display()
    );
    // It is what it says.
    let out = Project::new().run(&["plugin", "check", legacy.to_str().unwrap()]);
    out.expect(0);
    assert!(
        out.stdout.contains("platform:migrate@0.1.0"),
        "{}",
        out.all()
    );

    // On SQLite (the demo's dev env), it migrates everything.
    let p = Project::new();
    p.write_config(&common::config_text().replace(
        &common::plugin("django_runner").display().to_string(),
        &legacy.display().to_string(),
    ));
    p.run(&["--env", "dev"]).expect(0);
    assert_eq!(p.applied().len(), 6);

    // On PostgreSQL it runs with the history on this machine; ledger = on says why not.
    let db = Db::new();
    let strict = machine(&config(Some(&legacy), "ledger = \"on\"\n"));
    let r = db.run(&strict, &["--env", "prod", "--confirm"]);
    r.expect(2);
    assert!(
        r.error_line().contains(
            "platform:migrate@0.1.0, which cannot keep a ledger in the database (added in 0.2.0)"
        ),
        "{}",
        r.all()
    );
    let auto = machine(&config(Some(&legacy), ""));
    db.run(&auto, &["--env", "prod", "--confirm"]).expect(0);
    assert_eq!(db.pg.applied(&db.db).len(), 6);
    assert_eq!(db.ledger_runs(), 0);
    assert!(auto.history().last().unwrap().get("ledger").is_none());
}

/// A runner built against 0.2.0 keeps its ledger; what 0.3.0 added (the schema snapshot) it
/// answers as unsupported, and runs go on without it.
#[test]
fn a_runner_built_against_wit_0_2_0_still_loads_and_keeps_its_ledger() {
    let legacy = common::root().join("target/legacy/django_runner_v0_2.wasm");
    assert!(
        legacy.exists(),
        "{} is missing: run the tests with `just test` (recipe legacy-runner)",
        legacy.display()
    );
    let out = Project::new().run(&["plugin", "check", legacy.to_str().unwrap()]);
    out.expect(0);
    assert!(
        out.stdout.contains("platform:migrate@0.2.0"),
        "{}",
        out.all()
    );
    let db = Db::new();
    let p = machine(&config(Some(&legacy), ""));
    db.run(&p, &["--env", "prod", "--confirm"]).expect(0);
    assert_eq!(db.pg.applied(&db.db).len(), 6);
    assert_eq!(db.ledger_runs(), 1);
}

// ---- backups off the runner ------------------------------------------------------------

const S3_ID: &str = "PM_TEST_S3_KEY_ID";
const S3_SECRET: &str = "PM_TEST_S3_SECRET";

/// `p` run with the database secrets and the store's credentials; neither shows anywhere.
fn run_s3(db: &Db, s3: &common::s3::S3, p: &Project, args: &[&str], secret: &str) -> Run {
    let r = p.run_with(
        args,
        &[
            (URL_VAR, db.url.as_str()),
            (BACKUP_URL_VAR, db.url.as_str()),
            (S3_ID, s3.key_id.as_str()),
            (S3_SECRET, secret),
        ],
    );
    for s in [db.pg.password.as_str(), s3.secret.as_str()] {
        assert!(!r.all().contains(s), "a secret in the output\n{}", r.all());
        assert!(
            !p.state_text().contains(s),
            "a secret in the state directory"
        );
    }
    r
}

fn catalog_ids(p: &Project) -> Vec<String> {
    p.catalog()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn backups_go_to_the_store_and_any_machine_lists_verifies_and_prunes_them() {
    let db = Db::new();
    let s3 = common::s3::S3::start();
    let text = config(None, &s3.store_table("prod", "shop", S3_ID, S3_SECRET));
    let a = machine(&text);
    let b = machine(&text);

    // Wrong credentials: the run fails before any migration, and says why.
    let r = run_s3(
        &db,
        &s3,
        &a,
        &["--env", "prod", "--confirm"],
        "not-the-secret",
    );
    r.expect(1);
    assert!(
        r.error_line().contains("backup store s3://pm-backups/shop"),
        "{}",
        r.all()
    );
    assert!(
        r.error_line().contains("nothing was migrated"),
        "{}",
        r.all()
    );
    assert!(db.pg.applied(&db.db).is_empty());
    let last = a.history().last().unwrap().clone();
    assert!(
        last["error"].as_str().unwrap().contains("backup store"),
        "{last}"
    );
    assert!(s3.keys().is_empty(), "{:?}", s3.keys());

    // A deploys in two steps: each backup streams into the store, is checked there, gets a
    // manifest, and leaves no local copy.
    let secret = s3.secret.clone();
    run_s3(
        &db,
        &s3,
        &a,
        &["--env", "prod", "--confirm", "--app", "users"],
        &secret,
    )
    .expect(0);
    run_s3(&db, &s3, &a, &["--env", "prod", "--confirm"], &secret).expect(0);
    let ids = catalog_ids(&a);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let keys = s3.keys();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("shop/prod/")), "{keys:?}");
    assert!(a.backups("prod").is_empty(), "{:?}", a.backups("prod"));
    let second = a.catalog()[1].clone();
    let url = second["store"].as_str().unwrap();
    let key = url.strip_prefix("s3://pm-backups/").unwrap();
    let bytes = s3.get(key);
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        second["sha256"].as_str().unwrap()
    );
    // What the store holds restores A's pre-run database: only the users app was applied.
    let archive = a.path().join("second.dump");
    std::fs::write(&archive, &bytes).unwrap();
    db.pg.restore(&archive, "scratch");
    let scratch = db.pg.db_name("scratch");
    let mut before = db.pg.applied(&scratch);
    before.sort();
    assert_eq!(
        before,
        [
            "users.0001_initial",
            "users.0002_user_email_user_joined",
            "users.0003_fill_emails"
        ]
    );

    // The run's record says where its backup is.
    let rec = a.history().last().unwrap()["backup"].clone();
    assert_eq!(rec["store"], second["store"], "{rec}");

    // B, with its own state directory, lists A's backups and verifies one from the store.
    let listed = run_s3(&db, &s3, &b, &["backups", "list", "--env", "prod"], &secret);
    listed.expect(0);
    for id in &ids {
        assert!(listed.stdout.contains(id.as_str()), "{}", listed.all());
    }
    assert!(listed.stdout.contains("store"), "{}", listed.all());
    let id = second["id"].as_str().unwrap();
    let v = run_s3(&db, &s3, &b, &["backups", "verify", id], &secret);
    v.expect(0);
    assert!(
        v.stdout.contains("verified by plugin 'pg-backup'"),
        "{}",
        v.all()
    );
    assert!(
        b.backups("prod").is_empty(),
        "the fetched copy was left behind"
    );

    // B restores A's backup from the store into a new database: A's pre-run state.
    let restored = db.pg.db_name("restored");
    let r = run_s3(
        &db,
        &s3,
        &b,
        &["backups", "restore", id, "--to", &restored],
        &secret,
    );
    r.expect(0);
    assert!(
        r.stdout.contains(&format!("restored {id} into {restored}")),
        "{}",
        r.all()
    );
    let mut got = db.pg.applied(&restored);
    got.sort();
    assert_eq!(got, before);
    // Never over an existing database, nor the live one.
    let again = run_s3(
        &db,
        &s3,
        &b,
        &["backups", "restore", id, "--to", &restored],
        &secret,
    );
    again.expect(2);
    assert!(
        again.error_line().contains("already exists"),
        "{}",
        again.all()
    );
    let live = run_s3(
        &db,
        &s3,
        &b,
        &["backups", "restore", id, "--to", &db.db],
        &secret,
    );
    live.expect(2);
    assert!(live.error_line().contains("own database"), "{}", live.all());

    // An object changed in the store is found.
    let mut changed = bytes.clone();
    let n = changed.len();
    changed[n / 2] ^= 0xff;
    s3.put(key, &changed);
    let v = run_s3(&db, &s3, &b, &["backups", "verify", id], &secret);
    v.expect(1);
    assert!(v.error_line().contains("is damaged"), "{}", v.all());
    let other = db.pg.db_name("other");
    let r = run_s3(
        &db,
        &s3,
        &b,
        &["backups", "restore", id, "--to", &other],
        &secret,
    );
    r.expect(1);
    assert!(
        r.error_line().contains("nothing was restored"),
        "{}",
        r.all()
    );
    assert_eq!(
        db.pg.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{other}'")
        ),
        "0"
    );
    s3.put(key, &bytes);

    // Without any state directory (an ephemeral CI runner), the store still lists them.
    std::fs::remove_dir_all(b.state()).unwrap();
    let listed = run_s3(&db, &s3, &b, &["backups", "list", "--env", "prod"], &secret);
    listed.expect(0);
    assert!(listed.stdout.contains(id), "{}", listed.all());

    // An object without a manifest (an upload that never finished its checks) is no backup.
    s3.put("shop/prod/half-uploaded.dump", b"PGDMP cut short");
    let listed = run_s3(&db, &s3, &b, &["backups", "list", "--env", "prod"], &secret);
    assert!(!listed.stdout.contains("half-uploaded"), "{}", listed.all());

    // Retention decided on the store: B keeps 1, so its new backup leaves only itself.
    let keep_one = text.replace("[env.prod]\n", "[env.prod]\nkeep = 1\n");
    b.write_config(&keep_one);
    let made = run_s3(
        &db,
        &s3,
        &b,
        &["backups", "create", "--env", "prod"],
        &secret,
    );
    made.expect(0);
    let keys = s3.keys();
    assert_eq!(
        keys.iter()
            .filter(|k| k.ends_with(".manifest.json"))
            .count(),
        1,
        "{keys:?}\n{}",
        made.all()
    );
    assert!(!keys.iter().any(|k| k.contains(id)), "{keys:?}");
}

#[test]
fn an_unreachable_store_fails_the_prod_run_before_any_migration() {
    let db = Db::new();
    let s3 = common::s3::S3::start();
    let text = config(None, &s3.store_table("prod", "shop", S3_ID, S3_SECRET));
    let p = machine(&text);
    let secret = s3.secret.clone();
    drop(s3);
    let r = p.run_with(
        &["--env", "prod", "--confirm"],
        &[
            (URL_VAR, db.url.as_str()),
            (BACKUP_URL_VAR, db.url.as_str()),
            (S3_ID, "id"),
            (S3_SECRET, secret.as_str()),
        ],
    );
    r.expect(1);
    assert!(r.error_line().contains("backup store"), "{}", r.all());
    assert!(db.pg.applied(&db.db).is_empty());
    assert!(
        p.catalog().is_empty(),
        "a backup was catalogued: {:?}",
        p.catalog()
    );
}

#[test]
fn a_provider_that_writes_files_itself_is_uploaded_after_its_check() {
    // SQLite's file-copy provider writes the copy itself (not through stdout-file): the host
    // uploads the verified file, checks the store's copy, then removes the local one.
    let s3 = common::s3::S3::start();
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("restores")).unwrap();
    p.write_config(&format!(
        "{}{}",
        common::config_text().replace(
            "grants.dirs = [{ host = \".\", guest = \"/project\", access = \"read-only\" }]",
            "grants.dirs = [{ host = \".\", guest = \"/project\", access = \"read-only\" }, { host = \"restores\", guest = \"/restores\", access = \"read-write\" }]\ngrants.commands = [{ program = \"cat\", args = [] }]",
        ),
        s3.store_table("dev", "demo", S3_ID, S3_SECRET)
    ));
    let env = [(S3_ID, s3.key_id.as_str()), (S3_SECRET, s3.secret.as_str())];
    // A first run has no database file to copy yet; the second backs up the first's result.
    p.run_with(&["--env", "dev", "--app", "users"], &env)
        .expect(0);
    p.run_with(&["--env", "dev"], &env).expect(0);
    let cat = p.catalog();
    let stored: Vec<&serde_json::Value> = cat.iter().filter(|b| b["store"].is_string()).collect();
    assert_eq!(stored.len(), 1, "{cat:?}");
    assert!(p.backups("dev").is_empty(), "{:?}", p.backups("dev"));
    let keys = s3.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let id = stored[0]["id"].as_str().unwrap();
    let v = p.run_with(&["backups", "verify", id], &env);
    v.expect(0);
    assert!(v.stdout.contains("verified by plugin"), "{}", v.all());
    assert!(
        p.backups("dev").is_empty(),
        "the fetched copy was left behind"
    );
    assert!(!p.state_text().contains(&s3.secret));
}

#[test]
fn local_backups_restore_into_a_new_database_or_file_and_never_over_one() {
    let db = Db::new();
    let p = machine(&config(None, ""));
    db.run(&p, &["--env", "prod", "--confirm", "--app", "users"])
        .expect(0);
    db.run(&p, &["--env", "prod", "--confirm"]).expect(0);
    let second = p.catalog()[1]["id"].as_str().unwrap().to_string();
    let into = db.pg.db_name("copy");
    let r = db.run(&p, &["backups", "restore", &second, "--to", &into]);
    r.expect(0);
    assert_eq!(db.pg.applied(&into).len(), 3, "{}", r.all());
    // A damaged local file is refused before anything is created.
    let path = std::path::PathBuf::from(p.catalog()[1]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let r = db.run(
        &p,
        &[
            "backups",
            "restore",
            &second,
            "--to",
            &db.pg.db_name("copy2"),
        ],
    );
    r.expect(1);
    assert!(r.error_line().contains("is damaged"), "{}", r.all());
    // Unknown ids are named.
    let r = db.run(&p, &["backups", "restore", "prod-nope", "--to", "x"]);
    r.expect(2);
    assert!(
        r.error_line().contains("no backup with id prod-nope"),
        "{}",
        r.all()
    );

    // SQLite's file-copy provider restores into a new file in a read-write grant, through
    // `cat` (the host feeds the backup and writes the new file); without the grants the
    // refusal names what to add.
    let s = Project::new();
    s.run(&["--env", "dev", "--app", "users"]).expect(0);
    s.run(&["--env", "dev"]).expect(0);
    let id = s.catalog()[0]["id"].as_str().unwrap().to_string();
    let r = s.run(&["backups", "restore", &id, "--to", "/restores/copy.sqlite3"]);
    r.expect(4);
    assert!(r.error_line().contains("grants"), "{}", r.all());
    std::fs::create_dir_all(s.path().join("restores")).unwrap();
    s.write_config(&common::config_text().replace(
        "grants.dirs = [{ host = \".\", guest = \"/project\", access = \"read-only\" }]",
        "grants.dirs = [{ host = \".\", guest = \"/project\", access = \"read-only\" }, { host = \"restores\", guest = \"/restores\", access = \"read-write\" }]\ngrants.commands = [{ program = \"cat\", args = [] }]",
    ));
    let r = s.run(&["backups", "restore", &id, "--to", "/restores/copy.sqlite3"]);
    r.expect(0);
    let copy = s.path().join("restores/copy.sqlite3");
    let out = std::process::Command::new("sqlite3")
        .arg(&copy)
        .arg("SELECT count(*) FROM django_migrations")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3",
        "{}",
        r.all()
    );
    // Never over an existing file, nor over the live database.
    s.run(&["backups", "restore", &id, "--to", "/restores/copy.sqlite3"])
        .expect(2);
    let live = s.run(&["backups", "restore", &id, "--to", "/project/db.sqlite3"]);
    live.expect(2);
    assert!(live.error_line().contains("own database"), "{}", live.all());
}

#[test]
fn a_dump_cut_short_leaves_nothing_in_the_store_or_the_catalog() {
    let db = Db::new();
    let s3 = common::s3::S3::start();
    // A "pg_dump" that streams 3 MB (several upload parts) and then dies.
    let text = config(None, &s3.store_table("prod", "shop", S3_ID, S3_SECRET))
        .replace(
            "settings = { url-secret = \"database-url\" }",
            "settings = { url-secret = \"database-url\", pg-dump = \"./cut-dump.sh\" }",
        )
        .replace(
            "grants.commands = [\n    { program = \"pg_dump\"",
            "grants.commands = [\n    { program = \"./cut-dump.sh\", args = [\"--format=custom\", \"--no-password\", \"--lock-wait-timeout=*\"] },\n    { program = \"pg_dump\"",
        );
    assert!(text.contains("./cut-dump.sh\", args"), "{text}");
    let p = machine(&text);
    let script = p.path().join("cut-dump.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nyes PGDMP-cut-short | head -c 3000000\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = s3.secret.clone();
    let r = run_s3(&db, &s3, &p, &["--env", "prod", "--confirm"], &secret);
    r.expect(1);
    assert!(
        r.error_line().contains("backup command failed"),
        "{}",
        r.all()
    );
    assert!(s3.keys().is_empty(), "{:?}", s3.keys());
    assert!(p.catalog().is_empty(), "{:?}", p.catalog());
    assert!(db.pg.applied(&db.db).is_empty());
}
