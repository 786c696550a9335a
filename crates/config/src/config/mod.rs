//! Loading and checking `platform-migrate.toml`. Every error names file, line and column.

mod builtin;
pub mod isolation;
pub mod ledger;
mod raw;

pub use raw::SecretSource;

use crate::policy::{self, DirGrant, Grants, Limits};
use raw::{RawConfig, RawEnv, RawEnvGrant, RawPlugin};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where a backup provider sees its backup folder (the one directory it may write).
pub const BACKUP_GUEST_DIR: &str = "/backups";

/// Default upper bound for one child process of a plugin.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;

/// A config problem at a place in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file {path} not found; create it or pass --config PATH (see docs/configuration.md)"
    )]
    Missing { path: String },
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: {message}")]
    Whole { path: String, message: String },
    #[error("{path}:{line}:{column}: {message}")]
    At {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// A place in the config file, for later errors (e.g. a plugin file that is missing).
#[derive(Debug, Clone)]
pub struct Loc {
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl Loc {
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::At {
            path: self.path.clone(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// One plugin entry, resolved.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub name: String,
    /// Absolute path of the `.wasm` file.
    pub path: PathBuf,
    /// Where `path` (or `plugin`) is written in the config.
    pub path_loc: Loc,
    /// The built-in this entry names (`plugin = "builtin:NAME"`): its component is embedded
    /// in the binary and `path` only shows `builtin:NAME`.
    pub builtin: Option<&'static str>,
    /// A built-in's grant as the host derived it from the settings (narrowed by the entry's
    /// `grants`), as `[plugins.NAME.grants]` lines: what `plugin inspect ENTRY` prints.
    pub derived_grant: Option<String>,
    /// The settings as written, with their places (checked against the plugin's schema).
    pub setting_entries: Vec<SettingEntry>,
    pub grants: Grants,
    pub secrets: BTreeMap<String, SecretSource>,
    /// The pinned sha256 of the `.wasm` file, if any, and where it is written.
    pub sha256: Option<(String, Loc)>,
    pub limits: Limits,
}

impl PluginConfig {
    /// An entry for a plugin file named on the command line: no settings, no grants, default
    /// limits (what `plugin inspect` runs `describe` with).
    pub fn bare(name: &str, path: &Path) -> PluginConfig {
        let builtin = path
            .to_str()
            .and_then(crate::builtins::named)
            .and_then(Result::ok)
            .map(|b| b.name);
        PluginConfig {
            name: name.to_string(),
            path: path.to_path_buf(),
            path_loc: Loc {
                path: "command line".into(),
                line: 1,
                column: 1,
            },
            builtin,
            derived_grant: None,
            setting_entries: Vec::new(),
            grants: Grants {
                plugin: name.to_string(),
                ..Grants::default()
            },
            secrets: BTreeMap::new(),
            sha256: None,
            limits: Limits::default(),
        }
    }
}

impl PluginConfig {
    /// The component's bytes: the embedded built-in's, or the file's.
    pub fn bytes(&self) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
        match self.builtin.and_then(crate::builtins::find) {
            Some(b) => b
                .bytes()
                .map(std::borrow::Cow::Borrowed)
                .map_err(std::io::Error::other),
            None => std::fs::read(&self.path).map(std::borrow::Cow::Owned),
        }
    }

    /// The settings as the plugin reads them: strings as they are, other values as JSON.
    pub fn settings(&self) -> Vec<(String, String)> {
        self.setting_entries
            .iter()
            .map(|e| (e.key.clone(), to_setting(&e.value)))
            .collect()
    }
}

/// One `[plugins.NAME.settings]` key as written.
#[derive(Debug, Clone)]
pub struct SettingEntry {
    pub key: String,
    pub value: toml::Value,
    pub key_at: Loc,
    pub value_at: Loc,
}

/// One environment, resolved.
#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub name: String,
    pub runner: String,
    pub backup: Option<String>,
    pub backup_required: bool,
    pub backup_dir: PathBuf,
    pub notifiers: Vec<String>,
    pub verbose: bool,
    pub require_confirm: bool,
    pub refuse_irreversible: bool,
    /// Verified backups to keep; `None` keeps all.
    pub keep: Option<usize>,
    pub allow_reset: bool,
    pub fixtures: Vec<String>,
    /// Refuse runs while applied migrations drifted, unless --accept-drift.
    pub refuse_drift: bool,
    /// Refuse plans with lint findings unless --allow-destructive.
    pub refuse_destructive: bool,
    /// PostgreSQL `lock_timeout` of the runner's sessions, ms (0: none).
    pub lock_timeout_ms: u64,
    /// PostgreSQL `statement_timeout` of the runner's sessions, ms (0: none).
    pub statement_timeout_ms: u64,
    /// Retries of a migration that gave up at the lock timeout (0: none).
    pub lock_retries: u32,
    /// The most time the retries of one run may take, waits included.
    pub lock_retry_budget: std::time::Duration,
    /// Whether runs are recorded in the ledger in the database.
    pub ledger: ledger::Mode,
    /// The schema the ledger lives in.
    pub ledger_schema: String,
    /// Where backups go off the runner (`None`: the backup directory only).
    pub backup_store: Option<crate::store_config::StoreConfig>,
    /// Several databases instead of one (`[env.NAME.fleet]`).
    pub fleet: Option<crate::fleet::FleetConfig>,
    /// The fleet target this run is for (`--target`), set by `fleet::target::config_for`.
    pub target: Option<String>,
}

impl EnvConfig {
    /// What the env's run lock and history call this run's database: `prod`, or `prod@eu`
    /// for a fleet target.
    pub fn qualified_name(&self) -> String {
        match &self.target {
            Some(t) => format!("{}@{t}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A qualified name's env and fleet target: `prod@eu` is (`prod`, `eu`), `prod` is (`prod`,
/// none). The inverse of [`EnvConfig::qualified_name`].
pub fn split_qualified(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((env, target)) => (env, Some(target)),
        None => (name, None),
    }
}

/// Whether `qualified` (a backup's env, say) is `name` itself or, when `name` is an env, one
/// of its fleet targets: `prod@eu` is within `prod` and within `prod@eu`, not `prod@eu2`.
pub fn within(qualified: &str, name: &str) -> bool {
    qualified == name
        || matches!(
            (split_qualified(name), split_qualified(qualified)),
            ((env, None), (of, Some(_))) if of == env
        )
}

/// Default `lock-timeout-ms`: a migration waits at most this long for a table lock, so it
/// never queues behind a long transaction while the application queues behind it.
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5_000;
/// Default `lock-retries` in prod: with the 5 s lock timeout and waits of about 1, 2, 4, 8 and
/// 16 s between attempts, a run rides out a minute of lock contention (a long report, a
/// vacuum, a deploy's burst) while the application never waits more than 5 s behind it.
pub const DEFAULT_PROD_LOCK_RETRIES: u32 = 5;
/// Default `lock-retry-budget-secs`: the whole retrying, waits included, ends within 2 minutes.
pub const DEFAULT_LOCK_RETRY_BUDGET_SECS: u64 = 120;
/// Default `statement-timeout-ms`: long data migrations are legitimate; endless ones are not.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30 * 60 * 1000;

impl EnvConfig {
    /// What the host sets on every program the runner starts: `PGOPTIONS` with the env's
    /// lock and statement timeouts (read by libpq, so by psycopg and Django; other databases
    /// ignore it).
    pub fn runner_env(&self) -> Vec<(String, String)> {
        vec![(
            "PGOPTIONS".to_string(),
            format!(
                "-c lock_timeout={} -c statement_timeout={}",
                self.lock_timeout_ms, self.statement_timeout_ms
            ),
        )]
    }
}

/// The whole config, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// Its folder; relative paths in the config start here.
    pub base_dir: PathBuf,
    pub state_dir: PathBuf,
    pub plugins: BTreeMap<String, PluginConfig>,
    pub envs: BTreeMap<String, EnvConfig>,
    /// Plan-lint rules switched off (`[lint] disable`).
    pub lint_disabled: Vec<String>,
}

struct Source<'a> {
    path: String,
    text: &'a str,
}

impl Source<'_> {
    fn loc(&self, span: Range<usize>) -> Loc {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        Loc {
            path: self.path.clone(),
            line,
            column,
        }
    }
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        self.loc(span).error(message)
    }
}

impl Config {
    /// Read and check the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing { path: shown });
            }
            Err(e) => {
                return Err(ConfigError::Unreadable {
                    path: shown,
                    reason: e.to_string(),
                })
            }
        };
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let cfg = Config::parse(&text, &shown, abs.clone(), base_dir)?;
        // The default state directory takes over what an earlier version left beside the config.
        if isolation::default_state_dir(&cfg.base_dir).is_ok_and(|d| d == cfg.state_dir) {
            isolation::adopt_old_state(&cfg.base_dir, &cfg.state_dir, &shown)?;
        }
        Ok(cfg)
    }

    /// Parse config text; `shown` names the file in messages.
    pub fn parse(
        text: &str,
        shown: &str,
        path: PathBuf,
        base_dir: PathBuf,
    ) -> Result<Config, ConfigError> {
        let src = Source {
            path: shown.to_string(),
            text,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            match e.span() {
                Some(span) => src.err(span, message),
                None => ConfigError::At {
                    path: shown.into(),
                    line: 1,
                    column: 1,
                    message,
                },
            }
        })?;
        let whole = |message: String| ConfigError::Whole {
            path: shown.to_string(),
            message,
        };
        let state_dir = match raw.state_dir.as_deref() {
            Some(d) => base_dir.join(d),
            None => isolation::default_state_dir(&base_dir).map_err(whole)?,
        };
        let mut plugins = BTreeMap::new();
        for (name, p) in raw.plugins {
            let resolved = resolve_plugin(&src, &base_dir, &name, p)?;
            plugins.insert(name.into_inner(), resolved);
        }
        let mut envs = BTreeMap::new();
        for (name, e) in raw.env {
            let resolved = resolve_env(&src, &base_dir, &state_dir, &plugins, &name, e)?;
            envs.insert(name, resolved);
        }
        let mut lint_disabled = Vec::new();
        for r in &raw.lint.disable {
            if crate::lint::Rule::from_id(r.get_ref()).is_none() {
                let known: Vec<&str> = crate::lint::Rule::ALL.iter().map(|r| r.id()).collect();
                return Err(src.err(
                    r.span(),
                    format!(
                        "unknown lint rule {:?}; rules: {}",
                        r.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
            lint_disabled.push(r.get_ref().clone());
        }
        let config = Config {
            path,
            base_dir,
            state_dir,
            plugins,
            envs,
            lint_disabled,
        };
        isolation::check(&config).map_err(whole)?;
        Ok(config)
    }

    /// The environment called `name`, or a usage message listing the configured ones.
    pub fn env(&self, name: &str) -> Result<&EnvConfig, String> {
        self.envs.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.envs.keys().map(String::as_str).collect();
            if known.is_empty() {
                format!("unknown environment '{name}': {} configures none; add an [env.{name}] table", self.path.display())
            } else {
                format!(
                    "unknown environment '{name}'; configured environments: {} (add [env.{name}] to {} to create it)",
                    known.join(", "),
                    self.path.display()
                )
            }
        })
    }
}

fn to_setting(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn resolve_plugin(
    src: &Source<'_>,
    base: &Path,
    name: &toml::Spanned<String>,
    mut p: RawPlugin,
) -> Result<PluginConfig, ConfigError> {
    let entry_at = name.span();
    let name = name.get_ref().as_str();
    let (path, path_loc, builtin) = match (&p.path, &p.plugin) {
        (Some(path), None) => (base.join(path.get_ref()), src.loc(path.span()), None),
        (None, Some(b)) => {
            let found = builtin::find(src, b)?;
            (PathBuf::from(found.label()), src.loc(b.span()), Some(found.name))
        }
        (Some(_), Some(b)) => {
            return Err(src.err(
                b.span(),
                format!("plugins.{name} gives both path and plugin; keep path = \"FILE.wasm\" for a plugin file or plugin = \"builtin:NAME\" for a built-in"),
            ))
        }
        (None, None) => {
            return Err(src.err(
                entry_at,
                format!("plugins.{name} names no plugin; add plugin = \"builtin:NAME\" ({}) or path = \"FILE.wasm\"", crate::builtins::names()),
            ))
        }
    };
    let secrets = resolve_secrets(src, base, &p.grants.secrets)?;
    // A built-in's grant is derived from its settings (and read from that text), narrowed by
    // what the entry writes; a plugin file's is the entry's own.
    let (derived_grant, raw_grants) = match builtin {
        Some(b) => {
            if let Some(h) = &p.sha256 {
                return Err(src.err(
                    h.span(),
                    format!("plugins.{name} is builtin:{b}, which is trusted as this binary is; remove sha256 (pins are for plugin files)"),
                ));
            }
            let (text, grants) = builtin::grants(src, entry_at, name, b, &p, &secrets)?;
            (Some(text), grants)
        }
        None => (None, std::mem::take(&mut p.grants)),
    };
    let grants_src = match &derived_grant {
        Some(text) => Source {
            path: format!("{} (grant derived for plugins.{name})", src.path),
            text,
        },
        None => Source {
            path: src.path.clone(),
            text: src.text,
        },
    };
    let grants = resolve_grants(&grants_src, base, name, raw_grants, &secrets)?;
    let sha256 = match &p.sha256 {
        None => None,
        Some(h) => {
            let v = h.get_ref();
            if v.len() != 64
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(src.err(
                    h.span(),
                    format!("sha256 {v:?} must be 64 lowercase hex digits; `platform-migrate plugins lock` writes it"),
                ));
            }
            Some((v.clone(), src.loc(h.span())))
        }
    };
    let limits = match &p.limits {
        None => Limits::default(),
        Some(l) => {
            let r = l.get_ref();
            Limits::new(
                r.memory_mb,
                r.call_timeout_secs,
                r.process_output_kb,
                r.http_response_kb,
            )
            .map_err(|why| src.err(l.span(), format!("plugins.{name}.{why}")))?
        }
    };
    Ok(PluginConfig {
        name: name.to_string(),
        path,
        path_loc,
        builtin,
        derived_grant,
        sha256,
        limits,
        setting_entries: p
            .settings
            .iter()
            .map(|(k, v)| SettingEntry {
                key: k.get_ref().clone(),
                value: v.get_ref().clone(),
                key_at: src.loc(k.span()),
                value_at: src.loc(v.span()),
            })
            .collect(),
        grants,
        secrets,
    })
}

/// `grants.secrets`: where each secret's value comes from (a file relative to the config).
fn resolve_secrets(
    src: &Source<'_>,
    base: &Path,
    raw: &BTreeMap<String, toml::Spanned<SecretSource>>,
) -> Result<BTreeMap<String, SecretSource>, ConfigError> {
    let mut secrets = BTreeMap::new();
    for (secret, source) in raw {
        let s = source.get_ref();
        if s.env.is_some() == s.file.is_some() {
            return Err(src.err(source.span(), format!(
                "secret '{secret}' needs exactly one source: {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            )));
        }
        let mut s = s.clone();
        if let Some(f) = &s.file {
            s.file = Some(base.join(f).display().to_string());
        }
        secrets.insert(secret.clone(), s);
    }
    Ok(secrets)
}

/// A plugin's grants as written (or derived), checked; `secrets` are the entry's.
fn resolve_grants(
    src: &Source<'_>,
    base: &Path,
    name: &str,
    g: raw::RawGrants,
    secrets: &BTreeMap<String, SecretSource>,
) -> Result<Grants, ConfigError> {
    let mut dirs = Vec::new();
    for d in g.dirs {
        let guest = d.guest.get_ref().clone();
        if !policy::dirs::valid_guest_path(&guest) {
            return Err(src.err(
                d.guest.span(),
                format!(
                    "guest path {guest:?} must be absolute with no `.` or `..`, like \"/project\""
                ),
            ));
        }
        dirs.push(DirGrant {
            // `host = "."` is the config's folder itself, not `folder/.` (host paths handed to
            // plugins, and `<path:..>` grants, start with it).
            host: base.join(&d.host).components().collect(),
            guest,
            access: d.access,
        });
    }
    // The same never-grantable list for variables set by the plugin and inherited ones.
    let grantable = |var: &str, span: Range<usize>| match policy::env::forbidden(var) {
        Some(why) => Err(src.err(
            span,
            format!("environment variable {var} cannot be granted: {why}"),
        )),
        None => Ok(()),
    };
    for v in &g.inherit_env {
        grantable(v.get_ref(), v.span())?;
    }
    let mut env = Vec::new();
    for v in &g.env {
        let (var, pin) = match v.get_ref() {
            RawEnvGrant::Name(n) => (n.clone(), None),
            RawEnvGrant::Pinned(r) => (
                r.name.clone(),
                Some(policy::Pin {
                    value: r.value.clone(),
                    secret: r.secret.clone(),
                    url_secret: r.url_secret.clone(),
                }),
            ),
        };
        grantable(&var, v.span())?;
        if let Some(pin) = &pin {
            if let Some(why) = pin.problem() {
                return Err(src.err(v.span(), format!("grant of {var}: {why}")));
            }
            for s in [&pin.secret, &pin.url_secret].into_iter().flatten() {
                if !secrets.contains_key(s) {
                    return Err(src.err(
                        v.span(),
                        format!("grant of {var} is pinned to the secret '{s}', which plugins.{name}.grants.secrets does not grant; add it there"),
                    ));
                }
            }
        } else if policy::env::family(&var) == policy::env::Family::Pinned {
            return Err(src.err(
                v.span(),
                format!(
                    "environment variable {var} decides where a program connects, so a plugin may not choose its value; pin it: {{ name = \"{var}\", url-secret = \"SECRET\" }}, {{ name = \"{var}\", secret = \"SECRET\" }} or {{ name = \"{var}\", value = \"...\" }}"
                ),
            ));
        }
        env.push(policy::EnvGrant { name: var, pin });
    }
    for s in &g.confine.connect_url {
        if !secrets.contains_key(s.get_ref()) {
            return Err(src.err(
                s.span(),
                format!("confine.connect-url names the secret '{}', which plugins.{name}.grants.secrets does not grant; add it there", s.get_ref()),
            ));
        }
    }
    let folders = |list: &[toml::Spanned<String>]| -> Vec<PathBuf> {
        list.iter().map(|d| base.join(d.get_ref())).collect()
    };
    let confine = policy::ChildGrant {
        read: folders(&g.confine.read),
        write: folders(&g.confine.write),
        connect: g.confine.connect.iter().map(|p| *p.get_ref()).collect(),
        connect_url: g
            .confine
            .connect_url
            .iter()
            .map(|s| s.get_ref().clone())
            .collect(),
    };
    let mut hosts = Vec::new();
    for h in &g.hosts {
        let grant = policy::HostGrant::parse(h.get_ref())
            .map_err(|why| src.err(h.span(), format!("host grant {:?}: {why}", h.get_ref())))?;
        hosts.push(grant);
    }
    Ok(Grants {
        plugin: name.to_string(),
        hosts,
        commands: resolve_commands(src, name, g.commands, &dirs)?,
        dirs,
        env,
        inherit_env: g.inherit_env.into_iter().map(|v| v.into_inner()).collect(),
        secrets: secrets.keys().cloned().collect(),
        timeout_secs: g.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        confine,
    })
}

/// Command grants with the host folder of each `<path:GUEST>` their patterns name; GUEST must
/// lie inside one of the plugin's `grants.dirs`, or in the backup directory, which is mounted
/// per environment when the plugin is loaded (`Grants::mount` resolves it then).
fn resolve_commands(
    src: &Source<'_>,
    plugin: &str,
    commands: Vec<toml::Spanned<policy::CommandGrant>>,
    dirs: &[DirGrant],
) -> Result<Vec<policy::CommandGrant>, ConfigError> {
    let backup = BACKUP_GUEST_DIR;
    let mut out = Vec::new();
    for c in commands {
        let span = c.span();
        let mut grant = c.into_inner();
        let unresolved = grant.resolve_roots(plugin, dirs);
        if let Some(guest) = unresolved
            .iter()
            .find(|g| *g != backup && !g.starts_with(&format!("{backup}/")))
        {
            let element = grant
                .args
                .iter()
                .find(|a| policy::commands::PathElement::parse(a).is_some_and(|p| p.guest == guest))
                .cloned()
                .unwrap_or_default();
            return Err(src.err(
                span,
                format!(
                    "argument pattern {element:?} names {guest:?}, which is not inside any of plugins.{plugin}.grants.dirs (nor {backup}, which backup providers get); grant the folder there (guest = \"{guest}\") or fix the guest path"
                ),
            ));
        }
        out.push(grant);
    }
    Ok(out)
}

/// `warm-python`: a program the runner is granted to start, as its grants resolve it.
fn warm_python(
    src: &Source<'_>,
    base: &Path,
    env: &str,
    runner: &PluginConfig,
    w: &toml::Spanned<String>,
) -> Result<PathBuf, ConfigError> {
    // The same path, not only the same file: a venv's `bin/python` is a link to the
    // interpreter it was made with, and only the venv's path gives the venv's packages.
    let resolve = |p: &str| {
        crate::proc::resolve_program(p, base)
            .ok()
            .map(|p| p.components().collect::<PathBuf>())
    };
    let want = resolve(w.get_ref());
    let granted: Vec<&str> = runner
        .grants
        .commands
        .iter()
        .map(|c| c.program.as_str())
        .collect();
    match want {
        Some(path) if granted.iter().any(|g| resolve(g).as_ref() == Some(&path)) => Ok(path),
        _ => Err(src.err(
            w.span(),
            format!(
                "env.{env}.fleet.warm-python {:?} is not a program the runner '{}' is granted; name the Python of its helper grant (granted: {})",
                w.get_ref(),
                runner.name,
                granted.join(", ")
            ),
        )),
    }
}

fn resolve_fleet(
    src: &Source<'_>,
    base: &Path,
    env: &str,
    f: &toml::Spanned<raw::RawFleet>,
) -> Result<crate::fleet::FleetConfig, ConfigError> {
    use crate::fleet::{FleetConfig, OnFailure, Source as From, Target, TargetsCommand};
    let r = f.get_ref();
    let at = |m: String| src.err(f.span(), format!("env.{env}.fleet: {m}"));
    let given = [
        r.targets.is_some(),
        r.targets_file.is_some(),
        r.targets_command.is_some(),
        r.database_aliases,
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(at(
            "give exactly one of targets = [...], targets-file = \"PATH\", targets-command = { argv = [...] } or database-aliases = true".into(),
        ));
    }
    let source = if r.database_aliases {
        From::DatabaseAliases
    } else if let Some(list) = &r.targets {
        let list: Vec<Target> = list
            .iter()
            .map(|t| match t {
                raw::RawTarget::Name(n) => Target::named(n.clone()),
                raw::RawTarget::Full(t) => t.clone(),
            })
            .collect();
        crate::fleet::check_list(&list).map_err(|e| at(e.to_string()))?;
        From::List(list)
    } else if let Some(file) = &r.targets_file {
        From::File(base.join(file))
    } else {
        let c = r.targets_command.as_ref().expect("one source is given");
        if c.argv.is_empty() {
            return Err(at(
                "targets-command.argv is empty; give the program and its arguments".into(),
            ));
        }
        From::Command(TargetsCommand {
            argv: c.argv.clone(),
            connect: c.connect.clone(),
            timeout_secs: c.timeout_secs.unwrap_or(60).clamp(1, 3600),
        })
    };
    // Lists from elsewhere are checked against the canaries when they are read.
    let missing = match &source {
        From::List(list) => r
            .canary
            .iter()
            .find(|c| !list.iter().any(|t| &t.name == c.get_ref()))
            .map(|bad| (list, bad)),
        _ => None,
    };
    if let Some((list, bad)) = missing {
        let known: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
        return Err(src.err(
            bad.span(),
            format!(
                "env.{env}.fleet.canary names {:?}, which is not a target; targets: {}",
                bad.get_ref(),
                known.join(", ")
            ),
        ));
    }
    let parallel = match &r.parallel {
        None => crate::fleet::DEFAULT_PARALLEL,
        Some(p) if *p.get_ref() >= 1 && *p.get_ref() <= crate::fleet::MAX_PARALLEL => *p.get_ref(),
        Some(p) => {
            return Err(src.err(
                p.span(),
                format!(
                    "env.{env}.fleet.parallel must be 1 to {}",
                    crate::fleet::MAX_PARALLEL
                ),
            ))
        }
    };
    let on_failure = match r
        .on_failure
        .as_ref()
        .map(|o| (o.get_ref().as_str(), o.span()))
    {
        None | Some(("stop", _)) => OnFailure::Stop,
        Some(("continue", _)) => OnFailure::Continue,
        Some((other, span)) => {
            return Err(src.err(
                span,
                format!("env.{env}.fleet.on-failure is {other:?}; use \"stop\" or \"continue\""),
            ))
        }
    };
    Ok(FleetConfig {
        source,
        canary: r.canary.iter().map(|c| c.get_ref().clone()).collect(),
        parallel,
        on_failure,
        warm_python: None,
    })
}

fn resolve_env(
    src: &Source<'_>,
    base: &Path,
    state_dir: &Path,
    plugins: &BTreeMap<String, PluginConfig>,
    name: &str,
    e: RawEnv,
) -> Result<EnvConfig, ConfigError> {
    let known = || plugins.keys().cloned().collect::<Vec<_>>().join(", ");
    let check = |r: &toml::Spanned<String>, role: &str| -> Result<String, ConfigError> {
        if plugins.contains_key(r.get_ref()) {
            Ok(r.get_ref().clone())
        } else {
            Err(src.err(r.span(), format!(
                "env.{name}.{role} names plugin '{}', which is not configured; configured plugins: [{}]",
                r.get_ref(),
                known()
            )))
        }
    };
    let runner = check(&e.runner, "runner")?;
    let backup = e.backup.as_ref().map(|b| check(b, "backup")).transpose()?;
    let notifiers = e
        .notifiers
        .iter()
        .map(|n| check(n, "notifiers"))
        .collect::<Result<Vec<_>, _>>()?;
    let prod = name == "prod";
    let keep = match &e.keep {
        None => None,
        Some(k) if *k.get_ref() >= 1 => Some(*k.get_ref() as usize),
        Some(k) => {
            return Err(src.err(
                k.span(),
                format!(
                    "env.{name}.keep must be at least 1 (the backup of the current run is always kept); remove it to keep every backup"
                ),
            ))
        }
    };
    let allow_reset = match &e.allow_reset {
        Some(a) if prod && *a.get_ref() => {
            return Err(src.err(
                a.span(),
                "env.prod.allow-reset cannot be true: --reset empties the database and is never allowed in prod",
            ))
        }
        Some(a) => *a.get_ref(),
        None => name == "test",
    };
    let ledger = match &e.ledger {
        None => ledger::Mode::Auto,
        Some(m) => ledger::Mode::parse(m.get_ref()).ok_or_else(|| {
            src.err(
                m.span(),
                format!(
                    "env.{name}.ledger must be \"auto\", \"on\" or \"off\", not {:?}",
                    m.get_ref()
                ),
            )
        })?,
    };
    let ledger_schema = match &e.ledger_schema {
        None => ledger::DEFAULT_SCHEMA.to_string(),
        Some(s) => ledger::check_schema(s.get_ref())
            .map_err(|why| src.err(s.span(), format!("env.{name}.ledger-schema {why}")))?,
    };
    let fleet = match &e.fleet {
        None => None,
        Some(f) => {
            let mut fleet = resolve_fleet(src, base, name, f)?;
            if let Some(w) = &f.get_ref().warm_python {
                fleet.warm_python = Some(warm_python(src, base, name, &plugins[&runner], w)?);
            }
            Some(fleet)
        }
    };
    let backup_store = match &e.backup_store {
        None => None,
        Some(st) => Some(store_config(src, base, name, st.get_ref())?),
    };
    Ok(EnvConfig {
        backup_store,
        fleet,
        target: None,
        ledger,
        ledger_schema,
        allow_reset,
        fixtures: e.fixtures.clone(),
        refuse_drift: e.refuse_drift.unwrap_or(prod),
        refuse_destructive: e.refuse_destructive.unwrap_or(prod),
        lock_timeout_ms: e.lock_timeout_ms.unwrap_or(DEFAULT_LOCK_TIMEOUT_MS),
        statement_timeout_ms: e
            .statement_timeout_ms
            .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS),
        lock_retries: e
            .lock_retries
            .unwrap_or(if prod { DEFAULT_PROD_LOCK_RETRIES } else { 0 }),
        lock_retry_budget: std::time::Duration::from_secs(
            e.lock_retry_budget_secs
                .unwrap_or(DEFAULT_LOCK_RETRY_BUDGET_SECS),
        ),
        name: name.to_string(),
        runner,
        backup,
        backup_required: e.backup_required.unwrap_or(prod),
        backup_dir: match &e.backup_dir {
            Some(d) => base.join(d),
            None => state_dir.join("backups").join(name),
        },
        notifiers,
        verbose: e.verbose.unwrap_or(name == "dev"),
        require_confirm: e.require_confirm.unwrap_or(prod),
        refuse_irreversible: e.refuse_irreversible.unwrap_or(prod),
        keep,
    })
}

/// `[env.NAME.backup-store]`, checked.
fn store_config(
    src: &Source,
    base: &Path,
    name: &str,
    st: &raw::RawStore,
) -> Result<crate::store_config::StoreConfig, ConfigError> {
    use crate::store_config as sc;
    let (bucket, prefix) = sc::parse_url(st.url.get_ref())
        .map_err(|why| src.err(st.url.span(), format!("env.{name}.backup-store.url {why}")))?;
    if let Some(e) = &st.endpoint {
        sc::check_endpoint(e.get_ref(), st.allow_http)
            .map_err(|why| src.err(e.span(), format!("env.{name}.backup-store.endpoint {why}")))?;
    }
    let secret = |s: &toml::Spanned<SecretSource>,
                  key: &str|
     -> Result<SecretSource, ConfigError> {
        let v = s.get_ref();
        if v.env.is_some() == v.file.is_some() {
            return Err(src.err(
                s.span(),
                format!("env.{name}.backup-store.{key} needs exactly one source: {{ env = \"VAR\" }} or {{ file = \"path\" }}"),
            ));
        }
        let mut v = v.clone();
        if let Some(f) = &v.file {
            v.file = Some(base.join(f).display().to_string());
        }
        Ok(v)
    };
    let part_mb = match &st.part_size_mb {
        None => sc::DEFAULT_PART_MB,
        Some(p) if (5..=5120).contains(p.get_ref()) => *p.get_ref(),
        Some(p) => {
            return Err(src.err(
                p.span(),
                format!("env.{name}.backup-store.part-size-mb must be between 5 and 5120 (S3's part limits); the default is {}", sc::DEFAULT_PART_MB),
            ))
        }
    };
    Ok(sc::StoreConfig {
        url: st.url.get_ref().clone(),
        bucket,
        prefix,
        endpoint: st.endpoint.as_ref().map(|e| e.get_ref().clone()),
        region: st.region.clone().unwrap_or_else(|| "us-east-1".into()),
        access_key_id: secret(&st.access_key_id, "access-key-id")?,
        secret_access_key: secret(&st.secret_access_key, "secret-access-key")?,
        session_token: st
            .session_token
            .as_ref()
            .map(|t| secret(t, "session-token"))
            .transpose()?,
        allow_http: st.allow_http,
        keep_local: st.keep_local,
        part_size: (part_mb as usize) << 20,
    })
}

/// `plugin`'s grants as an instance runs with them: the TCP port of each `confine.connect-url`
/// secret that can be read now added to `confine.connect`.
pub fn grants_with_url_ports(plugin: &PluginConfig, redactor: &crate::secrets::Redactor) -> Grants {
    let mut grants = plugin.grants.clone();
    grants.confine = grants.confine.with_url_ports(&|name| {
        let source = plugin.secrets.get(name)?;
        crate::secrets::resolve(name, source, redactor).ok()
    });
    grants
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_env_holds_its_fleet_targets_and_a_target_only_itself() {
        use super::{split_qualified, within};
        assert_eq!(split_qualified("prod@t1"), ("prod", Some("t1")));
        assert_eq!(split_qualified("prod"), ("prod", None));
        assert!(within("prod", "prod"));
        assert!(within("prod@t1", "prod"));
        assert!(within("prod@t1", "prod@t1"));
        assert!(!within("prod@t10", "prod@t1"));
        assert!(!within("prod@t1", "prod@t10"));
        assert!(!within("prod2", "prod"));
        assert!(!within("prod", "prod@t1"));
    }

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "pm.toml", "/cfg/pm.toml".into(), "/cfg".into())
    }

    const GOOD: &str = r#"
[plugins.django]
path = "django.wasm"
settings = { manage = ["python", "manage.py"], database = "default" }
grants.commands = [{ program = "python", args = ["manage.py", "**"] }]
grants.env = ["DJANGO_SETTINGS_MODULE"]
grants.dirs = [{ host = "app", guest = "/project", access = "read-only" }]
grants.secrets = { db = { env = "DATABASE_URL" } }

[env.dev]
runner = "django"

[env.prod]
runner = "django"
"#;

    #[test]
    fn parses_a_good_config() {
        let c = parse(GOOD).unwrap();
        let p = &c.plugins["django"];
        assert_eq!(p.path, PathBuf::from("/cfg/django.wasm"));
        assert_eq!(p.grants.dirs[0].host, PathBuf::from("/cfg/app"));
        assert!(p
            .settings()
            .contains(&("manage".into(), "[\"python\",\"manage.py\"]".into())));
        assert!(p
            .settings()
            .contains(&("database".into(), "default".into())));
        assert_eq!(p.grants.secrets, vec!["db".to_string()]);
        assert!(c.envs["dev"].verbose && !c.envs["dev"].require_confirm);
        assert!(c.envs["prod"].require_confirm && c.envs["prod"].backup_required);
        assert_eq!(
            c.envs["dev"].backup_dir,
            isolation::default_state_dir(Path::new("/cfg"))
                .unwrap()
                .join("backups/dev")
        );
    }

    #[test]
    fn prod_refuses_irreversible_and_keep_is_checked() {
        let c = parse(GOOD).unwrap();
        assert!(c.envs["prod"].refuse_irreversible && !c.envs["dev"].refuse_irreversible);
        assert_eq!(c.envs["prod"].keep, None);
        let c = parse(&format!("{GOOD}keep = 3\n")).unwrap();
        assert_eq!(c.envs["prod"].keep, Some(3));
        let e = parse(&format!("{GOOD}keep = 0\n")).unwrap_err().to_string();
        assert!(
            e.starts_with("pm.toml:15:8") && e.contains("at least 1"),
            "{e}"
        );
    }

    #[test]
    fn host_grants_are_parsed_and_bad_ones_located() {
        let c = parse(&GOOD.replace(
            "grants.env = [",
            "grants.hosts = [\"https://hooks.slack.com\", \"http://127.0.0.1:9000\"]\ngrants.env = [",
        ))
        .unwrap();
        assert_eq!(c.plugins["django"].grants.hosts.len(), 2);
        let e = parse(&GOOD.replace(
            "grants.env = [",
            "grants.hosts = [\"https://hooks.slack.com/services/x\"]\ngrants.env = [",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("pm.toml:6:17") && e.contains("origin"), "{e}");
    }

    #[test]
    fn reset_is_for_test_and_never_for_prod() {
        let c = parse(&GOOD.replace("[env.dev]", "[env.test]\nrunner = \"django\"\n\n[env.dev]"))
            .unwrap();
        assert!(c.envs["test"].allow_reset);
        assert_eq!(
            c.envs["dev"].runner_env(),
            [(
                "PGOPTIONS".to_string(),
                "-c lock_timeout=5000 -c statement_timeout=1800000".to_string()
            )]
        );
        assert!(!c.envs["dev"].allow_reset && !c.envs["prod"].allow_reset);
        let e = parse(&format!("{GOOD}allow-reset = true\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("never allowed in prod"), "{e}");
    }

    #[test]
    fn lock_retries_are_on_in_prod_and_off_elsewhere_unless_set() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.envs["prod"].lock_retries, DEFAULT_PROD_LOCK_RETRIES);
        assert_eq!(c.envs["dev"].lock_retries, 0);
        assert_eq!(
            c.envs["prod"].lock_retry_budget,
            std::time::Duration::from_secs(DEFAULT_LOCK_RETRY_BUDGET_SECS)
        );
        let c = parse(&format!(
            "{GOOD}lock-retries = 0
lock-retry-budget-secs = 30
"
        ))
        .unwrap();
        assert_eq!(c.envs["prod"].lock_retries, 0);
        assert_eq!(
            c.envs["prod"].lock_retry_budget,
            std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = parse("[env.dev]\nrunner = \"x\"\nbad line here\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("pm.toml:3:"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_at_their_place() {
        let e = parse("[env.dev]\nrunner = \"x\"\nrunnr = \"y\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("pm.toml:3:1"), "{e}");
        assert!(e.contains("runnr"), "{e}");
    }

    #[test]
    fn unknown_plugin_reference_lists_known_ones() {
        let text = GOOD.replace(
            "[env.prod]\nrunner = \"django\"",
            "[env.prod]\nrunner = \"djang\"",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("'djang'") && e.contains("[django]"), "{e}");
        assert!(e.starts_with("pm.toml:14:10"), "{e}");
    }

    #[test]
    fn a_mistyped_key_in_a_pinned_env_grant_is_named() {
        let e = parse(&GOOD.replace(
            "grants.env = [\"DJANGO_SETTINGS_MODULE\"]",
            "grants.env = [{ name = \"PGHOST\", urlsecret = \"db\" }]",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `urlsecret`"), "{e}");
        assert!(e.contains("url-secret"), "{e}");
        let e = parse(&GOOD.replace(
            "grants.env = [\"DJANGO_SETTINGS_MODULE\"]",
            "grants.env = [3]",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("a variable name, or"), "{e}");
    }

    #[test]
    fn forbidden_env_grants_are_rejected() {
        let text = GOOD.replace("\"DJANGO_SETTINGS_MODULE\"", "\"LD_PRELOAD\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("LD_PRELOAD cannot be granted"), "{e}");
    }

    #[test]
    fn secrets_need_one_source() {
        let text = GOOD.replace("{ env = \"DATABASE_URL\" }", "{ }");
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("exactly one source"));
    }

    #[test]
    fn bad_guest_paths_are_rejected() {
        let text = GOOD.replace("\"/project\"", "\"../x\"");
        assert!(parse(&text)
            .unwrap_err()
            .to_string()
            .contains("must be absolute"));
    }

    #[test]
    fn unknown_env_lists_configured_ones() {
        let c = parse(GOOD).unwrap();
        let e = c.env("staging").unwrap_err();
        assert!(e.contains("dev, prod"), "{e}");
    }

    mod properties {
        use super::{parse, GOOD};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
                let _ = parse(&text);
            }

            #[test]
            fn a_damaged_config_fails_at_a_real_place(drop_line in 0usize..16, insert in "[ -~]{0,20}") {
                let mut lines: Vec<&str> = GOOD.lines().collect();
                let at = drop_line % lines.len();
                lines[at] = &insert;
                let text = lines.join("\n");
                if let Err(ConfigError::At { line, column, .. }) = parse(&text) {
                    prop_assert!(line >= 1 && line <= lines.len() + 1, "line {} of {}", line, lines.len());
                    prop_assert!(column >= 1);
                }
            }
        }
        use super::ConfigError;
    }
}
