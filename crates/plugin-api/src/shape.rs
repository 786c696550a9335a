//! What a component is, from the names of its imports and exports alone: which plugin world it
//! implements, which `platform:migrate` version it was built against, and which host
//! capabilities it can ask for. Free of wasmtime (the names are read by `check.rs`), so it is
//! unit tested on plain lists.

use super::versions;

/// The three plugin worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Runner,
    Backup,
    Notifier,
}

impl World {
    pub const ALL: [World; 3] = [World::Runner, World::Backup, World::Notifier];

    /// The world's name in WIT.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::Runner => "migration-runner",
            World::Backup => "backup-provider",
            World::Notifier => "notifier",
        }
    }

    /// The name `plugin new --kind` and the config use.
    pub fn kind(self) -> &'static str {
        match self {
            World::Runner => "runner",
            World::Backup => "backup",
            World::Notifier => "notifier",
        }
    }

    /// Every function the world exports.
    pub fn exports(self) -> &'static [&'static str] {
        match self {
            World::Runner => &[
                "describe",
                "check-connection",
                "list-migrations",
                "plan",
                "sql",
                "apply",
                "make-migrations",
                "reset-database",
                "load-fixtures",
                "pending-model-changes",
                "lock-database",
            ],
            World::Backup => &["describe", "create", "verify", "delete", "list-backups"],
            World::Notifier => &["describe", "notify"],
        }
    }

    /// Functions the world exports since a WIT version after 0.1.0: `(version prefix, names)`.
    pub fn added(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            World::Runner => &[(
                "0.2.",
                &[
                    "ledger-read",
                    "ledger-append",
                    "lint-sql",
                    "empty-tables",
                    "database-aliases",
                    "lock-holders",
                    "invalid-indexes",
                    "drop-invalid-index",
                ],
            )],
            World::Backup => &[("0.2.", &["restore"])],
            World::Notifier => &[],
        }
    }

    /// The export that only this world has.
    fn marker(self) -> &'static str {
        match self {
            World::Runner => "apply",
            World::Backup => "create",
            World::Notifier => "notify",
        }
    }
}

/// Why a component is not one of the plugin worlds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("it implements none of the plugin worlds (migration-runner, backup-provider, notifier): it exports {}; build it from a platform-migrate world (`platform-migrate plugin new`)", list_or_nothing(.exports))]
    NoWorld { exports: Vec<String> },
    #[error("it looks like a {} plugin but lacks the export{} {}; implement every function of the world (the SDK's trait does)", .world.wit_name(), if .missing.len() == 1 { "" } else { "s" }, .missing.join(", "))]
    Incomplete { world: World, missing: Vec<String> },
    #[error("it exports functions of several worlds ({}); a plugin implements exactly one", .worlds.iter().map(|w| w.wit_name()).collect::<Vec<_>>().join(", "))]
    Ambiguous { worlds: Vec<World> },
}

fn list_or_nothing(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

/// Top-level import and export names of a component.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Shape {
    /// The world the exports implement.
    pub fn world(&self) -> Result<World, ShapeError> {
        let has = |n: &str| self.exports.iter().any(|e| e == n);
        let candidates: Vec<World> = World::ALL.into_iter().filter(|w| has(w.marker())).collect();
        match candidates.as_slice() {
            [] => Err(ShapeError::NoWorld {
                exports: self.exports.clone(),
            }),
            [world] => {
                let versions = self.wit_versions();
                let added = world
                    .added()
                    .iter()
                    .filter(|(since, _)| versions.iter().any(|v| v.starts_with(since)))
                    .flat_map(|(_, names)| names.iter());
                let missing: Vec<String> = world
                    .exports()
                    .iter()
                    .chain(added)
                    .filter(|n| !has(n))
                    .map(|n| n.to_string())
                    .collect();
                if missing.is_empty() {
                    Ok(*world)
                } else {
                    Err(ShapeError::Incomplete {
                        world: *world,
                        missing,
                    })
                }
            }
            many => Err(ShapeError::Ambiguous {
                worlds: many.to_vec(),
            }),
        }
    }

    /// The `platform:migrate` versions its imports name.
    pub fn wit_versions(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter_map(|n| versions::package_version(n))
            .collect()
    }

    /// The supported version that loads it.
    pub fn wit_version(&self) -> Result<String, versions::VersionError> {
        versions::resolve(self.wit_versions())
    }

    /// What its imports let it ask the host for, in words (for `plugin inspect`).
    pub fn host_interfaces(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .imports
            .iter()
            .filter_map(|n| {
                let base = n.split('@').next().unwrap_or(n);
                let what = match base {
                    "platform:migrate/process" => "process: run granted programs (grants.commands)",
                    "platform:migrate/config" => {
                        "config: read settings and granted secrets (grants.secrets)"
                    }
                    "platform:migrate/log" => "log: write to the host's log",
                    "wasi:http/outgoing-handler" => {
                        "wasi:http: send HTTP requests to granted origins (grants.hosts)"
                    }
                    "wasi:filesystem/preopens" => {
                        "wasi:filesystem: use granted directories (grants.dirs)"
                    }
                    _ => return None,
                };
                Some(what.to_string())
            })
            .collect();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(imports: &[&str], exports: &[&str]) -> Shape {
        Shape {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn worlds_are_told_apart_by_their_exports() {
        for w in World::ALL {
            assert_eq!(shape(&[], w.exports()).world(), Ok(w));
        }
    }

    #[test]
    fn wrong_shapes_say_what_is_wrong() {
        let e = shape(&[], &["wasi:cli/run@0.2.6"]).world().unwrap_err();
        assert!(e.to_string().contains("none of the plugin worlds"), "{e}");
        assert!(e.to_string().contains("wasi:cli/run@0.2.6"), "{e}");
        let e = shape(&[], &["describe", "notify", "create"])
            .world()
            .unwrap_err();
        assert!(matches!(e, ShapeError::Ambiguous { .. }), "{e}");
        let e = shape(&[], &["describe", "create"]).world().unwrap_err();
        assert!(e.to_string().contains("backup-provider"), "{e}");
        assert!(
            e.to_string().contains("verify, delete, list-backups"),
            "{e}"
        );
    }

    #[test]
    fn version_and_interfaces_come_from_imports() {
        let s = shape(
            &[
                "wasi:io/streams@0.2.6",
                "platform:migrate/types@0.1.0",
                "platform:migrate/log@0.1.0",
                "wasi:http/outgoing-handler@0.2.6",
            ],
            World::Notifier.exports(),
        );
        assert_eq!(s.wit_version().unwrap(), "0.1.0");
        let i = s.host_interfaces();
        assert_eq!(i.len(), 2, "{i:?}");
        assert!(i[1].contains("grants.hosts"));
    }
}
