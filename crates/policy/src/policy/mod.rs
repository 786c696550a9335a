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
pub use env::{EnvGrant, Pin};
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
    /// Variables the plugin may set on child processes (some pinned to one value).
    pub env: Vec<EnvGrant>,
    /// Variables copied from the host's environment into every child process.
    pub inherit_env: Vec<String>,
    /// Secret names the plugin may read.
    pub secrets: Vec<String>,
    /// Origins the plugin may send HTTP requests to.
    pub hosts: Vec<HostGrant>,
    /// Upper bound for one child process, in seconds.
    pub timeout_secs: u64,
    /// What the kernel lets the programs this plugin starts touch, besides the defaults.
    pub confine: ChildGrant,
}

impl Grants {
    /// Add a folder the host mounts itself (the backup directory at `/backups`), and resolve
    /// the `<path:..>` argument patterns that name it.
    pub fn mount(&mut self, dir: DirGrant) {
        let dir = DirGrant {
            host: dir.host.components().collect(),
            ..dir
        };
        self.dirs.push(dir);
        for grant in &mut self.commands {
            // Patterns naming other folders were checked when the config was loaded.
            grant.resolve_roots(&self.plugin, &self.dirs);
        }
    }

    /// What the kernel lets `program`, started by this plugin, reach: the program's own
    /// folders, `read` and `write` (the host's own choices: the config's folder, the working
    /// directory, a temp folder), the plugin's dirs by their access, and its `confine` grant.
    pub fn confinement(
        &self,
        program: &std::path::Path,
        read: Vec<std::path::PathBuf>,
        write: Vec<std::path::PathBuf>,
    ) -> crate::confine::Policy {
        let mut policy = crate::confine::Policy {
            exec: crate::confine::program_folders(program),
            read,
            write,
            connect: self.confine.connect.clone(),
        };
        for d in &self.dirs {
            match d.access {
                Access::ReadOnly => policy.read.push(d.host.clone()),
                Access::ReadWrite => policy.write.push(d.host.clone()),
            }
        }
        policy.read.extend(self.confine.read.iter().cloned());
        policy.write.extend(self.confine.write.iter().cloned());
        policy
    }
}

/// `[plugins.NAME.grants.confine]`: what programs started by the plugin may reach, on top of
/// reading the system's directories, the config's folder and the program's own folder, and
/// writing the plugin's read-write dirs and a private temp dir.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildGrant {
    /// Host folders the programs may also read.
    pub read: Vec<std::path::PathBuf>,
    /// Host folders the programs may write (and read).
    pub write: Vec<std::path::PathBuf>,
    /// TCP ports the programs may connect to (none: no TCP connections at all).
    pub connect: Vec<u16>,
    /// Secrets holding a `postgresql://` URL whose TCP port the programs may connect to too:
    /// read when the plugin is loaded ([`ChildGrant::with_url_ports`]), so that a config
    /// follows its database URL without naming the port.
    pub connect_url: Vec<String>,
}

impl ChildGrant {
    /// `connect` with the port of each `connect_url` secret that `value` can read and that is
    /// a `postgresql://` URL of a TCP host (a unix-socket URL needs no port). A secret that
    /// cannot be read adds nothing: whatever asks for it fails on its own, naming the secret.
    pub fn with_url_ports(&self, value: &dyn Fn(&str) -> Option<String>) -> ChildGrant {
        let mut out = self.clone();
        for secret in &self.connect_url {
            let port = value(secret)
                .and_then(|url| libpq_url::from_url(&url).ok())
                .and_then(|env| libpq_url::tcp_port(&env));
            if let Some(port) = port.filter(|p| !out.connect.contains(p)) {
                out.connect.push(port);
            }
        }
        out
    }
}

/// A refusal, with a message that says which grant would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl Denied {
    /// `plugin '{plugin}' {problem}; add {entry} to plugins.{plugin}.grants.{key}`: the one
    /// shape of a denial that a grant would lift, with the entry from the grant model
    /// ([`Need::grant`] or an exact command pattern).
    pub fn with_grant(plugin: &str, problem: &str, key: &str, entry: &str) -> Denied {
        Denied(format!(
            "plugin '{plugin}' {problem}; to allow it add {entry} to plugins.{plugin}.grants.{key}"
        ))
    }

    /// Like [`Denied::with_grant`], with the entry that covers `need`.
    pub fn for_need(plugin: &str, problem: &str, need: &Need) -> Denied {
        let (key, entry) = need.grant();
        Denied::with_grant(plugin, problem, key, &entry)
    }
}

impl Grants {
    /// Check a process request against the command and env grants; `expected` resolves a
    /// pinned variable's value from the config or its secrets.
    pub fn check_command(
        &self,
        req: &CommandRequest<'_>,
        expected: &dyn Fn(&Pin, &str) -> Option<String>,
    ) -> Result<(), Denied> {
        commands::check(&self.plugin, &self.commands, req)?;
        for (name, value) in req.env {
            env::check_settable(&self.plugin, &self.env, name, value, expected)?;
        }
        Ok(())
    }

    /// May the plugin read the secret `name`?
    pub fn check_secret(&self, name: &str) -> Result<(), Denied> {
        if self.secrets.iter().any(|s| s == name) {
            return Ok(());
        }
        Err(Denied::for_need(
            &self.plugin,
            &format!("asked for secret '{name}', which is not granted"),
            &Need::Secret(name.to_string()),
        ))
    }

    /// Is `name` granted in `env` (pinned or not)?
    pub fn env_granted(&self, name: &str) -> bool {
        self.env.iter().any(|g| g.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_against_the_grant_with_the_fix_named() {
        let g = Grants {
            plugin: "slack".into(),
            secrets: vec!["hook".into()],
            ..Grants::default()
        };
        assert!(g.check_secret("hook").is_ok());
        let e = g.check_secret("db").unwrap_err();
        assert!(
            e.0.starts_with("plugin 'slack' asked for secret 'db'"),
            "{}",
            e.0
        );
        assert!(e.0.contains("to plugins.slack.grants.secrets"), "{}", e.0);
    }

    #[test]
    fn url_ports_join_the_connect_grant_once() {
        let grant = ChildGrant {
            connect: vec![5432],
            connect_url: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ..ChildGrant::default()
        };
        let resolved = grant.with_url_ports(&|s| match s {
            "a" => Some("postgresql://u:p@db:6543/x".into()),
            "b" => Some("postgresql://u@db/x".into()),
            "c" => Some("postgresql://u@%2Frun%2Fpg/x".into()),
            _ => None,
        });
        assert_eq!(resolved.connect, vec![5432, 6543]);
    }
}
