//! Exit codes (documented in the README, "Exit codes") and the error type that carries one to `main`.

use std::fmt;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 0: everything asked for was done and verified.
    Success = 0,
    /// 1: the run failed (connection, backup, migration or verification failure, plugin crash).
    Failed = 1,
    /// 2: bad command line or config: fix the input and run again; nothing was changed.
    Usage = 2,
    /// 3: a safety gate refused the run (e.g. prod without --confirm); nothing was changed.
    Refused = 3,
    /// 4: a plugin asked for something its grants do not allow; the message names the grant.
    Denied = 4,
    /// 5: the run succeeded but a notification could not be delivered (failed or denied).
    NotifyFailed = 5,
    /// 6: `--show --check` found migrations that are not applied.
    Pending = 6,
    /// 7: `--show --check` found model changes that no migration covers.
    ModelChanges = 7,
    /// 8: another run holds the environment's lock (file lock or database advisory lock).
    Busy = 8,
    /// 9: `lint` found unsafe changes or drift in what the branch adds or changes.
    Findings = 9,
    /// 130: SIGINT stopped the run; history says what changed.
    Interrupted = 130,
    /// 143: SIGTERM stopped the run; history says what changed.
    Terminated = 143,
}

/// Longest error message kept, in bytes.
pub const MAX_MESSAGE: usize = 2000;

/// An error that ends the run with a specific exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: Code,
    pub message: String,
}

impl Exit {
    /// An exit with `message` masked and clipped to [`MAX_MESSAGE`] bytes: messages carry
    /// text from plugins and programs, which may be arbitrarily long and hold secrets.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: crate::text::bounded(&message.into(), MAX_MESSAGE),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Exit::new(Code::Usage, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Exit::new(Code::Failed, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Exit::new(Code::Refused, message)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_clipped() {
        let e = Exit::failed("x".repeat(1 << 20));
        assert!(e.message.len() < MAX_MESSAGE + 64);
    }
}
