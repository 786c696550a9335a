//! What `lint --since` found, as every output (human, json, markdown, sarif) reads it: its
//! own module so that the renderers (`markdown.rs`, `sarif.rs`) depend on the report, not on
//! the command that builds it.

use crate::git::Change;
use crate::lint::Finding;
use serde::Serialize;

/// Version of the lint report's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// A migration the branch adds or changes.
#[derive(Debug, Clone, Serialize)]
pub struct Linted {
    pub app: String,
    pub name: String,
    /// Relative to the top of the git work tree.
    pub file: String,
    pub change: Change,
    /// The env's database has it applied.
    pub applied: bool,
    /// Its change is not committed yet.
    pub uncommitted: bool,
}

/// A finding placed in the file.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    #[serde(flatten)]
    pub finding: Finding,
    pub file: String,
    /// 1-based line of the operation (or of the migration's first operation).
    pub line: u32,
}

/// An applied migration whose file the branch changes.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub app: String,
    pub name: String,
    pub file: String,
    pub line: u32,
    pub message: String,
}

/// What `lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub env: String,
    /// The ref as given.
    pub since: String,
    /// The merge base compared with.
    pub base: String,
    pub head: String,
    /// Files linted as they are on disk, not as committed.
    pub uncommitted: Vec<String>,
    pub migrations: Vec<Linted>,
    pub findings: Vec<Located>,
    pub drift: Vec<Drift>,
    /// Changed files under a `migrations/` directory that the runner does not know as a
    /// migration (an app missing from INSTALLED_APPS, a helper module).
    pub unknown: Vec<String>,
    /// `clean` or `findings`.
    pub outcome: String,
    pub exit_code: i32,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.drift.is_empty()
    }
}
