//! The six steps with fake plugins: what each step asks of the plugins, what the run records
//! and which exit code it ends with, without components, Django or a database.

use super::fakes::{migration, FakeOpener, Script, Shared};
use super::request::Request;
use crate::config::Config;
use crate::exit::Code;
use crate::plugin_api::{BackupError, CommandFailure, RunnerError};
use crate::ui::{Ui, Verbosity};
use clap::Parser;
use std::cell::RefCell;
use std::rc::Rc;

struct Setup {
    /// Holds the project and state folders for the test's length.
    _dir: tempfile::TempDir,
    cfg: Config,
    script: Shared,
}

/// A config with env `dev` (runner, optional backup, a notifier) and the fakes' script.
fn setup(backup_required: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
state-dir = "{state}"
[plugins.runner]
path = "runner.wasm"
[plugins.backup]
path = "backup.wasm"
[plugins.notifier]
path = "notifier.wasm"

[env.dev]
runner = "runner"
backup = "backup"
backup-required = {backup_required}
notifiers = ["notifier"]
verbose = false
"#,
        state = dir.path().join("state").display()
    );
    let cfg = Config::parse(
        &text,
        "platform-migrate.toml",
        dir.path().join("project/platform-migrate.toml"),
        dir.path().join("project"),
    )
    .unwrap();
    let script = Rc::new(RefCell::new(Script {
        migrations: vec![
            migration("users", "0001_initial"),
            migration("orders", "0001_initial"),
        ],
        ..Script::default()
    }));
    Setup {
        _dir: dir,
        cfg,
        script,
    }
}

impl Setup {
    /// Run the CLI words `args` (after `platform-migrate`) with the fakes.
    fn run(&self, args: &[&str]) -> Result<Code, crate::exit::Exit> {
        let mut argv = vec!["platform-migrate"];
        argv.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(&argv).unwrap();
        let req = Request::from_args(&cli.run).unwrap();
        let opener = FakeOpener(self.script.clone());
        let ui = Ui::new(Verbosity::Quiet);
        super::run_with(
            &self.cfg,
            req,
            ui,
            crate::cli::RunOutput::Human,
            &opener,
            argv.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn history(&self) -> Vec<crate::history::Entry> {
        crate::history::read(&self.cfg.state_dir).unwrap()
    }

    fn calls(&self) -> Vec<String> {
        self.script.borrow().calls.clone()
    }
}

#[test]
fn a_run_plans_applies_and_records_six_steps() {
    let s = setup(false);
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    let calls = s.calls();
    assert!(
        calls.contains(&"apply All fake=false".to_string()),
        "{calls:?}"
    );
    assert_eq!(calls.last().unwrap(), "notify Succeeded 2", "{calls:?}");
    let h = s.history();
    assert_eq!(h.len(), 1);
    let e = &h[0];
    assert_eq!(e.outcome, crate::history::Outcome::Succeeded);
    assert_eq!(e.steps.len(), 6, "{:?}", e.steps);
    assert_eq!(e.applied.len(), 2, "{:?}", e.applied);
    assert!(s.script.borrow().migrations.iter().all(|m| m.applied));
    assert!(s.cfg.state_dir.join("history.jsonl").exists());
}

#[test]
fn show_changes_nothing_and_skips_the_backup() {
    let s = setup(true);
    assert_eq!(s.run(&["--env", "dev", "--show"]).unwrap(), Code::Success);
    let calls = s.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("apply") || c == "create"),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("notify")),
        "--show notifies nobody: {calls:?}"
    );
    assert_eq!(s.history()[0].outcome, crate::history::Outcome::Shown);
}

#[test]
fn a_runner_error_fails_the_run_and_is_recorded_with_the_command() {
    let s = setup(false);
    s.script.borrow_mut().apply_fails = Some(RunnerError::CommandFailed(CommandFailure {
        command: "manage.py migrate".into(),
        exit_code: Some(1),
        output_tail: "django.db.utils.OperationalError: boom".into(),
    }));
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Failed);
    assert!(e.message.contains("boom"), "{}", e.message);
    let h = s.history();
    assert_eq!(h[0].outcome, crate::history::Outcome::Failed);
    assert_eq!(h[0].exit_code, 1);
    assert!(
        s.calls().iter().any(|c| c == "notify Failed 0"),
        "{:?}",
        s.calls()
    );
}

#[test]
fn a_required_backup_that_fails_stops_before_anything_is_applied() {
    let s = setup(true);
    s.script.borrow_mut().backup_fails = Some(BackupError::CommandFailed(
        "pg_dump: connection refused".into(),
    ));
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Failed);
    assert!(e.message.contains("nothing was migrated"), "{}", e.message);
    let calls = s.calls();
    assert!(calls.contains(&"create".to_string()), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("apply")), "{calls:?}");
    assert!(s.script.borrow().migrations.iter().all(|m| !m.applied));
}

#[test]
fn an_empty_backup_file_is_not_taken_for_a_backup() {
    let s = setup(true);
    let env = s.cfg.env("dev").unwrap();
    std::fs::create_dir_all(&env.backup_dir).unwrap();
    std::fs::write(env.backup_dir.join("dev-empty.dump"), b"").unwrap();
    s.script.borrow_mut().backup_made = Some(crate::plugin_api::BackupInfo {
        id: "dev-20260101T000000Z-000000".into(),
        file: "dev-empty.dump".into(),
        size: 0,
        created: String::new(),
    });
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Failed);
    assert!(e.message.contains("is empty (0 bytes)"), "{}", e.message);
    assert!(!s.calls().iter().any(|c| c.starts_with("apply")));
}

#[test]
fn an_optional_backup_that_fails_is_a_warning() {
    let s = setup(false);
    s.script.borrow_mut().backup_fails = Some(BackupError::Other("disk full".into()));
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    assert!(s.calls().iter().any(|c| c.starts_with("apply")));
}

#[test]
fn a_plugin_whose_needs_are_not_granted_is_exit_4_and_recorded() {
    let s = setup(false);
    s.script.borrow_mut().deny_runner =
        Some("plugin 'runner' needs ...; add it to plugins.runner.grants.commands".into());
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Denied);
    assert!(e.message.contains("plugins.runner.grants"), "{}", e.message);
    let h = s.history();
    assert_eq!(h[0].exit_code, 4);
    assert_eq!(h[0].steps[0].status, crate::history::StepStatus::Failed);
}

/// The fake database reports PostgreSQL, so the env keeps its ledger there (`ledger = auto`).
fn on_postgres(s: &Setup) {
    s.script.borrow_mut().vendor = "postgresql".into();
}

fn ledger_runs(s: &Setup) -> Vec<crate::plugin_api::LedgerRun> {
    s.script
        .borrow()
        .ledger
        .as_ref()
        .map(|l| l.runs.clone())
        .unwrap_or_default()
}

#[test]
fn runs_that_change_the_database_are_chained_into_its_ledger() {
    let s = setup(false);
    on_postgres(&s);
    // --show reads but never writes, and does not create the ledger.
    assert_eq!(s.run(&["--env", "dev", "--show"]).unwrap(), Code::Success);
    assert!(s.script.borrow().ledger.is_none());
    // A run with nothing to do does not create it either.
    s.script
        .borrow_mut()
        .migrations
        .iter_mut()
        .for_each(|m| m.applied = true);
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    assert!(s.script.borrow().ledger.is_none());
    // The first run that changes the database creates it, with its checksums.
    s.script.borrow_mut().migrations[1].applied = false;
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    let runs = ledger_runs(&s);
    assert_eq!(runs.len(), 1);
    let sums = s.script.borrow().ledger.clone().unwrap().checksums;
    assert_eq!(sums.len(), 1, "{sums:?}");
    assert_eq!(sums[0].id.to_string(), "orders.0001_initial");
    // From then on every run that could change it is recorded, linked to the one before.
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    let runs = ledger_runs(&s);
    assert_eq!(runs.len(), 2);
    let mut v = crate::ledger::Verifier::default();
    for r in &runs {
        v.feed(r).unwrap();
    }
    // The local history says where each run is in the ledger.
    let h = s.history();
    let marks: Vec<u64> = h
        .iter()
        .filter_map(|e| e.ledger.as_ref().map(|m| m.seq))
        .collect();
    assert_eq!(marks, [1, 2]);
    assert_eq!(
        h.last().unwrap().ledger.as_ref().unwrap().sha256,
        runs[1].sha256
    );
}

#[test]
fn drift_is_found_from_the_ledger_on_a_machine_that_never_ran() {
    let s = setup(false);
    on_postgres(&s);
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    // Another machine: a fresh state directory, the same database.
    std::fs::remove_dir_all(&s.cfg.state_dir).unwrap();
    s.script.borrow_mut().migrations[0].checksum = Some("edited".into());
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    let h = s.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].drift.len(), 1, "{:?}", h[0]);
    assert_eq!(h[0].drift[0].dotted(), "users.0001_initial");
}

#[test]
fn a_ledger_that_cannot_be_written_fails_the_run_and_says_so() {
    let s = setup(false);
    on_postgres(&s);
    s.script.borrow_mut().ledger_fails = true;
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Failed);
    assert!(
        e.message.contains("this machine's history only") && e.message.contains("ledger"),
        "{}",
        e.message
    );
    // The database did change, and the local record says both.
    assert!(s.script.borrow().migrations.iter().all(|m| m.applied));
    let h = s.history();
    assert_eq!(h[0].applied.len(), 2);
    assert!(h[0].ledger.is_none());
    assert_eq!(h[0].exit_code, Code::Failed as i32);
    assert!(
        h[0].error.as_deref().unwrap().contains("ledger"),
        "{:?}",
        h[0].error
    );
}

#[test]
fn ledger_on_refuses_a_database_that_cannot_keep_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
state-dir = "{}"
[plugins.runner]
path = "runner.wasm"
[env.dev]
runner = "runner"
ledger = "on"
"#,
        dir.path().join("state").display()
    );
    let cfg = Config::parse(
        &text,
        "platform-migrate.toml",
        dir.path().join("project/platform-migrate.toml"),
        dir.path().join("project"),
    )
    .unwrap();
    let s = Setup {
        _dir: dir,
        cfg,
        script: Rc::new(RefCell::new(Script {
            migrations: vec![migration("users", "0001_initial")],
            ..Script::default()
        })),
    };
    let e = s.run(&["--env", "dev"]).unwrap_err();
    assert_eq!(e.code, Code::Usage);
    assert!(
        e.message.contains("ledger needs PostgreSQL"),
        "{}",
        e.message
    );
    assert!(!s.script.borrow().migrations[0].applied);
}

#[test]
fn a_user_who_may_not_create_the_ledger_is_told_before_anything_changes() {
    let s = setup(false);
    on_postgres(&s);
    s.script.borrow_mut().ledger_no_create = true;
    // auto: the run goes on with the history on this machine.
    assert_eq!(s.run(&["--env", "dev"]).unwrap(), Code::Success);
    assert!(s.script.borrow().ledger.is_none());
    assert!(s.history()[0].ledger.is_none());
}
