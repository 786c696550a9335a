//! The ledger in the environment's database during a run: read in step 2 (its checksums feed
//! the drift check), appended once at the end while the run lock is still held. `--show`
//! never writes; a run that never reached the database is in this machine's history only; the
//! ledger is created by the first run that changes the database.

use super::request::Action;
use super::{Fail, Run};
use crate::history::{Entry, LedgerMark};
use crate::ledger::{self, Mode};
use crate::plugin_api::{LedgerChecksum, LedgerEntry, LedgerQuery, LedgerRun, MigrationRef};
use crate::plugin_api::{RunContext, RunnerError, Vendor};
use std::collections::BTreeMap;

/// The ledger as step 2 found it.
pub(crate) struct LedgerState {
    pub schema: String,
    /// False until the first run that changes the database creates it.
    pub exists: bool,
    /// Whether the migration user may create it.
    pub can_create: bool,
    pub last_seq: u64,
    /// The last row, which the next one links to.
    pub last: Option<LedgerRun>,
    /// `app.name` -> sha256 of the file when it was applied.
    pub checksums: BTreeMap<String, String>,
}

/// Checksum changes a run makes: recorded (`app.name`, sha256) and forgotten (`app.name`).
#[derive(Debug, Default, Clone)]
pub(crate) struct ChecksumChanges {
    pub record: Vec<(String, String)>,
    pub forget: Vec<String>,
}

fn mref(key: &str) -> MigrationRef {
    let (app, name) = key.split_once('.').unwrap_or((key, ""));
    MigrationRef {
        app: app.into(),
        name: name.into(),
    }
}

/// Read the ledger in `schema` as a run needs it: the checksums, the last seq and the last row.
pub(crate) fn read_state(
    runner: &mut dyn crate::plugin_api::RunnerPlugin,
    ctx: &RunContext,
    schema: &str,
) -> Result<Result<LedgerState, RunnerError>, crate::plugin_api::PluginError> {
    let q = LedgerQuery::head(true);
    let contents = match runner.ledger_read(ctx, schema, q)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let last = if contents.last_seq > 0 {
        let q = LedgerQuery::runs(contents.last_seq - 1, 1);
        match runner.ledger_read(ctx, schema, q)? {
            Ok(c) => c.runs.into_iter().next(),
            Err(e) => return Ok(Err(e)),
        }
    } else {
        None
    };
    Ok(Ok(LedgerState {
        schema: schema.to_string(),
        exists: contents.exists,
        can_create: contents.can_create,
        last_seq: contents.last_seq,
        last,
        checksums: contents
            .checksums
            .into_iter()
            .map(|c| (c.id.to_string(), c.sha256))
            .collect(),
    }))
}

impl Run<'_> {
    /// Step 2: read the ledger where the env keeps one. `ledger = "on"` fails the run when it
    /// cannot be kept; `auto` says why the history stays on this machine.
    pub(super) fn open_ledger(&mut self) -> Result<(), Fail> {
        let mode = self.env.ledger;
        if mode == Mode::Off {
            return Ok(());
        }
        let local_only = |why: String| -> Result<(), Fail> {
            match mode {
                Mode::On if self.req.action != Action::Show => Err(Fail::usage(format!(
                    "env {} keeps its ledger in the database (ledger = \"on\"), but {why}; fix that, or set env.{}.ledger = \"off\" to keep the history on this machine only",
                    self.env.name, self.env.name
                ))),
                _ => {
                    self.ui
                        .detail(&format!("history stays on this machine: {why}"));
                    Ok(())
                }
            }
        };
        if self.vendor != Vendor::PostgreSql {
            return local_only(format!(
                "the ledger needs PostgreSQL and the database is {}",
                self.vendor
            ));
        }
        let ctx = self.ctx();
        let schema = self.env.ledger_schema.clone();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        match read_state(runner.as_mut(), &ctx, &schema)? {
            Ok(state) if !state.exists && !state.can_create => local_only(format!(
                "the migration user may not create schema {schema} for the ledger; create it (`CREATE SCHEMA {schema} AUTHORIZATION <migration user>`) or grant CREATE on the database"
            )),
            Ok(state) => {
                self.ui.detail(&if state.exists {
                    format!(
                        "ledger {schema}: {} run(s), {} checksum(s)",
                        state.last_seq,
                        state.checksums.len()
                    )
                } else {
                    format!("ledger {schema}: not created yet (the first run that changes the database creates it)")
                });
                self.ledger = Some(state);
                Ok(())
            }
            Err(RunnerError::Unsupported(m)) => local_only(format!(
                "plugin '{}' keeps no ledger ({m})",
                self.env.runner
            )),
            Err(e) if self.req.action == Action::Show => {
                let f = self.runner_fail("read the ledger", e);
                self.ui.detail(&format!("warning: {}", f.message));
                Ok(())
            }
            Err(e) => {
                let f = self.runner_fail(&format!("read the ledger in schema {schema}"), e);
                Err(Fail::new(
                    f.code,
                    format!(
                        "{}; nothing was changed. Grant the migration user USAGE on schema {schema} (or CREATE on the database before the ledger exists), or set env.{}.ledger = \"off\"",
                        f.message, self.env.name
                    ),
                ))
            }
        }
    }

    /// After the run: append it to the ledger, under the run lock. `None` when it was written
    /// or is not to be; otherwise why it could not be (the run is then in the local history
    /// only, and the caller says so).
    pub(crate) fn write_ledger(&mut self, entry: &mut Entry) -> Option<String> {
        let state = self.ledger.as_ref()?;
        if !self.req.action.changes_database() {
            return None;
        }
        if !state.exists && entry.applied.is_empty() && !entry.reset {
            return None;
        }
        let seq = state.last_seq + 1;
        let prev = ledger::link_after(state.last.as_ref());
        let row = match ledger::row(seq, &prev, entry) {
            Ok(r) => r,
            Err(e) => return Some(format!("cannot build the ledger row: {e}")),
        };
        let mut changes = self.checksum_changes.clone();
        if !state.exists {
            // A new ledger starts from what this machine recorded so far.
            let local = crate::checksums::load(&self.cfg.state_dir, &self.env.qualified_name())
                .map(|c| c.migrations)
                .unwrap_or_default();
            for (k, v) in local {
                if !changes.record.iter().any(|(r, _)| *r == k) && !changes.forget.contains(&k) {
                    changes.record.push((k, v));
                }
            }
        }
        let ledger_entry = LedgerEntry {
            run: row.clone(),
            record_checksums: changes
                .record
                .iter()
                .map(|(k, v)| LedgerChecksum {
                    id: mref(k),
                    sha256: v.clone(),
                    run_id: entry.run_id.clone(),
                })
                .collect(),
            forget_checksums: changes.forget.iter().map(|k| mref(k)).collect(),
        };
        let schema = state.schema.clone();
        let ctx = self.ctx();
        let runner = self.runner.as_mut()?;
        let problem = match runner.ledger_append(&ctx, &schema, &ledger_entry) {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(self.runner_fail("write the ledger", e).message),
            Err(e) => Some(e.to_string()),
        };
        if problem.is_none() {
            entry.ledger = Some(LedgerMark {
                schema: schema.clone(),
                seq,
                sha256: row.sha256,
            });
            self.ui
                .detail(&format!("recorded in the ledger {schema} as run {seq}"));
        }
        problem
    }
}
