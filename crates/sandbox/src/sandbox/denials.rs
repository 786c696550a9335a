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
    /// The built-in the entry names: its grant cannot be widened, so the hint says so.
    builtin: Option<&'static str>,
    kept: Vec<String>,
    dropped: usize,
}

/// Where a policy message's "add ... to plugins.NAME.grants.KEY" hint starts.
const HINT: &str = "; to allow it add ";

impl Denials {
    pub fn new(plugin: &str, builtin: Option<&'static str>) -> Denials {
        Denials {
            plugin: plugin.to_string(),
            builtin,
            ..Denials::default()
        }
    }

    /// Record a denial; returns the (redacted, bounded) message to hand the plugin.
    pub fn record(&mut self, message: &str) -> String {
        let message = match (self.builtin, message.find(HINT)) {
            // A built-in's grant is derived and can only be narrowed: no grant line lifts this.
            (Some(b), Some(at)) => format!(
                "{}; builtin:{b} gets only the grant derived from its settings (`platform-migrate plugin inspect {}` prints it), which a config cannot widen: change its settings, or use the plugin file (path = ...) with a grant of your own",
                &message[..at],
                self.plugin
            ),
            _ => message.to_string(),
        };
        let message = crate::text::bounded(&message, MAX_DENIAL_LEN);
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
        let mut d = Denials::new("p", None);
        let long = "x".repeat(1 << 20);
        for _ in 0..100 {
            let m = d.record(&long);
            assert!(m.len() < MAX_DENIAL_LEN + 64);
        }
        assert_eq!(d.all().len(), MAX_DENIALS);
        assert_eq!(d.dropped, 100 - MAX_DENIALS);
    }

    #[test]
    fn a_builtin_is_not_told_to_widen_its_grant() {
        let message = "plugin 'slack' asked for http://x, which is not granted; to allow it add \"http://x\" to plugins.slack.grants.hosts";
        let m = Denials::new("slack", Some("slack-notifier")).record(message);
        assert!(m.starts_with("plugin 'slack' asked for http://x, which is not granted; builtin:slack-notifier gets only"), "{m}");
        assert!(!m.contains("grants.hosts"), "{m}");
        let m = Denials::new("slack", None).record(message);
        assert_eq!(m, message);
    }
}
