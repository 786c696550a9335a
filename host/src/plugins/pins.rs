//! `platform-migrate plugins list|lock`: the plugin files a config names, their sha256, the
//! pins in the config, and (list) whether each file loads in this host as the world its
//! environments use it for. `lock` writes `sha256 = "..."` into each `[plugins.NAME]` entry,
//! keeping the file's comments and layout; from then on a changed or replaced `.wasm` is
//! refused before it is compiled.

use crate::config::{Config, PluginConfig};
use crate::exit::{Code, Exit};
use crate::sandbox::{Sandbox, World};
use crate::secrets::Redactor;
use crate::ui::{Ui, Verbosity};
use std::collections::BTreeMap;

/// What the file on disk is, against its pin.
#[derive(Debug, PartialEq, Eq)]
pub enum Pin {
    Matches,
    Differs {
        pinned: String,
    },
    Unpinned,
    /// Embedded in the binary: trusted as the binary is, never pinned.
    Builtin,
}

/// A plugin entry's file, or a message saying how to get it.
fn read(p: &PluginConfig) -> Result<std::borrow::Cow<'static, [u8]>, Exit> {
    p.bytes().map_err(|e| match p.builtin {
        Some(_) => Exit::usage(format!("plugin '{}': {e}", p.name)),
        None => Exit::usage(format!(
            "plugin '{}': cannot read {}: {e}; build the plugins (`just plugins`) or fix plugins.{}.path",
            p.name,
            p.path.display(),
            p.name
        )),
    })
}

pub fn pin_state(p: &PluginConfig, actual: &str) -> Pin {
    if p.builtin.is_some() {
        return Pin::Builtin;
    }
    match &p.sha256 {
        None => Pin::Unpinned,
        Some((h, _)) if h == actual => Pin::Matches,
        Some((h, _)) => Pin::Differs { pinned: h.clone() },
    }
}

/// One entry of `plugins list`.
#[derive(serde::Serialize)]
struct Listed {
    name: String,
    path: String,
    /// `pinned`, `unpinned`, `builtin`, `changed` or `missing`.
    state: &'static str,
    sha256: Option<String>,
    size: Option<usize>,
    world: Option<&'static str>,
    wit_version: Option<String>,
    /// Why it cannot load, when it cannot.
    problem: Option<String>,
}

pub fn list(cfg: &Config, json: bool) -> Result<Code, Exit> {
    let mut bad = Vec::new();
    let sandbox = Sandbox::new(Redactor::default(), Ui::new(Verbosity::Quiet))
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    let mut worlds: BTreeMap<&str, World> = BTreeMap::new();
    let mut rows = Vec::new();
    for p in cfg.plugins.values() {
        let mut row = Listed {
            name: p.name.clone(),
            path: p.path.display().to_string(),
            state: "missing",
            sha256: None,
            size: None,
            world: None,
            wit_version: None,
            problem: None,
        };
        let bytes = match read(p) {
            Ok(b) => b,
            Err(e) => {
                row.problem = Some(e.message.clone());
                bad.push(e.message);
                rows.push(row);
                continue;
            }
        };
        let sha = crate::sandbox::cache::sha256_hex(&bytes);
        row.size = Some(bytes.len());
        row.state = match pin_state(p, &sha) {
            Pin::Builtin => "builtin",
            Pin::Matches => "pinned",
            Pin::Unpinned => "unpinned",
            Pin::Differs { pinned } => {
                bad.push(format!(
                    "plugin '{}': {} does not match its pin {pinned}; rebuild from a trusted source, or `platform-migrate plugins lock` if the change is yours",
                    p.name,
                    p.path.display()
                ));
                "changed"
            }
        };
        row.sha256 = Some(sha);
        // What the file is, checked as a run would load it (no plugin code runs).
        match sandbox.examine(&p.name, &p.path, &bytes, None) {
            Ok(e) => {
                row.world = Some(e.world.wit_name());
                row.wit_version = Some(e.wit_version.to_string());
                worlds.insert(&p.name, e.world);
            }
            Err(e) => {
                row.problem = Some(e.to_string());
                bad.push(e.to_string());
            }
        }
        rows.push(row);
    }
    if json {
        // One document (schemas/plugins-list.schema.json).
        let doc = serde_json::json!({ "schema_version": 1, "plugins": rows });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        // The name column is as wide as the longest name.
        let w = rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        for r in &rows {
            match (&r.sha256, r.size) {
                (Some(sha), Some(size)) => println!(
                    "{:<w$} {:<8} sha256:{sha}  {size} bytes  {}",
                    r.name,
                    if r.state == "changed" {
                        "CHANGED"
                    } else {
                        r.state
                    },
                    r.path
                ),
                _ => println!("{:<w$} MISSING  {}", r.name, r.path),
            }
            match (r.world, &r.wit_version, r.sha256.is_some()) {
                (Some(world), Some(v), _) => println!(
                    "{:<w$} {world} plugin, {}@{v}",
                    "",
                    crate::sandbox::versions::PACKAGE
                ),
                (_, _, true) => println!("{:<w$} CANNOT LOAD", ""),
                _ => {}
            }
        }
    }
    // Each environment's entries must be of the world their role needs.
    for env in cfg.envs.values() {
        let roles = std::iter::once(("runner", &env.runner, World::Runner))
            .chain(env.backup.iter().map(|b| ("backup", b, World::Backup)))
            .chain(
                env.notifiers
                    .iter()
                    .map(|n| ("notifiers", n, World::Notifier)),
            );
        for (role, entry, want) in roles {
            match worlds.get(entry.as_str()) {
                Some(w) if *w != want => bad.push(format!(
                    "env.{}.{role} names '{entry}', a {} plugin; name a {} plugin entry there",
                    env.name,
                    w.wit_name(),
                    want.wit_name()
                )),
                _ => {}
            }
        }
    }
    match crate::confine::support().gaps() {
        Some(gaps) if json => eprintln!("warning: {gaps}"),
        Some(gaps) => println!("warning: {gaps}"),
        None if json => {}
        None => println!(
            "programs plugins start are confined by the kernel (Landlock ABI {}: files, TCP ports, signals)",
            crate::confine::support().abi
        ),
    }
    match bad.first() {
        None => Ok(Code::Success),
        Some(first) => Err(Exit::failed(format!(
            "{first}{}",
            if bad.len() > 1 {
                format!(" (and {} more problems above)", bad.len() - 1)
            } else {
                String::new()
            }
        ))),
    }
}

pub fn lock(cfg: &Config, names: &[String]) -> Result<Code, Exit> {
    for n in names {
        if !cfg.plugins.contains_key(n) {
            let known: Vec<&str> = cfg.plugins.keys().map(String::as_str).collect();
            return Err(Exit::usage(format!(
                "no plugin entry '{n}' in {}; configured: {}",
                cfg.path.display(),
                known.join(", ")
            )));
        }
    }
    let text = std::fs::read_to_string(&cfg.path)
        .map_err(|e| Exit::failed(format!("cannot read {}: {e}", cfg.path.display())))?;
    let mut pins = Vec::new();
    for p in cfg.plugins.values() {
        if p.builtin.is_some() {
            // Trusted as the binary is; `lock` NAME on one says so.
            if names.contains(&p.name) {
                return Err(Exit::usage(format!(
                    "plugins.{} is a built-in ({}), trusted as this binary is; pins are for plugin files",
                    p.name,
                    p.path.display()
                )));
            }
            continue;
        }
        if names.is_empty() || names.contains(&p.name) {
            let sha = crate::sandbox::cache::sha256_hex(&read(p)?);
            pins.push((p.name.clone(), sha));
        }
    }
    let updated = write_pins(&text, &pins).map_err(|why| {
        Exit::failed(format!(
            "cannot write pins into {}: {why}",
            cfg.path.display()
        ))
    })?;
    if updated != text {
        replace(&cfg.path, &updated)?;
    }
    for (name, sha) in &pins {
        println!("pinned {name}: sha256 {sha}");
    }
    Ok(Code::Success)
}

/// The config text with `sha256 = "..."` set in each named plugin entry.
pub fn write_pins(text: &str, pins: &[(String, String)]) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let plugins = doc
        .get_mut("plugins")
        .ok_or("it has no [plugins] entries")?;
    for (name, sha) in pins {
        let entry = plugins
            .get_mut(name)
            .ok_or_else(|| format!("no entry plugins.{name}"))?;
        if let Some(t) = entry.as_table_mut() {
            t.insert("sha256", toml_edit::value(sha.as_str()));
        } else if let Some(t) = entry.as_inline_table_mut() {
            t.insert("sha256", sha.as_str().into());
            t.fmt();
        } else {
            return Err(format!("plugins.{name} is not a table"));
        }
    }
    Ok(doc.to_string())
}

/// Replace the config atomically, keeping its permissions.
fn replace(path: &std::path::Path, text: &str) -> Result<(), Exit> {
    crate::atomic::replace(path, text.as_bytes())
        .map_err(|e| Exit::failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::write_pins;

    #[test]
    fn pins_go_into_tables_and_inline_tables_keeping_comments() {
        let text = "# my config\n[plugins.a]\npath = \"a.wasm\" # built by just\n\n[plugins.a.settings]\nx = 1\n\n[plugins]\nb = { path = \"b.wasm\" }\n";
        let text = text.replace("\n[plugins]\nb", "\n[plugins.b]\npath = \"b.wasm\"\n#\nc");
        let out = write_pins(
            &text,
            &[("a".into(), "aa".repeat(32)), ("b".into(), "bb".repeat(32))],
        )
        .unwrap();
        assert!(out.starts_with("# my config\n[plugins.a]\npath = \"a.wasm\" # built by just\n"));
        assert!(out.contains(&format!("sha256 = \"{}\"", "aa".repeat(32))));
        assert!(out.contains(&format!("sha256 = \"{}\"", "bb".repeat(32))));
        // Pinning again replaces, never duplicates.
        let again = write_pins(&out, &[("a".into(), "cc".repeat(32))]).unwrap();
        assert_eq!(again.matches("sha256").count(), 2);
        assert!(again.contains(&"cc".repeat(32)));
    }

    #[test]
    fn inline_entries_are_pinned_too() {
        let out = write_pins(
            "[plugins]\nz = { path = \"z.wasm\" }\n",
            &[("z".into(), "dd".repeat(32))],
        )
        .unwrap();
        assert!(
            out.contains(&format!(
                "z = {{ path = \"z.wasm\", sha256 = \"{}\" }}",
                "dd".repeat(32)
            )),
            "{out}"
        );
        assert!(write_pins("x = 1\n", &[("z".into(), "d".into())]).is_err());
    }
}
