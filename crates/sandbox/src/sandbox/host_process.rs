//! The `process` import: grants are checked before anything is spawned; the spawn itself is
//! `crate::proc` (argv only, clean environment, timeout, capped output). Files named for stdin
//! and stdout are opened by the host through cap-std inside their grant.

use super::bindings::latest::platform::migrate::process::{
    Command, Error, Host, HostChild, Output, WrittenFile,
};
use super::state::{PluginState, Written};
use crate::background::{self, Background};
use crate::policy::{self, Access, CommandRequest};
use crate::proc::{self, ProcError, Spawn};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime::component::Resource;

impl PluginState {
    /// Open a guest file for the child's stdin, read-only, inside its grant.
    fn open_stdin(&mut self, guest: &str) -> Result<std::fs::File, Error> {
        let (grant, rest) =
            match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
                Ok(x) => x,
                Err(d) => return Err(Error::Denied(self.deny(d.0))),
            };
        let root = cap_std::fs::Dir::open_ambient_dir(&grant.host, cap_std::ambient_authority())
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", grant.host.display())))?;
        let file = root
            .open(&rest)
            .map_err(|e| Error::Io(format!("cannot open {guest} for reading: {e}")))?;
        Ok(file.into_std())
    }

    /// The host path of `guest`, which must lie in a grant the plugin may read.
    fn check_readable(&mut self, guest: &str) -> Result<PathBuf, Error> {
        match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
            Ok((grant, rest)) => Ok(grant.host.join(rest)),
            Err(d) => Err(Error::Denied(self.deny(d.0))),
        }
    }

    /// The host folder of the grant `guest` lies in, which the plugin must be allowed to
    /// write, and `guest`'s path inside it.
    pub(super) fn writable(&mut self, guest: &str) -> Result<(PathBuf, PathBuf), Error> {
        let (grant, rest) =
            match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
                Ok(x) => x,
                Err(d) => return Err(Error::Denied(self.deny(d.0))),
            };
        if let Err(denied) = policy::dirs::check_writable(&self.grants.plugin, grant, guest) {
            return Err(Error::Denied(self.deny(denied.0)));
        }
        Ok((grant.host.clone(), rest))
    }

    /// Create a new guest file for the child's stdout inside a read-write grant; never
    /// overwrites. Returns the file and its host path.
    fn create_stdout(&mut self, guest: &str) -> Result<(std::fs::File, PathBuf), Error> {
        let (granted, rest) = self.writable(guest)?;
        let host_path = granted.join(&rest);
        let root = cap_std::fs::Dir::open_ambient_dir(&granted, cap_std::ambient_authority())
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", granted.display())))?;
        let mut opts = cap_std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        match root.open_with(&rest, &opts) {
            Ok(f) => Ok((f.into_std(), host_path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::FileExists(guest.to_string()))
            }
            Err(e) => Err(Error::Io(format!("cannot create {guest}: {e}"))),
        }
    }
}

/// A checked command, ready to spawn.
pub(super) struct Prepared {
    pub program: PathBuf,
    pub env: Vec<(String, String)>,
    pub cwd: Cwd,
    pub confine: crate::confine::Prepared,
}

impl PluginState {
    /// The value a pinned environment grant allows, from the config or a granted secret.
    fn pinned_value(&self, pin: &policy::Pin, name: &str) -> Option<String> {
        if let Some(v) = &pin.value {
            return Some(v.clone());
        }
        let secret = pin.secret.as_ref().or(pin.url_secret.as_ref())?;
        let source = self.config.secrets.get(secret)?;
        let value = crate::secrets::resolve(secret, source, &self.redactor).ok()?;
        if pin.url_secret.is_none() {
            return Some(value);
        }
        libpq_url::from_url(&value)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Time left of the current call into the plugin: a program it waits for cannot make
    /// the call outlast its deadline.
    fn call_time_left(&self) -> Duration {
        self.limiter.deadline.left()
    }

    /// Host folders a plugin can write itself (its read-write grants), canonical.
    fn plugin_writable(&self) -> Vec<PathBuf> {
        self.grants
            .dirs
            .iter()
            .filter(|d| d.access == Access::ReadWrite)
            .filter_map(|d| std::fs::canonicalize(&d.host).ok())
            .collect()
    }

    /// Check a command against the grants; the program's host path, the child's environment
    /// (granted inherited variables, then the host's, then the plugin's), its working
    /// directory (opened inside its grant) and its kernel confinement.
    fn prepare(&mut self, cmd: &Command) -> Result<Prepared, Error> {
        let req = CommandRequest {
            program: &cmd.program,
            args: &cmd.args,
            env: &cmd.env,
        };
        let checked = {
            let this = &*self;
            this.grants
                .check_command(&req, &|pin, name| this.pinned_value(pin, name))
        };
        if let Err(denied) = checked {
            return Err(Error::Denied(self.deny(denied.0)));
        }
        // A host path of a granted folder (what `<path:..>` grants allow) must not lead out of
        // it through a symlink: the program would follow it where the plugin may not go.
        if let Some(why) = leaves_its_grant(&cmd.args, &self.grants.dirs) {
            let msg = format!(
                "plugin '{}' may not run `{}`: {why}",
                self.grants.plugin, cmd.program
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        if self.process.started_this_call >= MAX_STARTS_PER_CALL {
            let msg = format!(
                "plugin '{}' may not start more than {MAX_STARTS_PER_CALL} programs in one call; start fewer (one program taking many arguments) or split the work over calls",
                self.grants.plugin
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        if self.process.live_children >= MAX_CHILDREN {
            let msg = format!(
                "plugin '{}' may not start more than {MAX_CHILDREN} programs at once",
                self.grants.plugin
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        let writable = self.plugin_writable();
        let inside_writable = |p: &std::path::Path| {
            std::fs::canonicalize(p).is_ok_and(|c| writable.iter().any(|w| c.starts_with(w)))
        };
        let cwd = match &cmd.cwd {
            None => Cwd {
                path: self.process.base_dir.clone(),
                dir: None,
            },
            Some(guest) => self.open_cwd(guest)?,
        };
        if inside_writable(&cwd.path) {
            let msg = format!(
                "plugin '{}' may not run a program in {}: the plugin can write there, so it could plant the code the program runs; run it in the config's folder or a read-only grant",
                self.grants.plugin,
                cmd.cwd.as_deref().unwrap_or("the config's folder")
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        // The plugin's side says "program not found: " itself; the host's says the rest.
        let program =
            proc::resolve_program(&cmd.program, &self.process.base_dir).map_err(to_wit)?;
        if inside_writable(&program) {
            let msg = format!(
                "plugin '{}' may not run {}: it lies in a directory the plugin can write",
                self.grants.plugin, cmd.program
            );
            return Err(Error::Denied(self.deny(msg)));
        }
        let tmp = self.process.private_tmp()?;
        let mut env: Vec<(String, String)> = self
            .grants
            .inherit_env
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        env.push(("HOME".into(), tmp.display().to_string()));
        env.push(("TMPDIR".into(), tmp.display().to_string()));
        env.extend(self.process.host_env.iter().cloned());
        // A variable the config pins to one value reaches every program the plugin starts,
        // set by the plugin or not: a pin is never accepted and then without effect.
        for g in &self.grants.env {
            let Some(pin) = &g.pin else { continue };
            if cmd.env.iter().any(|(k, _)| k == &g.name) {
                continue;
            }
            if let Some(value) = self.pinned_value(pin, &g.name) {
                env.push((g.name.clone(), value));
            }
        }
        env.extend(cmd.env.iter().cloned());
        let policy = self.grants.confinement(
            &program,
            vec![self.process.base_dir.clone(), cwd.path.clone()],
            vec![tmp],
        );
        let confine = crate::confine::prepare(&policy).map_err(|e| Error::Io(e.to_string()))?;
        // Counted once every check passed: what is about to start.
        self.process.started_this_call += 1;
        Ok(Prepared {
            program,
            env,
            cwd,
            confine,
        })
    }

    /// What shows a program's output lines when its command asks for `echo` and the run is
    /// verbose: each line redacted, under the current step.
    fn echo_of(&self, cmd: &Command) -> Option<background::Echo> {
        (cmd.echo && self.ui.verbose()).then(|| {
            let (ui, redactor) = (self.ui.clone(), self.redactor.clone());
            Box::new(move |line: &str| ui.echo(&redactor.redact(line))) as background::Echo
        })
    }

    /// The host folder of the dir grant holding `guest`, and the rest of the path inside it;
    /// a recorded denial when no grant holds it.
    fn locate(&mut self, guest: &str) -> Result<(PathBuf, PathBuf), Error> {
        match policy::dirs::locate(&self.grants.plugin, &self.grants.dirs, guest) {
            Ok((grant, rest)) => Ok((grant.host.clone(), rest)),
            Err(d) => Err(Error::Denied(self.deny(d.0))),
        }
    }

    /// Open a guest working directory inside its grant (cap-std: no `..` or symlink leads out
    /// of it); the child enters it through the open handle.
    fn open_cwd(&mut self, guest: &str) -> Result<Cwd, Error> {
        let (root, rest) = self.locate(guest)?;
        match open_inside(&root, &rest)? {
            Ok(dir) => Ok(Cwd {
                path: root.join(&rest),
                dir: Some(dir.into_std_file()),
            }),
            Err(e) => {
                let msg = format!(
                    "plugin '{}' asked to run a program in {guest}, which does not stay inside its grant ({e})",
                    self.grants.plugin
                );
                Err(Error::Denied(self.deny(msg)))
            }
        }
    }
}

/// Open `rel` inside the host folder `root` with cap-std (no `..`, no symlink leads out):
/// `Err` when `root` itself cannot be opened, `Ok(Err)` when `rel` does not open inside it.
fn open_inside(
    root: &std::path::Path,
    rel: &std::path::Path,
) -> Result<std::io::Result<cap_std::fs::Dir>, Error> {
    let dir = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", root.display())))?;
    Ok(if rel.as_os_str().is_empty() {
        Ok(dir)
    } else {
        dir.open_dir(rel)
    })
}

pub(super) use crate::proc::Cwd;

/// The first argument holding a path under a granted folder's host path that resolves (through
/// symlinks) outside that folder, described; paths that do not exist yet are judged by the
/// deepest part that does.
fn leaves_its_grant(args: &[String], dirs: &[policy::DirGrant]) -> Option<String> {
    for arg in args {
        for d in dirs {
            let Some(root) = d.host.to_str().map(|r| r.trim_end_matches('/')) else {
                continue;
            };
            let Some(at) = arg.find(&format!("{root}/")) else {
                continue;
            };
            // The path runs to the end of the argument or to a closing quote.
            let path = arg[at..].trim_end_matches(['"', '\'']);
            let Ok(real_root) = std::fs::canonicalize(root) else {
                continue;
            };
            let mut probe = std::path::Path::new(path);
            let real = loop {
                match std::fs::canonicalize(probe) {
                    Ok(r) => break Some(r),
                    // A link that leads nowhere yet: the program would create its target,
                    // wherever the link points.
                    Err(_)
                        if std::fs::symlink_metadata(probe)
                            .is_ok_and(|m| m.file_type().is_symlink()) =>
                    {
                        return Some(format!(
                            "its argument `{}` names a symlink in the granted folder {} that leads to nothing yet (a program would create the file wherever it points)",
                            crate::text::for_terminal(path),
                            d.guest
                        ));
                    }
                    Err(_) => match probe.parent() {
                        Some(p) => probe = p,
                        None => break None,
                    },
                }
            };
            if real.is_some_and(|r| !r.starts_with(&real_root)) {
                return Some(format!(
                    "its argument `{}` leads out of the granted folder {} through a symlink",
                    crate::text::for_terminal(path),
                    d.guest
                ));
            }
        }
    }
    None
}

/// Programs one plugin may keep running at once (background ones count until dropped).
const MAX_CHILDREN: usize = 16;

/// Programs one call into a plugin may start in all: a plugin cannot turn a call into a
/// stream of thousands of spawns. A run's calls start one or two (django-runner's
/// `load-fixtures` one per fixture), so this leaves room for a long fixture list.
pub const MAX_STARTS_PER_CALL: usize = 256;

impl Host for PluginState {
    fn host_path(&mut self, guest: String) -> Result<String, Error> {
        let denied = |state: &mut Self, why: String| {
            let msg = format!(
                "plugin '{}' asked for the host path of {guest}: {why}",
                state.grants.plugin
            );
            Err(Error::Denied(state.deny(msg)))
        };
        let (root_path, rest) = self.locate(&guest)?;
        // The folder holding the path must open inside the grant (cap-std: no `..`, no symlink
        // out), and the path itself, when it exists, must not be a symlink.
        if let Some(name) = rest.file_name() {
            let parent = rest.parent().unwrap_or(std::path::Path::new(""));
            match open_inside(&root_path, parent)? {
                Ok(dir) => {
                    if dir
                        .symlink_metadata(name)
                        .is_ok_and(|m| m.file_type().is_symlink())
                    {
                        return denied(self, "it is a symlink".into());
                    }
                }
                Err(e) => {
                    return denied(
                        self,
                        format!("its folder does not open inside the grant ({e})"),
                    )
                }
            }
        }
        let host = if rest.as_os_str().is_empty() {
            root_path
        } else {
            root_path.join(&rest)
        };
        match host.to_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(Error::Io(format!(
                "the host path of {guest} is not valid UTF-8"
            ))),
        }
    }

    fn start(&mut self, cmd: Command) -> Result<Resource<Background>, Error> {
        if cmd.timeout_ms.is_some() || cmd.stdin_file.is_some() || cmd.stdout_file.is_some() {
            return Err(Error::Io(
                "start takes no timeout-ms, stdin-file or stdout-file: a background program lives as long as its handle".into(),
            ));
        }
        let prepared = self.prepare(&cmd)?;
        let shown = self
            .redactor
            .redact(&policy::commands::display_argv(&cmd.program, &cmd.args));
        if self.ui.verbose() {
            self.ui.detail(&format!("$ {shown} (in the background)"));
        }
        tracing::debug!(plugin = %self.grants.plugin, "starting in the background: {shown}");
        // `echo` shows its standard error as it comes (standard output is the handle's).
        let echo = self.echo_of(&cmd);
        let mut child = background::start(
            prepared.program,
            &cmd.args,
            &prepared.env,
            prepared.cwd,
            prepared.confine,
            self.limiter.limits.process_output_bytes,
            shown,
            echo,
        )
        .map_err(to_wit)?;
        child.deadline = Some(self.limiter.deadline.clone());
        self.process.live_children += 1;
        self.table
            .push(child)
            .map_err(|e| Error::Io(format!("too many background programs: {e}")))
    }

    fn run(&mut self, cmd: Command) -> Result<Output, Error> {
        let prepared = self.prepare(&cmd)?;
        let stdin = match &cmd.stdin_file {
            Some(guest) => match self.store_key(guest) {
                Some(key) => {
                    self.check_readable(guest)?;
                    Some(self.stdin_from_store(key)?)
                }
                None => Some(self.open_stdin(guest)?),
            },
            None => None,
        };
        let mut pending = None;
        let (stdout_to, stdout_path) = match &cmd.stdout_file {
            Some(guest) => match self.store_key(guest) {
                Some(key) => {
                    let (granted, rest) = self.writable(guest)?;
                    let path = granted.join(rest);
                    let (f, up) = self.stdout_to_store(guest, key)?;
                    pending = Some(up);
                    (Some(f), Some(path))
                }
                None => {
                    let (f, p) = self.create_stdout(guest)?;
                    (Some(f), Some(p))
                }
            },
            None => (None, None),
        };
        let cap = Duration::from_secs(self.grants.timeout_secs).min(self.call_time_left());
        let timeout = cmd
            .timeout_ms
            .map(Duration::from_millis)
            .map_or(cap, |t| t.min(cap));
        let shown = self
            .redactor
            .redact(&policy::commands::display_argv(&cmd.program, &cmd.args));
        let echo = self.echo_of(&cmd);
        if echo.is_some() {
            self.ui.live(&format!("$ {shown}"));
        } else if self.ui.verbose() {
            self.ui.detail(&format!("$ {shown}"));
        }
        tracing::debug!(plugin = %self.grants.plugin, "running {shown}");
        let result = proc::run(Spawn {
            program: prepared.program,
            args: cmd.args.clone(),
            env: prepared.env,
            cwd: prepared.cwd,
            confine: prepared.confine,
            timeout,
            echo: echo.as_deref().map(|e| e as &(dyn Fn(&str) + Sync)),
            stdin,
            stdout_to,
            max_output: self.limiter.limits.process_output_bytes,
        });
        let mut stored = None;
        if let Some(up) = pending {
            let key = up.key.clone();
            let ok = matches!(&result, Ok(f) if f.exit_code == Some(0));
            match up.settle(ok) {
                Ok(sent) if ok => stored = Some((key, sent)),
                Ok(_) => {}
                Err(m) => return Err(Error::Io(self.redactor.redact(&m))),
            }
        }
        if let (Some(path), Ok(f)) = (&stdout_path, &result) {
            if let Some((size, sha256)) = &f.written {
                let stored = match stored {
                    // What the store was sent is what the host measured passing.
                    Some((key, (s, h))) if s == *size && h == *sha256 => Some(key),
                    Some((key, _)) => {
                        return Err(Error::Io(format!(
                            "the bytes sent to the backup store under {key} differ from those the program wrote"
                        )))
                    }
                    None => None,
                };
                self.process.written.push(Written {
                    path: path.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                    stored,
                });
            }
        }
        match result {
            Ok(f) => Ok(Output {
                exit_code: f.exit_code,
                stdout: f.stdout,
                stderr: f.stderr,
                truncated: f.truncated,
                written: f.written.map(|(size, sha256)| WrittenFile { size, sha256 }),
            }),
            Err(e) => Err(to_wit(e)),
        }
    }
}

/// A host process error as the plugin gets it. `not-found` carries only what was not found:
/// the plugin's side says "program not found" itself.
fn to_wit(e: ProcError) -> Error {
    match e {
        ProcError::NotFound(m) => Error::NotFound(m),
        ProcError::TimedOut(d) => Error::TimedOut(d.as_millis() as u64),
        ProcError::Interrupted => {
            Error::Io("stopped: the run was interrupted (SIGINT/SIGTERM)".into())
        }
        ProcError::NotExecutable(m) | ProcError::Io(m) => Error::Io(m),
    }
}

impl HostChild for PluginState {
    fn read_line(
        &mut self,
        child: Resource<Background>,
        timeout_ms: u64,
    ) -> Result<Option<String>, Error> {
        let cap = Duration::from_secs(self.grants.timeout_secs).min(self.call_time_left());
        let timeout = Duration::from_millis(timeout_ms).min(cap);
        let b = self
            .table
            .get_mut(&child)
            .map_err(|e| Error::Io(format!("unknown background program: {e}")))?;
        let line = b
            .read_line(timeout)
            .map_err(|_| Error::TimedOut(timeout.as_millis() as u64))?;
        match line {
            None => Ok(None),
            Some((text, false)) => Ok(Some(self.redactor.redact(&text))),
            Some((_, true)) => Err(Error::Io(format!(
                "a line of {}'s output passed the plugin's output limit of {} KiB and was cut; raise plugins.{}.limits.process-output-kb if the program is trusted",
                b.shown,
                self.limiter.limits.process_output_bytes / 1024,
                self.grants.plugin
            ))),
        }
    }

    fn write_line(&mut self, child: Resource<Background>, line: String) -> Result<(), Error> {
        let b = self
            .table
            .get_mut(&child)
            .map_err(|e| Error::Io(format!("unknown background program: {e}")))?;
        b.write_line(&line)
            .map_err(|e| Error::Io(format!("cannot write to {}: {e}", b.shown)))
    }

    fn stderr(&mut self, child: Resource<Background>) -> String {
        match self.table.get(&child) {
            Ok(b) => self.redactor.redact(&b.stderr()),
            Err(_) => String::new(),
        }
    }

    fn drop(&mut self, child: Resource<Background>) -> wasmtime::Result<()> {
        // Dropping the Background closes stdin, then kills what is left of its group. The
        // wait for it to exit by itself is bounded by the call's deadline, so dropping many
        // children one after another cannot outlast it.
        drop(self.table.delete(child)?);
        self.process.live_children = self.process.live_children.saturating_sub(1);
        Ok(())
    }
}
