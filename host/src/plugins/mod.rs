//! `platform-migrate plugins ...` (alias `plugin`): commands on plugin files (`new`,
//! `inspect`, `check`; no config needed) and on the plugin entries of a config (`list`,
//! `lock`).

mod inspect;
pub mod pins;
pub mod scaffold;
pub mod vendor;

use crate::cli::{PluginKind, PluginsCommand};
use crate::config::Config;
use crate::exit::{Code, Exit};
use crate::sandbox::World;

impl From<PluginKind> for World {
    fn from(k: PluginKind) -> World {
        match k {
            PluginKind::Runner => World::Runner,
            PluginKind::Backup => World::Backup,
            PluginKind::Notifier => World::Notifier,
        }
    }
}

/// `plugin inspect X`: X names a config entry rather than a file when no such file exists and
/// it does not look like a path (`.../x`, `x.wasm`).
fn names_entry(arg: &std::path::Path) -> bool {
    let text = arg.to_string_lossy();
    !arg.is_file()
        && !text.contains('/')
        && !text.ends_with(".wasm")
        && !text.starts_with(crate::builtins::PREFIX)
}

/// Run a command that needs no config; `None` for the ones that do. `output_json`:
/// `--output json` was given (the same as each command's own `--json`).
pub fn without_config(cmd: &PluginsCommand, output_json: bool) -> Result<Option<Code>, Exit> {
    Ok(Some(match cmd {
        PluginsCommand::New {
            kind,
            name,
            dir,
            sdk,
        } => scaffold::main((*kind).into(), name, dir.as_deref(), sdk.as_deref())?,
        // Not a file: perhaps a plugin entry of the config.
        PluginsCommand::Inspect { file, .. } if names_entry(file) => return Ok(None),
        PluginsCommand::Inspect { file, json } => inspect::inspect(file, *json || output_json)?,
        PluginsCommand::Check { file, kind, json } => {
            inspect::check(file, kind.map(World::from), *json || output_json)?
        }
        PluginsCommand::List | PluginsCommand::Lock { .. } => return Ok(None),
    }))
}

/// Run a command on the config's plugin entries.
pub fn main(cfg: &Config, cmd: &PluginsCommand, output_json: bool) -> Result<Code, Exit> {
    match cmd {
        PluginsCommand::List => pins::list(cfg, output_json),
        PluginsCommand::Lock { names } => pins::lock(cfg, names),
        PluginsCommand::Inspect { file, json } if names_entry(file) => {
            inspect::inspect_entry(cfg, &file.to_string_lossy(), *json || output_json)
        }
        other => without_config(other, output_json).map(|c| c.unwrap_or(Code::Success)),
    }
}
