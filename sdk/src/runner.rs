//! The **migration-runner** world: drive a migration framework.
//!
//! Implement [`Runner`] and register it with [`register_runner!`](crate::register_runner).
//! The five required methods are the whole contract for a framework without fixtures, model
//! detection or SQL previews; the rest answer `unsupported` by default and the host says so.
//!
//! ```no_run
//! use platform_migrate_sdk::runner::*;
//! use platform_migrate_sdk::register_runner;
//!
//! /// A framework with no migrations at all: every plan is empty.
//! struct Nothing;
//!
//! impl Runner for Nothing {
//!     fn describe() -> PluginInfo {
//!         platform_migrate_sdk::info!("nothing", "Has no migrations", [])
//!     }
//!     fn check_connection(_ctx: RunContext) -> Result<ConnectionInfo, RunnerError> {
//!         Ok(ConnectionInfo { vendor: "none".into(), database: "-".into(), framework: "none".into() })
//!     }
//!     fn list_migrations(_ctx: RunContext) -> Result<Vec<Migration>, RunnerError> {
//!         Ok(Vec::new())
//!     }
//!     fn plan(_ctx: RunContext, target: Target) -> Result<Plan, RunnerError> {
//!         match target {
//!             Target::All => Ok(Plan { resolved: ResolvedTarget::All, steps: Vec::new() }),
//!             Target::App(app) | Target::Rollback(app) => Err(RunnerError::UnknownApp(app)),
//!             Target::Migration(m) => Err(RunnerError::UnknownApp(m.app)),
//!         }
//!     }
//!     fn apply(_ctx: RunContext, _target: ResolvedTarget, _fake: bool) -> Result<(), RunnerError> {
//!         Ok(())
//!     }
//! }
//!
//! register_runner!(Nothing);
//! # fn main() {}
//! ```

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export shims
pub mod world {
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    wit_bindgen::generate!({
        path: "wit/since_v0.3.0",
        world: "migration-runner",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.3.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.3.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.3.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_runner_world",
        default_bindings_module: "::platform_migrate_sdk::runner::world",
    });
    #[cfg(feature = "wit-v0-2")]
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "migration-runner",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.2.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.2.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.2.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_runner_world",
        default_bindings_module: "::platform_migrate_sdk::runner::world",
    });
    #[cfg(feature = "wit-v0-1")]
    wit_bindgen::generate!({
        path: "wit/since_v0.1.0",
        world: "migration-runner",
        runtime_path: "::platform_migrate_sdk::__wit_bindgen::rt",
        with: {
            "platform:migrate/log@0.1.0": crate::bindings::platform::migrate::log,
            "platform:migrate/config@0.1.0": crate::bindings::platform::migrate::config,
            "platform:migrate/process@0.1.0": crate::bindings::platform::migrate::process,
        },
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_runner_world",
        default_bindings_module: "::platform_migrate_sdk::runner::world",
    });
}

pub use world::platform::migrate::runner_types::{
    AppPosition, CommandFailure, ConnectionInfo, FixtureFailure, FixtureLoaded, Migration,
    ModelChange, Operation, Plan, PlanStep, ResolvedTarget, RunnerError, Target,
};
#[cfg(not(feature = "wit-v0-1"))]
pub use world::platform::migrate::runner_types::{
    DeployPhase, LedgerChecksum, LedgerContents, LedgerEntry, LedgerQuery, LedgerRun, LintSql,
    LockHolder,
};
#[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
pub use world::platform::migrate::runner_types::{SchemaKind, SchemaObject, Service};
pub use world::platform::migrate::types::{Capability, MigrationRef, PluginInfo, RunContext};
#[cfg(not(feature = "wit-v0-1"))]
pub use world::platform::migrate::types::{Setting, SettingType};
crate::__info_impls!();

/// A migration runner. Only `describe`, `check_connection`, `list_migrations`, `plan` and `apply`
/// are required.
pub trait Runner {
    /// Name, version and the capabilities the plugin needs.
    fn describe() -> PluginInfo;
    /// Connect to the database (step 2).
    fn check_connection(ctx: RunContext) -> Result<ConnectionInfo, RunnerError>;
    /// Every migration with its applied state.
    fn list_migrations(ctx: RunContext) -> Result<Vec<Migration>, RunnerError>;
    /// The steps reaching `target` takes.
    fn plan(ctx: RunContext, target: Target) -> Result<Plan, RunnerError>;
    /// Migrate to `target`; with `fake`, only record the state.
    fn apply(ctx: RunContext, target: ResolvedTarget, fake: bool) -> Result<(), RunnerError>;
    /// Create migrations from model changes. Default: not supported.
    fn make_migrations(ctx: RunContext, app: String) -> Result<Vec<MigrationRef>, RunnerError> {
        let _ = (ctx, app);
        Err(RunnerError::Unsupported(
            "this runner cannot create migrations".into(),
        ))
    }
    /// Empty the database (test environments). Default: not supported.
    fn reset_database(ctx: RunContext) -> Result<(), RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot reset a database".into(),
        ))
    }
    /// Load fixtures in order. Default: not supported.
    fn load_fixtures(
        ctx: RunContext,
        fixtures: Vec<String>,
    ) -> Result<Vec<FixtureLoaded>, RunnerError> {
        let _ = (ctx, fixtures);
        Err(RunnerError::Unsupported(
            "this runner cannot load fixtures".into(),
        ))
    }
    /// Model changes without a migration. Default: not supported (so `--check` cannot pass
    /// by accident).
    fn pending_model_changes(ctx: RunContext) -> Result<Vec<ModelChange>, RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot detect model changes".into(),
        ))
    }

    /// The SQL each step would run, one list per step. Default: not supported.
    fn sql(ctx: RunContext, steps: Vec<PlanStep>) -> Result<Vec<Vec<String>>, RunnerError> {
        let _ = (ctx, steps);
        Err(RunnerError::Unsupported(
            "this runner cannot show the SQL of a plan".into(),
        ))
    }

    /// Take the database's run lock for the rest of the run (keep what holds it, e.g. a
    /// [`crate::process::Child`], in a `static`). Return [`RunnerError::Locked`] naming the
    /// holder when another run has it. Default: not supported (the host's file lock still
    /// keeps runs sharing a state directory apart).
    fn lock_database(ctx: RunContext, label: String) -> Result<(), RunnerError> {
        let _ = (ctx, label);
        Err(RunnerError::Unsupported(
            "this runner has no database lock".into(),
        ))
    }

    /// Read the ledger kept in `schema` of the database: whether it exists (and may be
    /// created), the runs `query` asks for, the last `seq`, and the checksums when asked.
    /// Store and return every field as it is: the host builds and checks them. Default: not
    /// supported (the host then keeps history on the machine only).
    #[cfg(not(feature = "wit-v0-1"))]
    fn ledger_read(
        ctx: RunContext,
        schema: String,
        query: LedgerQuery,
    ) -> Result<LedgerContents, RunnerError> {
        let _ = (ctx, schema, query);
        Err(RunnerError::Unsupported(
            "this runner keeps no ledger in the database".into(),
        ))
    }

    /// The SQL the plan linter needs: each step's statements, where a step that only builds
    /// tables the plan itself creates may be left out (an empty list) with those tables named
    /// in `created`. Default: [`Runner::sql`] in full, nothing left out.
    #[cfg(not(feature = "wit-v0-1"))]
    fn lint_sql(ctx: RunContext, steps: Vec<PlanStep>) -> Result<LintSql, RunnerError> {
        Ok(LintSql {
            steps: Self::sql(ctx, steps)?,
            created: Vec::new(),
        })
    }

    /// Which of `tables` hold no rows, asked cheaply and without waiting on locks; leave out
    /// any table you cannot tell about. Default: not supported (nothing is exempted).
    #[cfg(not(feature = "wit-v0-1"))]
    fn empty_tables(ctx: RunContext, tables: Vec<String>) -> Result<Vec<String>, RunnerError> {
        let _ = (ctx, tables);
        Err(RunnerError::Unsupported(
            "this runner cannot tell which tables are empty".into(),
        ))
    }

    /// The database aliases the project configures (Django: `DATABASES`), in its order: the
    /// targets of a fleet with `database-aliases = true`. Default: not supported.
    #[cfg(not(feature = "wit-v0-1"))]
    fn database_aliases(ctx: RunContext) -> Result<Vec<String>, RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot list database aliases".into(),
        ))
    }

    /// Other sessions holding relation locks in an open transaction, oldest first (at most
    /// 10). Default: not supported (a lock timeout's message then names no holder).
    #[cfg(not(feature = "wit-v0-1"))]
    fn lock_holders(ctx: RunContext) -> Result<Vec<LockHolder>, RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot tell who holds locks".into(),
        ))
    }

    /// The names of the indexes the database marks invalid. Default: not supported (a
    /// non-atomic migration is then not retried after a lock timeout).
    #[cfg(not(feature = "wit-v0-1"))]
    fn invalid_indexes(ctx: RunContext) -> Result<Vec<String>, RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot list invalid indexes".into(),
        ))
    }

    /// Drop the invalid index `name` without blocking its table; refuse a valid one.
    /// Default: not supported.
    #[cfg(not(feature = "wit-v0-1"))]
    fn drop_invalid_index(ctx: RunContext, name: String) -> Result<(), RunnerError> {
        let _ = (ctx, name);
        Err(RunnerError::Unsupported(
            "this runner cannot drop invalid indexes".into(),
        ))
    }

    /// Append `entry` to the ledger in `schema` in one transaction, creating the schema and
    /// tables when missing; [`RunnerError::LedgerConflict`] (writing nothing) when
    /// `entry.run.seq` does not follow the last recorded one. Default: not supported.
    #[cfg(not(feature = "wit-v0-1"))]
    fn ledger_append(
        ctx: RunContext,
        schema: String,
        entry: LedgerEntry,
    ) -> Result<(), RunnerError> {
        let _ = (ctx, schema, entry);
        Err(RunnerError::Unsupported(
            "this runner keeps no ledger in the database".into(),
        ))
    }

    /// The schema objects (tables, columns, indexes, constraints, sequences, views) of
    /// `tables`, or of every table on the search path when `tables` is empty, each with its
    /// definition in the database's own words. The host compares a snapshot from before step
    /// 5 with one after a failure, and reads column types for the linter. Default: not
    /// supported (a failure then reports only what the migration records show).
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    fn schema_snapshot(
        ctx: RunContext,
        tables: Vec<String>,
    ) -> Result<Vec<SchemaObject>, RunnerError> {
        let _ = (ctx, tables);
        Err(RunnerError::Unsupported(
            "this runner cannot read the database's schema".into(),
        ))
    }

    /// The network services the project's settings name besides the database connection
    /// (caches, other databases), for `init` to grant their ports. Default: not supported.
    #[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
    fn services(ctx: RunContext) -> Result<Vec<Service>, RunnerError> {
        let _ = ctx;
        Err(RunnerError::Unsupported(
            "this runner cannot list the services its settings name".into(),
        ))
    }
}

/// The exports of [`register_runner!`] that WIT 0.2.0 added (ledger, lint SQL, empty tables).
#[doc(hidden)]
#[cfg(not(feature = "wit-v0-1"))]
#[macro_export]
macro_rules! __runner_ledger_exports {
    ($t:ty) => {
        fn ledger_read(
            ctx: $crate::runner::RunContext,
            schema: String,
            query: $crate::runner::LedgerQuery,
        ) -> Result<$crate::runner::LedgerContents, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::ledger_read(ctx, schema, query)
        }
        fn ledger_append(
            ctx: $crate::runner::RunContext,
            schema: String,
            entry: $crate::runner::LedgerEntry,
        ) -> Result<(), $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::ledger_append(ctx, schema, entry)
        }
        fn lint_sql(
            ctx: $crate::runner::RunContext,
            steps: Vec<$crate::runner::PlanStep>,
        ) -> Result<$crate::runner::LintSql, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::lint_sql(ctx, steps)
        }
        fn empty_tables(
            ctx: $crate::runner::RunContext,
            tables: Vec<String>,
        ) -> Result<Vec<String>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::empty_tables(ctx, tables)
        }
        fn database_aliases(
            ctx: $crate::runner::RunContext,
        ) -> Result<Vec<String>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::database_aliases(ctx)
        }
        fn lock_holders(
            ctx: $crate::runner::RunContext,
        ) -> Result<Vec<$crate::runner::LockHolder>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::lock_holders(ctx)
        }
        fn invalid_indexes(
            ctx: $crate::runner::RunContext,
        ) -> Result<Vec<String>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::invalid_indexes(ctx)
        }
        fn drop_invalid_index(
            ctx: $crate::runner::RunContext,
            name: String,
        ) -> Result<(), $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::drop_invalid_index(ctx, name)
        }
    };
}

/// The exports of [`register_runner!`] that WIT 0.3.0 added (schema snapshot, services).
#[doc(hidden)]
#[cfg(not(any(feature = "wit-v0-1", feature = "wit-v0-2")))]
#[macro_export]
macro_rules! __runner_v0_3_exports {
    ($t:ty) => {
        fn schema_snapshot(
            ctx: $crate::runner::RunContext,
            tables: Vec<String>,
        ) -> Result<Vec<$crate::runner::SchemaObject>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::schema_snapshot(ctx, tables)
        }
        fn services(
            ctx: $crate::runner::RunContext,
        ) -> Result<Vec<$crate::runner::Service>, $crate::runner::RunnerError> {
            <$t as $crate::runner::Runner>::services(ctx)
        }
    };
}

/// Older WIT versions have none of them.
#[doc(hidden)]
#[cfg(any(feature = "wit-v0-1", feature = "wit-v0-2"))]
#[macro_export]
macro_rules! __runner_v0_3_exports {
    ($t:ty) => {};
}

/// WIT 0.1.0 has none of them.
#[doc(hidden)]
#[cfg(feature = "wit-v0-1")]
#[macro_export]
macro_rules! __runner_ledger_exports {
    ($t:ty) => {};
}

/// Export a [`Runner`] implementation as the plugin's component exports.
#[macro_export]
macro_rules! register_runner {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __PlatformMigrateRunner;
        impl $crate::runner::world::Guest for __PlatformMigrateRunner {
            fn describe() -> $crate::runner::PluginInfo {
                <$t as $crate::runner::Runner>::describe()
            }
            fn check_connection(
                ctx: $crate::runner::RunContext,
            ) -> Result<$crate::runner::ConnectionInfo, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::check_connection(ctx)
            }
            fn list_migrations(
                ctx: $crate::runner::RunContext,
            ) -> Result<Vec<$crate::runner::Migration>, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::list_migrations(ctx)
            }
            fn plan(
                ctx: $crate::runner::RunContext,
                target: $crate::runner::Target,
            ) -> Result<$crate::runner::Plan, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::plan(ctx, target)
            }
            fn apply(
                ctx: $crate::runner::RunContext,
                target: $crate::runner::ResolvedTarget,
                fake: bool,
            ) -> Result<(), $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::apply(ctx, target, fake)
            }
            fn make_migrations(
                ctx: $crate::runner::RunContext,
                app: String,
            ) -> Result<Vec<$crate::runner::MigrationRef>, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::make_migrations(ctx, app)
            }
            fn reset_database(
                ctx: $crate::runner::RunContext,
            ) -> Result<(), $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::reset_database(ctx)
            }
            fn load_fixtures(
                ctx: $crate::runner::RunContext,
                fixtures: Vec<String>,
            ) -> Result<Vec<$crate::runner::FixtureLoaded>, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::load_fixtures(ctx, fixtures)
            }
            fn pending_model_changes(
                ctx: $crate::runner::RunContext,
            ) -> Result<Vec<$crate::runner::ModelChange>, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::pending_model_changes(ctx)
            }
            fn sql(
                ctx: $crate::runner::RunContext,
                steps: Vec<$crate::runner::PlanStep>,
            ) -> Result<Vec<Vec<String>>, $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::sql(ctx, steps)
            }
            fn lock_database(
                ctx: $crate::runner::RunContext,
                label: String,
            ) -> Result<(), $crate::runner::RunnerError> {
                <$t as $crate::runner::Runner>::lock_database(ctx, label)
            }
            $crate::__runner_ledger_exports!($t);
            $crate::__runner_v0_3_exports!($t);
        }
        $crate::runner::world::__export_runner_world!(__PlatformMigrateRunner);
    };
}
