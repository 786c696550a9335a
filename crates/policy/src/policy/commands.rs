//! Command grants: a program and an argument pattern.
//!
//! Pattern elements: a literal matches itself; `*` matches any one argument; a literal ending
//! in `*` (like `--database=*`) matches arguments with that prefix; `<name>` matches one
//! argument that is not an option (non-empty, no leading `-`, no control characters);
//! `sha256:HEX` matches one argument whose sha256 is HEX (pins a script's content, such as
//! the `-c` code of `python manage.py shell -c CODE`); `?ELEMENT` is ELEMENT or nothing (an
//! optional flag like `?--fake`); `**` as the last element matches any number of further
//! arguments (including none), so a grant with `**` grants whatever the program can be told
//! to do: prefer exact patterns. `<path:GUEST>` matches one argument that is the host path of
//! GUEST, or of something under it, where GUEST lies inside one of the plugin's `grants.dirs`
//! (what the `host-path` import hands out); literal text may stand around it, as in
//! `--file=<path:/backups>` or `.backup "<path:/backups>"`.

use super::Denied;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[[plugins.NAME.grants.commands]]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommandGrant {
    /// Program exactly as the plugin names it: a bare name looked up on the host's fixed PATH,
    /// or a path relative to the config file.
    pub program: String,
    /// Argument pattern. Absent means no arguments at all.
    #[serde(default)]
    pub args: Vec<String>,
    /// Host folders of the guest paths the pattern's `<path:GUEST>` elements name, filled in
    /// when the config is loaded (see [`PathElement`]).
    #[serde(skip)]
    pub roots: Vec<(String, PathBuf)>,
}

/// A pattern element with a `<path:GUEST>` placeholder: `prefix<path:GUEST>suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathElement<'a> {
    pub prefix: &'a str,
    pub guest: &'a str,
    pub suffix: &'a str,
}

impl PathElement<'_> {
    /// The placeholder in `element`, if it has one.
    pub fn parse(element: &str) -> Option<PathElement<'_>> {
        let start = element.find("<path:")?;
        let end = start + element[start..].find('>')?;
        Some(PathElement {
            prefix: &element[..start],
            guest: &element[start + "<path:".len()..end],
            suffix: &element[end + 1..],
        })
    }

    /// Does `arg` hold, between prefix and suffix, `root` or a plain path under it? Plain: no
    /// `.`, `..` or empty segment, no control character, no quote or backslash (so the
    /// argument cannot end the quoting a program like sqlite3 reads it with).
    fn matches(&self, root: &Path, arg: &str) -> bool {
        let Some(middle) = arg
            .strip_prefix(self.prefix)
            .and_then(|a| a.strip_suffix(self.suffix))
        else {
            return false;
        };
        let Some(root) = root.to_str().map(|r| r.trim_end_matches('/')) else {
            return false;
        };
        let Some(rest) = middle.strip_prefix(root) else {
            return false;
        };
        if rest.is_empty() {
            return true;
        }
        let Some(rest) = rest.strip_prefix('/') else {
            return false;
        };
        rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\'' || c == '\\')
        })
    }
}

/// What a plugin asked to run.
#[derive(Debug)]
pub struct CommandRequest<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
}

impl CommandGrant {
    /// Fill in the host folder of each `<path:GUEST>` element that lies inside `dirs`, and of
    /// every dir (so a refusal can suggest `<path:..>`). Returns the guest paths it could not
    /// place.
    pub fn resolve_roots(&mut self, plugin: &str, dirs: &[super::DirGrant]) -> Vec<String> {
        let mut unresolved = Vec::new();
        for element in &self.args {
            let Some(path) = PathElement::parse(element) else {
                continue;
            };
            if self.roots.iter().any(|(g, _)| g == path.guest) {
                continue;
            }
            match super::dirs::to_host(plugin, dirs, path.guest) {
                Ok((root, _)) => self.roots.push((path.guest.to_string(), root)),
                Err(_) => unresolved.push(path.guest.to_string()),
            }
        }
        for d in dirs {
            if !self.roots.iter().any(|(g, _)| *g == d.guest) {
                self.roots.push((d.guest.clone(), d.host.clone()));
            }
        }
        unresolved
    }

    /// Does this grant allow `program` with `args`?
    pub fn allows(&self, program: &str, args: &[String]) -> bool {
        self.program == program && args_match_in(&self.args, args, &self.roots)
    }
}

fn element_matches(pattern: &str, arg: &str, roots: &[(String, PathBuf)]) -> bool {
    if let Some(element) = PathElement::parse(pattern) {
        // Unresolved (no such grant): matches nothing.
        return roots
            .iter()
            .find(|(guest, _)| guest == element.guest)
            .is_some_and(|(_, root)| element.matches(root, arg));
    }
    if pattern == "*" {
        return true;
    }
    if pattern == "<name>" {
        return !arg.is_empty() && !arg.starts_with('-') && !arg.chars().any(char::is_control);
    }
    if let Some(hex) = pattern.strip_prefix("sha256:") {
        use sha2::{Digest, Sha256};
        return hex.eq_ignore_ascii_case(&hex::encode(Sha256::digest(arg.as_bytes())));
    }
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.is_empty() => arg.starts_with(prefix),
        _ => pattern == arg,
    }
}

/// Match an argument list against a pattern list (without `<path:..>` grants).
#[cfg(test)]
pub fn args_match(pattern: &[String], args: &[String]) -> bool {
    args_match_in(pattern, args, &[])
}

fn args_match_in(pattern: &[String], args: &[String], roots: &[(String, PathBuf)]) -> bool {
    match pattern.split_first() {
        None => args.is_empty(),
        Some((p, _)) if p == "**" => true,
        Some((p, rest)) if p.len() > 1 && p.starts_with('?') => {
            args_match_in(rest, args, roots)
                || match args.split_first() {
                    Some((a, args_rest)) => {
                        element_matches(&p[1..], a, roots) && args_match_in(rest, args_rest, roots)
                    }
                    None => false,
                }
        }
        Some((p, rest)) => match args.split_first() {
            Some((a, args_rest)) => {
                element_matches(p, a, roots) && args_match_in(rest, args_rest, roots)
            }
            None => false,
        },
    }
}

/// How many leading arguments `pattern` can account for before it fails (every way through
/// its optional elements): where a refused argv stops matching a grant.
pub fn matched_prefix(pattern: &[String], args: &[String], roots: &[(String, PathBuf)]) -> usize {
    match pattern.split_first() {
        None => 0,
        Some((p, _)) if p == "**" => args.len(),
        Some((p, rest)) if p.len() > 1 && p.starts_with('?') => {
            let skip = matched_prefix(rest, args, roots);
            let take = match args.split_first() {
                Some((a, args_rest)) if element_matches(&p[1..], a, roots) => {
                    1 + matched_prefix(rest, args_rest, roots)
                }
                _ => 0,
            };
            skip.max(take)
        }
        Some((p, rest)) => match args.split_first() {
            Some((a, args_rest)) if element_matches(p, a, roots) => {
                1 + matched_prefix(rest, args_rest, roots)
            }
            _ => 0,
        },
    }
}

/// The refused argument, shown whole (one line, at most 200 characters) with its position.
fn refused_argument(grants: &[CommandGrant], req: &CommandRequest<'_>) -> Option<String> {
    let at = grants
        .iter()
        .filter(|g| g.program == req.program)
        .map(|g| matched_prefix(&g.args, req.args, &g.roots))
        .max()?;
    let Some(arg) = req.args.get(at) else {
        return Some(format!(
            "its arguments match none of the granted patterns: it stops after {} argument(s), where the closest grant wants more",
            req.args.len()
        ));
    };
    let one: String = arg.replace('\n', "⏎").chars().take(200).collect();
    let cut = if arg.chars().count() > 200 { "..." } else { "" };
    Some(format!(
        "its arguments match none of the granted patterns: the closest grant stops at argument {} (`{one}{cut}`)",
        at + 1
    ))
}

/// A short, safe rendering of an argv for messages: long arguments are cut.
pub fn display_argv(program: &str, args: &[String]) -> String {
    let mut out = program.to_string();
    for a in args.iter().take(6) {
        out.push(' ');
        let one_line = a.replace('\n', "⏎");
        if a.contains('\n') {
            out.push_str(&format!("<{}-line script>", a.lines().count()));
        } else if one_line.chars().count() > 40 {
            out.extend(one_line.chars().take(37));
            out.push_str("...");
        } else {
            out.push_str(&one_line);
        }
    }
    if args.len() > 6 {
        out.push_str(" ...");
    }
    out
}

/// Check a request against the grants of `plugin`.
pub fn check(
    plugin: &str,
    grants: &[CommandGrant],
    req: &CommandRequest<'_>,
) -> Result<(), Denied> {
    if grants.iter().any(|g| g.allows(req.program, req.args)) {
        return Ok(());
    }
    let shown = display_argv(req.program, req.args);
    // Host paths inside the plugin's dirs are suggested as `<path:GUEST>`, so the grant stays
    // true when the folder moves.
    let roots: Vec<(String, PathBuf)> = grants.first().map(|g| g.roots.clone()).unwrap_or_default();
    let pattern: Vec<String> = req
        .args
        .iter()
        .take(16)
        .map(|a| as_path_element(a, &roots).unwrap_or_else(|| exact(a)))
        .collect();
    let hint = if grants.iter().any(|g| g.program == req.program) {
        refused_argument(grants, req)
            .unwrap_or_else(|| "its arguments match none of the granted patterns".into())
    } else {
        "the program is not granted".into()
    };
    let entry = format!(
        "{{ program = \"{}\", args = [{}] }} (exactly this command; check what it runs first)",
        req.program,
        pattern.join(", ")
    );
    Err(Denied::with_grant(
        plugin,
        &format!("may not run `{shown}`: {hint}"),
        "commands",
        &entry,
    ))
}

/// `"PREFIX<path:GUEST>"` for an argument that holds a plain host path under a granted dir.
fn as_path_element(arg: &str, roots: &[(String, PathBuf)]) -> Option<String> {
    // The deepest folder wins (the backup directory inside the project's, say).
    let mut roots: Vec<&(String, PathBuf)> = roots.iter().collect();
    roots.sort_by_key(|(_, root)| std::cmp::Reverse(root.as_os_str().len()));
    roots
        .into_iter()
        .filter_map(|(guest, root)| {
            let at = arg.find(root.to_str()?)?;
            let (prefix, rest) = arg.split_at(at);
            // A closing quote that matches an opening one is the suffix.
            let suffix = match prefix.chars().last() {
                Some(q @ ('"' | '\'')) if rest.ends_with(q) => &rest[rest.len() - 1..],
                _ => "",
            };
            let element = PathElement {
                prefix,
                guest,
                suffix,
            };
            let plain =
                !prefix.starts_with('?') && !prefix.chars().any(|c| c.is_control() || c == '\\');
            (plain && element.matches(root, arg)).then(|| {
                format!(
                    "\"{}\"",
                    format!("{prefix}<path:{guest}>{suffix}").replace('"', "\\\"")
                )
            })
        })
        .next()
}

/// The pattern element that matches exactly `arg`: the argument itself when it is short and
/// plain, else its sha256 (a script).
fn exact(arg: &str) -> String {
    let plain = arg.len() <= 60
        && !arg.starts_with('?')
        && !arg.starts_with("sha256:")
        && !arg.ends_with('*')
        && arg != "<name>"
        && !arg.chars().any(|c| c.is_control() || c == '"' || c == '\\');
    if plain {
        format!("\"{arg}\"")
    } else {
        use sha2::{Digest, Sha256};
        format!("\"sha256:{}\"", hex::encode(Sha256::digest(arg.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn grant(program: &str, args: &[&str]) -> CommandGrant {
        CommandGrant {
            program: program.into(),
            args: v(args),
            roots: vec![],
        }
    }

    #[test]
    fn a_refusal_names_the_argument_where_the_closest_grant_stops() {
        let g = [grant(
            "python",
            &["manage.py", "migrate", "--noinput", "?--fake", "?<name>"],
        )];
        let args = v(&[
            "manage.py",
            "migrate",
            "--noinput",
            "--fake",
            "orders",
            "--settings=evil.settings",
        ]);
        let req = CommandRequest {
            program: "python",
            args: &args,
            env: &[],
        };
        let e = check("django", &g, &req).unwrap_err().to_string();
        assert!(
            e.contains("the closest grant stops at argument 6 (`--settings=evil.settings`)"),
            "{e}"
        );
        // Past the sixth argument, the display is cut, but the refused one is named whole.
        let mut many = v(&["manage.py", "migrate", "--noinput"]);
        many.extend(v(&["a", "b", "c", "d", "e"]));
        let g = [grant(
            "python",
            &["manage.py", "migrate", "--noinput", "*", "*", "*", "*"],
        )];
        let e = check(
            "django",
            &g,
            &CommandRequest {
                program: "python",
                args: &many,
                env: &[],
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("stops at argument 8 (`e`)"), "{e}");
        assert_eq!(matched_prefix(&v(&["**"]), &many, &[]), many.len());
    }

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(args_match(
            &v(&["manage.py", "migrate"]),
            &v(&["manage.py", "migrate"])
        ));
        assert!(!args_match(
            &v(&["manage.py", "migrate"]),
            &v(&["manage.py", "shell"])
        ));
        assert!(!args_match(
            &v(&["manage.py"]),
            &v(&["manage.py", "migrate"])
        ));
        assert!(!args_match(
            &v(&["manage.py", "migrate"]),
            &v(&["manage.py"])
        ));
    }

    #[test]
    fn empty_pattern_allows_only_no_arguments() {
        assert!(args_match(&[], &[]));
        assert!(!args_match(&[], &v(&["-c"])));
    }

    #[test]
    fn star_matches_one_argument() {
        let p = v(&["manage.py", "migrate", "*"]);
        assert!(args_match(&p, &v(&["manage.py", "migrate", "users"])));
        assert!(!args_match(&p, &v(&["manage.py", "migrate"])));
        assert!(!args_match(
            &p,
            &v(&["manage.py", "migrate", "users", "0001"])
        ));
    }

    #[test]
    fn double_star_matches_the_rest() {
        let p = v(&["manage.py", "**"]);
        assert!(args_match(&p, &v(&["manage.py"])));
        assert!(args_match(&p, &v(&["manage.py", "migrate", "--fake"])));
        assert!(!args_match(&p, &v(&["other.py", "migrate"])));
    }

    #[test]
    fn prefix_star_matches_by_prefix() {
        let p = v(&["--database=*"]);
        assert!(args_match(&p, &v(&["--database=default"])));
        assert!(!args_match(&p, &v(&["--settings=x"])));
    }

    #[test]
    fn program_must_match_exactly() {
        let g = grant("python", &["**"]);
        assert!(g.allows("python", &v(&["-c", "1"])));
        assert!(!g.allows("/bin/sh", &v(&["-c", "1"])));
        assert!(!g.allows("python3", &[]));
    }

    #[test]
    fn denial_names_the_grant_to_add() {
        let args = v(&["manage.py", "migrate"]);
        let req = CommandRequest {
            program: ".venv/bin/python",
            args: &args,
            env: &[],
        };
        let err = check("django", &[grant("python", &["**"])], &req).unwrap_err();
        assert!(
            err.0.contains("plugins.django.grants.commands"),
            "{}",
            err.0
        );
        assert!(
            err.0.contains("program = \".venv/bin/python\""),
            "{}",
            err.0
        );
        assert!(err.0.contains("not granted"), "{}", err.0);
    }

    #[test]
    fn denial_with_granted_program_says_arguments_differ() {
        let args = v(&["-c", "import os"]);
        let req = CommandRequest {
            program: "python",
            args: &args,
            env: &[],
        };
        let err = check("django", &[grant("python", &["manage.py", "**"])], &req).unwrap_err();
        assert!(err.0.contains("arguments match none"), "{}", err.0);
    }

    #[test]
    fn sha256_pins_an_argument_s_content() {
        // sha256("print(1)")
        let p = v(&[
            "-c",
            "sha256:5a8b4a5c1b4fd0c8a2f1b6ec1ef1b3b7f4f3c0b39a0f5c6a3b0d4b9a1c2e3f40",
        ]);
        assert!(!args_match(&p, &v(&["-c", "print(2)"])));
        let real = {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(b"print(1)"))
        };
        let p = v(&["-c", &format!("sha256:{real}")]);
        assert!(args_match(&p, &v(&["-c", "print(1)"])));
        assert!(!args_match(&p, &v(&["-c", "print(1) "])));
        assert!(!args_match(&p, &v(&["-c"])));
    }

    #[test]
    fn optional_elements_and_names() {
        let p = v(&["migrate", "--noinput", "?--fake", "?<name>", "?<name>"]);
        assert!(args_match(&p, &v(&["migrate", "--noinput"])));
        assert!(args_match(&p, &v(&["migrate", "--noinput", "--fake"])));
        assert!(args_match(
            &p,
            &v(&["migrate", "--noinput", "users", "0001"])
        ));
        assert!(args_match(
            &p,
            &v(&["migrate", "--noinput", "--fake", "users"])
        ));
        assert!(!args_match(
            &p,
            &v(&["migrate", "--noinput", "--pythonpath=/x"])
        ));
        assert!(!args_match(
            &p,
            &v(&["migrate", "--noinput", "users", "--settings=evil"])
        ));
        assert!(!args_match(
            &p,
            &v(&["migrate", "--noinput", "a", "b", "c"])
        ));
        assert!(!args_match(&p, &v(&["migrate", "--noinput", ""])));
    }

    #[test]
    fn scripts_are_summarised() {
        let shown = display_argv("python", &v(&["-c", "a = 1\nprint(a)\n"]));
        assert_eq!(shown, "python -c <2-line script>");
    }

    #[test]
    fn long_arguments_are_cut_in_messages() {
        let long = "x".repeat(500);
        let shown = display_argv("python", &[long]);
        assert!(shown.len() < 60, "{shown}");
    }

    fn path_grant(args: &[&str]) -> CommandGrant {
        CommandGrant {
            program: "sqlite3".into(),
            args: v(args),
            roots: vec![
                ("/project".into(), PathBuf::from("/srv/app")),
                ("/backups".into(), PathBuf::from("/srv/app/state/backups")),
            ],
        }
    }

    #[test]
    fn a_path_element_matches_host_paths_under_its_folder_only() {
        let g = path_grant(&["<path:/project>", ".backup \"<path:/backups>\""]);
        let ok = |a: &[&str]| g.allows("sqlite3", &v(a));
        assert!(ok(&[
            "/srv/app/db.sqlite3",
            ".backup \"/srv/app/state/backups/x.db\""
        ]));
        assert!(ok(&["/srv/app", ".backup \"/srv/app/state/backups\""]));
        for bad in [
            ["/etc/passwd", ".backup \"/srv/app/state/backups/x\""],
            [
                "/srv/app/../etc/passwd",
                ".backup \"/srv/app/state/backups/x\"",
            ],
            ["/srv/app/./db", ".backup \"/srv/app/state/backups/x\""],
            ["/srv/app//db", ".backup \"/srv/app/state/backups/x\""],
            ["/srv/apple/db", ".backup \"/srv/app/state/backups/x\""],
            [
                "/srv/app/db",
                ".backup \"/srv/app/state/backups/x\"; .shell id",
            ],
            ["/srv/app/db", ".backup \"/srv/app/state/backups/x\" \"y\""],
            ["/srv/app/db", ".backup '/srv/app/state/backups/x'"],
            ["/srv/app/db", ".backup \"/srv/app/x\""],
            ["/srv/app/d\nb", ".backup \"/srv/app/state/backups/x\""],
        ] {
            assert!(!ok(&bad), "{bad:?}");
        }
        // A placeholder whose folder is not resolved matches nothing.
        let unresolved = CommandGrant {
            roots: vec![],
            ..path_grant(&["<path:/project>"])
        };
        assert!(!unresolved.allows("sqlite3", &v(&["/srv/app/db"])));
    }

    #[test]
    fn a_refused_host_path_is_suggested_as_a_path_element() {
        let g = [path_grant(&["--version"])];
        let args = v(&[
            "/srv/app/db.sqlite3",
            ".backup \"/srv/app/state/backups/x.db\"",
        ]);
        let req = CommandRequest {
            program: "sqlite3",
            args: &args,
            env: &[],
        };
        let e = check("p", &g, &req).unwrap_err().to_string();
        assert!(
            e.contains(r#"args = ["<path:/project>", ".backup \"<path:/backups>\""]"#),
            "{e}"
        );
    }
}
