//! Running a child process for a plugin: argv only (never a shell), a clean environment, no
//! stdin, a timeout that kills the whole process group, and capped output. Free of wasmtime.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The host's fixed PATH for child processes.
pub const FIXED_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Cap on each of stdout and stderr kept for the plugin.
pub const MAX_OUTPUT: usize = 8 * 1024 * 1024;

/// A fully checked request: the caller has applied the grants.
pub struct Spawn<'a> {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    /// Called with each output line as it arrives, when set (verbose echo).
    pub echo: Option<&'a (dyn Fn(&str) + Sync)>,
}

#[derive(Debug)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("program not found: {0}")]
    NotFound(String),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    #[error("{0}")]
    Io(String),
}

/// Look a bare program name up on [`FIXED_PATH`]; paths with a `/` are taken as they are.
pub fn resolve_program(program: &str, base: &std::path::Path) -> Result<PathBuf, ProcError> {
    if program.contains('/') {
        let p = base.join(program);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ProcError::NotFound(p.display().to_string()))
        };
    }
    FIXED_PATH
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| ProcError::NotFound(format!("{program} (looked in {FIXED_PATH})")))
}

async fn read_capped<R: AsyncRead + Unpin>(
    r: R,
    echo: Option<&(dyn Fn(&str) + Sync)>,
) -> std::io::Result<(String, bool)> {
    let mut reader = BufReader::new(r);
    let mut out = Vec::new();
    let mut truncated = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            break;
        }
        if let Some(echo) = echo {
            echo(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        }
        let room = MAX_OUTPUT.saturating_sub(out.len());
        if line.len() > room {
            truncated = true;
        }
        out.extend_from_slice(&line[..line.len().min(room)]);
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), truncated))
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: killpg only sends a signal; the group was created for this child.
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }
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
        .current_dir(&spawn.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProcError::NotFound(spawn.program.display().to_string()),
        _ => ProcError::Io(format!("cannot start {}: {e}", spawn.program.display())),
    })?;
    let pid = child.id();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ProcError::Io("no stdout pipe".into()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| ProcError::Io("no stderr pipe".into()))?;
    let echo = spawn.echo;
    let work = async {
        let (o, e, status) = tokio::join!(
            read_capped(stdout, echo),
            read_capped(stderr, echo),
            child.wait()
        );
        let (stdout, t1) = o.map_err(|e| ProcError::Io(e.to_string()))?;
        let (stderr, t2) = e.map_err(|e| ProcError::Io(e.to_string()))?;
        let status = status.map_err(|e| ProcError::Io(e.to_string()))?;
        Ok::<_, ProcError>(Finished {
            exit_code: status.code(),
            stdout,
            stderr,
            truncated: t1 || t2,
        })
    };
    match tokio::time::timeout(spawn.timeout, work).await {
        Ok(result) => result,
        Err(_) => {
            kill_group(pid);
            Err(ProcError::TimedOut(spawn.timeout))
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
            cwd: std::env::temp_dir(),
            timeout: Duration::from_secs(20),
            echo: None,
        }
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
