//! The `process` import: grants are checked before anything is spawned; the spawn itself is
//! `crate::proc` (argv only, clean environment, timeout, capped output). Files named for stdin
//! and stdout are opened by the host through cap-std inside their grant.

use super::bindings::platform::migrate::process::{
    Command, Error, Host, HostChild, Output, WrittenFile,
};
use super::state::{PluginState, Written};
use crate::background::{self, Background};
use crate::policy::{self, Access, CommandRequest};
use crate::proc::{self, ProcError, Spawn};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime::component::Resource;

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

impl PluginState {
    /// Check a command against the grants; the program's host path, the child's environment
    /// (granted inherited variables, then the plugin's) and its working directory.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &mut self,
        cmd: &Command,
    ) -> Result<(PathBuf, Vec<(String, String)>, PathBuf), Error> {
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
        env.extend(self.host_env.iter().cloned());
        env.extend(cmd.env.iter().cloned());
        Ok((program, env, cwd))
    }
}

impl Host for PluginState {
    fn start(&mut self, cmd: Command) -> Result<Resource<Background>, Error> {
        if cmd.timeout_ms.is_some() || cmd.stdin_file.is_some() || cmd.stdout_file.is_some() {
            return Err(Error::Io(
                "start takes no timeout-ms, stdin-file or stdout-file: a background program lives as long as its handle".into(),
            ));
        }
        let (program, env, cwd) = self.prepare(&cmd)?;
        let shown = self
            .redactor
            .redact(&policy::commands::display_argv(&cmd.program, &cmd.args));
        if self.ui.verbose() {
            self.ui.detail(&format!("$ {shown} (in the background)"));
        }
        tracing::debug!(plugin = %self.grants.plugin, "starting in the background: {shown}");
        let child =
            background::start(program, &cmd.args, &env, cwd, shown).map_err(|e| match e {
                ProcError::NotFound(m) => Error::NotFound(m),
                ProcError::TimedOut(d) => Error::TimedOut(d.as_millis() as u64),
                ProcError::Interrupted => Error::Io("the run was interrupted".into()),
                ProcError::Io(m) => Error::Io(m),
            })?;
        self.table
            .push(child)
            .map_err(|e| Error::Io(format!("too many background programs: {e}")))
    }

    fn run(&mut self, cmd: Command) -> Result<Output, Error> {
        let (program, env, cwd) = self.prepare(&cmd)?;
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
            Err(ProcError::Interrupted) => Err(Error::Io(
                "stopped: the run was interrupted (SIGINT/SIGTERM)".into(),
            )),
        }
    }
}

impl HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, Error> {
        let cap = Duration::from_secs(self.grants.timeout_secs);
        let timeout = Duration::from_millis(timeout_ms).min(cap);
        let b = self
            .table
            .get_mut(&child)
            .map_err(|e| Error::Io(format!("unknown background program: {e}")))?;
        let line = b
            .read_line(timeout)
            .map_err(|_| Error::TimedOut(timeout.as_millis() as u64))?;
        Ok(line.map(|l| self.redactor.redact(&l)))
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), Error> {
        let b = self
            .table
            .get_mut(&child)
            .map_err(|e| Error::Io(format!("unknown background program: {e}")))?;
        b.write_line(&line)
            .map_err(|e| Error::Io(format!("cannot write to {}: {e}", b.shown)))
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        match self.table.get(&child) {
            Ok(b) => self.redactor.redact(&b.stderr()),
            Err(_) => String::new(),
        }
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        // Dropping the Background closes stdin, then kills what is left of its group.
        self.table.delete(child)?;
        Ok(())
    }
}
