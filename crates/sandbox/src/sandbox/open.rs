//! The one way to open a configured plugin as a WebAssembly component: load (pin, compile,
//! grants and mounts), instantiate as its world, `describe`; [`Opener`] then checks the
//! declared needs against the grants. `plugin inspect` uses the same path without the check,
//! to report coverage instead.

use super::worlds::Handle;
use super::{Backup, Notifier, PluginError, Runner, Sandbox, World};
use crate::config::PluginConfig;
use crate::plugin_api::{
    check_needs, BackupPlugin, Info, NotifierPlugin, OpenError, Opened, Opener, RunnerPlugin,
};
use std::path::Path;

impl Sandbox {
    /// Load `entry`, instantiate it as world `H`, and ask it to describe itself.
    fn open<H: Handle>(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        backup_dir: Option<&Path>,
        host_env: Vec<(String, String)>,
    ) -> Result<(H, Info), PluginError> {
        let mut loaded = self.load(base_dir, entry, backup_dir)?;
        loaded.store.data_mut().process.host_env = host_env;
        let mut handle = H::instantiate(self, loaded)?;
        let info = handle.describe()?;
        Ok((handle, info))
    }

    /// What `entry` says about itself as a plugin of `world`, its grants not checked.
    pub fn describe_entry(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        world: World,
    ) -> Result<Info, PluginError> {
        Ok(match world {
            World::Runner => self.open::<Runner>(base_dir, entry, None, vec![])?.1,
            World::Backup => self.open::<Backup>(base_dir, entry, None, vec![])?.1,
            World::Notifier => self.open::<Notifier>(base_dir, entry, None, vec![])?.1,
        })
    }
}

impl Sandbox {
    /// Open `entry` as world `H` and check its declared needs against its grants.
    fn checked<H: Handle, P: ?Sized>(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        backup_dir: Option<&Path>,
        host_env: Vec<(String, String)>,
        boxed: fn(H) -> Box<P>,
    ) -> Result<Opened<P>, OpenError> {
        let (handle, info) = self.open::<H>(base_dir, entry, backup_dir, host_env)?;
        check_needs(entry, &info)?;
        Ok(Opened::new(boxed(handle), info))
    }
}

impl Opener for Sandbox {
    fn runner(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        host_env: Vec<(String, String)>,
    ) -> Result<Opened<dyn RunnerPlugin>, OpenError> {
        self.checked::<Runner, _>(base_dir, entry, None, host_env, |h| Box::new(h))
    }

    fn backup(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
        backup_dir: &Path,
    ) -> Result<Opened<dyn BackupPlugin>, OpenError> {
        self.checked::<Backup, _>(base_dir, entry, Some(backup_dir), vec![], |h| Box::new(h))
    }

    fn notifier(
        &self,
        base_dir: &Path,
        entry: &PluginConfig,
    ) -> Result<Opened<dyn NotifierPlugin>, OpenError> {
        self.checked::<Notifier, _>(base_dir, entry, None, vec![], |h| Box::new(h))
    }
}
