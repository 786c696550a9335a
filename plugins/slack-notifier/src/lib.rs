//! slack-notifier: posts each run's result to a Slack incoming webhook over `wasi:http`.
//!
//! Settings:
//! - `webhook-secret` (default `slack-webhook`): the granted secret holding the webhook URL
//!   (`https://hooks.slack.com/services/...`). The URL is a secret: it is never logged.
//! - `max-attempts` (default 5), `max-total-secs` (default 60): bounds of the retry loop;
//!   `initial-backoff-ms` (default 500) doubles after each 5xx or connection error; a 429 waits
//!   for its `Retry-After`. Other 4xx answers (`invalid_payload`, `no_service`,
//!   `channel_not_found`, ...) are not retried.
//! - `timeout-secs` (default 10): per request, for connecting and the first byte.
//!
//! Grants: the secret, and the webhook's origin in `grants.hosts`
//! (`https://hooks.slack.com`). The plugin declares no fixed origin because the URL is a
//! secret; the host's allowlist checks every request.

mod message;
mod retry;

use platform_migrate_sdk::config::{self, SecretError};
use platform_migrate_sdk::notifier::*;
use platform_migrate_sdk::register_notifier;

struct Slack;

fn webhook_secret() -> String {
    config::get("webhook-secret").unwrap_or_else(|| "slack-webhook".to_string())
}

/// Every setting, for `describe` (the host checks the config's entry against it).
fn settings() -> Vec<Setting> {
    let int = |name: &str, default: &str, description: &str| {
        Setting::new(name, SettingType::Integer, description).default_toml(default)
    };
    vec![
        Setting::text(
            "webhook-secret",
            "the granted secret holding the webhook URL",
        )
        .default_toml("\"slack-webhook\"")
        .secret(),
        int(
            "max-attempts",
            "5",
            "deliveries tried before giving up (1 to 20)",
        ),
        int(
            "max-total-secs",
            "60",
            "time all attempts may take (at most 600)",
        ),
        int(
            "initial-backoff-ms",
            "500",
            "first wait after a 5xx or connection error; doubles",
        ),
        int(
            "timeout-secs",
            "10",
            "per request, for connecting and the first byte (1 to 30)",
        ),
    ]
}

impl Notifier for Slack {
    fn describe() -> PluginInfo {
        platform_migrate_sdk::info!(
            "slack-notifier",
            "Posts run results to a Slack incoming webhook",
            [Capability::Secret(webhook_secret())]
        )
        .with_settings(settings())
    }

    fn notify(event: RunEvent) -> Result<(), NotifyError> {
        let name = webhook_secret();
        let url = config::secret(&name).map_err(|e| match e {
            SecretError::NotGranted(n) => {
                NotifyError::Denied(format!("secret `{n}` is not granted"))
            }
            SecretError::Unavailable(m) => NotifyError::Misconfigured(m),
        })?;
        let policy = retry::Policy::from_settings().map_err(NotifyError::Misconfigured)?;
        let payload = message::build(&event);
        retry::post(&url, &payload, &policy)
    }
}

register_notifier!(Slack);
