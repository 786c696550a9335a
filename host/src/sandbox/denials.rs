//! The one record of what the host refused a plugin: every capability (process, config,
//! HTTP) records its denials here, redacted, cut to [`MAX_DENIAL_LEN`] bytes, logged once,
//! and kept up to [`MAX_DENIALS`] (later ones are only counted), so a plugin that asks for the
//! forbidden in a loop cannot grow the host. The messages come from `crate::policy`, which
//! builds each one's "add ... to plugins.NAME.grants.KEY" hint from the grant model.

/// Denials kept per plugin, and the length each is cut to.
pub const MAX_DENIALS: usize = 32;
pub const MAX_DENIAL_LEN: usize = 1000;

#[derive(Debug, Default)]
pub struct Denials {
    plugin: String,
    kept: Vec<String>,
    dropped: usize,
}

impl Denials {
    pub fn new(plugin: &str) -> Denials {
        Denials {
            plugin: plugin.to_string(),
            ..Denials::default()
        }
    }

    /// Record a denial; returns the (redacted, bounded) message to hand the plugin.
    pub fn record(&mut self, message: &str) -> String {
        let message = crate::text::bounded(message, MAX_DENIAL_LEN);
        if self.kept.len() < MAX_DENIALS {
            tracing::warn!(plugin = %self.plugin, "denied: {message}");
            self.kept.push(message.clone());
        } else {
            self.dropped += 1;
        }
        message
    }

    /// The denials kept, in order.
    pub fn all(&self) -> &[String] {
        &self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_bounded_in_number_and_length() {
        let mut d = Denials::new("p");
        let long = "x".repeat(1 << 20);
        for _ in 0..100 {
            let m = d.record(&long);
            assert!(m.len() < MAX_DENIAL_LEN + 64);
        }
        assert_eq!(d.all().len(), MAX_DENIALS);
        assert_eq!(d.dropped, 100 - MAX_DENIALS);
    }
}
