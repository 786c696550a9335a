//! The host imports of `platform:migrate@0.3.0`. They are the same as 0.2.0's (0.3.0 adds
//! runner exports only), so each call is converted field by field to its 0.2.0 twin and
//! served by the one implementation (`host_log.rs`, `host_config.rs`, `host_process.rs`).

use super::bindings::{v0_2, v0_3};
use super::state::PluginState;
use crate::background::Background;
use wasmtime::component::Resource;

use v0_2::platform::migrate::{config as c2, log as l2, process as p2};
use v0_3::platform::migrate::{config as c3, log as l3, process as p3};

impl l3::Host for PluginState {
    fn write(&mut self, level: l3::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            l3::Level::Trace => l2::Level::Trace,
            l3::Level::Debug => l2::Level::Debug,
            l3::Level::Info => l2::Level::Info,
            l3::Level::Warn => l2::Level::Warn,
            l3::Level::Error => l2::Level::Error,
        };
        l2::Host::write(self, level, message, fields)
    }
}

impl c3::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        c2::Host::get(self, key)
    }

    fn all(&mut self) -> Vec<(String, String)> {
        c2::Host::all(self)
    }

    fn secret(&mut self, name: String) -> Result<String, c3::SecretError> {
        c2::Host::secret(self, name).map_err(|e| match e {
            c2::SecretError::NotGranted(m) => c3::SecretError::NotGranted(m),
            c2::SecretError::Unavailable(m) => c3::SecretError::Unavailable(m),
        })
    }
}

fn command(c: p3::Command) -> p2::Command {
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

fn error(e: p2::Error) -> p3::Error {
    match e {
        p2::Error::Denied(m) => p3::Error::Denied(m),
        p2::Error::NotFound(m) => p3::Error::NotFound(m),
        p2::Error::TimedOut(ms) => p3::Error::TimedOut(ms),
        p2::Error::FileExists(m) => p3::Error::FileExists(m),
        p2::Error::Io(m) => p3::Error::Io(m),
    }
}

impl p3::Host for PluginState {
    fn run(&mut self, cmd: p3::Command) -> Result<p3::Output, p3::Error> {
        p2::Host::run(self, command(cmd))
            .map(|o| p3::Output {
                exit_code: o.exit_code,
                stdout: o.stdout,
                stderr: o.stderr,
                truncated: o.truncated,
                written: o.written.map(|w| p3::WrittenFile {
                    size: w.size,
                    sha256: w.sha256,
                }),
            })
            .map_err(error)
    }

    fn host_path(&mut self, guest: String) -> Result<String, p3::Error> {
        p2::Host::host_path(self, guest).map_err(error)
    }

    fn start(&mut self, cmd: p3::Command) -> Result<Resource<Background>, p3::Error> {
        p2::Host::start(self, command(cmd)).map_err(error)
    }
}

impl p3::HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, p3::Error> {
        p2::HostChild::read_line(self, child, timeout_ms).map_err(error)
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), p3::Error> {
        p2::HostChild::write_line(self, child, line).map_err(error)
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        p2::HostChild::stderr(self, child)
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        p2::HostChild::drop(self, child)
    }
}
