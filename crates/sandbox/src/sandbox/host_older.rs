//! The host imports of every older version of `platform:migrate`. They are the same as the
//! newest version's (`bindings::latest`; versions since 0.1.0 added exports only, and 0.2.0
//! `process.host-path`), so each call is converted field by field to its newest twin (`ll`,
//! `lc`, `lp`), served by the one implementation (`host_log.rs`, `host_config.rs`,
//! `host_process.rs`), and its answer converted back. A new version whose imports are the
//! newest's is one line at the end of this file.

/// The imports of `$version`, served by the newest version's implementation; `host_path` when
/// the version has `process.host-path`.
macro_rules! served_by_latest {
    (@host_path) => {
        fn host_path(&mut self, guest: String) -> Result<String, pv::Error> {
            lp::Host::host_path(self, guest).map_err(error)
        }
    };
    ($version:ident $(, $host_path:ident)?) => {
        mod $version {
            use super::super::bindings::{latest, $version};
            use super::super::state::PluginState;
            use crate::background::Background;
            use wasmtime::component::Resource;

            use latest::platform::migrate::{config as lc, log as ll, process as lp};
            use $version::platform::migrate::{config as cv, log as lv, process as pv};

            impl lv::Host for PluginState {
                fn write(
                    &mut self,
                    level: lv::Level,
                    message: String,
                    fields: Vec<(String, String)>,
                ) {
                    let level = match level {
                        lv::Level::Trace => ll::Level::Trace,
                        lv::Level::Debug => ll::Level::Debug,
                        lv::Level::Info => ll::Level::Info,
                        lv::Level::Warn => ll::Level::Warn,
                        lv::Level::Error => ll::Level::Error,
                    };
                    ll::Host::write(self, level, message, fields)
                }
            }

            impl cv::Host for PluginState {
                fn get(&mut self, key: String) -> Option<String> {
                    lc::Host::get(self, key)
                }

                fn all(&mut self) -> Vec<(String, String)> {
                    lc::Host::all(self)
                }

                fn secret(&mut self, name: String) -> Result<String, cv::SecretError> {
                    lc::Host::secret(self, name).map_err(|e| match e {
                        lc::SecretError::NotGranted(m) => cv::SecretError::NotGranted(m),
                        lc::SecretError::Unavailable(m) => cv::SecretError::Unavailable(m),
                    })
                }
            }

            fn command(c: pv::Command) -> lp::Command {
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

            fn error(e: lp::Error) -> pv::Error {
                match e {
                    lp::Error::Denied(m) => pv::Error::Denied(m),
                    lp::Error::NotFound(m) => pv::Error::NotFound(m),
                    lp::Error::TimedOut(ms) => pv::Error::TimedOut(ms),
                    lp::Error::FileExists(m) => pv::Error::FileExists(m),
                    lp::Error::Io(m) => pv::Error::Io(m),
                }
            }

            impl pv::Host for PluginState {
                fn run(&mut self, cmd: pv::Command) -> Result<pv::Output, pv::Error> {
                    lp::Host::run(self, command(cmd))
                        .map(|o| pv::Output {
                            exit_code: o.exit_code,
                            stdout: o.stdout,
                            stderr: o.stderr,
                            truncated: o.truncated,
                            written: o.written.map(|w| pv::WrittenFile {
                                size: w.size,
                                sha256: w.sha256,
                            }),
                        })
                        .map_err(error)
                }

                $(served_by_latest!(@$host_path);)?

                fn start(&mut self, cmd: pv::Command) -> Result<Resource<Background>, pv::Error> {
                    lp::Host::start(self, command(cmd)).map_err(error)
                }
            }

            impl pv::HostChild for PluginState {
                fn read_line(
                    &mut self,
                    child: Resource<Background>,
                    timeout_ms: u64,
                ) -> Result<Option<String>, pv::Error> {
                    lp::HostChild::read_line(self, child, timeout_ms).map_err(error)
                }

                fn write_line(
                    &mut self,
                    child: Resource<Background>,
                    line: String,
                ) -> Result<(), pv::Error> {
                    lp::HostChild::write_line(self, child, line).map_err(error)
                }

                fn stderr(&mut self, child: Resource<Background>) -> String {
                    lp::HostChild::stderr(self, child)
                }

                fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
                    lp::HostChild::drop(self, child)
                }
            }
        }
    };
}

served_by_latest!(v0_1);
served_by_latest!(v0_2, host_path);
