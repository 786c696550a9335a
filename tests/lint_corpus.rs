//! The linter against what Django really renders (issue 18): every common schema operation
//! kind, written as a migration of the demo's `orders` app, rendered by the real Django in the
//! venv for a real PostgreSQL database, parsed by PostgreSQL's own parser, and its verdict
//! compared with the table below: the exact set of rules each migration fires, a firing case
//! and its safe twin side by side.

use crate::common;

use common::pg::Pg;
use common::{add_migration, Project};
use std::collections::{BTreeMap, BTreeSet};

const URL_VAR: &str = "PM_TEST_DATABASE_URL";

/// (label, the migration's operations, whether it is atomic, the rules it must fire).
type Case = (&'static str, &'static str, bool, &'static [&'static str]);

const FK: &str = "foreign-key-inline";
const IDX: &str = "index-without-concurrently";
const UNIQUE: &str = "unique-constraint";

/// The corpus, applied in this order after the demo's migrations (all applied before, so the
/// tables exist and nothing is exempt unless the plan itself creates the table).
const CORPUS: &[Case] = &[
    // AddField, by field type.
    ("fk", "migrations.AddField('order', 'buyer', models.ForeignKey('users.User', models.SET_NULL, null=True, related_name='+'))", true, &[FK, IDX]),
    ("fk_twin", "migrations.AddField('order', 'buyer2', models.ForeignKey('users.User', models.SET_NULL, null=True, related_name='+', db_constraint=False, db_index=False))", true, &[]),
    ("o2o", "migrations.AddField('order', 'invoice_of', models.OneToOneField('users.User', models.SET_NULL, null=True, related_name='+'))", true, &[FK, UNIQUE]),
    ("unique", "migrations.AddField('order', 'code', models.CharField(max_length=20, null=True, unique=True))", true, &[UNIQUE, IDX]),
    ("unique_twin", "migrations.AddField('order', 'code2', models.CharField(max_length=20, null=True))", true, &[]),
    ("db_index", "migrations.AddField('order', 'rank', models.IntegerField(null=True, db_index=True))", true, &[IDX]),
    ("default", "migrations.AddField('order', 'qty', models.IntegerField(default=1))", true, &[]),
    ("not_null", "migrations.AddField('order', 'weight', models.IntegerField(default=0), preserve_default=False)", true, &[]),
    ("not_null_no_default", "migrations.AddField('order', 'weight2', models.IntegerField())", true, &["add-column-not-null-without-default"]),
    ("db_default_volatile", "migrations.AddField('order', 'uid', models.UUIDField(db_default=RandomUUID()))", true, &["default-rewrites-table"]),
    ("db_default_const", "migrations.AddField('order', 'flag', models.IntegerField(db_default=1))", true, &[]),
    // AlterField: type, null, unique.
    // A new scale changes every value; more precision (decimal(10,2) to (14,2)), a longer varchar
    // or varchar to text keep the table as it is (the catalog's type before is compared), and
    // shortening what this plan lengthened checks every row again.
    ("alter_type", "migrations.AlterField('order', 'total', models.DecimalField(max_digits=14, decimal_places=3))", true, &["alter-column-type"]),
    ("alter_longer", "migrations.AlterField('order', 'status', models.CharField(default='new', max_length=32))", true, &[]),
    ("alter_shorter", "migrations.AlterField('order', 'status', models.CharField(default='new', max_length=24))", true, &["alter-column-type"]),
    ("alter_to_text", "migrations.AlterField('order', 'status', models.TextField(default='new'))", true, &[]),
    ("alter_null", "migrations.AlterField('order', 'code2', models.CharField(max_length=20, default=''))", true, &["set-not-null"]),
    ("alter_null_twin", "migrations.AlterField('order', 'rank', models.IntegerField(null=True, db_index=True, help_text='x'))", true, &[]),
    ("alter_unique", "migrations.AlterField('order', 'code2', models.CharField(max_length=20, default='', unique=True))", true, &[UNIQUE, IDX]),
    // RemoveField and RenameField.
    ("remove", "migrations.RemoveField('order', 'qty')", true, &["drop-column"]),
    ("remove_twin", "migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField('order', 'weight')])", true, &[]),
    ("rename", "migrations.RenameField('order', 'flag', 'flagged')", true, &["rename-column"]),
    // Indexes, plain and concurrent.
    ("add_index", "migrations.AddIndex('order', models.Index(fields=['total'], name='order_total_idx'))", true, &[IDX]),
    // The index was created earlier in this plan: exempt.
    ("remove_index", "migrations.RemoveIndex('order', 'order_total_idx')", true, &[]),
    // An index that existed before the plan.
    ("drop_index", "migrations.RunSQL('DROP INDEX orders_order_old_idx', reverse_sql=migrations.RunSQL.noop)", true, &["drop-index-without-concurrently"]),
    ("add_index_conc", "AddIndexConcurrently('order', models.Index(fields=['total'], name='order_total_idx2'))", false, &[]),
    // The same in an atomic migration: Django refuses it when it runs; flagged at plan time.
    ("add_index_conc_atomic", "AddIndexConcurrently('order', models.Index(fields=['total'], name='order_total_idx3'))", true, &["concurrently-in-atomic"]),
    ("run_sql_conc_atomic", "migrations.RunSQL('CREATE INDEX CONCURRENTLY order_note_idx ON orders_order (note)', reverse_sql=migrations.RunSQL.noop)", true, &["concurrently-in-atomic"]),
    ("remove_index_conc", "RemoveIndexConcurrently('order', 'order_total_idx2')", false, &[]),
    // Constraints: check, unique, exclusion; unique_together.
    ("check", "migrations.AddConstraint('order', models.CheckConstraint(condition=models.Q(total__gte=0), name='total_nonneg'))", true, &["constraint-without-not-valid"]),
    ("unique_constraint", "migrations.AddConstraint('order', models.UniqueConstraint(fields=['total', 'user'], name='u_total_user'))", true, &[UNIQUE]),
    ("exclusion", "migrations.AddConstraint('order', ExclusionConstraint(name='excl_total', expressions=[('total', '=')]))", true, &[UNIQUE]),
    ("unique_together", "migrations.AlterUniqueTogether('order', {('user', 'status')})", true, &[UNIQUE]),
    // Data and schema changes in one atomic migration, and the data step on its own.
    ("data_and_schema", "migrations.AddField('order', 'paid', models.BooleanField(null=True)), migrations.RunPython(lambda apps, schema_editor: None, migrations.RunPython.noop)", true, &["data-and-schema-in-one-migration"]),
    ("data_only", "migrations.RunPython(lambda apps, schema_editor: None, migrations.RunPython.noop)", true, &[]),
    // RunSQL as written.
    ("run_sql", "migrations.RunSQL('CREATE INDEX order_status_idx ON orders_order (status)', reverse_sql='DROP INDEX order_status_idx')", true, &[IDX]),
    ("run_sql_reindex", "migrations.RunSQL('REINDEX TABLE orders_order', reverse_sql=migrations.RunSQL.noop)", true, &["reindex-without-concurrently"]),
    ("run_sql_identity", "migrations.RunSQL('ALTER TABLE orders_order ADD COLUMN seq integer GENERATED BY DEFAULT AS IDENTITY', reverse_sql=migrations.RunSQL.noop)", true, &["add-primary-key-or-identity"]),
    ("run_sql_cluster", "migrations.RunSQL('CLUSTER orders_order USING orders_order_pkey', reverse_sql=migrations.RunSQL.noop)", true, &["vacuum-full-or-cluster"]),
    ("run_sql_vacuum_full", "migrations.RunSQL('VACUUM FULL orders_order', reverse_sql=migrations.RunSQL.noop)", false, &["vacuum-full-or-cluster"]),
    ("run_sql_twin", "migrations.RunSQL('REINDEX TABLE CONCURRENTLY orders_order', reverse_sql=migrations.RunSQL.noop)", false, &[]),
    // A table the plan creates: what follows on it is exempt.
    ("create", "migrations.CreateModel('Shipment', [('id', models.BigAutoField(primary_key=True)), ('order', models.ForeignKey('orders.Order', models.CASCADE)), ('ref', models.CharField(max_length=20, unique=True))])", true, &[]),
    ("on_created", "migrations.AddField('shipment', 'carrier', models.ForeignKey('users.User', models.SET_NULL, null=True))", true, &[]),
    ("rename_created", "migrations.AlterModelTable('shipment', 'orders_parcel')", true, &[]),
    ("on_renamed", "migrations.AddField('shipment', 'weight', models.IntegerField())", true, &[]),
    ("index_created", "migrations.AddIndex('shipment', models.Index(fields=['ref'], name='ship_ref_idx'))", true, &[]),
    ("drop_created_index", "migrations.RemoveIndex('shipment', 'ship_ref_idx')", true, &[]),
    ("drop_created", "migrations.DeleteModel('Shipment')", true, &[]),
    // Tables that existed before the plan.
    ("rename_table", "migrations.AlterModelTable('order', 'orders_purchase')", true, &["rename-table"]),
    ("delete", "migrations.DeleteModel('order')", true, &["drop-table"]),
];

fn write_corpus(p: &Project) -> Vec<String> {
    let mut prev = "0003_order_note".to_string();
    let mut names = Vec::new();
    for (i, (label, op, atomic, _)) in CORPUS.iter().enumerate() {
        let name = format!("{:04}_{label}", i + 4);
        let atomic = if *atomic { "" } else { "    atomic = False\n" };
        add_migration(
            p,
            "orders",
            &name,
            &format!(
                "from django.db import migrations, models\n\
                 from django.contrib.postgres.constraints import ExclusionConstraint\n\
                 from django.contrib.postgres.functions import RandomUUID\n\
                 from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently\n\n\
                 class Migration(migrations.Migration):\n{atomic}    dependencies = [(\"orders\", \"{prev}\")]\n    \
                 operations = [{op}]\n"
            ),
        );
        names.push(name.clone());
        prev = name;
    }
    names
}

/// The rules each migration fires in the plan of `--show` (plus `extra` flags).
fn findings_by_migration(
    p: &Project,
    url: &str,
    extra: &[&str],
) -> (BTreeMap<String, BTreeSet<String>>, serde_json::Value) {
    let mut args = vec!["--env", "test", "--show", "--output", "json"];
    args.extend(extra);
    let r = p.run_with(&args, &[(URL_VAR, url)]);
    r.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", r.all()));
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in doc["findings"].as_array().unwrap() {
        got.entry(f["name"].as_str().unwrap().to_string())
            .or_default()
            .insert(f["rule"].as_str().unwrap().to_string());
    }
    (got, doc)
}

/// The demo on a fresh PostgreSQL database `name`, its migrations applied (env `test`).
fn demo_on_postgres(name: &str) -> (Pg, String, String, Project) {
    let pg = Pg::start();
    let db = pg.create_db(name);
    let url = pg.url(&db);
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.test]\nrunner = \"django-pg\"\n",
        common::pg::django_pg_plugin(URL_VAR)
    ));
    p.run_with(&["--env", "test"], &[(URL_VAR, url.as_str())])
        .expect(0);
    (pg, db, url, p)
}

#[test]
fn every_operation_kind_django_renders_gets_the_verdict_in_the_table() {
    let (pg, db, url, p) = demo_on_postgres("corpus");
    pg.psql(&db, common::pg::DEMO_ROWS);
    // The index `drop_index` drops exists before the plan (one the database lacks is the plan's).
    pg.psql(
        &db,
        "CREATE INDEX orders_order_old_idx ON orders_order (note)",
    );
    let names = write_corpus(&p);
    // The linter reads the runner's `lint-sql` (steps on tables the plan creates left out);
    // with --sql it reads the full SQL of every step. Both must give the same verdicts.
    let (mut got, _) = findings_by_migration(&p, &url, &[]);
    let (full, doc) = findings_by_migration(&p, &url, &["--sql"]);
    assert_eq!(got, full, "lint-sql and the full SQL disagree");
    let mut wrong = Vec::new();
    for ((label, _, _, want), name) in CORPUS.iter().zip(&names) {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        let have = got.remove(name).unwrap_or_default();
        if have != want {
            wrong.push(format!("{label}: want {want:?}, got {have:?}"));
        }
    }
    assert!(
        got.is_empty(),
        "findings on migrations outside the corpus: {got:?}"
    );
    // The SQL itself, for reading a failure.
    let sql: Vec<String> = doc["plan_sql"]
        .as_array()
        .map(|a| a.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert!(wrong.is_empty(), "{}\n\nSQL: {sql:#?}", wrong.join("\n"));
    // Every rule of the linter's table has a firing case from Django here or in RunSQL.
    let fired: BTreeSet<&str> = CORPUS.iter().flat_map(|c| c.3.iter().copied()).collect();
    for rule in platform_migrate_lint::lint::Rule::ALL
        .iter()
        .map(|r| r.id())
    {
        assert!(fired.contains(rule), "{rule} has no case in the corpus");
    }
}

/// Settings that add a large third-party app set (wagtail: 185 migrations from PyPI) to the
/// demo project; appended to its settings module.
const WAGTAIL_SETTINGS: &str = r#"
INSTALLED_APPS = [
    "wagtail.contrib.forms", "wagtail.contrib.redirects", "wagtail.embeds", "wagtail.sites",
    "wagtail.users", "wagtail.snippets", "wagtail.documents", "wagtail.images",
    "wagtail.search", "wagtail.admin", "wagtail", "modelcluster", "taggit",
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "users", "orders",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WAGTAIL_SITE_NAME = "corpus"
WAGTAILADMIN_BASE_URL = "http://example.com"
"#;

/// The demo project with wagtail's app set added to its settings.
pub(crate) fn wagtail_project() -> Project {
    let p = Project::new();
    let settings = p.path().join("demo/settings.py");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str(WAGTAIL_SETTINGS);
    std::fs::write(&settings, text).unwrap();
    p
}

#[test]
fn a_fresh_install_of_a_large_real_app_set_passes_the_prod_gate() {
    let pg = Pg::start();
    let db = pg.create_db("wagtail");
    let url = pg.url(&db);
    let p = wagtail_project();
    p.write_config(&format!(
        "{}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n",
        common::pg::django_pg_plugin(URL_VAR),
        common::pg::pg_backup_plugin("PM_TEST_BACKUP_URL"),
    ));
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    let shown = p.run_with(&["--env", "prod", "--show", "--output", "json"], &env);
    shown.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", shown.all()));
    let steps = doc["plan"].as_array().unwrap().len();
    assert!(
        steps >= 150,
        "only {steps} pending migrations:\n{}",
        shown.all()
    );
    assert_eq!(
        doc["findings"],
        serde_json::json!([]),
        "wolf on a fresh install"
    );
    // The runner rendered only what touches tables that existed before; the full SQL of every
    // step gives the same verdict.
    let full = p.run_with(
        &["--env", "prod", "--show", "--sql", "--output", "json"],
        &env,
    );
    full.expect(0);
    let full: serde_json::Value = serde_json::from_str(&full.stdout).unwrap();
    assert_eq!(
        full["findings"],
        serde_json::json!([]),
        "wolf in the full SQL"
    );
    assert_eq!(full["plan_sql"].as_array().map(Vec::len), Some(steps));
    // The prod gate lets it through without any --allow-*, and it all applies.
    let run = p.run_with(&["--env", "prod", "--confirm"], &env);
    run.expect(0);
    // Nothing is left pending (django_migrations also records what squashed migrations replace).
    let after = p.run_with(&["--env", "prod", "--show", "--output", "json"], &env);
    after.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(doc["plan"], serde_json::json!([]), "{}", after.all());
    assert!(pg.applied(&db).len() >= steps);
}

/// A locking change on a table the database reports empty costs nothing and is not counted;
/// once the table has a row it is. Drops are counted either way.
#[test]
fn locking_changes_on_an_empty_table_are_exempt_and_drops_are_not() {
    let (pg, db, url, p) = demo_on_postgres("empty");
    add_migration(
        &p,
        "orders",
        "0004_buyer",
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [\n        migrations.AddField('order', 'buyer', models.ForeignKey('users.User', models.SET_NULL, null=True, related_name='+')),\n        \
         migrations.RemoveField('order', 'note'),\n    ]\n",
    );
    let rules = |doc: &serde_json::Value| -> BTreeSet<String> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, empty) = findings_by_migration(&p, &url, &[]);
    assert_eq!(
        rules(&empty),
        BTreeSet::from(["drop-column".to_string()]),
        "{empty:#}"
    );
    pg.psql(&db, common::pg::DEMO_ROWS);
    let (_, full) = findings_by_migration(&p, &url, &[]);
    assert_eq!(
        rules(&full),
        BTreeSet::from([FK.to_string(), IDX.to_string(), "drop-column".to_string()]),
        "{full:#}"
    );
    let fk = full["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == FK)
        .unwrap();
    assert_eq!(fk["table"], "orders_order");
}

/// Migrations after the demo's that rework what they built (issue 38): an index added to a
/// table of the same plan, dropped again by a custom operation (rendered in full, as
/// django_celery_results' `TryRemoveIndex` is), the table's sequence renamed by RunSQL, and a
/// data step without reverse code.
fn write_rework(p: &Project) {
    let steps = [
        ("0004_total_idx", "", "migrations.AddIndex('order', models.Index(fields=['total'], name='order_total_idx'))"),
        ("0005_try_remove", "class TryRemoveIndex(migrations.RemoveIndex):\n    pass\n\n", "TryRemoveIndex('order', 'order_total_idx')"),
        ("0006_rename_seq", "", "migrations.RunSQL('ALTER TABLE orders_order_id_seq RENAME TO orders_order_seq', 'ALTER TABLE orders_order_seq RENAME TO orders_order_id_seq')"),
        ("0007_backfill", "", "migrations.RunPython(lambda apps, schema_editor: None)"),
    ];
    let mut prev = "0003_order_note";
    for (name, prelude, op) in steps {
        add_migration(
            p,
            "orders",
            name,
            &format!(
                "from django.db import migrations, models\n\n{prelude}\
                 class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"{prev}\")]\n    \
                 operations = [{op}]\n"
            ),
        );
        prev = name;
    }
}

/// A finding is judged against what exists before the plan: on a fresh database, what the plan
/// renames, drops or rebuilds of its own making is set aside (and `--show` says so), and an
/// irreversible step is no reason to refuse, so the prod gate passes with `--confirm` alone.
/// On a database that had the index and the sequence before, the same migrations keep their
/// full force.
#[test]
fn what_a_plan_does_to_what_it_created_is_judged_against_the_database_before_it() {
    let pg = Pg::start();
    let config = format!(
        "{}{}\n[env.prod]\nrunner = \"django-pg\"\nbackup = \"pg-backup\"\n",
        common::pg::django_pg_plugin(URL_VAR),
        common::pg::pg_backup_plugin("PM_TEST_BACKUP_URL"),
    );
    let p = Project::new();
    p.write_config(&config);
    write_rework(&p);

    let fresh = pg.create_db("fresh");
    let url = pg.url(&fresh);
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    let shown = p.run_with(&["--env", "prod", "--show", "--output", "json"], &env);
    shown.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]), "{}", shown.all());
    // The full SQL gives the same verdict.
    let full = p.run_with(
        &["--env", "prod", "--show", "--sql", "--output", "json"],
        &env,
    );
    full.expect(0);
    let full: serde_json::Value = serde_json::from_str(&full.stdout).unwrap();
    assert_eq!(full["findings"], serde_json::json!([]), "{}", full);
    let human = p.run_with(&["--env", "prod", "--show"], &env);
    human.expect(0);
    assert!(
        human
            .stdout
            .contains("2 finding(s) set aside: they touch only what this plan creates"),
        "{}",
        human.all()
    );
    assert!(
        human.stdout.contains(
            "1 irreversible step(s) not refused: no migration is applied before this plan"
        ),
        "{}",
        human.all()
    );
    p.run_with(&["--env", "prod", "--confirm"], &env).expect(0);
    assert!(pg
        .applied(&fresh)
        .contains(&"orders.0007_backfill".to_string()));

    // An upgrade: the index and the sequence exist before the plan.
    let upgrade = pg.create_db("upgrade");
    let url = pg.url(&upgrade);
    let env = [
        (URL_VAR, url.as_str()),
        ("PM_TEST_BACKUP_URL", url.as_str()),
    ];
    p.run_with(
        &[
            "--env",
            "prod",
            "--confirm",
            "--app",
            "orders",
            "--migration",
            "0004_total_idx",
        ],
        &env,
    )
    .expect(0);
    let shown = p.run_with(&["--env", "prod", "--show", "--output", "json"], &env);
    shown.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let found: BTreeSet<(String, String)> = common::findings(&doc).into_iter().collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (
                "0005_try_remove".to_string(),
                "drop-index-without-concurrently".to_string()
            ),
            ("0006_rename_seq".to_string(), "rename-table".to_string()),
        ]),
        "{}",
        shown.all()
    );
    let refused = p.run_with(&["--env", "prod", "--confirm"], &env);
    refused.expect(3);
    assert!(
        refused
            .stderr
            .contains("--confirm --allow-destructive --allow-irreversible"),
        "{}",
        refused.all()
    );
}
