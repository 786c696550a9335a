//! `--output json`: one JSON document on stdout per run, described by
//! `schemas/run-report.schema.json`. Everything else goes to stderr in that mode.

use crate::history::Entry;
use serde::Serialize;

/// Version of the report's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// The report of a run, as printed.
pub fn render(entry: &Entry) -> String {
    serde_json::to_string_pretty(&Report {
        schema_version: SCHEMA_VERSION,
        entry,
    })
    .unwrap_or_else(|e| format!("{{\"schema_version\":{SCHEMA_VERSION},\"outcome\":\"error\",\"exit_code\":1,\"error\":\"cannot encode the report: {e}\"}}"))
}

pub fn print(entry: &Entry) {
    println!("{}", render(entry));
}

/// The report when the run could not start (bad config, unknown env, ...).
pub fn print_error(code: i32, message: &str) {
    let doc = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "outcome": crate::outcome::Outcome::Error,
        "exit_code": code,
        "error": message,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}
