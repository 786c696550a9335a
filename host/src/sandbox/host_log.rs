//! The `log` import: plugin lines into the host's `tracing`, redacted.

use super::bindings::platform::migrate::log::{Host, Level};
use super::state::PluginState;

impl Host for PluginState {
    fn write(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let plugin = self.plugin().to_string();
        let mut line = self.redactor.redact(&message);
        for (k, v) in fields {
            line.push_str(&format!(" {}={}", k, self.redactor.redact(&v)));
        }
        match level {
            Level::Trace => tracing::trace!(plugin = %plugin, "{line}"),
            Level::Debug => tracing::debug!(plugin = %plugin, "{line}"),
            Level::Info => tracing::info!(plugin = %plugin, "{line}"),
            Level::Warn => tracing::warn!(plugin = %plugin, "{line}"),
            Level::Error => tracing::error!(plugin = %plugin, "{line}"),
        }
    }
}
