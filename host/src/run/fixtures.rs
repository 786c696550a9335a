//! Fixtures: after a successful migrate (part of step 5), the environment's fixtures are loaded
//! in order through the runner, unless `--no-fixtures` or `--fake`. A failing fixture fails the
//! run naming the fixture and the framework's message; the migrations stand.

use super::request::Action;
use super::{Fail, Run};

impl Run<'_> {
    /// Load the fixtures; returns a phrase for the step's outcome, or `None` when there were
    /// none to load.
    pub(super) fn load_fixtures(&mut self) -> Result<Option<String>, Fail> {
        let fixtures = &self.env.fixtures;
        if fixtures.is_empty() || self.req.action != Action::Migrate || self.req.fake {
            return Ok(None);
        }
        if self.req.no_fixtures {
            self.ui.detail(&format!(
                "fixtures skipped (--no-fixtures): {}",
                fixtures.join(", ")
            ));
            return Ok(None);
        }
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let loaded = runner
            .load_fixtures(&ctx, fixtures)?
            .map_err(|e| self.runner_fail("load fixtures", e))?;
        for f in &loaded {
            self.ui
                .detail(&format!("fixture {}: {} object(s)", f.fixture, f.objects));
        }
        let objects: u32 = loaded.iter().map(|f| f.objects).sum();
        self.entry.fixtures = loaded.into_iter().map(Into::into).collect();
        Ok(Some(format!(
            "{} fixture(s), {objects} object(s)",
            self.entry.fixtures.len()
        )))
    }
}
