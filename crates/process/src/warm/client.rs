//! A target's side of warm start: ask the fleet's zygote for a fork that becomes the program
//! a plugin starts.

use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The socket to the zygote and the Python it runs, when this run is a fleet's target with
/// warm start.
fn channel() -> &'static OnceLock<Mutex<(UnixStream, PathBuf)>> {
    static CHANNEL: OnceLock<Mutex<(UnixStream, PathBuf)>> = OnceLock::new();
    &CHANNEL
}

/// Longest wait for the zygote to fork (it may still be importing Django when the first
/// target asks).
const FORK_WAIT: Duration = Duration::from_secs(30);

pub(super) fn adopt() {
    let (Ok(fd), Ok(python)) = (
        std::env::var(super::FD_VAR),
        std::env::var(super::PYTHON_VAR),
    ) else {
        return;
    };
    let Ok(fd) = fd.parse::<i32>() else { return };
    // SAFETY: fstat writes into the struct it is given.
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    };
    if fd < 3 || !is_socket {
        return;
    }
    // SAFETY: the fleet's host handed this descriptor to this process alone; from here it is
    // owned here, and close-on-exec so that no program started later inherits it.
    let socket = unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        UnixStream::from_raw_fd(fd)
    };
    let _ = channel().set(Mutex::new((socket, PathBuf::from(python))));
}

/// Whether `program args` with `env` may start warm: the fleet's Python running a script,
/// with no `PYTHON*` variable (the zygote's interpreter has started already, so those would
/// not take effect).
pub fn eligible(program: &Path, args: &[String], env: &[(String, String)]) -> bool {
    let Some(c) = channel().get() else {
        return false;
    };
    let Ok(c) = c.lock() else { return false };
    eligible_for(&c.1, program, args, env)
}

/// [`eligible`] with the warm Python `python`.
fn eligible_for(python: &Path, program: &Path, args: &[String], env: &[(String, String)]) -> bool {
    let same = |a: &Path, b: &Path| {
        a.components().collect::<PathBuf>() == b.components().collect::<PathBuf>()
    };
    same(program, python)
        && args.first().is_some_and(|a| !a.starts_with('-'))
        && !env.iter().any(|(k, _)| k.starts_with("PYTHON"))
}

/// A program started warm: the zygote's fork, in its own process group.
pub struct WarmChild {
    pid: u32,
    /// The zygote writes the exit status here, then closes it.
    status: UnixStream,
}

/// The streams of a warm start, as the host keeps them.
pub struct Streams {
    pub stdin: std::fs::File,
    pub stdout: std::fs::File,
    pub stderr: std::fs::File,
}

/// Start `args` as the fleet's Python with `env` (after the fixed PATH), in `cwd`, entering
/// `confine`'s ruleset.
pub fn start(
    args: &[String],
    env: &[(String, String)],
    cwd: &crate::proc::Cwd,
    confine: &crate::confine::Prepared,
) -> Result<(WarmChild, Streams), String> {
    let c = channel().get().ok_or("not a warm fleet target")?;
    fn io(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    let (stdin_r, stdin_w) = std::io::pipe().map_err(io("pipe"))?;
    let (stdout_r, stdout_w) = std::io::pipe().map_err(io("pipe"))?;
    let (stderr_r, stderr_w) = std::io::pipe().map_err(io("pipe"))?;
    let dir: OwnedFd = match &cwd.dir {
        Some(d) => d.try_clone().map_err(io("working directory"))?.into(),
        None => {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&cwd.path)
                .map_err(io("working directory"))?
                .into()
        }
    };
    let (ours, theirs) = UnixStream::pair().map_err(io("socket"))?;
    let mut fds = vec![
        stdin_r.as_fd(),
        stdout_w.as_fd(),
        stderr_w.as_fd(),
        dir.as_fd(),
        theirs.as_fd(),
    ];
    let ruleset = confine.ruleset();
    if let Some(r) = ruleset {
        fds.push(r);
    }
    let request = serde_json::json!({"argv": args, "confined": ruleset.is_some()});
    let pid = {
        let guard = c.lock().map_err(|_| "warm start is unusable".to_string())?;
        let socket = &guard.0;
        super::zygote::send_fds(socket, format!("{request}\n").as_bytes(), &fds)
            .map_err(io("asking the warm-start Python"))?;
        let answer = read_line(socket, FORK_WAIT).map_err(io("the warm-start Python's answer"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|e| format!("unreadable answer: {e}"))?;
        match v["pid"].as_u64() {
            Some(p) if p > 1 => p as u32,
            _ => return Err(format!("it could not fork: {}", v["error"])),
        }
    };
    // Only the fork holds these ends now: closing ours lets the program see end-of-file.
    drop((stdin_r, stdout_w, stderr_w, dir, theirs));
    let mut map = serde_json::Map::new();
    map.insert("PATH".into(), crate::proc::FIXED_PATH.into());
    for (k, v) in env {
        map.insert(k.clone(), v.clone().into());
    }
    let mut status = ours;
    let sent = status
        .write_all(format!("{}\n", serde_json::Value::Object(map)).as_bytes())
        .and_then(|_| status.flush());
    if let Err(e) = sent {
        // SAFETY: killpg only signals the fork's own process group.
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
        return Err(format!("handing the program its environment: {e}"));
    }
    let child = WarmChild { pid, status };
    Ok((
        child,
        Streams {
            stdin: OwnedFd::from(stdin_w).into(),
            stdout: OwnedFd::from(stdout_r).into(),
            stderr: OwnedFd::from(stderr_r).into(),
        },
    ))
}

/// One line from `socket`, waiting at most `wait` (one try at least); `TimedOut` when none
/// came in time, `UnexpectedEof` when the other end closed first.
fn read_line(socket: &UnixStream, wait: Duration) -> std::io::Result<Vec<u8>> {
    let until = Instant::now() + wait;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut s = socket;
    loop {
        let left = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        s.set_read_timeout(Some(left))?;
        match s.read(&mut byte) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) if byte[0] == b'\n' => return Ok(line),
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(std::io::ErrorKind::TimedOut.into())
            }
            Err(e) => return Err(e),
        }
    }
}

impl WarmChild {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Whether it has ended, waiting at most `wait`: the zygote reported its exit status (one
    /// line), or closed the socket (it is gone, and its forks with it).
    pub fn ended_within(&mut self, wait: Duration) -> bool {
        !matches!(
            read_line(&self.status, wait),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_warm_python_running_a_script_without_python_variables_starts_warm() {
        let py = Path::new("/p/.venv/bin/python");
        let args = v(&["manage.py", "shell", "-c", "x"]);
        assert!(eligible_for(
            py,
            Path::new("/p/.venv/bin/./python"),
            &args,
            &[]
        ));
        // Another program, even the interpreter the venv links to.
        assert!(!eligible_for(py, Path::new("/usr/bin/python3"), &args, &[]));
        // Interpreter options come before the script: the warm Python has started already.
        assert!(!eligible_for(py, py, &v(&["-X", "dev", "manage.py"]), &[]));
        assert!(!eligible_for(py, py, &v(&["-c", "print(1)"]), &[]));
        assert!(!eligible_for(py, py, &[], &[]));
        // PYTHONPATH and friends would not take effect.
        let env = [("PYTHONPATH".to_string(), "/elsewhere".to_string())];
        assert!(!eligible_for(py, py, &args, &env));
        let env = [("DATABASE_URL".to_string(), "postgresql://x".to_string())];
        assert!(eligible_for(py, py, &args, &env));
    }

    #[test]
    fn without_a_handed_socket_nothing_starts_warm() {
        // This test process is no fleet target.
        assert!(!eligible(
            Path::new("/usr/bin/python3"),
            &v(&["manage.py"]),
            &[]
        ));
    }
}
