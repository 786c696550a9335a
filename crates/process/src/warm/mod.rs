//! Warm start for a fleet (`[env.NAME.fleet] warm-python = "..."`): every target's run
//! starts its Django helper session as a fork of one Python that imported Django once, not
//! as a fresh interpreter importing it all again. A fresh start spends most of its CPU time
//! importing Django and the database driver; with a fleet of many targets on few cores, that
//! is most of the fleet's time.
//!
//! How it keeps each target's run its own:
//! - The fleet's host process starts the zygote (`zygote.py`) under a kernel confinement
//!   that covers what any target's program may reach, with no secrets, in a private folder,
//!   and with `-P -s` (no script folder or user site on its path): it imports Django's own
//!   modules and the driver, and no project code.
//! - Each target's host gets its own socket pair to it (an inherited descriptor named by
//!   [`FD_VAR`]; nothing listens, so no other process can ask it for anything).
//! - A start sends the program's arguments with its standard streams, its working directory,
//!   and the exact Landlock ruleset a fresh start would enter (`client`). The fork enters
//!   that ruleset, closes every other descriptor, and only then reads its environment
//!   (secrets included) from a socket of its own: the zygote never reads a secret, so no
//!   fork can find another target's in its memory.
//! - The host kills the fork's process group as it kills a fresh program's; the zygote
//!   reports its exit status, and ends it if the host lets go of it first.
//!
//! Only `process.start` of the named Python with a script (`manage.py ...`) and no `PYTHON*`
//! variable is started warm; anything else, or any failure to start warm, starts fresh.

pub mod client;
pub mod zygote;

/// The inherited descriptor of a target's socket pair to the fleet's zygote.
pub const FD_VAR: &str = "PLATFORM_MIGRATE_WARM_FD";
/// The Python the zygote runs (the fleet's `warm-python`, resolved).
pub const PYTHON_VAR: &str = "PLATFORM_MIGRATE_WARM_PYTHON";

/// Let the process `cmd` starts inherit descriptor `fd` as descriptor `at`: close-on-exec is
/// cleared in that process only, so nothing else the host starts meanwhile inherits it.
pub fn hand_down(cmd: &mut std::process::Command, fd: i32, at: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 and fcntl take integers and touch no memory (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            if (fd != at && libc::dup2(fd, at) < 0) || libc::fcntl(at, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Take the socket a fleet's host handed this process, if any (first thing in `main`, before
/// any program is started, so that none inherits it).
pub fn adopt() {
    client::adopt();
}
