//! Run history: one JSON line per run (refused runs included) appended to
//! `<state-dir>/history.jsonl` under a file lock and fsync'd. Each line carries `prev`, the
//! sha256 of the line before it (the first line: sixty-four zeros), so an edited, inserted or
//! removed line breaks the chain and `history verify` names the first broken link. Beside it,
//! `history.head` records how many lines there are and the sha256 of the last, rewritten with
//! every append, so removing the last lines is found too (unless the head is rewritten as well).

use crate::digest::sha256_hex;
pub use crate::outcome::{NotificationStatus, Outcome, StepStatus};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One step's result in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: u64,
}

/// A migration in a plan or in what changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MigrationRecord {
    pub app: String,
    pub name: String,
    pub backwards: bool,
    /// In a plan: the deploy phase the step belongs to (declared, or from the plan lint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::phase::Phase>,
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
    /// Where the env's backup store holds it (`s3://bucket/key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// What one notifier made of the run's event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationRecord {
    /// The notifier plugin entry.
    pub notifier: String,
    pub status: NotificationStatus,
    /// Why it was not sent (redacted).
    pub error: Option<String>,
}

/// A fixture loaded after migrating.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixtureRecord {
    pub fixture: String,
    pub objects: u32,
}

/// The SQL one plan step would run (`--show --sql`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepSql {
    pub app: String,
    pub name: String,
    pub backwards: bool,
    pub sql: Vec<String>,
}

/// An applied migration whose file changed since platform-migrate applied it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DriftRecord {
    pub app: String,
    pub name: String,
    /// sha256 of the file when it was applied.
    pub recorded: String,
    /// sha256 of the file now.
    pub now: String,
}

/// Model changes of one app that no migration covers (found by `--show --check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelChangeRecord {
    pub app: String,
    pub changes: Vec<String>,
}

impl MigrationRecord {
    /// `app.name`, as messages show it.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }
}

impl DriftRecord {
    /// `app.name`, as messages show it.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }
}

impl From<crate::plugin_api::FixtureLoaded> for FixtureRecord {
    fn from(f: crate::plugin_api::FixtureLoaded) -> Self {
        FixtureRecord {
            fixture: f.fixture,
            objects: f.objects,
        }
    }
}

impl From<crate::plugin_api::ModelChange> for ModelChangeRecord {
    fn from(c: crate::plugin_api::ModelChange) -> Self {
        ModelChangeRecord {
            app: c.app,
            changes: c.changes,
        }
    }
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    pub run_id: String,
    pub started: String,
    pub user: String,
    pub host: String,
    pub env: String,
    /// The fleet target (one database of the env) this run was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `migrate`, `show`, `make` or `rollback`.
    pub action: String,
    /// The command line as given.
    pub args: Vec<String>,
    pub app: Option<String>,
    pub migration: Option<String>,
    pub fake: bool,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub error: Option<String>,
    pub plan: Vec<MigrationRecord>,
    /// What changed in the database, as observed by the host before and after.
    pub applied: Vec<MigrationRecord>,
    /// Migrations created by `--make`.
    pub created: Vec<String>,
    pub backup: Option<BackupRecord>,
    /// Why no backup was taken although one is configured: the host found nothing to lose
    /// (no database file yet, or one with no tables), so a required backup did not stop the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nothing_to_back_up: Option<String>,
    /// A migration whose schema change committed while its record in `django_migrations`
    /// did not follow (the runner failed writing the record): schema and record disagree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_applied: Option<MigrationRecord>,
    /// After a failed step 5: what the database's catalog shows changed since just before
    /// it (one sentence per object, bounded), when the runner can read the catalog.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<String>,
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
    /// The SQL of each plan step (`--show --sql`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_sql: Vec<StepSql>,
    /// Applied migrations whose files changed since they were applied.
    #[serde(default)]
    pub drift: Vec<DriftRecord>,
    /// `--accept-drift`: the run recorded the drifted files as they are now.
    #[serde(default)]
    pub accepted_drift: bool,
    /// Destructive or locking changes the plan linter found.
    #[serde(default)]
    pub findings: Vec<crate::lint::Finding>,
    /// `--allow-destructive` was given.
    #[serde(default)]
    pub allowed_destructive: bool,
    /// `--phase`: the deploy phase this run applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::phase::Phase>,
    /// With `--phase pre`: the migrations left for `--phase post`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_deploy: Vec<String>,
    /// Attempts that gave up at the lock timeout and were tried again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_retries: Vec<LockRetry>,
    /// When the last attempt gave up at the lock timeout: the sessions holding locks then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_holders: Vec<String>,
    /// Where the run is recorded in the ledger in the environment's database; `None` when it
    /// is in this machine's history only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerMark>,
}

/// One attempt that gave up at the lock timeout and was tried again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockRetry {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// The migration it gave up on (`app.name`).
    pub migration: String,
    /// The wait before the next attempt.
    pub waited_ms: u64,
    /// Invalid indexes the cancelled attempt left, dropped before the next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_indexes: Vec<String>,
}

/// A run's row in the ledger in the database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerMark {
    pub schema: String,
    pub seq: u64,
    /// sha256 of the row's line as this machine wrote it (`history verify --env` compares).
    pub sha256: String,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("history.jsonl")
}

/// `history.head`: the number of lines and the sha256 of the last one, as of the last append.
pub fn head_path(state_dir: &Path) -> PathBuf {
    state_dir.join("history.head")
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Head {
    lines: usize,
    last: String,
}

/// Line numbers (1-based) and contents of the non-empty lines.
fn numbered(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l))
}

/// Replace the head atomically.
fn write_head(state_dir: &Path, head: &Head) -> std::io::Result<()> {
    let body = serde_json::to_vec(head).map_err(std::io::Error::other)?;
    crate::atomic::replace(&head_path(state_dir), &body)
}

/// One line as written: the link to the line before, then the entry.
#[derive(Serialize)]
struct Line<'a> {
    prev: String,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// The history line of `entry` linked to `prev`: every text field redacted and bounded, no
/// newline. The local journal and the ledger in the database write the same lines.
pub fn line(prev: &str, entry: &Entry) -> std::io::Result<Vec<u8>> {
    let entry = bounded(entry)?;
    serde_json::to_vec(&Line {
        prev: prev.to_string(),
        entry: &entry,
    })
    .map_err(std::io::Error::other)
}

/// Bytes read at a time from the end of the history when looking for its last line.
const TAIL_CHUNK: u64 = 64 * 1024;

/// The last non-empty line of `f` and whether the file ends with a newline, read from the end
/// (a long history is not read whole for each append).
fn last_line(f: &mut std::fs::File) -> std::io::Result<(Option<Vec<u8>>, bool)> {
    let len = f.seek(SeekFrom::End(0))?;
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if let Some(end) = buf.iter().rposition(|b| *b != b'\n') {
            if let Some(start) = buf[..end].iter().rposition(|b| *b == b'\n') {
                return Ok((Some(buf[start + 1..=end].to_vec()), buf.ends_with(b"\n")));
            }
            if pos == 0 {
                return Ok((Some(buf[..=end].to_vec()), buf.ends_with(b"\n")));
            }
        } else if pos == 0 {
            return Ok((None, true));
        }
        let step = TAIL_CHUNK.min(pos);
        pos -= step;
        let mut chunk = vec![0u8; step as usize];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
}

/// Append one entry, linked to the last line, and fsync it. The file is locked while the last
/// line is read and the new one written, so two processes cannot link to the same line.
#[cfg(test)]
pub fn append(state_dir: &Path, entry: &Entry) -> std::io::Result<()> {
    Journal::open(state_dir)?.append(entry)
}

/// The history, opened before any plugin code runs, so that the run is recorded even when a
/// plugin used up the process's file descriptors or memory in the meantime.
pub struct Journal {
    state_dir: std::path::PathBuf,
    file: std::fs::File,
    head: std::fs::File,
}

/// Longest text kept in any one field of a history line.
pub const MAX_FIELD: usize = 4000;

impl Journal {
    pub fn open(state_dir: &Path) -> std::io::Result<Journal> {
        std::fs::create_dir_all(state_dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path(state_dir))?;
        let head = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(head_path(state_dir))?;
        Ok(Journal {
            state_dir: state_dir.to_path_buf(),
            file,
            head,
        })
    }

    /// Append `entry` (every text field redacted, then bounded to [`MAX_FIELD`] bytes).
    pub fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        self.file.lock()?;
        let result = self.append_locked(entry);
        let _ = self.file.unlock();
        result
    }

    /// The number of the last line: the head's when the head names `last`, else
    /// counted (a crash between the two writes, or a damaged head; verify reports which).
    fn number_of_last(&mut self, last: &[u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut body = vec![0u8; 4096];
        let n = self.head.read_at(&mut body, 0).unwrap_or(0);
        if let Ok(h) = serde_json::from_slice::<Head>(&body[..n]) {
            if h.last == sha256_hex(last) {
                return Ok(h.lines);
            }
        }
        let mut text = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut text)?;
        Ok(numbered(&text).last().map_or(0, |(n, _)| n))
    }

    fn append_locked(&mut self, entry: &Entry) -> std::io::Result<()> {
        let (last, ends_with_newline) = last_line(&mut self.file)?;
        let prev = last
            .as_deref()
            .map_or_else(|| GENESIS.to_string(), sha256_hex);
        let number = match &last {
            Some(l) => self.number_of_last(l)?,
            None => 0,
        };
        let line = line(&prev, entry)?;
        let mut out = Vec::with_capacity(line.len() + 2);
        if !ends_with_newline {
            // A line cut short by a crash stays (verify reports it); the new one starts afresh.
            out.push(b'\n');
        }
        out.extend_from_slice(&line);
        out.push(b'\n');
        let f = &mut self.file;
        f.write_all(&out)?;
        f.sync_all()?;
        // Still under the lock: the head names the line just written, which follows the last
        // one (a line cut short keeps its number).
        let head = Head {
            lines: number + 1,
            last: sha256_hex(&line),
        };
        write_head(&self.state_dir, &head).or_else(|e| {
            // No descriptor for a temp file left: rewrite the head through the one opened
            // at the start (not atomic, but a torn head is reported by verify, never silent).
            tracing::debug!("atomic head write failed ({e}); writing in place");
            let body = serde_json::to_vec(&head).map_err(std::io::Error::other)?;
            use std::os::unix::fs::FileExt;
            self.head.set_len(0)?;
            self.head.write_all_at(&body, 0)?;
            self.head.sync_all()
        })
    }
}

/// A copy of `entry` whose every string is redacted and cut to [`MAX_FIELD`] bytes.
fn bounded(entry: &Entry) -> std::io::Result<Entry> {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = crate::text::bounded(s, MAX_FIELD),
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => o.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(entry).map_err(std::io::Error::other)?;
    walk(&mut v);
    serde_json::from_value(v).map_err(std::io::Error::other)
}

/// Where the chain breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Broken {
    #[error("history line {line} is not a JSON object with a `prev` link: {why}")]
    Malformed { line: usize, why: String },
    #[error("history line {line} does not follow line {}: its `prev` is not the sha256 of that line, so a line at or before it was edited, inserted or removed", line - 1)]
    Link { line: usize },
    #[error("history line 1 does not start the chain (its `prev` is not {GENESIS}): lines before it were removed")]
    Start,
    #[error("the history ends at line {have}, but history.head records line {recorded} as the last written: the last lines were removed")]
    Truncated { have: usize, recorded: usize },
    #[error("history line {line} is not the line history.head records as written last (its sha256 differs): it or history.head was changed")]
    Head { line: usize },
    #[error("history.head is {0} beside a history of {1} line(s): it was removed or damaged, so removed last lines could go unnoticed; restore it from a copy")]
    NoHead(&'static str, usize),
    #[error(
        "history.jsonl is missing but history.head records {0} line(s): the history was removed"
    )]
    NoHistory(usize),
}

/// Check every link; returns the number of lines, or the first broken link.
pub fn verify(state_dir: &Path) -> std::io::Result<Result<usize, Broken>> {
    let head = match std::fs::read(head_path(state_dir)) {
        Ok(h) if h.is_empty() => Err("empty"),
        Ok(h) => serde_json::from_slice::<Head>(&h).map_err(|_| "unreadable"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("missing"),
        Err(_) => Err("unreadable"),
    };
    let text = match std::fs::read(path(state_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match head {
                Ok(h) if h.lines > 0 => Err(Broken::NoHistory(h.lines)),
                _ => Ok(0),
            })
        }
        Err(e) => return Err(e),
    };
    Ok(verify_lines(&text).and_then(|n| match &head {
        Ok(h) => check_head(&text, h).map(|()| n),
        Err(_) if n == 0 => Ok(0),
        Err(why) => Err(Broken::NoHead(why, n)),
    }))
}

/// The line the head names is there and is the one written then (later lines may follow, from
/// a crash between the two writes).
fn check_head(text: &[u8], head: &Head) -> Result<(), Broken> {
    let lines: Vec<(usize, &[u8])> = numbered(text).collect();
    let have = lines.last().map_or(0, |(n, _)| *n);
    match lines.iter().find(|(n, _)| *n == head.lines) {
        None if have < head.lines => Err(Broken::Truncated {
            have,
            recorded: head.lines,
        }),
        None => Err(Broken::Head { line: head.lines }),
        Some((n, line)) if sha256_hex(line) != head.last => Err(Broken::Head { line: *n }),
        Some(_) => Ok(()),
    }
}

fn verify_lines(text: &[u8]) -> Result<usize, Broken> {
    let mut expected = GENESIS.to_string();
    let mut count = 0;
    for (n, line) in numbered(text) {
        let prev = serde_json::from_slice::<serde_json::Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.get("prev")
                    .and_then(|p| p.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| "no `prev` field".to_string())
            })
            .map_err(|why| Broken::Malformed { line: n, why })?;
        if prev != expected {
            return Err(if n == 1 {
                Broken::Start
            } else {
                Broken::Link { line: n }
            });
        }
        expected = sha256_hex(line);
        count += 1;
    }
    Ok(count)
}

/// Read every entry (a missing file is an empty history). A line that is not an entry (cut
/// short by a crash, or edited) is skipped with a warning; `history verify` reports it.
pub fn read(state_dir: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path(state_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(l) {
            Ok(e) => entries.push(e),
            Err(e) => tracing::warn!(
                "history line {} skipped, it is not a run entry ({e}); run `platform-migrate history verify`",
                i + 1
            ),
        }
    }
    Ok(entries)
}

/// The latest `limit` entries that `keep` accepts, oldest first, read from the end of the file
/// so that a long history costs what the lines shown cost. Lines that are not entries are
/// skipped (`history verify` reports them).
pub fn read_latest(
    state_dir: &Path,
    limit: usize,
    keep: impl Fn(&Entry) -> bool,
) -> std::io::Result<Vec<Entry>> {
    let mut f = match std::fs::File::open(path(state_dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut pos = f.seek(SeekFrom::End(0))?;
    let mut rest: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    while pos > 0 && out.len() < limit {
        let step = TAIL_CHUNK.min(pos);
        pos -= step;
        let mut chunk = vec![0u8; step as usize];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&rest);
        // Before the first newline the line may have begun in an earlier chunk.
        let split = match (pos, chunk.iter().position(|b| *b == b'\n')) {
            (0, _) => 0,
            (_, Some(i)) => i + 1,
            (_, None) => chunk.len(),
        };
        for line in chunk[split..].split(|b| *b == b'\n').rev() {
            if line.is_empty() || out.len() >= limit {
                continue;
            }
            if let Ok(e) = serde_json::from_slice::<Entry>(line) {
                if keep(&e) {
                    out.push(e);
                }
            }
        }
        rest = chunk[..split].to_vec();
    }
    out.reverse();
    Ok(out)
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
            target: None,
            action: "migrate".into(),
            outcome: Outcome::Succeeded,
            duration_ms: 1,
            ..Entry::default()
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
    fn the_chain_links_every_line_and_names_the_first_broken_one() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["a", "b", "c", "d"] {
            append(dir.path(), &entry(id)).unwrap();
        }
        assert_eq!(verify(dir.path()).unwrap(), Ok(4));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with(&format!("{{\"prev\":\"{GENESIS}\"")));

        // Edit line 2: line 3's link breaks.
        let edited = text.replace("\"run_id\":\"b\"", "\"run_id\":\"x\"");
        assert_eq!(
            verify_lines(edited.as_bytes()),
            Err(Broken::Link { line: 3 })
        );
        // Remove line 3: line 4 (now line 3) does not follow line 2.
        let removed = [lines[0], lines[1], lines[3]].join("\n");
        assert_eq!(
            verify_lines(removed.as_bytes()),
            Err(Broken::Link { line: 3 })
        );
        // Remove the first line.
        let headless = lines[1..].join("\n");
        assert_eq!(verify_lines(headless.as_bytes()), Err(Broken::Start));
        // A line cut short, then a later append: the cut line is reported.
        let cut = &text[..text.len() - 10];
        std::fs::write(path(dir.path()), cut).unwrap();
        append(dir.path(), &entry("e")).unwrap();
        assert!(matches!(
            verify(dir.path()).unwrap(),
            Err(Broken::Malformed { line: 4, .. })
        ));
        let after = std::fs::read(path(dir.path())).unwrap();
        let head: Head =
            serde_json::from_slice(&std::fs::read(head_path(dir.path())).unwrap()).unwrap();
        assert_eq!(head.lines, 5);
        assert_eq!(check_head(&after, &head), Ok(()));
        // Printing the history still works: the cut line is skipped.
        let ids: Vec<String> = read(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.run_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c", "e"]);
    }

    #[test]
    fn removing_the_last_lines_is_found_through_the_head() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["a", "b", "c"] {
            append(dir.path(), &entry(id)).unwrap();
        }
        assert_eq!(verify(dir.path()).unwrap(), Ok(3));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(path(dir.path()), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        assert_eq!(
            verify(dir.path()).unwrap(),
            Err(Broken::Truncated {
                have: 2,
                recorded: 3
            })
        );
        // The last line replaced by another that links correctly: the head's hash differs.
        std::fs::write(path(dir.path()), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        let mut forged = entry("forged");
        forged.env = "prod".into();
        std::fs::write(head_path(dir.path()), "{\"lines\":2,\"last\":\"x\"}").unwrap();
        append(dir.path(), &forged).unwrap();
        std::fs::write(
            head_path(dir.path()),
            format!(
                "{{\"lines\":3,\"last\":\"{}\"}}",
                sha256_hex(lines[2].as_bytes())
            ),
        )
        .unwrap();
        assert_eq!(verify(dir.path()).unwrap(), Err(Broken::Head { line: 3 }));
        // Without a head, or with garbage in it, verify fails.
        std::fs::write(head_path(dir.path()), "garbage").unwrap();
        assert_eq!(
            verify(dir.path()).unwrap(),
            Err(Broken::NoHead("unreadable", 3))
        );
        std::fs::remove_file(head_path(dir.path())).unwrap();
        assert_eq!(
            verify(dir.path()).unwrap(),
            Err(Broken::NoHead("missing", 3))
        );
    }

    #[test]
    fn a_removed_history_beside_its_head_fails() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &entry("a")).unwrap();
        std::fs::remove_file(path(dir.path())).unwrap();
        assert_eq!(verify(dir.path()).unwrap(), Err(Broken::NoHistory(1)));
    }

    #[test]
    fn long_and_secret_fields_are_masked_then_bounded() {
        let dir = tempfile::tempdir().unwrap();
        crate::secrets::Redactor::default().add("pa55word-in-history");
        let mut e = entry("a");
        e.error = Some(format!("{}pa55word-in-history", "x".repeat(10 << 20)));
        append(dir.path(), &e).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.len() < 3 * MAX_FIELD, "{}", text.len());
        assert!(!text.contains("pa55word"));
    }

    #[test]
    fn the_latest_entries_are_read_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        for i in 0..300 {
            let mut e = entry(&format!("r{i}"));
            // Lines longer than a read chunk cross chunk borders.
            e.error = Some("x".repeat(if i % 7 == 0 { 3000 } else { 10 }));
            e.env = if i % 2 == 0 { "dev" } else { "prod" }.into();
            append(dir.path(), &e).unwrap();
            ids.push(e.run_id);
        }
        let ids_of = |v: Vec<Entry>| v.into_iter().map(|e| e.run_id).collect::<Vec<_>>();
        assert_eq!(
            ids_of(read_latest(dir.path(), 5, |_| true).unwrap()),
            ids[295..]
        );
        let prod = ids_of(read_latest(dir.path(), 3, |e| e.env == "prod").unwrap());
        assert_eq!(prod, ["r295", "r297", "r299"]);
        assert_eq!(read_latest(dir.path(), 1000, |_| true).unwrap().len(), 300);
        assert_eq!(ids_of(read(dir.path()).unwrap()), ids);
        assert_eq!(verify(dir.path()).unwrap(), Ok(300));
    }

    #[test]
    fn missing_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
    }
}
