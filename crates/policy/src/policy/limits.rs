//! Resource limits of one plugin instance: how much linear memory it may grow to, how long one
//! call into it may run (wall clock), how much output the host keeps from each process it
//! runs, and how large an HTTP response body it may read. Each has a default and a config
//! override in `[plugins.NAME.limits]`; a plugin that exceeds one is stopped with an error
//! naming the plugin and the limit.

use std::time::Duration;

/// The limits of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, in bytes (`memory-mb`).
    pub memory_bytes: usize,
    /// Wall-clock time of one call into the plugin, its processes included (`call-timeout-secs`).
    pub call_timeout: Duration,
    /// Output kept from each of a process's stdout and stderr, in bytes (`process-output-kb`);
    /// the rest is dropped and the result marked truncated.
    pub process_output_bytes: usize,
    /// Largest HTTP response body, in bytes (`http-response-kb`).
    pub http_response_bytes: u64,
}

pub const DEFAULT_MEMORY_MB: u64 = 512;
/// Four hours: longer than any one process may run by default (an hour), so a slow but honest
/// backup is stopped by its process timeout first, with the better message.
pub const DEFAULT_CALL_TIMEOUT_SECS: u64 = 4 * 3600;
pub const DEFAULT_PROCESS_OUTPUT_KB: u64 = 8 * 1024;
pub const DEFAULT_HTTP_RESPONSE_KB: u64 = 1024;
/// wasm32 cannot address more than 4 GiB.
pub const MAX_MEMORY_MB: u64 = 4096;

impl Default for Limits {
    fn default() -> Self {
        Limits::new(None, None, None, None).expect("defaults are valid")
    }
}

impl Limits {
    /// Limits from the config's optional values; an error names the key and the valid range.
    pub fn new(
        memory_mb: Option<u64>,
        call_timeout_secs: Option<u64>,
        process_output_kb: Option<u64>,
        http_response_kb: Option<u64>,
    ) -> Result<Limits, String> {
        let memory_mb = memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
        if !(1..=MAX_MEMORY_MB).contains(&memory_mb) {
            return Err(format!(
                "limits.memory-mb must be between 1 and {MAX_MEMORY_MB} (default {DEFAULT_MEMORY_MB})"
            ));
        }
        let call = call_timeout_secs.unwrap_or(DEFAULT_CALL_TIMEOUT_SECS);
        if call == 0 {
            return Err(format!(
                "limits.call-timeout-secs must be at least 1 (default {DEFAULT_CALL_TIMEOUT_SECS})"
            ));
        }
        let output = process_output_kb.unwrap_or(DEFAULT_PROCESS_OUTPUT_KB);
        if !(1..=1024 * 1024).contains(&output) {
            return Err(format!(
                "limits.process-output-kb must be between 1 and 1048576 (default {DEFAULT_PROCESS_OUTPUT_KB})"
            ));
        }
        let http = http_response_kb.unwrap_or(DEFAULT_HTTP_RESPONSE_KB);
        if !(1..=1024 * 1024).contains(&http) {
            return Err(format!(
                "limits.http-response-kb must be between 1 and 1048576 (default {DEFAULT_HTTP_RESPONSE_KB})"
            ));
        }
        Ok(Limits {
            memory_bytes: (memory_mb * 1024 * 1024) as usize,
            call_timeout: Duration::from_secs(call),
            process_output_bytes: (output * 1024) as usize,
            http_response_bytes: http * 1024,
        })
    }

    /// The config line that raises the limit a plugin ran into.
    pub fn describe(&self, which: Which, plugin: &str) -> String {
        match which {
            Which::Memory => format!(
                "memory limit of {} MiB (raise plugins.{plugin}.limits.memory-mb if the plugin is trusted)",
                self.memory_bytes / (1024 * 1024)
            ),
            Which::CallTimeout => format!(
                "call time limit of {} s (raise plugins.{plugin}.limits.call-timeout-secs if the plugin is trusted)",
                self.call_timeout.as_secs()
            ),
        }
    }
}

/// The limits that stop a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Memory,
    CallTimeout,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = Limits::default();
        assert_eq!(d.memory_bytes, 512 << 20);
        assert_eq!(d.call_timeout, Duration::from_secs(14400));
        assert_eq!(d.process_output_bytes, 8 << 20);
        assert_eq!(d.http_response_bytes, 1 << 20);
        let l = Limits::new(Some(64), Some(5), Some(16), Some(2)).unwrap();
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.call_timeout, Duration::from_secs(5));
        assert_eq!(l.process_output_bytes, 16 << 10);
        assert_eq!(l.http_response_bytes, 2 << 10);
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        assert!(Limits::new(Some(0), None, None, None)
            .unwrap_err()
            .contains("memory-mb"));
        assert!(Limits::new(Some(5000), None, None, None)
            .unwrap_err()
            .contains("between 1 and 4096"));
        assert!(Limits::new(None, Some(0), None, None)
            .unwrap_err()
            .contains("call-timeout-secs"));
        assert!(Limits::new(None, None, Some(0), None)
            .unwrap_err()
            .contains("process-output-kb"));
        assert!(Limits::new(None, None, None, Some(0))
            .unwrap_err()
            .contains("http-response-kb"));
    }

    #[test]
    fn the_message_says_which_key_raises_it() {
        let l = Limits::new(Some(64), Some(5), None, None).unwrap();
        let m = l.describe(Which::Memory, "evil");
        assert!(
            m.contains("64 MiB") && m.contains("plugins.evil.limits.memory-mb"),
            "{m}"
        );
        let c = l.describe(Which::CallTimeout, "evil");
        assert!(c.contains("5 s") && c.contains("call-timeout-secs"), "{c}");
    }
}
