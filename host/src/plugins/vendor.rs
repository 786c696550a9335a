//! `plugin new --sdk vendor` (and the fallback when this binary's SDK sources are gone): the
//! SDK crate this binary was built with, written into the new plugin's folder as a crate of
//! its own (its WIT inside it, the workspace's inherited fields filled in), so that the plugin
//! builds with nothing from a platform-migrate checkout and nothing from crates.io but the
//! SDK's own dependencies.

use std::path::{Path, PathBuf};

/// The SDK's files, compiled in: (path inside the crate, contents).
macro_rules! sdk_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../sdk/", $path)))),*]
    };
}

/// Every file of the SDK crate but its manifest. A test checks that none is missing.
pub const FILES: &[(&str, &str)] = sdk_files![
    "src/lib.rs",
    "src/backup.rs",
    "src/config.rs",
    "src/http.rs",
    "src/log.rs",
    "src/notifier.rs",
    "src/process.rs",
    "src/runner.rs",
    "wit/since_v0.1.0/backup.wit",
    "wit/since_v0.1.0/config.wit",
    "wit/since_v0.1.0/host.wit",
    "wit/since_v0.1.0/log.wit",
    "wit/since_v0.1.0/notifier.wit",
    "wit/since_v0.1.0/process.wit",
    "wit/since_v0.1.0/runner.wit",
    "wit/since_v0.1.0/types.wit",
    "wit/since_v0.2.0/backup.wit",
    "wit/since_v0.2.0/config.wit",
    "wit/since_v0.2.0/host.wit",
    "wit/since_v0.2.0/log.wit",
    "wit/since_v0.2.0/notifier.wit",
    "wit/since_v0.2.0/process.wit",
    "wit/since_v0.2.0/runner.wit",
    "wit/since_v0.2.0/types.wit",
    "wit/since_v0.3.0/backup.wit",
    "wit/since_v0.3.0/config.wit",
    "wit/since_v0.3.0/host.wit",
    "wit/since_v0.3.0/log.wit",
    "wit/since_v0.3.0/notifier.wit",
    "wit/since_v0.3.0/process.wit",
    "wit/since_v0.3.0/runner.wit",
    "wit/since_v0.3.0/types.wit",
];

const MANIFEST: &str = include_str!("../../../sdk/Cargo.toml");
const WORKSPACE: &str = include_str!("../../../Cargo.toml");

/// The SDK's manifest with what it inherits from the workspace written out. It has no
/// `[workspace]` of its own: inside the plugin's folder it joins the plugin's workspace.
pub fn manifest() -> Result<String, String> {
    let ws: toml::Table = toml::from_str(WORKSPACE).map_err(|e| e.to_string())?;
    let mut m: toml::Table = toml::from_str(MANIFEST).map_err(|e| e.to_string())?;
    let package_fields = ws
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.as_table())
        .cloned()
        .unwrap_or_default();
    let deps = ws
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    let inherited = |v: &toml::Value| {
        v.as_table()
            .and_then(|t| t.get("workspace"))
            .and_then(toml::Value::as_bool)
            == Some(true)
    };
    if let Some(pkg) = m.get_mut("package").and_then(toml::Value::as_table_mut) {
        for (k, v) in pkg.iter_mut() {
            if inherited(v) {
                *v = package_fields
                    .get(k)
                    .cloned()
                    .ok_or_else(|| format!("the workspace has no package.{k}"))?;
            }
        }
        pkg.insert("publish".into(), toml::Value::Boolean(false));
    }
    if let Some(d) = m
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        for (k, v) in d.iter_mut() {
            if inherited(v) {
                *v = deps
                    .get(k)
                    .cloned()
                    .ok_or_else(|| format!("the workspace has no dependency {k}"))?;
            }
        }
    }
    let text = toml::to_string(&m).map_err(|e| e.to_string())?;
    Ok(format!(
        "# platform-migrate-sdk {} as vendored by `platform-migrate plugin new`; replace this\n# folder by a newer SDK (or a published release) when you upgrade the host.\n{text}",
        env!("CARGO_PKG_VERSION")
    ))
}

/// Write the SDK crate into `dir` (which must not exist or be empty).
pub fn write(dir: &Path) -> Result<(), String> {
    let manifest = manifest()?;
    let mut files: Vec<(PathBuf, &str)> =
        FILES.iter().map(|(p, text)| (dir.join(p), *text)).collect();
    files.push((dir.join("Cargo.toml"), manifest.as_str()));
    for (path, text) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of sdk/src and sdk/wit is compiled in: adding one without listing it here
    /// would vendor an SDK that does not build.
    #[test]
    fn every_sdk_file_is_vendored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        let mut on_disk = Vec::new();
        for dir in [
            "src",
            "wit/since_v0.1.0",
            "wit/since_v0.2.0",
            "wit/since_v0.3.0",
        ] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let name = e.unwrap().file_name().into_string().unwrap();
                on_disk.push(format!("{dir}/{name}"));
            }
        }
        for d in std::fs::read_dir(root.join("wit")).unwrap() {
            let name = d.unwrap().file_name().into_string().unwrap();
            assert!(
                ["since_v0.1.0", "since_v0.2.0", "since_v0.3.0"].contains(&name.as_str()),
                "sdk/wit/{name} is not vendored: add it to FILES"
            );
        }
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn the_vendored_manifest_stands_on_its_own() {
        let text = manifest().unwrap();
        assert!(!text.contains("workspace = true"), "{text}");
        let m: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(m["package"]["name"].as_str(), Some("platform-migrate-sdk"));
        assert_eq!(
            m["package"]["version"].as_str(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(m["dependencies"]["wit-bindgen"].as_str().is_some());
        assert!(m.get("workspace").is_none());
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("sdk")).unwrap();
        assert!(dir.path().join("sdk/wit/since_v0.2.0/runner.wit").is_file());
    }
}
