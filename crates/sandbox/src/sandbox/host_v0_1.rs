//! The host imports of `platform:migrate@0.1.0`, frozen: each call is converted to its 0.2.0
//! twin, served by the one implementation (`host_log.rs`, `host_config.rs`,
//! `host_process.rs`), and its answer converted back. The two versions' imports are the same
//! so far, so every conversion is field by field.

use super::bindings::{v0_1, v0_2};
use super::state::PluginState;
use crate::background::Background;
use wasmtime::component::Resource;

use v0_1::platform::migrate::{config as c1, log as l1, process as p1};
use v0_2::platform::migrate::{config as c2, log as l2, process as p2};

impl l1::Host for PluginState {
    fn write(&mut self, level: l1::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            l1::Level::Trace => l2::Level::Trace,
            l1::Level::Debug => l2::Level::Debug,
            l1::Level::Info => l2::Level::Info,
            l1::Level::Warn => l2::Level::Warn,
            l1::Level::Error => l2::Level::Error,
        };
        l2::Host::write(self, level, message, fields)
    }
}

impl c1::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        c2::Host::get(self, key)
    }

    fn all(&mut self) -> Vec<(String, String)> {
        c2::Host::all(self)
    }

    fn secret(&mut self, name: String) -> Result<String, c1::SecretError> {
        c2::Host::secret(self, name).map_err(|e| match e {
            c2::SecretError::NotGranted(m) => c1::SecretError::NotGranted(m),
            c2::SecretError::Unavailable(m) => c1::SecretError::Unavailable(m),
        })
    }
}

fn command(c: p1::Command) -> p2::Command {
    p2::Command {
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

fn error(e: p2::Error) -> p1::Error {
    match e {
        p2::Error::Denied(m) => p1::Error::Denied(m),
        p2::Error::NotFound(m) => p1::Error::NotFound(m),
        p2::Error::TimedOut(ms) => p1::Error::TimedOut(ms),
        p2::Error::FileExists(m) => p1::Error::FileExists(m),
        p2::Error::Io(m) => p1::Error::Io(m),
    }
}

impl p1::Host for PluginState {
    fn run(&mut self, cmd: p1::Command) -> Result<p1::Output, p1::Error> {
        p2::Host::run(self, command(cmd))
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
        p2::Host::start(self, command(cmd)).map_err(error)
    }
}

impl p1::HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, p1::Error> {
        p2::HostChild::read_line(self, child, timeout_ms).map_err(error)
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), p1::Error> {
        p2::HostChild::write_line(self, child, line).map_err(error)
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        p2::HostChild::stderr(self, child)
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        p2::HostChild::drop(self, child)
    }
}
