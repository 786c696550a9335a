//! The rollback plan: computed before step 5 changes anything, stored in history, printed in
//! the plan and again when a run fails. For each app the plan touches it names the migration
//! the app stands at now (or `zero`) and the exact command that moves it back there, plus the
//! backup to restore when a step cannot be reversed.

use crate::history::RollbackPlan;
use crate::plugin_api::{Migration, Plan};

/// Where `app` stands: its applied migration that no other applied migration of the app
/// depends on. `Ok(None)` is `zero`; `Err` lists the leaves when there are several (a merge
/// not yet applied), where guessing would be wrong.
pub fn position(before: &[Migration], app: &str) -> Result<Option<String>, Vec<String>> {
    let applied: Vec<&Migration> = before
        .iter()
        .filter(|m| m.id.app == app && m.applied)
        .collect();
    let leaves: Vec<String> = applied
        .iter()
        .filter(|m| {
            !applied.iter().any(|o| {
                o.dependencies
                    .iter()
                    .any(|d| d.app == app && d.name == m.id.name)
            })
        })
        .map(|m| m.id.name.clone())
        .collect();
    match leaves.len() {
        0 => Ok(None),
        1 => Ok(leaves.into_iter().next()),
        _ => Err(leaves),
    }
}

/// What the command line needs to reach this config and environment again.
pub struct Invocation<'a> {
    pub config: &'a std::path::Path,
    pub env: &'a str,
    pub confirm: bool,
    /// The environment refuses destructive plans (prod): undoing a forward step drops what it
    /// added, so the commands carry `--allow-destructive` to be runnable as printed.
    pub refuse_destructive: bool,
}

/// The plan that undoes `plan`, given the state `before` it runs.
pub fn compute(
    before: &[Migration],
    plan: &Plan,
    how: &Invocation<'_>,
    backup_id: Option<&str>,
) -> RollbackPlan {
    let mut apps: Vec<&str> = Vec::new();
    for s in &plan.steps {
        if !apps.contains(&s.id.app.as_str()) {
            apps.push(&s.id.app);
        }
    }
    let mut out = RollbackPlan {
        backup_id: backup_id.map(str::to_string),
        ..RollbackPlan::default()
    };
    let destructive = how.refuse_destructive && plan.steps.iter().any(|s| !s.backwards);
    let flags = format!(
        "{}{}",
        if how.confirm { " --confirm" } else { "" },
        if destructive {
            " --allow-destructive"
        } else {
            ""
        }
    );
    // Undo the apps in the reverse of the order the plan first touches them.
    for app in apps.iter().rev() {
        match position(before, app) {
            Ok(pos) => {
                let name = pos.unwrap_or_else(|| "zero".into());
                out.commands.push(format!(
                    "platform-migrate --config {} --env {} --app {app} --migration {name}{flags}",
                    how.config.display(),
                    how.env,
                ));
                out.positions.push((app.to_string(), name));
            }
            Err(leaves) => out.notes.push(format!(
                "app {app} has several applied leaf migrations ({}); pick the one to return to by hand",
                leaves.join(", ")
            )),
        }
    }
    out.positions.reverse();
    out.irreversible = plan
        .steps
        .iter()
        .filter(|s| s.irreversible && !s.backwards)
        .map(|s| s.id.to_string())
        .collect();
    out
}

/// Lines for display.
pub fn lines(rp: &RollbackPlan) -> Vec<String> {
    let mut v = vec!["rollback plan (to undo this run):".to_string()];
    for c in &rp.commands {
        v.push(format!("  {c}"));
    }
    for n in &rp.notes {
        v.push(format!("  note: {n}"));
    }
    if !rp.irreversible.is_empty() {
        let restore = match &rp.backup_id {
            Some(id) => {
                format!("restore backup {id} instead (see `platform-migrate backups list`)")
            }
            None => "no backup was taken: there is no way back but by hand".into(),
        };
        v.push(format!(
            "  cannot be reversed by migrating: {}; {restore}",
            rp.irreversible.join(", ")
        ));
    } else if let Some(id) = &rp.backup_id {
        v.push(format!("  or restore backup {id}"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_api::{MigrationRef, PlanStep, ResolvedTarget};

    fn m(app: &str, name: &str, applied: bool, deps: &[(&str, &str)]) -> Migration {
        Migration {
            id: MigrationRef {
                app: app.into(),
                name: name.into(),
            },
            applied,
            dependencies: deps
                .iter()
                .map(|(a, n)| MigrationRef {
                    app: a.to_string(),
                    name: n.to_string(),
                })
                .collect(),
            operations: vec![],
            checksum: None,
            file: None,
            atomic: None,
            phase: None,
        }
    }

    fn step(app: &str, name: &str, irreversible: bool) -> PlanStep {
        PlanStep {
            id: MigrationRef {
                app: app.into(),
                name: name.into(),
            },
            backwards: false,
            operations: vec![],
            irreversible,
            atomic: Some(true),
        }
    }

    fn state() -> Vec<Migration> {
        vec![
            m("users", "0001_initial", true, &[]),
            m("users", "0002_email", true, &[("users", "0001_initial")]),
            m("users", "0003_data", false, &[("users", "0002_email")]),
            m(
                "orders",
                "0001_initial",
                false,
                &[("users", "0001_initial")],
            ),
        ]
    }

    #[test]
    fn positions_are_the_applied_leaf_or_zero() {
        assert_eq!(position(&state(), "users"), Ok(Some("0002_email".into())));
        assert_eq!(position(&state(), "orders"), Ok(None));
    }

    #[test]
    fn two_applied_leaves_are_not_guessed() {
        let s = vec![
            m("a", "0001", true, &[]),
            m("a", "0002_x", true, &[("a", "0001")]),
            m("a", "0002_y", true, &[("a", "0001")]),
        ];
        assert_eq!(
            position(&s, "a"),
            Err(vec!["0002_x".into(), "0002_y".into()])
        );
    }

    #[test]
    fn commands_undo_apps_in_reverse_order_with_confirm() {
        let plan = Plan {
            resolved: ResolvedTarget::All,
            steps: vec![
                step("users", "0003_data", true),
                step("orders", "0001_initial", false),
            ],
        };
        let how = Invocation {
            config: std::path::Path::new("/srv/pm.toml"),
            env: "prod",
            confirm: true,
            refuse_destructive: true,
        };
        let rp = compute(&state(), &plan, &how, Some("prod-1"));
        assert_eq!(
            rp.commands,
            vec![
                "platform-migrate --config /srv/pm.toml --env prod --app orders --migration zero --confirm --allow-destructive",
                "platform-migrate --config /srv/pm.toml --env prod --app users --migration 0002_email --confirm --allow-destructive",
            ]
        );
        // Undoing a rollback migrates forward: nothing is dropped, no flag.
        let back = Plan {
            resolved: ResolvedTarget::All,
            steps: vec![PlanStep {
                backwards: true,
                ..step("users", "0002_email", false)
            }],
        };
        let undo = compute(&state(), &back, &how, None);
        assert!(
            undo.commands
                .iter()
                .all(|c| !c.contains("--allow-destructive")),
            "{:?}",
            undo.commands
        );
        assert_eq!(
            rp.positions,
            vec![
                ("users".to_string(), "0002_email".to_string()),
                ("orders".to_string(), "zero".to_string())
            ]
        );
        assert_eq!(rp.irreversible, vec!["users.0003_data".to_string()]);
        let text = lines(&rp).join("\n");
        assert!(text.contains("restore backup prod-1"), "{text}");
    }
}
