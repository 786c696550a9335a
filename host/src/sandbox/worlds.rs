//! Typed handles on the three plugin worlds. Every call drains the plugin's own output into the
//! log and turns a trap into a `PluginError` naming the plugin and the call.

use super::bindings::{v0_1, v0_2};
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
pub(super) enum Versioned<A, B> {
    V0_1(A),
    V0_2(B),
}

macro_rules! world_handle {
    ($name:ident, $module:ident, $bindings:ident, $pre:ident, $world:expr) => {
        /// A loaded plugin of this world.
        pub struct $name {
            pub name: String,
            pub store: Store<PluginState>,
            bindings: Versioned<v0_1::$module::$bindings, v0_2::$module::$bindings>,
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
                let bindings = match version.as_str() {
                    "0.1.0" => pre
                        .and_then(v0_1::$module::$pre::new)
                        .and_then(|pre| pre.instantiate(&mut store))
                        .map(Versioned::V0_1),
                    _ => pre
                        .and_then(v0_2::$module::$pre::new)
                        .and_then(|pre| pre.instantiate(&mut store))
                        .map(Versioned::V0_2),
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
                };
                finish(&mut self.store, &self.name, "describe", r)
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
    ($self:ident, $name:literal, $call:ident ( $($arg:expr),* )) => {
        call!($self, $name, $call($($arg),*) => Into::into)
    };
    ($self:ident, $name:literal, $call:ident ( $($arg:expr),* ) => $map:expr) => {{
        super::limits::arm(&mut $self.store);
        let r = match &$self.bindings {
            Versioned::V0_1(b) => b
                .$call(&mut $self.store $(, $arg)*)
                .map(|r| r.map($map).map_err(Into::into)),
            Versioned::V0_2(b) => b
                .$call(&mut $self.store $(, $arg)*)
                .map(|r| r.map($map).map_err(Into::into)),
        };
        finish(&mut $self.store, &$self.name, $name, r)
    }};
}

/// A call to an export WIT 0.2.0 added: a runner built against 0.1.0 answers `Unsupported`
/// (it cannot `$what`); `$map` converts the success value.
macro_rules! since_v0_2 {
    ($self:ident, $what:literal, $name:literal, $call:ident ( $($arg:expr),* )) => {
        since_v0_2!($self, $what, $name, $call($($arg),*) => std::convert::identity)
    };
    ($self:ident, $what:literal, $name:literal, $call:ident ( $($arg:expr),* ) => $map:expr) => {{
        let Versioned::V0_2(b) = &$self.bindings else {
            return Ok(Err($self.not_in_v0_1($what)));
        };
        super::limits::arm(&mut $self.store);
        let r = b
            .$call(&mut $self.store $(, $arg)*)
            .map(|r| r.map($map).map_err(Into::into));
        finish(&mut $self.store, &$self.name, $name, r)
    }};
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
        let b = match &self.bindings {
            Versioned::V0_1(_) => {
                return Ok(self.sql(ctx, steps)?.map(|steps| api::LintSql {
                    steps,
                    created: Vec::new(),
                }))
            }
            Versioned::V0_2(b) => b,
        };
        super::limits::arm(&mut self.store);
        let steps: Vec<_> = steps.iter().map(Into::into).collect();
        let r = b
            .call_lint_sql(&mut self.store, &ctx.into(), &steps)
            .map(|r| {
                r.map(|l| api::LintSql {
                    steps: l.steps,
                    created: l.created,
                })
                .map_err(Into::into)
            });
        finish(&mut self.store, &self.name, "lint-sql", r)
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
        let b = match &self.bindings {
            Versioned::V0_1(_) => return Ok(Err(self.no_ledger())),
            Versioned::V0_2(b) => b,
        };
        super::limits::arm(&mut self.store);
        let r = b
            .call_ledger_read(&mut self.store, &ctx.into(), schema, query.into())
            .map(|r| r.map(Into::into).map_err(Into::into));
        finish(&mut self.store, &self.name, "ledger-read", r)
    }
    fn ledger_append(
        &mut self,
        ctx: &api::RunContext,
        schema: &str,
        entry: &api::LedgerEntry,
    ) -> Call<(), api::RunnerError> {
        let b = match &self.bindings {
            Versioned::V0_1(_) => return Ok(Err(self.no_ledger())),
            Versioned::V0_2(b) => b,
        };
        super::limits::arm(&mut self.store);
        let r = b
            .call_ledger_append(&mut self.store, &ctx.into(), schema, &entry.into())
            .map(|r| r.map_err(Into::into));
        finish(&mut self.store, &self.name, "ledger-append", r)
    }
}

impl Runner {
    /// What a runner built against 0.1.0 answers for an export 0.2.0 added.
    fn not_in_v0_1(&self, what: &str) -> api::RunnerError {
        api::RunnerError::Unsupported(format!(
            "plugin '{}' was built against platform:migrate@0.1.0, which cannot {what}; rebuild it with platform-migrate-sdk 0.2",
            self.name
        ))
    }

    /// What a runner built against 0.1.0 answers for the ledger, which 0.1.0 lacks.
    fn no_ledger(&self) -> api::RunnerError {
        api::RunnerError::Unsupported(format!(
            "plugin '{}' was built against platform:migrate@0.1.0, which has no ledger; rebuild it with platform-migrate-sdk 0.2 to keep the ledger in the database",
            self.name
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
        let b = match &self.bindings {
            Versioned::V0_1(_) => {
                return Ok(Err(api::BackupError::Unsupported(format!(
                    "plugin '{}' was built against platform:migrate@0.1.0, which cannot restore; rebuild it with platform-migrate-sdk 0.2, or restore by hand (README, Restoring a backup)",
                    self.name
                ))))
            }
            Versioned::V0_2(b) => b,
        };
        super::limits::arm(&mut self.store);
        let r = b
            .call_restore(&mut self.store, &ctx.into(), &info.into(), target)
            .map(|r| r.map_err(Into::into));
        finish(&mut self.store, &self.name, "restore", r)
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
