//! The production path on a real PostgreSQL server (a throwaway cluster per test): --confirm,
//! verified pg_dump backups with host-computed sha256 in the catalog, restore, the rollback
//! plan, irreversible migrations, failures, retention.

use crate::common;

use common::pg::Pg;
use common::{add_migration, changed_ids, Project, Run};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

const URL_VAR: &str = "PM_TEST_DATABASE_URL";
const BACKUP_URL_VAR: &str = "PM_TEST_BACKUP_DATABASE_URL";

/// A project whose prod env runs on `db` of `pg`: the Django runner gets DATABASE_URL from the
/// secret in URL_VAR, pg-dump-backup reads its own secret from BACKUP_URL_VAR.
struct Prod {
    pg: Pg,
    db: String,
    p: Project,
    env: Vec<(String, String)>,
}

fn config(keep: Option<usize>) -> String {
    let keep = keep.map(|k| format!("keep = {k}\n")).unwrap_or_default();
    format!(
        "{}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n{keep}",
        common::pg::django_pg_plugin(URL_VAR),
        common::pg::pg_backup_plugin(BACKUP_URL_VAR),
    )
}

impl Prod {
    fn new(keep: Option<usize>) -> Prod {
        let pg = Pg::start();
        let db = pg.create_db("shop");
        let p = Project::new();
        p.write_config(&config(keep));
        let env = vec![
            (URL_VAR.to_string(), pg.url(&db)),
            (BACKUP_URL_VAR.to_string(), pg.url(&db)),
        ];
        Prod { pg, db, p, env }
    }

    fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = self.p.run_with(args, &env);
        self.assert_no_secret(&r);
        r
    }

    fn applied(&self) -> Vec<String> {
        self.pg.applied(&self.db)
    }

    /// The password must not appear in output or in anything the run wrote.
    fn assert_no_secret(&self, r: &Run) {
        let pw = &self.pg.password;
        assert!(
            !r.stdout.contains(pw.as_str()),
            "password in stdout\n{}",
            r.all()
        );
        assert!(
            !r.stderr.contains(pw.as_str()),
            "password in stderr\n{}",
            r.all()
        );
        assert!(
            !self.p.state_text().contains(pw.as_str()),
            "password in history or catalog"
        );
    }

    fn backup_files(&self) -> Vec<PathBuf> {
        self.p.backups("prod")
    }
}

fn sha256_of(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn pg_restore_list(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(path)
        .output()
        .unwrap()
}

const ALL_IDS: &[&str] = &[
    "users.0001_initial",
    "users.0002_user_email_user_joined",
    "users.0003_fill_emails",
    "orders.0001_initial",
    "orders.0002_order_status",
    "orders.0003_order_note",
];

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn all_sorted() -> Vec<String> {
    sorted(ALL_IDS.iter().map(|s| s.to_string()).collect())
}

#[test]
fn prod_without_confirm_is_refused_before_the_database_is_touched() {
    let t = Prod::new(None);
    let r = t.run(&["--env", "prod"]);
    r.expect(3);
    let e = r.error_line();
    assert!(e.contains("requires --confirm"), "{}", r.all());
    assert!(e.contains("apply all pending migrations"), "{e}");
    assert!(t.applied().is_empty(), "django_migrations must not exist");
    assert!(t.backup_files().is_empty());
    let h = t.p.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["outcome"], "refused");
    assert_eq!(h[0]["exit_code"], 3);
}

#[test]
fn prod_backs_up_verifies_catalogues_then_migrates_and_the_backup_restores() {
    let t = Prod::new(None);
    // A first step so the backup of the second run has rows to give back.
    t.run(&[
        "--env",
        "prod",
        "--confirm",
        "--app",
        "users",
        "--migration",
        "0002",
    ])
    .expect(0);
    let before = t.applied();
    assert_eq!(
        before,
        vec!["users.0001_initial", "users.0002_user_email_user_joined"]
    );

    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(0);
    assert!(
        r.stdout.contains("[3/6] backup: ok, verified"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("rollback plan"), "{}", r.all());
    assert_eq!(sorted(t.applied()), all_sorted());

    let cat = t.p.catalog();
    assert_eq!(cat.len(), 2, "{cat:?}");
    let last = &cat[1];
    assert_eq!(last["env"], "prod");
    assert_eq!(last["verified"], true);
    let path = PathBuf::from(last["path"].as_str().unwrap());
    assert!(path.starts_with(t.p.state().join("backups/prod")));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("prod-") && name.ends_with(".dump"),
        "{name}"
    );
    // The catalog's size and sha256 are the file's.
    assert_eq!(last["sha256"].as_str().unwrap(), sha256_of(&path));
    assert_eq!(
        last["size"].as_u64().unwrap(),
        std::fs::metadata(&path).unwrap().len()
    );
    // pg_restore accepts it.
    let list = pg_restore_list(&path);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    // The run that took it is the run in history, and history names the backup.
    let h = t.p.history();
    let run = h.last().unwrap();
    assert_eq!(run["run_id"], last["run_id"]);
    assert_eq!(run["backup"]["id"], last["id"]);
    assert_eq!(run["backup"]["sha256"], last["sha256"]);
    let rp = &run["rollback_plan"];
    assert_eq!(rp["backup_id"], last["id"]);
    let cmds: Vec<&str> = rp["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cmds.iter().any(|c| c
            .ends_with("--env prod --app users --migration 0002_user_email_user_joined --confirm --allow-destructive")),
        "{cmds:?}"
    );
    assert!(
        cmds.iter().any(|c| c
            .ends_with("--env prod --app orders --migration zero --confirm --allow-destructive")),
        "{cmds:?}"
    );

    // Restoring it into a scratch database gives back the pre-migration rows.
    t.pg.restore(&path, "scratch");
    assert_eq!(t.pg.applied(&t.pg.db_name("scratch")), before);

    // The catalog commands agree.
    let listed = t.run(&["backups", "list", "--env", "prod"]);
    listed.expect(0);
    assert!(
        listed.stdout.contains(last["id"].as_str().unwrap()),
        "{}",
        listed.all()
    );
    let id = last["id"].as_str().unwrap();
    let v = t.run(&["backups", "verify", id]);
    v.expect(0);
    assert!(v.stdout.contains("matches the catalog"), "{}", v.all());
    assert!(
        v.stdout.contains("verified by plugin 'pg-backup'"),
        "{}",
        v.all()
    );

    // A damaged file is caught by the host, whatever the plugin would say.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let bad = t.run(&["backups", "verify", id]);
    bad.expect(1);
    assert!(bad.error_line().contains("is damaged"), "{}", bad.all());
    assert!(bad.error_line().contains("sha256"), "{}", bad.all());
}

#[test]
fn a_failing_backup_means_no_migration_ran() {
    let mut t = Prod::new(None);
    // Wrong password for the backup provider only: the runner still connects.
    let wrong = t.pg.url_with_password(&t.db, "not-the-password");
    t.env[1].1 = wrong;
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("backup command failed"), "{}", r.all());
    assert!(e.contains("password authentication failed"), "{}", r.all());
    assert!(e.contains("nothing was migrated"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
    assert!(t.applied().is_empty());
    assert!(t.backup_files().is_empty(), "a failed dump leaves no file");
    assert_eq!(t.p.history().last().unwrap()["outcome"], "failed");

    // An unreachable server: a socket directory where nothing listens.
    let dead = tempfile::tempdir().unwrap();
    t.env[1].1 = format!(
        "postgresql://{}:{}@/{}?host={}",
        t.pg.user,
        t.pg.password,
        t.db,
        dead.path().display()
    );
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    assert!(
        r.error_line().contains("nothing was migrated"),
        "{}",
        r.all()
    );
    assert!(t.applied().is_empty());
}

#[test]
fn irreversible_migrations_need_allow_irreversible_in_prod() {
    let t = Prod::new(None);
    add_migration(
        &t.p,
        "orders",
        "0004_irreversible",
        "from django.db import migrations\n\n\
         def forwards(apps, schema_editor):\n    pass\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(forwards)]\n",
    );
    // On a database where migrations are applied already (on an empty one, the way back is
    // the empty database's backup, and an irreversible step is not refused).
    t.run(&[
        "--env",
        "prod",
        "--confirm",
        "--app",
        "orders",
        "--migration",
        "0003_order_note",
    ])
    .expect(0);
    let (applied, backups) = (t.applied(), t.backup_files());
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(3);
    let e = r.error_line();
    assert!(e.contains("orders.0004_irreversible"), "{}", r.all());
    assert!(
        e.ends_with(
            "relying on the backup: platform-migrate --env prod --confirm --allow-irreversible"
        ),
        "{e}"
    );
    assert_eq!(t.applied(), applied, "refused before anything ran");
    assert_eq!(t.backup_files(), backups, "refused before the backup");

    let r = t.run(&["--env", "prod", "--confirm", "--allow-irreversible"]);
    r.expect(0);
    assert!(t
        .applied()
        .contains(&"orders.0004_irreversible".to_string()));
    assert!(
        r.stdout.contains(
            "cannot be reversed by migrating: orders.0004_irreversible; restore backup prod-"
        ),
        "{}",
        r.all()
    );
    let rp = t.p.history().last().unwrap()["rollback_plan"].clone();
    assert_eq!(rp["irreversible"][0], "orders.0004_irreversible");
}

#[test]
fn a_migration_that_raises_leaves_an_accurate_history_and_the_rollback_plan() {
    let t = Prod::new(None);
    add_migration(
        &t.p,
        "orders",
        "0004_boom",
        "from django.db import migrations\n\n\
         def boom(apps, schema_editor):\n    raise RuntimeError(\"boom: prod data is not what this migration expects\")\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(boom, migrations.RunPython.noop)]\n",
    );
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    assert!(r.error_line().contains("boom: prod data"), "{}", r.all());
    assert!(
        r.error_line()
            .contains("database changed before the failure"),
        "{}",
        r.all()
    );
    // PostgreSQL rolled the failing migration back; the ones before it stay applied.
    let applied = t.applied();
    assert!(
        applied.contains(&"orders.0003_order_note".to_string()),
        "{applied:?}"
    );
    assert!(
        !applied.contains(&"orders.0004_boom".to_string()),
        "{applied:?}"
    );
    let h = t.p.history();
    let last = h.last().unwrap();
    assert_eq!(last["outcome"], "failed");
    let recorded = changed_ids(last);
    // History says exactly what the database says.
    assert_eq!(sorted(recorded), sorted(applied));
    // The rollback plan is printed on failure and names the backup taken before.
    assert!(
        r.stdout.contains("rollback plan (to undo this run):"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout
            .contains("--app orders --migration zero --confirm --allow-destructive"),
        "{}",
        r.all()
    );
    assert_eq!(last["rollback_plan"]["backup_id"], last["backup"]["id"]);
    // The printed commands run as printed (prod refuses destructive plans; they say so).
    for cmd in last["rollback_plan"]["commands"].as_array().unwrap() {
        let argv: Vec<&str> = cmd.as_str().unwrap().split_whitespace().skip(1).collect();
        t.run(&argv).expect(0);
    }
    let applied = t.applied();
    assert!(
        !applied.iter().any(|m| m.starts_with("orders.")),
        "{applied:?}"
    );
}

#[test]
fn prod_rollback_needs_confirm_and_takes_a_verified_backup_first() {
    let t = Prod::new(None);
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    let r = t.run(&["--env", "prod", "--rollback", "--app", "orders"]);
    r.expect(3);
    assert!(
        r.error_line()
            .contains("roll back the last migration of app orders"),
        "{}",
        r.all()
    );
    assert_eq!(sorted(t.applied()), all_sorted());

    // Unapplying AddField drops the column and its data: a destructive change.
    let r = t.run(&[
        "--env",
        "prod",
        "--rollback",
        "--app",
        "orders",
        "--confirm",
    ]);
    r.expect(3);
    assert!(
        r.error_line()
            .contains("orders.0003_order_note: drop-column"),
        "{}",
        r.all()
    );
    let r = t.run(&[
        "--env",
        "prod",
        "--rollback",
        "--app",
        "orders",
        "--confirm",
        "--allow-destructive",
    ]);
    r.expect(0);
    assert!(!t.applied().contains(&"orders.0003_order_note".to_string()));
    let cat = t.p.catalog();
    assert_eq!(cat.len(), 2);
    let h = t.p.history();
    let last = h.last().unwrap();
    assert_eq!(last["action"], "rollback");
    assert_eq!(cat[1]["run_id"], last["run_id"]);
    assert_eq!(cat[1]["verified"], true);
    // Undoing the rollback is migrating forward again.
    assert!(
        last["rollback_plan"]["commands"][0]
            .as_str()
            .unwrap()
            .ends_with("--app orders --migration 0003_order_note --confirm"),
        "{}",
        last["rollback_plan"]
    );
}

#[test]
fn retention_keeps_the_newest_verified_backups() {
    let t = Prod::new(Some(2));
    t.run(&[
        "--env",
        "prod",
        "--confirm",
        "--app",
        "users",
        "--migration",
        "0001",
    ])
    .expect(0);
    t.run(&[
        "--env",
        "prod",
        "--confirm",
        "--app",
        "users",
        "--migration",
        "0002",
    ])
    .expect(0);
    let ids_before: Vec<String> =
        t.p.catalog()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(ids_before.len(), 2);
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(0);
    assert!(
        r.stdout
            .contains(&format!("retention (keep = 2): deleted {}", ids_before[0])),
        "{}",
        r.all()
    );
    let cat = t.p.catalog();
    let ids: Vec<&str> = cat.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids_before[1]);
    assert_eq!(cat[1]["run_id"], t.p.history().last().unwrap()["run_id"]);
    // Exactly the catalogued files are on disk.
    let mut on_disk: Vec<String> = t
        .backup_files()
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = cat
        .iter()
        .map(|b| b["file"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(on_disk, expected);
}

#[test]
fn backups_taken_in_the_same_second_never_collide() {
    let t = Prod::new(None);
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    let env: Vec<(&str, &str)> = t
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Four processes at once: same env, same second.
    let children: Vec<_> = (0..4)
        .map(|_| {
            t.p.command(&["backups", "create", "--env", "prod"], &env)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cat = t.p.catalog();
    assert_eq!(cat.len(), 5, "{cat:#?}");
    let files = t.backup_files();
    assert_eq!(files.len(), 5);
    for b in &cat {
        let path = PathBuf::from(b["path"].as_str().unwrap());
        assert_eq!(b["sha256"].as_str().unwrap(), sha256_of(&path), "{b}");
        assert_eq!(b["verified"], true);
    }
}

/// Django unapplies a migration in a transaction of its own and removes its record after it,
/// so a `pre_delete` handler on the record that fails (here: a cache it cannot reach) leaves the
/// column dropped while `django_migrations` still lists the migration (issue 38). The run says
/// exactly that, marks itself half-applied in history, never says the database was not
/// changed, and the `--fake` command it prints brings the record in line with the schema.
#[test]
fn a_rollback_whose_record_fails_is_reported_half_applied_with_its_recovery() {
    let t = Prod::new(None);
    add_migration(
        &t.p,
        "orders",
        "0004_flag",
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.AddField('order', 'flag', models.BooleanField(null=True))]\n",
    );
    // The project's own signal handler on the migration record, failing once `refuse` exists.
    let models = t.p.path().join("orders/models.py");
    let mut text = std::fs::read_to_string(&models).unwrap();
    text.push_str(
        "\n\nimport os\nfrom django.db.models.signals import pre_delete\n\n\n\
         def forget_cached_schema(sender, instance, **kwargs):\n    \
         if getattr(instance, \"app\", None) == \"orders\" and os.path.exists(\"refuse\"):\n        \
         raise ConnectionError(\"cache unavailable\")\n\n\n\
         pre_delete.connect(forget_cached_schema, dispatch_uid=\"forget_cached_schema\")\n",
    );
    std::fs::write(&models, text).unwrap();
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    let column = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'flag'";
    assert_eq!(t.pg.psql(&t.db, column), "1");

    std::fs::write(t.p.path().join("refuse"), "").unwrap();
    let r = t.run(&[
        "--env",
        "prod",
        "--rollback",
        "--app",
        "orders",
        "--confirm",
        "--allow-destructive",
    ]);
    r.expect(1);
    // What the database holds now: the column is gone, the record is not.
    assert_eq!(t.pg.psql(&t.db, column), "0");
    assert!(t.applied().contains(&"orders.0004_flag".to_string()));
    let e = r.error_line();
    assert!(e.contains("cache unavailable"), "{}", r.all());
    assert!(
        e.contains("half-applied: Django failed while writing the record of orders.0004_flag"),
        "{e}"
    );
    assert!(
        e.contains("django_migrations still lists orders.0004_flag as applied"),
        "{e}"
    );
    let h = t.p.history();
    let last = h.last().unwrap();
    assert_eq!(last["half_applied"]["name"], "0004_flag", "{last:#}");
    assert_eq!(last["half_applied"]["backwards"], true);
    let id = last["backup"]["id"].as_str().unwrap();
    assert!(e.contains(&format!("restore backup {id}")), "{e}");
    assert!(!r.stdout.contains("was not changed"), "{}", r.all());
    // The catalog, compared before and after, names what changed.
    assert_eq!(
        last["schema_changes"],
        serde_json::json!(["column orders_order.flag was dropped"]),
        "{last:#}"
    );
    assert!(
        r.all()
            .contains("the schema changed: column orders_order.flag was dropped"),
        "{}",
        r.all()
    );
    // The printed --fake records what happened; the handler is gone again by then.
    let fake = e
        .split('`')
        .find(|c| c.contains("--fake"))
        .expect("a --fake command");
    assert_eq!(
        fake,
        "platform-migrate --env prod --app orders --migration 0003_order_note --fake --confirm"
    );
    std::fs::remove_file(t.p.path().join("refuse")).unwrap();
    let argv: Vec<&str> = fake.split_whitespace().skip(1).collect();
    t.run(&argv).expect(0);
    assert!(!t.applied().contains(&"orders.0004_flag".to_string()));
    // Schema and record agree again: applying it anew works.
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    assert_eq!(t.pg.psql(&t.db, column), "1");
}

/// A non-atomic migration commits its schema change, then fails in its data step: Django
/// records nothing. The host compares the catalog from before step 5 with the one after, says
/// exactly what changed that no record shows, and marks the run half-applied (issue 38).
#[test]
fn a_schema_change_no_record_shows_is_reported_half_applied_from_the_catalog() {
    let t = Prod::new(None);
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    add_migration(
        &t.p,
        "orders",
        "0004_flag",
        "from django.db import migrations, models\n\n\
         def boom(apps, schema_editor):\n    raise RuntimeError('backfill failed')\n\n\
         class Migration(migrations.Migration):\n    atomic = False\n    \
         dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [\n        migrations.AddField('order', 'flag', models.BooleanField(null=True)),\n        \
         migrations.RunPython(boom, migrations.RunPython.noop),\n    ]\n",
    );
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    let column = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders_order' AND column_name = 'flag'";
    assert_eq!(t.pg.psql(&t.db, column), "1", "the column committed");
    assert!(!t.applied().contains(&"orders.0004_flag".to_string()));
    let e = r.error_line();
    assert!(e.contains("backfill failed"), "{}", r.all());
    assert!(
        e.contains("half-applied: the schema changed while applying orders.0004_flag, but django_migrations does not list it as applied: column orders_order.flag was added (`boolean`)"),
        "{e}"
    );
    let h = t.p.history();
    let last = h.last().unwrap();
    assert_eq!(last["half_applied"]["name"], "0004_flag", "{last:#}");
    assert_eq!(last["half_applied"]["backwards"], false);
    assert_eq!(
        last["schema_changes"],
        serde_json::json!(["column orders_order.flag was added (`boolean`)"])
    );
    let id = last["backup"]["id"].as_str().unwrap();
    assert!(e.contains(&format!("restore backup {id}")), "{e}");
    assert!(!r.all().contains("was not changed"), "{}", r.all());
}

/// An atomic migration that fails changes nothing, and the run says so only because it
/// compared the catalog too.
#[test]
fn a_failure_that_changed_nothing_says_so_after_comparing_the_catalog() {
    let t = Prod::new(None);
    t.run(&["--env", "prod", "--confirm"]).expect(0);
    add_migration(
        &t.p,
        "orders",
        "0004_flag",
        "from django.db import migrations, models\n\n\
         def boom(apps, schema_editor):\n    raise RuntimeError('backfill failed')\n\n\
         class Migration(migrations.Migration):\n    \
         dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(boom, migrations.RunPython.noop)]\n",
    );
    let r = t.run(&["--env", "prod", "--confirm"]);
    r.expect(1);
    assert!(
        r.all()
            .contains("the database was not changed: django_migrations and the schema ("),
        "{}",
        r.all()
    );
    let h = t.p.history();
    let last = h.last().unwrap();
    assert!(last.get("half_applied").is_none(), "{last:#}");
    assert!(last.get("schema_changes").is_none(), "{last:#}");
}
