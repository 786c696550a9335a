//! What a git branch changed, from the `git` program (argv vectors, never a shell): the `lint`
//! command's view of the files a pull request adds or changes, compared with the merge base,
//! including what is not committed yet. Read-only: git is told not to take optional locks or
//! run a filesystem monitor. Free of wasmtime; the parsing is unit-tested.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why git could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git ({0}); install git, or run lint where it is on PATH")]
    NoGit(String),
    #[error("{dir} is not inside a git work tree ({detail}); `lint --since` compares a branch with its base, so run it in a clone of the project")]
    NotARepo { dir: String, detail: String },
    #[error("unknown git ref '{0}': fetch it first (e.g. `git fetch origin main`, and in CI check out with full history: fetch-depth 0) or name a branch, tag or commit that exists here")]
    UnknownRef(String),
    #[error("'{0}' and HEAD have no common ancestor, so there is no base to compare with; name the branch this one was started from")]
    NoMergeBase(String),
    #[error("git {what} failed: {detail}")]
    Failed { what: String, detail: String },
}

/// How a file differs from the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Modified,
    Removed,
}

impl Change {
    /// The word people read for it.
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified => "changed",
            Change::Removed => "removed",
        }
    }
}

/// One file the branch adds, changes or removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Relative to the top of the work tree, `/`-separated.
    pub path: String,
    pub change: Change,
    /// Its change is not committed (a modified, staged or untracked file).
    pub uncommitted: bool,
}

/// A git work tree.
pub struct Repo {
    pub top: PathBuf,
    /// [`filter_overrides`] for this repository.
    no_filters: Vec<String>,
}

/// Settings that would have git start a program, each switched off on the command line, which
/// wins over every config file: the work tree may be writable by a plugin's programs (a dev
/// env's `confine.write = ["."]`), and so may `.git/config`. Hooks, the fsmonitor daemon, an
/// external diff or text conversion, a pager, attributes from outside the repository; filter
/// drivers, whose names only the config knows, are switched off by [`filter_overrides`].
const NO_PROGRAMS: &[&str] = &[
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "diff.external=",
    "-c",
    "core.pager=cat",
    "-c",
    "core.attributesFile=/dev/null",
    "-c",
    "core.quotePath=false",
];

fn command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(NO_PROGRAMS)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C");
    for v in [
        "GIT_EXTERNAL_DIFF",
        "GIT_SSH_COMMAND",
        "GIT_ASKPASS",
        "GIT_DIFF_OPTS",
    ] {
        c.env_remove(v);
    }
    c
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, GitError> {
    command(dir)
        .args(args)
        .output()
        .map_err(|e| GitError::NoGit(e.to_string()))
}

/// `-c filter.NAME.clean= -c filter.NAME.smudge= -c filter.NAME.process= -c
/// filter.NAME.required=false` for every filter driver any config level (includes followed)
/// names: `git status` and `git diff` against the work tree run a clean filter on each file
/// whose stat changed, and an empty command is no filter. Reading the config starts nothing.
fn filter_overrides(dir: &Path) -> Result<Vec<String>, GitError> {
    let o = git(dir, &["config", "--null", "--get-regexp", r"^filter\."])?;
    // Exit 1: no such key. Anything else is read as no filters, and git's own run says why.
    let mut names: Vec<String> = Vec::new();
    for entry in o.stdout.split(|b| *b == 0) {
        let key = String::from_utf8_lossy(entry.split(|b| *b == b'\n').next().unwrap_or(&[]))
            .into_owned();
        let Some(rest) = key.strip_prefix("filter.") else {
            continue;
        };
        if let Some((name, _)) = rest.rsplit_once('.') {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    Ok(names
        .iter()
        .flat_map(|n| {
            ["clean=", "smudge=", "process=", "required=false"]
                .map(|k| ["-c".to_string(), format!("filter.{n}.{k}")])
        })
        .flatten()
        .collect())
}

fn stderr_line(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}

impl Repo {
    /// The work tree `dir` lies in.
    pub fn find(dir: &Path) -> Result<Repo, GitError> {
        let o = git(dir, &["rev-parse", "--show-toplevel"])?;
        if !o.status.success() {
            return Err(GitError::NotARepo {
                dir: dir.display().to_string(),
                detail: stderr_line(&o),
            });
        }
        let top = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        let no_filters = filter_overrides(&top)?;
        Ok(Repo { top, no_filters })
    }

    /// A command that compares the work tree: filters off as well.
    fn run(&self, what: &str, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let o = command(&self.top)
            .args(&self.no_filters)
            .args(args)
            .output()
            .map_err(|e| GitError::NoGit(e.to_string()))?;
        if !o.status.success() {
            return Err(GitError::Failed {
                what: what.into(),
                detail: stderr_line(&o),
            });
        }
        Ok(o.stdout)
    }

    /// The commit `reference` names.
    pub fn resolve(&self, reference: &str) -> Result<String, GitError> {
        // `--end-of-options` keeps a ref that starts with `-` from being read as an option.
        let spec = format!("{reference}^{{commit}}");
        let o = git(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )?;
        if !o.status.success() || reference.is_empty() {
            return Err(GitError::UnknownRef(reference.into()));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// The commit HEAD is at.
    pub fn head(&self) -> Result<String, GitError> {
        let out = self.run("rev-parse HEAD", &["rev-parse", "--verify", "HEAD"])?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Where HEAD's history left `base`'s: what a pull request's diff compares with.
    pub fn merge_base(&self, base: &str, reference: &str) -> Result<String, GitError> {
        let o = git(&self.top, &["merge-base", base, "HEAD"])?;
        if !o.status.success() {
            return Err(GitError::NoMergeBase(reference.into()));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// Every file that differs between `base` and the work tree as it is on disk (committed
    /// or not), plus untracked files.
    pub fn changes_since(&self, base: &str) -> Result<Vec<Changed>, GitError> {
        let diff = self.run(
            "diff",
            &[
                "diff",
                "--name-status",
                "-z",
                "--no-renames",
                "--no-ext-diff",
                "--no-textconv",
                "--ignore-submodules=all",
                base,
                "--",
            ],
        )?;
        // One status read gives both what is uncommitted and what is untracked (`??`).
        let status = self.run(
            "status",
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignore-submodules=all",
            ],
        )?;
        let dirty = parse_status(&status);
        let mut out = parse_name_status(&diff);
        for (path, untracked) in &dirty {
            if *untracked && !out.iter().any(|c| &c.path == path) {
                out.push(Changed {
                    path: path.clone(),
                    change: Change::Added,
                    uncommitted: true,
                });
            }
        }
        for c in &mut out {
            c.uncommitted = c.uncommitted || dirty.iter().any(|(p, _)| p == &c.path);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

fn split_z(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// `git diff --name-status -z --no-renames`: a status letter, NUL, the path, NUL, ...
fn parse_name_status(bytes: &[u8]) -> Vec<Changed> {
    let parts = split_z(bytes);
    parts
        .chunks(2)
        .filter_map(|pair| {
            let [status, path] = pair else { return None };
            let change = match status.chars().next()? {
                'A' => Change::Added,
                'D' => Change::Removed,
                // M (modified), T (type changed): the file is there with other contents.
                'M' | 'T' => Change::Modified,
                _ => return None,
            };
            Some(Changed {
                path: path.clone(),
                change,
                uncommitted: false,
            })
        })
        .collect()
}

/// `git status --porcelain=v1 -z`: `XY path` entries (renames are followed by their old path,
/// which is skipped); each path with uncommitted changes, and whether it is untracked (`??`).
fn parse_status(bytes: &[u8]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut parts = split_z(bytes).into_iter();
    while let Some(entry) = parts.next() {
        if entry.len() < 4 {
            continue;
        }
        let (xy, path) = entry.split_at(3);
        out.push((path.to_string(), xy == "?? "));
        if xy.starts_with('R') || xy.starts_with('C') {
            parts.next();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_is_read_pair_by_pair() {
        let raw = b"A\0orders/migrations/0004_buyer.py\0M\0orders/models.py\0D\0old.py\0";
        let got = parse_name_status(raw);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].path, "orders/migrations/0004_buyer.py");
        assert_eq!(got[0].change, Change::Added);
        assert_eq!(got[1].change, Change::Modified);
        assert_eq!(got[2].change, Change::Removed);
        // A path with spaces or newlines stays one path.
        let odd = parse_name_status(b"A\0a b\nc.py\0");
        assert_eq!(odd[0].path, "a b\nc.py");
    }

    #[test]
    fn status_names_the_uncommitted_and_untracked_paths_and_skips_rename_sources() {
        let raw = b" M orders/models.py\0?? orders/migrations/0005_x.py\0R  new.py\0old.py\0";
        assert_eq!(
            parse_status(raw),
            vec![
                ("orders/models.py".to_string(), false),
                ("orders/migrations/0005_x.py".to_string(), true),
                ("new.py".to_string(), false)
            ]
        );
    }

    #[test]
    fn a_directory_outside_git_and_an_unknown_ref_are_named() {
        let dir = tempfile::tempdir().unwrap();
        match Repo::find(dir.path()) {
            Err(GitError::NotARepo { dir: d, .. }) => {
                assert!(d.contains(&*dir.path().to_string_lossy()))
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a temp dir is not a work tree"),
        }
        let init = Command::new("git")
            .args(["init", "-q"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(init.success());
        let repo = Repo::find(dir.path()).unwrap();
        match repo.resolve("no-such-branch") {
            Err(GitError::UnknownRef(r)) => assert_eq!(r, "no-such-branch"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            repo.resolve("--output=x"),
            Err(GitError::UnknownRef(_))
        ));
    }
}
