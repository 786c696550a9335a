//! webhook-notifier: POSTs each run as one JSON document to a webhook (any service that takes
//! JSON: a chat bridge, an incident tool, your own endpoint). An example for PLUGINS.md.
//!
//! Settings:
//! - `url-secret` (default `webhook-url`): the granted secret holding the URL. URLs of
//!   webhooks often carry a token, so the URL is a secret and never logged.
//! - `token-secret` (optional): a granted secret sent as `Authorization: Bearer <token>`.
//! - `attempts` (default 3): tries on a 5xx answer or a connection error; a 4xx fails at once.
//!
//! Grants: the secrets, and the webhook's origin in `grants.hosts`.
//!
//! The document (`"schema": "platform-migrate.run/1"`):
//! `{ env, run_id, action, outcome, applied: [{app, name, backwards}], backup_id, backup_size,
//!    duration_ms, host, error, findings }`.

use platform_migrate_sdk::config::{self, SecretError};
use platform_migrate_sdk::http::{self, HttpError};
use platform_migrate_sdk::notifier::*;
use platform_migrate_sdk::{log, register_notifier};
use serde_json::{json, Value};

struct Webhook;

fn setting(key: &str, default: &str) -> String {
    config::get(key).unwrap_or_else(|| default.to_string())
}

fn secret(name: &str) -> Result<String, NotifyError> {
    config::secret(name).map_err(|e| match e {
        SecretError::NotGranted(n) => NotifyError::Denied(format!(
            "secret `{n}` is not granted; add it to grants.secrets"
        )),
        SecretError::Unavailable(m) => NotifyError::Misconfigured(m),
    })
}

/// The JSON document for one run.
pub fn document(e: &RunEvent) -> Value {
    let outcome = match e.outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::Refused => "refused",
        Outcome::Interrupted => "interrupted",
    };
    let applied: Vec<Value> = e
        .applied
        .iter()
        .map(|m| json!({ "app": m.id.app, "name": m.id.name, "backwards": m.backwards }))
        .collect();
    json!({
        "schema": "platform-migrate.run/1",
        "env": e.env,
        "run_id": e.run_id,
        "action": e.action,
        "outcome": outcome,
        "applied": applied,
        "backup_id": e.backup_id,
        "backup_size": e.backup_size,
        "duration_ms": e.duration_ms,
        "host": e.host,
        "error": e.error_summary,
        "findings": e.findings,
    })
}

impl Notifier for Webhook {
    fn describe() -> PluginInfo {
        let mut caps = vec![Capability::Secret(setting("url-secret", "webhook-url"))];
        if let Some(t) = config::get("token-secret") {
            caps.push(Capability::Secret(t));
        }
        let mut info = platform_migrate_sdk::info!(
            "webhook-notifier",
            "POSTs each run as a JSON document to a webhook",
            []
        );
        info.capabilities = caps;
        info.with_settings([
            Setting::text("url-secret", "the granted secret holding the webhook's URL")
                .default_toml("\"webhook-url\"")
                .secret(),
            Setting::text(
                "token-secret",
                "a granted secret sent as Authorization: Bearer <token>",
            )
            .secret(),
            Setting::new(
                "attempts",
                SettingType::Integer,
                "tries on a 5xx answer or a connection error",
            )
            .default_toml("3"),
        ])
    }

    fn notify(event: RunEvent) -> Result<(), NotifyError> {
        let url = secret(&setting("url-secret", "webhook-url"))?;
        let token = match config::get("token-secret") {
            Some(name) => Some(secret(&name)?),
            None => None,
        };
        let attempts: u32 = setting("attempts", "3").parse().map_err(|_| {
            NotifyError::Misconfigured("setting `attempts` must be a number".into())
        })?;
        let body = serde_json::to_vec(&document(&event))
            .map_err(|e| NotifyError::Misconfigured(e.to_string()))?;
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let mut last = String::new();
        for attempt in 1..=attempts.clamp(1, 10) {
            let timeout = Some(std::time::Duration::from_secs(10));
            match http::send("POST", &url, &headers, &body, timeout) {
                Ok(r) if (200..300).contains(&r.status) => return Ok(()),
                Ok(r) if r.status < 500 => {
                    return Err(NotifyError::Rejected(format!(
                        "the webhook answered {}: {}",
                        r.status,
                        r.text().chars().take(200).collect::<String>()
                    )))
                }
                Ok(r) => last = format!("the webhook answered {}", r.status),
                Err(HttpError::Denied(m)) => return Err(NotifyError::Denied(m)),
                Err(HttpError::InvalidUrl(m)) => return Err(NotifyError::Misconfigured(m)),
                Err(HttpError::Transport(m)) => last = m,
            }
            log::warn(&format!("attempt {attempt} of {attempts} failed: {last}"));
            std::thread::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)));
        }
        Err(NotifyError::Unavailable(last))
    }
}

register_notifier!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_carries_the_run() {
        let e = RunEvent {
            env: "prod".into(),
            run_id: "prod-1".into(),
            action: "migrate".into(),
            outcome: Outcome::Failed,
            applied: vec![AppliedMigration {
                id: MigrationRef {
                    app: "users".into(),
                    name: "0002_email".into(),
                },
                backwards: false,
            }],
            backup_id: Some("prod-b".into()),
            backup_size: Some(42),
            duration_ms: 7,
            host: "ci".into(),
            error_summary: Some("boom".into()),
            findings: vec!["users.0002_email: drop-column: ...".into()],
        };
        let d = document(&e);
        assert_eq!(d["outcome"], "failed");
        assert_eq!(d["applied"][0]["name"], "0002_email");
        assert_eq!(d["backup_size"], 42);
        assert_eq!(d["error"], "boom");
        assert_eq!(d["findings"].as_array().unwrap().len(), 1);
    }
}
