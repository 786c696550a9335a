//! The run ledger kept in the environment's own database (PostgreSQL), so that every machine
//! that deploys an environment — a CI runner on a fresh clone included — sees the same history
//! and the same drift checksums. Like Flyway's `flyway_schema_history`, it lives beside the
//! data it describes: schema `platform_migrate` (configurable) with a `runs` table (one row
//! per run: the history line, hash-chained) and a `checksums` table (the file checksum of
//! every applied migration).
//!
//! The host holds no database driver: the runner plugin reads and writes the rows
//! (`ledger-read`, `ledger-append`, WIT 0.2.0). This module is the part free of plugins: the
//! mode, the schema name, the rows built from history entries, and the chain check that
//! `history verify --env` makes. `run/ledger.rs` uses it during a run; `history_cmd.rs` for
//! `history`.

use crate::digest::sha256_hex;
use crate::history::{self, Entry};
use crate::plugin_api::LedgerRun;

/// Runs read per call when a whole ledger is read (`history verify`): pages stay well under a
/// plugin's output limit even with large run records.
pub const PAGE: u32 = 50;

pub use crate::config::ledger::Mode;

/// The row that records `entry` as number `seq`, linked to the row before it by `prev` (the
/// sha256 of that row's line; [`history::GENESIS`] for the first). The line is the history line
/// the local journal would write (redacted and bounded the same way).
pub fn row(seq: u64, prev: &str, entry: &Entry) -> std::io::Result<LedgerRun> {
    let line = history::line(prev, entry)?;
    Ok(LedgerRun {
        seq,
        run_id: entry.run_id.clone(),
        sha256: sha256_hex(&line),
        line: String::from_utf8_lossy(&line).into_owned(),
    })
}

/// What the next row links to after `last`: the sha256 of its line as it is now (so that a
/// row changed by hand shows as a broken link, not as a good one).
pub fn link_after(last: Option<&LedgerRun>) -> String {
    last.map_or_else(
        || history::GENESIS.to_string(),
        |r| sha256_hex(r.line.as_bytes()),
    )
}

/// Where the ledger's chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("ledger row {seq} (run {run_id}) was changed after it was written: its line no longer has the sha256 recorded with it")]
    Edited { seq: u64, run_id: String },
    #[error("ledger row {seq} does not follow row {}: its `prev` is not the sha256 of that row, so that row was rewritten, or rows were removed or inserted", seq - 1)]
    Link { seq: u64 },
    #[error(
        "ledger row 1 does not start the chain (its `prev` is not {})",
        history::GENESIS
    )]
    Start,
    #[error("ledger row {expected} is missing (the next row is {found}): rows were removed")]
    Gap { expected: u64, found: u64 },
    #[error("ledger row {seq} is not a run record: {why}")]
    Malformed { seq: u64, why: String },
    #[error("ledger row {seq} says run {row} but its record is run {line}: the row was changed")]
    RunId { seq: u64, row: String, line: String },
    #[error("ledger row {seq} (run {run_id}) is not the row this machine wrote for that run (recorded sha256 {}...): it was rewritten", &.local[..12.min(.local.len())])]
    Local {
        seq: u64,
        run_id: String,
        local: String,
    },
    #[error("the ledger ends at row {have}, but this machine wrote row {local} (run {run_id}): rows were removed")]
    Truncated {
        have: u64,
        local: u64,
        run_id: String,
    },
}

/// Checks rows in order, page after page.
#[derive(Debug)]
pub struct Verifier {
    next_seq: u64,
    prev: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            next_seq: 1,
            prev: history::GENESIS.to_string(),
        }
    }
}

impl Verifier {
    /// Check the next row.
    pub fn feed(&mut self, row: &LedgerRun) -> Result<(), Broken> {
        if row.seq != self.next_seq {
            return Err(Broken::Gap {
                expected: self.next_seq,
                found: row.seq,
            });
        }
        let actual = sha256_hex(row.line.as_bytes());
        if actual != row.sha256 {
            return Err(Broken::Edited {
                seq: row.seq,
                run_id: row.run_id.clone(),
            });
        }
        let v: serde_json::Value =
            serde_json::from_str(&row.line).map_err(|e| Broken::Malformed {
                seq: row.seq,
                why: e.to_string(),
            })?;
        let prev = v.get("prev").and_then(|p| p.as_str());
        let id = v.get("run_id").and_then(|p| p.as_str());
        let (Some(prev), Some(id)) = (prev, id) else {
            return Err(Broken::Malformed {
                seq: row.seq,
                why: "no `prev` or `run_id` field".into(),
            });
        };
        if prev != self.prev {
            return Err(if row.seq == 1 {
                Broken::Start
            } else {
                Broken::Link { seq: row.seq }
            });
        }
        if id != row.run_id {
            return Err(Broken::RunId {
                seq: row.seq,
                row: row.run_id.clone(),
                line: id.to_string(),
            });
        }
        self.prev = actual;
        self.next_seq += 1;
        Ok(())
    }

    /// Rows checked so far.
    pub fn count(&self) -> u64 {
        self.next_seq - 1
    }
}

/// The run entry a row records (`None` when its line is not one).
pub fn entry_of(row: &LedgerRun) -> Option<Entry> {
    serde_json::from_str(&row.line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            run_id: id.into(),
            env: "prod".into(),
            target: None,
            action: "migrate".into(),
            ..Entry::default()
        }
    }

    fn chain(ids: &[&str]) -> Vec<LedgerRun> {
        let mut rows: Vec<LedgerRun> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let prev = link_after(rows.last());
            rows.push(row(i as u64 + 1, &prev, &entry(id)).unwrap());
        }
        rows
    }

    fn verify(rows: &[LedgerRun]) -> Result<u64, Broken> {
        let mut v = Verifier::default();
        for r in rows {
            v.feed(r)?;
        }
        Ok(v.count())
    }

    #[test]
    fn a_written_chain_verifies_and_reads_back() {
        let rows = chain(&["a", "b", "c"]);
        assert_eq!(verify(&rows), Ok(3));
        assert_eq!(entry_of(&rows[1]).unwrap().run_id, "b");
        assert!(rows[0].line.contains(history::GENESIS));
    }

    #[test]
    fn every_kind_of_hand_edit_is_named() {
        let rows = chain(&["a", "b", "c", "d"]);
        // The line edited, its sha256 left: the row itself is named.
        let mut edited = rows.clone();
        edited[1].line = edited[1].line.replace("migrate", "rollback");
        assert_eq!(
            verify(&edited),
            Err(Broken::Edited {
                seq: 2,
                run_id: "b".into()
            })
        );
        // Edited with its sha256 recomputed: the next row's link breaks.
        edited[1].sha256 = sha256_hex(edited[1].line.as_bytes());
        assert_eq!(verify(&edited), Err(Broken::Link { seq: 3 }));
        // A row removed.
        let removed = [rows[0].clone(), rows[2].clone()];
        assert_eq!(
            verify(&removed),
            Err(Broken::Gap {
                expected: 2,
                found: 3
            })
        );
        // The first row replaced by one that does not start the chain.
        let mut headless = rows.clone();
        headless[0] = row(1, &"1".repeat(64), &entry("x")).unwrap();
        assert_eq!(verify(&headless), Err(Broken::Start));
        // The row's run id changed without its line.
        let mut renamed = rows.clone();
        renamed[3].run_id = "z".into();
        assert!(matches!(
            verify(&renamed),
            Err(Broken::RunId { seq: 4, .. })
        ));
        // Garbage in the line, with a matching sha256.
        let mut garbage = rows;
        garbage[0].line = "not json".into();
        garbage[0].sha256 = sha256_hex(b"not json");
        assert!(matches!(
            verify(&garbage),
            Err(Broken::Malformed { seq: 1, .. })
        ));
    }
}
