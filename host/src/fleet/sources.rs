//! Reading a fleet's target list from its source: the config, a file, or a program. A file or
//! a program's output is one name per line (blank lines and `#` comments skipped), or a JSON
//! array of names or `{ "name": ..., "vars": { ... } }` objects.

use super::{check_list, FleetError, Source, Target, TargetsCommand};
use std::path::Path;
use std::time::Duration;

/// Most bytes a target list may have.
const MAX_LIST_BYTES: usize = 4 << 20;

/// The targets `source` lists; `base` is the config's folder; `aliases` asks the runner for
/// its database aliases.
pub fn read(
    source: &Source,
    base: &Path,
    aliases: &dyn Fn() -> Result<Vec<String>, String>,
) -> Result<Vec<Target>, FleetError> {
    let targets = match source {
        Source::DatabaseAliases => aliases()
            .map_err(|why| {
                FleetError::Source(format!(
                    "the runner could not list its database aliases: {why}"
                ))
            })?
            .into_iter()
            .map(Target::named)
            .collect(),
        Source::List(list) => list.clone(),
        Source::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                FleetError::Source(format!(
                    "cannot read targets-file {}: {e}; create it or fix the path in the config",
                    path.display()
                ))
            })?;
            parse(&text).map_err(|why| {
                FleetError::Source(format!("targets-file {}: {why}", path.display()))
            })?
        }
        Source::Command(cmd) => {
            let out = run(cmd, base)?;
            parse(&out).map_err(|why| {
                FleetError::Source(format!(
                    "targets-command `{}` printed something that is not a target list: {why}",
                    cmd.argv.join(" ")
                ))
            })?
        }
    };
    check_list(&targets)?;
    Ok(targets)
}

/// A list as text: a JSON array, or one name per line.
pub fn parse(text: &str) -> Result<Vec<Target>, String> {
    if text.len() > MAX_LIST_BYTES {
        return Err(format!("it is over {MAX_LIST_BYTES} bytes"));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Item {
            Name(String),
            Full(Target),
        }
        let items: Vec<Item> = serde_json::from_str(trimmed).map_err(|e| {
            format!("invalid JSON ({e}); expected [\"name\", ...] or [{{\"name\": ..., \"vars\": {{...}}}}, ...]")
        })?;
        return Ok(items
            .into_iter()
            .map(|i| match i {
                Item::Name(name) => Target::named(name),
                Item::Full(t) => t,
            })
            .collect());
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !super::valid_name(line) {
            let shown: String = line.chars().take(60).collect();
            return Err(format!(
                "line {} ({shown:?}) is not a target name (letters, digits, `_`, `-`, `.`)",
                n + 1
            ));
        }
        out.push(Target::named(line));
    }
    Ok(out)
}

/// Run the list command from an argv vector (never a shell), confined by the kernel like a
/// plugin's programs: it reads the system and the config's folder, writes only a private
/// temp folder, and connects only to the ports the config names.
fn run(cmd: &TargetsCommand, base: &Path) -> Result<String, FleetError> {
    let fail = |why: String| {
        FleetError::Source(format!(
            "targets-command `{}` {why}",
            crate::text::for_terminal(&cmd.argv.join(" "))
        ))
    };
    let (program, args) = cmd
        .argv
        .split_first()
        .ok_or_else(|| fail("is empty; give the program and its arguments".into()))?;
    let program = crate::proc::resolve_program(program, base).map_err(|e| fail(e.to_string()))?;
    let tmp = tempfile::tempdir().map_err(|e| fail(format!("has no temp folder: {e}")))?;
    let confine = crate::confine::prepare(&crate::confine::Policy {
        exec: crate::confine::program_folders(&program),
        read: vec![base.to_path_buf()],
        write: vec![tmp.path().to_path_buf()],
        connect: cmd.connect.clone(),
    })
    .map_err(|e| fail(e.to_string()))?;
    let env = vec![
        ("PATH".to_string(), crate::proc::FIXED_PATH.to_string()),
        ("HOME".to_string(), tmp.path().display().to_string()),
        ("TMPDIR".to_string(), tmp.path().display().to_string()),
    ];
    let finished = crate::proc::run(crate::proc::Spawn {
        program,
        args: args.to_vec(),
        env,
        cwd: crate::proc::Cwd {
            path: base.to_path_buf(),
            dir: None,
        },
        confine,
        timeout: Duration::from_secs(cmd.timeout_secs),
        echo: None,
        stdin: None,
        stdout_to: None,
        max_output: MAX_LIST_BYTES + 1,
    })
    .map_err(|e| fail(format!("could not run: {e}")))?;
    if finished.exit_code != Some(0) {
        let tail: Vec<&str> = finished.stderr.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(fail(format!(
            "failed ({}): {}",
            match finished.exit_code {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            },
            crate::text::for_terminal(&tail.join(" | "))
        )));
    }
    if finished.truncated {
        return Err(fail(format!("printed over {MAX_LIST_BYTES} bytes")));
    }
    Ok(finished.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_are_both_lists() {
        let t = parse("# tenants\neu\n\n  us \n").unwrap();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["eu", "us"]
        );
        let t = parse(r#"["eu", {"name": "us", "vars": {"db": "shop_us"}}]"#).unwrap();
        assert_eq!(t[1].vars["db"], "shop_us");
    }

    #[test]
    fn garbage_is_refused_with_its_line() {
        let e = parse("eu\nrm -rf /\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[1, 2]").unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
        let e = parse(r#"[{"name": "x", "extra": 1}]"#).unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
    }
}
