//! What a plugin's store holds: its WASI context, its grants, and what the host learned while
//! serving it (denials, captured stderr).

use crate::config::SecretSource;
use crate::policy::{Grants, Limits};
use crate::secrets::Redactor;
use crate::ui::Ui;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// A file the host wrote from a child's stdout, measured as the bytes passed.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    /// Memory and call-time limits, and which one stopped the last call.
    pub limiter: super::limits::Limiter,
    pub grants: Grants,
    pub settings: Vec<(String, String)>,
    pub secrets: BTreeMap<String, SecretSource>,
    pub redactor: Redactor,
    pub ui: Ui,
    /// Folder relative programs are resolved against and commands run in by default.
    pub base_dir: PathBuf,
    /// Every denial in this plugin's life, in order.
    pub denials: Vec<String>,
    /// The plugin's own stdout/stderr (panics land here).
    pub output: MemoryOutputPipe,
    /// Variables the host itself sets on every program this plugin starts (e.g. `PGOPTIONS`
    /// with the env's timeouts); a granted variable the plugin sets wins.
    pub host_env: Vec<(String, String)>,
    /// Files written from child stdout (`stdout-file`), in order.
    pub written: Vec<Written>,
    /// wasi:http state and the outbound-host allowlist.
    pub http_ctx: wasmtime_wasi_http::WasiHttpCtx,
    pub http_gate: super::host_http::HttpGate,
}

impl PluginState {
    #[allow(clippy::too_many_arguments)] // one per field the loader fills in
    pub fn new(
        wasi: WasiCtx,
        output: MemoryOutputPipe,
        grants: Grants,
        settings: Vec<(String, String)>,
        secrets: BTreeMap<String, SecretSource>,
        redactor: Redactor,
        ui: Ui,
        base_dir: PathBuf,
        limits: Limits,
    ) -> Self {
        let http_gate = super::host_http::HttpGate::new(
            &grants.plugin,
            grants.hosts.clone(),
            limits.http_response_bytes,
        );
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limiter: super::limits::Limiter::new(limits.clone()),
            grants,
            settings,
            secrets,
            redactor,
            ui,
            base_dir,
            denials: Vec::new(),
            output,
            host_env: Vec::new(),
            written: Vec::new(),
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_gate,
        }
    }

    pub fn plugin(&self) -> &str {
        &self.grants.plugin
    }

    pub fn deny(&mut self, message: String) -> String {
        tracing::warn!(plugin = %self.grants.plugin, "denied: {message}");
        self.denials.push(message.clone());
        message
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
