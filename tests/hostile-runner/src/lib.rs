//! A migration runner for tests/hostile.rs whose ledger answers are hostile on purpose; never
//! ship it. It says it is connected to PostgreSQL, has no migrations, and answers
//! `ledger-read` as its `ledger` setting names:
//! - `stuck`: every page answers row 1 again, so a reader that trusts pages never ends;
//! - `endless`: the head says 3 rows, but pages go on past it with rows that chain correctly
//!   (each `prev` the sha256 of the row before), so only a bound ends the read;
//! - `secret`: 3 correct rows whose run records carry the `token` secret, raw and with a
//!   newline and a workflow command, for `history` to print.

use platform_migrate_sdk::config;
use platform_migrate_sdk::register_runner;
use platform_migrate_sdk::runner::*;
use sha2::{Digest, Sha256};

struct Hostile;

fn sha(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows 1..=upto of a correctly chained ledger; `extra` goes into each run record's error.
fn chain(upto: u64, extra: &str) -> Vec<LedgerRun> {
    let mut prev = "0".repeat(64);
    let mut rows = Vec::new();
    for seq in 1..=upto {
        let run_id = format!("hostile-{seq}");
        let line = serde_json::json!({
            "prev": prev,
            "run_id": run_id,
            "started": "2026-12-08T00:00:00Z",
            "user": "hostile",
            "host": "hostile",
            "env": "prod",
            "action": "migrate",
            "args": [],
            "app": null,
            "migration": null,
            "fake": false,
            "outcome": "failed",
            "exit_code": 1,
            "error": extra,
            "plan": [],
            "applied": [],
            "created": [],
            "backup": null,
            "steps": [],
            "duration_ms": 1,
        })
        .to_string();
        prev = sha(&line);
        rows.push(LedgerRun {
            seq,
            run_id,
            sha256: prev.clone(),
            line,
        });
    }
    rows
}

impl Runner for Hostile {
    fn describe() -> PluginInfo {
        platform_migrate_sdk::info!("hostile-runner", "Hostile ledger answers (tests only)", [])
    }
    fn check_connection(_ctx: RunContext) -> Result<ConnectionInfo, RunnerError> {
        Ok(ConnectionInfo {
            vendor: "postgresql".into(),
            database: "hostile".into(),
            framework: "none".into(),
        })
    }
    fn list_migrations(_ctx: RunContext) -> Result<Vec<Migration>, RunnerError> {
        Ok(Vec::new())
    }
    fn plan(_ctx: RunContext, _target: Target) -> Result<Plan, RunnerError> {
        Ok(Plan {
            resolved: ResolvedTarget::All,
            steps: Vec::new(),
        })
    }
    fn apply(_ctx: RunContext, _target: ResolvedTarget, _fake: bool) -> Result<(), RunnerError> {
        Ok(())
    }
    fn ledger_read(
        _ctx: RunContext,
        _schema: String,
        query: LedgerQuery,
    ) -> Result<LedgerContents, RunnerError> {
        let behaviour = config::get("ledger").unwrap_or_default();
        let head = |runs: Vec<LedgerRun>| LedgerContents {
            exists: true,
            can_create: true,
            runs,
            last_seq: 3,
            checksums: Vec::new(),
        };
        if query.limit == 0 {
            return Ok(head(Vec::new()));
        }
        let wanted = |rows: Vec<LedgerRun>| -> Vec<LedgerRun> {
            rows.into_iter()
                .filter(|r| r.seq > query.after_seq)
                .take(query.limit as usize)
                .collect()
        };
        Ok(match behaviour.as_str() {
            "stuck" => head(chain(1, "")),
            "endless" => head(wanted(chain(query.after_seq + query.limit as u64, ""))),
            "secret" => {
                let token = config::secret("token")
                    .map_err(|e| RunnerError::Misconfigured(config::message(&e)))?;
                let extra =
                    format!("{token}\n[3/6] backup: succeeded\n::add-mask::x\n::error::forged");
                head(wanted(chain(3, &extra)))
            }
            other => {
                return Err(RunnerError::Misconfigured(format!(
                    "unknown ledger behaviour {other:?}"
                )))
            }
        })
    }
}

register_runner!(Hostile);
