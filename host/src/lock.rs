//! One run at a time per environment: an exclusive OS file lock on
//! `<state-dir>/locks/<env>.lock`, held for the whole run. The file records who holds it (pid,
//! host, start time, run id) so a second run can name the holder. The kernel drops the lock
//! when the process ends, however it ends, so a crash never leaves a stale lock to clear by
//! hand. (PostgreSQL targets also take a database advisory lock through the runner, which
//! covers runs from other machines and other state directories.)

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Who holds an environment's lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started: String,
    pub run_id: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on host {} since {} (run {})",
            self.pid, self.host, self.started, self.run_id
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("env {env} is busy: another run holds its lock ({}){}; wait for it to finish, or pass --wait SECONDS to queue behind it", holder.as_ref().map_or("holder unknown".to_string(), |h| h.to_string()), waited.map_or(String::new(), |w| format!(" and still did after waiting {} s", w.as_secs())))]
    Busy {
        env: String,
        holder: Option<Holder>,
        waited: Option<Duration>,
    },
    #[error("cannot lock env {env} with {path}: {why}")]
    Io {
        env: String,
        path: String,
        why: String,
    },
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct EnvLock {
    file: File,
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        // Forget the holder before the lock goes, so nobody reads a finished run as holder.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

pub fn path(state_dir: &Path, env: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{env}.lock"))
}

/// How often a waiting run tries again.
const POLL: Duration = Duration::from_millis(200);

/// Take the lock of `env`, waiting up to `wait` for a holder to finish.
pub fn acquire(
    state_dir: &Path,
    env: &str,
    me: &Holder,
    wait: Option<Duration>,
) -> Result<EnvLock, LockError> {
    let path = path(state_dir, env);
    let io = |e: std::io::Error| LockError::Io {
        env: env.to_string(),
        path: path.display().to_string(),
        why: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                if let Some(w) = wait {
                    if started.elapsed() < w && !crate::interrupt::aborting() {
                        std::thread::sleep(POLL);
                        continue;
                    }
                }
                return Err(LockError::Busy {
                    env: env.to_string(),
                    holder: holder_of(&mut file),
                    waited: wait,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    let text = serde_json::to_string(me).map_err(|e| io(std::io::Error::other(e)))?;
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(EnvLock { file })
}

fn holder_of(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(pid: u32) -> Holder {
        Holder {
            pid,
            host: "h".into(),
            started: "2026-01-01T00:00:00Z".into(),
            run_id: format!("dev-{pid}"),
        }
    }

    #[test]
    fn a_second_taker_is_told_who_holds_it_until_it_is_released() {
        let d = tempfile::tempdir().unwrap();
        let first = acquire(d.path(), "dev", &me(1), None).unwrap();
        let e = acquire(d.path(), "dev", &me(2), None).unwrap_err();
        match &e {
            LockError::Busy { holder, .. } => assert_eq!(holder.as_ref(), Some(&me(1))),
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("pid 1 on host h"), "{e}");
        assert!(e.to_string().contains("--wait SECONDS"), "{e}");
        // Other environments are independent.
        let _test = acquire(d.path(), "test", &me(3), None).unwrap();
        drop(first);
        let again = acquire(d.path(), "dev", &me(2), None).unwrap();
        drop(again);
    }

    #[test]
    fn waiting_gives_up_after_the_limit_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        let _first = acquire(d.path(), "dev", &me(1), None).unwrap();
        let t = Instant::now();
        let e = acquire(d.path(), "dev", &me(2), Some(Duration::from_millis(500))).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(500));
        assert!(e.to_string().contains("after waiting 0 s"), "{e}");
    }
}
