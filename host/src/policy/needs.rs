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
