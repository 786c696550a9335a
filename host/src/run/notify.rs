//! Telling the environment's notifiers how the run ended: on success, failure and refusal
//! (never for `--show`). A notification failure never changes what happened to the database:
//! it is printed, recorded in history, and turns a successful run's exit code into 5.

use super::Run;
use crate::history::NotificationRecord;
use crate::history::{NotificationStatus, Outcome};
use crate::plugin_api::MigrationRef;
use crate::plugin_api::{AppliedMigration, NotifyError, RunEvent};
use std::time::Duration;

fn describe(e: &NotifyError) -> (NotificationStatus, String) {
    match e {
        NotifyError::Denied(m) => (NotificationStatus::Denied, format!("denied: {m}")),
        NotifyError::Rejected(m) => (
            NotificationStatus::Failed,
            format!("rejected by the service: {m}"),
        ),
        NotifyError::Unavailable(m) => (
            NotificationStatus::Failed,
            format!("service unavailable: {m}"),
        ),
        NotifyError::Misconfigured(m) => {
            (NotificationStatus::Failed, format!("misconfigured: {m}"))
        }
    }
}

impl Run<'_> {
    fn event(&self, outcome: Outcome, took: Duration) -> RunEvent {
        RunEvent {
            env: self.env.qualified_name(),
            run_id: self.run_id.clone(),
            action: self.req.action.as_str().to_string(),
            outcome: outcome.event(),
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
            findings: self
                .entry
                .findings
                .iter()
                .map(|f| format!("{}.{}: {}: {}", f.app, f.name, f.rule, f.detail))
                .collect(),
        }
    }

    /// Notify every notifier; returns one message per notification that was not delivered.
    pub(super) fn notify_all(&mut self, outcome: Outcome, took: Duration) -> Vec<String> {
        if self.notifiers.is_empty() || outcome == Outcome::Shown {
            return Vec::new();
        }
        let event = self.event(outcome, took);
        let mut undelivered = Vec::new();
        for n in &mut self.notifiers {
            let denials_before = n.denials().len();
            let (status, problem) = match n.notify(&event) {
                Ok(Ok(())) => (NotificationStatus::Sent, None),
                Ok(Err(e)) => {
                    let (status, m) = describe(&e);
                    (status, Some(m))
                }
                Err(e) => (NotificationStatus::Failed, Some(e.to_string())),
            };
            // The host's own record wins: a denial is a denial whatever the plugin reported.
            let host_denial = n
                .denials()
                .get(denials_before..)
                .and_then(|d| d.first().cloned());
            let (status, problem) = match (host_denial, problem) {
                (Some(d), Some(_)) => (NotificationStatus::Denied, Some(format!("denied: {d}"))),
                other => (status, other.1),
            };
            let error = problem.map(|p| {
                self.redactor
                    .redact(&format!("notifier '{}' {p}", n.name()))
            });
            match &error {
                Some(m) => {
                    self.ui.outcome(&format!("warning: {m}"));
                    undelivered.push(m.clone());
                }
                None => self.ui.heading(&format!("notified: {}", n.name())),
            }
            self.entry.notifications.push(NotificationRecord {
                notifier: n.name().to_string(),
                status,
                error,
            });
        }
        undelivered
    }
}
