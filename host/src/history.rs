//! Run history: one JSON line per run (refused runs included) appended to
//! `<state-dir>/history.jsonl` and fsync'd.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One step's result in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub name: String,
    pub status: String,
    pub duration_ms: u64,
}

/// A migration in a plan or in what changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MigrationRecord {
    pub app: String,
    pub name: String,
    pub backwards: bool,
}

/// The backup a run took (the full record is in the backup catalog).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRecord {
    pub id: String,
    pub file: String,
    #[serde(default)]
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub verified: bool,
}

/// What one notifier made of the run's event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationRecord {
    /// The notifier plugin entry.
    pub notifier: String,
    /// `sent`, `failed` or `denied`.
    pub status: String,
    /// Why it was not sent (redacted).
    pub error: Option<String>,
}

/// A fixture loaded after migrating.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixtureRecord {
    pub fixture: String,
    pub objects: u32,
}

/// Model changes of one app that no migration covers (found by `--show --check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelChangeRecord {
    pub app: String,
    pub changes: Vec<String>,
}

/// How to undo a run, computed before it executes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RollbackPlan {
    /// Where each app the plan touches stood before the run: a migration name or `zero`.
    pub positions: Vec<(String, String)>,
    /// The exact commands that would undo the run, in order.
    pub commands: Vec<String>,
    /// Steps of the plan that migrating back cannot undo (restore the backup instead).
    pub irreversible: Vec<String>,
    /// The backup to restore when a step cannot be reversed.
    pub backup_id: Option<String>,
    /// Anything the plan could not decide (e.g. an app with two applied leaf migrations).
    pub notes: Vec<String>,
}

/// One line of history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub run_id: String,
    pub started: String,
    pub user: String,
    pub host: String,
    pub env: String,
    /// `migrate`, `show`, `make` or `rollback`.
    pub action: String,
    /// The command line as given.
    pub args: Vec<String>,
    pub app: Option<String>,
    pub migration: Option<String>,
    pub fake: bool,
    /// `succeeded`, `failed`, `refused` or `shown`.
    pub outcome: String,
    pub exit_code: i32,
    pub error: Option<String>,
    pub plan: Vec<MigrationRecord>,
    /// What changed in the database, as observed by the host before and after.
    pub applied: Vec<MigrationRecord>,
    /// Migrations created by `--make`.
    pub created: Vec<String>,
    pub backup: Option<BackupRecord>,
    /// How to undo this run; set when it was about to change the database.
    #[serde(default)]
    pub rollback_plan: Option<RollbackPlan>,
    pub steps: Vec<StepRecord>,
    pub duration_ms: u64,
    /// One record per notifier told about the run.
    #[serde(default)]
    pub notifications: Vec<NotificationRecord>,
    /// `--reset`: the database was emptied before migrating.
    #[serde(default)]
    pub reset: bool,
    /// Fixtures loaded after migrating.
    #[serde(default)]
    pub fixtures: Vec<FixtureRecord>,
    /// Model changes without a migration (`--show --check`).
    #[serde(default)]
    pub model_changes: Vec<ModelChangeRecord>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("history.jsonl")
}

/// Append one entry and fsync it.
pub fn append(state_dir: &Path, entry: &Entry) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(state_dir))?;
    f.write_all(line.as_bytes())?;
    f.sync_all()
}

/// Read every entry (a missing file is an empty history).
pub fn read(state_dir: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path(state_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| std::io::Error::other(format!("history line {}: {e}", i + 1)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            run_id: id.into(),
            started: "2026-01-01T00:00:00Z".into(),
            user: "u".into(),
            host: "h".into(),
            env: "dev".into(),
            action: "migrate".into(),
            args: vec![],
            app: None,
            migration: None,
            fake: false,
            outcome: "succeeded".into(),
            exit_code: 0,
            error: None,
            plan: vec![],
            applied: vec![],
            created: vec![],
            backup: None,
            rollback_plan: None,
            notifications: vec![],
            reset: false,
            fixtures: vec![],
            model_changes: vec![],
            steps: vec![],
            duration_ms: 1,
        }
    }

    #[test]
    fn appends_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        append(&state, &entry("a")).unwrap();
        append(&state, &entry("b")).unwrap();
        let all = read(&state).unwrap();
        assert_eq!(
            all.iter().map(|e| e.run_id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let text = std::fs::read_to_string(path(&state)).unwrap();
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn missing_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
    }
}
