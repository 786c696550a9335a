//! The host imports of `platform:migrate@0.2.0`. They are the same as the newest version's
//! (`bindings::latest`, 0.3.0, which adds runner exports only), so each call is converted field
//! by field to its newest twin (`ll`, `lc`, `lp`) and served by the one implementation
//! (`host_log.rs`, `host_config.rs`, `host_process.rs`).

use super::bindings::{latest, v0_2};
use super::state::PluginState;
use crate::background::Background;
use wasmtime::component::Resource;

use latest::platform::migrate::{config as lc, log as ll, process as lp};
use v0_2::platform::migrate::{config as c2, log as l2, process as p2};

impl l2::Host for PluginState {
    fn write(&mut self, level: l2::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            l2::Level::Trace => ll::Level::Trace,
            l2::Level::Debug => ll::Level::Debug,
            l2::Level::Info => ll::Level::Info,
            l2::Level::Warn => ll::Level::Warn,
            l2::Level::Error => ll::Level::Error,
        };
        ll::Host::write(self, level, message, fields)
    }
}

impl c2::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        lc::Host::get(self, key)
    }

    fn all(&mut self) -> Vec<(String, String)> {
        lc::Host::all(self)
    }

    fn secret(&mut self, name: String) -> Result<String, c2::SecretError> {
        lc::Host::secret(self, name).map_err(|e| match e {
            lc::SecretError::NotGranted(m) => c2::SecretError::NotGranted(m),
            lc::SecretError::Unavailable(m) => c2::SecretError::Unavailable(m),
        })
    }
}

fn command(c: p2::Command) -> lp::Command {
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

fn error(e: lp::Error) -> p2::Error {
    match e {
        lp::Error::Denied(m) => p2::Error::Denied(m),
        lp::Error::NotFound(m) => p2::Error::NotFound(m),
        lp::Error::TimedOut(ms) => p2::Error::TimedOut(ms),
        lp::Error::FileExists(m) => p2::Error::FileExists(m),
        lp::Error::Io(m) => p2::Error::Io(m),
    }
}

impl p2::Host for PluginState {
    fn run(&mut self, cmd: p2::Command) -> Result<p2::Output, p2::Error> {
        lp::Host::run(self, command(cmd))
            .map(|o| p2::Output {
                exit_code: o.exit_code,
                stdout: o.stdout,
                stderr: o.stderr,
                truncated: o.truncated,
                written: o.written.map(|w| p2::WrittenFile {
                    size: w.size,
                    sha256: w.sha256,
                }),
            })
            .map_err(error)
    }

    fn host_path(&mut self, guest: String) -> Result<String, p2::Error> {
        lp::Host::host_path(self, guest).map_err(error)
    }

    fn start(&mut self, cmd: p2::Command) -> Result<Resource<Background>, p2::Error> {
        lp::Host::start(self, command(cmd)).map_err(error)
    }
}

impl p2::HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, p2::Error> {
        lp::HostChild::read_line(self, child, timeout_ms).map_err(error)
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), p2::Error> {
        lp::HostChild::write_line(self, child, line).map_err(error)
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        lp::HostChild::stderr(self, child)
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        lp::HostChild::drop(self, child)
    }
}
