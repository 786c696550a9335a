//! Backups streamed through the host into the env's object store (`[env.NAME.backup-store]`
//! without `keep-local`): a `stdout-file` naming a file directly in `/backups` becomes a
//! multipart upload fed through a pipe, and a `stdin-file` naming one is read back from the
//! store through a pipe. The dump never lands on the runner's disk and never enters the
//! plugin's memory; the host hashes it as it passes, as it does for local files.

use super::latest_process::Error;
use super::state::PluginState;
use crate::store::{Store, StoreError};
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The store a backup provider's files go to, for one env.
pub struct StoreLink {
    pub store: Arc<Store>,
    pub env: String,
}

/// An upload fed by a program's stdout; completed or discarded once the program ends.
pub(super) struct PendingUpload {
    pub key: String,
    decide: mpsc::Sender<bool>,
    done: JoinHandle<Result<(u64, String), StoreError>>,
}

impl PendingUpload {
    /// Complete the upload when the program succeeded (`keep`), else discard it, so a failed
    /// dump never leaves an object behind. Returns the size and sha256 the store was sent.
    pub fn settle(self, keep: bool) -> Result<(u64, String), String> {
        let _ = self.decide.send(keep);
        match self.done.join() {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the upload thread stopped unexpectedly".into()),
        }
    }
}

impl PluginState {
    /// The store key of `guest` when it names a file directly in `/backups` and this plugin's
    /// backups stream to a store.
    pub(super) fn store_key(&self, guest: &str) -> Option<String> {
        let link = self.process.store.as_ref()?;
        let name = guest
            .strip_prefix(super::BACKUP_GUEST_DIR)?
            .strip_prefix('/')?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return None;
        }
        Some(link.store.cfg.key(&link.env, name))
    }

    /// A pipe whose bytes go up to `key`; fails with `file-exists` when the store already has
    /// an object there (never overwritten).
    pub(super) fn stdout_to_store(
        &mut self,
        guest: &str,
        key: String,
    ) -> Result<(std::fs::File, PendingUpload), Error> {
        let store = match &self.process.store {
            Some(l) => l.store.clone(),
            None => return Err(Error::Io("no backup store".into())),
        };
        match store.exists(&key) {
            Ok(true) => return Err(Error::FileExists(guest.to_string())),
            Ok(false) => {}
            Err(e) => return Err(Error::Io(e.to_string())),
        }
        let (mut reader, writer) =
            std::io::pipe().map_err(|e| Error::Io(format!("cannot make a pipe: {e}")))?;
        let (decide, decided) = mpsc::channel::<bool>();
        let thread_key = key.clone();
        let done = std::thread::spawn(move || {
            let mut up = store.begin_upload(&thread_key)?;
            let fed = up.feed(&mut reader);
            // Closing the read end makes a writer that is still going fail at once.
            drop(reader);
            fed?;
            match decided.recv() {
                Ok(true) => up.finish(),
                _ => {
                    up.abort();
                    Ok((0, String::new()))
                }
            }
        });
        Ok((
            std::fs::File::from(OwnedFd::from(writer)),
            PendingUpload { key, decide, done },
        ))
    }

    /// A pipe that yields the object at `key`. A read that fails ends the stream early, so
    /// the program sees a cut archive and fails.
    pub(super) fn stdin_from_store(&mut self, key: String) -> Result<std::fs::File, Error> {
        let store = match &self.process.store {
            Some(l) => l.store.clone(),
            None => return Err(Error::Io("no backup store".into())),
        };
        let (reader, mut writer) =
            std::io::pipe().map_err(|e| Error::Io(format!("cannot make a pipe: {e}")))?;
        std::thread::spawn(move || {
            // A program that has read what it needs (pg_restore --list reads the table of
            // contents only) closes the pipe early: that is not a failure.
            if let Err(e) = store.copy_to(&key, &mut writer) {
                tracing::debug!("streaming {key} from the backup store ended early: {e}");
            }
        });
        Ok(std::fs::File::from(OwnedFd::from(reader)))
    }
}
