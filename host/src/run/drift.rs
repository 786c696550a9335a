//! Drift: an applied migration whose file changed since platform-migrate applied it means the
//! code and the database disagree about what that migration did. Found in step 2 from the
//! runner's checksums, shown in every plan, refused where the env says so (prod by default)
//! unless `--accept-drift`; checksums are recorded after each run for what it applied.

use super::{Fail, Run};
use crate::checksums;
use crate::history::DriftRecord;
use crate::plugin_api::Migration;

/// The start of a checksum, as messages show it (a plugin's checksum may be any text).
fn short(sum: &str) -> String {
    crate::text::for_terminal(&sum.chars().take(12).collect::<String>())
}

impl Run<'_> {
    /// Compare the applied migrations' files with the recorded checksums.
    pub(super) fn find_drift(&mut self) {
        let recorded = match (
            &self.ledger,
            checksums::load(&self.cfg.state_dir, &self.env.qualified_name()),
        ) {
            // One truth for every machine: the ledger's, once it exists.
            (Some(l), _) if l.exists => checksums::Checksums {
                version: 1,
                migrations: l.checksums.clone(),
            },
            (_, Ok(c)) => c,
            (_, Err(e)) => {
                self.ui.detail(&format!(
                    "warning: cannot read {}: {e}; drift is not checked",
                    checksums::path(&self.cfg.state_dir, &self.env.qualified_name()).display()
                ));
                return;
            }
        };
        self.entry.drift = self
            .before
            .iter()
            .filter(|m| m.applied)
            .filter_map(|m| {
                let key = m.id.to_string();
                let was = recorded.migrations.get(&key)?;
                let now = m.checksum.as_ref()?;
                (was != now).then(|| DriftRecord {
                    app: m.id.app.clone(),
                    name: m.id.name.clone(),
                    recorded: was.clone(),
                    now: now.clone(),
                })
            })
            .collect();
        for d in &self.entry.drift {
            self.ui.detail(&format!(
                "DRIFT: {}.{} changed since it was applied (sha256 {} then, {} now)",
                d.app,
                d.name,
                short(&d.recorded),
                short(&d.now)
            ));
        }
    }

    /// Refuse a run that changes the database while applied migrations drifted, where the env
    /// refuses drift, unless --accept-drift.
    pub(super) fn gate_drift(&self) -> Result<(), Fail> {
        if self.entry.drift.is_empty()
            || !self.env.refuse_drift
            || self.req.accept_drift
            || !self.req.action.changes_database()
        {
            return Ok(());
        }
        let names: Vec<String> = self.entry.drift.iter().map(|d| d.dotted()).collect();
        Err(Fail::refused(format!(
            "applied migration(s) {} changed since they were applied here, so the code and env {}'s database disagree about what they did. Review the change (e.g. `git log -p` on the file), then re-run with --accept-drift to record the files as they are now",
            names.join(", "),
            self.env.name
        )))
    }

    /// Record the checksums of what this run applied (and forget what it unapplied); with
    /// --accept-drift, take the drifted files as they are now. Here, and in the ledger at the
    /// end of the run.
    pub(super) fn record_checksums(&mut self, after: &[Migration]) {
        let mut changes = super::ledger::ChecksumChanges::default();
        for a in &self.entry.applied {
            let key = a.dotted();
            if a.backwards {
                changes.forget.push(key);
            } else if let Some(sum) = after
                .iter()
                .find(|m| m.id.app == a.app && m.id.name == a.name)
                .and_then(|m| m.checksum.clone())
            {
                changes.record.push((key, sum));
            }
        }
        if self.req.accept_drift {
            for d in &self.entry.drift {
                changes.record.push((d.dotted(), d.now.clone()));
            }
        }
        self.checksum_changes = changes.clone();
        let dir = &self.cfg.state_dir;
        let env = &self.env.qualified_name();
        let mut c = match checksums::load(dir, env) {
            Ok(c) => c,
            Err(_) => return,
        };
        let before = c.clone();
        for key in &changes.forget {
            c.migrations.remove(key);
        }
        for (key, sum) in changes.record {
            c.migrations.insert(key, sum);
        }
        if c != before {
            if let Err(e) = checksums::save(dir, env, &c) {
                self.ui.outcome(&format!(
                    "warning: could not record migration checksums in {}: {e}",
                    checksums::path(dir, env).display()
                ));
            }
        }
    }
}
