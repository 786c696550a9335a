//! The `process` import: grants are checked before anything is spawned; the spawn itself is
//! `crate::proc` (argv only, clean environment, timeout, capped output). Files named for stdin
//! and stdout are opened by the host through cap-std inside their grant.

use super::bindings::platform::migrate::process::{Command, Error, Host, Output, WrittenFile};
use super::state::{PluginState, Written};
use crate::policy::{self, Access, CommandRequest};
use crate::proc::{self, ProcError, Spawn};
use std::path::PathBuf;
use std::time::Duration;

impl PluginState {
    /// Open a guest file for the child's stdin, read-only, inside its grant.
    fn open_stdin(&mut self, guest: &str) -> Result<std::fs::File, Error> {
        let (grant, rest) =
            match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
                Ok(x) => x,
                Err(d) => return Err(Error::Denied(self.deny(d.0))),
            };
        let root = cap_std::fs::Dir::open_ambient_dir(&grant.host, cap_std::ambient_authority())
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", grant.host.display())))?;
        let file = root
            .open(&rest)
            .map_err(|e| Error::Io(format!("cannot open {guest} for reading: {e}")))?;
        Ok(file.into_std())
    }

    /// Create a new guest file for the child's stdout inside a read-write grant; never
    /// overwrites. Returns the file and its host path.
    fn create_stdout(&mut self, guest: &str) -> Result<(std::fs::File, PathBuf), Error> {
        let (grant, rest) =
            match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
                Ok(x) => x,
                Err(d) => return Err(Error::Denied(self.deny(d.0))),
            };
        if grant.access != Access::ReadWrite {
            let msg = format!(
                "plugin '{}' asked to write {guest}, but {} is granted read-only; grant it access = \"read-write\" in plugins.{}.grants.dirs",
                self.grants.plugin, grant.guest, self.grants.plugin
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        let host_path = grant.host.join(&rest);
        let root = cap_std::fs::Dir::open_ambient_dir(&grant.host, cap_std::ambient_authority())
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", grant.host.display())))?;
        let mut opts = cap_std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        match root.open_with(&rest, &opts) {
            Ok(f) => Ok((f.into_std(), host_path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::FileExists(guest.to_string()))
            }
            Err(e) => Err(Error::Io(format!("cannot create {guest}: {e}"))),
        }
    }
}

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
        let stdin = match &cmd.stdin_file {
            Some(guest) => Some(self.open_stdin(guest)?),
            None => None,
        };
        let (stdout_to, stdout_path) = match &cmd.stdout_file {
            Some(guest) => {
                let (f, p) = self.create_stdout(guest)?;
                (Some(f), Some(p))
            }
            None => (None, None),
        };
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
            stdin,
            stdout_to,
            max_output: self.limiter.limits.process_output_bytes,
        });
        if let (Some(path), Ok(f)) = (&stdout_path, &result) {
            if let Some((size, sha256)) = &f.written {
                self.written.push(Written {
                    path: path.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                });
            }
        }
        match result {
            Ok(f) => Ok(Output {
                exit_code: f.exit_code,
                stdout: f.stdout,
                stderr: f.stderr,
                truncated: f.truncated,
                written: f.written.map(|(size, sha256)| WrittenFile { size, sha256 }),
            }),
            Err(ProcError::NotFound(m)) => Err(Error::NotFound(m)),
            Err(ProcError::TimedOut(d)) => Err(Error::TimedOut(d.as_millis() as u64)),
            Err(ProcError::Io(m)) => Err(Error::Io(m)),
        }
    }
}
