//! The plugin sandbox: wasmtime with WASI p2, no ambient authority. A plugin sees only the
//! directories its grant mounts, no environment, no arguments, no stdin and no sockets; its
//! host imports (`log`, `config`, `process`) and `wasi:http` (outbound hosts) check every
//! request against its grants.

mod bindings;
/// The 0.2.0 `process` types the host implementation speaks.
use bindings::latest::platform::migrate::process as latest_process;
pub mod cache;
mod check;
mod convert;
mod denials;
mod host_config;
mod host_http;
mod host_log;
mod host_older;
mod host_process;
mod host_store;
mod limits;
mod naps;
mod open;
pub use platform_migrate_plugin_api::shape;
mod state;
pub use platform_migrate_plugin_api::versions;
mod worlds;

pub use check::Examined;
pub use shape::World;

pub use host_store::StoreLink;
pub use state::PluginState;
pub use worlds::{Backup, Notifier, Runner};

use crate::config::PluginConfig;
use crate::policy::Access;
use crate::secrets::Redactor;
use crate::ui::Ui;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

pub use crate::config::BACKUP_GUEST_DIR;

/// How much of a plugin's own stdout/stderr the host keeps.
const PLUGIN_OUTPUT_CAP: usize = 1024 * 1024;

pub use crate::plugin_api::PluginError;

/// One engine and linker per process; plugins are compiled (or taken from the compiled-plugin
/// cache) and instantiated from it. Within a run, a component and its linked `InstancePre` are
/// made once per file and reused by every instance of it.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<PluginState>,
    redactor: Redactor,
    ui: Ui,
    cache: cache::Cache,
    components: RefCell<HashMap<String, Component>>,
    pres: RefCell<HashMap<String, InstancePre<PluginState>>>,
}

/// A compiled plugin with its store, ready to be instantiated as one world.
pub struct Loaded {
    pub name: String,
    /// The `.wasm` file, for messages.
    pub path: String,
    pub component: Component,
    /// sha256 of the `.wasm` file.
    pub sha256: String,
    pub store: Store<PluginState>,
}

/// Read the 8-byte header: `\0asm` then version/layer. Components have layer 1.
fn check_component_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err("it is not WebAssembly at all".into());
    }
    if bytes[6..8] == [0, 0] {
        return Err("it is a core module, not a component".into());
    }
    Ok(())
}

/// The engine every plugin runs on: the component model, epoch interruption for call
/// deadlines and SIGINT. (Benchmarks build the same one to time compilation.)
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    Engine::new(&config)
}

impl Sandbox {
    pub fn new(redactor: Redactor, ui: Ui) -> anyhow::Result<Sandbox> {
        let engine = engine()?;
        limits::start_ticker(&engine);
        let mut linker: Linker<PluginState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        naps::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        // Every supported version's host imports, side by side (older versions' delegate to the newest's).
        bindings::add_imports_to_linker(&mut linker)?;
        let cache = cache::Cache::new(&engine, cache::default_dir());
        Ok(Sandbox {
            engine,
            linker,
            redactor,
            ui,
            cache,
            components: RefCell::new(HashMap::new()),
            pres: RefCell::new(HashMap::new()),
        })
    }

    /// The linked, ready-to-instantiate form of a component, made once per file per run.
    pub fn instance_pre(
        &self,
        sha256: &str,
        component: &Component,
    ) -> wasmtime::Result<InstancePre<PluginState>> {
        if let Some(pre) = self.pres.borrow().get(sha256) {
            return Ok(pre.clone());
        }
        let pre = self.linker.instantiate_pre(component)?;
        self.pres
            .borrow_mut()
            .insert(sha256.to_string(), pre.clone());
        Ok(pre)
    }

    /// A component from `bytes` (which must be one), compiled or taken from the caches, with
    /// failures as errors naming the plugin and its file.
    fn compile_checked(
        &self,
        name: &str,
        shown: &str,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<Component, PluginError> {
        check_component_header(bytes).map_err(|why| PluginError::NotComponent {
            plugin: name.to_string(),
            path: shown.to_string(),
            why,
        })?;
        self.component(bytes, sha256)
            .map_err(|e| PluginError::Compile {
                plugin: name.to_string(),
                path: shown.to_string(),
                message: format!("{e:#}"),
            })
    }

    /// Compile `bytes`, or take them from this run's memo or the compiled-plugin cache.
    fn component(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        if let Some(c) = self.components.borrow().get(sha256) {
            return Ok(c.clone());
        }
        let started = std::time::Instant::now();
        let (c, origin) = self.cache.load(&self.engine, bytes, sha256)?;
        tracing::debug!(
            "plugin {}: {:?} in {} ms",
            &sha256[..12],
            origin,
            started.elapsed().as_millis()
        );
        self.components
            .borrow_mut()
            .insert(sha256.to_string(), c.clone());
        Ok(c)
    }

    /// Compile a plugin and give it a store with exactly its grants. `backup_dir` is mounted
    /// read-write at `/backups` for backup providers.
    pub fn load(
        &self,
        base_dir: &Path,
        plugin: &PluginConfig,
        backup_dir: Option<&Path>,
    ) -> Result<Loaded, PluginError> {
        let name = plugin.name.clone();
        let shown = plugin.path.display().to_string();
        let loc = format!(
            "{}:{}:{}",
            plugin.path_loc.path, plugin.path_loc.line, plugin.path_loc.column
        );
        let bytes = plugin.bytes().map_err(|e| match plugin.builtin {
            Some(_) => PluginError::Setup {
                plugin: name.clone(),
                message: format!("{loc}: {e}"),
            },
            None => PluginError::FileMissing {
                plugin: name.clone(),
                path: shown.clone(),
                loc,
            },
        })?;
        let actual = cache::sha256_hex(&bytes);
        if let Some((expected, loc)) = &plugin.sha256 {
            if &actual != expected {
                return Err(PluginError::Tampered {
                    plugin: name.clone(),
                    path: shown.clone(),
                    expected: expected.clone(),
                    actual: actual.clone(),
                    loc: format!("{}:{}:{}", loc.path, loc.line, loc.column),
                });
            }
        }
        let component = self.compile_checked(&name, &shown, &bytes, &actual)?;

        let output = MemoryOutputPipe::new(PLUGIN_OUTPUT_CAP);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(output.clone()).stderr(output.clone());
        wasi.monotonic_clock(naps::Clock);
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let setup = |message: String| PluginError::Setup {
            plugin: name.clone(),
            message,
        };
        for d in &plugin.grants.dirs {
            let perms = match d.access {
                Access::ReadOnly => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            if !d.host.is_dir() {
                return Err(setup(format!(
                    "granted directory {} (mounted at {}) does not exist; create it or fix plugins.{name}.grants.dirs",
                    d.host.display(),
                    d.guest
                )));
            }
            wasi.preopened_dir(&d.host, &d.guest, perms)
                .map_err(|e| setup(format!("cannot mount {}: {e}", d.host.display())))?;
        }
        if let Some(dir) = backup_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                setup(format!(
                    "cannot create backup directory {}: {e}",
                    dir.display()
                ))
            })?;
            wasi.preopened_dir(dir, BACKUP_GUEST_DIR, FsPerms::ReadWrite)
                .map_err(|e| setup(format!("cannot mount {}: {e}", dir.display())))?;
        }
        // The host's own file handling (stdin/stdout files of processes) sees the same mounts.
        let mut grants = crate::config::grants_with_url_ports(plugin, &self.redactor);
        if let Some(dir) = backup_dir {
            grants.mount(crate::policy::DirGrant {
                host: dir.to_path_buf(),
                guest: BACKUP_GUEST_DIR.into(),
                access: Access::ReadWrite,
            });
        }
        let state = PluginState::new(
            wasi.build(),
            output,
            plugin,
            grants,
            base_dir.to_path_buf(),
            self.redactor.clone(),
            self.ui.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        limits::install_deadline_check(&mut store);
        // Instantiation runs the plugin's start code: it gets a call's deadline too.
        limits::arm(&mut store);
        Ok(Loaded {
            name,
            path: shown,
            component,
            sha256: actual,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_component_header;

    #[test]
    fn headers_tell_components_from_modules() {
        assert!(check_component_header(b"\0asm\x0d\x00\x01\x00").is_ok());
        assert!(check_component_header(b"\0asm\x01\x00\x00\x00")
            .unwrap_err()
            .contains("core module"));
        assert!(check_component_header(b"hello world")
            .unwrap_err()
            .contains("not WebAssembly"));
        assert!(check_component_header(b"").is_err());
    }
}
