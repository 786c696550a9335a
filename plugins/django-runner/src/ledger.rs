//! The ledger in the database (WIT 0.2.0): read and appended through the helper session, in
//! the schema the host names. The host builds and checks every row; this only carries them.

use crate::{helper, mref, parse, Settings};
use platform_migrate_sdk::runner::*;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct JsonRun {
    seq: u64,
    run_id: String,
    line: String,
    sha256: String,
}

#[derive(Deserialize)]
struct JsonChecksum {
    app: String,
    name: String,
    sha256: String,
    run_id: String,
}

#[derive(Deserialize)]
struct JsonContents {
    exists: bool,
    can_create: bool,
    runs: Vec<JsonRun>,
    last_seq: u64,
    checksums: Vec<JsonChecksum>,
}

pub fn read(s: &Settings, schema: String, q: LedgerQuery) -> Result<LedgerContents, RunnerError> {
    let query = json!({"after_seq": q.after_seq, "limit": q.limit, "checksums": q.checksums});
    let c: JsonContents = parse(helper(
        s,
        json!({"cmd": "ledger-read", "schema": schema, "query": query}),
    )?)?;
    Ok(LedgerContents {
        exists: c.exists,
        can_create: c.can_create,
        runs: c
            .runs
            .into_iter()
            .map(|r| LedgerRun {
                seq: r.seq,
                run_id: r.run_id,
                line: r.line,
                sha256: r.sha256,
            })
            .collect(),
        last_seq: c.last_seq,
        checksums: c
            .checksums
            .into_iter()
            .map(|k| LedgerChecksum {
                id: mref(k.app, k.name),
                sha256: k.sha256,
                run_id: k.run_id,
            })
            .collect(),
    })
}

pub fn append(s: &Settings, schema: String, e: LedgerEntry) -> Result<(), RunnerError> {
    let entry = json!({
        "run": {
            "seq": e.run.seq,
            "run_id": e.run.run_id,
            "line": e.run.line,
            "sha256": e.run.sha256,
        },
        "record": e.record_checksums.iter().map(|k| json!({
            "app": k.id.app, "name": k.id.name, "sha256": k.sha256, "run_id": k.run_id,
        })).collect::<Vec<_>>(),
        "forget": e.forget_checksums.iter().map(|m| json!({"app": m.app, "name": m.name})).collect::<Vec<_>>(),
    });
    helper(
        s,
        json!({"cmd": "ledger-append", "schema": schema, "entry": entry}),
    )?;
    Ok(())
}
