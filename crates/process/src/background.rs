//! Programs a plugin keeps running in the background (`process.start`): a database session
//! holding a lock, for example. Same spawning rules as `proc` (argv only, clean environment,
//! own process group); standard input is a pipe the host keeps open for the program's whole
//! life, so the program sees end-of-file as soon as the handle is dropped or the host dies.
//! Free of wasmtime.

use crate::proc::{Cwd, Deadline, LineBuf, ProcError, FIXED_PATH};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Standard error kept, from the end.
const STDERR_CAP: usize = 64 * 1024;
/// How long a program gets to exit by itself after its standard input closes.
const GRACE: Duration = Duration::from_secs(3);

/// The process behind a background program: a child of the host, or a fork of a fleet's
/// warm-start Python (`warm`).
enum Proc {
    Cold(Child),
    Warm(crate::warm::client::WarmChild),
}

impl Proc {
    fn id(&self) -> u32 {
        match self {
            Proc::Cold(c) => c.id(),
            Proc::Warm(w) => w.id(),
        }
    }

    /// Whether it has ended, waiting at most `wait`.
    fn ended_within(&mut self, wait: Duration) -> bool {
        match self {
            Proc::Cold(c) => crate::proc::exited_within(c, wait),
            Proc::Warm(w) => w.ended_within(wait),
        }
    }
}

/// A running background program.
pub struct Background {
    child: Proc,
    stdin: Option<std::fs::File>,
    lines: Receiver<Line>,
    budget: Arc<Budget>,
    /// The deadline of the plugin's current call, when it has one: `drop` waits [`GRACE`]
    /// for the program to exit by itself, never past it.
    pub deadline: Option<Deadline>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// The command line for logs.
    pub shown: String,
}

/// Why `read_line` returned no line.
#[derive(Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Bytes a queued line is counted as besides its text, so that a flood of empty lines is
/// bounded too.
const LINE_OVERHEAD: usize = 64;

/// One stdout line as queued: its text (up to the cap) and whether the rest was dropped.
type Line = (String, bool);

/// What the stdout reader may queue for the plugin: at most `max` bytes (and one line past
/// it); the reader waits for the plugin to read when it is full.
struct Budget {
    state: Mutex<(usize, bool)>,
    freed: std::sync::Condvar,
    max: usize,
}

impl Budget {
    /// Wait for room for `n` bytes; `false` once the reading side is gone.
    fn acquire(&self, n: usize) -> bool {
        let Ok(mut g) = self.state.lock() else {
            return false;
        };
        while g.0 > 0 && g.0 + n > self.max && !g.1 {
            g = match self.freed.wait(g) {
                Ok(g) => g,
                Err(_) => return false,
            };
        }
        g.0 += n;
        !g.1
    }

    fn release(&self, n: usize) {
        if let Ok(mut g) = self.state.lock() {
            g.0 = g.0.saturating_sub(n);
        }
        self.freed.notify_all();
    }

    fn close(&self) {
        if let Ok(mut g) = self.state.lock() {
            g.1 = true;
        }
        self.freed.notify_all();
    }
}

/// Called with each line the program writes to standard error, as it comes (the `echo` of
/// the command that started it).
pub type Echo = Box<dyn Fn(&str) + Send + Sync + 'static>;

/// Start `program` in its own process group with stdin and stdout piped, confined. Each
/// stdout line is kept up to `max_line` bytes, and at most about that much is queued unread.
#[allow(clippy::too_many_arguments)]
pub fn start(
    program: PathBuf,
    args: &[String],
    env: &[(String, String)],
    cwd: Cwd,
    confine: crate::confine::Prepared,
    max_line: usize,
    shown: String,
    echo: Option<Echo>,
) -> Result<Background, ProcError> {
    if crate::warm::client::eligible(&program, args, env) {
        match crate::warm::client::start(args, env, &cwd, &confine) {
            Ok((child, io)) => {
                tracing::debug!("started warm (a fork of the fleet's Python): {shown}");
                return Ok(attach(
                    Proc::Warm(child),
                    Some(io.stdin),
                    Some(io.stdout),
                    Some(io.stderr),
                    max_line,
                    shown,
                    echo,
                ));
            }
            Err(why) => tracing::debug!("cannot start warm ({why}); starting fresh: {shown}"),
        }
    }
    let mut cmd = std::process::Command::new(&program);
    // SAFETY: the closure only makes system calls, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(crate::proc::child_setup(cwd.dir, confine));
    }
    let mut child = cmd
        .args(args)
        .env_clear()
        .env("PATH", FIXED_PATH)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&cwd.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProcError::NotFound(program.display().to_string()),
            std::io::ErrorKind::PermissionDenied => ProcError::NotExecutable(format!(
                "cannot execute {}: permission denied; make it executable for the user running platform-migrate",
                program.display()
            )),
            _ => ProcError::Io(format!("cannot start {}: {e}", program.display())),
        })?;
    crate::confine::track(child.id());
    let file = |fd: Option<OwnedFd>| fd.map(std::fs::File::from);
    let stdin = file(child.stdin.take().map(OwnedFd::from));
    let stdout = file(child.stdout.take().map(OwnedFd::from));
    let stderr = file(child.stderr.take().map(OwnedFd::from));
    Ok(attach(
        Proc::Cold(child),
        stdin,
        stdout,
        stderr,
        max_line,
        shown,
        echo,
    ))
}

/// A background program on its streams: threads read its stdout lines (bounded) and its
/// stderr (kept from the end, echoed as it comes).
fn attach(
    child: Proc,
    stdin: Option<std::fs::File>,
    stdout: Option<std::fs::File>,
    stderr_pipe: Option<std::fs::File>,
    max_line: usize,
    shown: String,
    echo: Option<Echo>,
) -> Background {
    // Bounded in bytes: a program that prints faster than the plugin reads waits for it.
    let budget = Arc::new(Budget {
        state: Mutex::new((0, false)),
        freed: std::sync::Condvar::new(),
        max: max_line,
    });
    let (tx, lines) = std::sync::mpsc::channel::<Line>();
    if let Some(out) = stdout {
        let budget = budget.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            while let Ok(Some(line)) = bounded_line(&mut r, max_line) {
                if !budget.acquire(line.0.len() + LINE_OVERHEAD) || tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut stderr_reader = None;
    if let Some(mut err) = stderr_pipe {
        let keep = stderr.clone();
        stderr_reader = Some(std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Echoed lines are cut where `run`'s are.
            let mut partial = LineBuf::with_cap(crate::proc::MAX_LINE);
            let shown = |partial: &mut LineBuf| {
                let (mut text, cut) = partial.take();
                if cut {
                    text.push_str(" [line cut]");
                }
                text
            };
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut k) = keep.lock() {
                    k.extend_from_slice(&buf[..n]);
                    if k.len() > STDERR_CAP {
                        let cut = k.len() - STDERR_CAP;
                        k.drain(..cut);
                    }
                }
                if let Some(echo) = &echo {
                    let mut rest = &buf[..n];
                    while !rest.is_empty() {
                        let (used, ended) = partial.feed(rest);
                        rest = &rest[used..];
                        if ended {
                            echo(&shown(&mut partial));
                        }
                    }
                }
            }
            if let (Some(echo), false) = (&echo, partial.is_empty()) {
                echo(&shown(&mut partial));
            }
        }));
    }
    Background {
        child,
        stdin,
        lines,
        budget,
        deadline: None,
        stderr,
        stderr_reader,
        shown,
    }
}

/// One line of at most `cap` bytes (the rest of a longer line is read and dropped, and the
/// line marked cut); `None` at the end of the stream.
fn bounded_line(r: &mut impl BufRead, cap: usize) -> std::io::Result<Option<Line>> {
    let mut line = LineBuf::with_cap(cap);
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let (n, ended) = line.feed(buf);
        r.consume(n);
        if ended {
            break;
        }
    }
    Ok(any.then(|| line.take()))
}

impl Background {
    /// The next stdout line (and whether it was cut at the cap), waiting at most `timeout`;
    /// `None` once stdout is closed. Gives up early (as a timeout) when the run is interrupted.
    pub fn read_line(&mut self, timeout: Duration) -> Result<Option<Line>, TimedOut> {
        let until = Instant::now() + timeout;
        loop {
            let slice = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            match self.lines.recv_timeout(slice) {
                Ok(l) => {
                    self.budget.release(l.0.len() + LINE_OVERHEAD);
                    return Ok(Some(l));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Output is over: give standard error a moment to be read to its end,
                    // so that `stderr()` right after this has the program's last words.
                    let until = Instant::now() + Duration::from_secs(1);
                    while self
                        .stderr_reader
                        .as_ref()
                        .is_some_and(|h| !h.is_finished())
                        && Instant::now() < until
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    return Ok(None);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= until || crate::interrupt::aborting() {
                        return Err(TimedOut);
                    }
                }
            }
        }
    }

    /// Write a line to the program's standard input.
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        use std::io::Write;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("standard input is closed"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Standard error so far (the end of it).
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .unwrap_or_default()
    }

    #[cfg(test)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Background {
    /// Close stdin, give the program [`GRACE`] to exit, then kill its process group.
    fn drop(&mut self) {
        drop(self.stdin.take());
        self.budget.close();
        let grace = match &self.deadline {
            _ if crate::interrupt::aborting() => Duration::ZERO,
            Some(d) => GRACE.min(d.left()),
            None => GRACE,
        };
        let ended = self.child.ended_within(grace);
        // A warm start's fork is reaped by the warm-start Python, which ends its group as it
        // does: once it has ended, its number may be another process's.
        if !ended || matches!(self.child, Proc::Cold(_)) {
            // SAFETY: killpg only sends a signal to the group created for this child.
            unsafe {
                libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
        match &mut self.child {
            Proc::Cold(c) => {
                let _ = c.wait();
                crate::confine::end_orphans();
                crate::confine::untrack(c.id());
            }
            Proc::Warm(w) => {
                // The zygote reaps it and says so.
                w.ended_within(Duration::from_secs(5));
            }
        }
        tracing::debug!("background program stopped: {}", self.shown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Background {
        sh_echo(script, None)
    }

    fn sh_echo(script: &str, echo: Option<Echo>) -> Background {
        start(
            PathBuf::from("/bin/sh"),
            &["-c".into(), script.into()],
            &[],
            Cwd::at(std::env::temp_dir()),
            crate::confine::prepare(&crate::confine::Policy::default()).unwrap(),
            1 << 20,
            "sh".into(),
            echo,
        )
        .unwrap()
    }

    #[test]
    fn echo_sees_standard_error_line_by_line_and_never_standard_output() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let into = seen.clone();
        let echo: Echo = Box::new(move |l: &str| into.lock().unwrap().push(l.to_string()));
        // Lines split across writes, and a last line without its newline.
        let mut b = sh_echo(
            "printf 'Apply' >&2; sleep 0.1; printf 'ing a... OK\\nsecond\\n' >&2; echo answer; head -c 70000 /dev/zero | tr '\\0' x >&2; echo >&2; printf tail >&2",
            Some(echo),
        );
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("answer".into(), false)))
        );
        assert_eq!(b.read_line(Duration::from_secs(5)), Ok(None));
        drop(b); // joins the standard error reader
        let seen = seen.lock().unwrap();
        assert_eq!(seen[..2], ["Applying a... OK", "second"]);
        // A long line is cut where `run`'s echo cuts it, and says so.
        assert_eq!(
            seen[2],
            format!("{} [line cut]", "x".repeat(crate::proc::MAX_LINE))
        );
        assert_eq!(seen[3..], ["tail"]);
    }

    #[test]
    fn lines_arrive_and_end_of_output_is_none() {
        let mut b = sh("echo one; echo two >&2; echo three");
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("one".into(), false)))
        );
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("three".into(), false)))
        );
        assert_eq!(b.read_line(Duration::from_secs(5)), Ok(None));
        assert_eq!(b.stderr(), "two\n");
    }

    #[test]
    fn long_lines_arrive_whole_under_the_cap_and_are_marked_cut_past_it() {
        // A large project's helper answers in one line of hundreds of KiB.
        let mut b = sh("head -c 300000 /dev/zero | tr '\\0' x; echo; head -c 2000000 /dev/zero | tr '\\0' y; echo; echo end");
        let (line, cut) = b.read_line(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!((line.len(), cut), (300_000, false));
        let (line, cut) = b.read_line(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!((line.len(), cut), (1 << 20, true));
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("end".into(), false)))
        );
    }

    #[test]
    fn lines_written_to_stdin_are_answered() {
        let mut b = sh("while read l; do echo \"got $l\"; done");
        b.write_line("one").unwrap();
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("got one".into(), false)))
        );
        b.write_line("two").unwrap();
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("got two".into(), false)))
        );
    }

    #[test]
    fn a_silent_program_times_out_and_dropping_it_ends_it_through_stdin() {
        let mut b = sh("echo ready; cat >/dev/null; echo never-seen");
        assert_eq!(
            b.read_line(Duration::from_secs(5)),
            Ok(Some(("ready".into(), false)))
        );
        assert_eq!(b.read_line(Duration::from_millis(100)), Err(TimedOut));
        let t = Instant::now();
        drop(b);
        assert!(
            t.elapsed() < GRACE,
            "it ended on end-of-file, not by the kill"
        );
    }

    #[test]
    fn a_program_that_ignores_stdin_is_killed_with_its_group() {
        let mut b = sh("sleep 60 & echo $!; sleep 60");
        let (bg, _) = b.read_line(Duration::from_secs(5)).unwrap().unwrap();
        let shell = b.pid();
        let t = Instant::now();
        drop(b);
        assert!(t.elapsed() < GRACE + Duration::from_secs(2));
        // Gone, or a zombie waiting for init to reap it: either way no longer running.
        for pid in [shell.to_string(), bg] {
            std::thread::sleep(Duration::from_millis(100));
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let running = state
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|s| s != "Z" && s != "X");
            assert!(!running, "pid {pid} still runs: {state}");
        }
    }
}
