//! The host imports of `platform:migrate@0.1.0`, frozen: each call is converted to its twin in
//! the newest version (`bindings::latest`), served by the one implementation (`host_log.rs`,
//! `host_config.rs`, `host_process.rs`), and its answer converted back. The versions' imports
//! are the same so far, so every conversion is field by field.

use super::bindings::{latest, v0_1};
use super::state::PluginState;
use crate::background::Background;
use wasmtime::component::Resource;

use latest::platform::migrate::{config as lc, log as ll, process as lp};
use v0_1::platform::migrate::{config as c1, log as l1, process as p1};

impl l1::Host for PluginState {
    fn write(&mut self, level: l1::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            l1::Level::Trace => ll::Level::Trace,
            l1::Level::Debug => ll::Level::Debug,
            l1::Level::Info => ll::Level::Info,
            l1::Level::Warn => ll::Level::Warn,
            l1::Level::Error => ll::Level::Error,
        };
        ll::Host::write(self, level, message, fields)
    }
}

impl c1::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        lc::Host::get(self, key)
    }

    fn all(&mut self) -> Vec<(String, String)> {
        lc::Host::all(self)
    }

    fn secret(&mut self, name: String) -> Result<String, c1::SecretError> {
        lc::Host::secret(self, name).map_err(|e| match e {
            lc::SecretError::NotGranted(m) => c1::SecretError::NotGranted(m),
            lc::SecretError::Unavailable(m) => c1::SecretError::Unavailable(m),
        })
    }
}

fn command(c: p1::Command) -> lp::Command {
    lp::Command {
        program: c.program,
        args: c.args,
        env: c.env,
        cwd: c.cwd,
        timeout_ms: c.timeout_ms,
        echo: c.echo,
        stdin_file: c.stdin_file,
        stdout_file: c.stdout_file,
    }
}

fn error(e: lp::Error) -> p1::Error {
    match e {
        lp::Error::Denied(m) => p1::Error::Denied(m),
        lp::Error::NotFound(m) => p1::Error::NotFound(m),
        lp::Error::TimedOut(ms) => p1::Error::TimedOut(ms),
        lp::Error::FileExists(m) => p1::Error::FileExists(m),
        lp::Error::Io(m) => p1::Error::Io(m),
    }
}

impl p1::Host for PluginState {
    fn run(&mut self, cmd: p1::Command) -> Result<p1::Output, p1::Error> {
        lp::Host::run(self, command(cmd))
            .map(|o| p1::Output {
                exit_code: o.exit_code,
                stdout: o.stdout,
                stderr: o.stderr,
                truncated: o.truncated,
                written: o.written.map(|w| p1::WrittenFile {
                    size: w.size,
                    sha256: w.sha256,
                }),
            })
            .map_err(error)
    }

    fn start(&mut self, cmd: p1::Command) -> Result<Resource<Background>, p1::Error> {
        lp::Host::start(self, command(cmd)).map_err(error)
    }
}

impl p1::HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, p1::Error> {
        lp::HostChild::read_line(self, child, timeout_ms).map_err(error)
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), p1::Error> {
        lp::HostChild::write_line(self, child, line).map_err(error)
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        lp::HostChild::stderr(self, child)
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        lp::HostChild::drop(self, child)
    }
}
