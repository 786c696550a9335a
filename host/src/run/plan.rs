//! Step 4: show the migration plan; refuse plans that cannot run (irreversible steps
//! backwards). With --show the run ends here.

use super::request::Action;
use super::Run;
use super::{Done, Fail};

impl Run<'_> {
    pub(super) fn show_plan(&mut self) -> Result<Done, Fail> {
        if self.req.action == Action::Make {
            let app = self.req.app.clone().unwrap_or_default();
            self.ui.detail(&format!("makemigrations for app {app}"));
            return Ok(Done::Ok("1 step".into()));
        }
        let plan = self.plan.as_ref().expect("planned in step 2");
        if plan.steps.is_empty() {
            return Ok(Done::Ok("nothing to migrate".into()));
        }
        for step in &plan.steps {
            let dir = if step.backwards { "unapply" } else { "apply" };
            let warn = match (step.irreversible, step.backwards) {
                (true, true) => "  [IRREVERSIBLE: cannot be unapplied]",
                (true, false) => "  [irreversible: cannot be undone later]",
                _ => "",
            };
            self.ui
                .detail(&format!("{dir} {}.{}{warn}", step.id.app, step.id.name));
            for op in &step.operations {
                self.ui.detail(&format!("    - {op}"));
            }
        }
        let blocked: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.backwards && s.irreversible)
            .map(|s| format!("{}.{}", s.id.app, s.id.name))
            .collect();
        let n = plan.steps.len();
        if !blocked.is_empty() && self.req.action != Action::Show && !self.req.fake {
            return Err(Fail::refused(format!(
                "cannot unapply {}: it has an operation without reverse code (RunPython/RunSQL); restore a backup instead, or use --fake to only record the rollback",
                blocked.join(", ")
            )));
        }
        Ok(Done::Ok(format!("{n} step(s)")))
    }
}
