//! Fleets: an environment whose migrations go to several databases (targets). This module
//! holds the parts free of processes and plugins: the fleet's settings, where its target list
//! comes from, and which targets a shard runs. The host's `fleet/` reads the list
//! (`sources.rs`), derives one target's config (`target.rs`) and runs many (`rollout.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One database of a fleet: its name, and values for `${target.KEY}` in plugin settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

impl Target {
    /// A target with no `vars`.
    pub fn named(name: impl Into<String>) -> Target {
        Target {
            name: name.into(),
            vars: BTreeMap::new(),
        }
    }
}

/// Where the target list comes from (exactly one per fleet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `targets = [...]` in the config.
    List(Vec<Target>),
    /// `targets-file`: one name per line, or a JSON array of names or `{ name, vars }`.
    File(PathBuf),
    /// `targets-command`: a program whose standard output is such a list.
    Command(TargetsCommand),
    /// `database-aliases = true`: the aliases the runner reports (Django's `DATABASES`).
    DatabaseAliases,
}

/// `targets-command = { argv = [...], connect = [5432], timeout-secs = 60 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsCommand {
    pub argv: Vec<String>,
    /// TCP ports the program may connect to (kernel-enforced; none by default).
    pub connect: Vec<u16>,
    pub timeout_secs: u64,
}

/// What a failed target does to the rest of the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Start no more targets; those running finish.
    Stop,
    /// Go on with the others and report every failure at the end.
    Continue,
}

/// `[env.NAME.fleet]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    pub source: Source,
    /// Targets run first, before any other; a failure among them stops the rollout.
    pub canary: Vec<String>,
    /// Targets run at once (each costs database connections).
    pub parallel: usize,
    pub on_failure: OnFailure,
    /// `warm-python`: the runner's Python, whose helper sessions each target's run starts
    /// as forks of one interpreter (the fleet's), checked to be a program the runner is
    /// granted.
    pub warm_python: Option<std::path::PathBuf>,
}

/// Default `parallel`: small, because every target holds connections while it runs.
pub const DEFAULT_PARALLEL: usize = 2;
/// Most targets run at once, whatever is asked.
pub const MAX_PARALLEL: usize = 64;

/// A target name: letters, digits, `_`, `-` and `.`, starting with a letter or digit (it
/// names a lock file, a backup folder and a command-line argument).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `--shard I/N`: the I-th of N slices (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The targets of this shard: every N-th one of the list, starting at the I-th, so the
    /// shards 1/N..N/N cover the list exactly once whatever its length.
    pub fn select(self, targets: &[Target]) -> Vec<Target> {
        targets
            .iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// Why a target list cannot be had or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetError {
    #[error("{0}")]
    Source(String),
    #[error("target {name:?} is not a valid name: use letters, digits, `_`, `-` and `.`, starting with a letter or digit")]
    BadName { name: String },
    #[error("target {0:?} is listed twice")]
    Duplicate(String),
    #[error("the target list is empty; a fleet needs at least one target")]
    Empty,
    #[error("unknown target {name:?}; env {env} has: {known}")]
    Unknown {
        name: String,
        env: String,
        known: String,
    },
}

/// Check a list as read: valid, unique names, at least one.
pub fn check_list(targets: &[Target]) -> Result<(), FleetError> {
    if targets.is_empty() {
        return Err(FleetError::Empty);
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in targets {
        if !valid_name(&t.name) {
            return Err(FleetError::BadName {
                name: t.name.clone(),
            });
        }
        if !seen.insert(t.name.as_str()) {
            return Err(FleetError::Duplicate(t.name.clone()));
        }
    }
    Ok(())
}

/// The target called `name`, or an error listing the env's targets.
pub fn find<'a>(env: &str, targets: &'a [Target], name: &str) -> Result<&'a Target, FleetError> {
    targets
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| FleetError::Unknown {
            name: name.to_string(),
            env: env.to_string(),
            known: shown(targets),
        })
}

/// Names for a message, the first 20.
fn shown(targets: &[Target]) -> String {
    let mut names: Vec<&str> = targets.iter().take(20).map(|t| t.name.as_str()).collect();
    if targets.len() > 20 {
        names.push("...");
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<Target> {
        names.iter().map(|n| Target::named(*n)).collect()
    }

    #[test]
    fn shards_cover_every_target_exactly_once() {
        for len in 0..20 {
            let names: Vec<String> = (0..len).map(|i| format!("t{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let targets = list(&refs);
            for count in 1..7 {
                let mut seen: Vec<String> = (1..=count)
                    .flat_map(|index| Shard { index, count }.select(&targets))
                    .map(|t| t.name)
                    .collect();
                seen.sort();
                let mut all = names.clone();
                all.sort();
                assert_eq!(seen, all, "{len} targets in {count} shards");
            }
        }
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn lists_need_unique_valid_names() {
        assert_eq!(check_list(&list(&["eu", "us-1", "a.b_c"])), Ok(()));
        assert_eq!(check_list(&[]), Err(FleetError::Empty));
        assert_eq!(
            check_list(&list(&["eu", "eu"])),
            Err(FleetError::Duplicate("eu".into()))
        );
        for bad in ["", "-x", "a b", "a/b", "../x", "é"] {
            assert!(
                matches!(check_list(&list(&[bad])), Err(FleetError::BadName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_unknown_target_lists_the_known_ones() {
        let e = find("prod", &list(&["eu", "us"]), "asia").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown target \"asia\"; env prod has: eu, us"
        );
    }
}
