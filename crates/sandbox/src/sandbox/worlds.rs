//! Typed handles on the three plugin worlds. Every call drains the plugin's own output into the
//! log and turns a trap into a `PluginError` naming the plugin and the call.

use super::bindings::{v0_1, v0_2, v0_3};
use super::versions::Wit;
use super::{Loaded, PluginError, PluginState, Sandbox};
use crate::plugin_api::{self as api, Call, Info};
use wasmtime::Store;

fn finish<T>(
    store: &mut Store<PluginState>,
    plugin: &str,
    call: &'static str,
    r: wasmtime::Result<T>,
) -> Result<T, PluginError> {
    let out = store.data().output.contents();
    if !out.is_empty() {
        let text = store.data().redactor.redact(&String::from_utf8_lossy(&out));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(plugin = %plugin, "output: {line}");
        }
    }
    r.map_err(|e| {
        if crate::interrupt::signalled().is_some() {
            return PluginError::Interrupted {
                plugin: plugin.to_string(),
                call,
            };
        }
        let data = store.data();
        if let Some(which) = data.limiter.hit {
            return PluginError::Limit {
                plugin: plugin.to_string(),
                call,
                limit: data.limiter.limits.describe(which, plugin),
            };
        }
        // The full error (with the wasm backtrace) goes to the debug log; the message keeps
        // the trap itself and, for a Rust panic, the panic line and its message.
        tracing::debug!(plugin = %plugin, "{call} trapped: {}", data.redactor.redact(&format!("{e:#}")));
        let mut message = data.redactor.redact(&e.root_cause().to_string());
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        if lines.by_ref().any(|l| l.contains("panicked")) {
            let what = lines.next().unwrap_or("").trim();
            message = format!("panicked: {}; {message}", data.redactor.redact(what));
        }
        PluginError::Trap {
            plugin: plugin.to_string(),
            call,
            message,
        }
    })
}

/// A world's handle: instantiated from a loaded component, and able to describe itself.
pub(super) trait Handle: Sized {
    /// Instantiate a loaded plugin; fails when it does not implement the world.
    fn instantiate(sandbox: &Sandbox, loaded: Loaded) -> Result<Self, PluginError>;
    /// What the plugin says about itself.
    fn describe(&mut self) -> Result<Info, PluginError>;
}

/// A plugin's bindings, in the WIT version it was built against.
pub(super) enum Versioned<A, B, C> {
    V0_1(A),
    V0_2(B),
    V0_3(C),
}

impl<A, B, C> Versioned<A, B, C> {
    /// The version the plugin was built against.
    fn wit(&self) -> Wit {
        match self {
            Versioned::V0_1(_) => Wit::V0_1,
            Versioned::V0_2(_) => Wit::V0_2,
            Versioned::V0_3(_) => Wit::V0_3,
        }
    }
}

/// Instantiate `$pre`'s world of version module `$v` and wrap it as variant `$variant`.
macro_rules! instantiate {
    ($pre:expr, $store:expr, $v:ident :: $module:ident :: $world_pre:ident, $variant:ident) => {
        $pre.and_then($v::$module::$world_pre::new)
            .and_then(|pre| pre.instantiate(&mut $store))
            .map(Versioned::$variant)
    };
}

macro_rules! world_handle {
    ($name:ident, $module:ident, $bindings:ident, $pre:ident, $world:expr) => {
        /// A loaded plugin of this world.
        pub struct $name {
            pub name: String,
            pub store: Store<PluginState>,
            bindings: Versioned<
                v0_1::$module::$bindings,
                v0_2::$module::$bindings,
                v0_3::$module::$bindings,
            >,
        }

        impl Handle for $name {
            fn instantiate(sandbox: &Sandbox, loaded: Loaded) -> Result<Self, PluginError> {
                let Loaded {
                    name,
                    path,
                    component,
                    sha256,
                    mut store,
                } = loaded;
                let (_, _, version) = sandbox.conforms(&name, &path, &component, Some($world))?;
                let pre = sandbox.instance_pre(&sha256, &component);
                let bindings = match version {
                    Wit::V0_1 => instantiate!(pre, store, v0_1::$module::$pre, V0_1),
                    Wit::V0_2 => instantiate!(pre, store, v0_2::$module::$pre, V0_2),
                    Wit::V0_3 => instantiate!(pre, store, v0_3::$module::$pre, V0_3),
                }
                .map_err(|e| PluginError::WrongWorld {
                    plugin: name.clone(),
                    world: $world.wit_name(),
                    message: format!("{e:#}"),
                })?;
                Ok($name {
                    name,
                    store,
                    bindings,
                })
            }

            fn describe(&mut self) -> Result<Info, PluginError> {
                super::limits::arm(&mut self.store);
                let r = match &self.bindings {
                    Versioned::V0_1(b) => b.call_describe(&mut self.store).map(Info::from),
                    Versioned::V0_2(b) => b.call_describe(&mut self.store).map(Info::from),
                    Versioned::V0_3(b) => b.call_describe(&mut self.store).map(Info::from),
                };
                // Plugin text from here on: one line each, bounded, escaped.
                finish(&mut self.store, &self.name, "describe", r).map(Info::bounded)
            }
        }

        impl $name {
            /// Denials the host made while serving this plugin (capabilities, then HTTP).
            pub fn denials(&self) -> Vec<String> {
                let d = self.store.data();
                d.denials
                    .all()
                    .iter()
                    .chain(d.http.gate.denials.all().iter())
                    .cloned()
                    .collect()
            }
        }
    };
}

world_handle!(
    Runner,
    runner,
    MigrationRunner,
    MigrationRunnerPre,
    super::World::Runner
);
world_handle!(
    Backup,
    backup,
    BackupProvider,
    BackupProviderPre,
    super::World::Backup
);
world_handle!(
    Notifier,
    notifier,
    Notifier,
    NotifierPre,
    super::World::Notifier
);

/// Arm the call's deadline, make the call in the plugin's WIT version, and map both layers of
/// its result to the host's types.
macro_rules! call {
    ($self:ident, $name:literal, $call:ident $args:tt) => {
        call!($self, $name, $call $args => Into::into)
    };
    ($self:ident, $name:literal, $call:ident $args:tt => $map:expr) => {{
        super::limits::arm(&mut $self.store);
        let r = match &$self.bindings {
            Versioned::V0_1(b) => since!(@call b, $self, $call $args, $map),
            Versioned::V0_2(b) => since!(@call b, $self, $call $args, $map),
            Versioned::V0_3(b) => since!(@call b, $self, $call $args, $map),
        };
        finish(&mut $self.store, &$self.name, $name, r)
    }};
}

/// A call to an export that the versions `[$variant, ...]` have; a plugin built against
/// another answers `$unsupported` without being called. `$map` converts the success value.
macro_rules! since {
    (@call $b:ident, $self:ident, $call:ident ( $($arg:expr),* ), $map:expr) => {
        $b.$call(&mut $self.store $(, $arg)*).map(|r| r.map($map).map_err(Into::into))
    };
    ($self:ident, [$($variant:ident),+], $unsupported:expr, $name:literal, $call:ident $args:tt) => {
        since!($self, [$($variant),+], $unsupported, $name, $call $args => std::convert::identity)
    };
    ($self:ident, [$($variant:ident),+], $unsupported:expr, $name:literal, $call:ident $args:tt => $map:expr) => {{
        #[allow(unreachable_patterns)]
        let r = match &$self.bindings {
            $(Versioned::$variant(b) => {
                super::limits::arm(&mut $self.store);
                since!(@call b, $self, $call $args, $map)
            })+
            _ => return Ok(Err($unsupported)),
        };
        finish(&mut $self.store, &$self.name, $name, r)
    }};
}

/// A runner export WIT 0.2.0 added: older runners answer `Unsupported` (they cannot `$what`).
macro_rules! since_v0_2 {
    ($self:ident, $what:literal, $name:literal, $call:ident $args:tt $(=> $map:expr)?) => {
        since!($self, [V0_2, V0_3], $self.older($what, Wit::V0_2), $name, $call $args $(=> $map)?)
    };
}

/// A runner export WIT 0.3.0 added.
macro_rules! since_v0_3 {
    ($self:ident, $what:literal, $name:literal, $call:ident $args:tt $(=> $map:expr)?) => {
        since!($self, [V0_3], $self.older($what, Wit::V0_3), $name, $call $args $(=> $map)?)
    };
}

fn vec_into<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}

impl api::RunnerPlugin for Runner {
    fn denials(&self) -> Vec<String> {
        Runner::denials(self)
    }
    fn check_connection(
        &mut self,
        ctx: &api::RunContext,
    ) -> Call<api::ConnectionInfo, api::RunnerError> {
        call!(self, "check-connection", call_check_connection(&ctx.into()))
    }
    fn list_migrations(
        &mut self,
        ctx: &api::RunContext,
    ) -> Call<Vec<api::Migration>, api::RunnerError> {
        call!(self, "list-migrations", call_list_migrations(&ctx.into()) => vec_into)
    }
    fn plan(
        &mut self,
        ctx: &api::RunContext,
        target: &api::Target,
    ) -> Call<api::Plan, api::RunnerError> {
        call!(self, "plan", call_plan(&ctx.into(), &target.into()))
    }
    fn sql(
        &mut self,
        ctx: &api::RunContext,
        steps: &[api::PlanStep],
    ) -> Call<Vec<Vec<String>>, api::RunnerError> {
        call!(
            self,
            "sql",
            call_sql(
                &ctx.into(),
                &steps.iter().map(Into::into).collect::<Vec<_>>()
            )
        )
    }
    fn apply(
        &mut self,
        ctx: &api::RunContext,
        target: &api::ResolvedTarget,
        fake: bool,
    ) -> Call<(), api::RunnerError> {
        call!(self, "apply", call_apply(&ctx.into(), &target.into(), fake))
    }
    fn make_migrations(
        &mut self,
        ctx: &api::RunContext,
        app: &str,
    ) -> Call<Vec<api::MigrationRef>, api::RunnerError> {
        call!(self, "make-migrations", call_make_migrations(&ctx.into(), app) => vec_into)
    }
    fn reset_database(&mut self, ctx: &api::RunContext) -> Call<(), api::RunnerError> {
        call!(self, "reset-database", call_reset_database(&ctx.into()))
    }
    fn load_fixtures(
        &mut self,
        ctx: &api::RunContext,
        fixtures: &[String],
    ) -> Call<Vec<api::FixtureLoaded>, api::RunnerError> {
        call!(self, "load-fixtures", call_load_fixtures(&ctx.into(), fixtures) => vec_into)
    }
    fn pending_model_changes(
        &mut self,
        ctx: &api::RunContext,
    ) -> Call<Vec<api::ModelChange>, api::RunnerError> {
        call!(self, "pending-model-changes", call_pending_model_changes(&ctx.into()) => vec_into)
    }
    fn lock_database(&mut self, ctx: &api::RunContext, label: &str) -> Call<(), api::RunnerError> {
        call!(
            self,
            "lock-database",
            call_lock_database(&ctx.into(), label)
        )
    }
    fn lint_sql(
        &mut self,
        ctx: &api::RunContext,
        steps: &[api::PlanStep],
    ) -> Call<api::LintSql, api::RunnerError> {
        if let Versioned::V0_1(_) = &self.bindings {
            // 0.1.0 has no lint-sql: the full SQL, nothing left out.
            return Ok(self.sql(ctx, steps)?.map(|steps| api::LintSql {
                steps,
                created: Vec::new(),
            }));
        }
        since_v0_2!(self, "render lint SQL", "lint-sql", call_lint_sql(
            &ctx.into(),
            &steps.iter().map(Into::into).collect::<Vec<_>>()
        ) => |l| api::LintSql {
            steps: l.steps,
            created: l.created,
        })
    }
    fn empty_tables(
        &mut self,
        ctx: &api::RunContext,
        tables: &[String],
    ) -> Call<Vec<String>, api::RunnerError> {
        since_v0_2!(
            self,
            "tell empty tables",
            "empty-tables",
            call_empty_tables(&ctx.into(), tables)
        )
    }
    fn database_aliases(&mut self, ctx: &api::RunContext) -> Call<Vec<String>, api::RunnerError> {
        since_v0_2!(
            self,
            "list database aliases",
            "database-aliases",
            call_database_aliases(&ctx.into())
        )
    }
    fn lock_holders(
        &mut self,
        ctx: &api::RunContext,
    ) -> Call<Vec<api::LockHolder>, api::RunnerError> {
        since_v0_2!(self, "tell who holds locks", "lock-holders", call_lock_holders(&ctx.into()) => |v| {
            v.into_iter()
                .map(|h| api::LockHolder {
                    pid: h.pid,
                    state: h.state,
                    query: h.query,
                    transaction_seconds: h.transaction_seconds,
                    relations: h.relations,
                })
                .collect()
        })
    }
    fn invalid_indexes(&mut self, ctx: &api::RunContext) -> Call<Vec<String>, api::RunnerError> {
        since_v0_2!(
            self,
            "list invalid indexes",
            "invalid-indexes",
            call_invalid_indexes(&ctx.into())
        )
    }
    fn drop_invalid_index(
        &mut self,
        ctx: &api::RunContext,
        name: &str,
    ) -> Call<(), api::RunnerError> {
        since_v0_2!(
            self,
            "drop invalid indexes",
            "drop-invalid-index",
            call_drop_invalid_index(&ctx.into(), name)
        )
    }
    fn ledger_read(
        &mut self,
        ctx: &api::RunContext,
        schema: &str,
        query: api::LedgerQuery,
    ) -> Call<api::LedgerContents, api::RunnerError> {
        since_v0_2!(
            self,
            "keep a ledger in the database",
            "ledger-read",
            call_ledger_read(&ctx.into(), schema, query.into())
        => Into::into)
    }
    fn ledger_append(
        &mut self,
        ctx: &api::RunContext,
        schema: &str,
        entry: &api::LedgerEntry,
    ) -> Call<(), api::RunnerError> {
        since_v0_2!(
            self,
            "keep a ledger in the database",
            "ledger-append",
            call_ledger_append(&ctx.into(), schema, &entry.into())
        )
    }
    fn schema_snapshot(
        &mut self,
        ctx: &api::RunContext,
        tables: &[String],
    ) -> Call<Vec<api::SchemaObject>, api::RunnerError> {
        since_v0_3!(
            self,
            "read the database's schema",
            "schema-snapshot",
            call_schema_snapshot(&ctx.into(), tables)
        => vec_into)
    }
    fn services(&mut self, ctx: &api::RunContext) -> Call<Vec<api::Service>, api::RunnerError> {
        since_v0_3!(
            self,
            "list the services its settings name",
            "services",
            call_services(&ctx.into())
        => vec_into)
    }
}

impl Runner {
    /// What a runner built against a version before `since` answers for an export `since`
    /// added (it cannot `what`).
    fn older(&self, what: &str, since: Wit) -> api::RunnerError {
        api::RunnerError::Unsupported(format!(
            "plugin '{}' was built against platform:migrate@{}, which cannot {what} (added in {since}); rebuild it with platform-migrate-sdk {}",
            self.name,
            self.bindings.wit(),
            super::versions::sdk_line()
        ))
    }
}

impl api::BackupPlugin for Backup {
    fn denials(&self) -> Vec<String> {
        Backup::denials(self)
    }
    fn create(&mut self, ctx: &api::RunContext) -> Call<api::BackupInfo, api::BackupError> {
        call!(self, "create", call_create(&ctx.into()))
    }
    fn verify(
        &mut self,
        ctx: &api::RunContext,
        info: &api::BackupInfo,
    ) -> Call<(), api::BackupError> {
        call!(self, "verify", call_verify(&ctx.into(), &info.into()))
    }
    fn delete(
        &mut self,
        ctx: &api::RunContext,
        info: &api::BackupInfo,
    ) -> Call<(), api::BackupError> {
        call!(self, "delete", call_delete(&ctx.into(), &info.into()))
    }
    fn restore(
        &mut self,
        ctx: &api::RunContext,
        info: &api::BackupInfo,
        target: &str,
    ) -> Call<(), api::BackupError> {
        let unsupported = api::BackupError::Unsupported(format!(
            "plugin '{}' was built against platform:migrate@{}, which cannot restore; rebuild it with platform-migrate-sdk {}, or restore by hand (docs/backups.md, Restoring a backup)",
            self.name,
            self.bindings.wit(),
            super::versions::sdk_line()
        ));
        since!(
            self,
            [V0_2, V0_3],
            unsupported,
            "restore",
            call_restore(&ctx.into(), &info.into(), target)
        )
    }
    fn stream_to(&mut self, store: std::sync::Arc<crate::store::Store>, env: &str) {
        self.store.data_mut().process.store = Some(super::StoreLink {
            store,
            env: env.to_string(),
        });
    }
    fn written(&self, path: &std::path::Path) -> Option<api::Written> {
        self.store
            .data()
            .process
            .written
            .iter()
            .rev()
            .find(|w| w.path == path)
            .cloned()
    }
}

impl api::NotifierPlugin for Notifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn denials(&self) -> Vec<String> {
        Notifier::denials(self)
    }
    fn notify(&mut self, event: &api::RunEvent) -> Call<(), api::NotifyError> {
        call!(self, "notify", call_notify(&event.into()))
    }
}
