//! The libpq environment variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGCONNECT_TIMEOUT`, `PGSSLMODE`) a `postgres://` or `postgresql://` URL
//! stands for. One implementation for the two readers that must agree: pg-dump-backup, which
//! sets them on `pg_dump`, and the host, which lets a plugin set a pinned variable only to
//! exactly this value (`url-secret` env grants).

/// Variables, in the order they were set.
pub type Env = Vec<(String, String)>;

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// libpq variables from a `postgres://` or `postgresql://` URL.
pub fn from_url(text: &str) -> Result<Env, String> {
    // libpq allows an empty host (`postgresql://user@/db?host=/run/pg`); the url crate does
    // not, so stand a placeholder in and drop it again.
    const NO_HOST: &str = "no-host.invalid";
    let (scheme, rest) = text.split_once("://").unwrap_or((text, ""));
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    let empty_host = hostport.is_empty() || hostport.starts_with(':');
    let text = if empty_host && !rest.is_empty() {
        format!("{scheme}://{userinfo}{NO_HOST}{hostport}{tail}")
    } else {
        text.to_string()
    };
    let u = url::Url::parse(&text).map_err(|e| format!("not a valid URL ({e})"))?;
    if u.scheme() != "postgres" && u.scheme() != "postgresql" {
        return Err(format!(
            "scheme `{}` is not postgres:// or postgresql://",
            u.scheme()
        ));
    }
    let mut env = Env::new();
    let mut set = |k: &str, v: String| {
        if !v.is_empty() {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v));
        }
    };
    if let Some(h) = u.host_str().filter(|h| *h != NO_HOST) {
        set("PGHOST", decode(h));
    }
    if let Some(p) = u.port() {
        set("PGPORT", p.to_string());
    }
    set("PGUSER", decode(u.username()));
    if let Some(p) = u.password() {
        set("PGPASSWORD", decode(p));
    }
    set("PGDATABASE", decode(u.path().trim_start_matches('/')));
    for (k, v) in u.query_pairs() {
        let var = match k.as_ref() {
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "dbname" => "PGDATABASE",
            "connect_timeout" => "PGCONNECT_TIMEOUT",
            "sslmode" => "PGSSLMODE",
            other => return Err(format!("URL parameter `{other}` is not supported")),
        };
        set(var, v.into_owned());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::from_url;

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn parts_are_percent_decoded_and_query_parameters_win() {
        let env = from_url("postgresql://me:p%40ss@/app?host=/run/pg&port=5433").unwrap();
        assert_eq!(get(&env, "PGHOST"), Some("/run/pg"));
        assert_eq!(get(&env, "PGPORT"), Some("5433"));
        assert_eq!(get(&env, "PGUSER"), Some("me"));
        assert_eq!(get(&env, "PGPASSWORD"), Some("p@ss"));
        assert_eq!(get(&env, "PGDATABASE"), Some("app"));
        assert!(from_url("mysql://x@y/z").is_err());
    }
}

/// The TCP port a program given these variables connects to: `PGPORT`, or libpq's 5432 when
/// `PGHOST` names a host; none when it reaches the server over a unix socket (no `PGHOST`, or
/// one that is a folder). What a kernel policy lets such a program connect to.
pub fn tcp_port(env: &[(String, String)]) -> Option<u16> {
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let host = get("PGHOST")?;
    if host.is_empty() || host.starts_with('/') || host.starts_with('@') {
        return None;
    }
    match get("PGPORT") {
        Some(p) => p.parse().ok(),
        None => Some(5432),
    }
}

#[cfg(test)]
mod port_tests {
    use super::{from_url, tcp_port};

    #[test]
    fn tcp_urls_name_their_port_and_sockets_none() {
        let port = |u: &str| tcp_port(&from_url(u).unwrap());
        assert_eq!(port("postgresql://u:p@db.internal:6543/app"), Some(6543));
        assert_eq!(port("postgresql://u:p@db.internal/app"), Some(5432));
        assert_eq!(port("postgresql://u@%2Ftmp%2Fpg/app"), None);
        assert_eq!(port("postgresql:///app"), None);
        assert_eq!(port("postgres://u@/app?host=/run/pg&port=5433"), None);
    }
}
