//! Why a plugin could not be loaded or called: the host's own error, whatever runs the plugin.

/// Why a plugin could not be loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{loc}: plugin '{plugin}': file {path} not found; build the plugins (`just plugins`) or fix plugins.{plugin}.path")]
    FileMissing {
        plugin: String,
        path: String,
        loc: String,
    },
    #[error("plugin '{plugin}': {path} is not a WebAssembly component ({why}); build it with `cargo build --target wasm32-wasip2`")]
    NotComponent {
        plugin: String,
        path: String,
        why: String,
    },
    #[error("plugin '{plugin}': cannot compile {path}: {message}")]
    Compile {
        plugin: String,
        path: String,
        message: String,
    },
    #[error("plugin '{plugin}' is not a {world} plugin: {message}")]
    WrongWorld {
        plugin: String,
        world: &'static str,
        message: String,
    },
    #[error("plugin '{plugin}' ({path}) cannot be loaded: {source}")]
    Version {
        plugin: String,
        path: String,
        source: crate::versions::VersionError,
    },
    #[error("plugin '{plugin}' is not a platform-migrate plugin: {source}")]
    NotAPlugin {
        plugin: String,
        source: crate::shape::ShapeError,
    },
    #[error("plugin '{plugin}' imports something this host does not provide ({message}); a plugin may import the platform:migrate interfaces, WASI 0.2 and wasi:http/outgoing-handler")]
    Imports { plugin: String, message: String },
    #[error("plugin '{plugin}': {message}")]
    Setup { plugin: String, message: String },
    #[error("{loc}: plugin '{plugin}': {path} has sha256 {actual}, not the pinned {expected}; it was changed or replaced. Rebuild it from a trusted source, or if the change is yours run `platform-migrate plugins lock`")]
    Tampered {
        plugin: String,
        path: String,
        expected: String,
        actual: String,
        loc: String,
    },
    #[error("plugin '{plugin}' was stopped in {call}: it exceeded its {limit}")]
    Limit {
        plugin: String,
        call: &'static str,
        limit: String,
    },
    #[error("plugin '{plugin}' was stopped in {call}: the run was interrupted")]
    Interrupted { plugin: String, call: &'static str },
    #[error("plugin '{plugin}' crashed in {call}: {message}")]
    Trap {
        plugin: String,
        call: &'static str,
        message: String,
    },
}

impl PluginError {
    /// Errors the user fixes in the config or build (exit code 2) rather than run failures.
    pub fn is_config_problem(&self) -> bool {
        !matches!(
            self,
            PluginError::Trap { .. } | PluginError::Limit { .. } | PluginError::Interrupted { .. }
        )
    }
}
