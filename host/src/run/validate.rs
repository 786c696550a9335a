//! Step 1: validate the environment: the safety gates, and every plugin the run needs loaded,
//! instantiated and checked against its grants before anything touches the database.

use super::request::Action;
use super::{Done, Fail, Run};
use crate::exit::Code;
use crate::plugin_api::Info;

fn label(name: &str, info: &Info) -> String {
    format!("{name} ({} {})", info.name, info.version)
}

impl Run<'_> {
    /// One run at a time per environment: take its lock (or wait, with `--wait`).
    fn take_lock(&mut self) -> Result<(), Fail> {
        let me = crate::lock::Holder {
            pid: std::process::id(),
            host: self.entry.host.clone(),
            started: self.entry.started.clone(),
            run_id: self.run_id.clone(),
        };
        let lock = crate::lock::acquire(
            &self.cfg.state_dir,
            &self.env.qualified_name(),
            &me,
            self.req.wait,
        )
        .map_err(|e| match e {
            crate::lock::LockError::Busy { .. } => Fail::new(Code::Busy, e.to_string()),
            crate::lock::LockError::Io { .. } => Fail::failed(e.to_string()),
        })?;
        self.lock = Some(lock);
        Ok(())
    }

    pub(super) fn validate(&mut self) -> Result<Done, Fail> {
        let env = self.env;
        // Notifiers first: a run refused by the gates below is still announced.
        let mut parts = Vec::new();
        if self.req.action != Action::Show {
            for name in &env.notifiers {
                let cfg = &self.cfg.plugins[name];
                let n = self.opener.notifier(&self.cfg.base_dir, cfg)?;
                parts.push(format!("notifier {}", label(name, &n.info)));
                self.notifiers.push(n.plugin);
            }
        }
        if self.req.reset && env.name == "prod" {
            return Err(Fail::refused(
                "--reset empties the database and is never allowed in prod; nothing was touched",
            ));
        }
        if self.req.reset && !env.allow_reset {
            return Err(Fail::refused(format!(
                "--reset is not allowed in env {}: it empties the database. Set allow-reset = true in [env.{}] to allow it",
                env.name, env.name
            )));
        }
        if env.require_confirm && !self.req.confirm && self.req.action != Action::Show {
            return Err(Fail::refused(format!(
                "env {} requires --confirm; this run would {}. Check the plan with `--env {} --show`, then re-run with --confirm",
                env.name,
                self.req.describe(),
                env.name
            )));
        }
        let changes = self.req.action.changes_database();
        if self.req.action != Action::Show {
            self.take_lock()?;
        }
        if changes && env.backup_required && env.backup.is_none() {
            return Err(Fail::usage(format!(
                "env {} requires a backup before migrating but none is configured; set env.{}.backup to a backup-provider plugin",
                env.name, env.name
            )));
        }

        let runner_cfg = &self.cfg.plugins[&env.runner];
        let runner = self
            .opener
            .runner(&self.cfg.base_dir, runner_cfg, env.runner_env())?;
        parts.insert(0, format!("runner {}", label(&env.runner, &runner.info)));
        self.runner = Some(runner.plugin);

        if let (true, Some(name)) = (changes, &env.backup) {
            let cfg = &self.cfg.plugins[name];
            let backup = self
                .opener
                .backup(&self.cfg.base_dir, cfg, &env.backup_dir)?;
            parts.push(format!("backup {}", label(name, &backup.info)));
            self.backup = Some(backup.plugin);
        }
        self.ui.detail(&parts.join("; "));
        if let Some(gaps) = crate::confine::support().gaps() {
            self.ui.detail(&format!("warning: {gaps}"));
        }
        Ok(Done::Ok("ok".into()))
    }
}
