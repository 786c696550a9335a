//! What a plugin's store holds: its WASI context, its grants, and what the host learned while
//! serving it (denials, captured stderr).

use crate::config::SecretSource;
use crate::policy::Grants;
use crate::secrets::Redactor;
use crate::ui::Ui;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Linear memory a plugin may grow to.
pub const MEMORY_LIMIT: usize = 512 * 1024 * 1024;

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
    pub limits: StoreLimits,
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
    ) -> Self {
        let http_gate = super::host_http::HttpGate::new(&grants.plugin, grants.hosts.clone());
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(MEMORY_LIMIT)
                .instances(16)
                .build(),
            grants,
            settings,
            secrets,
            redactor,
            ui,
            base_dir,
            denials: Vec::new(),
            output,
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
