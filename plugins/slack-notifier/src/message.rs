//! The Slack message for one run event: Block Kit blocks with a plain `text` fallback.

use platform_migrate_sdk::notifier::{Outcome, RunEvent};
use serde_json::{json, Value};

fn human_size(size: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = size as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{size} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Slack mrkdwn needs `&`, `<` and `>` escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn outcome_word(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Succeeded => ("succeeded", ":white_check_mark:"),
        Outcome::Failed => ("FAILED", ":x:"),
        Outcome::Refused => ("refused", ":no_entry:"),
        Outcome::Interrupted => ("INTERRUPTED", ":octagonal_sign:"),
    }
}

/// `users: 0002_x, 0003_y; orders: 0001_z (unapplied)` grouped by app, in order.
pub fn per_app(event: &RunEvent) -> Vec<(String, Vec<String>)> {
    let mut apps: Vec<(String, Vec<String>)> = Vec::new();
    for m in &event.applied {
        let name = if m.backwards {
            format!("{} (unapplied)", m.id.name)
        } else {
            m.id.name.clone()
        };
        match apps.iter_mut().find(|(a, _)| *a == m.id.app) {
            Some((_, v)) => v.push(name),
            None => apps.push((m.id.app.clone(), vec![name])),
        }
    }
    apps
}

/// The whole webhook payload.
pub fn build(event: &RunEvent) -> Value {
    let (word, emoji) = outcome_word(event.outcome);
    let n = event.applied.len();
    let apps = per_app(event);
    let changed = if n == 0 {
        "no migrations changed".to_string()
    } else {
        let per: Vec<String> = apps
            .iter()
            .map(|(a, v)| format!("{a}: {}", v.join(", ")))
            .collect();
        format!("{n} migration(s) changed ({})", per.join("; "))
    };
    let backup = match (&event.backup_id, event.backup_size) {
        (Some(id), Some(size)) => format!("{id} ({})", human_size(size)),
        (Some(id), None) => id.clone(),
        _ => "none".to_string(),
    };
    let mut text = format!(
        "{emoji} platform-migrate {} in {} {word} on {} after {}: {changed}. Backup: {backup}.",
        event.action,
        event.env,
        event.host,
        duration(event.duration_ms)
    );
    if let Some(e) = &event.error_summary {
        text.push_str(&format!(" Error: {}", e.lines().next().unwrap_or_default()));
    }

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": format!("{} {} {word}", event.env, event.action), "emoji": true}
        }),
        json!({
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": format!("*Environment*\n{}", esc(&event.env))},
                {"type": "mrkdwn", "text": format!("*Outcome*\n{emoji} {word}")},
                {"type": "mrkdwn", "text": format!("*Host*\n{}", esc(&event.host))},
                {"type": "mrkdwn", "text": format!("*Duration*\n{}", duration(event.duration_ms))},
                {"type": "mrkdwn", "text": format!("*Backup*\n{}", esc(&backup))},
                {"type": "mrkdwn", "text": format!("*Migrations*\n{n} changed")},
            ]
        }),
    ];
    if !apps.is_empty() {
        let lines: Vec<String> = apps
            .iter()
            .map(|(a, v)| format!("• *{}*: {}", esc(a), esc(&v.join(", "))))
            .collect();
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": lines.join("\n")}
        }));
    }
    if !event.findings.is_empty() {
        let lines: Vec<String> = event
            .findings
            .iter()
            .take(10)
            .map(|f| format!("• {}", esc(f)))
            .collect();
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*Destructive or locking changes*\n{}", lines.join("\n"))}
        }));
    }
    if let Some(e) = &event.error_summary {
        let first: Vec<&str> = e.lines().take(5).collect();
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*Error*\n```{}```", esc(&first.join("\n")))}
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("run `{}`", esc(&event.run_id))}]
    }));
    json!({ "text": text, "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_migrate_sdk::notifier::{AppliedMigration, MigrationRef};

    fn event() -> RunEvent {
        let m = |app: &str, name: &str, backwards| AppliedMigration {
            id: MigrationRef {
                app: app.into(),
                name: name.into(),
            },
            backwards,
        };
        RunEvent {
            env: "prod".into(),
            run_id: "prod-1".into(),
            action: "migrate".into(),
            outcome: Outcome::Succeeded,
            applied: vec![
                m("users", "0002_email", false),
                m("orders", "0001_initial", false),
                m("users", "0003_fill", false),
            ],
            backup_id: Some("prod-20261124T101500Z-abc123".into()),
            backup_size: Some(2048),
            duration_ms: 3200,
            host: "ci-1".into(),
            error_summary: None,
            findings: vec![],
        }
    }

    #[test]
    fn text_fallback_says_everything() {
        let v = build(&event());
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("prod"), "{text}");
        assert!(text.contains("succeeded"), "{text}");
        assert!(
            text.contains("users: 0002_email, 0003_fill; orders: 0001_initial"),
            "{text}"
        );
        assert!(
            text.contains("prod-20261124T101500Z-abc123 (2.0 KiB)"),
            "{text}"
        );
        assert!(text.contains("3.2 s") && text.contains("ci-1"), "{text}");
        assert_eq!(v["blocks"][0]["type"], "header");
    }

    #[test]
    fn findings_get_their_own_section_escaped() {
        let mut e = event();
        assert!(!build(&e).to_string().contains("Destructive"));
        e.findings = vec![
            "orders.0005_x: drop-column: ALTER TABLE \"orders_order\" DROP COLUMN <note>".into(),
        ];
        let v = build(&e).to_string();
        assert!(v.contains("Destructive or locking changes"), "{v}");
        assert!(
            v.contains("drop-column") && v.contains("&lt;note&gt;"),
            "{v}"
        );
    }

    #[test]
    fn failures_carry_the_first_error_lines_escaped() {
        let mut e = event();
        e.outcome = Outcome::Failed;
        e.error_summary = Some("boom <script>\nsecond".into());
        let v = build(&e);
        let blocks = v["blocks"].as_array().unwrap();
        let err = blocks
            .iter()
            .find(|b| {
                b["text"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("*Error*"))
            })
            .unwrap();
        assert!(err["text"]["text"]
            .as_str()
            .unwrap()
            .contains("boom &lt;script&gt;\nsecond"));
        assert!(v["text"].as_str().unwrap().contains("FAILED"));
    }
}
