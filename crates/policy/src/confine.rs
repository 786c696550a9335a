//! Kernel confinement of the programs a plugin starts (Linux Landlock, unprivileged).
//!
//! A grant says which program a plugin may start with which arguments; this module bounds what
//! that program can then do, whatever it is told, because the kernel enforces it on the
//! program and on everything it starts in turn:
//! - **files**: read (and execute) the system's directories and the program's own folder;
//!   read the config's folder, the working directory and folders granted to read; write only
//!   the plugin's read-write dirs, `grants.confine.write` and a private temp dir (never
//!   execute from those); nothing else, so not the host's `/proc/PID/environ`, nor the state
//!   directory, nor the compiled-plugin cache;
//! - **network** (Landlock ABI 4+): TCP connect only to `grants.confine.connect` ports, no TCP
//!   bind at all;
//! - **scopes** (ABI 6+): no signals to, and no abstract-socket connections with, processes
//!   outside the confinement (the host among them);
//! - every capability dropped and `no_new_privs`, so a program run as root is an ordinary
//!   user to the kernel's checks and no set-uid program regains what was taken; with the host
//!   non-dumpable ([`harden_host`]), that keeps it out of the host's memory and
//!   `/proc/PID/environ` (on this machine's kernel, Landlock alone did not).
//!
//! The ruleset is built in the host before `fork`; the child only makes async-signal-safe
//! system calls before `exec`. Where the kernel lacks a
//! feature, [`support`] says which, once, and the rest still applies. Free of wasmtime.

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ABI this host asks for (everything in it is used when the kernel has it).
const WANTED: ABI = ABI::V7;

/// System folders every program may read and execute from.
const SYSTEM: &[&str] = &[
    "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc", "/opt", "/nix",
];
/// Read-only kernel views (Landlock's ptrace rule still hides other processes' secrets).
const KERNEL_VIEWS: &[&str] = &["/proc", "/sys", "/dev"];
/// Device files programs may also write.
const WRITABLE_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

/// What one child may reach, besides the system defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Folders to read and execute from (the program's own folder, the venv it belongs to).
    pub exec: Vec<PathBuf>,
    /// Folders to read.
    pub read: Vec<PathBuf>,
    /// Folders to write (and read).
    pub write: Vec<PathBuf>,
    /// TCP ports to connect to.
    pub connect: Vec<u16>,
}

/// A ruleset made in the host, to be entered by the child between `fork` and `exec`.
pub struct Prepared {
    fd: Option<OwnedFd>,
}

impl Prepared {
    /// The ruleset, for a program that enters it in a process of its own (a fleet's warm
    /// start); `None` where the kernel has no Landlock.
    pub fn ruleset(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// In the child, before `exec`: no new privileges, then the ruleset. Only system calls,
    /// so it is async-signal-safe.
    pub fn enter(&self) -> std::io::Result<()> {
        drop_capabilities()?;
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers and touches no memory.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(fd) = &self.fd {
            // SAFETY: landlock_restrict_self takes a ruleset fd and flags; no memory.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_landlock_restrict_self,
                    fd.as_raw_fd() as libc::c_long,
                    0 as libc::c_long,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Give up every capability for good (bounding, ambient, effective, permitted and inheritable
/// sets), so that a program run as root is an ordinary user as far as the kernel's checks go:
/// no `CAP_SYS_PTRACE` to read the host's `/proc` entries (the host is non-dumpable), no
/// `CAP_DAC_OVERRIDE` to read other users' files, no `CAP_KILL`. Without privileges this
/// changes nothing. Only system calls on stack memory: async-signal-safe.
fn drop_capabilities() -> std::io::Result<()> {
    // SAFETY: prctl and capset take integers and pointers to the structs on this stack.
    unsafe {
        // Dropping from the bounding set needs CAP_SETPCAP; without it there is nothing to drop.
        for cap in 0..64 {
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Why a ruleset could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot confine the program: {0}")]
pub struct ConfineError(String);

/// Build the ruleset for `policy` (in the host, before spawning).
pub fn prepare(policy: &Policy) -> Result<Prepared, ConfineError> {
    if support().abi == 0 {
        return Ok(Prepared { fd: None });
    }
    let err = |e: landlock::RulesetError| ConfineError(e.to_string());
    let abi = WANTED;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let exec = AccessFs::from_read(abi);
    let write = AccessFs::from_all(abi) & !AccessFs::Execute;
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?;
    if support().abi >= 4 {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(err)?;
    }
    if support().abi >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(err)?;
    }
    let mut created = ruleset.create().map_err(err)?;
    let fixed = |names: &[&str]| -> Vec<PathBuf> { names.iter().map(PathBuf::from).collect() };
    let rules = [
        (fixed(SYSTEM), exec),
        (policy.exec.clone(), exec),
        (fixed(KERNEL_VIEWS), read),
        (policy.read.clone(), read),
        (fixed(WRITABLE_DEVICES), write),
        (policy.write.clone(), write),
    ];
    for (paths, access) in rules {
        let existing = paths.into_iter().filter(|p| p.exists());
        created = created
            .add_rules(path_beneath_rules(existing, access))
            .map_err(err)?;
    }
    if support().abi >= 4 {
        for port in &policy.connect {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
                .map_err(err)?;
        }
    }
    let fd: Option<OwnedFd> = created.into();
    Ok(Prepared { fd })
}

/// What the running kernel enforces.
#[derive(Debug, Clone)]
pub struct Support {
    /// Landlock ABI version (0: none).
    pub abi: i64,
}

impl Support {
    /// What is missing, in one line, or `None` when everything is enforced.
    pub fn gaps(&self) -> Option<String> {
        let missing: Vec<&str> = [
            (1, "file access confinement (programs a plugin starts can read and write whatever the user can)"),
            (4, "TCP port rules (programs a plugin starts can connect anywhere)"),
            (6, "signal and abstract-socket scoping (programs a plugin starts can signal the host)"),
        ]
        .iter()
        .filter(|(v, _)| self.abi < *v)
        .map(|(_, what)| *what)
        .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "this kernel's Landlock (ABI {}) lacks {}; see SECURITY.md for what that leaves open",
                self.abi,
                missing.join(", ")
            )
        })
    }
}

/// The running kernel's Landlock support, asked once.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a null attr and size 0 only returns
        // the ABI version (or an error).
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                1u32, /* LANDLOCK_CREATE_RULESET_VERSION */
            )
        };
        let abi = if std::env::var_os("PLATFORM_MIGRATE_NO_LANDLOCK").is_some() {
            0
        } else {
            v.max(0)
        };
        Support { abi }
    })
}

/// The folder a program lives in, plus its installation root when it is in a `bin` folder
/// (a virtualenv's `pyvenv.cfg` and `lib/`), for [`Policy::exec`].
pub fn program_folders(program: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    for p in [program.to_path_buf(), real] {
        if let Some(dir) = p.parent() {
            if dir.file_name().is_some_and(|n| n == "bin") {
                if let Some(root) = dir.parent() {
                    out.push(root.to_path_buf());
                }
            }
            out.push(dir.to_path_buf());
        }
    }
    out.dedup();
    out
}

/// Make the host process non-dumpable (its `/proc` entries then belong to root and other
/// processes of the same user cannot read its environment or memory), and a child subreaper
/// (orphaned descendants of the programs it starts are re-parented to it, so it can end them).
pub fn harden_host() {
    // SAFETY: both prctl calls take integers and touch no memory.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Live children the host started on purpose (their pids); every other direct child of the
/// host is an orphan it adopted as subreaper.
fn tracked() -> &'static std::sync::Mutex<Vec<u32>> {
    static TRACKED: OnceLock<std::sync::Mutex<Vec<u32>>> = OnceLock::new();
    TRACKED.get_or_init(|| std::sync::Mutex::new(Vec::new()))
}

/// Remember a child the host started (until [`untrack`]).
pub fn track(pid: u32) {
    if let Ok(mut t) = tracked().lock() {
        t.push(pid);
    }
}

/// Forget a child that ended.
pub fn untrack(pid: u32) {
    if let Ok(mut t) = tracked().lock() {
        t.retain(|p| *p != pid);
    }
}

/// Kill and reap every direct child of the host that it did not start on purpose: the
/// descendants of plugin programs that left their process group and were orphaned (a daemon).
/// Returns how many were ended.
pub fn end_orphans() -> usize {
    let me = std::process::id();
    let keep = tracked().lock().map(|t| t.clone()).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut ended = 0;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if keep.contains(&pid) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces and parentheses).
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(me) {
            // SAFETY: kill and waitpid take integers; the pid is our own child, so it cannot
            // be reused before we reap it.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
                libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
            }
            ended += 1;
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn confined(policy: &Policy, script: &str) -> std::process::Output {
        let prepared = prepare(policy).unwrap();
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // SAFETY: enter() only makes system calls.
        unsafe {
            cmd.pre_exec(move || prepared.enter());
        }
        let child = cmd.spawn().unwrap();
        track(child.id());
        let id = child.id();
        let out = child.wait_with_output().unwrap();
        untrack(id);
        out
    }

    #[test]
    fn a_confined_program_writes_only_where_it_may_and_reads_no_host_secrets() {
        if support().abi < 1 {
            eprintln!("no Landlock here: {:?}", support().gaps());
            return;
        }
        // As the binary does first thing.
        // SAFETY: prctl with integers.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("ok");
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(&ok).unwrap();
        let policy = Policy {
            write: vec![ok.clone()],
            ..Policy::default()
        };
        let out = confined(
            &policy,
            &format!(
                "echo a > {ok}/f && echo wrote; echo b > {other}/f || echo refused; \
                 cat /proc/{host}/environ >/dev/null 2>&1 && echo LEAKED || echo hidden; \
                 kill -0 {host} 2>/dev/null && echo SIGNALLED || echo unsignalled",
                ok = ok.display(),
                other = other.path().display(),
                host = std::process::id()
            ),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("wrote"), "{text}");
        assert!(text.contains("refused"), "{text}");
        assert!(!other.path().join("f").exists());
        assert!(text.contains("hidden"), "{text}");
        if support().abi >= 6 {
            assert!(text.contains("unsignalled"), "{text}");
        }
    }

    #[test]
    fn gaps_name_what_an_old_kernel_lacks() {
        assert!(Support { abi: 0 }.gaps().unwrap().contains("file access"));
        assert!(Support { abi: 5 }.gaps().unwrap().contains("signal"));
        assert!(Support { abi: 7 }.gaps().is_none());
    }

    #[test]
    fn a_virtualenv_program_brings_its_root() {
        let f = program_folders(Path::new("/x/.venv/bin/python"));
        assert!(f.contains(&PathBuf::from("/x/.venv")), "{f:?}");
        assert!(f.contains(&PathBuf::from("/x/.venv/bin")), "{f:?}");
    }
}
