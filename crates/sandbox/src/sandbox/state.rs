//! What a plugin's store holds, split by capability: its WASI context and resource table, its
//! limits, its grants, and one part per host import — `config` (settings, secrets), `process`
//! (programs it starts), `log`, `http` — plus the one record of its denials.

use crate::config::{PluginConfig, SecretSource};
use crate::policy::Grants;
use crate::secrets::Redactor;
use crate::ui::Ui;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use super::denials::Denials;
pub use crate::plugin_api::Written;

/// The `config` import: the entry's settings and the secrets it is granted.
pub struct ConfigCap {
    pub settings: Vec<(String, String)>,
    pub secrets: BTreeMap<String, SecretSource>,
}

/// The `process` import: what the host keeps about the programs a plugin starts.
pub struct ProcessCap {
    /// Folder relative programs are resolved against and programs run in by default.
    pub base_dir: PathBuf,
    /// Variables the host itself sets on every program this plugin starts (e.g. `PGOPTIONS`
    /// with the env's timeouts); a granted variable the plugin sets wins.
    pub host_env: Vec<(String, String)>,
    /// Files written from child stdout (`stdout-file`), in order.
    pub written: Vec<Written>,
    /// Where `/backups` files stream to, when the env keeps backups in a store only.
    pub store: Option<super::StoreLink>,
    /// Programs running for this plugin now (background ones until dropped).
    pub live_children: usize,
    /// Programs started since the current call into the plugin began
    /// (`host_process::MAX_STARTS_PER_CALL`).
    pub started_this_call: usize,
    /// The private temp dir (`TMPDIR` and `HOME`) of the programs, made on first use and
    /// removed with the plugin.
    pub tmp: Option<tempfile::TempDir>,
}

/// The `log` import.
#[derive(Default)]
pub struct LogCap {
    /// Bytes of log lines written so far (capped by `host_log::MAX_LOG_BYTES`).
    pub bytes: usize,
}

/// `wasi:http`: its state and the outbound-host allowlist.
pub struct HttpCap {
    pub ctx: wasmtime_wasi_http::WasiHttpCtx,
    pub gate: super::host_http::HttpGate,
}

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    /// The plugin's own stdout/stderr (panics land here).
    pub output: MemoryOutputPipe,
    /// Memory and call-time limits, and which one stopped the last call.
    pub limiter: super::limits::Limiter,
    pub grants: Grants,
    pub redactor: Redactor,
    pub ui: Ui,
    pub config: ConfigCap,
    pub process: ProcessCap,
    pub log: LogCap,
    pub http: HttpCap,
    /// What the host refused the plugin through `config` and `process` (HTTP keeps its own,
    /// in the gate).
    pub denials: Denials,
}

impl PluginState {
    /// The store's state for `entry`, with `grants` (the entry's, plus the host's own mounts).
    pub fn new(
        wasi: WasiCtx,
        output: MemoryOutputPipe,
        entry: &PluginConfig,
        grants: Grants,
        base_dir: PathBuf,
        redactor: Redactor,
        ui: Ui,
    ) -> Self {
        let limits = entry.limits.clone();
        let gate = super::host_http::HttpGate::new(
            &grants.plugin,
            entry.builtin,
            grants.hosts.clone(),
            limits.http_response_bytes,
        );
        PluginState {
            wasi,
            table: ResourceTable::new(),
            output,
            limiter: super::limits::Limiter::new(limits),
            denials: Denials::new(&grants.plugin, entry.builtin),
            grants,
            redactor,
            ui,
            config: ConfigCap {
                settings: entry.settings(),
                secrets: entry.secrets.clone(),
            },
            process: ProcessCap {
                base_dir,
                host_env: Vec::new(),
                written: Vec::new(),
                store: None,
                live_children: 0,
                started_this_call: 0,
                tmp: None,
            },
            log: LogCap::default(),
            http: HttpCap {
                ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
                gate,
            },
        }
    }

    pub fn plugin(&self) -> &str {
        &self.grants.plugin
    }

    /// Record a denial and return the message for the plugin.
    pub fn deny(&mut self, message: String) -> String {
        self.denials.record(&message)
    }
}

impl ProcessCap {
    /// The private temp dir for the plugin's programs, made on first use.
    pub fn private_tmp(
        &mut self,
    ) -> Result<PathBuf, super::bindings::latest::platform::migrate::process::Error> {
        if self.tmp.is_none() {
            let d = tempfile::Builder::new()
                .prefix("platform-migrate-child-")
                .tempdir()
                .map_err(|e| {
                    super::bindings::latest::platform::migrate::process::Error::Io(format!(
                        "cannot make a private temp dir: {e}"
                    ))
                })?;
            self.tmp = Some(d);
        }
        Ok(self
            .tmp
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
