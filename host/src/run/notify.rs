//! Telling the environment's notifiers how the run ended. A notification failure never changes
//! what happened to the database; it is printed and recorded.

use super::Run;
use crate::sandbox::bindings::notifier::platform::migrate::types::MigrationRef;
use crate::sandbox::nt::{AppliedMigration, Outcome, RunEvent};
use std::time::Duration;

impl Run<'_> {
    pub(super) fn notify_all(&mut self, outcome: &str, took: Duration) {
        if self.notifiers.is_empty() {
            return;
        }
        let outcome = match outcome {
            "refused" => Outcome::Refused,
            "failed" => Outcome::Failed,
            _ => Outcome::Succeeded,
        };
        let event = RunEvent {
            env: self.env.name.clone(),
            run_id: self.run_id.clone(),
            outcome,
            applied: self
                .entry
                .applied
                .iter()
                .map(|a| AppliedMigration {
                    id: MigrationRef {
                        app: a.app.clone(),
                        name: a.name.clone(),
                    },
                    backwards: a.backwards,
                })
                .collect(),
            backup_id: self.entry.backup.as_ref().map(|b| b.id.clone()),
            backup_size: self.entry.backup.as_ref().map(|b| b.size),
            duration_ms: took.as_millis() as u64,
            host: self.entry.host.clone(),
            error_summary: self
                .entry
                .error
                .as_ref()
                .map(|e| e.lines().take(5).collect::<Vec<_>>().join("\n")),
        };
        for n in &mut self.notifiers {
            let problem = match n.notify(&event) {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:?}")),
                Err(e) => Some(e.to_string()),
            };
            if let Some(p) = problem {
                let msg = self
                    .redactor
                    .redact(&format!("notifier '{}' failed: {p}", n.name));
                self.ui.outcome(&format!("warning: {msg}"));
                let prior = self.entry.error.take();
                self.entry.error = Some(match prior {
                    Some(e) => format!("{e}; {msg}"),
                    None => msg,
                });
            }
        }
    }
}
