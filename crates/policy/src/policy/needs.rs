//! What a plugin declares it needs (`describe`), checked against its grants before it starts.

use super::{Denied, Grants};

/// One declared need, independent of the WIT world it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    RunProgram(String),
    Directory(String),
    EnvVar(String),
    Secret(String),
    OutboundHttp(String),
}

impl Need {
    /// The same capability with its value passed through `f`.
    pub fn map_value(self, f: impl FnOnce(&str) -> String) -> Need {
        match self {
            Need::RunProgram(v) => Need::RunProgram(f(&v)),
            Need::Directory(v) => Need::Directory(f(&v)),
            Need::EnvVar(v) => Need::EnvVar(f(&v)),
            Need::Secret(v) => Need::Secret(f(&v)),
            Need::OutboundHttp(v) => Need::OutboundHttp(f(&v)),
        }
    }

    /// The capability's WIT case name and its value: `("secret", "slack-webhook")`.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Need::RunProgram(s) => ("run-program", s),
            Need::Directory(s) => ("directory", s),
            Need::EnvVar(s) => ("env-var", s),
            Need::Secret(s) => ("secret", s),
            Need::OutboundHttp(s) => ("outbound-http", s),
        }
    }

    /// The key under `[plugins.NAME.grants]` that covers it, and its entry there
    /// (placeholders in capitals for what only the user knows).
    pub fn grant(&self) -> (&'static str, String) {
        match self {
            Need::RunProgram(p) => (
                "commands",
                // The arguments only the plugin's author knows: a placeholder, not `**`
                // (which would grant whatever the program can be told to do).
                format!("{{ program = \"{p}\", args = [\"EXACT-ARGS\"] }}"),
            ),
            Need::Directory(g) => (
                "dirs",
                format!("{{ host = \"HOST-DIR\", guest = \"{g}\", access = \"read-only\" }}"),
            ),
            Need::EnvVar(v) => ("env", format!("\"{v}\"")),
            Need::Secret(s) => ("secrets", format!("{s} = {{ env = \"ENV-VAR\" }}")),
            Need::OutboundHttp(o) => ("hosts", format!("\"{o}\"")),
        }
    }
}

/// The `[plugins.NAME.grants]` lines covering `needs`, one key per kind: lists for commands,
/// dirs, env and hosts, an inline table for secrets.
pub fn grants_toml(needs: &[Need]) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["commands", "dirs", "env", "secrets", "hosts"] {
        let items: Vec<String> = needs
            .iter()
            .map(Need::grant)
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .collect();
        if items.is_empty() {
            continue;
        }
        let (open, close) = if key == "secrets" {
            ("{ ", " }")
        } else {
            ("[", "]")
        };
        out.push(format!("{key} = {open}{}{close}", items.join(", ")));
    }
    out
}

impl Grants {
    /// Does a grant cover this need?
    fn covers(&self, need: &Need) -> bool {
        let p = &self.plugin;
        match need {
            Need::RunProgram(prog) => self.commands.iter().any(|c| &c.program == prog),
            Need::Directory(guest) => self
                .dirs
                .iter()
                .any(|d| super::dirs::to_host(p, std::slice::from_ref(d), guest).is_ok()),
            Need::EnvVar(v) => self.env_granted(v) || self.inherit_env.contains(v),
            Need::Secret(s) => self.secrets.contains(s),
            Need::OutboundHttp(origin) => super::hosts::allows_origin(&self.hosts, origin),
        }
    }

    /// The first need the grants do not cover, as a message naming the grant to add (the
    /// same entry `plugin inspect` suggests).
    pub fn check_needs(&self, needs: &[Need]) -> Result<(), Denied> {
        let p = &self.plugin;
        let Some(need) = needs.iter().find(|n| !self.covers(n)) else {
            return Ok(());
        };
        let (what, hint) = match need {
            Need::RunProgram(prog) => (
                format!("to run `{prog}`, which its grants do not allow"),
                " (with the argument patterns it runs)",
            ),
            Need::Directory(guest) => (format!("directory {guest}"), ""),
            Need::EnvVar(v) => (format!("to set environment variable {v}"), ""),
            Need::Secret(s) => (format!("secret '{s}'"), ""),
            Need::OutboundHttp(origin) => (format!("outbound HTTP to {origin}"), ""),
        };
        let (key, entry) = need.grant();
        Err(Denied::with_grant(
            p,
            &format!("needs {what}"),
            key,
            &format!("{entry}{hint}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggested_grants_are_valid_toml_that_covers_the_needs() {
        use super::*;
        let needs = vec![
            Need::Secret("a".into()),
            Need::Secret("b".into()),
            Need::RunProgram("tar".into()),
            Need::OutboundHttp("https://x.example".into()),
            Need::Directory("/data".into()),
            Need::EnvVar("PGHOST".into()),
        ];
        let text = grants_toml(&needs).join("\n");
        let v: toml::Table = toml::from_str(&text).expect(&text);
        assert_eq!(v["secrets"].as_table().unwrap().len(), 2, "{text}");
        assert_eq!(v["commands"][0]["program"].as_str(), Some("tar"));
        assert_eq!(v["dirs"][0]["guest"].as_str(), Some("/data"));
        assert_eq!(v["hosts"][0].as_str(), Some("https://x.example"));
        assert_eq!(v["env"][0].as_str(), Some("PGHOST"));
    }

    use super::*;
    use crate::policy::{Access, CommandGrant, DirGrant};

    fn grants() -> Grants {
        Grants {
            plugin: "django".into(),
            commands: vec![CommandGrant {
                program: "python".into(),
                args: vec!["**".into()],
                roots: vec![],
            }],
            dirs: vec![DirGrant {
                host: "/srv".into(),
                guest: "/project".into(),
                access: Access::ReadOnly,
            }],
            env: vec![crate::policy::EnvGrant::free("DJANGO_SETTINGS_MODULE")],
            inherit_env: vec![],
            secrets: vec!["db".into()],
            hosts: vec![crate::policy::HostGrant::parse("https://*.example.com").unwrap()],
            timeout_secs: 10,
            confine: Default::default(),
        }
    }

    #[test]
    fn covered_needs_pass() {
        let needs = [
            Need::RunProgram("python".into()),
            Need::Directory("/project/sub".into()),
            Need::EnvVar("DJANGO_SETTINGS_MODULE".into()),
            Need::OutboundHttp("https://hooks.example.com".into()),
            Need::Secret("db".into()),
        ];
        assert!(grants().check_needs(&needs).is_ok());
    }

    #[test]
    fn each_missing_need_names_its_grant() {
        let cases = [
            (
                Need::RunProgram(".venv/bin/python".into()),
                "plugins.django.grants.commands",
            ),
            (
                Need::Directory("/data".into()),
                "plugins.django.grants.dirs",
            ),
            (Need::EnvVar("X".into()), "plugins.django.grants.env"),
            (
                Need::Secret("token".into()),
                "plugins.django.grants.secrets",
            ),
            (
                Need::OutboundHttp("https://hooks.slack.com".into()),
                "plugins.django.grants.hosts",
            ),
        ];
        for (need, fix) in cases {
            let e = grants().check_needs(&[need]).unwrap_err();
            assert!(e.0.contains(fix), "{}", e.0);
        }
    }
}
