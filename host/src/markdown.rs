//! `--output markdown`: a compact report for `$GITHUB_STEP_SUMMARY` and pull-request
//! comments, of a run (plan, findings with their safer pattern, backup, outcome, step
//! durations) or of `lint`. Text from plugins and migrations is escaped so it cannot end a
//! table cell, open a link or inject HTML.

use crate::history::Entry;
use crate::lint_report::Report;
use std::fmt::Write;

/// `s` safe inside a table cell: one line, `|` and Markdown/HTML punctuation escaped, cut;
/// what GitHub would turn into a link or a notification defused with a zero-width space: a
/// bare URL (`https://`, `www.`) and a mention (`@user`, `@org/team`).
pub fn cell(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one.len());
    for c in crate::text::for_display(&one, 400).chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200b}"),
            _ => out.push(c),
        }
    }
    out.replace("://", "\u{200b}://")
        .replace("www.", "www\u{200b}.")
        .replace("WWW.", "WWW\u{200b}.")
}

/// A `code` span holding `s` (for SQL and file paths): backticks in `s` are dropped.
fn code(s: &str) -> String {
    let one: String =
        crate::text::for_display(&s.split_whitespace().collect::<Vec<_>>().join(" "), 300)
            .chars()
            .map(|c| if c == '`' || c == '|' { '\'' } else { c })
            .collect();
    format!("`{one}`")
}

fn ms(ms: u64) -> String {
    crate::ui::fmt_duration(std::time::Duration::from_millis(ms))
}

/// The report of one run.
pub fn run(e: &Entry) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### platform-migrate: {} in env {} — {}\n",
        cell(&e.action),
        cell(&e.env),
        cell(e.outcome.as_str())
    );
    let _ = writeln!(
        o,
        "Run `{}`, exit code {}, {}.\n",
        cell(&e.run_id),
        e.exit_code,
        ms(e.duration_ms)
    );
    if let Some(err) = &e.error {
        let _ = writeln!(o, "> **Error:** {}\n", cell(err));
    }
    if e.plan.is_empty() {
        let _ = writeln!(o, "Plan: nothing to do.\n");
    } else {
        let _ = writeln!(o, "| # | migration | direction | applied |");
        let _ = writeln!(o, "| ---: | --- | --- | --- |");
        for (i, m) in e.plan.iter().enumerate() {
            let done = e
                .applied
                .iter()
                .any(|a| a.app == m.app && a.name == m.name && a.backwards == m.backwards);
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                i + 1,
                code(&format!("{}.{}", m.app, m.name)),
                if m.backwards { "backwards" } else { "forwards" },
                if done { "yes" } else { "no" }
            );
        }
        o.push('\n');
    }
    if !e.findings.is_empty() {
        let _ = writeln!(o, "**Findings** ({})\n", e.findings.len());
        let _ = writeln!(o, "| migration | rule | statement | safer pattern |");
        let _ = writeln!(o, "| --- | --- | --- | --- |");
        for f in &e.findings {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                code(&format!("{}.{}", f.app, f.name)),
                cell(&f.rule),
                code(&f.detail),
                cell(&f.advice)
            );
        }
        o.push('\n');
    }
    if !e.drift.is_empty() {
        let _ = writeln!(
            o,
            "**Drift**: applied migrations whose files changed since:\n"
        );
        for d in &e.drift {
            let _ = writeln!(o, "- {}", code(&format!("{}.{}", d.app, d.name)));
        }
        o.push('\n');
    }
    match &e.backup {
        Some(b) => {
            let _ = writeln!(
                o,
                "Backup: {} ({} bytes, sha256 {}, {}){}.\n",
                code(&b.id),
                b.size,
                code(&b.sha256.chars().take(16).collect::<String>()),
                if b.verified {
                    "verified"
                } else {
                    "not verified"
                },
                b.store
                    .as_deref()
                    .map(|s| format!(", stored at {}", code(s)))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(o, "Backup: none taken.\n");
        }
    }
    if !e.steps.is_empty() {
        let _ = writeln!(o, "| step | status | took |");
        let _ = writeln!(o, "| --- | --- | ---: |");
        for s in &e.steps {
            let _ = writeln!(
                o,
                "| {}/6 {} | {} | {} |",
                s.step,
                cell(&s.name),
                s.status.as_str(),
                ms(s.duration_ms)
            );
        }
        o.push('\n');
    }
    o
}

/// The report of `lint`.
pub fn lint(r: &Report) -> String {
    let mut o = String::new();
    let verdict = if r.clean() {
        "clean".to_string()
    } else {
        format!(
            "{} finding(s), {} drifted migration(s)",
            r.findings.len(),
            r.drift.len()
        )
    };
    let _ = writeln!(o, "### platform-migrate lint — {}\n", cell(&verdict));
    let _ = writeln!(
        o,
        "{} migration(s) added or changed since {} (merge base {}), rendered by env {}; exit code {}.\n",
        r.migrations.len(),
        code(&r.since),
        code(&r.base.chars().take(12).collect::<String>()),
        cell(&r.env),
        r.exit_code
    );
    if !r.uncommitted.is_empty() {
        let _ = writeln!(
            o,
            "> Linted as on disk, with uncommitted changes: {}\n",
            r.uncommitted
                .iter()
                .map(|f| code(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !r.findings.is_empty() {
        let _ = writeln!(o, "| file | migration | rule | statement | safer pattern |");
        let _ = writeln!(o, "| --- | --- | --- | --- | --- |");
        for f in &r.findings {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                code(&format!("{}:{}", f.file, f.line)),
                code(&format!("{}.{}", f.finding.app, f.finding.name)),
                cell(&f.finding.rule),
                code(&f.finding.detail),
                cell(&f.finding.advice)
            );
        }
        o.push('\n');
    }
    if !r.drift.is_empty() {
        let _ = writeln!(o, "| file | migration | drift |");
        let _ = writeln!(o, "| --- | --- | --- |");
        for d in &r.drift {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                code(&format!("{}:{}", d.file, d.line)),
                code(&format!("{}.{}", d.app, d.name)),
                cell(&d.message)
            );
        }
        o.push('\n');
    }
    if !r.migrations.is_empty() {
        let _ = writeln!(o, "<details><summary>Migrations linted</summary>\n");
        for m in &r.migrations {
            let _ = writeln!(
                o,
                "- {} {} ({})",
                code(&format!("{}.{}", m.app, m.name)),
                m.change.word(),
                code(&m.file)
            );
        }
        let _ = writeln!(o, "\n</details>\n");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_link_or_mention() {
        let c = cell("see https://evil.example/x and www.evil.example, cc @org/team @someone");
        assert!(!c.contains("https://") && !c.contains("www.e"), "{c}");
        assert!(!c.contains("@org") && !c.contains("@someone"), "{c}");
        assert!(c.contains("evil.example"), "{c}");
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_markup() {
        let c = cell("a | b\nc <script>x</script> [l](http://e) `code`");
        assert!(!c.contains('\n'));
        assert!(!c.contains(" | "), "{c}");
        assert!(c.contains("\\|") && c.contains("\\<script\\>") && c.contains("\\[l\\]"));
        assert_eq!(code("SELECT `x` | 1"), "`SELECT 'x' ' 1`");
    }
}
