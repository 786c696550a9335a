//! Turning a plugin's typed errors into one-line messages with the right exit code.

use super::{Fail, Run};
use crate::exit::Code;
use crate::plugin_api::{Migration, RunnerError};

fn apps(list: &[Migration]) -> String {
    let mut apps: Vec<&str> = list.iter().map(|m| m.id.app.as_str()).collect();
    apps.sort();
    apps.dedup();
    apps.join(", ")
}

impl Run<'_> {
    /// Map a runner error; `what` says what was being done ("plan", "apply", ...).
    pub(super) fn runner_fail(&self, what: &str, e: RunnerError) -> Fail {
        let plugin = &self.env.runner;
        match e {
            RunnerError::Connection(m) => Fail::failed(format!(
                "cannot connect to the database of env {}: {m}",
                self.env.name
            )),
            RunnerError::UnknownApp(a) => Fail::usage(format!(
                "unknown app '{a}'; apps with migrations: {}",
                apps(&self.before)
            )),
            RunnerError::UnknownMigration(r) => {
                let names: Vec<&str> = self
                    .before
                    .iter()
                    .filter(|m| m.id.app == r.app)
                    .map(|m| m.id.name.as_str())
                    .collect();
                Fail::usage(format!(
                    "unknown migration '{}' for app {}; its migrations: {} (or zero)",
                    r.name,
                    r.app,
                    names.join(", ")
                ))
            }
            RunnerError::Ambiguous(m) => Fail::usage(m),
            RunnerError::NothingToRollBack(m) => Fail::usage(format!("nothing to roll back: {m}")),
            RunnerError::CommandFailed(c) => {
                for line in c.output_tail.lines() {
                    self.ui.detail(&format!("! {}", self.redactor.redact(line)));
                }
                let last = c
                    .output_tail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let code = c
                    .exit_code
                    .map(|c| format!("exit code {c}"))
                    .unwrap_or_else(|| "killed by a signal".into());
                let mut message = format!(
                    "{what} failed: `{}` ended with {code}: {last}",
                    short(&c.command)
                );
                if let Some(hint) = timeout_hint(&c.output_tail, self.env) {
                    message.push_str("; ");
                    message.push_str(&hint);
                } else if let Some(why) = self.refused_by_sandbox(&c.output_tail) {
                    message.push_str("; ");
                    message.push_str(&why);
                }
                Fail::failed(message)
            }
            RunnerError::FixtureFailed(f) => Fail::failed(format!(
                "fixture '{}' failed to load: {}; the migrations stand, later fixtures were not loaded",
                f.fixture,
                f.message.trim()
            )),
            RunnerError::Unsupported(m) => {
                Fail::usage(format!("plugin '{plugin}' cannot {what}: {m}"))
            }
            RunnerError::Locked(holder) => Fail::new(
                Code::Busy,
                format!(
                    "env {} is busy: another run holds the database's run lock ({holder}); wait for it to finish, or pass --wait SECONDS to queue behind it",
                    self.env.name
                ),
            ),
            RunnerError::Denied(m) => Fail::new(Code::Denied, m),
            RunnerError::Misconfigured(m) => {
                Fail::usage(format!("plugin '{plugin}' is misconfigured: {m}"))
            }
            RunnerError::LedgerConflict(m) => Fail::failed(format!(
                "{what} failed: the ledger of env {} changed meanwhile ({m}); nothing was written to it. Run `platform-migrate history verify --env {}`",
                self.env.name, self.env.name
            )),
            RunnerError::Other(m) => Fail::failed(format!("{what} failed: {m}")),
        }
    }
}

impl Run<'_> {
    /// The sandbox's likely part in a failed program of the runner (`refusal.rs`), read
    /// against what the runner's entry grants (its database URL's port included).
    fn refused_by_sandbox(&self, output: &str) -> Option<String> {
        let entry = self.cfg.plugins.get(&self.env.runner)?;
        let grants = crate::config::grants_with_url_ports(entry, &self.redactor);
        let g = super::refusal::Granted {
            entry: &self.env.runner,
            builtin: entry.builtin.is_some(),
            connect: &grants.confine.connect,
            read: &grants.confine.read,
            base: &self.cfg.base_dir,
        };
        super::refusal::explain(output, &g).map(|m| self.redactor.redact(&m))
    }
}

/// What to do when PostgreSQL cancelled a statement for one of the env's timeouts.
fn timeout_hint(output: &str, env: &crate::config::EnvConfig) -> Option<String> {
    let context: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONTEXT:") || l.starts_with("DETAIL:"))
        .collect();
    let context = if context.is_empty() {
        String::new()
    } else {
        format!(" (PostgreSQL: {})", context.join(" "))
    };
    if output.contains("canceling statement due to lock timeout") {
        return Some(format!(
            "it waited longer than lock-timeout-ms = {} for a lock on a table it changes{context}, so it gave up instead of stalling the application behind it. Find the session holding it with `SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE state <> 'idle'`, then retry; or raise env.{}.lock-timeout-ms",
            env.lock_timeout_ms, env.name
        ));
    }
    if output.contains("canceling statement due to statement timeout") {
        return Some(format!(
            "a statement ran longer than statement-timeout-ms = {}{context}; raise env.{}.statement-timeout-ms if it is expected to take that long",
            env.statement_timeout_ms, env.name
        ));
    }
    None
}

fn short(cmd: &str) -> String {
    if cmd.chars().count() > 120 {
        format!("{}...", cmd.chars().take(117).collect::<String>())
    } else {
        cmd.to_string()
    }
}
