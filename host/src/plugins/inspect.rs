//! `plugin inspect FILE.wasm` and `plugin check FILE.wasm`: what a plugin file is and whether
//! this host loads it. `check` never runs plugin code; `inspect` runs only `describe`, in a
//! sandbox with no grants, to read the capabilities the plugin declares.

use crate::config::PluginConfig;
use crate::exit::{Code, Exit};
use crate::sandbox::{self, Examined, Sandbox, World};
use crate::secrets::Redactor;
use crate::ui::{Ui, Verbosity};
use serde_json::json;
use std::path::Path;

/// The name messages use for a file given on the command line.
fn name_of(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

/// The component `file` names: a `.wasm` file, or `builtin:NAME`.
fn bytes_of(file: &Path) -> Result<std::borrow::Cow<'static, [u8]>, Exit> {
    if let Some(found) = crate::builtins::named(&file.to_string_lossy()) {
        return found
            .and_then(|b| b.bytes())
            .map(std::borrow::Cow::Borrowed)
            .map_err(Exit::usage);
    }
    std::fs::read(file).map(std::borrow::Cow::Owned).map_err(|e| {
        Exit::usage(format!(
            "cannot read plugin file {}: {e}; name a built .wasm component (cargo build --release --target wasm32-wasip2 puts it under target/wasm32-wasip2/release/), a built-in ({}) or a plugin entry of the config",
            file.display(),
            crate::builtins::names()
        ))
    })
}

fn examine(file: &Path, want: Option<World>) -> Result<(Sandbox, Examined), Exit> {
    let bytes = bytes_of(file)?;
    let sandbox = Sandbox::new(Redactor::default(), Ui::new(Verbosity::Quiet))
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    let examined = sandbox.examine(&name_of(file), file, &bytes, want)?;
    Ok((sandbox, examined))
}

pub fn check(file: &Path, want: Option<World>, json: bool) -> Result<Code, Exit> {
    let (_, e) = examine(file, want)?;
    if json {
        println!(
            "{}",
            json!({
                "file": file.display().to_string(),
                "ok": true,
                "world": e.world.wit_name(),
                "wit_version": e.wit_version,
                "sha256": e.sha256,
            })
        );
    } else {
        println!(
            "ok: {} is a {} plugin for platform:migrate@{}; this host loads it",
            file.display(),
            e.world.wit_name(),
            e.wit_version
        );
    }
    Ok(Code::Success)
}

/// A plugin entry of the config: described with its own settings, and its grants checked
/// against what it declares.
pub fn inspect_entry(cfg: &crate::config::Config, name: &str, json: bool) -> Result<Code, Exit> {
    let Some(entry) = cfg.plugins.get(name) else {
        let known: Vec<&str> = cfg.plugins.keys().map(String::as_str).collect();
        return Err(Exit::usage(format!(
            "{name} is neither a file nor a plugin entry of {}; give a .wasm path or one of: {}",
            cfg.path.display(),
            known.join(", ")
        )));
    };
    report(&entry.path, Some((&cfg.base_dir, entry)), json)
}

pub fn inspect(file: &Path, json: bool) -> Result<Code, Exit> {
    report(file, None, json)
}

/// Inspect `file`; with an entry, as that entry (settings, grants) rather than bare.
fn report(file: &Path, entry: Option<(&Path, &PluginConfig)>, json: bool) -> Result<Code, Exit> {
    let (sandbox, e) = examine(file, None)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new("/").to_path_buf());
    let bare = PluginConfig::bare(&name_of(file), file);
    let (base_dir, config) = entry.unwrap_or((&cwd, &bare));
    let info = sandbox.describe_entry(base_dir, config, e.world)?;
    // For an entry: do its grants cover what it declares? (A run checks the same at step 1.)
    let coverage = entry.map(|(_, c)| {
        crate::plugin_api::check_needs(c, &info).map_err(|e| match e {
            crate::plugin_api::OpenError::Settings(e) => (Code::Usage, e.to_string()),
            other => (Code::Denied, other.to_string()),
        })
    });
    let interfaces = e.shape.host_interfaces();
    let denied = |c: &Option<Result<(), (Code, String)>>| match c {
        Some(Err((code, missing))) => Err(Exit::new(*code, missing.clone())),
        _ => Ok(Code::Success),
    };
    let settings_json = info.settings.as_ref().map(|list| {
        list.iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "type": s.kind.word(),
                    "required": s.required,
                    "default": s.default,
                    "secret": s.secret,
                    "description": s.description,
                })
            })
            .collect::<Vec<_>>()
    });
    if json {
        let caps: Vec<_> = info
            .needs
            .iter()
            .map(|n| {
                let (kind, value) = n.parts();
                json!({ "kind": kind, "value": value })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": file.display().to_string(),
                "size": e.size,
                "sha256": e.sha256,
                "world": e.world.wit_name(),
                "kind": e.world.kind(),
                "wit_package": sandbox::versions::PACKAGE,
                "wit_version": e.wit_version,
                "name": info.name,
                "version": info.version,
                "description": info.description,
                "capabilities": caps,
                "settings": settings_json,
                "grants": crate::policy::grants_toml(&info.needs),
                "host_interfaces": interfaces,
                "imports": e.shape.imports,
                "exports": e.shape.exports,
                "entry": entry.map(|(_, c)| c.name.clone()),
                "builtin": config.builtin.map(|b| format!("{}{b}", crate::builtins::PREFIX)),
                "derived_grant": config.derived_grant,
                "grants_cover_needs": coverage.as_ref().map(|c| c.is_ok()),
                "missing_grant": coverage.as_ref().and_then(|c| c.as_ref().err().map(|e| e.1.clone())),
            }))
            .unwrap_or_default()
        );
        return denied(&coverage);
    }
    if entry.is_some() {
        println!("entry         plugins.{}", config.name);
    }
    println!("file          {}", file.display());
    println!("size          {} bytes", e.size);
    println!("sha256        {}", e.sha256);
    println!(
        "world         {} (--kind {})",
        e.world.wit_name(),
        e.world.kind()
    );
    println!(
        "wit           {}@{} (loads in this host)",
        sandbox::versions::PACKAGE,
        e.wit_version
    );
    println!("plugin        {} {}", info.name, info.version);
    println!("description   {}", info.description);
    if info.needs.is_empty() {
        println!("capabilities  none declared");
    } else {
        for (i, n) in info.needs.iter().enumerate() {
            let (kind, value) = n.parts();
            let label = if i == 0 { "capabilities" } else { "" };
            println!("{label:<13} {kind} {value}");
        }
    }
    print_settings(info.settings.as_deref());
    for (i, what) in interfaces.iter().enumerate() {
        let label = if i == 0 { "uses" } else { "" };
        println!("{label:<13} {what}");
    }
    if let Some(lines) = config.derived_grant.as_deref() {
        println!("grant         derived by the host from the settings (builtin: trusted, no sha256 pin):");
        println!("[plugins.{}.grants]", config.name);
        println!("{lines}");
        let secrets: Vec<&str> = config.secrets.keys().map(String::as_str).collect();
        if !secrets.is_empty() {
            println!("# secrets read: {}", secrets.join(", "));
        }
    }
    match &coverage {
        Some(Ok(())) => println!("grants        cover every declared capability"),
        Some(Err((Code::Usage, problem))) => println!("settings      WRONG: {problem}"),
        Some(Err((_, missing))) => println!("grants        MISSING: {missing}"),
        None => {}
    }
    if entry.is_some() {
        return denied(&coverage);
    }
    println!();
    let builtin = file.to_string_lossy().starts_with(crate::builtins::PREFIX);
    if builtin {
        println!("# A config entry for it (fill in the capitals; the host derives its grant from the settings):");
    } else {
        println!("# A config entry for it (fill in the capitals; `platform-migrate plugins lock` re-pins after a rebuild):");
    }
    println!("[plugins.{}]", info.name);
    if builtin {
        // Its grant is derived from the settings: `plugin inspect ENTRY` prints it.
        println!("plugin = {:?}", file.display().to_string());
    } else {
        let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        println!("path = {:?}", abs.display().to_string());
        println!("sha256 = \"{}\"", e.sha256);
    }
    let required: Vec<_> = info
        .settings
        .iter()
        .flatten()
        .filter(|s| s.required)
        .collect();
    if !required.is_empty() {
        println!("[plugins.{}.settings]", info.name);
        for s in required {
            println!("{} = {}  # {}", s.name, placeholder(s.kind), s.description);
        }
    }
    if !info.needs.is_empty() && !builtin {
        println!("[plugins.{}.grants]", info.name);
        for line in crate::policy::grants_toml(&info.needs) {
            println!("{line}");
        }
    }
    Ok(Code::Success)
}

/// The `settings` lines: one per declared setting, aligned.
fn print_settings(settings: Option<&[crate::plugin_api::SettingSpec]>) {
    let Some(list) = settings else {
        println!("settings      not declared (the plugin gets whatever its entry sets, unchecked)");
        return;
    };
    if list.is_empty() {
        println!("settings      none (an entry that sets any is refused)");
        return;
    }
    let name_w = list.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let kind_w = list.iter().map(|s| s.kind.word().len()).max().unwrap_or(0);
    for (i, s) in list.iter().enumerate() {
        let label = if i == 0 { "settings" } else { "" };
        let mut notes = Vec::new();
        if s.required {
            notes.push("required".to_string());
        }
        if let Some(d) = &s.default {
            notes.push(format!("default {d}"));
        }
        if s.secret {
            notes.push("names a secret".to_string());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        println!(
            "{label:<13} {:<name_w$}  {:<kind_w$}  {}{notes}",
            s.name,
            s.kind.word(),
            s.description
        );
    }
}

/// A value to fill in, of the right TOML type.
fn placeholder(kind: crate::plugin_api::SettingKind) -> &'static str {
    use crate::plugin_api::SettingKind as K;
    match kind {
        K::Text | K::Any => "\"VALUE\"",
        K::Integer | K::Number => "0",
        K::Boolean => "false",
        K::TextList => "[\"VALUE\"]",
        K::TextTable => "{ KEY = \"VALUE\" }",
    }
}
