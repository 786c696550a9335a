//! Comparing migration states before and after a run, and summarising them.

use super::request::Action;
use super::Run;
use crate::history::MigrationRecord;
use crate::plugin_api::Migration;

/// What changed between two listings: newly applied (forwards) and newly unapplied
/// (backwards), in the order of `order` (the plan) first, then any others.
pub fn diff(
    before: &[Migration],
    after: &[Migration],
    order: &[MigrationRecord],
) -> Vec<MigrationRecord> {
    let was = |app: &str, name: &str| {
        before
            .iter()
            .any(|m| m.id.app == app && m.id.name == name && m.applied)
    };
    let mut changed: Vec<MigrationRecord> = after
        .iter()
        .filter(|m| m.applied != was(&m.id.app, &m.id.name))
        .map(|m| MigrationRecord {
            app: m.id.app.clone(),
            name: m.id.name.clone(),
            backwards: !m.applied,
            phase: None,
        })
        .collect();
    let pos = |r: &MigrationRecord| {
        order
            .iter()
            .position(|o| o.app == r.app && o.name == r.name)
            .unwrap_or(usize::MAX)
    };
    changed.sort_by_key(pos);
    changed
}

/// `users.0002_x, orders.0001_y (unapplied)` or empty.
pub fn changed_summary(changed: &[MigrationRecord]) -> String {
    changed
        .iter()
        .map(|c| {
            format!(
                "{}.{}{}",
                c.app,
                c.name,
                if c.backwards {
                    " unapplied"
                } else {
                    " applied"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The outcome line's middle part.
pub fn summary(run: &Run<'_>) -> String {
    let e = &run.entry;
    match run.req.action {
        Action::Show => {
            let n = e.plan.len();
            if n == 0 {
                "nothing to migrate".into()
            } else {
                format!("{n} step(s) in the plan, nothing changed")
            }
        }
        Action::Make if e.created.is_empty() => "no changes detected, no migration created".into(),
        Action::Make => format!("created {}", e.created.join(", ")),
        _ => {
            let fwd = e.applied.iter().filter(|a| !a.backwards).count();
            let back = e.applied.len() - fwd;
            let verb = if run.req.fake { "recorded (fake)" } else { "" };
            match (fwd, back) {
                (0, 0) => "nothing to migrate, database up to date".into(),
                (f, 0) => format!(
                    "{f} migration(s) applied{} in {}",
                    space(verb),
                    run.env.name
                ),
                (0, b) => format!(
                    "{b} migration(s) unapplied{} in {}",
                    space(verb),
                    run.env.name
                ),
                (f, b) => format!(
                    "{f} applied and {b} unapplied{} in {}",
                    space(verb),
                    run.env.name
                ),
            }
        }
    }
}

fn space(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" {s}")
    }
}
