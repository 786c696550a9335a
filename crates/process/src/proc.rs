//! Running a child process for a plugin: argv only (never a shell), a clean environment, stdin
//! empty or from a granted file, a timeout that kills the whole process group, and capped
//! output, or stdout streamed into a file while its sha256 is computed. Free of wasmtime.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The host's fixed PATH for child processes.
pub const FIXED_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default cap on each of stdout and stderr kept (the plugin's limits set the real one).
#[cfg(test)]
pub const MAX_OUTPUT: usize = 8 * 1024 * 1024;

/// The deadline of a plugin's current call: one value, shared by its limiter (which sets it at
/// every call) and the background programs it starts (whose grace never outlasts it).
#[derive(Debug, Clone)]
pub struct Deadline(Arc<Mutex<Instant>>);

impl Default for Deadline {
    fn default() -> Self {
        Deadline(Arc::new(Mutex::new(Instant::now())))
    }
}

impl Deadline {
    pub fn set(&self, at: Instant) {
        if let Ok(mut d) = self.0.lock() {
            *d = at;
        }
    }

    /// Time left until the deadline (zero once it passed).
    pub fn left(&self) -> Duration {
        self.0
            .lock()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }
}

/// A child's working directory: its host path, and the directory opened inside its grant,
/// which the child enters by handle (so a symlink swapped in after the check cannot move it).
pub struct Cwd {
    pub path: PathBuf,
    pub dir: Option<std::fs::File>,
}

impl Cwd {
    #[cfg(test)]
    pub fn at(path: PathBuf) -> Cwd {
        Cwd { path, dir: None }
    }
}

/// What runs in the child between `fork` and `exec`: die with the host, enter the opened
/// working directory, enter the kernel confinement. Only system calls (async-signal-safe).
pub fn child_setup(
    cwd: Option<std::fs::File>,
    confine: crate::confine::Prepared,
) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
    use std::os::fd::AsRawFd;
    move || {
        die_with_parent()?;
        if let Some(d) = &cwd {
            // SAFETY: fchdir takes an open descriptor and touches no memory.
            if unsafe { libc::fchdir(d.as_raw_fd()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        confine.enter()
    }
}

/// A fully checked request: the caller has applied the grants.
pub struct Spawn<'a> {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Cwd,
    /// The kernel confinement the child enters before `exec`.
    pub confine: crate::confine::Prepared,
    pub timeout: Duration,
    /// Called with each output line as it arrives, when set (verbose echo).
    pub echo: Option<&'a (dyn Fn(&str) + Sync)>,
    /// The child's standard input; `None` is empty.
    pub stdin: Option<std::fs::File>,
    /// Stream the child's standard output into this file instead of capturing it.
    pub stdout_to: Option<std::fs::File>,
    /// Bytes kept of each of stdout and stderr; the rest is read and dropped (`truncated`).
    pub max_output: usize,
}

#[derive(Debug)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
    /// Bytes and sha256 of what went to `stdout_to`.
    pub written: Option<(u64, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("program not found: {0}")]
    NotFound(String),
    /// It exists, but this user may not execute it (the message says why and the fix).
    #[error("{0}")]
    NotExecutable(String),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    #[error("stopped: the run was interrupted")]
    Interrupted,
    #[error("{0}")]
    Io(String),
}

/// Look a bare program name up on [`FIXED_PATH`]; paths with a `/` are taken as they are.
pub fn resolve_program(program: &str, base: &std::path::Path) -> Result<PathBuf, ProcError> {
    if program.contains('/') {
        let p = base.join(program);
        let shown = p.display().to_string();
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && executable(&p) => Ok(p),
            Ok(m) if m.is_file() => Err(ProcError::NotExecutable(format!(
                "{shown} exists, but this user may not execute it (permission denied); make it executable for the user running platform-migrate (chmod +x), or point the config at a python that user may run"
            ))),
            Ok(_) => Err(ProcError::NotFound(format!("{shown} (not a file)"))),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(ProcError::NotExecutable(format!(
                    "{shown} cannot be reached: permission denied on a folder of its path; run platform-migrate as a user who may read it, or let that user into its folders (chmod o+x)"
                )))
            }
            Err(_) => Err(ProcError::NotFound(shown)),
        };
    }
    FIXED_PATH
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| ProcError::NotFound(format!("{program} (looked in {FIXED_PATH})")))
}

/// May this process execute `path` (the kernel's own answer, as `execve` will give it)?
fn executable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads the NUL-terminated path and nothing else.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Longest line kept for echo; the rest of a longer line is read and dropped.
pub const MAX_LINE: usize = 64 * 1024;

/// One line of a program's output as it is read, kept up to a cap: the rest of a longer line
/// is read and dropped, so memory stays bounded whatever the program prints, newlines or not.
/// Shared by [`run`]'s echo (cut at [`MAX_LINE`]) and background programs' lines (cut at the
/// plugin's `process-output-kb`).
pub struct LineBuf {
    bytes: Vec<u8>,
    cut: bool,
    cap: usize,
}

impl LineBuf {
    pub fn with_cap(cap: usize) -> LineBuf {
        LineBuf {
            bytes: Vec::new(),
            cut: false,
            cap,
        }
    }

    /// Take what `buf` holds of the current line, up to and including its first newline;
    /// returns the bytes consumed from `buf` and whether they ended the line.
    pub fn feed(&mut self, buf: &[u8]) -> (usize, bool) {
        let (n, ended) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = self.cap.saturating_sub(self.bytes.len());
        if n > room {
            self.cut = true;
        }
        self.bytes.extend_from_slice(&buf[..n.min(room)]);
        (n, ended)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The line without its line ending, and whether it was cut; starts the next line.
    pub fn take(&mut self) -> (String, bool) {
        let text = String::from_utf8_lossy(&self.bytes)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        self.bytes.clear();
        (text, std::mem::take(&mut self.cut))
    }
}

/// Read `r` to its end keeping at most `max` bytes, handing each line (cut at [`MAX_LINE`])
/// to `echo`.
async fn read_capped<R: AsyncRead + Unpin>(
    r: R,
    max: usize,
    echo: Option<&(dyn Fn(&str) + Sync)>,
) -> std::io::Result<(String, bool)> {
    let mut reader = BufReader::new(r);
    let mut out = Vec::new();
    let mut truncated = false;
    let mut line = LineBuf::with_cap(MAX_LINE);
    let emit = |line: &mut LineBuf| {
        let (mut text, cut) = line.take();
        if let Some(echo) = echo {
            if cut {
                text.push_str(" [line cut]");
            }
            echo(&text);
        }
    };
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            break;
        }
        let (n, ended) = line.feed(buf);
        let room = max.saturating_sub(out.len());
        if n > room {
            truncated = true;
        }
        out.extend_from_slice(&buf[..n.min(room)]);
        reader.consume(n);
        if ended {
            emit(&mut line);
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), truncated))
}

/// Copy everything from `r` into `file`, hashing as it goes; fsync at the end.
async fn stream_to_file<R: AsyncRead + Unpin>(
    mut r: R,
    file: std::fs::File,
) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).await?;
        size += n as u64;
    }
    out.flush().await?;
    // A pipe (a backup streaming to a store) has nothing to sync.
    if out.metadata().await?.is_file() {
        out.sync_all().await?;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: killpg only sends a signal; the group was created for this child.
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// Whether `child` has exited, polling for at most `wait`.
pub fn exited_within(child: &mut std::process::Child, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= until => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// In the child, before exec: be killed when the host dies, however it dies (even SIGKILL),
/// so no program a plugin started outlives the run it belongs to. Children run in their own
/// process group, so signals to the host's group do not reach them otherwise.
pub fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Run to completion (or until the timeout).
pub fn run(spawn: Spawn<'_>) -> Result<Finished, ProcError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| ProcError::Io(e.to_string()))?;
    rt.block_on(run_async(spawn))
}

async fn run_async(spawn: Spawn<'_>) -> Result<Finished, ProcError> {
    let mut cmd = tokio::process::Command::new(&spawn.program);
    cmd.args(&spawn.args)
        .env_clear()
        .env("PATH", FIXED_PATH)
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spawn.cwd.path)
        .stdin(match spawn.stdin {
            Some(f) => Stdio::from(f),
            None => Stdio::null(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: the closure only makes system calls (prctl, fchdir, landlock), which are
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(child_setup(spawn.cwd.dir, spawn.confine));
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProcError::NotFound(spawn.program.display().to_string()),
        std::io::ErrorKind::PermissionDenied => ProcError::NotExecutable(format!(
            "cannot execute {}: permission denied; make it executable for the user running platform-migrate",
            spawn.program.display()
        )),
        _ => ProcError::Io(format!("cannot start {}: {e}", spawn.program.display())),
    })?;
    let pid = child.id();
    if let Some(p) = pid {
        crate::confine::track(p);
    }
    let result = supervise(
        &mut child,
        pid,
        spawn.timeout,
        spawn.echo,
        spawn.stdout_to,
        spawn.max_output,
    )
    .await;
    // Whatever the program left behind in its group, and descendants that left the group and
    // were orphaned to the host, end with it.
    kill_group(pid);
    crate::confine::end_orphans();
    if let Some(p) = pid {
        crate::confine::untrack(p);
    }
    result
}

async fn supervise(
    child: &mut tokio::process::Child,
    pid: Option<u32>,
    timeout: Duration,
    echo: Option<&(dyn Fn(&str) + Sync)>,
    stdout_to: Option<std::fs::File>,
    max_output: usize,
) -> Result<Finished, ProcError> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ProcError::Io("no stdout pipe".into()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| ProcError::Io("no stderr pipe".into()))?;
    let work = async {
        let out = async {
            match stdout_to {
                Some(file) => stream_to_file(stdout, file)
                    .await
                    .map(|w| (String::new(), false, Some(w))),
                None => read_capped(stdout, max_output, echo)
                    .await
                    .map(|(s, t)| (s, t, None)),
            }
        };
        let (o, e, status) = tokio::join!(out, read_capped(stderr, max_output, echo), child.wait());
        let (stdout, t1, written) = o.map_err(|e| ProcError::Io(e.to_string()))?;
        let (stderr, t2) = e.map_err(|e| ProcError::Io(e.to_string()))?;
        let status = status.map_err(|e| ProcError::Io(e.to_string()))?;
        Ok::<_, ProcError>(Finished {
            exit_code: status.code(),
            stdout,
            stderr,
            truncated: t1 || t2,
            written,
        })
    };
    let interrupted = async {
        while !crate::interrupt::aborting() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        r = tokio::time::timeout(timeout, work) => match r {
            Ok(result) => result,
            Err(_) => {
                kill_group(pid);
                Err(ProcError::TimedOut(timeout))
            }
        },
        () = interrupted => {
            kill_group(pid);
            Err(ProcError::Interrupted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn spawn(program: &str, args: &[&str]) -> Spawn<'static> {
        Spawn {
            program: resolve_program(program, std::path::Path::new("/")).unwrap(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            cwd: Cwd::at(std::env::temp_dir()),
            confine: crate::confine::prepare(&crate::confine::Policy {
                write: vec![std::env::temp_dir()],
                ..Default::default()
            })
            .unwrap(),
            timeout: Duration::from_secs(20),
            echo: None,
            stdin: None,
            stdout_to: None,
            max_output: MAX_OUTPUT,
        }
    }

    #[test]
    fn output_past_the_cap_is_dropped_and_flagged() {
        let mut s = spawn("sh", &["-c", "yes abcdefghi | head -c 100000"]);
        s.max_output = 1000;
        let f = run(s).unwrap();
        assert!(f.truncated);
        assert_eq!(f.stdout.len(), 1000);
        assert_eq!(f.exit_code, Some(0), "the child was drained, not blocked");
    }

    #[test]
    fn captures_output_and_exit_code() {
        let f = run(spawn("sh", &["-c", "echo out; echo err >&2; exit 3"])).unwrap();
        assert_eq!(f.exit_code, Some(3));
        assert_eq!(f.stdout, "out\n");
        assert_eq!(f.stderr, "err\n");
    }

    #[test]
    fn environment_is_clean_with_fixed_path() {
        std::env::set_var("PM_PROC_TEST_LEAK", "leaked");
        let mut s = spawn("env", &[]);
        s.env = vec![("ONLY".into(), "this".into())];
        let f = run(s).unwrap();
        assert!(!f.stdout.contains("PM_PROC_TEST_LEAK"), "{}", f.stdout);
        assert!(f.stdout.contains("ONLY=this"));
        assert!(f.stdout.contains(&format!("PATH={FIXED_PATH}")));
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let mut s = spawn("sh", &["-c", "sleep 30 & sleep 30"]);
        s.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let e = run(s).unwrap_err();
        assert!(matches!(e, ProcError::TimedOut(_)), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_huge_line_without_newline_stays_bounded() {
        let seen = Mutex::new(Vec::new());
        let f = |l: &str| seen.lock().unwrap().push(l.len());
        let mut s = spawn(
            "sh",
            &[
                "-c",
                "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo end",
            ],
        );
        s.echo = Some(&f);
        s.max_output = 1000;
        let r = run(s).unwrap();
        assert!(r.truncated);
        assert_eq!(r.stdout.len(), 1000);
        let lens = seen.lock().unwrap().clone();
        assert_eq!(lens.len(), 2, "{lens:?}");
        assert!(lens[0] <= MAX_LINE + 20, "{lens:?}");
    }

    #[test]
    fn echo_sees_each_line() {
        let seen = Mutex::new(Vec::new());
        let f = |l: &str| seen.lock().unwrap().push(l.to_string());
        let mut s = spawn("sh", &["-c", "echo a; echo b"]);
        s.echo = Some(&f);
        run(s).unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
    }

    #[test]
    fn stdin_from_a_file_and_stdout_into_a_file_with_its_sha256() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("in"), b"abc").unwrap();
        let mut s = spawn("cat", &[]);
        s.stdin = Some(std::fs::File::open(d.path().join("in")).unwrap());
        s.stdout_to = Some(std::fs::File::create(d.path().join("out")).unwrap());
        let f = run(s).unwrap();
        assert_eq!(f.stdout, "");
        let (size, sha) = f.written.unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read(d.path().join("out")).unwrap(), b"abc");
    }

    #[test]
    fn a_program_that_may_not_be_executed_says_so_once() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("python");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        match resolve_program("./python", d.path()) {
            Err(e @ ProcError::NotExecutable(_)) => {
                let m = e.to_string();
                assert!(m.contains("permission denied"), "{m}");
                assert!(!m.contains("not found"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(resolve_program("./python", d.path()).is_ok());
    }

    #[test]
    fn missing_programs_are_not_found() {
        assert!(matches!(
            resolve_program("surely-no-such-program-x", std::path::Path::new("/")),
            Err(ProcError::NotFound(_))
        ));
        assert!(matches!(
            resolve_program("./nope", std::path::Path::new("/tmp")),
            Err(ProcError::NotFound(_))
        ));
    }
}
