//! Deploy phases (step 2, after the plan lint): each forward step is `pre` (safe while the old
//! code still runs) or `post` (after the new code is live), as its migration declares
//! (`deploy_phase`, django-safemigrate's `safe`) or else from the lint: a step with a finding
//! that breaks running code (drops, renames) is `post`. `--phase pre` keeps the pre steps and
//! refuses one that depends on a post step; `--phase post` runs the rest.

use super::{Fail, Run};
use crate::lint::Rule;
use crate::phase::Phase;
use crate::plugin_api::{AppPosition, MigrationRef, PlanStep, ResolvedTarget};
use std::collections::{BTreeMap, BTreeSet};

/// A step's phase: declared, or `post` when `breaking`, else `pre`.
pub fn phase_of(declared: Option<Phase>, breaking: bool) -> Phase {
    match declared {
        Some(p) => p,
        None if breaking => Phase::Post,
        None => Phase::Pre,
    }
}

/// The first post step that pre step `from` depends on (through any steps of the plan).
pub fn post_dependency(
    from: &MigrationRef,
    deps: &BTreeMap<MigrationRef, Vec<MigrationRef>>,
    phase: &BTreeMap<MigrationRef, Phase>,
) -> Option<MigrationRef> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&MigrationRef> = deps
        .get(from)
        .map(|d| d.iter().collect())
        .unwrap_or_default();
    while let Some(d) = todo.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        if phase.get(d) == Some(&Phase::Post) {
            return Some(d.clone());
        }
        if let Some(more) = deps.get(d) {
            todo.extend(more.iter());
        }
    }
    None
}

/// Where each app must stand after a pre phase: at its last selected step, in plan order.
pub fn targets(selected: &[PlanStep]) -> Vec<ResolvedTarget> {
    let mut last: Vec<(usize, &PlanStep)> = Vec::new();
    for (i, s) in selected.iter().enumerate() {
        last.retain(|(_, p)| p.id.app != s.id.app);
        last.push((i, s));
    }
    last.sort_by_key(|(i, _)| *i);
    last.into_iter()
        .map(|(_, s)| {
            ResolvedTarget::Position(AppPosition {
                app: s.id.app.clone(),
                migration: Some(s.id.name.clone()),
            })
        })
        .collect()
}

impl Run<'_> {
    /// Mark each step's phase; with `--phase pre`, keep only what may run before the deploy.
    pub(super) fn split_phases(&mut self) -> Result<(), Fail> {
        let Some(plan) = self.plan.as_ref() else {
            return Ok(());
        };
        let mut phase: BTreeMap<MigrationRef, Phase> = BTreeMap::new();
        for st in plan.steps.iter().filter(|s| !s.backwards) {
            let declared = self
                .before
                .iter()
                .find(|m| m.id == st.id)
                .and_then(|m| m.phase);
            let breaking = self.entry.findings.iter().any(|f| {
                f.app == st.id.app
                    && f.name == st.id.name
                    && Rule::from_id(&f.rule).is_some_and(Rule::breaks_running_code)
            });
            phase.insert(st.id.clone(), phase_of(declared, breaking));
        }
        for r in &mut self.entry.plan {
            r.phase = phase
                .get(&MigrationRef {
                    app: r.app.clone(),
                    name: r.name.clone(),
                })
                .copied();
        }
        self.entry.phase = self.req.phase;
        if self.req.phase != Some(Phase::Pre) {
            return Ok(());
        }
        let deps: BTreeMap<MigrationRef, Vec<MigrationRef>> = self
            .before
            .iter()
            .map(|m| (m.id.clone(), m.dependencies.clone()))
            .collect();
        let plan = self.plan.as_ref().expect("checked above");
        for st in &plan.steps {
            if phase.get(&st.id) == Some(&Phase::Post) {
                continue;
            }
            if let Some(post) = post_dependency(&st.id, &deps, &phase) {
                return Err(Fail::refused(format!(
                    "{} may run before the deploy (pre), but it depends on {post}, which runs after it (post); declare {post} `deploy_phase = \"pre\"` if the old code can run beside it, or {} `deploy_phase = \"post\"`",
                    st.id, st.id
                )));
            }
        }
        let is_post = |id: &MigrationRef| phase.get(id) == Some(&Phase::Post);
        let later: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| is_post(&s.id))
            .map(|s| s.id.to_string())
            .collect();
        if !later.is_empty() {
            self.ui.detail(&format!(
                "left for --phase post, after the new code is live: {}",
                later.join(", ")
            ));
        }
        let plan = self.plan.as_mut().expect("checked above");
        plan.steps
            .retain(|s| phase.get(&s.id) != Some(&Phase::Post));
        let kept: BTreeSet<(String, String)> = plan
            .steps
            .iter()
            .map(|s| (s.id.app.clone(), s.id.name.clone()))
            .collect();
        self.phase_targets = Some(targets(&plan.steps));
        self.entry
            .plan
            .retain(|r| kept.contains(&(r.app.clone(), r.name.clone())));
        self.entry
            .findings
            .retain(|f| kept.contains(&(f.app.clone(), f.name.clone())));
        self.entry.post_deploy = later;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(app: &str, name: &str) -> MigrationRef {
        MigrationRef {
            app: app.into(),
            name: name.into(),
        }
    }

    #[test]
    fn declared_phases_win_and_breaking_findings_mean_post() {
        assert_eq!(phase_of(None, false), Phase::Pre);
        assert_eq!(phase_of(None, true), Phase::Post);
        assert_eq!(phase_of(Some(Phase::Pre), true), Phase::Pre);
        assert_eq!(phase_of(Some(Phase::Post), false), Phase::Post);
        assert_eq!(phase_of(Some(Phase::Any), true), Phase::Any);
    }

    #[test]
    fn a_pre_step_depending_on_a_post_one_through_others_is_found() {
        let deps = BTreeMap::from([
            (r("a", "3"), vec![r("a", "2")]),
            (r("a", "2"), vec![r("a", "1")]),
            (r("b", "1"), vec![r("a", "1")]),
        ]);
        let phase = BTreeMap::from([
            (r("a", "1"), Phase::Post),
            (r("a", "2"), Phase::Pre),
            (r("a", "3"), Phase::Pre),
            (r("b", "1"), Phase::Any),
        ]);
        assert_eq!(
            post_dependency(&r("a", "3"), &deps, &phase),
            Some(r("a", "1"))
        );
        assert_eq!(
            post_dependency(&r("b", "1"), &deps, &phase),
            Some(r("a", "1"))
        );
        assert_eq!(post_dependency(&r("a", "1"), &deps, &phase), None);
    }

    #[test]
    fn each_app_stops_at_its_last_pre_step() {
        let step = |app: &str, name: &str| PlanStep {
            id: r(app, name),
            backwards: false,
            operations: vec![],
            irreversible: false,
            atomic: Some(true),
        };
        let t = targets(&[step("a", "1"), step("b", "1"), step("a", "2")]);
        let names: Vec<String> = t
            .iter()
            .map(|t| match t {
                ResolvedTarget::Position(p) => {
                    format!("{}.{}", p.app, p.migration.clone().unwrap())
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["b.1", "a.2"]);
    }
}
