//! `--show --check`: CI gates on whether the database and the models are up to date. Step 4
//! asks the runner for model changes without a migration; the verdict becomes exit code 7
//! (models changed, a migration is missing) or 6 (migrations pending), else 0.

use super::request::Action;
use super::{Fail, Run};
use crate::exit::{Code, Exit};

impl Run<'_> {
    /// Record model changes that no migration covers (only with `--check`).
    pub(super) fn find_model_changes(&mut self) -> Result<(), Fail> {
        if !self.req.check {
            return Ok(());
        }
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let changes = runner
            .pending_model_changes(&ctx)?
            .map_err(|e| self.runner_fail("check model changes", e))?;
        for c in &changes {
            self.ui.detail(&format!(
                "app {} has model changes without a migration: {}",
                c.app,
                c.changes.join("; ")
            ));
        }
        self.entry.model_changes = changes.into_iter().map(Into::into).collect();
        Ok(())
    }

    /// The `--check` verdict for a run that showed its plan: `None` when up to date.
    pub(super) fn check_verdict(&self) -> Option<Exit> {
        if !self.req.check || self.req.action != Action::Show {
            return None;
        }
        if !self.entry.model_changes.is_empty() {
            let apps: Vec<String> = self
                .entry
                .model_changes
                .iter()
                .map(|c| c.app.clone())
                .collect();
            let make: Vec<String> = apps
                .iter()
                .map(|a| {
                    format!(
                        "`platform-migrate --env {} --make --app {a}`",
                        self.env.name
                    )
                })
                .collect();
            return Some(Exit::new(
                Code::ModelChanges,
                format!(
                    "models changed without a migration in app(s) {}; create it with {}",
                    apps.join(", "),
                    make.join(" and ")
                ),
            ));
        }
        if self.req.phase == Some(crate::phase::Phase::Pre) {
            // The gate for "this release needs a post-deploy step".
            if self.entry.post_deploy.is_empty() {
                return None;
            }
            return Some(Exit::new(
                Code::Pending,
                format!(
                    "this release needs a post-deploy step: {} must run with `--phase post` after the new code is live",
                    self.entry.post_deploy.join(", ")
                ),
            ));
        }
        let pending: Vec<String> = self.entry.plan.iter().map(|p| p.dotted()).collect();
        if pending.is_empty() {
            return None;
        }
        Some(Exit::new(
            Code::Pending,
            format!(
                "{} migration(s) pending in env {}: {}",
                pending.len(),
                self.env.name,
                pending.join(", ")
            ),
        ))
    }
}
