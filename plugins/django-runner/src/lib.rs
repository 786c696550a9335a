//! django-runner: a platform-migrate migration runner that drives a Django project's
//! `manage.py` through the host's `process` capability.
//!
//! Settings (`[plugins.NAME.settings]`):
//! - `manage` (required): the argv that reaches `manage.py`, e.g.
//!   `[".venv/bin/python", "manage.py"]` or
//!   `["docker", "compose", "exec", "-T", "web", "python", "manage.py"]`. Its first element must
//!   be granted as a command.
//! - `project-dir`: guest path of a granted directory to run in (default: the config's folder).
//! - `database`: Django database alias (default `default`).
//! - `env`: table of environment variables for Django (each name granted in `grants.env`).
//! - `secret-env`: table mapping an environment variable to a granted secret's name, e.g.
//!   `{ DATABASE_URL = "database-url" }`.
//!
//! Reading state never scrapes text: a helper script run through `manage.py shell -c` prints
//! the migration graph as JSON from Django's own loader.

use platform_migrate_sdk::log;
use platform_migrate_sdk::process::{self, Command};
use platform_migrate_sdk::register_runner;
use platform_migrate_sdk::runner::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[cfg(not(feature = "wit-v0-1"))]
mod ledger;
mod settings;
mod traceback;
use settings::Settings;

const HELPER: &str = include_str!("helper.py");
/// The helper text that may also migrate (`migrate-in-session`): one more first line, so its
/// sha256 differs and a grant of the plain helper does not grant migrating.
const HELPER_MIGRATING: &str = concat!("PM_MIGRATE = True\n", include_str!("helper.py"));
const MARK: &str = "@@PM-JSON@@";

struct Django;

/// Build a `manage.py` command from the settings.
fn manage(s: &Settings, args: &[&str]) -> Result<Command, RunnerError> {
    let mut cmd = Command::from_argv(s.manage.iter().cloned())
        .ok_or_else(|| RunnerError::Misconfigured("setting `manage` is empty".into()))?
        .args(args.iter().copied());
    if let Some(dir) = &s.project_dir {
        cmd = cmd.cwd(dir.clone());
    }
    for (k, v) in &s.env {
        cmd = cmd.env(k.clone(), v.clone());
    }
    for (var, secret) in &s.secret_env {
        let value = platform_migrate_sdk::config::secret(secret).map_err(|e| match e {
            platform_migrate_sdk::config::SecretError::NotGranted(n) => {
                RunnerError::Denied(format!("secret `{n}` is not granted"))
            }
            platform_migrate_sdk::config::SecretError::Unavailable(m) => {
                RunnerError::Misconfigured(m)
            }
        })?;
        cmd = cmd.env(var.clone(), value);
    }
    Ok(cmd)
}

fn host_error(e: process::Error) -> RunnerError {
    match e {
        process::Error::Denied(m) => RunnerError::Denied(m),
        other => RunnerError::Other(process::message(&other)),
    }
}

/// Run `cmd` to completion; a non-zero exit is a `command-failed` whose output keeps the
/// project's own traceback frames (`traceback::tail`), not only the last lines.
fn run_ok(cmd: &Command) -> Result<(), RunnerError> {
    let out = cmd.run().map_err(host_error)?;
    if out.exit_code == Some(0) {
        return Ok(());
    }
    Err(RunnerError::CommandFailed(CommandFailure {
        command: cmd.display(),
        exit_code: out.exit_code,
        output_tail: traceback::tail(&format!("{}{}", out.stdout, out.stderr), 20),
    }))
}

/// The helper's answer to `sql`: statements per step, and the tables of skipped steps.
#[derive(Deserialize)]
struct RenderedSql {
    steps: Vec<Vec<String>>,
    #[serde(default)]
    created: Vec<String>,
}

/// Render the SQL of `steps` (all of it, or with `only_existing` what the linter needs).
fn rendered_sql(
    s: &Settings,
    steps: &[PlanStep],
    only_existing: bool,
) -> Result<RenderedSql, RunnerError> {
    let steps: Vec<Value> = steps
        .iter()
        .map(|st| json!({"app": st.id.app, "name": st.id.name, "backwards": st.backwards}))
        .collect();
    parse(helper(
        s,
        json!({"cmd": "sql", "steps": steps, "only_existing": only_existing}),
    )?)
}

/// The `manage.py shell -c <helper>` command that starts the helper. The script is always
/// exactly [`HELPER`], or [`HELPER_MIGRATING`] with `migrate-in-session` (grants pin each
/// one's sha256); requests go to it on stdin.
fn helper_command(s: &Settings) -> Result<Command, RunnerError> {
    let text = if s.migrate_in_session {
        HELPER_MIGRATING
    } else {
        HELPER
    };
    // Echo: what `migrate` writes (to standard error) is shown as it comes.
    Ok(manage(s, &["shell", "-c", text])?.echo(true))
}

/// `args` (with the settings' database alias) as one hex-encoded request line.
fn request_line(s: &Settings, mut args: Value) -> String {
    if let Some(db) = &s.database {
        args["database"] = json!(db);
    }
    args.to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Django did not answer: it failed to start (settings, imports, ...).
fn no_answer(s: &Settings, why: &str) -> RunnerError {
    RunnerError::CommandFailed(CommandFailure {
        command: format!("{} shell -c <helper>", s.manage.join(" ")),
        exit_code: None,
        output_tail: traceback::tail(why, 20),
    })
}

/// Run the helper with `args` and return its `ok` payload, through this run's helper session
/// (one Django start for the whole run); a session that died is started again once.
fn helper(s: &Settings, args: Value) -> Result<Value, RunnerError> {
    let line = request_line(s, args);
    match session_request(s, &line) {
        Ok(answer) => reply(&answer),
        Err(SessionError::Runner(e)) => Err(e),
        Err(SessionError::Broken(why)) if LOCK.with(|l| l.borrow().is_some()) => {
            // The lock was released when the session ended, so another run may have
            // changed the database since: stop rather than go on as if it had been held.
            SESSION.with(|c| c.borrow_mut().take());
            Err(RunnerError::Other(format!(
                "the helper session that held the database's run lock ended, so the lock is released and this run stops: {}",
                traceback::tail(&why, 5)
            )))
        }
        Err(SessionError::Broken(why)) => {
            log::debug(&format!("helper session ended ({why}); starting it again"));
            SESSION.with(|c| c.borrow_mut().take());
            match session_request(s, &line) {
                Ok(answer) => reply(&answer),
                Err(SessionError::Runner(e)) => Err(e),
                Err(SessionError::Broken(why)) => Err(no_answer(s, &why)),
            }
        }
    }
}

/// `migrate` inside the helper session (`migrate-in-session`): no second Django start. Never
/// retried in a new session: a session that ended mid-way may have applied part of the plan,
/// and the host reads what stands from the database.
fn migrate_in_session(
    s: &Settings,
    target: &ResolvedTarget,
    fake: bool,
) -> Result<(), RunnerError> {
    let (target, shown) = match target {
        ResolvedTarget::All => (json!({"kind": "all"}), String::new()),
        ResolvedTarget::App(app) => (json!({"kind": "app", "app": app}), format!(" {app}")),
        ResolvedTarget::Position(p) => {
            let m = p.migration.clone().unwrap_or_else(|| "zero".into());
            let shown = format!(" {} {m}", p.app);
            (
                json!({"kind": "position", "app": p.app, "migration": m}),
                shown,
            )
        }
    };
    let command = format!(
        "{} migrate --noinput -v1{}{}{shown} (in the helper session)",
        s.manage.join(" "),
        if fake { " --fake" } else { "" },
        s.database
            .as_ref()
            .map(|d| format!(" --database={d}"))
            .unwrap_or_default(),
    );
    let line = request_line(s, json!({"cmd": "migrate", "target": target, "fake": fake}));
    // As long as a `manage.py migrate` may run: the host caps the wait at the grant's
    // timeout-secs (and the call's deadline), as it caps a program it runs.
    let timeout_ms = s.timeout_secs.map_or(u64::MAX, |t| t.saturating_mul(1000));
    // The migration's code runs in this session and may change how it answers (a patched
    // recorder reporting a migration applied that is not). What the run asks afterwards
    // (verify, its ledger row) is answered by a second session, ready before any migration
    // code runs (its Django start has imported the project by then); started at `plan`, so
    // its start overlapped the planning.
    let spare = SPARE.with(|c| c.borrow_mut().take());
    let fresh = match spare {
        Some(child) => child,
        None => helper_command(s)?.start().map_err(host_error)?,
    };
    if let Err(e) = await_ready(&fresh) {
        let why = match e {
            SessionError::Broken(why) => why,
            SessionError::Runner(e) => format!("{e:?}"),
        };
        return Err(RunnerError::Other(format!(
            "the second helper session, which reads the database after a migrate in the session, did not start; nothing was migrated: {}",
            traceback::tail(&why, 5)
        )));
    }
    log::debug(&format!("running {command}"));
    let answer = match session_request_within(s, &line, timeout_ms) {
        Ok(a) => a,
        Err(SessionError::Runner(e)) => return Err(e),
        Err(SessionError::Broken(why)) => {
            // Ended, or still running past its time: stop it (dropping the handle ends its
            // process group) and say what it wrote last. A later request starts a session
            // (and takes the run lock again) as after any session that ended.
            drop(fresh);
            let err = SESSION.with(|c| c.borrow_mut().take().map(|c| c.stderr()));
            return Err(RunnerError::CommandFailed(CommandFailure {
                command,
                exit_code: None,
                output_tail: traceback::tail(&format!("{}\n{why}", err.unwrap_or_default()), 20),
            }));
        }
    };
    let result = migrate_reply(&command, &answer);
    retire_session(fresh);
    result
}

/// Put the session a migration ran in out of service: it keeps the run lock (when it holds
/// it) until the run ends, and `fresh` (ready before the migration) serves what follows.
fn retire_session(fresh: process::Child) {
    let used = SESSION.with(|c| c.borrow_mut().take());
    // Only the session that took the lock holds it: after a retried migrate, the first one
    // retired still does (a later session never took it again), so it is the one kept.
    let holds = LOCK.with(|l| l.borrow().is_some()) && RETIRED.with(|r| r.borrow().is_none());
    if holds {
        RETIRED.with(|r| *r.borrow_mut() = used);
    } else {
        drop(used);
    }
    SESSION.with(|c| *c.borrow_mut() = Some(fresh));
}

/// What a `migrate` request in the session answered: done, or the migration's failure with
/// the traceback the session wrote.
fn migrate_reply(command: &str, answer: &str) -> Result<(), RunnerError> {
    let command = command.to_string();
    match reply(answer) {
        Ok(_) => Ok(()),
        Err(RunnerError::Other(message)) => {
            // The migration failed in the session (which lives on): its traceback went to
            // standard error, the exception is the last line.
            let err = SESSION.with(|c| c.borrow().as_ref().map(|c| c.stderr()).unwrap_or_default());
            Err(RunnerError::CommandFailed(CommandFailure {
                command,
                exit_code: Some(1),
                output_tail: format!("{}\n{message}", traceback::tail(&err, 19)),
            }))
        }
        Err(e) => Err(e),
    }
}

thread_local! {
    /// The database vendor, once `check-connection` has told.
    static VENDOR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// The helper session: `manage.py shell` serving requests on stdin for the whole run.
    static SESSION: std::cell::RefCell<Option<process::Child>> = const { std::cell::RefCell::new(None) };
    /// The run lock's label, once a session has taken it (`hold-lock`): a session started
    /// after that takes it again before it serves anything.
    static LOCK: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// The session a migration ran in (`migrate-in-session`), asked nothing more: it only
    /// holds the run lock until the run ends.
    static RETIRED: std::cell::RefCell<Option<process::Child>> = const { std::cell::RefCell::new(None) };
    /// The session that will serve after a migrate in the session, started at the first
    /// `plan` so that its Django start overlaps the rest of the run's planning.
    static SPARE: std::cell::RefCell<Option<process::Child>> = const { std::cell::RefCell::new(None) };
    /// The last full `list` answer, read before any migrate of this run.
    static LISTED: std::cell::RefCell<Option<Value>> = const { std::cell::RefCell::new(None) };
    /// Whether `apply` has run (a migration's code may have run since).
    static MIGRATED: std::cell::RefCell<bool> = const { std::cell::RefCell::new(false) };
}

/// Longest wait for Django to start, or for one answer of the session.
const SESSION_START_MS: u64 = 120_000;
const SESSION_ANSWER_MS: u64 = 1_800_000;

/// Why a session request got no answer.
enum SessionError {
    /// The host refused (a denial) or the settings are wrong: no point in retrying.
    Runner(RunnerError),
    /// The session ended or never started properly.
    Broken(String),
}

/// The next answer line (after the mark) from a helper process; other lines are kept in
/// `seen` for the error message.
fn answer(child: &process::Child, timeout_ms: u64) -> Result<String, String> {
    let mut seen = String::new();
    loop {
        match child.read_line(timeout_ms) {
            Ok(Some(line)) => match line.strip_prefix(MARK) {
                Some(a) => return Ok(a.to_string()),
                None => {
                    if seen.len() < 4096 {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                }
            },
            Ok(None) => return Err(format!("{seen}{}", child.stderr())),
            Err(e) => return Err(process::message(&e)),
        }
    }
}

/// A started helper that said it is ready.
fn start_helper(s: &Settings) -> Result<process::Child, SessionError> {
    let child = helper_command(s)
        .map_err(SessionError::Runner)?
        .start()
        .map_err(|e| SessionError::Runner(host_error(e)))?;
    await_ready(&child)?;
    Ok(child)
}

/// Wait for a started helper to say it is ready (Django set up, the project imported).
fn await_ready(child: &process::Child) -> Result<(), SessionError> {
    let ready = answer(child, SESSION_START_MS).map_err(SessionError::Broken)?;
    reply(&ready).map_err(SessionError::Runner)?;
    Ok(())
}

/// Take the run lock `label` again in a new session `child`; another run that took it in
/// between stops this one.
fn relock(s: &Settings, child: &process::Child, label: &str) -> Result<(), SessionError> {
    log::debug("the session that held the run lock ended; taking the lock again");
    let line = request_line(s, json!({"cmd": "hold-lock", "label": label}));
    match reply(&ask(child, &line, SESSION_ANSWER_MS)?) {
        Ok(_) => Ok(()),
        Err(RunnerError::Locked(holder)) => Err(SessionError::Runner(RunnerError::Locked(format!(
            "the run lock was released when the session holding it was stopped, and another run has taken it since: {holder}"
        )))),
        Err(e) => Err(SessionError::Runner(e)),
    }
}

/// Send one request line to the session (starting it first if needed); the answer line.
fn session_request(s: &Settings, line: &str) -> Result<String, SessionError> {
    session_request_within(s, line, SESSION_ANSWER_MS)
}

/// [`session_request`], waiting at most `timeout_ms` for the answer.
fn session_request_within(
    s: &Settings,
    line: &str,
    timeout_ms: u64,
) -> Result<String, SessionError> {
    SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let child = start_helper(s)?;
            let held = RETIRED.with(|r| r.borrow().is_some());
            if let Some(label) = LOCK.with(|l| l.borrow().clone()).filter(|_| !held) {
                // The session that held the run lock was stopped (a migrate past its time):
                // what the run still does (verify, its ledger row) goes on under the lock.
                relock(s, &child, &label)?;
            }
            *slot = Some(child);
        }
        let child = slot
            .as_ref()
            .ok_or_else(|| SessionError::Broken("no session".into()))?;
        ask(child, line, timeout_ms)
    })
}

/// Write one request line to a helper and wait at most `timeout_ms` for its answer line.
fn ask(child: &process::Child, line: &str, timeout_ms: u64) -> Result<String, SessionError> {
    child
        .write_line(line)
        .map_err(|e| SessionError::Broken(process::message(&e)))?;
    answer(child, timeout_ms).map_err(SessionError::Broken)
}

/// The helper's answer line (after the mark): its `ok` payload or its typed error.
fn reply(line: &str) -> Result<Value, RunnerError> {
    let reply: Value = serde_json::from_str(line)
        .map_err(|e| RunnerError::Other(format!("unreadable helper output: {e}")))?;
    if let Some(err) = reply.get("error") {
        let kind = err["kind"].as_str().unwrap_or("other");
        let message = err["message"].as_str().unwrap_or("").to_string();
        return Err(match kind {
            "connection" => RunnerError::Connection(message),
            "unknown-app" => RunnerError::UnknownApp(message),
            "unknown-migration" => RunnerError::UnknownMigration(MigrationRef {
                app: err["app"].as_str().unwrap_or("").into(),
                name: err["name"].as_str().unwrap_or("").into(),
            }),
            "ambiguous" => RunnerError::Ambiguous(message),
            "nothing-to-roll-back" => RunnerError::NothingToRollBack(message),
            "unsupported" => RunnerError::Unsupported(message),
            "locked" => RunnerError::Locked(message),
            "denied" => RunnerError::Denied(message),
            #[cfg(not(feature = "wit-v0-1"))]
            "ledger-conflict" => RunnerError::LedgerConflict(message),
            _ => RunnerError::Other(message),
        });
    }
    reply
        .get("ok")
        .cloned()
        .ok_or_else(|| RunnerError::Other("helper answered neither ok nor error".into()))
}

fn parse<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, RunnerError> {
    serde_json::from_value(v)
        .map_err(|e| RunnerError::Other(format!("unexpected helper output: {e}")))
}

#[derive(Deserialize)]
struct JsonConnection {
    vendor: String,
    database: String,
    framework: String,
}

#[derive(Deserialize)]
struct JsonOp {
    description: String,
    reversible: bool,
    #[serde(default)]
    #[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
    line: Option<u32>,
}

#[derive(Deserialize)]
struct JsonMigration {
    app: String,
    name: String,
    applied: bool,
    dependencies: Vec<(String, String)>,
    operations: Vec<JsonOp>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
    file: Option<String>,
    #[serde(default = "yes")]
    #[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
    atomic: bool,
    #[serde(default)]
    #[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
    phase: Option<String>,
}

#[derive(Deserialize)]
struct JsonStep {
    app: String,
    name: String,
    backwards: bool,
    operations: Vec<String>,
    irreversible: bool,
    #[serde(default = "yes")]
    #[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
    atomic: bool,
}

#[cfg_attr(feature = "wit-v0-1", allow(dead_code))]
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum JsonResolved {
    All,
    App {
        app: String,
    },
    Position {
        app: String,
        migration: Option<String>,
    },
}

#[derive(Deserialize)]
struct JsonPlan {
    resolved: JsonResolved,
    steps: Vec<JsonStep>,
}

fn mref(app: String, name: String) -> MigrationRef {
    MigrationRef { app, name }
}

fn list(s: &Settings) -> Result<Vec<Migration>, RunnerError> {
    // After a migrate: the graph as read before it, with the applied set from
    // django_migrations alone. A new loader would import migration modules (and reload each
    // app's `migrations/__init__.py`) that the migration's code may have rewritten.
    let before = MIGRATED
        .with(|m| *m.borrow())
        .then(|| LISTED.with(|l| l.borrow().clone()))
        .flatten();
    let listed = match before {
        Some(mut before) => {
            let applied: Vec<(String, String)> = parse(helper(s, json!({"cmd": "applied"}))?)?;
            if let Some(items) = before.as_array_mut() {
                for m in items {
                    let is = applied
                        .iter()
                        .any(|(a, n)| m["app"] == *a && m["name"] == *n);
                    m["applied"] = json!(is);
                }
            }
            before
        }
        None => {
            let listed = helper(s, json!({"cmd": "list"}))?;
            LISTED.with(|l| *l.borrow_mut() = Some(listed.clone()));
            listed
        }
    };
    let migrations: Vec<JsonMigration> = parse(listed)?;
    Ok(migrations
        .into_iter()
        .map(|m| Migration {
            id: mref(m.app, m.name),
            applied: m.applied,
            dependencies: m
                .dependencies
                .into_iter()
                .map(|(a, n)| mref(a, n))
                .collect(),
            operations: m
                .operations
                .into_iter()
                .map(|o| Operation {
                    description: o.description,
                    reversible: o.reversible,
                    #[cfg(not(feature = "wit-v0-1"))]
                    line: o.line,
                })
                .collect(),
            checksum: m.checksum,
            #[cfg(not(feature = "wit-v0-1"))]
            file: m.file,
            #[cfg(not(feature = "wit-v0-1"))]
            atomic: m.atomic,
            #[cfg(not(feature = "wit-v0-1"))]
            phase: match m.phase.as_deref() {
                Some("pre") => Some(DeployPhase::Pre),
                Some("post") => Some(DeployPhase::Post),
                Some("any") => Some(DeployPhase::Any),
                _ => None,
            },
        })
        .collect())
}

impl Runner for Django {
    fn describe() -> PluginInfo {
        let mut caps = Vec::new();
        if let Ok(s) = Settings::load() {
            if let Some(program) = s.manage.first() {
                caps.push(Capability::RunProgram(program.clone()));
            }
            if let Some(dir) = &s.project_dir {
                caps.push(Capability::Directory(dir.clone()));
            }
            caps.extend(s.env.keys().map(|k| Capability::EnvVar(k.clone())));
            for (var, secret) in &s.secret_env {
                caps.push(Capability::EnvVar(var.clone()));
                caps.push(Capability::Secret(secret.clone()));
            }
        }
        let info = platform_migrate_sdk::info!(
            "django-runner",
            "Runs Django migrations through the project's manage.py",
            []
        )
        .with_capabilities(caps);
        #[cfg(not(feature = "wit-v0-1"))]
        let info = info.with_settings(settings::schema());
        info
    }

    fn sql(_ctx: RunContext, steps: Vec<PlanStep>) -> Result<Vec<Vec<String>>, RunnerError> {
        Ok(rendered_sql(&Settings::load()?, &steps, false)?.steps)
    }

    /// The helper renders the plan in one pass and skips steps that only build tables the plan
    /// itself creates (helper.py, `sql`).
    #[cfg(not(feature = "wit-v0-1"))]
    fn lint_sql(_ctx: RunContext, steps: Vec<PlanStep>) -> Result<LintSql, RunnerError> {
        let r = rendered_sql(&Settings::load()?, &steps, true)?;
        Ok(LintSql {
            steps: r.steps,
            created: r.created,
        })
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn lock_holders(_ctx: RunContext) -> Result<Vec<LockHolder>, RunnerError> {
        #[derive(Deserialize)]
        struct Holder {
            pid: u32,
            state: String,
            query: String,
            transaction_seconds: u64,
            relations: Vec<String>,
        }
        let s = Settings::load()?;
        let holders: Vec<Holder> = parse(helper(&s, json!({"cmd": "lock-holders"}))?)?;
        Ok(holders
            .into_iter()
            .map(|h| LockHolder {
                pid: h.pid,
                state: h.state,
                query: h.query,
                transaction_seconds: h.transaction_seconds,
                relations: h.relations,
            })
            .collect())
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn invalid_indexes(_ctx: RunContext) -> Result<Vec<String>, RunnerError> {
        let s = Settings::load()?;
        parse(helper(&s, json!({"cmd": "invalid-indexes"}))?)
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn drop_invalid_index(_ctx: RunContext, name: String) -> Result<(), RunnerError> {
        let s = Settings::load()?;
        helper(&s, json!({"cmd": "drop-invalid-index", "name": name}))?;
        Ok(())
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn database_aliases(_ctx: RunContext) -> Result<Vec<String>, RunnerError> {
        let s = Settings::load()?;
        parse(helper(&s, json!({"cmd": "aliases"}))?)
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn empty_tables(_ctx: RunContext, tables: Vec<String>) -> Result<Vec<String>, RunnerError> {
        let s = Settings::load()?;
        parse(helper(
            &s,
            json!({"cmd": "empty-tables", "tables": tables}),
        )?)
    }

    /// PostgreSQL (every schema on the search path) and SQLite, read from the catalog by the
    /// helper session.
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    fn schema_snapshot(
        _ctx: RunContext,
        tables: Vec<String>,
    ) -> Result<Vec<SchemaObject>, RunnerError> {
        let s = Settings::load()?;
        let rows: Vec<(String, String, String, String)> = parse(helper(
            &s,
            json!({"cmd": "schema-snapshot", "tables": tables}),
        )?)?;
        rows.into_iter()
            .map(|(kind, relation, name, definition)| {
                let kind = match kind.as_str() {
                    "table" => SchemaKind::Table,
                    "column" => SchemaKind::Column,
                    "index" => SchemaKind::Index,
                    "constraint" => SchemaKind::Constraint,
                    "sequence" => SchemaKind::Sequence,
                    "view" => SchemaKind::View,
                    other => {
                        return Err(RunnerError::Other(format!(
                            "the helper named an unknown schema object kind {other:?}"
                        )))
                    }
                };
                Ok(SchemaObject {
                    kind,
                    relation,
                    name,
                    definition,
                })
            })
            .collect()
    }

    /// Other databases, caches and a Celery broker named in Django's settings.
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    fn services(_ctx: RunContext) -> Result<Vec<Service>, RunnerError> {
        let s = Settings::load()?;
        let rows: Vec<(String, String, Option<u16>)> =
            parse(helper(&s, json!({"cmd": "services"}))?)?;
        Ok(rows
            .into_iter()
            .map(|(setting, host, port)| Service {
                setting,
                host,
                port,
            })
            .collect())
    }

    /// PostgreSQL: the helper session takes `pg_try_advisory_lock` on a connection of its own
    /// and holds it until the host closes its stdin (end of the run, or the host dying). A
    /// session that ends early is not restarted: the run stops.
    fn lock_database(_ctx: RunContext, label: String) -> Result<(), RunnerError> {
        let s = Settings::load()?;
        // Only PostgreSQL has the lock; knowing the vendor saves starting Django for nothing.
        let vendor = VENDOR.with(|v| v.borrow().clone());
        if let Some(v) = vendor.filter(|v| v != "postgresql") {
            return Err(RunnerError::Unsupported(format!(
                "{v} databases have no advisory locks"
            )));
        }
        // The session holds the lock on a connection of its own until it ends with the run.
        helper(&s, json!({"cmd": "hold-lock", "label": label}))?;
        LOCK.with(|l| *l.borrow_mut() = Some(label));
        Ok(())
    }

    fn check_connection(_ctx: RunContext) -> Result<ConnectionInfo, RunnerError> {
        let s = Settings::load()?;
        let c: JsonConnection = parse(helper(&s, json!({"cmd": "connect"}))?)?;
        VENDOR.with(|v| *v.borrow_mut() = Some(c.vendor.clone()));
        Ok(ConnectionInfo {
            vendor: c.vendor,
            database: c.database,
            framework: c.framework,
        })
    }

    fn list_migrations(_ctx: RunContext) -> Result<Vec<Migration>, RunnerError> {
        list(&Settings::load()?)
    }

    fn plan(_ctx: RunContext, target: Target) -> Result<Plan, RunnerError> {
        let s = Settings::load()?;
        let migrated = MIGRATED.with(|m| *m.borrow());
        if s.migrate_in_session && !migrated && SPARE.with(|c| c.borrow().is_none()) {
            // Not waited for here: it gets ready while the run plans (see migrate_in_session).
            let spare = helper_command(&s).ok().and_then(|c| c.start().ok());
            SPARE.with(|c| *c.borrow_mut() = spare);
        }
        let target = match target {
            Target::All => json!({"kind": "all"}),
            Target::App(app) => json!({"kind": "app", "app": app}),
            Target::Migration(m) => json!({"kind": "migration", "app": m.app, "name": m.name}),
            Target::Rollback(app) => json!({"kind": "rollback", "app": app}),
        };
        let p: JsonPlan = parse(helper(&s, json!({"cmd": "plan", "target": target}))?)?;
        Ok(Plan {
            resolved: match p.resolved {
                JsonResolved::All => ResolvedTarget::All,
                JsonResolved::App { app } => ResolvedTarget::App(app),
                JsonResolved::Position { app, migration } => {
                    ResolvedTarget::Position(AppPosition { app, migration })
                }
            },
            steps: p
                .steps
                .into_iter()
                .map(|st| PlanStep {
                    id: mref(st.app, st.name),
                    backwards: st.backwards,
                    operations: st.operations,
                    irreversible: st.irreversible,
                    #[cfg(not(feature = "wit-v0-1"))]
                    atomic: st.atomic,
                })
                .collect(),
        })
    }

    fn apply(_ctx: RunContext, target: ResolvedTarget, fake: bool) -> Result<(), RunnerError> {
        let s = Settings::load()?;
        MIGRATED.with(|m| *m.borrow_mut() = true);
        if s.migrate_in_session {
            return migrate_in_session(&s, &target, fake);
        }
        // Options first, then the target: the order the minimal grant's pattern names
        // (`migrate --noinput -v1 ?--fake ?--database=* ?<name> ?<name>`).
        let mut args: Vec<String> = vec!["migrate".into(), "--noinput".into(), "-v1".into()];
        if fake {
            args.push("--fake".into());
        }
        if let Some(db) = &s.database {
            args.push(format!("--database={db}"));
        }
        match &target {
            ResolvedTarget::All => {}
            ResolvedTarget::App(app) => args.push(app.clone()),
            ResolvedTarget::Position(p) => {
                args.push(p.app.clone());
                args.push(p.migration.clone().unwrap_or_else(|| "zero".into()));
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = manage(&s, &refs)?.echo(true);
        if let Some(secs) = s.timeout_secs {
            cmd = cmd.timeout_ms(secs.saturating_mul(1000));
        }
        log::debug(&format!("running {}", cmd.display()));
        run_ok(&cmd)
    }

    fn make_migrations(_ctx: RunContext, app: String) -> Result<Vec<MigrationRef>, RunnerError> {
        let s = Settings::load()?;
        helper(&s, json!({"cmd": "app-exists", "app": app}))?;
        let before: Vec<MigrationRef> = list(&s)?.into_iter().map(|m| m.id).collect();
        run_ok(&manage(&s, &["makemigrations", "--noinput", &app])?.echo(true))?;
        let created = list(&s)?
            .into_iter()
            .map(|m| m.id)
            .filter(|id| !before.iter().any(|b| b.app == id.app && b.name == id.name))
            .collect();
        Ok(created)
    }

    fn reset_database(_ctx: RunContext) -> Result<(), RunnerError> {
        let s = Settings::load()?;
        let how = helper(&s, json!({"cmd": "reset"}))?;
        log::info(&format!("reset: {}", how["how"].as_str().unwrap_or("done")));
        Ok(())
    }

    fn load_fixtures(
        _ctx: RunContext,
        fixtures: Vec<String>,
    ) -> Result<Vec<FixtureLoaded>, RunnerError> {
        let s = Settings::load()?;
        let mut loaded = Vec::new();
        for fixture in fixtures {
            let mut args = vec!["loaddata".to_string(), "-v1".into()];
            if let Some(db) = &s.database {
                args.push(format!("--database={db}"));
            }
            args.push(fixture.clone());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = manage(&s, &refs)?.echo(true).run().map_err(host_error)?;
            if out.exit_code != Some(0) {
                // Django's own message is the last line of its error output.
                let all = format!("{}\n{}", out.stdout, out.stderr);
                let message = traceback::tail(&all, 1);
                return Err(RunnerError::FixtureFailed(FixtureFailure {
                    fixture,
                    message,
                }));
            }
            loaded.push(FixtureLoaded {
                objects: installed_objects(&out.stdout),
                fixture,
            });
        }
        Ok(loaded)
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn ledger_read(
        _ctx: RunContext,
        schema: String,
        query: LedgerQuery,
    ) -> Result<LedgerContents, RunnerError> {
        ledger::read(&Settings::load()?, schema, query)
    }

    #[cfg(not(feature = "wit-v0-1"))]
    fn ledger_append(
        _ctx: RunContext,
        schema: String,
        entry: LedgerEntry,
    ) -> Result<(), RunnerError> {
        ledger::append(&Settings::load()?, schema, entry)
    }

    fn pending_model_changes(_ctx: RunContext) -> Result<Vec<ModelChange>, RunnerError> {
        #[derive(Deserialize)]
        struct Change {
            app: String,
            changes: Vec<String>,
        }
        let s = Settings::load()?;
        let changes: Vec<Change> = parse(helper(&s, json!({"cmd": "model-changes"}))?)?;
        Ok(changes
            .into_iter()
            .map(|c| ModelChange {
                app: c.app,
                changes: c.changes,
            })
            .collect())
    }
}

/// `Installed 3 object(s) from 1 fixture(s)` -> 3.
fn installed_objects(output: &str) -> u32 {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Installed "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Unused keys are fine; the map keeps the settings' order stable for `describe`.
type Env = BTreeMap<String, String>;

register_runner!(Django);

#[cfg(test)]
mod tests {
    #[test]
    fn loaddata_counts_are_read() {
        assert_eq!(
            super::installed_objects("Installed 3 object(s) from 1 fixture(s)\n"),
            3
        );
        assert_eq!(super::installed_objects("nothing"), 0);
    }
}
