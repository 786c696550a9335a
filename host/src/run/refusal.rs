//! A confined program that failed after the kernel refused it something looks like a bug of
//! the project (`Error 13 connecting to 127.0.0.1:6379. Permission denied.`). Read from the
//! failed program's output, this names the likely cause: the sandbox's refusal, what the
//! entry grants, and the line that grants it. Free of wasmtime and of the run.

use std::path::{Path, PathBuf};

/// What the runner's entry grants its programs, as the explanation needs it.
pub struct Granted<'a> {
    /// The config entry (`plugins.NAME`).
    pub entry: &'a str,
    /// The entry names a built-in, whose grant comes from its settings.
    pub builtin: bool,
    /// TCP ports its programs may connect to (URL ports included).
    pub connect: &'a [u16],
    /// Host folders they may read besides the config's folder and the system's.
    pub read: &'a [PathBuf],
    /// The config's folder.
    pub base: &'a Path,
}

/// The likely cause when `output` shows a refused connection or a refused file, or `None`.
pub fn explain(output: &str, g: &Granted<'_>) -> Option<String> {
    let refused: Vec<&str> = output.lines().filter(|l| denied(l)).collect();
    for line in &refused {
        if let Some(port) = port_in(line).filter(|p| !g.connect.contains(p)) {
            let (granted, fix) = connect_grant(g, &port.to_string());
            return Some(format!(
                "the sandbox most likely refused this: a program of plugin '{e}' tried to connect to port {port}, and plugins.{e} grants its programs {granted}. If the project needs that service, add to [plugins.{e}]: {fix}",
                e = g.entry
            ));
        }
        if let Some(path) = path_in(line) {
            let p = Path::new(&path);
            let readable = p.starts_with(g.base) || g.read.iter().any(|r| p.starts_with(r));
            if p.is_absolute() && !readable {
                let folder = p.parent().unwrap_or(p).display().to_string();
                let fix = if g.builtin {
                    format!("move it into the config's folder ({}), or use the plugin file (path = ...) with grants.confine.read = [\"{folder}\"]", g.base.display())
                } else {
                    format!(
                        "add to [plugins.{}]: grants.confine.read = [\"{folder}\"]",
                        g.entry
                    )
                };
                return Some(format!(
                    "the sandbox most likely refused this: a program of plugin '{}' was denied {path}, which lies outside the folders its programs may read (the config's folder and the system's); {fix}",
                    g.entry
                ));
            }
        }
    }
    // A refused connection whose port the output does not say (Python's bare
    // `PermissionError: [Errno 13] Permission denied` from `sock.connect`).
    let connecting = output.lines().any(|l| {
        let l = l.trim();
        l.contains(".connect(") || l.contains("create_connection(")
    });
    if connecting && refused.iter().any(|l| path_in(l).is_none()) {
        let (granted, fix) = connect_grant(g, "PORT");
        return Some(format!(
            "the sandbox most likely refused this: a program of plugin '{e}' was refused a connection, and plugins.{e} grants its programs {granted}. If the project needs that service, add its port to [plugins.{e}]: {fix}",
            e = g.entry
        ));
    }
    None
}

/// What the entry grants its programs to connect to, and the line that adds `port` to it: a
/// built-in's `connect` setting (naming the database URL's port there too is harmless), or a
/// plugin file's `grants.confine.connect`.
fn connect_grant(g: &Granted<'_>, port: &str) -> (String, String) {
    let granted: Vec<String> = g.connect.iter().map(u16::to_string).collect();
    let said = if granted.is_empty() {
        "no TCP port".to_string()
    } else {
        format!("TCP port(s) {}", granted.join(", "))
    };
    let key = if g.builtin {
        "settings.connect"
    } else {
        "grants.confine.connect"
    };
    let list = granted
        .iter()
        .map(String::as_str)
        .chain([port])
        .collect::<Vec<_>>()
        .join(", ");
    (said, format!("{key} = [{list}]"))
}

/// A line saying the operating system refused something (`EACCES` / `EPERM`).
fn denied(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("permission denied") || l.contains("errno 13") || l.contains("eacces")
}

/// The TCP port a refused connection names: `127.0.0.1:6379`, `localhost:6379`,
/// `[::1]:6379`, or libpq's `port 5433 failed`.
fn port_in(line: &str) -> Option<u16> {
    let lower = line.to_ascii_lowercase();
    if let Some(i) = lower.find("port ") {
        let digits: String = lower[i + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(p) = digits.parse::<u16>() {
            return Some(p).filter(|p| *p > 0);
        }
    }
    if !lower.contains("connect") {
        return None;
    }
    // host:port, the host a dotted address, a name or a bracketed IPv6 address.
    let bytes = line.as_bytes();
    for (i, _) in line.match_indices(':') {
        let before = &line[..i];
        let host_ok = before.ends_with(']')
            || before
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .next()
                .is_some_and(|h| !h.is_empty() && (h.contains('.') || h == "localhost"));
        let digits: String = line[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let after = bytes.get(i + 1 + digits.len()).copied();
        if host_ok && !digits.is_empty() && after.is_none_or(|b| !b.is_ascii_alphanumeric()) {
            if let Ok(p) = digits.parse::<u16>() {
                return Some(p).filter(|p| *p > 0);
            }
        }
    }
    None
}

/// The path of a refused file: Python's `[Errno 13] Permission denied: '/x/y'`, or a
/// `/x/y: Permission denied` line.
fn path_in(line: &str) -> Option<String> {
    if let Some(i) = line.find("Permission denied: '") {
        let rest = &line[i + "Permission denied: '".len()..];
        return rest.split('\'').next().map(str::to_string);
    }
    let (path, _) = line.split_once(": Permission denied")?;
    let path = path.rsplit(' ').next()?;
    path.starts_with('/').then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted<'a>(connect: &'a [u16], builtin: bool) -> Granted<'a> {
        Granted {
            entry: "django-pg",
            builtin,
            connect,
            read: &[],
            base: Path::new("/srv/app"),
        }
    }

    #[test]
    fn a_refused_connection_names_the_port_the_grant_and_the_line_to_add() {
        let out = "Traceback...\nredis.exceptions.ConnectionError: Error 13 connecting to 127.0.0.1:6379. Permission denied.";
        let m = explain(out, &granted(&[5432], false)).unwrap();
        assert!(m.contains("port 6379"), "{m}");
        assert!(m.contains("grants its programs TCP port(s) 5432"), "{m}");
        assert!(m.ends_with("grants.confine.connect = [5432, 6379]"), "{m}");
        let m = explain(out, &granted(&[], true)).unwrap();
        assert!(m.contains("grants its programs no TCP port"), "{m}");
        assert!(m.ends_with("settings.connect = [6379]"), "{m}");
        // A port the entry grants is refused by something else: no explanation.
        assert_eq!(explain(out, &granted(&[6379], false)), None);
    }

    #[test]
    fn libpq_and_bracketed_addresses_are_read_too() {
        assert_eq!(
            port_in(r#"connection to server at "127.0.0.1", port 5433 failed: Permission denied"#),
            Some(5433)
        );
        assert_eq!(
            port_in("Error 13 connecting to [::1]:6380. Permission denied."),
            Some(6380)
        );
        assert_eq!(
            port_in("Error 13 connecting to localhost:6379. Permission denied."),
            Some(6379)
        );
        assert_eq!(port_in("Permission denied at 12:30"), None);
    }

    #[test]
    fn a_refused_file_outside_the_readable_folders_is_named() {
        let out = "PermissionError: [Errno 13] Permission denied: '/etc/app/config.py'";
        let m = explain(out, &granted(&[], false)).unwrap();
        assert!(m.contains("denied /etc/app/config.py"), "{m}");
        assert!(m.ends_with(r#"grants.confine.read = ["/etc/app"]"#), "{m}");
        let m = explain(out, &granted(&[], true)).unwrap();
        assert!(m.contains("move it into the config's folder"), "{m}");
        // Inside the config's folder the sandbox allows reading: something else refused it.
        let inside = "PermissionError: [Errno 13] Permission denied: '/srv/app/x.py'";
        assert_eq!(explain(inside, &granted(&[], false)), None);
        // A refused connection whose port is not said still names the line, with PORT.
        let bare = "    sock.connect(sa)\nPermissionError: [Errno 13] Permission denied";
        let m = explain(bare, &granted(&[5432], false)).unwrap();
        assert!(m.ends_with("grants.confine.connect = [5432, PORT]"), "{m}");
        // Output without a refusal explains nothing.
        assert_eq!(explain("ValueError: bad", &granted(&[], false)), None);
    }
}
