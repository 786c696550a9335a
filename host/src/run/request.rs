//! What the user asked for, checked before anything is loaded.

use crate::cli::RunArgs;
use crate::exit::Exit;

/// The kind of run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show the plan only.
    Show,
    /// Create migrations for an app.
    Make,
    /// Migrate (everything, one app, or one app to a migration).
    Migrate,
    /// Roll back an app's last migration.
    Rollback,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Show => "show",
            Action::Make => "make",
            Action::Migrate => "migrate",
            Action::Rollback => "rollback",
        }
    }

    /// Does this action change the database?
    pub fn changes_database(&self) -> bool {
        matches!(self, Action::Migrate | Action::Rollback)
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub env: String,
    pub action: Action,
    pub app: Option<String>,
    pub migration: Option<String>,
    pub fake: bool,
    pub confirm: bool,
    /// `--rollback` was given (also with `--show`, to preview the rollback).
    pub rollback: bool,
    pub allow_irreversible: bool,
    /// `--reset`: empty the database, then migrate everything from zero.
    pub reset: bool,
    pub no_fixtures: bool,
    /// `--show --check`: exit non-zero when anything is pending.
    pub check: bool,
    /// `--show --sql`: print each step's SQL.
    pub sql: bool,
    /// `--accept-drift`.
    pub accept_drift: bool,
    /// `--allow-destructive`.
    pub allow_destructive: bool,
    /// `--wait`: how long to queue behind another run of the same env.
    pub wait: Option<std::time::Duration>,
    /// `--phase pre|post`.
    pub phase: Option<crate::plugin_api::Phase>,
}

/// Django app labels are Python identifiers.
pub fn valid_app_label(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Migration names are file stems: letters, digits and underscores.
pub fn valid_migration_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Request {
    pub fn from_args(a: &RunArgs) -> Result<Request, Exit> {
        let env = a.env.clone().ok_or_else(|| {
            Exit::usage("--env is required: pass --env dev, --env test or --env prod")
        })?;
        if let Some(app) = &a.app {
            if !valid_app_label(app) {
                return Err(Exit::usage(format!(
                    "invalid --app {app:?}: an app label is a Python identifier (letters, digits, underscores), e.g. --app users"
                )));
            }
        }
        if let Some(m) = &a.migration {
            if !valid_migration_name(m) {
                return Err(Exit::usage(format!(
                    "invalid --migration {m:?}: give a migration name or prefix such as 0002 or 0002_add_email, or zero"
                )));
            }
        }
        let action = if a.show {
            Action::Show
        } else if a.make {
            Action::Make
        } else if a.rollback {
            Action::Rollback
        } else {
            Action::Migrate
        };
        Ok(Request {
            env,
            action,
            app: a.app.clone(),
            migration: a.migration.clone(),
            fake: a.fake,
            confirm: a.confirm,
            rollback: a.rollback,
            allow_irreversible: a.allow_irreversible,
            reset: a.reset,
            no_fixtures: a.no_fixtures,
            check: a.check,
            wait: a.wait.map(std::time::Duration::from_secs),
            phase: a.phase,
            sql: a.sql,
            accept_drift: a.accept_drift,
            allow_destructive: a.allow_destructive,
        })
    }

    /// One phrase for messages: what this run would do.
    pub fn describe(&self) -> String {
        let fake = if self.fake {
            " (fake: record only)"
        } else {
            ""
        };
        match (&self.action, &self.app, &self.migration) {
            (Action::Show, Some(app), _) if self.rollback => {
                format!("show the plan to roll back app {app}")
            }
            (Action::Show, None, _) => "show the migration plan for all apps".into(),
            (Action::Show, Some(app), None) => format!("show the migration plan for app {app}"),
            (Action::Show, Some(app), Some(m)) => format!("show the plan to move app {app} to {m}"),
            (Action::Make, Some(app), _) => format!("create migrations for app {app}"),
            (Action::Make, None, _) => "create migrations".into(),
            (Action::Rollback, Some(app), _) => {
                format!("roll back the last migration of app {app}{fake}")
            }
            (Action::Rollback, None, _) => "roll back".into(),
            (Action::Migrate, None, _) if self.reset => {
                "reset the database and apply every migration from zero".into()
            }
            (Action::Migrate, None, _) => format!("apply all pending migrations{fake}"),
            (Action::Migrate, Some(app), None) => {
                format!("apply pending migrations of app {app}{fake}")
            }
            (Action::Migrate, Some(app), Some(m)) => format!("migrate app {app} to {m}{fake}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_labels_are_identifiers() {
        assert!(valid_app_label("users"));
        assert!(valid_app_label("_x1"));
        assert!(!valid_app_label("users; touch /tmp/x"));
        assert!(!valid_app_label("1users"));
        assert!(!valid_app_label(""));
        assert!(!valid_app_label("a-b"));
    }

    #[test]
    fn migration_names_are_stems() {
        assert!(valid_migration_name("0002"));
        assert!(valid_migration_name("0002_add_email"));
        assert!(valid_migration_name("zero"));
        assert!(!valid_migration_name("../x"));
        assert!(!valid_migration_name("0001 0002"));
    }

    #[test]
    fn shell_metacharacters_are_refused_before_anything_runs() {
        let a = RunArgs {
            env: Some("dev".into()),
            app: Some("users; touch /tmp/x".into()),
            ..Default::default()
        };
        let e = Request::from_args(&a).unwrap_err();
        assert!(e.message.contains("invalid --app"), "{}", e.message);
    }
}
