//! What the host asks of plugins, in the host's own terms: one trait per plugin world
//! ([`RunnerPlugin`], [`BackupPlugin`], [`NotifierPlugin`]), the types they exchange
//! ([`types`]), and [`Opener`], the one way to open a configured plugin (load, instantiate,
//! `describe`, check its declared needs against its grants).
//!
//! `sandbox/` implements these for WebAssembly components of every supported WIT version and
//! converts; the steps in `run/` and the `backups`/`plugins` subcommands depend only on this
//! module, so they can be tested with fake plugins and do not change when a WIT version is
//! added.

pub mod settings;
pub mod types;

mod error;
pub use error::PluginError;
pub use settings::{SettingKind, SettingSpec};
pub use types::*;

use crate::config::PluginConfig;
use crate::exit::{Code, Exit};
use crate::policy::Need;
use std::path::{Path, PathBuf};

/// What a plugin said about itself in `describe`, whatever its world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    pub needs: Vec<Need>,
    /// Every setting it reads; `None` when it does not declare them (WIT 0.1.0 cannot).
    pub settings: Option<Vec<SettingSpec>>,
}

/// Bounds on what `describe` may hand the host: it is plugin output that reaches people
/// (`plugin inspect`, `plugins list`, messages) and config checks.
const MAX_DESCRIBED: usize = 512;
const MAX_NEEDS: usize = 256;

impl Info {
    /// The same, made safe to show and bounded: every text on one line, secrets masked,
    /// escapes and workflow commands defused, each cut to a few hundred bytes; at most
    /// `MAX_NEEDS` capabilities and settings (a plugin needing more is not one to trust, and
    /// a capability left out is still refused when the plugin uses it).
    pub fn bounded(self) -> Info {
        let line = |s: &str| crate::text::one_line(s, MAX_DESCRIBED);
        Info {
            name: line(&self.name),
            version: line(&self.version),
            description: line(&self.description),
            needs: self
                .needs
                .into_iter()
                .take(MAX_NEEDS)
                .map(|n| n.map_value(|v| crate::text::one_line(v, MAX_DESCRIBED)))
                .collect(),
            settings: self.settings.map(|list| {
                list.into_iter()
                    .take(MAX_NEEDS)
                    .map(|s| SettingSpec {
                        name: line(&s.name),
                        default: s.default.as_deref().map(line),
                        description: line(&s.description),
                        ..s
                    })
                    .collect()
            }),
        }
    }
}

/// A file the host wrote from a child's stdout, measured as the bytes passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// The store key the bytes went to instead of `path` (streamed backups).
    pub stored: Option<String>,
}

/// The result of one call into a plugin: the plugin's own answer, or the host's reason the
/// call did not complete (trap, limit, interruption).
pub type Call<T, E> = Result<Result<T, E>, PluginError>;

/// A migration runner (`migration-runner` world).
pub trait RunnerPlugin {
    /// What the host denied this plugin so far (messages that name the grant to add).
    fn denials(&self) -> Vec<String>;
    fn check_connection(&mut self, ctx: &RunContext) -> Call<ConnectionInfo, RunnerError>;
    fn list_migrations(&mut self, ctx: &RunContext) -> Call<Vec<Migration>, RunnerError>;
    fn plan(&mut self, ctx: &RunContext, target: &Target) -> Call<Plan, RunnerError>;
    fn sql(&mut self, ctx: &RunContext, steps: &[PlanStep]) -> Call<Vec<Vec<String>>, RunnerError>;
    /// The SQL the linter needs: steps that only build tables the plan creates may be left
    /// out, with those tables in `created`. Runners built against WIT 0.1.0: all of `sql`.
    fn lint_sql(&mut self, ctx: &RunContext, steps: &[PlanStep]) -> Call<LintSql, RunnerError> {
        Ok(self.sql(ctx, steps)?.map(|steps| LintSql {
            steps,
            created: Vec::new(),
        }))
    }
    /// The database aliases the project configures (a fleet's targets with
    /// `database-aliases = true`). Runners built against WIT 0.1.0 answer `Unsupported`.
    fn database_aliases(&mut self, ctx: &RunContext) -> Call<Vec<String>, RunnerError> {
        let _ = ctx;
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot list database aliases".into(),
        )))
    }
    /// Other sessions holding relation locks in an open transaction, oldest first.
    /// Runners built against WIT 0.1.0 answer `Unsupported`.
    fn lock_holders(&mut self, ctx: &RunContext) -> Call<Vec<LockHolder>, RunnerError> {
        let _ = ctx;
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot tell who holds locks".into(),
        )))
    }
    /// The indexes the database marks invalid. Runners built against WIT 0.1.0 answer
    /// `Unsupported`.
    fn invalid_indexes(&mut self, ctx: &RunContext) -> Call<Vec<String>, RunnerError> {
        let _ = ctx;
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot list invalid indexes".into(),
        )))
    }
    /// Drop the invalid index `name` without blocking its table.
    fn drop_invalid_index(&mut self, ctx: &RunContext, name: &str) -> Call<(), RunnerError> {
        let _ = (ctx, name);
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot drop invalid indexes".into(),
        )))
    }
    /// Which of `tables` hold no rows (those the database cannot tell about are left out).
    /// Runners built against WIT 0.1.0 answer `Unsupported`.
    fn empty_tables(
        &mut self,
        ctx: &RunContext,
        tables: &[String],
    ) -> Call<Vec<String>, RunnerError> {
        let _ = (ctx, tables);
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot tell which tables are empty".into(),
        )))
    }
    fn apply(
        &mut self,
        ctx: &RunContext,
        target: &ResolvedTarget,
        fake: bool,
    ) -> Call<(), RunnerError>;
    fn make_migrations(
        &mut self,
        ctx: &RunContext,
        app: &str,
    ) -> Call<Vec<MigrationRef>, RunnerError>;
    fn reset_database(&mut self, ctx: &RunContext) -> Call<(), RunnerError>;
    fn load_fixtures(
        &mut self,
        ctx: &RunContext,
        fixtures: &[String],
    ) -> Call<Vec<FixtureLoaded>, RunnerError>;
    fn pending_model_changes(&mut self, ctx: &RunContext) -> Call<Vec<ModelChange>, RunnerError>;
    fn lock_database(&mut self, ctx: &RunContext, label: &str) -> Call<(), RunnerError>;
    /// The schema objects of `tables` (all of them when empty), as the catalog describes
    /// them. Runners built against WIT before 0.3.0 answer `Unsupported`.
    fn schema_snapshot(
        &mut self,
        ctx: &RunContext,
        tables: &[String],
    ) -> Call<Vec<SchemaObject>, RunnerError> {
        let _ = (ctx, tables);
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot read the database's schema".into(),
        )))
    }
    /// The network services the project's settings name besides its database connection.
    /// Runners built against WIT before 0.3.0 answer `Unsupported`.
    fn services(&mut self, ctx: &RunContext) -> Call<Vec<Service>, RunnerError> {
        let _ = ctx;
        Ok(Err(RunnerError::Unsupported(
            "this runner cannot list the services its settings name".into(),
        )))
    }
    /// The ledger in `schema`. Runners built against WIT 0.1.0 answer `Unsupported`.
    fn ledger_read(
        &mut self,
        ctx: &RunContext,
        schema: &str,
        query: LedgerQuery,
    ) -> Call<LedgerContents, RunnerError>;
    /// Append one run to the ledger in `schema`, creating it when missing.
    fn ledger_append(
        &mut self,
        ctx: &RunContext,
        schema: &str,
        entry: &LedgerEntry,
    ) -> Call<(), RunnerError>;
}

/// A backup provider (`backup-provider` world).
pub trait BackupPlugin {
    fn denials(&self) -> Vec<String>;
    fn create(&mut self, ctx: &RunContext) -> Call<BackupInfo, BackupError>;
    fn verify(&mut self, ctx: &RunContext, info: &BackupInfo) -> Call<(), BackupError>;
    fn delete(&mut self, ctx: &RunContext, info: &BackupInfo) -> Call<(), BackupError>;
    /// Restore `info` into the new database or file `target`.
    fn restore(
        &mut self,
        ctx: &RunContext,
        info: &BackupInfo,
        target: &str,
    ) -> Call<(), BackupError>;
    /// The host's own measurement of a file it wrote from a child's stdout for this plugin,
    /// if it wrote `path` (the newest such record).
    fn written(&self, path: &Path) -> Option<Written>;
    /// Stream the files the provider's programs write into `/backups` to `store` (under env
    /// `env`'s folder) instead of the backup directory, and read them back from there.
    fn stream_to(&mut self, store: std::sync::Arc<crate::store::Store>, env: &str);
}

/// A notifier (`notifier` world).
pub trait NotifierPlugin {
    /// The config entry's name.
    fn name(&self) -> &str;
    fn denials(&self) -> Vec<String>;
    fn notify(&mut self, event: &RunEvent) -> Call<(), NotifyError>;
}

/// A plugin opened and checked, with what it said about itself.
pub struct Opened<P: ?Sized> {
    pub plugin: Box<P>,
    pub info: Info,
}

impl<P: ?Sized> Opened<P> {
    pub fn new(plugin: Box<P>, info: Info) -> Opened<P> {
        Opened { plugin, info }
    }
}

/// Why a plugin could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Its file, world, version, instantiation or `describe` failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// It declared a need its grants do not cover (the message names the grant to add).
    #[error("{0}")]
    Denied(String),
    /// Its entry's settings do not fit the schema it declared.
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
}

/// What the binary reports for a plugin that cannot be opened: the denial exit code for a
/// refused grant, the usage code for a config or build problem.
impl From<OpenError> for Exit {
    fn from(e: OpenError) -> Exit {
        match e {
            OpenError::Plugin(e) => e.into(),
            OpenError::Denied(m) => Exit::new(Code::Denied, m),
            OpenError::Settings(e) => Exit::usage(e.to_string()),
        }
    }
}

impl From<PluginError> for Exit {
    fn from(e: PluginError) -> Exit {
        let code = if e.is_config_problem() {
            Code::Usage
        } else {
            Code::Failed
        };
        Exit::new(code, e.to_string())
    }
}

/// Where plugins come from: the one way to open a configured plugin entry. The sandbox opens
/// WebAssembly components; tests open fakes.
pub trait Opener {
    /// A migration runner; `host_env` is set on every program it starts.
    fn runner(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        host_env: Vec<(String, String)>,
    ) -> Result<Opened<dyn RunnerPlugin>, OpenError>;
    /// A backup provider, with `backup_dir` mounted at `/backups`.
    fn backup(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        backup_dir: &Path,
    ) -> Result<Opened<dyn BackupPlugin>, OpenError>;
    /// A notifier.
    fn notifier(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
    ) -> Result<Opened<dyn NotifierPlugin>, OpenError>;
}

/// Check what a plugin declared against its entry's grants.
pub fn check_needs(entry: &PluginConfig, info: &Info) -> Result<(), OpenError> {
    if let Some(schema) = &info.settings {
        settings::check(entry, schema)?;
    }
    entry
        .grants
        .check_needs(&info.needs)
        .map_err(|d| OpenError::Denied(d.0))
}
