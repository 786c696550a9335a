//! The `process` import: grants are checked before anything is spawned; the spawn itself is
//! `crate::proc` (argv only, clean environment, timeout, capped output).

use super::bindings::platform::migrate::process::{Command, Error, Host, Output};
use super::state::PluginState;
use crate::policy::{self, CommandRequest};
use crate::proc::{self, ProcError, Spawn};
use std::time::Duration;

impl Host for PluginState {
    fn run(&mut self, cmd: Command) -> Result<Output, Error> {
        let req = CommandRequest {
            program: &cmd.program,
            args: &cmd.args,
            env: &cmd.env,
        };
        if let Err(denied) = self.grants.check_command(&req) {
            return Err(Error::Denied(self.deny(denied.0)));
        }
        let cwd = match &cmd.cwd {
            None => self.base_dir.clone(),
            Some(guest) => {
                match policy::dirs::to_host(&self.grants.plugin, &self.grants.dirs, guest) {
                    Ok((host, _)) => host,
                    Err(denied) => return Err(Error::Denied(self.deny(denied.0))),
                }
            }
        };
        let program = proc::resolve_program(&cmd.program, &self.base_dir)
            .map_err(|e| Error::NotFound(e.to_string()))?;
        let mut env: Vec<(String, String)> = self
            .grants
            .inherit_env
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        env.extend(cmd.env.iter().cloned());
        let cap = Duration::from_secs(self.grants.timeout_secs);
        let timeout = cmd
            .timeout_ms
            .map(Duration::from_millis)
            .map_or(cap, |t| t.min(cap));
        let shown = self
            .redactor
            .redact(&policy::commands::display_argv(&cmd.program, &cmd.args));
        let echo_on = cmd.echo && self.ui.verbose();
        if echo_on {
            self.ui.live(&format!("$ {shown}"));
        } else if self.ui.verbose() {
            self.ui.detail(&format!("$ {shown}"));
        }
        tracing::debug!(plugin = %self.grants.plugin, "running {shown}");
        let ui = self.ui.clone();
        let redactor = self.redactor.clone();
        let echo = move |line: &str| ui.echo(&redactor.redact(line));
        let result = proc::run(Spawn {
            program,
            args: cmd.args.clone(),
            env,
            cwd,
            timeout,
            echo: if echo_on { Some(&echo) } else { None },
        });
        match result {
            Ok(f) => Ok(Output {
                exit_code: f.exit_code,
                stdout: f.stdout,
                stderr: f.stderr,
                truncated: f.truncated,
            }),
            Err(ProcError::NotFound(m)) => Err(Error::NotFound(m)),
            Err(ProcError::TimedOut(d)) => Err(Error::TimedOut(d.as_millis() as u64)),
            Err(ProcError::Io(m)) => Err(Error::Io(m)),
        }
    }
}
