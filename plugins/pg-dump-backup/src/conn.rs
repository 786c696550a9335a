//! Where the database is: libpq environment variables built from the plugin's settings and
//! secrets. The password only ever travels in `PGPASSWORD`, never on an argv.

use platform_migrate_sdk::backup::BackupError;
use platform_migrate_sdk::config::{self, SecretError};

/// libpq variables this plugin may set on `pg_dump` / `pg_restore`; each must be granted in
/// `grants.env`.
pub const VARS: &[&str] = &[
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGCONNECT_TIMEOUT",
];

/// Variables set on the child, in a fixed order.
pub type Env = Vec<(String, String)>;

fn secret(name: &str) -> Result<String, BackupError> {
    config::secret(name).map_err(|e| match e {
        SecretError::NotGranted(n) => BackupError::Denied(format!(
            "secret `{n}` is not granted; add it to this plugin's grants.secrets"
        )),
        SecretError::Unavailable(m) => BackupError::Misconfigured(m),
    })
}

/// libpq variables from a `postgres://` or `postgresql://` URL (the host reads pinned
/// `url-secret` grants with the same function).
pub use libpq_url::from_url;

/// The connection from the settings: `url-secret` (a secret holding a URL), or the settings
/// `host`, `port`, `user`, `dbname` with `password-secret`. `connect-timeout-secs` (default 10)
/// keeps an unreachable server from stalling the run.
pub fn load() -> Result<Env, BackupError> {
    let bad = BackupError::Misconfigured;
    let mut env = match config::get("url-secret") {
        Some(name) => from_url(&secret(&name)?).map_err(|e| {
            bad(format!(
                "secret `{name}` (setting url-secret): {e}; expected postgresql://user:password@host:port/dbname"
            ))
        })?,
        None => Env::new(),
    };
    for (key, var) in [
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("user", "PGUSER"),
        ("dbname", "PGDATABASE"),
    ] {
        if let Some(v) = config::get(key) {
            env.retain(|(k, _)| k != var);
            env.push((var.into(), v));
        }
    }
    if let Some(name) = config::get("password-secret") {
        let pw = secret(&name)?;
        env.retain(|(k, _)| k != "PGPASSWORD");
        env.push(("PGPASSWORD".into(), pw));
    }
    if !env.iter().any(|(k, _)| k == "PGDATABASE") {
        return Err(bad(
            "no database named: set url-secret to a secret holding postgresql://user:password@host/dbname, or set dbname (with host, user, password-secret)".into(),
        ));
    }
    if !env.iter().any(|(k, _)| k == "PGCONNECT_TIMEOUT") {
        let t: u64 = config::get_json("connect-timeout-secs")
            .map_err(bad)?
            .unwrap_or(10);
        env.push(("PGCONNECT_TIMEOUT".into(), t.to_string()));
    }
    Ok(env)
}

/// `user@host:port/db` for messages; never the password.
pub fn describe(env: &Env) -> String {
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    format!(
        "{}@{}:{}/{}",
        get("PGUSER"),
        get("PGHOST"),
        get("PGPORT"),
        get("PGDATABASE")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(env: &'a Env, k: &str) -> Option<&'a str> {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_url_becomes_libpq_variables() {
        let env = from_url("postgresql://app:p%40ss%2Fw+rd@db.internal:5433/shop?sslmode=require")
            .unwrap();
        assert_eq!(get(&env, "PGUSER"), Some("app"));
        assert_eq!(get(&env, "PGPASSWORD"), Some("p@ss/w+rd"));
        assert_eq!(get(&env, "PGHOST"), Some("db.internal"));
        assert_eq!(get(&env, "PGPORT"), Some("5433"));
        assert_eq!(get(&env, "PGDATABASE"), Some("shop"));
        assert_eq!(get(&env, "PGSSLMODE"), Some("require"));
    }

    #[test]
    fn unix_socket_hosts_work_both_ways() {
        let env = from_url("postgres://u@%2Ftmp%2Fpg/db").unwrap();
        assert_eq!(get(&env, "PGHOST"), Some("/tmp/pg"));
        let env = from_url("postgres://u@/db?host=/tmp/pg%20x").unwrap();
        assert_eq!(get(&env, "PGHOST"), Some("/tmp/pg x"));
        assert_eq!(get(&env, "PGPASSWORD"), None);
        let env = from_url("postgresql:///db").unwrap();
        assert_eq!(get(&env, "PGHOST"), None);
        assert_eq!(get(&env, "PGDATABASE"), Some("db"));
    }

    #[test]
    fn other_schemes_and_parameters_are_refused() {
        assert!(from_url("mysql://u@h/db").unwrap_err().contains("scheme"));
        assert!(from_url("postgres://u@h/db?options=-c%20x")
            .unwrap_err()
            .contains("options"));
    }

    #[test]
    fn descriptions_never_hold_the_password() {
        let env = from_url("postgresql://app:hunter2@h:1/d").unwrap();
        assert!(!describe(&env).contains("hunter2"));
    }
}
