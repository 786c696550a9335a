//! One migration run: the six documented steps, in order, each in its own file:
//! `validate.rs` (1), `connect.rs` (2), `backup.rs` (3), `plan.rs` (4), `execute.rs` (5),
//! `verify.rs` (6). This file runs them, prints the outcome, notifies and writes history.
//! `rollback_plan.rs` computes how to undo a run before it executes.

mod backup;
mod check;
mod connect;
mod drift;
mod empty_db;
mod errors;
mod execute;
#[cfg(test)]
pub(crate) mod fakes;
mod fingerprint;
mod fixtures;
mod ledger;
mod lint;
mod notify;
mod phase;
mod plan;
mod refusal;
pub mod request;
mod retry;
mod rollback_plan;
mod state;
#[cfg(test)]
mod tests;
mod validate;
mod verify;

use crate::cli::RunOutput;
use crate::config::{Config, EnvConfig};
use crate::exit::{Code, Exit};
use crate::history::{self, Entry, Outcome, StepRecord, StepStatus};
use crate::plugin_api::{BackupPlugin, NotifierPlugin, Opener, RunnerPlugin};
use crate::plugin_api::{Migration, Plan, Vendor};
use crate::sandbox::Sandbox;
use crate::secrets::Redactor;
use crate::ui::{fmt_duration, Ui, Verbosity};
use request::{Action, Request};
use std::time::{Duration, Instant};

/// How a step ended when it did not fail.
pub(crate) enum Done {
    /// Ran; the text is the outcome word or phrase (e.g. `ok`, `5 pending`).
    Ok(String),
    /// Did not need to run; the text says why.
    Skipped(String),
}

/// How a step failed: the exit code and a one-line message (the same type `main` reports).
pub(crate) type Fail = Exit;

/// Everything a run carries from step to step.
pub(crate) struct Run<'a> {
    pub cfg: &'a Config,
    pub env: &'a EnvConfig,
    pub req: Request,
    pub ui: Ui,
    pub redactor: Redactor,
    /// Where the plugins come from (the sandbox; fakes in tests).
    pub opener: &'a dyn Opener,
    pub run_id: String,
    pub verbose: bool,
    pub runner: Option<Box<dyn RunnerPlugin>>,
    pub backup: Option<Box<dyn BackupPlugin>>,
    pub notifiers: Vec<Box<dyn NotifierPlugin>>,
    /// Migrations as they stood after connecting.
    pub before: Vec<Migration>,
    pub plan: Option<Plan>,
    pub entry: Entry,
    /// Database vendor as the runner reported it in step 2.
    pub vendor: Vendor,
    /// The database as the runner named it in step 2 (SQLite: its file).
    pub database: String,
    /// Each plan step's SQL, once rendered (for the linter and `--sql`).
    pub step_sql: Option<Vec<Vec<String>>>,
    /// `--phase pre`: where each app must stand (one apply per app).
    pub phase_targets: Option<Vec<crate::plugin_api::ResolvedTarget>>,
    /// The environment's run lock, held from step 1 to the end of the run.
    pub lock: Option<crate::lock::EnvLock>,
    /// The ledger in the database, as step 2 read it (`None`: history on this machine only).
    pub ledger: Option<ledger::LedgerState>,
    /// The checksum changes this run made (for the ledger).
    pub checksum_changes: ledger::ChecksumChanges,
}

impl Run<'_> {
    /// The message to end with when a plugin was denied something: the denial says the fix.
    fn denial(&self) -> Option<String> {
        let mut all = self
            .runner
            .iter()
            .flat_map(|r| r.denials())
            .chain(self.backup.iter().flat_map(|b| b.denials()));
        all.next()
    }

    fn record_step(&mut self, n: usize, name: &str, status: StepStatus, took: Duration) {
        self.entry.steps.push(StepRecord {
            step: n,
            name: name.to_string(),
            status,
            duration_ms: took.as_millis() as u64,
        });
    }

    /// Run one step: time it, print it, record it.
    fn step(
        &mut self,
        n: usize,
        name: &str,
        f: impl FnOnce(&mut Self) -> Result<Done, Fail>,
    ) -> Result<(), Fail> {
        self.ui.begin(n, name);
        let started = Instant::now();
        let result = if crate::interrupt::aborting() {
            Err(Fail::failed("not started: the run was interrupted"))
        } else {
            f(self)
        };
        let took = started.elapsed();
        match result {
            Ok(Done::Ok(word)) => {
                self.ui.step(n, name, &word, took);
                self.record_step(n, name, StepStatus::Ok, took);
                Ok(())
            }
            Ok(Done::Skipped(why)) => {
                self.ui.step(n, name, &format!("skipped, {why}"), took);
                self.record_step(n, name, StepStatus::Skipped, took);
                Ok(())
            }
            Err(mut fail) => {
                if let Some(sig) = crate::interrupt::signalled() {
                    fail = Fail::new(
                        if sig == libc::SIGTERM {
                            Code::Terminated
                        } else {
                            Code::Interrupted
                        },
                        format!(
                            "interrupted by {} during step {n} ({name}): {}",
                            crate::interrupt::name(sig),
                            fail.message
                        ),
                    );
                } else if let Some(d) = self.denial() {
                    fail = Fail::new(Code::Denied, d);
                }
                fail.message = self.redactor.redact(&fail.message);
                let status = StepStatus::of_failure(fail.code);
                self.ui.step(n, name, status.as_str(), took);
                self.record_step(n, name, status, took);
                Err(fail)
            }
        }
    }

    fn steps(&mut self) -> Result<(), Fail> {
        self.step(1, "validate environment", Self::validate)?;
        self.step(2, "connect to database", Self::connect)?;
        self.step(3, "backup", Self::backup)?;
        self.step(4, "show migration plan", Self::show_plan)?;
        self.step(5, "execute", Self::execute)?;
        self.step(6, "verify database state", Self::verify)?;
        Ok(())
    }
}

fn run_id(env: &str) -> String {
    let now = chrono::Utc::now();
    let seed = format!("{:?}{}{}", now, std::process::id(), env);
    let h = crate::digest::sha256_hex(seed.as_bytes());
    format!("{env}-{}-{}", now.format("%Y%m%dT%H%M%SZ"), &h[..6])
}

fn user() -> String {
    if let Ok(u) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return u;
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
        format!("uid-{}", libc::getuid())
    }
}

/// Carry out a migration run; returns the exit code. `verbosity` is what -v/-q asked for;
/// `None` means the environment's default.
pub fn run(
    cfg: &Config,
    args: &crate::cli::RunArgs,
    verbosity: Option<Verbosity>,
    argv: Vec<String>,
) -> Result<Code, Exit> {
    let req = Request::from_args(args)?;
    let output = args.output.for_run()?;
    let env = cfg.env(&req.env).map_err(Exit::usage)?;
    // A fleet: one target here, or all of them (or a shard) through child runs.
    let target_cfg;
    let cfg = match (&env.fleet, &args.target) {
        (_, Some(name)) => {
            target_cfg = crate::fleet::rollout::config_for_target(cfg, env, name)?;
            &target_cfg
        }
        (Some(_), None) => return crate::fleet::rollout::run(cfg, env, args, &argv),
        (None, None) if args.shard.is_some() || args.parallel.is_some() => {
            return Err(Exit::usage(format!(
                "--shard and --parallel are for fleets, and env {} is one database; add [env.{}.fleet] with its targets, or drop them",
                env.name, env.name
            )))
        }
        (None, None) => cfg,
    };
    let env = cfg.env(&req.env).map_err(Exit::usage)?;
    let level = verbosity.unwrap_or(if env.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    });
    let ui = if output != RunOutput::Human {
        Ui::new(level).on_stderr()
    } else {
        Ui::new(level)
    };
    let sandbox = Sandbox::new(Redactor::default(), ui.clone())
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    run_with(cfg, req, ui, output, &sandbox, argv)
}

/// A run of `req` with plugins from `opener` (the sandbox, or fakes in tests).
pub(crate) fn run_with(
    cfg: &Config,
    req: Request,
    ui: Ui,
    output: RunOutput,
    opener: &dyn Opener,
    argv: Vec<String>,
) -> Result<Code, Exit> {
    let env = cfg.env(&req.env).map_err(Exit::usage)?;
    let level = ui.level_of();
    // The record is opened before any plugin code runs: a plugin that uses up descriptors or
    // memory cannot keep the run from being recorded.
    let mut journal = history::Journal::open(&cfg.state_dir).map_err(|e| {
        Exit::failed(format!(
            "cannot open the history in {}: {e}; nothing was run. Fix the state directory's permissions or set state-dir in the config",
            cfg.state_dir.display()
        ))
    })?;
    let redactor = Redactor::default();
    let run_id = run_id(&env.name);
    let started = Instant::now();
    let entry = Entry {
        run_id: run_id.clone(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        user: user(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        env: env.name.clone(),
        target: env.target.clone(),
        action: req.action.as_str().into(),
        args: argv,
        app: req.app.clone(),
        migration: req.migration.clone(),
        fake: req.fake,
        reset: req.reset,
        accepted_drift: req.accept_drift,
        allowed_destructive: req.allow_destructive,
        ..Entry::default()
    };
    let mut run = Run {
        cfg,
        env,
        req,
        ui: ui.clone(),
        redactor: redactor.clone(),
        opener,
        run_id,
        verbose: level == Verbosity::Verbose,
        runner: None,
        backup: None,
        notifiers: Vec::new(),
        before: Vec::new(),
        plan: None,
        entry,
        lock: None,
        vendor: Vendor::Unknown,
        database: String::new(),
        step_sql: None,
        phase_targets: None,
        ledger: None,
        checksum_changes: Default::default(),
    };
    ui.heading(&format!(
        "platform-migrate: {} in env {} (run {})",
        run.req.describe(),
        env.name,
        run.run_id
    ));
    let result = run.steps();
    // After an interruption the host still reads the state, notifies and records the run.
    crate::interrupt::begin_cleanup();
    let took = started.elapsed();
    run.entry.duration_ms = took.as_millis() as u64;
    let outcome = match &result {
        Ok(()) if run.req.action == Action::Show => Outcome::Shown,
        Ok(()) => Outcome::Succeeded,
        Err(f) => Outcome::of_failure(f.code),
    };
    run.entry.outcome = outcome;
    run.entry.error = result.as_ref().err().map(|f| f.message.clone());
    let undelivered = run.notify_all(outcome, took);
    let mut verdict = match result {
        Ok(()) => {
            ui.outcome(&format!(
                "{}: {} ({})",
                outcome,
                state::summary(&run),
                fmt_duration(took)
            ));
            if let Some(pending) = run.check_verdict() {
                Err(pending)
            } else if !undelivered.is_empty() {
                Err(Exit::new(
                    Code::NotifyFailed,
                    format!("the run {outcome}, but {}", undelivered.join("; ")),
                ))
            } else {
                Ok(Code::Success)
            }
        }
        Err(f) => {
            if let (false, Some(rp)) = (run.entry.applied.is_empty(), &run.entry.rollback_plan) {
                for line in rollback_plan::lines(rp) {
                    ui.outcome(&line);
                }
            }
            let applied = state::changed_summary(&run.entry.applied);
            let extra = if applied.is_empty() {
                String::new()
            } else {
                format!(" (database changed before the failure: {applied})")
            };
            let prefix = if f.code == Code::Refused {
                "refused: "
            } else {
                ""
            };
            Err(Exit::new(f.code, format!("{prefix}{}{extra}", f.message)))
        }
    };
    match &verdict {
        Ok(code) => run.entry.exit_code = *code as i32,
        Err(e) => {
            run.entry.exit_code = e.code as i32;
            if run.entry.error.is_none() {
                run.entry.error = Some(e.message.clone());
            }
        }
    }
    // The ledger in the database is written while the run lock is still held.
    let mut entry = std::mem::take(&mut run.entry);
    if let Some(problem) = run.write_ledger(&mut entry) {
        let message = format!(
            "the run is recorded in this machine's history only: the ledger in env {}'s database was not written: {problem}",
            env.name
        );
        ui.outcome(&format!("warning: {message}"));
        entry.exit_code = Code::Failed as i32;
        entry.error = Some(match entry.error.take() {
            Some(e) => format!("{e}; {message}"),
            None => message.clone(),
        });
        verdict = Err(Exit::failed(match verdict {
            Ok(_) => message,
            Err(x) => format!("{}; and {message}", x.message),
        }));
    }
    // The plugins are done: let go of everything they held before writing the record.
    drop(run);
    if let Err(e) = journal.append(&entry) {
        let message = format!(
            "the run was not recorded: cannot write the history to {}: {e}; outcome was {} (exit {})",
            history::path(&cfg.state_dir).display(),
            entry.outcome,
            entry.exit_code
        );
        verdict = Err(Exit::failed(match verdict {
            Ok(_) => message,
            Err(x) => format!("{}; and {message}", x.message),
        }));
    }
    match output {
        RunOutput::Json => crate::report::print(&entry),
        RunOutput::Markdown => print!("{}", crate::markdown::run(&entry)),
        RunOutput::Human => {}
    }
    verdict
}
