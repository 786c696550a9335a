//! `lint --output sarif`: the findings as SARIF 2.1.0 (OASIS), each at its migration file and
//! the line of its operation, so code-scanning views annotate the pull request's diff. The
//! tests validate the output against the schema vendored in `schemas/sarif-schema-2.1.0.json`.

use crate::lint::Rule;
use crate::lint_report::Report;
use serde_json::{json, Value};

/// The rule id drift is reported under.
pub const DRIFT: &str = "changed-after-applied";

fn rule(id: &str, help: &str) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": id.replace('-', " ") },
        "fullDescription": { "text": help },
        "help": { "text": help },
        "defaultConfiguration": { "level": "error" },
    })
}

fn location(file: &str, line: u32) -> Value {
    json!([{
        "physicalLocation": {
            "artifactLocation": { "uri": file, "uriBaseId": "%SRCROOT%" },
            "region": { "startLine": line.max(1) },
        }
    }])
}

/// The SARIF log of a lint report.
pub fn lint(r: &Report) -> Value {
    let mut rules: Vec<Value> = Rule::ALL.iter().map(|r| rule(r.id(), r.advice())).collect();
    rules.push(rule(
        DRIFT,
        "an applied migration's file changed: databases that applied it will not run the change; put the change in a new migration",
    ));
    let index = |id: &str| {
        Rule::ALL
            .iter()
            .position(|r| r.id() == id)
            .unwrap_or(Rule::ALL.len())
    };
    let mut results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.finding.rule,
                "ruleIndex": index(&f.finding.rule),
                "level": "error",
                "message": {
                    "text": format!(
                        "{}.{}: {}: {}. Safer: {}",
                        f.finding.app,
                        f.finding.name,
                        f.finding.rule,
                        f.finding.detail,
                        f.finding.advice
                    )
                },
                "locations": location(&f.file, f.line),
                "partialFingerprints": {
                    "platformMigrate/v1": format!("{}:{}.{}:{}", f.finding.rule, f.finding.app, f.finding.name, f.finding.operation.map_or(-1, |o| o as i64)),
                },
            })
        })
        .collect();
    results.extend(r.drift.iter().map(|d| {
        json!({
            "ruleId": DRIFT,
            "ruleIndex": Rule::ALL.len(),
            "level": "error",
            "message": { "text": d.message },
            "locations": location(&d.file, d.line),
            "partialFingerprints": {
                "platformMigrate/v1": format!("{DRIFT}:{}.{}", d.app, d.name),
            },
        })
    }));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "platform-migrate",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "properties": {
                "head": r.head,
                "env": r.env,
                "since": r.since,
                "mergeBase": r.base,
            },
            "results": results,
        }]
    })
}
