//! `platform-migrate plugins ...` (alias `plugin`): commands on plugin files (`new`,
//! `inspect`, `check`; no config needed) and on the plugin entries of a config (`list`,
//! `lock`).

mod inspect;
pub mod pins;
pub mod scaffold;

use crate::cli::{PluginKind, PluginsCommand};
use crate::config::Config;
use crate::exit::{Code, Exit};
use crate::sandbox::World;

pub use pins::{pin_state, write_pins, Pin};

impl From<PluginKind> for World {
    fn from(k: PluginKind) -> World {
        match k {
            PluginKind::Runner => World::Runner,
            PluginKind::Backup => World::Backup,
            PluginKind::Notifier => World::Notifier,
        }
    }
}

/// Run a command that needs no config; `None` for the ones that do.
pub fn without_config(cmd: &PluginsCommand) -> Result<Option<Code>, Exit> {
    Ok(Some(match cmd {
        PluginsCommand::New {
            kind,
            name,
            dir,
            sdk,
        } => scaffold::main((*kind).into(), name, dir.as_deref(), sdk.as_deref())?,
        PluginsCommand::Inspect { file, json } => inspect::inspect(file, *json)?,
        PluginsCommand::Check { file, kind, json } => {
            inspect::check(file, kind.map(World::from), *json)?
        }
        PluginsCommand::List | PluginsCommand::Lock { .. } => return Ok(None),
    }))
}

/// Run a command on the config's plugin entries.
pub fn main(cfg: &Config, cmd: &PluginsCommand) -> Result<Code, Exit> {
    match cmd {
        PluginsCommand::List => pins::list(cfg),
        PluginsCommand::Lock { names } => pins::lock(cfg, names),
        other => without_config(other).map(|c| c.unwrap_or(Code::Success)),
    }
}
