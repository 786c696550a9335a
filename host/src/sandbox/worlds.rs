//! Typed handles on the three plugin worlds. Every call drains the plugin's own output into the
//! log and turns a trap into a `PluginError` naming the plugin and the call.

use super::bindings::{backup, notifier, runner};
use super::{Loaded, PluginError, PluginState, Sandbox};
use crate::policy::Need;
use wasmtime::Store;

/// What a plugin said about itself, independent of its world.
#[derive(Debug, Clone)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    pub needs: Vec<Need>,
}

macro_rules! info_from {
    ($module:ident) => {
        impl From<$module::platform::migrate::types::PluginInfo> for Info {
            fn from(i: $module::platform::migrate::types::PluginInfo) -> Info {
                use $module::platform::migrate::types::Capability as C;
                Info {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                    needs: i
                        .capabilities
                        .into_iter()
                        .map(|c| match c {
                            C::RunProgram(s) => Need::RunProgram(s),
                            C::Directory(s) => Need::Directory(s),
                            C::EnvVar(s) => Need::EnvVar(s),
                            C::Secret(s) => Need::Secret(s),
                            C::OutboundHttp(s) => Need::OutboundHttp(s),
                        })
                        .collect(),
                }
            }
        }
    };
}
info_from!(runner);
info_from!(backup);
info_from!(notifier);

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

macro_rules! world_handle {
    ($name:ident, $module:ident, $bindings:ident, $pre:ident, $world:expr) => {
        /// A loaded plugin of this world.
        pub struct $name {
            pub name: String,
            pub store: Store<PluginState>,
            bindings: $module::$bindings,
        }

        impl $name {
            /// Instantiate a loaded plugin; fails when it does not implement the world.
            pub fn instantiate(sandbox: &Sandbox, loaded: Loaded) -> Result<Self, PluginError> {
                let Loaded {
                    name,
                    path,
                    component,
                    sha256,
                    mut store,
                } = loaded;
                sandbox.conforms(&name, &path, &component, Some($world))?;
                let bindings = sandbox
                    .instance_pre(&sha256, &component)
                    .and_then($module::$pre::new)
                    .and_then(|pre| pre.instantiate(&mut store))
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

            /// Denials the host made while serving this plugin (capabilities, then HTTP).
            pub fn denials(&self) -> Vec<String> {
                let d = self.store.data();
                d.denials
                    .iter()
                    .chain(d.http_gate.denials.iter())
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

pub use runner::platform::migrate::runner_types as rt;

impl Runner {
    pub fn describe(&mut self) -> Result<Info, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_describe(&mut self.store);
        finish(&mut self.store, &self.name, "describe", r).map(Info::from)
    }
    pub fn check_connection(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
    ) -> Result<Result<rt::ConnectionInfo, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_check_connection(&mut self.store, ctx);
        finish(&mut self.store, &self.name, "check-connection", r)
    }
    pub fn list_migrations(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
    ) -> Result<Result<Vec<rt::Migration>, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_list_migrations(&mut self.store, ctx);
        finish(&mut self.store, &self.name, "list-migrations", r)
    }
    pub fn plan(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        target: &rt::Target,
    ) -> Result<Result<rt::Plan, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_plan(&mut self.store, ctx, target);
        finish(&mut self.store, &self.name, "plan", r)
    }
    pub fn apply(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        target: &rt::ResolvedTarget,
        fake: bool,
    ) -> Result<Result<(), rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_apply(&mut self.store, ctx, target, fake);
        finish(&mut self.store, &self.name, "apply", r)
    }
    pub fn make_migrations(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        app: &str,
    ) -> Result<
        Result<Vec<runner::platform::migrate::types::MigrationRef>, rt::RunnerError>,
        PluginError,
    > {
        super::limits::arm(&mut self.store);
        let r = self
            .bindings
            .call_make_migrations(&mut self.store, ctx, app);
        finish(&mut self.store, &self.name, "make-migrations", r)
    }
    pub fn reset_database(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
    ) -> Result<Result<(), rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_reset_database(&mut self.store, ctx);
        finish(&mut self.store, &self.name, "reset-database", r)
    }
    pub fn load_fixtures(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        fixtures: &[String],
    ) -> Result<Result<Vec<rt::FixtureLoaded>, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self
            .bindings
            .call_load_fixtures(&mut self.store, ctx, fixtures);
        finish(&mut self.store, &self.name, "load-fixtures", r)
    }
    pub fn pending_model_changes(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
    ) -> Result<Result<Vec<rt::ModelChange>, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self
            .bindings
            .call_pending_model_changes(&mut self.store, ctx);
        finish(&mut self.store, &self.name, "pending-model-changes", r)
    }
    pub fn sql(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        steps: &[rt::PlanStep],
    ) -> Result<Result<Vec<Vec<String>>, rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_sql(&mut self.store, ctx, steps);
        finish(&mut self.store, &self.name, "sql", r)
    }
    pub fn lock_database(
        &mut self,
        ctx: &runner::platform::migrate::types::RunContext,
        label: &str,
    ) -> Result<Result<(), rt::RunnerError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self
            .bindings
            .call_lock_database(&mut self.store, ctx, label);
        finish(&mut self.store, &self.name, "lock-database", r)
    }
}

pub use backup::platform::migrate::backup_types as bt;

impl Backup {
    pub fn describe(&mut self) -> Result<Info, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_describe(&mut self.store);
        finish(&mut self.store, &self.name, "describe", r).map(Info::from)
    }
    pub fn create(
        &mut self,
        ctx: &backup::platform::migrate::types::RunContext,
    ) -> Result<Result<bt::BackupInfo, bt::BackupError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_create(&mut self.store, ctx);
        finish(&mut self.store, &self.name, "create", r)
    }
    pub fn verify(
        &mut self,
        ctx: &backup::platform::migrate::types::RunContext,
        info: &bt::BackupInfo,
    ) -> Result<Result<(), bt::BackupError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_verify(&mut self.store, ctx, info);
        finish(&mut self.store, &self.name, "verify", r)
    }
    pub fn delete(
        &mut self,
        ctx: &backup::platform::migrate::types::RunContext,
        info: &bt::BackupInfo,
    ) -> Result<Result<(), bt::BackupError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_delete(&mut self.store, ctx, info);
        finish(&mut self.store, &self.name, "delete", r)
    }
    /// The host's own measurement of a file it wrote from a child's stdout, if it wrote
    /// `path` (the newest such record).
    pub fn written(&self, path: &std::path::Path) -> Option<super::Written> {
        self.store
            .data()
            .written
            .iter()
            .rev()
            .find(|w| w.path == path)
            .cloned()
    }
}

pub use notifier::platform::migrate::notifier_types as nt;

impl Notifier {
    pub fn describe(&mut self) -> Result<Info, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_describe(&mut self.store);
        finish(&mut self.store, &self.name, "describe", r).map(Info::from)
    }
    pub fn notify(
        &mut self,
        event: &nt::RunEvent,
    ) -> Result<Result<(), nt::NotifyError>, PluginError> {
        super::limits::arm(&mut self.store);
        let r = self.bindings.call_notify(&mut self.store, event);
        finish(&mut self.store, &self.name, "notify", r)
    }
}
