//! Environment variables for child processes: which a plugin may set, which are never allowed.

use super::Denied;

/// Variables that change how programs load code; never set or inherited, whatever a grant says.
const FORBIDDEN_PREFIXES: &[&str] = &["LD_", "DYLD_"];
const FORBIDDEN: &[&str] = &[
    "PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "BASH_ENV",
    "ENV",
];

/// `Some(reason)` when no grant may name this variable.
pub fn forbidden(name: &str) -> Option<&'static str> {
    if FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p)) || FORBIDDEN.contains(&name) {
        return Some("it changes which code a program loads; the host fixes PATH itself");
    }
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Some("it is not a valid variable name");
    }
    None
}

/// May `plugin` set `name` on a child process?
pub fn check_settable(plugin: &str, granted: &[String], name: &str) -> Result<(), Denied> {
    if let Some(why) = forbidden(name) {
        return Err(Denied(format!(
            "plugin '{plugin}' may not set environment variable {name}: {why}"
        )));
    }
    if granted.iter().any(|g| g == name) {
        return Ok(());
    }
    Err(Denied(format!(
        "plugin '{plugin}' may not set environment variable {name}; to allow it add \"{name}\" \
         to plugins.{plugin}.grants.env"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_names_pass() {
        assert!(check_settable(
            "p",
            &["DJANGO_SETTINGS_MODULE".into()],
            "DJANGO_SETTINGS_MODULE"
        )
        .is_ok());
    }

    #[test]
    fn ungranted_names_are_denied_with_the_fix() {
        let e = check_settable("p", &[], "DATABASE_URL").unwrap_err();
        assert!(e.0.contains("plugins.p.grants.env"), "{}", e.0);
    }

    #[test]
    fn loader_variables_are_refused_even_when_granted() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "PYTHONPATH",
        ] {
            let e = check_settable("p", &[name.to_string()], name).unwrap_err();
            assert!(e.0.contains("may not set"), "{}", e.0);
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        assert!(forbidden("A=B").is_some());
        assert!(forbidden("").is_some());
        assert!(forbidden("PGPASSWORD").is_none());
    }
}
