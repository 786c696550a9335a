//! The config file as written (serde model of the TOML). See docs/configuration.md.

use crate::policy::{Access, CommandGrant};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    /// Where history and backups go; default under the user's state home, outside the
    /// project ([`super::isolation::default_state_dir`]).
    pub state_dir: Option<String>,
    /// With the place of each entry's name, for errors about the entry as a whole.
    #[serde(default)]
    pub plugins: BTreeMap<Spanned<String>, RawPlugin>,
    #[serde(default)]
    pub env: BTreeMap<String, RawEnv>,
    #[serde(default)]
    pub lint: RawLint,
}

/// `[lint]`: the plan linter's rules switched off for this project.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLint {
    #[serde(default)]
    pub disable: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPlugin {
    /// The `.wasm` component, relative to the config file (a third-party plugin).
    pub path: Option<Spanned<String>>,
    /// `builtin:NAME`: a plugin built into the binary, its grant derived from its settings.
    pub plugin: Option<Spanned<String>>,
    /// With the place of each key and value, for the check against the plugin's schema.
    #[serde(default)]
    pub settings: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub grants: RawGrants,
    /// The `.wasm` file's sha256 (lowercase hex); a different file refuses to load.
    pub sha256: Option<Spanned<String>>,
    pub limits: Option<Spanned<RawLimits>>,
}

/// `[plugins.NAME.limits]`: overrides of the sandbox's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLimits {
    pub memory_mb: Option<u64>,
    pub call_timeout_secs: Option<u64>,
    pub process_output_kb: Option<u64>,
    pub http_response_kb: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGrants {
    #[serde(default)]
    pub commands: Vec<Spanned<CommandGrant>>,
    #[serde(default)]
    pub dirs: Vec<RawDir>,
    #[serde(default)]
    pub env: Vec<Spanned<RawEnvGrant>>,
    #[serde(default)]
    pub inherit_env: Vec<Spanned<String>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<SecretSource>>,
    /// Origins for outbound HTTP (`scheme://host[:port]`).
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
    pub timeout_secs: Option<u64>,
    /// What the programs the plugin starts may reach (kernel-enforced).
    #[serde(default)]
    pub confine: RawConfine,
}

/// `grants.env` entry: `"NAME"`, or `{ name = "NAME", value | secret | url-secret = ... }`.
#[derive(Debug)]
pub enum RawEnvGrant {
    Name(String),
    Pinned(RawPinned),
}

/// By hand rather than `untagged`, so that a mistyped key in a pinned entry is reported as the
/// table's own error (`unknown field ..., expected one of ...`) at its place.
impl<'de> Deserialize<'de> for RawEnvGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = RawEnvGrant;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a variable name, or { name = \"VAR\", value | secret | url-secret = \"...\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawEnvGrant, E> {
                Ok(RawEnvGrant::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<RawEnvGrant, A::Error> {
                RawPinned::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(RawEnvGrant::Pinned)
            }
        }
        d.deserialize_any(Entry)
    }
}

/// A pinned `grants.env` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPinned {
    pub name: String,
    pub value: Option<String>,
    pub secret: Option<String>,
    pub url_secret: Option<String>,
}

/// `[plugins.NAME.grants.confine]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfine {
    /// Host folders (relative to the config) the programs may also read.
    #[serde(default)]
    pub read: Vec<Spanned<String>>,
    /// Host folders the programs may write.
    #[serde(default)]
    pub write: Vec<Spanned<String>>,
    /// TCP ports the programs may connect to.
    #[serde(default)]
    pub connect: Vec<Spanned<u16>>,
    /// Secrets holding a `postgresql://` URL: the programs may connect to its TCP port too.
    #[serde(default)]
    pub connect_url: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDir {
    /// Host directory, relative to the config file.
    pub host: String,
    /// Where the plugin sees it.
    pub guest: Spanned<String>,
    pub access: Access,
}

/// Where a secret's value comes from (defined with the secrets it resolves).
pub use crate::secrets::SecretSource;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawEnv {
    /// The migration-runner plugin.
    pub runner: Spanned<String>,
    /// The backup-provider plugin, if any.
    pub backup: Option<Spanned<String>>,
    /// Fail the run when the backup fails (default: true in prod, false elsewhere).
    pub backup_required: Option<bool>,
    /// Where backups go; default `<state-dir>/backups/<env>`.
    pub backup_dir: Option<String>,
    #[serde(default)]
    pub notifiers: Vec<Spanned<String>>,
    /// Show each command and Django's output (default: true in dev).
    pub verbose: Option<bool>,
    /// Require --confirm (default: true in prod).
    pub require_confirm: Option<bool>,
    /// Refuse plans with irreversible steps unless --allow-irreversible (default: true in prod).
    pub refuse_irreversible: Option<bool>,
    /// Retention: keep this many verified backups of the environment (default: all).
    pub keep: Option<Spanned<i64>>,
    /// Allow `--reset` (default: true in test, false elsewhere; never allowed in prod).
    pub allow_reset: Option<Spanned<bool>>,
    /// Fixtures loaded after a successful migrate, in order (`loaddata` names or paths).
    #[serde(default)]
    pub fixtures: Vec<String>,
    /// Refuse plans with destructive or locking findings unless --allow-destructive
    /// (default: prod).
    pub refuse_destructive: Option<bool>,
    /// Refuse runs while applied migrations drifted, unless --accept-drift (default: prod).
    pub refuse_drift: Option<bool>,
    /// PostgreSQL `lock_timeout` for the runner's database sessions, in ms (0: none).
    pub lock_timeout_ms: Option<u64>,
    /// PostgreSQL `statement_timeout` for the runner's database sessions, in ms (0: none).
    pub statement_timeout_ms: Option<u64>,
    /// How many times a migration that gave up at the lock timeout is tried again (default:
    /// 5 in prod, 0 elsewhere).
    pub lock_retries: Option<u32>,
    /// The most time all lock-timeout retries of one run may take, waits included, in
    /// seconds (default 120).
    pub lock_retry_budget_secs: Option<u64>,
    /// The run ledger in the database: `auto` (default; where the runner reports PostgreSQL
    /// and keeps a ledger), `on` (required: a run fails when it cannot be kept) or `off`.
    pub ledger: Option<Spanned<String>>,
    /// The schema the ledger lives in (default `platform_migrate`).
    pub ledger_schema: Option<Spanned<String>>,
    /// An S3-compatible object store that keeps the env's backups off the runner.
    pub backup_store: Option<Spanned<RawStore>>,
    /// Several databases (targets) instead of one.
    pub fleet: Option<Spanned<RawFleet>>,
}

/// `[env.NAME.fleet]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawFleet {
    /// The targets: names, or `{ name = "eu", vars = { db = "shop_eu" } }`.
    pub targets: Option<Vec<RawTarget>>,
    /// A file listing them (relative to the config).
    pub targets_file: Option<String>,
    /// A program printing them.
    pub targets_command: Option<RawTargetsCommand>,
    /// The runner's database aliases (Django's `DATABASES`) are the targets.
    #[serde(default)]
    pub database_aliases: bool,
    #[serde(default)]
    pub canary: Vec<Spanned<String>>,
    pub parallel: Option<Spanned<usize>>,
    /// `stop` (default) or `continue`.
    pub on_failure: Option<Spanned<String>>,
    /// A Python the runner is granted: its helper sessions start as forks of one interpreter
    /// that imported Django once (see `warm`).
    pub warm_python: Option<Spanned<String>>,
}

/// A `targets` entry.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTarget {
    Name(String),
    Full(crate::fleet::Target),
}

/// `targets-command = { argv = [...], connect = [...], timeout-secs = N }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTargetsCommand {
    pub argv: Vec<String>,
    #[serde(default)]
    pub connect: Vec<u16>,
    pub timeout_secs: Option<u64>,
}

/// `[env.NAME.backup-store]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawStore {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: Spanned<String>,
    /// An S3-compatible service's endpoint (MinIO, GCS's S3 API, ...); AWS when absent.
    pub endpoint: Option<Spanned<String>>,
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    pub access_key_id: Spanned<SecretSource>,
    pub secret_access_key: Spanned<SecretSource>,
    pub session_token: Option<Spanned<SecretSource>>,
    /// Allow an `http://` endpoint (a store on this machine or a trusted network).
    #[serde(default)]
    pub allow_http: bool,
    /// Keep the local file as well once the store holds a verified copy (default false).
    #[serde(default)]
    pub keep_local: bool,
    /// Part size of multipart uploads in MiB (5 to 5120; default 16).
    pub part_size_mb: Option<Spanned<u64>>,
}

/// docs/configuration.md (with docs/fleets.md for `[env.NAME.fleet]`) is the config
/// reference: every key the parser accepts is documented there, and every key its TOML
/// examples write (commented out or not) is one the parser accepts in that table.
#[cfg(test)]
mod reference {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The keys serde accepts in the table of type `T`, read from its own "unknown field"
    /// message for the key `zzz-unknown` placed in that table by `text`.
    fn accepted<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> BTreeSet<String> {
        let e = toml::from_str::<T>(text).expect_err("zzz-unknown must be refused");
        let msg = e.message().to_string();
        let list = msg
            .split_once("expected one of ")
            .or_else(|| msg.split_once("expected "))
            .unwrap_or_else(|| panic!("no list of fields in {msg:?}"))
            .1;
        list.split(", ")
            .flat_map(|k| k.split(" or "))
            .map(|k| k.trim().trim_matches('`').to_string())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// Table name (as the docs' headers name it) -> the keys it accepts.
    fn tables() -> BTreeMap<&'static str, BTreeSet<String>> {
        let env = "[plugins.r]\npath = \"r.wasm\"\n[env.dev]\nrunner = \"r\"\n";
        BTreeMap::from([
            ("top", accepted::<RawConfig>("zzz-unknown = 1\n")),
            ("lint", accepted::<RawConfig>("[lint]\nzzz-unknown = 1\n")),
            ("plugin", accepted::<RawConfig>("[plugins.r]\nzzz-unknown = 1\n")),
            (
                "limits",
                accepted::<RawConfig>("[plugins.r]\npath = \"r.wasm\"\n[plugins.r.limits]\nzzz-unknown = 1\n"),
            ),
            (
                "grants",
                accepted::<RawConfig>("[plugins.r]\npath = \"r.wasm\"\n[plugins.r.grants]\nzzz-unknown = 1\n"),
            ),
            (
                "confine",
                accepted::<RawConfig>("[plugins.r]\npath = \"r.wasm\"\n[plugins.r.grants.confine]\nzzz-unknown = 1\n"),
            ),
            ("env", accepted::<RawConfig>(&format!("{env}zzz-unknown = 1\n"))),
            (
                "fleet",
                accepted::<RawConfig>(&format!("{env}[env.dev.fleet]\nzzz-unknown = 1\n")),
            ),
            (
                "targets-command",
                accepted::<RawConfig>(&format!(
                    "{env}[env.dev.fleet]\ntargets-command = {{ argv = [\"x\"], zzz-unknown = 1 }}\n"
                )),
            ),
            (
                "backup-store",
                accepted::<RawConfig>(&format!("{env}[env.dev.backup-store]\nzzz-unknown = 1\n")),
            ),
            ("secret", accepted::<SecretSource>("zzz-unknown = 1\n")),
            ("dir", accepted::<RawDir>("zzz-unknown = 1\n")),
            ("pinned", accepted::<RawPinned>("zzz-unknown = 1\n")),
        ])
    }

    fn docs() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        ["docs/configuration.md", "docs/fleets.md"]
            .iter()
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn every_key_the_parser_accepts_is_documented() {
        let docs = docs();
        let mut missing = Vec::new();
        for (table, keys) in tables() {
            for k in keys {
                let shown = [
                    format!("{k} ="),
                    format!("{k}."),
                    format!("`{k}`"),
                    format!(".{k}]"),
                    format!("[{k}]"),
                ];
                if !shown.iter().any(|s| docs.contains(s.as_str())) {
                    missing.push(format!("{table}: {k}"));
                }
            }
        }
        assert!(missing.is_empty(), "undocumented config keys: {missing:?}");
    }

    #[test]
    fn every_key_the_reference_writes_is_accepted() {
        let tables = tables();
        let header = table_of_header;
        let mut wrong = Vec::new();
        let mut checked = 0;
        for block in docs().split("```toml").skip(1) {
            let mut table = "top".to_string();
            let block = block.split("```").next().unwrap_or("");
            for line in block.lines() {
                let bare = line.trim_start_matches('#').trim();
                if let Some(h) = header(bare) {
                    table = h;
                    continue;
                }
                if line.starts_with(' ') || line.starts_with("#  ") {
                    continue; // continued values and indented comments
                }
                let Some((key, _)) = bare.split_once('=') else {
                    continue;
                };
                let key = key.trim();
                if key.is_empty()
                    || !key.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    })
                {
                    continue; // prose
                }
                let mut path: Vec<&str> = key.split('.').collect();
                let mut t = table.as_str();
                if t == "settings" {
                    continue; // the plugin's own settings, checked by the plugin's declaration
                }
                // Dotted keys walk into nested tables: grants.confine.connect, confine.write.
                while path.len() > 1 {
                    t = match (t, path[0]) {
                        ("plugin", "grants") => "grants",
                        ("plugin", "limits") => "limits",
                        ("plugin", "settings") => "settings",
                        ("grants", "confine") => "confine",
                        ("grants", "secrets") => "secrets",
                        _ => "?",
                    };
                    path.remove(0);
                }
                if t == "settings" || t == "secrets" {
                    continue;
                }
                checked += 1;
                if !tables.get(t).is_some_and(|k| k.contains(path[0])) {
                    wrong.push(format!("[{table}] {key}"));
                }
            }
        }
        assert!(
            checked > 60,
            "only {checked} keys found in the reference's examples"
        );
        assert!(wrong.is_empty(), "keys the parser refuses: {wrong:?}");
    }

    /// The table kind a `[header]` line names (`None` when the line is not one).
    fn table_of_header(line: &str) -> Option<String> {
        let inner = line.strip_prefix('[')?.split(']').next()?;
        if inner.contains(' ') || inner.contains('"') || inner.is_empty() {
            return None;
        }
        let parts: Vec<&str> = inner.split('.').collect();
        Some(
            match parts.as_slice() {
                ["lint"] => "lint",
                ["plugins", _] => "plugin",
                ["plugins", _, "limits"] => "limits",
                ["plugins", _, "grants"] => "grants",
                ["plugins", _, "settings"] => "settings",
                ["env", _] => "env",
                ["env", _, "fleet"] => "fleet",
                ["env", _, "backup-store"] => "backup-store",
                _ => "?",
            }
            .to_string(),
        )
    }
}
