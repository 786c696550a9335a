//! Outbound HTTP grants: origins a plugin may send requests to.
//!
//! A grant is `scheme://host[:port]`. The scheme defaults to `https`, and `http` is allowed only
//! when a grant names `http://` itself. `*.example.com` matches any subdomain of example.com
//! (not example.com itself). Without a port, a grant means the scheme's default port. A grant is
//! an origin: paths, queries, user info and a lone `*` are refused when the config is read.
//! Requests are matched on the URI's own scheme and authority, never on a `Host` header.

use super::Denied;
use std::fmt;

/// The host part of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lowercase), a name or an IP literal.
    Exact(String),
    /// Any host ending in `.suffix` (lowercase, without the leading dot).
    Subdomains(String),
}

/// One allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    pub scheme: String,
    pub host: HostPattern,
    pub port: u16,
}

impl fmt::Display for HostGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Subdomains(s) => format!("*.{s}"),
        };
        write!(f, "{}://{host}:{}", self.scheme, self.port)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// Split `host[:port]`, IPv6 literals in brackets included.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {authority:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected {after:?} after the address")),
        };
        (format!("[{h}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
        ),
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    Ok((host.to_ascii_lowercase(), port))
}

impl HostGrant {
    /// Parse one grant as written in `grants.hosts`.
    pub fn parse(text: &str) -> Result<HostGrant, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("https".to_string(), text),
        };
        if default_port(&scheme).is_none() {
            return Err(format!(
                "scheme {scheme:?} is not allowed; use https:// (or http:// where plain HTTP is meant)"
            ));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(
                "a host grant is an origin (scheme://host[:port]); leave out paths, queries and user info"
                    .into(),
            );
        }
        let (host, port) = split_host_port(rest)?;
        let host = if host == "*" {
            return Err(
                "`*` would allow every host; name the hosts, or `*.example.com` for a domain's subdomains".into(),
            );
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') || !suffix.contains('.') {
                return Err(format!(
                    "{host:?}: a wildcard covers the subdomains of a domain with at least two labels, like *.example.com"
                ));
            }
            HostPattern::Subdomains(suffix.to_string())
        } else if host.contains('*') {
            return Err(format!(
                "{host:?}: `*` is only allowed as the first label, like *.example.com"
            ));
        } else {
            HostPattern::Exact(host)
        };
        let port = port.or(default_port(&scheme)).unwrap_or(443);
        Ok(HostGrant { scheme, host, port })
    }

    /// Does this grant allow a request to `scheme://host:port`?
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let Some(port) = port.or(default_port(&scheme)) else {
            return false;
        };
        if scheme != self.scheme || port != self.port {
            return false;
        }
        match &self.host {
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomains(s) => host
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

/// Check a request's URI (scheme, host, port as the URI has them) against the grants.
pub fn check(
    plugin: &str,
    grants: &[HostGrant],
    scheme: &str,
    host: &str,
    port: Option<u16>,
) -> Result<(), Denied> {
    if grants.iter().any(|g| g.allows(scheme, host, port)) {
        return Ok(());
    }
    let origin = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    Err(Denied::for_need(
        plugin,
        &format!("may not send HTTP requests to {origin}"),
        &super::Need::OutboundHttp(origin.clone()),
    ))
}

/// Does any grant allow this origin (`scheme://host[:port]`, as a plugin declares it)?
pub fn allows_origin(grants: &[HostGrant], origin: &str) -> bool {
    match HostGrant::parse(origin) {
        Ok(HostGrant {
            scheme,
            host: HostPattern::Exact(host),
            port,
        }) => grants.iter().any(|g| g.allows(&scheme, &host, Some(port))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> HostGrant {
        HostGrant::parse(s).unwrap()
    }

    #[test]
    fn https_by_default_with_its_port() {
        let h = g("hooks.slack.com");
        assert!(h.allows("https", "hooks.slack.com", None));
        assert!(h.allows("https", "HOOKS.slack.com", Some(443)));
        assert!(!h.allows("http", "hooks.slack.com", None));
        assert!(!h.allows("https", "hooks.slack.com", Some(8443)));
        assert!(!h.allows("https", "hooks.slack.com.evil.com", None));
        assert!(!h.allows("https", "evilhooks.slack.com", None));
    }

    #[test]
    fn plain_http_only_when_named() {
        let h = g("http://127.0.0.1:8080");
        assert!(h.allows("http", "127.0.0.1", Some(8080)));
        assert!(!h.allows("http", "127.0.0.1", Some(8081)));
        assert!(!h.allows("https", "127.0.0.1", Some(8080)));
        assert!(!h.allows("http", "127.0.0.2", Some(8080)));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let h = g("https://*.example.com");
        assert!(h.allows("https", "a.example.com", None));
        assert!(h.allows("https", "a.b.example.com", None));
        assert!(!h.allows("https", "example.com", None));
        assert!(!h.allows("https", "badexample.com", None));
        assert!(!h.allows("https", "example.com.evil.net", None));
    }

    #[test]
    fn metadata_and_other_hosts_are_denied_with_the_grant_to_add() {
        let grants = vec![g("https://hooks.slack.com")];
        let e = check("slack", &grants, "http", "169.254.169.254", Some(80)).unwrap_err();
        assert!(e.0.contains("plugins.slack.grants.hosts"), "{}", e.0);
        assert!(e.0.contains("http://169.254.169.254:80"), "{}", e.0);
        assert!(check("slack", &grants, "https", "hooks.slack.com", None).is_ok());
        assert!(check("slack", &[], "https", "hooks.slack.com", None).is_err());
    }

    #[test]
    fn bad_grants_are_refused_with_a_reason() {
        for bad in [
            "*",
            "https://*",
            "ftp://x.com",
            "https://x.com/path",
            "https://user@x.com",
            "https://x.*.com",
            "*.com",
            "https://x.com:0",
            "https://x.com:99999",
            "https://",
        ] {
            assert!(HostGrant::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn ipv6_literals_work() {
        let h = g("http://[::1]:9000");
        assert!(h.allows("http", "[::1]", Some(9000)));
        assert!(!h.allows("http", "[::2]", Some(9000)));
    }

    #[test]
    fn declared_origins_are_matched() {
        let grants = vec![g("https://*.slack.com")];
        assert!(allows_origin(&grants, "https://hooks.slack.com"));
        assert!(!allows_origin(&grants, "http://hooks.slack.com"));
    }
}
