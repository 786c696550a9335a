//! SIGINT and SIGTERM during a run. The first signal asks the run to stop: the child process
//! running now is killed with its process group, plugin code is stopped at its next epoch
//! check, and no further step starts. The host then reads the database state again, records
//! the run as interrupted in history, notifies, releases its locks and exits with 128 + the
//! signal number. A second signal exits at once (the kernel still drops the locks, and every
//! child dies with the host).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signal that interrupted the run (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Work in progress should stop (cleared while the host cleans up after the interruption).
static ABORT: AtomicBool = AtomicBool::new(false);

/// Install the handlers. Call once, before the run starts.
pub fn install() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches atomics and calls `_exit` (async-signal-safe).
        unsafe {
            signal_hook::low_level::register(sig, move || on_signal(sig))?;
        }
    }
    Ok(())
}

fn on_signal(sig: i32) {
    if SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // Second signal: the user insists.
        signal_hook::low_level::exit(128 + sig);
    }
    ABORT.store(true, Ordering::SeqCst);
}

/// The signal that interrupted the run, if one did.
pub fn signalled() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Should the work in progress stop now?
pub fn aborting() -> bool {
    ABORT.load(Ordering::SeqCst)
}

/// The interrupted work has stopped: let the host's own cleanup (re-reading the state,
/// history, notifications) run its programs and plugins.
pub fn begin_cleanup() {
    ABORT.store(false, Ordering::SeqCst);
}

/// `SIGINT` / `SIGTERM` for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(libc::SIGINT), "SIGINT");
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
    }
}
