//! The runner's settings, read through the host's `config` capability.

use crate::Env;
use platform_migrate_sdk::config;
use platform_migrate_sdk::runner::RunnerError;

pub struct Settings {
    pub manage: Vec<String>,
    pub project_dir: Option<String>,
    pub database: Option<String>,
    pub env: Env,
    pub secret_env: Env,
    pub timeout_secs: Option<u64>,
}

impl Settings {
    pub fn load() -> Result<Settings, RunnerError> {
        let bad = RunnerError::Misconfigured;
        let manage: Vec<String> = config::get_json("manage").map_err(bad)?.ok_or_else(|| {
            RunnerError::Misconfigured(
                "setting `manage` is missing; set it to the argv that reaches manage.py, e.g. \
                 manage = [\".venv/bin/python\", \"manage.py\"]"
                    .into(),
            )
        })?;
        if manage.is_empty() {
            return Err(RunnerError::Misconfigured(
                "setting `manage` is empty".into(),
            ));
        }
        Ok(Settings {
            manage,
            project_dir: config::get("project-dir"),
            database: config::get("database"),
            env: config::get_json("env").map_err(bad)?.unwrap_or_default(),
            secret_env: config::get_json("secret-env")
                .map_err(bad)?
                .unwrap_or_default(),
            timeout_secs: config::get_json("timeout-secs").map_err(bad)?,
        })
    }
}
