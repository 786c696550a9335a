//! The host's own model of what plugins exchange with it: one type per WIT record, variant and
//! enum of the newest supported `platform:migrate` version, owned by the host. `sandbox/`
//! converts each WIT version's generated bindings to and from these; nothing else in the
//! host sees a generated type, so a new WIT version changes `sandbox/` only.

/// Which run a call belongs to (`types.run-context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    pub env: String,
    pub run_id: String,
    pub verbose: bool,
}

impl RunContext {
    pub fn new(env: &str, run_id: impl Into<String>, verbose: bool) -> RunContext {
        RunContext {
            env: env.to_string(),
            run_id: run_id.into(),
            verbose,
        }
    }
}

/// `app.name` of one migration (`types.migration-ref`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MigrationRef {
    pub app: String,
    pub name: String,
}

impl std::fmt::Display for MigrationRef {
    /// `app.name`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// One operation of a migration, as the runner describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub description: String,
    pub reversible: bool,
    /// Its line in the migration's file (1-based), when the runner can tell.
    pub line: Option<u32>,
}

/// A migration the runner knows, applied or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub id: MigrationRef,
    pub applied: bool,
    pub dependencies: Vec<MigrationRef>,
    pub operations: Vec<Operation>,
    /// The runner's checksum of the migration's source, for drift detection.
    pub checksum: Option<String>,
    /// Its source file, relative to the project directory where it lies inside it.
    pub file: Option<String>,
    /// Whether it runs in one transaction (`None`: the runner does not say).
    pub atomic: Option<bool>,
    /// The deploy phase it declares (`None`: none; the host decides from the plan lint).
    pub phase: Option<Phase>,
}

pub use crate::phase::Phase;

/// The kind of database a runner reached, from the name it reports (Django's `vendor`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Vendor {
    /// `postgresql`: the linter reads its SQL, the ledger and lock-timeout retries work.
    PostgreSql,
    /// `sqlite`: a file a backup can copy.
    Sqlite,
    /// Any other name, kept as reported (`mysql`, ...); empty before step 2.
    Other(String),
    #[default]
    Unknown,
}

impl Vendor {
    /// The vendor a runner's name stands for.
    pub fn named(name: &str) -> Vendor {
        match name {
            "postgresql" => Vendor::PostgreSql,
            "sqlite" => Vendor::Sqlite,
            "" => Vendor::Unknown,
            other => Vendor::Other(other.to_string()),
        }
    }

    /// The name as runners report it.
    pub fn as_str(&self) -> &str {
        match self {
            Vendor::PostgreSql => "postgresql",
            Vendor::Sqlite => "sqlite",
            Vendor::Other(name) => name,
            Vendor::Unknown => "",
        }
    }
}

impl std::fmt::Display for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The database the runner is connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub vendor: Vendor,
    pub database: String,
    pub framework: String,
}

/// What the user asked to move to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    App(String),
    Migration(MigrationRef),
    Rollback(String),
}

/// An app and the migration it should stand at (`None`: before its first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPosition {
    pub app: String,
    pub migration: Option<String>,
}

/// A target the runner resolved, handed back to `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedTarget {
    All,
    App(String),
    Position(AppPosition),
}

/// One step of a plan: a migration applied forwards or backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub id: MigrationRef,
    pub backwards: bool,
    pub operations: Vec<String>,
    pub irreversible: bool,
    /// Whether the migration runs in one transaction (`None`: the runner does not say).
    pub atomic: Option<bool>,
}

/// The SQL of a plan as the linter needs it: per step, its statements (empty for a step that
/// only builds tables the plan creates), and the tables those left-out steps create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintSql {
    pub steps: Vec<Vec<String>>,
    pub created: Vec<String>,
}

/// A database session holding locks (`runner-types.lock-holder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub state: String,
    pub query: String,
    pub transaction_seconds: u64,
    pub relations: Vec<String>,
}

/// The runner's plan for a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub resolved: ResolvedTarget,
    pub steps: Vec<PlanStep>,
}

/// A program the runner started failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    pub command: String,
    pub exit_code: Option<i32>,
    pub output_tail: String,
}

/// A fixture loaded, with its object count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureLoaded {
    pub fixture: String,
    pub objects: u32,
}

/// A fixture that failed to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureFailure {
    pub fixture: String,
    pub message: String,
}

/// Model changes of one app that no migration covers yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChange {
    pub app: String,
    pub changes: Vec<String>,
}

/// Why a runner call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerError {
    Connection(String),
    UnknownApp(String),
    UnknownMigration(MigrationRef),
    Ambiguous(String),
    NothingToRollBack(String),
    CommandFailed(CommandFailure),
    FixtureFailed(FixtureFailure),
    Unsupported(String),
    Locked(String),
    Denied(String),
    Misconfigured(String),
    /// The ledger changed under the call; nothing was written.
    LedgerConflict(String),
    Other(String),
}

impl RunnerError {
    /// The error as one line for people: the runner's own message where it has one.
    pub fn message(&self) -> String {
        match self {
            RunnerError::Connection(m)
            | RunnerError::Other(m)
            | RunnerError::Denied(m)
            | RunnerError::Misconfigured(m)
            | RunnerError::Unsupported(m)
            | RunnerError::LedgerConflict(m) => m.clone(),
            RunnerError::CommandFailed(c) => format!("`{}` failed: {}", c.command, c.output_tail),
            other => format!("{other:?}"),
        }
    }
}

/// One run as the ledger in the database keeps it (`runner-types.ledger-run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRun {
    pub seq: u64,
    pub run_id: String,
    /// The run's JSON record, linked to the row before by its `prev` field.
    pub line: String,
    /// sha256 of `line`, as the host computed it when writing.
    pub sha256: String,
}

/// An applied migration's checksum in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerChecksum {
    pub id: MigrationRef,
    pub sha256: String,
    pub run_id: String,
}

/// What to read from the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerQuery {
    pub after_seq: u64,
    pub limit: u32,
    pub checksums: bool,
}

impl LedgerQuery {
    /// Only whether the ledger exists, its last `seq` and (when asked) the checksums.
    pub fn head(checksums: bool) -> LedgerQuery {
        LedgerQuery {
            after_seq: 0,
            limit: 0,
            checksums,
        }
    }

    /// Up to `limit` runs after `after_seq`, oldest first.
    pub fn runs(after_seq: u64, limit: u32) -> LedgerQuery {
        LedgerQuery {
            after_seq,
            limit,
            checksums: false,
        }
    }
}

/// What the ledger holds (the part a query asked for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerContents {
    /// False until the first run that changes the database creates the ledger.
    pub exists: bool,
    /// Whether the database user may create it.
    pub can_create: bool,
    pub runs: Vec<LedgerRun>,
    pub last_seq: u64,
    pub checksums: Vec<LedgerChecksum>,
}

/// What one run adds to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub run: LedgerRun,
    pub record_checksums: Vec<LedgerChecksum>,
    pub forget_checksums: Vec<MigrationRef>,
}

/// A backup as its provider describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub id: String,
    pub file: String,
    pub size: u64,
    pub created: String,
}

/// Why a backup call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupError {
    SourceMissing(String),
    AlreadyExists(String),
    Invalid(String),
    CommandFailed(String),
    Denied(String),
    Misconfigured(String),
    /// The provider cannot do this (restore, for providers built against WIT 0.1.0).
    Unsupported(String),
    Other(String),
}

/// How a run ended, as notifiers are told (`notifier-types.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Succeeded,
    Failed,
    Refused,
    Interrupted,
}

/// A migration a run applied (or unapplied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub id: MigrationRef,
    pub backwards: bool,
}

/// What a notifier is told about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    pub env: String,
    pub run_id: String,
    pub action: String,
    pub outcome: EventOutcome,
    pub applied: Vec<AppliedMigration>,
    pub backup_id: Option<String>,
    pub backup_size: Option<u64>,
    pub duration_ms: u64,
    pub host: String,
    pub error_summary: Option<String>,
    pub findings: Vec<String>,
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyError {
    Denied(String),
    Rejected(String),
    Unavailable(String),
    Misconfigured(String),
}

/// What kind of object a [`SchemaObject`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SchemaKind {
    Table,
    Column,
    Index,
    Constraint,
    Sequence,
    View,
}

impl SchemaKind {
    /// The word a person reads: `column`, `index`, ...
    pub fn word(self) -> &'static str {
        match self {
            SchemaKind::Table => "table",
            SchemaKind::Column => "column",
            SchemaKind::Index => "index",
            SchemaKind::Constraint => "constraint",
            SchemaKind::Sequence => "sequence",
            SchemaKind::View => "view",
        }
    }
}

/// One object of the database's schema as its catalog describes it (`schema-snapshot`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaObject {
    pub kind: SchemaKind,
    /// The relation it belongs to (its own name for a table, sequence or view).
    pub relation: String,
    /// Its own name.
    pub name: String,
    /// What defines it (a column's type and nullability, an index's definition, ...).
    pub definition: String,
}

/// A network service the project's settings name (`services`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Where the settings name it, e.g. `CACHES["default"]`.
    pub setting: String,
    pub host: String,
    pub port: Option<u16>,
}
