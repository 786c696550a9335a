//! Environment variables for child processes: which a plugin may set, which are never allowed,
//! and which only to the value the config pins.
//!
//! Three families:
//! - **never**: variables that change which code a program loads or runs (`LD_*`, `PATH`,
//!   `PYTHON*` but a few harmless ones, `PERL5OPT`, `NODE_OPTIONS`, `GCONV_PATH`, `HOME`,
//!   `PSQLRC`, `PGSERVICEFILE`, proxies, ...). No grant may name them (config error).
//! - **pinned**: variables that decide where a child connects or as whom (`PGHOST`, `PGPORT`,
//!   `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, anything ending in `_URL`, `_HOST`,
//!   `_PORT`, `_DSN`, ...). A grant must pin their value to the config (`value = "..."`) or to
//!   a secret (`secret = "NAME"`, or `url-secret = "NAME"` for the libpq variable of a
//!   `postgresql://` URL held in that secret); the plugin may set them to exactly that value
//!   and nothing else, so an environment grant can never point a program at a listener of the
//!   plugin's choosing.
//! - **free**: everything else, settable to any value when granted by name.

use super::Denied;

/// Prefixes of variables no grant may name.
const NEVER_PREFIXES: &[&str] = &[
    "LD_", "DYLD_", "PYTHON", "PERL", "RUBY", "NODE_", "NPM_", "GEM_", "BUNDLE_", "JAVA_",
    "_JAVA_", "JDK_", "GIT_", "LUA_", "XDG_", "MALLOC_", "GLIBC_",
];
/// Variables no grant may name.
const NEVER: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "SHELL",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    "TZDIR",
    "TERMINFO",
    "TERMINFO_DIRS",
    "HOME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "CLASSPATH",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    "PSQLRC",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGPASSFILE",
    "PGLOCALEDIR",
    "PGOPTIONS",
    "PGSSLKEYLOGFILE",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "OPENSSL_MODULES",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
];
/// Members of a `never` prefix family that only change formatting or buffering.
const HARMLESS: &[&str] = &[
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED",
    "PYTHONUTF8",
    "PYTHONFAULTHANDLER",
];
/// Variables that decide where a child connects, or as whom.
const PINNED: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCRL",
    "PGGSSENCMODE",
    "PGCHANNELBINDING",
    "PGREQUIREAUTH",
    "PGTARGETSESSIONATTRS",
    "PGKRBSRVNAME",
    "PGGSSLIB",
];
const PINNED_SUFFIXES: &[&str] = &[
    "_URL",
    "_URI",
    "_DSN",
    "_HOST",
    "_HOSTS",
    "_PORT",
    "_ADDR",
    "_ADDRESS",
    "_ENDPOINT",
    "_SERVER",
];

/// Which family a variable is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Never,
    Pinned,
    Free,
}

/// The family of `name` (case-insensitive for the lists: `http_proxy` is `HTTP_PROXY`).
pub fn family(name: &str) -> Family {
    let upper = name.to_ascii_uppercase();
    if HARMLESS.contains(&upper.as_str()) {
        return Family::Free;
    }
    if NEVER.contains(&upper.as_str()) || NEVER_PREFIXES.iter().any(|p| upper.starts_with(p)) {
        return Family::Never;
    }
    if PINNED.contains(&upper.as_str()) || PINNED_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
        return Family::Pinned;
    }
    Family::Free
}

/// `Some(reason)` when no grant may name this variable.
pub fn forbidden(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Some("it is not a valid variable name");
    }
    if family(name) == Family::Never {
        return Some(
            "it changes which code a program loads or where it reads its settings; the host sets \
             PATH, HOME and TMPDIR itself",
        );
    }
    None
}

/// Where a pinned variable's only allowed value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// A literal value from the config.
    pub value: Option<String>,
    /// The whole value of this granted secret.
    pub secret: Option<String>,
    /// The libpq variable of the same name, taken from the `postgresql://` URL in this secret.
    pub url_secret: Option<String>,
}

impl Pin {
    /// What the pin names, for messages (never the value).
    pub fn describe(&self) -> String {
        match (&self.value, &self.secret, &self.url_secret) {
            (Some(_), _, _) => "the value in the config".into(),
            (_, Some(s), _) => format!("the secret '{s}'"),
            (_, _, Some(s)) => format!("the URL in the secret '{s}'"),
            _ => "nothing".into(),
        }
    }

    /// A one-line problem with the pin itself, for config errors.
    pub fn problem(&self) -> Option<&'static str> {
        let n = [
            self.value.is_some(),
            self.secret.is_some(),
            self.url_secret.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        (n != 1).then_some("a pinned variable needs exactly one of value, secret or url-secret")
    }
}

/// `grants.env` entry: a name the plugin sets freely, or a name pinned to one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvGrant {
    pub name: String,
    pub pin: Option<Pin>,
}

impl EnvGrant {
    #[cfg(test)]
    pub fn free(name: &str) -> EnvGrant {
        EnvGrant {
            name: name.into(),
            pin: None,
        }
    }
}

/// May `plugin` set `name` to `value` on a child process? `expected` resolves a pin to its
/// value (`None`: it cannot be resolved, which denies).
pub fn check_settable(
    plugin: &str,
    granted: &[EnvGrant],
    name: &str,
    value: &str,
    expected: &dyn Fn(&Pin, &str) -> Option<String>,
) -> Result<(), Denied> {
    if let Some(why) = forbidden(name) {
        return Err(Denied(format!(
            "plugin '{plugin}' may not set environment variable {name}: {why}"
        )));
    }
    let Some(g) = granted.iter().find(|g| g.name == name) else {
        let problem = format!("may not set environment variable {name}");
        return Err(if family(name) == Family::Pinned {
            let entry = format!(
                "{{ name = \"{name}\", url-secret = \"SECRET\" }} (it decides where a program connects, so its value is pinned)"
            );
            Denied::with_grant(plugin, &problem, "env", &entry)
        } else {
            Denied::for_need(plugin, &problem, &super::Need::EnvVar(name.to_string()))
        });
    };
    match &g.pin {
        None => Ok(()),
        Some(pin) => match expected(pin, name) {
            Some(v) if v == value => Ok(()),
            _ => Err(Denied(format!(
                "plugin '{plugin}' may set environment variable {name} only to {}, and it asked for another value",
                pin.describe()
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &Pin, _: &str) -> Option<String> {
        None
    }

    #[test]
    fn granted_names_pass() {
        assert!(check_settable(
            "p",
            &[EnvGrant::free("DJANGO_SETTINGS_MODULE")],
            "DJANGO_SETTINGS_MODULE",
            "x",
            &none
        )
        .is_ok());
    }

    #[test]
    fn ungranted_names_are_denied_with_the_fix() {
        let e = check_settable("p", &[], "DEBUG", "1", &none).unwrap_err();
        assert!(e.0.contains("plugins.p.grants.env"), "{}", e.0);
        let e = check_settable("p", &[], "PGHOST", "evil", &none).unwrap_err();
        assert!(e.0.contains("url-secret"), "{}", e.0);
    }

    #[test]
    fn loader_and_interpreter_variables_are_refused_even_when_granted() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "PYTHONPATH",
            "PYTHONUSERBASE",
            "PYTHONSTARTUP",
            "PYTHONWARNINGS",
            "PYTHONINSPECT",
            "GCONV_PATH",
            "PERL5OPT",
            "NODE_OPTIONS",
            "PSQLRC",
            "PGSERVICEFILE",
            "PGSYSCONFDIR",
            "PGPASSFILE",
            "HOME",
            "http_proxy",
            "HTTPS_PROXY",
            "XDG_CONFIG_HOME",
            "GLIBC_TUNABLES",
        ] {
            assert_eq!(family(name), Family::Never, "{name}");
            let e = check_settable("p", &[EnvGrant::free(name)], name, "x", &none).unwrap_err();
            assert!(e.0.contains("may not set"), "{}", e.0);
        }
        for name in [
            "PYTHONUNBUFFERED",
            "PYTHONDONTWRITEBYTECODE",
            "PGCONNECT_TIMEOUT",
        ] {
            assert_eq!(family(name), Family::Free, "{name}");
        }
    }

    #[test]
    fn connection_variables_are_pinned_to_the_config() {
        for name in [
            "PGHOST",
            "PGPORT",
            "PGPASSWORD",
            "DATABASE_URL",
            "REDIS_HOST",
            "X_DSN",
        ] {
            assert_eq!(family(name), Family::Pinned, "{name}");
        }
        let pin = Pin {
            value: None,
            secret: None,
            url_secret: Some("db".into()),
        };
        let grants = [EnvGrant {
            name: "PGHOST".into(),
            pin: Some(pin),
        }];
        let expected = |p: &Pin, name: &str| {
            assert_eq!(p.url_secret.as_deref(), Some("db"));
            libpq_url::from_url("postgresql://u:pw@db.internal:5432/app")
                .ok()?
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        assert!(check_settable("p", &grants, "PGHOST", "db.internal", &expected).is_ok());
        let e = check_settable("p", &grants, "PGHOST", "127.0.0.1", &expected).unwrap_err();
        assert!(
            e.0.contains("only to the URL in the secret 'db'"),
            "{}",
            e.0
        );
        assert!(!e.0.contains("127.0.0.1"), "{}", e.0);
    }

    #[test]
    fn malformed_names_are_refused() {
        assert!(forbidden("A=B").is_some());
        assert!(forbidden("").is_some());
        assert!(forbidden("PGPASSWORD").is_none());
    }
}
