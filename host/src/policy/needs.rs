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
                format!("{{ program = \"{p}\", args = [\"**\"] }}"),
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
    /// The first need the grants do not cover, as a message naming the grant to add.
    pub fn check_needs(&self, needs: &[Need]) -> Result<(), Denied> {
        let p = &self.plugin;
        for need in needs {
            let missing = match need {
                Need::RunProgram(prog) if !self.commands.iter().any(|c| &c.program == prog) => Some(format!(
                    "plugin '{p}' needs to run `{prog}`, which its grants do not allow; add {{ program = \"{prog}\", args = [\"**\"] }} (or a narrower pattern) to plugins.{p}.grants.commands"
                )),
                Need::Directory(guest) if !self.dirs.iter().any(|d| super::dirs::to_host(p, std::slice::from_ref(d), guest).is_ok()) => Some(format!(
                    "plugin '{p}' needs directory {guest}; add {{ host = \"...\", guest = \"{guest}\", access = \"read-only\" }} to plugins.{p}.grants.dirs"
                )),
                Need::EnvVar(v) if !self.env.contains(v) && !self.inherit_env.contains(v) => Some(format!(
                    "plugin '{p}' needs to set environment variable {v}; add \"{v}\" to plugins.{p}.grants.env"
                )),
                Need::Secret(s) if !self.secrets.contains(s) => Some(format!(
                    "plugin '{p}' needs secret '{s}'; add {s} = {{ env = \"VAR\" }} to plugins.{p}.grants.secrets"
                )),
                Need::OutboundHttp(origin) if !super::hosts::allows_origin(&self.hosts, origin) => Some(format!(
                    "plugin '{p}' needs outbound HTTP to {origin}; add \"{origin}\" to plugins.{p}.grants.hosts"
                )),
                _ => None,
            };
            if let Some(m) = missing {
                return Err(Denied(m));
            }
        }
        Ok(())
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
            }],
            dirs: vec![DirGrant {
                host: "/srv".into(),
                guest: "/project".into(),
                access: Access::ReadOnly,
            }],
            env: vec!["DJANGO_SETTINGS_MODULE".into()],
            inherit_env: vec![],
            secrets: vec!["db".into()],
            hosts: vec![crate::policy::HostGrant::parse("https://*.example.com").unwrap()],
            timeout_secs: 10,
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
