//! Turning a plugin's typed errors into one-line messages with the right exit code.

use super::{Fail, Run};
use crate::exit::Code;
use crate::sandbox::worlds_types::{Migration, RunnerError};

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
                Fail::failed(format!(
                    "{what} failed: `{}` ended with {code}: {last}",
                    short(&c.command)
                ))
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
            RunnerError::Other(m) => Fail::failed(format!("{what} failed: {m}")),
        }
    }
}

fn short(cmd: &str) -> String {
    if cmd.chars().count() > 120 {
        format!("{}...", cmd.chars().take(117).collect::<String>())
    } else {
        cmd.to_string()
    }
}
