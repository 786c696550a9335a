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

pub use crate::plugin_api::Written;

/// Denials kept per plugin, and the length each is cut to.
pub const MAX_DENIALS: usize = 32;
pub const MAX_DENIAL_LEN: usize = 1000;

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
    /// The denials in this plugin's life, in order (the first [`MAX_DENIALS`]).
    pub denials: Vec<String>,
    /// Denials past [`MAX_DENIALS`], counted only.
    pub denials_dropped: usize,
    /// The plugin's own stdout/stderr (panics land here).
    pub output: MemoryOutputPipe,
    /// Variables the host itself sets on every program this plugin starts (e.g. `PGOPTIONS`
    /// with the env's timeouts); a granted variable the plugin sets wins.
    pub host_env: Vec<(String, String)>,
    /// Files written from child stdout (`stdout-file`), in order.
    pub written: Vec<Written>,
    /// Bytes of log lines written so far (capped by `host_log::MAX_LOG_BYTES`).
    pub log_bytes: usize,
    /// Programs running for this plugin now (background ones until dropped).
    pub live_children: usize,
    /// The private temp dir (`TMPDIR` and `HOME`) of the programs this plugin starts, made on
    /// first use and removed with the plugin.
    pub tmp: Option<tempfile::TempDir>,
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
            denials_dropped: 0,
            output,
            host_env: Vec::new(),
            written: Vec::new(),
            live_children: 0,
            log_bytes: 0,
            tmp: None,
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_gate,
        }
    }

    pub fn plugin(&self) -> &str {
        &self.grants.plugin
    }

    /// Record a denial (the first [`MAX_DENIALS`] are kept, each cut to [`MAX_DENIAL_LEN`]
    /// after redaction) and return the message for the plugin.
    pub fn deny(&mut self, message: String) -> String {
        let message = crate::text::bounded(&self.redactor.redact(&message), MAX_DENIAL_LEN);
        if self.denials.len() < MAX_DENIALS {
            tracing::warn!(plugin = %self.grants.plugin, "denied: {message}");
            self.denials.push(message.clone());
        } else {
            self.denials_dropped += 1;
        }
        message
    }

    /// The private temp dir for this plugin's programs, made on first use.
    pub fn private_tmp(
        &mut self,
    ) -> Result<PathBuf, super::bindings::platform::migrate::process::Error> {
        if self.tmp.is_none() {
            let d = tempfile::Builder::new()
                .prefix("platform-migrate-child-")
                .tempdir()
                .map_err(|e| {
                    super::bindings::platform::migrate::process::Error::Io(format!(
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
