//! Delivery with bounded retries: 429 honours `Retry-After`, 5xx and connection errors back off
//! exponentially, other 4xx fail at once. Every loop is bounded in attempts and total time.

use platform_migrate_sdk::http::{self, HttpError, Response};
use platform_migrate_sdk::notifier::NotifyError;
use platform_migrate_sdk::{config, log};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Policy {
    pub max_attempts: u32,
    pub max_total: Duration,
    pub initial_backoff: Duration,
    pub timeout: Duration,
}

impl Policy {
    pub fn from_settings() -> Result<Policy, String> {
        let n = |k: &str, d: u64| -> Result<u64, String> {
            Ok(config::get_json::<u64>(k)?.unwrap_or(d))
        };
        let p = Policy {
            max_attempts: n("max-attempts", 5)?.clamp(1, 20) as u32,
            max_total: Duration::from_secs(n("max-total-secs", 60)?.min(600)),
            initial_backoff: Duration::from_millis(n("initial-backoff-ms", 500)?),
            timeout: Duration::from_secs(n("timeout-secs", 10)?.clamp(1, 30)),
        };
        Ok(p)
    }
}

/// What to do after one answer.
#[derive(Debug)]
pub enum Next {
    Done,
    /// Retry after this long (`None`: the policy's backoff); carries what happened.
    Retry(Option<Duration>, String),
    Fail(NotifyError),
}

/// `Retry-After` in seconds (Slack sends seconds; an HTTP date is not worth parsing here).
fn retry_after(r: &Response) -> Option<Duration> {
    r.header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Slack's error body (`no_service`, `invalid_payload`, ...) cut short.
fn body_word(r: &Response) -> String {
    let t = r.text();
    let t = t.trim();
    let cut: String = t.chars().take(200).collect();
    if cut.is_empty() {
        "(empty body)".into()
    } else {
        cut
    }
}

pub fn classify(result: Result<Response, HttpError>) -> Next {
    match result {
        Ok(r) if (200..300).contains(&r.status) => Next::Done,
        Ok(r) if r.status == 429 => Next::Retry(
            Some(retry_after(&r).unwrap_or(Duration::from_secs(1))),
            "HTTP 429 rate limited".into(),
        ),
        Ok(r) if r.status >= 500 => {
            Next::Retry(None, format!("HTTP {}: {}", r.status, body_word(&r)))
        }
        Ok(r) => Next::Fail(NotifyError::Rejected(format!(
            "HTTP {}: {}",
            r.status,
            body_word(&r)
        ))),
        Err(HttpError::Denied(m)) => Next::Fail(NotifyError::Denied(m)),
        Err(HttpError::InvalidUrl(m)) => Next::Fail(NotifyError::Misconfigured(format!(
            "the webhook URL cannot be used: {m}"
        ))),
        Err(HttpError::Transport(m)) => Next::Retry(None, m),
    }
}

/// POST `payload` to `url` under `policy`.
pub fn post(url: &str, payload: &serde_json::Value, policy: &Policy) -> Result<(), NotifyError> {
    let body = serde_json::to_vec(payload)
        .map_err(|e| NotifyError::Misconfigured(format!("cannot encode the message: {e}")))?;
    let started = Instant::now();
    let mut backoff = policy.initial_backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = http::send(
            "POST",
            url,
            &[("content-type", "application/json")],
            &body,
            Some(policy.timeout),
        );
        let (wait, what) = match classify(result) {
            Next::Done => {
                log::info(&format!("delivered on attempt {attempt}"));
                return Ok(());
            }
            Next::Fail(e) => return Err(e),
            Next::Retry(wait, what) => (wait.unwrap_or(backoff), what),
        };
        if attempt >= policy.max_attempts {
            return Err(NotifyError::Unavailable(format!(
                "gave up after {attempt} attempts; last: {what}"
            )));
        }
        if started.elapsed() + wait > policy.max_total {
            return Err(NotifyError::Unavailable(format!(
                "gave up after {attempt} attempts: waiting {} s more would pass the {} s limit; last: {what}",
                wait.as_secs_f32(),
                policy.max_total.as_secs()
            )));
        }
        log::warn(&format!(
            "attempt {attempt} failed ({what}); retrying in {} ms",
            wait.as_millis()
        ));
        std::thread::sleep(wait);
        backoff = backoff.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn answers_are_classified() {
        assert!(matches!(classify(resp(200, &[], "ok")), Next::Done));
        assert!(matches!(
            classify(resp(429, &[("retry-after", "3")], "")),
            Next::Retry(Some(d), _) if d == Duration::from_secs(3)
        ));
        assert!(matches!(classify(resp(503, &[], "")), Next::Retry(None, _)));
        assert!(matches!(
            classify(resp(404, &[], "no_service")),
            Next::Fail(NotifyError::Rejected(m)) if m == "HTTP 404: no_service"
        ));
        assert!(matches!(
            classify(resp(400, &[], "invalid_payload")),
            Next::Fail(NotifyError::Rejected(m)) if m.contains("invalid_payload")
        ));
        assert!(matches!(
            classify(Err(HttpError::Denied("x".into()))),
            Next::Fail(NotifyError::Denied(_))
        ));
        assert!(matches!(
            classify(Err(HttpError::Transport("connection refused".into()))),
            Next::Retry(None, _)
        ));
    }
}
