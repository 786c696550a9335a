//! Step 6: verify the database state: read it again and check that every planned step took
//! effect and that nothing targeted is still pending.

use super::request::Action;
use super::state::diff;
use super::{Done, Fail, Run};
use crate::plugin_api::ResolvedTarget;

impl Run<'_> {
    pub(super) fn verify(&mut self) -> Result<Done, Fail> {
        if self.req.action == Action::Show {
            return Ok(Done::Skipped("--show".into()));
        }
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let after = runner
            .list_migrations(&ctx)?
            .map_err(|e| self.runner_fail("verify", e))?;
        if self.req.action == Action::Make {
            let missing: Vec<&String> = self
                .entry
                .created
                .iter()
                .filter(|c| !after.iter().any(|m| m.id.to_string() == **c))
                .collect();
            if !missing.is_empty() {
                return Err(Fail::failed(format!(
                    "created migrations not found by the runner: {missing:?}"
                )));
            }
            return Ok(Done::Ok("ok".into()));
        }
        let plan = self.plan.as_ref().expect("planned in step 2");
        let state_of = |app: &str, name: &str| {
            after
                .iter()
                .find(|m| m.id.app == app && m.id.name == name)
                .map(|m| m.applied)
        };
        let mut wrong = Vec::new();
        for s in &plan.steps {
            if state_of(&s.id.app, &s.id.name) != Some(!s.backwards) {
                let want = if s.backwards { "unapplied" } else { "applied" };
                wrong.push(format!("{}.{} is not {want}", s.id.app, s.id.name));
            }
        }
        let pending: Vec<String> = after
            .iter()
            .filter(|m| !m.applied)
            // `--phase pre` leaves the post steps pending on purpose.
            .filter(|_| self.phase_targets.is_none())
            .filter(|m| match &plan.resolved {
                ResolvedTarget::All => true,
                ResolvedTarget::App(app) => &m.id.app == app,
                ResolvedTarget::Position(_) => false,
            })
            .map(|m| m.id.to_string())
            .collect();
        if !pending.is_empty() {
            wrong.push(format!("still pending: {}", pending.join(", ")));
        }
        self.entry.applied = diff(&self.before, &after, &self.entry.plan);
        self.record_checksums(&after);
        if !wrong.is_empty() {
            return Err(Fail::failed(format!(
                "database state does not match the plan: {}",
                wrong.join("; ")
            )));
        }
        let applied = after.iter().filter(|m| m.applied).count();
        self.ui.detail(&format!(
            "{applied} of {} migrations applied; nothing pending for the target",
            after.len()
        ));
        Ok(Done::Ok("ok".into()))
    }
}
