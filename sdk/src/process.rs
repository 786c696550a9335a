//! Run granted programs on the host: an argv vector, never a shell.
//!
//! ```no_run
//! # fn run() -> Result<(), platform_migrate_sdk::process::Failure> {
//! use platform_migrate_sdk::process::Command;
//! // Needs grants.commands = [{ program = "python", args = ["manage.py", "migrate", "**"] }]
//! let out = Command::new("python")
//!     .args(["manage.py", "migrate", "--noinput"])
//!     .echo(true)
//!     .run_ok()?;
//! println!("{}", out.stdout);
//! # Ok(()) }
//! ```

use crate::bindings::platform::migrate::process as host;
pub use host::{Child, Error, Output};

/// A program invocation, built up and then [`run`](Command::run).
#[derive(Debug, Clone)]
pub struct Command {
    inner: host::Command,
}

impl Command {
    /// A command for `program` as named in the plugin's command grant.
    pub fn new(program: impl Into<String>) -> Self {
        Command {
            inner: host::Command {
                program: program.into(),
                args: Vec::new(),
                env: Vec::new(),
                cwd: None,
                timeout_ms: None,
                echo: false,
                stdin_file: None,
                stdout_file: None,
            },
        }
    }

    /// Build a command from an argv vector (`argv[0]` is the program). `None` when empty.
    pub fn from_argv<I, S>(argv: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut it = argv.into_iter();
        let program = it.next()?;
        Some(Command::new(program).args(it))
    }

    /// Add one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.inner.args.push(arg.into());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set an environment variable; its name must be in the plugin's `grants.env`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.env.push((key.into(), value.into()));
        self
    }

    /// Run in this guest directory (inside a granted directory).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.inner.cwd = Some(dir.into());
        self
    }

    /// Ask the host to kill the program after `ms` milliseconds.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.inner.timeout_ms = Some(ms);
        self
    }

    /// Show the program's output to the user as it runs (verbose runs only).
    pub fn echo(mut self, echo: bool) -> Self {
        self.inner.echo = echo;
        self
    }

    /// Feed this file (a guest path inside a granted directory) to the program's stdin.
    pub fn stdin_file(mut self, path: impl Into<String>) -> Self {
        self.inner.stdin_file = Some(path.into());
        self
    }

    /// Have the host write the program's stdout straight into this new file (a guest path
    /// inside a read-write grant), measuring size and sha256 on the way; the bytes never pass
    /// through the plugin. Fails with [`Error::FileExists`] rather than overwrite a file.
    pub fn stdout_file(mut self, path: impl Into<String>) -> Self {
        self.inner.stdout_file = Some(path.into());
        self
    }

    /// The command line for messages: program and arguments joined with spaces.
    pub fn display(&self) -> String {
        let mut s = self.inner.program.clone();
        for a in &self.inner.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// Run to completion. A non-zero exit is not an error here: check [`Output::exit_code`]
    /// or use [`Command::run_ok`].
    pub fn run(&self) -> Result<Output, Error> {
        host::run(&self.inner)
    }

    /// Start the program in the background and return its handle: read its output lines with
    /// [`Child::read_line`]; dropping the handle closes its standard input and stops it.
    /// Timeouts and stdin/stdout files do not apply to background programs.
    pub fn start(&self) -> Result<Child, Error> {
        host::start(&self.inner)
    }

    /// Run and treat a non-zero exit as a failure, returning a [`Failure`].
    pub fn run_ok(&self) -> Result<Output, Failure> {
        match self.run() {
            Ok(out) if out.exit_code == Some(0) => Ok(out),
            Ok(out) => Err(Failure::Exit {
                command: self.display(),
                exit_code: out.exit_code,
                output_tail: tail(&format!("{}{}", out.stdout, out.stderr), 20),
            }),
            Err(e) => Err(Failure::Host(e)),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Host(e)
    }
}

/// Why [`Command::run_ok`] failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The host did not run the program to completion (denied, not found, timed out, ...).
    Host(Error),
    /// The program ran and exited unsuccessfully.
    Exit {
        /// Command line for display.
        command: String,
        /// Its exit code; `None` when killed by a signal.
        exit_code: Option<i32>,
        /// The last lines of its combined output.
        output_tail: String,
    },
}

/// The last `n` non-empty lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// A readable one-line message for a host error.
pub fn message(e: &Error) -> String {
    match e {
        Error::Denied(m) => format!("denied: {m}"),
        Error::NotFound(m) => format!("program not found: {m}"),
        Error::TimedOut(ms) => format!("timed out after {ms} ms"),
        Error::FileExists(m) => format!("file already exists: {m}"),
        Error::Io(m) => m.clone(),
    }
}

/// The host path of `guest`, a path inside one of the plugin's `grants.dirs`, for a program's
/// argument: a plugin sees `/backups/x.db`; the `sqlite3` it starts needs the folder's real
/// place on the host. The host checks the path stays inside its grant (no `..`, no symlink
/// out; the folder holding it must exist) and refuses it otherwise.
///
/// The command grant then allows the argument with `<path:GUEST>`:
///
/// ```no_run
/// # fn run() -> Result<(), platform_migrate_sdk::process::Failure> {
/// use platform_migrate_sdk::process::{host_path, Command};
/// // grants.commands = [{ program = "sqlite3", args = ["<path:/project>", ".backup \"<path:/backups>\""] }]
/// let db = host_path("/project/db.sqlite3")?;
/// let copy = host_path("/backups/dev-1.sqlite3")?;
/// Command::new("sqlite3")
///     .args([db, format!(".backup \"{copy}\"")])
///     .run_ok()?;
/// # Ok(()) }
/// ```
#[cfg(not(feature = "wit-v0-1"))]
pub fn host_path(guest: &str) -> Result<String, Error> {
    host::host_path(guest)
}
