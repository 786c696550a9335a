//! `lint --since` on a real git repository (issue 22): a base branch with the demo's
//! migrations, a feature branch that adds an unsafe foreign key, an index built without
//! CONCURRENTLY and a safe nullable column, linted against a real PostgreSQL with the base
//! applied; SARIF validated against the OASIS schema, Markdown parsed as CommonMark with
//! tables, and the pull-request workflow's own commands run as written.

use crate::common;

use common::pg::{django_pg_plugin, Pg};
use common::{add_migration, root, Project, Run};
use std::path::Path;
use std::process::Command;

const URL_VAR: &str = "PM_CI_DATABASE_URL";

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const FK: &str = "from django.db import migrations, models\n\n\
class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n\n    \
operations = [\n        migrations.AddField(\n            \"order\",\n            \"buyer\",\n            \
models.ForeignKey(\"users.User\", models.SET_NULL, null=True, related_name=\"+\"),\n        ),\n    ]\n";
const INDEX: &str = "from django.db import migrations, models\n\n\
class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0004_order_buyer\")]\n\n    \
operations = [\n        migrations.AddField(\"order\", \"memo\", models.TextField(null=True)),\n        \
migrations.AddIndex(\"order\", models.Index(fields=[\"total\"], name=\"order_total_idx\")),\n    ]\n";
const SAFE: &str = "from django.db import migrations, models\n\n\
class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0005_order_total_idx\")]\n\n    \
operations = [\n        migrations.AddField(\"order\", \"gift\", models.BooleanField(null=True)),\n    ]\n";

/// The demo in a git repository: `main` with its migrations (applied to `db`), then branch
/// `feature` with three new ones, committed.
pub(crate) struct Repo {
    pub(crate) p: Project,
    pg: Pg,
    db: String,
    url: String,
}

pub(crate) fn repo() -> Repo {
    let pg = Pg::start();
    let db = pg.create_db("pr");
    let url = pg.url(&db);
    let p = Project::new();
    p.write_config(&format!(
        "{}\n[env.ci]\nrunner = \"django-pg\"\n",
        django_pg_plugin(URL_VAR)
    ));
    std::fs::write(
        p.path().join(".gitignore"),
        "__pycache__/\n*.pyc\ndb.sqlite3\n.platform-migrate/\n.venv\n*.sarif\n",
    )
    .unwrap();
    git(p.path(), &["init", "-q"]);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-qm", "base"]);
    git(p.path(), &["checkout", "-qb", "feature"]);
    add_migration(&p, "orders", "0004_order_buyer", FK);
    add_migration(&p, "orders", "0005_order_total_idx", INDEX);
    add_migration(&p, "orders", "0006_order_gift", SAFE);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-qm", "feature"]);
    Repo { p, pg, db, url }
}

impl Repo {
    pub(crate) fn lint(&self, extra: &[&str]) -> Run {
        let mut args = vec!["lint", "--env", "ci", "--since", "main"];
        args.extend_from_slice(extra);
        self.p.run_with(&args, &[(URL_VAR, self.url.as_str())])
    }
    /// Apply what `main` has (the base), as the workflow does before linting.
    fn apply_base(&self) {
        let base = tempfile::tempdir().unwrap();
        let wt = base.path().join("base");
        git(
            self.p.path(),
            &[
                "worktree",
                "add",
                "-q",
                "--detach",
                wt.to_str().unwrap(),
                "main",
            ],
        );
        let r = Run::from(
            Command::new(env!("CARGO_BIN_EXE_platform-migrate"))
                .args(["--env", "ci"])
                .current_dir(&wt)
                .env("XDG_STATE_HOME", self.p.state_home.path())
                .env(URL_VAR, &self.url)
                .output()
                .unwrap(),
        );
        r.expect(0);
        git(
            self.p.path(),
            &["worktree", "remove", "--force", wt.to_str().unwrap()],
        );
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.all()))
}

/// The line of `needle` in the migration file (1-based).
fn line_of(p: &Project, file: &str, needle: &str) -> u64 {
    let text = std::fs::read_to_string(p.path().join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

/// The text of every table cell in a CommonMark (+ GFM tables) document, row by row.
fn table_rows(md: &str) -> Vec<Vec<String>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::TableRow) | Event::Start(Tag::TableHead) => row.clear(),
            Event::End(TagEnd::TableRow) | Event::End(TagEnd::TableHead) => {
                rows.push(std::mem::take(&mut row))
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.push(cell.take().unwrap_or_default()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    rows
}

const COUPON: &str = "from django.db import migrations, models\n\n\
class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0006_order_gift\")]\n\n    \
operations = [\n        migrations.CreateModel(\"Coupon\", [(\"id\", models.AutoField(primary_key=True)), \
(\"code\", models.CharField(max_length=20))]),\n    ]\n";
const COUPON_INDEX: &str = "from django.db import migrations, models\n\n\
class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0007_coupon\")]\n\n    \
operations = [\n        migrations.AddField(\"coupon\", \"order\", models.ForeignKey(\"orders.Order\", models.CASCADE, null=True)),\n        \
migrations.AddIndex(\"coupon\", models.Index(fields=[\"code\"], name=\"coupon_code_idx\")),\n    ]\n";

/// A database where the branch starts lets the runner leave out what only builds the branch's
/// own tables (as `--show` does); an empty one has every step rendered. Both give one verdict,
/// and what the branch does to a table it creates is no finding in either.
#[test]
fn a_branch_gets_one_verdict_from_a_database_at_its_base_and_from_an_empty_one() {
    let r = repo();
    add_migration(&r.p, "orders", "0007_coupon", COUPON);
    add_migration(&r.p, "orders", "0008_coupon_order", COUPON_INDEX);
    git(r.p.path(), &["add", "-A"]);
    git(r.p.path(), &["commit", "-qm", "coupons"]);
    let findings = |url: &str| -> Vec<(String, String)> {
        let out = r.p.run_with(
            &["lint", "--env", "ci", "--since", "main", "--output", "json"],
            &[(URL_VAR, url)],
        );
        out.expect(9);
        let mut got = common::findings(&json(&out));
        got.sort();
        got
    };
    let empty = r.pg.create_db("pr_empty");
    let from_empty = findings(&r.pg.url(&empty));
    r.apply_base();
    let from_base = findings(&r.url);
    let expected: Vec<(String, String)> = [
        ("0004_order_buyer", "foreign-key-inline"),
        ("0004_order_buyer", "index-without-concurrently"),
        ("0005_order_total_idx", "index-without-concurrently"),
    ]
    .iter()
    .map(|(n, r)| (n.to_string(), r.to_string()))
    .collect();
    assert_eq!(from_base, expected);
    assert_eq!(from_empty, expected);
}

#[test]
fn a_branch_gets_exactly_its_unsafe_migrations_with_file_and_line() {
    let r = repo();
    r.apply_base();
    let out = r.lint(&["--output", "json"]);
    out.expect(9);
    let doc = json(&out);
    common::validate_schema(&doc, "schemas/lint-report.schema.json");
    let linted: Vec<&str> = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        linted,
        [
            "0004_order_buyer",
            "0005_order_total_idx",
            "0006_order_gift"
        ]
    );
    let mut got: Vec<(String, String, String, u64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let fk_file = "orders/migrations/0004_order_buyer.py";
    let idx_file = "orders/migrations/0005_order_total_idx.py";
    let fk_line = line_of(&r.p, fk_file, "migrations.AddField(");
    let idx_line = line_of(&r.p, idx_file, "migrations.AddIndex(");
    assert_eq!(
        got,
        vec![
            (
                "0004_order_buyer".into(),
                "foreign-key-inline".into(),
                fk_file.into(),
                fk_line
            ),
            (
                "0004_order_buyer".into(),
                "index-without-concurrently".into(),
                fk_file.into(),
                fk_line
            ),
            (
                "0005_order_total_idx".into(),
                "index-without-concurrently".into(),
                idx_file.into(),
                idx_line
            ),
        ],
        "{doc:#}"
    );
    // The tables are empty here, and that does not exempt anything: the branch is linted for
    // the databases it will reach.
    assert_eq!(doc["drift"], serde_json::json!([]));

    // SARIF 2.1.0, valid against the OASIS schema, each result at its file and line.
    let sarif = r.lint(&["--output", "sarif"]);
    sarif.expect(9);
    let s = json(&sarif);
    common::validate_schema(&s, "schemas/sarif-schema-2.1.0.json");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for res in results {
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        let line = loc["region"]["startLine"].as_u64().unwrap();
        assert!(
            (uri == fk_file && line == fk_line) || (uri == idx_file && line == idx_line),
            "{res:#}"
        );
        let rule = res["ruleId"].as_str().unwrap();
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(s["runs"][0]["tool"]["driver"]["rules"][index]["id"], rule);
    }

    // Markdown: a table GitHub renders, with each finding and its safer pattern.
    let md = r.lint(&["--output", "markdown"]);
    md.expect(9);
    let rows = table_rows(&md.stdout);
    assert_eq!(rows[0][2], "rule", "{}", md.stdout);
    for (name, rule, file, line) in &got {
        assert!(
            rows.iter().any(|row| row[0] == format!("{file}:{line}")
                && row[1] == format!("orders.{name}")
                && &row[2] == rule
                && row[4].starts_with(&rule_advice_start(rule))),
            "{name} {rule} not in the table: {rows:#?}"
        );
    }

    // Human output names file:line and the safer pattern; exit 9 is documented.
    let human = r.lint(&[]);
    human.expect(9);
    assert!(
        human.stdout.contains(&format!(
            "{fk_file}:{fk_line}: orders.0004_order_buyer: FOREIGN-KEY-INLINE"
        )),
        "{}",
        human.all()
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("| 9 |"), "exit code 9 is documented");
}

/// The first words of a rule's advice, as the Markdown cell shows them.
fn rule_advice_start(rule: &str) -> String {
    match rule {
        "foreign-key-inline" => "a column added with REFERENCES".into(),
        "index-without-concurrently" => "CREATE INDEX blocks writes".into(),
        other => panic!("no advice known for {other}"),
    }
}

#[test]
fn a_branch_without_migrations_is_clean_and_an_edited_applied_one_is_drift() {
    let r = repo();
    r.apply_base();
    // A branch off main that changes no migration.
    git(r.p.path(), &["checkout", "-q", "-b", "docs", "main"]);
    std::fs::write(r.p.path().join("NOTES.md"), "notes\n").unwrap();
    git(r.p.path(), &["add", "-A"]);
    git(r.p.path(), &["commit", "-qm", "docs"]);
    let clean = r.lint(&["--output", "json"]);
    clean.expect(0);
    let doc = json(&clean);
    assert_eq!(doc["outcome"], "clean");
    assert_eq!(doc["migrations"], serde_json::json!([]));
    // Editing a migration the database has applied: drift, at the file.
    let file = "orders/migrations/0003_order_note.py";
    let path = r.p.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("default=\"\"", "default=\"-\"")).unwrap();
    git(r.p.path(), &["commit", "-qam", "edit an applied migration"]);
    let drift = r.lint(&["--output", "json"]);
    drift.expect(9);
    let doc = json(&drift);
    assert_eq!(doc["drift"][0]["name"], "0003_order_note", "{doc:#}");
    assert_eq!(doc["drift"][0]["file"], file);
}

#[test]
fn bad_git_input_is_named_and_an_uncommitted_migration_is_linted_as_on_disk() {
    let r = repo();
    let bad = r.p.run_with(
        &["lint", "--env", "ci", "--since", "no-such-branch"],
        &[(URL_VAR, r.url.as_str())],
    );
    bad.expect(2);
    assert!(
        bad.error_line()
            .contains("unknown git ref 'no-such-branch'")
            && bad.error_line().contains("git fetch"),
        "{}",
        bad.all()
    );
    // Not a git repository.
    let plain = Project::new();
    plain.write_config(&format!(
        "{}\n[env.ci]\nrunner = \"django-pg\"\n",
        django_pg_plugin(URL_VAR)
    ));
    let norepo = plain.run_with(
        &["lint", "--env", "ci", "--since", "main"],
        &[(URL_VAR, r.url.as_str())],
    );
    norepo.expect(2);
    assert!(
        norepo
            .error_line()
            .contains("is not inside a git work tree"),
        "{}",
        norepo.all()
    );
    // An unknown env is a usage error too.
    r.p.run_with(&["lint", "--env", "nope", "--since", "main"], &[])
        .expect(2);
    // A migration not committed yet: linted as it is on disk, and said so.
    add_migration(
        &r.p,
        "orders",
        "0007_order_note_idx",
        "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n    \
         dependencies = [(\"orders\", \"0006_order_gift\")]\n    \
         operations = [migrations.AddIndex(\"order\", models.Index(fields=[\"note\"], name=\"order_note_idx\"))]\n",
    );
    let dirty = r.lint(&["--output", "json"]);
    dirty.expect(9);
    assert!(
        dirty
            .stderr
            .contains("uncommitted changes: linting these files as they are on disk"),
        "{}",
        dirty.all()
    );
    let doc = json(&dirty);
    assert_eq!(
        doc["uncommitted"],
        serde_json::json!(["orders/migrations/0007_order_note_idx.py"])
    );
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "0007_order_note_idx"));
}

/// The workflow README shows, run step by step as GitHub would (bash -eo pipefail), with the
/// built binary on PATH and the PostgreSQL service replaced by a local server.
#[test]
fn the_pull_request_workflow_runs_as_written() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(root().join("examples/ci/pull-request-lint.yml")).unwrap();
    let readme = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    assert!(
        readme.contains(text.trim()),
        "docs/ci.md shows examples/ci/pull-request-lint.yml as it is"
    );
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    let job = &doc["jobs"]["lint-migrations"];
    assert!(job["services"]["postgres"]["image"]
        .as_str()
        .unwrap()
        .starts_with("postgres:"));
    let steps = job["steps"].as_vec().unwrap();
    let r = repo();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_platform-migrate"),
        bin.path().join("platform-migrate"),
    )
    .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let summary = temp.path().join("summary.md");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    let mut last = None;
    for step in steps {
        let (Some(script), name) = (step["run"].as_str(), step["name"].as_str().unwrap_or(""))
        else {
            continue;
        };
        // Installing is the one step done differently here: the venv and the binary exist.
        if name.starts_with("Install") {
            continue;
        }
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(r.p.path())
            .env("XDG_STATE_HOME", r.p.state_home.path())
            .env("PATH", &path)
            .env(URL_VAR, &r.url)
            .env("BASE_REF", "main")
            .env("RUNNER_TEMP", temp.path())
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        ran.push(name.to_string());
        last = Some(Run::from(out));
        if name.starts_with("Apply") {
            last.as_ref().unwrap().expect(0);
        }
    }
    assert_eq!(
        ran,
        [
            "Apply the base branch's migrations",
            "Lint what this branch adds"
        ]
    );
    // The lint step fails the job (exit 9), after writing both reports.
    last.unwrap().expect(9);
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(r.p.path().join("migrations.sarif")).unwrap(),
    )
    .unwrap();
    common::validate_schema(&sarif, "schemas/sarif-schema-2.1.0.json");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 3);
    let md = std::fs::read_to_string(&summary).unwrap();
    let rows = table_rows(&md);
    assert_eq!(rows.len(), 4, "a header and three findings: {md}");
}

/// `--output markdown` on a run: the plan, each finding with its safer pattern, the outcome and
/// the step durations, as tables GitHub renders; `--output sarif` is for `lint` only.
#[test]
fn a_run_prints_a_markdown_summary_and_sarif_is_refused_outside_lint() {
    let r = repo();
    r.apply_base();
    // Rows, so that locking changes count (the gate exempts empty tables).
    r.pg.psql(&r.db, common::pg::DEMO_ROWS);
    let env = [(URL_VAR, r.url.as_str())];
    let shown =
        r.p.run_with(&["--env", "ci", "--show", "--output", "markdown"], &env);
    shown.expect(0);
    let rows = table_rows(&shown.stdout);
    for name in [
        "0004_order_buyer",
        "0005_order_total_idx",
        "0006_order_gift",
    ] {
        assert!(
            rows.iter().any(|row| row.len() == 4
                && row[1] == format!("orders.{name}")
                && row[2] == "forwards"),
            "{name} is not in the plan table: {rows:#?}"
        );
    }
    assert!(
        rows.iter().any(|row| row[0] == "orders.0004_order_buyer"
            && row[1] == "foreign-key-inline"
            && row[3].starts_with("a column added with REFERENCES")),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .any(|row| row[0].starts_with("2/6") && row[1] == "ok"),
        "{rows:#?}"
    );
    assert!(
        shown
            .stdout
            .starts_with("### platform-migrate: show in env ci — shown"),
        "{}",
        shown.stdout
    );
    let sarif =
        r.p.run_with(&["--env", "ci", "--show", "--output", "sarif"], &env);
    sarif.expect(2);
    assert!(
        sarif.error_line().contains("--output sarif is for `lint`"),
        "{}",
        sarif.all()
    );
}
