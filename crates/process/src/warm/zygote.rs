//! The fleet's side of warm start: start the zygote, and give each target's host a socket
//! pair to it.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The Python the zygote runs.
const SCRIPT: &str = include_str!("zygote.py");

/// A running zygote. Dropping it closes its control socket: it ends what it still runs, and
/// exits.
pub struct Zygote {
    child: Child,
    control: UnixStream,
    pub python: PathBuf,
    _home: tempfile::TempDir,
}

impl Zygote {
    /// Start `python` on the zygote script, confined by `policy`, writing its own errors to
    /// `log`.
    pub fn start(
        python: &Path,
        policy: &crate::confine::Policy,
        log: std::fs::File,
    ) -> Result<Zygote, String> {
        let home = tempfile::Builder::new()
            .prefix("platform-migrate-warm-")
            .tempdir()
            .map_err(|e| format!("cannot make its folder: {e}"))?;
        let confine = crate::confine::prepare(policy).map_err(|e| e.to_string())?;
        let (control, theirs) =
            UnixStream::pair().map_err(|e| format!("cannot make its socket: {e}"))?;
        let theirs: OwnedFd = theirs.into();
        let fd = theirs.as_raw_fd();
        let mut cmd = Command::new(python);
        super::hand_down(&mut cmd, fd, 3);
        // SAFETY: `child_setup` only makes system calls, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(crate::proc::child_setup(None, confine));
        }
        let err = log
            .try_clone()
            .map_err(|e| format!("cannot open its log: {e}"))?;
        let child = cmd
            .args(["-P", "-s", "-c", SCRIPT])
            .env_clear()
            .env("PATH", crate::proc::FIXED_PATH)
            .env("HOME", home.path())
            .env("TMPDIR", home.path())
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        drop(theirs);
        crate::confine::track(child.id());
        Ok(Zygote {
            child,
            control,
            python: python.to_path_buf(),
            _home: home,
        })
    }

    /// A new socket pair: one end goes to the zygote, the other is for a target's host.
    pub fn channel(&self) -> Result<OwnedFd, String> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| format!("cannot make a socket: {e}"))?;
        send_fds(&self.control, b"channel\n", &[theirs.as_fd()])
            .map_err(|e| format!("the warm-start Python is gone: {e}"))?;
        Ok(ours.into())
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        let _ = self.control.shutdown(std::net::Shutdown::Both);
        crate::proc::exited_within(&mut self.child, std::time::Duration::from_secs(2));
        // SAFETY: killpg only signals the group made for the zygote (its forks have their own,
        // which it ends itself when the control socket closes).
        unsafe {
            libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.child.wait();
        crate::confine::untrack(self.child.id());
    }
}

/// Send `bytes` with `fds` attached (SCM_RIGHTS).
pub fn send_fds(
    socket: &UnixStream,
    bytes: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> std::io::Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(8))];
    let mut buf = SendAncillaryBuffer::new(&mut space);
    if !buf.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("too many descriptors"));
    }
    let n = sendmsg(
        socket,
        &[IoSlice::new(bytes)],
        &mut buf,
        SendFlags::NOSIGNAL,
    )?;
    if n != bytes.len() {
        return Err(std::io::Error::other("short write"));
    }
    Ok(())
}

/// The confinement the zygote runs under: what any program of the runner's may reach (the
/// same rule the host applies to each, with the widest working directory and temp folder),
/// so that each fork, entering its own program's ruleset on top, gets exactly that
/// ruleset's access. The programs' private folders are made in the temp folder.
pub fn policy_for(
    python: &Path,
    base_dir: &Path,
    grants: &crate::policy::Grants,
) -> crate::confine::Policy {
    grants.confinement(
        python,
        vec![base_dir.to_path_buf()],
        vec![std::env::temp_dir()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Access, DirGrant, Grants};

    #[test]
    fn the_zygote_may_reach_what_any_program_of_the_runner_may() {
        let mut grants = Grants {
            plugin: "django".into(),
            ..Default::default()
        };
        grants.dirs.push(DirGrant {
            guest: "/fixtures".into(),
            host: "/srv/fixtures".into(),
            access: Access::ReadOnly,
        });
        grants.dirs.push(DirGrant {
            guest: "/out".into(),
            host: "/srv/out".into(),
            access: Access::ReadWrite,
        });
        grants.confine.connect = vec![5432];
        grants.confine.read = vec!["/etc/ssl".into()];
        let p = policy_for(
            Path::new("/usr/bin/python3"),
            Path::new("/srv/app"),
            &grants,
        );
        assert_eq!(p.connect, vec![5432]);
        for r in ["/srv/app", "/srv/fixtures", "/etc/ssl"] {
            assert!(p.read.contains(&PathBuf::from(r)), "{r}: {p:?}");
        }
        // The programs' private folders are made in the temp folder.
        assert!(p.write.contains(&std::env::temp_dir()), "{p:?}");
        assert!(p.write.contains(&PathBuf::from("/srv/out")), "{p:?}");
        assert!(!p.write.contains(&PathBuf::from("/srv/app")), "{p:?}");
        assert!(!p.exec.is_empty());
    }
}
