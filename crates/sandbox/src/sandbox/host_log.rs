//! The `log` import: plugin lines into the host's `tracing`, redacted.

use super::bindings::latest::platform::migrate::log::{Host, Level};
use super::state::PluginState;

/// Bytes of log lines one plugin may write in its life, and the longest line kept.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;
pub const MAX_LOG_LINE: usize = 4096;

impl Host for PluginState {
    fn write(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let plugin = self.plugin().to_string();
        if self.log.bytes >= MAX_LOG_BYTES {
            return;
        }
        let mut line = message;
        for (k, v) in fields.iter().take(32) {
            if line.len() > MAX_LOG_LINE * 2 {
                break;
            }
            line.push_str(&format!(" {k}={v}"));
        }
        // Secrets masked, control characters (new lines too: one line stays one line) and
        // workflow commands defused, then cut.
        let line = crate::text::one_line(&line, MAX_LOG_LINE);
        self.log.bytes += line.len();
        if self.log.bytes >= MAX_LOG_BYTES {
            tracing::warn!(plugin = %plugin, "plugin wrote {MAX_LOG_BYTES} bytes of logs; its further log lines are dropped");
            return;
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
