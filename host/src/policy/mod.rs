//! What each plugin is granted, and the checks against it. Free of wasmtime so that every rule
//! has plain unit tests; the sandbox calls these before it does anything on a plugin's behalf.

pub mod commands;
pub mod dirs;
pub mod env;
pub mod hosts;
pub mod limits;
pub mod needs;
#[cfg(test)]
mod properties;

pub use commands::{CommandGrant, CommandRequest};
pub use dirs::{Access, DirGrant};
pub use hosts::HostGrant;
pub use limits::Limits;
pub use needs::{grants_toml, Need};

/// Everything one plugin instance may use.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Name of the plugin entry (`[plugins.NAME]`), for messages.
    pub plugin: String,
    pub commands: Vec<CommandGrant>,
    pub dirs: Vec<DirGrant>,
    /// Variables the plugin may set on child processes.
    pub env: Vec<String>,
    /// Variables copied from the host's environment into every child process.
    pub inherit_env: Vec<String>,
    /// Secret names the plugin may read.
    pub secrets: Vec<String>,
    /// Origins the plugin may send HTTP requests to.
    pub hosts: Vec<HostGrant>,
    /// Upper bound for one child process, in seconds.
    pub timeout_secs: u64,
}

/// A refusal, with a message that says which grant would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl Grants {
    /// Check a process request against the command, env and directory grants.
    pub fn check_command(&self, req: &CommandRequest<'_>) -> Result<(), Denied> {
        commands::check(&self.plugin, &self.commands, req)?;
        for (name, _) in req.env {
            env::check_settable(&self.plugin, &self.env, name)?;
        }
        Ok(())
    }
}
