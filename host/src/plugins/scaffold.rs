//! `plugin new --kind notifier|backup|runner NAME`: write a plugin crate that builds to a
//! working component with `cargo build --release --target wasm32-wasip2` and whose unit tests
//! pass with `cargo test`. The templates live in `host/templates/plugin/` and are compiled in.

use crate::exit::{Code, Exit};
use crate::sandbox::World;
use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("../../templates/plugin/Cargo.toml.tmpl");
const README: &str = include_str!("../../templates/plugin/README.md.tmpl");
const GITIGNORE: &str = include_str!("../../templates/plugin/gitignore.tmpl");
const NOTIFIER: &str = include_str!("../../templates/plugin/notifier.rs.tmpl");
const NOTIFIER_TOML: &str = include_str!("../../templates/plugin/notifier.toml.tmpl");
const BACKUP: &str = include_str!("../../templates/plugin/backup.rs.tmpl");
const BACKUP_TOML: &str = include_str!("../../templates/plugin/backup.toml.tmpl");
const RUNNER: &str = include_str!("../../templates/plugin/runner.rs.tmpl");
const RUNNER_TOML: &str = include_str!("../../templates/plugin/runner.toml.tmpl");

/// The SDK next to this binary's sources, when they are still where it was built.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// A plugin name: lowercase ASCII letters, digits and `-`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64
}

/// Where the new crate gets the SDK from.
#[derive(Debug, PartialEq, Eq)]
pub enum Sdk {
    /// `path = "..."` or `version = "..."`, as written in the dependency.
    Source(String),
    /// The SDK this binary carries, written into the plugin's folder (`--sdk vendor`).
    Vendored,
}

/// The folder, inside the new plugin's, that a vendored SDK goes to.
pub const VENDORED_DIR: &str = "platform-migrate-sdk";

/// Where the SDK comes from: `--sdk PATH`, `--sdk VERSION`, `--sdk vendor`, or by default the
/// SDK this binary was built from when its sources are still there, else vendored.
pub fn sdk_source(sdk: Option<&str>) -> Result<Sdk, Exit> {
    let as_path = |p: &Path| -> Result<Sdk, Exit> {
        let dir = p.canonicalize().map_err(|e| {
            Exit::usage(format!(
                "--sdk {}: {e}; give the SDK crate's folder (sdk/ in platform-migrate), `vendor`, or a version like 0.2",
                p.display()
            ))
        })?;
        if !dir.join("Cargo.toml").is_file() {
            return Err(Exit::usage(format!(
                "--sdk {}: no Cargo.toml there; give the SDK crate's folder (sdk/ in platform-migrate)",
                p.display()
            )));
        }
        Ok(Sdk::Source(format!(
            "path = {:?}",
            dir.display().to_string()
        )))
    };
    match sdk {
        Some("vendor") => Ok(Sdk::Vendored),
        Some(s) if s.contains('/') || Path::new(s).exists() => as_path(Path::new(s)),
        Some(v) if semver::VersionReq::parse(v).is_ok() => Ok(Sdk::Source(format!("version = {v:?}"))),
        Some(v) => Err(Exit::usage(format!(
            "--sdk {v}: neither a folder, `vendor` nor a version; give the SDK's folder, `vendor`, or a version like 0.2"
        ))),
        None if Path::new(BUILT_FROM_SDK).join("Cargo.toml").is_file() => {
            as_path(Path::new(BUILT_FROM_SDK))
        }
        None => {
            eprintln!(
                "note: the SDK sources this binary was built from ({BUILT_FROM_SDK}) are gone, and platform-migrate-sdk is not on crates.io yet: the SDK this binary carries is written into the plugin's folder ({VENDORED_DIR}/). Pass --sdk PATH to use the sdk/ folder of a platform-migrate checkout instead"
            );
            Ok(Sdk::Vendored)
        }
    }
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// The files of a new plugin crate, as (relative path, contents).
pub fn render(world: World, name: &str, dir: &Path, sdk: &str) -> Vec<(PathBuf, String)> {
    let crate_name = name.replace('-', "_");
    let (source, config, description) = match world {
        World::Notifier => (
            NOTIFIER,
            NOTIFIER_TOML,
            "Writes a summary of each run into the log",
        ),
        World::Backup => (
            BACKUP,
            BACKUP_TOML,
            "Copies a file into the backup directory",
        ),
        World::Runner => (
            RUNNER,
            RUNNER_TOML,
            "Applies plain SQL migration files to SQLite",
        ),
    };
    let wasm = dir
        .join("target/wasm32-wasip2/release")
        .join(format!("{crate_name}.wasm"))
        .display()
        .to_string();
    let vars_base = [
        ("name", name),
        ("crate", crate_name.as_str()),
        ("kind", world.kind()),
        ("world", world.wit_name()),
        ("description", description),
        ("sdk", sdk),
        ("wasm", wasm.as_str()),
    ];
    let config = fill(config, &vars_base);
    let mut vars = vars_base.to_vec();
    vars.push(("config", config.trim_end()));
    vec![
        ("Cargo.toml".into(), fill(CARGO_TOML, &vars)),
        ("README.md".into(), fill(README, &vars)),
        (".gitignore".into(), fill(GITIGNORE, &vars)),
        ("src/lib.rs".into(), fill(source, &vars)),
    ]
}

pub fn main(world: World, name: &str, dir: Option<&Path>, sdk: Option<&str>) -> Result<Code, Exit> {
    if !valid_name(name) {
        return Err(Exit::usage(format!(
            "plugin name {name:?} is not valid; use lowercase letters, digits and '-', starting with a letter (e.g. team-webhook)"
        )));
    }
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Exit::usage(format!(
            "{} already exists and is not empty; nothing was written. Choose another name or --dir",
            dir.display()
        )));
    }
    let sdk = sdk_source(sdk)?;
    let fail =
        |p: &Path, e: std::io::Error| Exit::failed(format!("cannot write {}: {e}", p.display()));
    std::fs::create_dir_all(dir.join("src")).map_err(|e| fail(&dir, e))?;
    let abs = dir.canonicalize().map_err(|e| fail(&dir, e))?;
    let sdk = match sdk {
        Sdk::Source(s) => s,
        Sdk::Vendored => {
            super::vendor::write(&abs.join(VENDORED_DIR)).map_err(Exit::failed)?;
            format!("path = \"{VENDORED_DIR}\"")
        }
    };
    for (rel, text) in render(world, name, &abs, &sdk) {
        let path = abs.join(rel);
        std::fs::write(&path, text).map_err(|e| fail(&path, e))?;
    }
    let crate_name = name.replace('-', "_");
    println!(
        "created {} plugin '{name}' in {}",
        world.wit_name(),
        abs.display()
    );
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  rustup target add wasm32-wasip2   # once per toolchain");
    println!("  cargo test");
    println!("  cargo build --release --target wasm32-wasip2");
    println!("  platform-migrate plugin inspect target/wasm32-wasip2/release/{crate_name}.wasm");
    println!(
        "then paste the config entry from README.md (or from inspect) into platform-migrate.toml"
    );
    Ok(Code::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("team-webhook"));
        assert!(valid_name("s3backup2"));
        for bad in ["", "Team", "-x", "x-", "a b", "a_b", "../x", "1x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_the_manifest_parses() {
        for world in World::ALL {
            let files = render(
                world,
                "my-plugin",
                Path::new("/tmp/my-plugin"),
                "path = \"/sdk\"",
            );
            for (path, text) in &files {
                assert!(
                    !text.contains("{{"),
                    "{} of {world:?} keeps a placeholder",
                    path.display()
                );
            }
            let manifest: toml::Table = toml::from_str(&files[0].1).unwrap();
            let sdk = &manifest["dependencies"]["platform-migrate-sdk"];
            assert_eq!(sdk["features"][0].as_str(), Some(world.kind()));
            assert_eq!(manifest["package"]["name"].as_str(), Some("my-plugin"));
            assert!(
                files[3].1.contains("const NAME: &str = \"my-plugin\";"),
                "describe names the plugin"
            );
        }
    }

    #[test]
    fn sdk_versions_and_paths() {
        assert_eq!(
            sdk_source(Some("0.1")).unwrap(),
            Sdk::Source("version = \"0.1\"".into())
        );
        assert_eq!(sdk_source(Some("vendor")).unwrap(), Sdk::Vendored);
        assert!(sdk_source(Some("/definitely/not/here")).is_err());
        assert!(sdk_source(Some("banana split")).is_err());
        assert!(matches!(sdk_source(None).unwrap(), Sdk::Source(s) if s.starts_with("path = ")));
    }
}
