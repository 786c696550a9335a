//! The command line, defined in one place.

use crate::exit::Exit;
use clap::{ArgAction, Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run Django database migrations safely across dev, test and prod, through sandboxed
/// WebAssembly plugins.
///
/// Steps: 1 validate environment, 2 connect to database, 3 backup, 4 show migration plan,
/// 5 execute, 6 verify database state.
#[derive(Debug, Parser)]
#[command(name = "platform-migrate", version, about, long_about = None)]
#[command(subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,

    /// Config file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "platform-migrate.toml"
    )]
    pub config: PathBuf,

    /// More output (-v shows debug logs, -vv traces). dev is verbose by default.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less output: only the outcome and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Colour the step and outcome lines: `auto` (default: on a terminal, unless NO_COLOR is
    /// set), `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// When human output is coloured (defined beside the colours it sets).
pub use crate::ui::ColorChoice;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Steps and outcome for people, on stdout.
    #[default]
    Human,
    /// One JSON document on stdout (schema: schemas/run-report.schema.json, or
    /// schemas/lint-report.schema.json for `lint`).
    Json,
    /// A Markdown summary on stdout, for `$GITHUB_STEP_SUMMARY` and pull-request comments.
    Markdown,
    /// SARIF 2.1.0 on stdout (`lint` only): each finding at its migration file and line, for
    /// code-scanning views.
    Sarif,
}

/// What a migration run prints: SARIF is for `lint` (findings at their file and line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutput {
    Human,
    Json,
    Markdown,
}

/// What the commands that list things print (`history`, `backups`, `plugins`, `targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOutput {
    Human,
    Json,
}

impl OutputFormat {
    /// The output of a migration run; `--output sarif` is refused.
    pub fn for_run(self) -> Result<RunOutput, Exit> {
        match self {
            OutputFormat::Human => Ok(RunOutput::Human),
            OutputFormat::Json => Ok(RunOutput::Json),
            OutputFormat::Markdown => Ok(RunOutput::Markdown),
            OutputFormat::Sarif => Err(Exit::usage(
                "--output sarif is for `lint` (findings with their file and line); a run prints human, json or markdown",
            )),
        }
    }

    /// The output of a listing command named `command`; Markdown and SARIF are refused.
    pub fn for_list(self, command: &str) -> Result<ListOutput, Exit> {
        match self {
            OutputFormat::Human => Ok(ListOutput::Human),
            OutputFormat::Json => Ok(ListOutput::Json),
            other => Err(Exit::usage(format!(
                "--output {} is for a run and `lint`; `{command}` prints human or json",
                clap::ValueEnum::to_possible_value(&other)
                    .map_or_else(String::new, |v| v.get_name().to_string())
            ))),
        }
    }
}

/// Flags of a migration run (the default command).
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct RunArgs {
    /// Target environment, as configured in `[env.NAME]` (dev, test, prod).
    #[arg(long, value_name = "ENV", required = true)]
    pub env: Option<String>,

    /// Show the migration plan (pending migrations) without running anything.
    #[arg(long, conflicts_with_all = ["make", "fake"])]
    pub show: bool,

    /// Create new migrations for --app from its model changes.
    #[arg(long, requires = "app", conflicts_with_all = ["rollback", "migration", "fake"])]
    pub make: bool,

    /// Only this Django app.
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,

    /// Migrate --app to this migration (a name or unique prefix like 0002; `zero` unapplies all).
    #[arg(long, value_name = "NAME", requires = "app")]
    pub migration: Option<String>,

    /// Roll back the last applied migration of --app.
    #[arg(long, requires = "app", conflicts_with = "migration")]
    pub rollback: bool,

    /// Mark migrations as applied (or unapplied) without running their operations.
    #[arg(long)]
    pub fake: bool,

    /// Confirm a run in an environment that requires it (prod).
    #[arg(long)]
    pub confirm: bool,

    /// Empty the database and apply every migration from zero (test; dev only where
    /// `allow-reset = true`; never prod). Fixtures load afterwards.
    #[arg(long, conflicts_with_all = ["show", "make", "rollback", "migration", "app", "fake"])]
    pub reset: bool,

    /// Do not load the environment's fixtures after migrating.
    #[arg(long)]
    pub no_fixtures: bool,

    /// With --show: print the SQL each step would run (Django's sqlmigrate; backwards for a
    /// rollback).
    #[arg(long, requires = "show")]
    pub sql: bool,

    /// With --show: exit 6 when migrations are pending, 7 when models changed without a
    /// migration, so CI can gate on it.
    #[arg(long, requires = "show")]
    pub check: bool,

    /// Output format: `human` (default), `json` (one JSON document on stdout), `markdown` (a
    /// summary for CI pages and pull requests) or `sarif` (`lint` only); everything else goes
    /// to stderr.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    pub output: OutputFormat,

    /// Run a plan with destructive or locking changes (dropped or renamed tables and columns,
    /// type changes, blocking indexes and constraints) in an environment that refuses them
    /// (prod).
    #[arg(long)]
    pub allow_destructive: bool,

    /// Run although applied migrations changed since they were applied (drift), in an
    /// environment that refuses drift (prod); records the files as they are now.
    #[arg(long)]
    pub accept_drift: bool,

    /// When another run holds the environment, wait up to SECONDS for it instead of failing
    /// at once (exit 8).
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,

    /// Run a plan with steps that cannot be undone by migrating back (RunPython without
    /// reverse code, RunSQL without reverse SQL) in an environment that refuses them (prod).
    #[arg(long)]
    pub allow_irreversible: bool,

    /// Deploy phase: `pre` applies only the migrations that are safe while the old code still
    /// runs (declared `deploy_phase = "pre"` or django-safemigrate's `Safe.before_deploy()`,
    /// or without destructive findings); `post` applies the rest after the new code is live.
    /// With `--show --check`, `--phase pre` exits 6 when the release needs a post-deploy step.
    #[arg(long, value_enum, value_name = "PHASE", conflicts_with_all = ["rollback", "make", "reset", "migration"])]
    pub phase: Option<crate::phase::Phase>,

    /// Fleets (`[env.NAME.fleet]`): run only this target (one database of the env).
    #[arg(long, value_name = "NAME", conflicts_with = "shard")]
    pub target: Option<String>,

    /// Fleets: run only the I-th of N slices of the targets (1-based, e.g. a Kubernetes
    /// Indexed Job's index + 1); the N shards together cover every target exactly once.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::fleet::Shard>,

    /// Fleets: how many targets run at once (default: the fleet's `parallel`, else 2).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
}

/// Other commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a first platform-migrate.toml (or --config PATH) for the Django project in its
    /// folder: finds manage.py, the virtualenv's python and the database Django uses, and
    /// configures dev, test and prod on the built-in plugins. Never overwrites (exit 2).
    Init,
    /// The backup catalog: list backups, re-verify one.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// Plugins: write a new one, inspect or check a `.wasm` file, list or pin the files the
    /// config names. (`plugin` works too.)
    #[command(subcommand, visible_alias = "plugin")]
    Plugins(PluginsCommand),
    /// Lint the migrations a git branch adds or changes, compared with a base (`--since
    /// origin/main`): their SQL rendered against the env's database, the prod gate's rules and
    /// `[lint]` settings, and drift of applied migrations the branch edits. Read-only. Exit 0
    /// when clean, 9 with findings.
    Lint {
        /// The environment whose runner and database render the SQL (a CI database with the
        /// base branch's migrations applied, for example).
        #[arg(long, value_name = "ENV")]
        env: String,
        /// The git base to compare with: a branch, tag or commit (the merge base with HEAD is
        /// used, as a pull request's diff does).
        #[arg(long, value_name = "GIT-REF")]
        since: String,
    },
    /// A fleet's targets (`[env.NAME.fleet]`), one per line; `--output json` prints a JSON
    /// array of names, for a GitHub Actions matrix (`fromJSON`) or an Argo `withParam`.
    Targets {
        /// The environment whose targets to list.
        #[arg(long, value_name = "ENV")]
        env: String,
        /// Only the targets of this slice (I/N).
        #[arg(long, value_name = "I/N")]
        shard: Option<crate::fleet::Shard>,
    },
    /// Print the latest runs (`--output json`: schemas/history.schema.json), or verify the
    /// history's hash chain. With --env for an
    /// environment that keeps a ledger in its PostgreSQL database (env.NAME.ledger), the
    /// ledger's runs: those of every machine that deployed it.
    History {
        /// Only runs of this environment; read its ledger when it keeps one.
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// Show the latest N runs (default 20).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        #[command(subcommand)]
        cmd: Option<HistoryCommand>,
    },
}

/// The three plugin worlds, as `plugin new --kind` and `plugin check --kind` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PluginKind {
    /// A migration runner (world `migration-runner`).
    Runner,
    /// A backup provider (world `backup-provider`).
    Backup,
    /// A notifier (world `notifier`).
    Notifier,
}

/// `platform-migrate plugins ...` (or `plugin ...`)
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Write a new plugin crate that builds to a working component with one command
    /// (`cargo build --release --target wasm32-wasip2`) and has tests (`cargo test`). No config
    /// needed.
    New {
        /// Which world the plugin implements.
        #[arg(long, value_enum)]
        kind: PluginKind,
        /// The plugin's name (lowercase letters, digits and `-`), also its directory's name.
        name: String,
        /// Create the crate here instead of ./NAME.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The SDK dependency: a path to the SDK crate, `vendor` (the SDK this binary carries,
        /// written into the plugin's folder), or a version from crates.io once it is published
        /// (default: the SDK this binary was built from, when it still exists; else `vendor`).
        #[arg(long, value_name = "PATH|vendor|VERSION")]
        sdk: Option<String>,
    },
    /// Describe a plugin file: world, WIT package version, declared capabilities (the
    /// grants it needs), imports, sha256 and size. No config needed.
    Inspect {
        /// The `.wasm` component, or the name of a plugin entry of the config: then `describe`
        /// runs with the entry's settings and its grants are checked against what it declares
        /// (exit 4 naming the missing grant).
        #[arg(value_name = "FILE|ENTRY")]
        file: PathBuf,
        /// Print one JSON document instead.
        #[arg(long)]
        json: bool,
    },
    /// Check that a plugin file loads in this host, without running it: a component of a
    /// supported WIT version implementing one plugin world with the right types. Exit 0 when
    /// it does, 2 with the reason when it does not. No config needed.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
        /// Also require this world.
        #[arg(long, value_enum)]
        kind: Option<PluginKind>,
        /// Print one JSON document instead.
        #[arg(long)]
        json: bool,
    },
    /// Each plugin entry of the config: file, size, sha256, whether it matches its pin, its
    /// world and WIT version; exit 1 when one cannot load or an env uses it in another world's
    /// role.
    List,
    /// Pin every plugin entry (or the named ones) to its file's current sha256, written into
    /// the config as `sha256 = "..."`; a changed file is then refused before it is compiled.
    Lock {
        /// Plugin entries to pin (default: all).
        names: Vec<String>,
    },
}

/// `platform-migrate history ...`
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Check that every line links to the line before it (sha256); report the first broken
    /// link (exit 1), which means a line at or before it was edited, inserted or removed.
    /// With `history --env ENV verify`, check the env's ledger in its database the same way,
    /// and that the rows this machine wrote there are unchanged.
    Verify,
}

/// `platform-migrate backups ...`
#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List the backups in the catalog, newest last (`--output json`: one document,
    /// schemas/backups-list.schema.json).
    List {
        /// Only backups of this environment (of a fleet: of all its targets).
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// Fleets: only backups of this target of --env.
        #[arg(long, value_name = "NAME", requires = "env")]
        target: Option<String>,
    },
    /// Take a backup of an environment now, through its backup provider: verified and
    /// catalogued like a run's backup, and subject to the same retention.
    Create {
        /// The environment to back up.
        #[arg(long, value_name = "ENV")]
        env: String,
        /// Fleets: the target (one database of --env) to back up.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// Re-check a backup: size and sha256 against the catalog, then the provider's own check
    /// (for pg_dump archives, `pg_restore --list`).
    Verify {
        /// The backup's id, as `backups list` shows it.
        id: String,
    },
    /// Restore a catalogued backup (from this machine or the env's backup store; its sha256 is
    /// checked first) into a new database or file that does not exist yet, through the
    /// provider that made it. Never over the live database.
    Restore {
        /// The backup's id (see `backups list`).
        id: String,
        /// The new database (PostgreSQL) or file to restore into; it must not exist.
        #[arg(long, value_name = "NAME")]
        to: String,
    },
}

impl Cli {
    /// Flags of a migration run given together with a subcommand (they would be ignored):
    /// the global ones (`--config`, `-v`, `-q`, `--output`) may stand before or after it.
    pub fn run_flags_with_subcommand(&self) -> bool {
        let mut run = self.run.clone();
        run.output = OutputFormat::default();
        self.command.is_some() && run != RunArgs::default()
    }
}
