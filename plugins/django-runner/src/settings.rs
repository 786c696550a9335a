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
    pub migrate_in_session: bool,
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
            migrate_in_session: config::get_json("migrate-in-session")
                .map_err(bad)?
                .unwrap_or(false),
        })
    }
}

/// Every setting, for `describe` (the host checks the config's entry against it).
#[cfg(not(feature = "wit-v0-1"))]
pub fn schema() -> Vec<platform_migrate_sdk::runner::Setting> {
    use platform_migrate_sdk::runner::{Setting, SettingType as T};
    vec![
        Setting::new(
            "manage",
            T::TextList,
            "the argv that reaches manage.py, e.g. [\".venv/bin/python\", \"manage.py\"]; its first element must be granted as a command",
        )
        .required(),
        Setting::text(
            "project-dir",
            "guest path of a granted directory to run in (default: the config's folder)",
        ),
        Setting::text("database", "the Django database alias").default_toml("\"default\""),
        Setting::new(
            "env",
            T::TextTable,
            "environment variables for Django, each name granted in grants.env",
        ),
        Setting::new(
            "secret-env",
            T::TextTable,
            "environment variables whose values are granted secrets: { DATABASE_URL = \"database-url\" }",
        )
        .secret(),
        Setting::new(
            "connect",
            T::Any,
            "TCP ports the project's own settings reach besides the database (a Redis cache, a broker, a search engine), e.g. [6379]: programs are confined to the ports granted",
        ),
        Setting::new(
            "timeout-secs",
            T::Integer,
            "cap on one migrate, by manage.py or in the session (default: the grant's timeout-secs)",
        ),
        Setting::new(
            "migrate-in-session",
            T::Boolean,
            "migrate inside the helper session instead of a new `manage.py migrate` (no second Django start before migrating; a fresh session answers what follows); grant the migrating helper's sha256 instead of the plain one",
        )
        .default_toml("false"),
    ]
}
