//! Deploy phases on a real PostgreSQL (issue 19): `--phase pre` before the new code goes live,
//! `--phase post` after; phases declared on the migration (`deploy_phase`, or the real
//! django-safemigrate's markers from PyPI) or taken from the plan lint.

use crate::common;

use common::pg::{django_pg_plugin, Pg};
use common::{add_migration, Project, Run};

const URL_VAR: &str = "PM_TEST_DATABASE_URL";

fn demo(pg: &Pg, db: &str) -> (Project, String) {
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.test]\nrunner = \"django-pg\"\n",
        django_pg_plugin(URL_VAR)
    ));
    let url = pg.url(db);
    p.run_with(&["--env", "test"], &[(URL_VAR, url.as_str())])
        .expect(0);
    (p, url)
}

fn migration(deps: &str, body: &str, extra: &str) -> String {
    format!(
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n{extra}    dependencies = [{deps}]\n    operations = [{body}]\n"
    )
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.all()))
}

#[test]
fn a_release_runs_its_pre_steps_before_the_deploy_and_the_rest_after() {
    let pg = Pg::start();
    let db = pg.create_db("phases");
    let (p, url) = demo(&pg, &db);
    let env = [(URL_VAR, url.as_str())];
    // The worked example of docs/production.md: add a column, backfill it, drop the old one.
    add_migration(
        &p,
        "orders",
        "0004_order_memo",
        &migration(
            "(\"orders\", \"0003_order_note\")",
            "migrations.AddField(\"order\", \"memo\", models.TextField(null=True))",
            "",
        ),
    );
    add_migration(
        &p,
        "orders",
        "0005_fill_memo",
        &migration(
            "(\"orders\", \"0004_order_memo\")",
            "migrations.RunSQL(\"UPDATE orders_order SET memo = note\", migrations.RunSQL.noop)",
            "",
        ),
    );
    add_migration(
        &p,
        "orders",
        "0006_remove_order_note",
        &migration(
            "(\"orders\", \"0005_fill_memo\")",
            "migrations.RemoveField(\"order\", \"note\")",
            "",
        ),
    );
    // Declared after-deploy with the real django-safemigrate marker, though nothing in it breaks.
    add_migration(
        &p,
        "users",
        "0004_user_nickname",
        &format!(
            "from django_safemigrate import Safe\n{}",
            migration(
                "(\"users\", \"0003_fill_emails\")",
                "migrations.AddField(\"user\", \"nickname\", models.TextField(null=True))",
                "    safe = Safe.after_deploy()\n",
            )
        ),
    );

    // The models as the new code has them, so that only the phases decide the gate.
    let edit = |file: &str, from: &str, to: &str| {
        let path = p.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from));
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit(
        "orders/models.py",
        "note = models.TextField(blank=True, default=\"\")",
        "memo = models.TextField(null=True)",
    );
    edit(
        "users/models.py",
        "joined = models.DateTimeField(auto_now_add=True)",
        "joined = models.DateTimeField(auto_now_add=True)\n    nickname = models.TextField(null=True)",
    );
    // --show marks every step's phase, with the findings docs/production.md's worked example quotes
    // (on tables holding rows, so that nothing is exempt as empty).
    pg.psql(&db, common::pg::DEMO_ROWS);
    let shown = p.run_with(&["--env", "test", "--show", "--output", "json"], &env);
    shown.expect(0);
    let rules = common::findings(&json(&shown));
    assert_eq!(
        rules,
        [(
            "0006_remove_order_note".to_string(),
            "drop-column".to_string()
        )]
    );
    let shown = p.run_with(&["--env", "test", "--show"], &env);
    shown.expect(0);
    assert!(
        shown
            .stdout
            .contains("! DROP-COLUMN: ALTER TABLE \"orders_order\" DROP COLUMN \"note\" CASCADE"),
        "{}",
        shown.all()
    );
    for line in [
        "apply orders.0004_order_memo  [pre-deploy]",
        "apply orders.0005_fill_memo  [pre-deploy]",
        "apply orders.0006_remove_order_note  [post-deploy]",
        "apply users.0004_user_nickname  [post-deploy]",
    ] {
        assert!(shown.stdout.contains(line), "{line}\n{}", shown.all());
    }
    // The CI gate: this release needs a post-deploy step.
    let gate = p.run_with(
        &["--env", "test", "--show", "--check", "--phase", "pre"],
        &env,
    );
    gate.expect(6);
    let e = gate.error_line();
    assert!(
        e.contains("needs a post-deploy step")
            && e.contains("orders.0006_remove_order_note")
            && e.contains("users.0004_user_nickname"),
        "{}",
        gate.all()
    );

    // Before the deploy: the pre steps only.
    let pre = p.run_with(
        &["--env", "test", "--phase", "pre", "--output", "json"],
        &env,
    );
    pre.expect(0);
    let doc = json(&pre);
    let planned: Vec<(String, String)> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["phase"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            ("0004_order_memo".to_string(), "pre".to_string()),
            ("0005_fill_memo".to_string(), "pre".to_string())
        ]
    );
    assert_eq!(doc["phase"], "pre");
    assert_eq!(
        doc["post_deploy"],
        serde_json::json!(["orders.0006_remove_order_note", "users.0004_user_nickname"])
    );
    let applied = pg.applied(&db);
    assert!(applied.contains(&"orders.0005_fill_memo".to_string()));
    assert!(!applied.contains(&"orders.0006_remove_order_note".to_string()));
    assert!(!applied.contains(&"users.0004_user_nickname".to_string()));

    // After the deploy: the rest.
    let post = p.run_with(
        &["--env", "test", "--phase", "post", "--output", "json"],
        &env,
    );
    post.expect(0);
    let doc = json(&post);
    assert_eq!(doc["plan"].as_array().unwrap().len(), 2, "{doc:#}");
    assert!(doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["phase"] == "post"));
    let applied = pg.applied(&db);
    assert!(applied.contains(&"orders.0006_remove_order_note".to_string()));
    assert!(applied.contains(&"users.0004_user_nickname".to_string()));
    p.run_with(
        &["--env", "test", "--show", "--check", "--phase", "pre"],
        &env,
    )
    .expect(0);
}

#[test]
fn a_pre_step_that_depends_on_a_post_one_is_refused_naming_both() {
    let pg = Pg::start();
    let db = pg.create_db("phasedep");
    let (p, url) = demo(&pg, &db);
    let env = [(URL_VAR, url.as_str())];
    add_migration(
        &p,
        "orders",
        "0004_remove_order_note",
        &migration(
            "(\"orders\", \"0003_order_note\")",
            "migrations.RemoveField(\"order\", \"note\")",
            "",
        ),
    );
    add_migration(
        &p,
        "users",
        "0004_user_nickname",
        &migration(
            "(\"users\", \"0003_fill_emails\"), (\"orders\", \"0004_remove_order_note\")",
            "migrations.AddField(\"user\", \"nickname\", models.TextField(null=True))",
            "    deploy_phase = \"pre\"\n",
        ),
    );
    let r = p.run_with(&["--env", "test", "--phase", "pre"], &env);
    r.expect(3);
    let e = r.error_line();
    assert!(
        e.contains("users.0004_user_nickname may run before the deploy (pre), but it depends on orders.0004_remove_order_note, which runs after it (post)"),
        "{}",
        r.all()
    );
    assert!(!pg
        .applied(&db)
        .iter()
        .any(|m| m.ends_with("0004_user_nickname") || m.ends_with("0004_remove_order_note")));
}

#[test]
fn bad_phase_input_is_a_usage_error() {
    let p = Project::new();
    let bad = p.run(&["--env", "dev", "--phase", "during"]);
    bad.expect(2);
    assert!(
        bad.stderr
            .contains("invalid value 'during' for '--phase <PHASE>'"),
        "{}",
        bad.all()
    );
    let rollback = p.run(&[
        "--env",
        "dev",
        "--phase",
        "pre",
        "--rollback",
        "--app",
        "orders",
    ]);
    rollback.expect(2);
    assert!(
        rollback.stderr.contains("cannot be used with"),
        "{}",
        rollback.all()
    );
}
