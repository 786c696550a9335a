//! Which versions of the `platform:migrate` WIT package this host loads, and which version a
//! plugin was built against. Free of wasmtime: it works on import names, so it is unit tested
//! on its own. The policy it implements is written down in PLUGINS.md ("Versions").
//!
//! A component records the WIT version it was built against in the names of its imports:
//! `platform:migrate/log@0.1.0`. The host keeps each version it supports in `sdk/wit/since_vX.Y.Z`
//! with its own bindings, and loads a plugin when one of them is *compatible*: same major
//! version (for 0.x: same minor), and not older than the plugin's (a plugin built against
//! 0.1.2 may use things 0.1.0 lacks).

use semver::Version;
use std::collections::BTreeSet;

/// The WIT package of the plugin contract.
pub const PACKAGE: &str = "platform:migrate";

/// Every WIT package version this host has bindings for, oldest first. Adding a version means
/// adding `sdk/wit/since_vX.Y.Z` and its bindings; removing one is a breaking change of the host.
pub const SUPPORTED: &[&str] = &["0.1.0", "0.2.0", "0.3.0"];

/// A supported WIT version, as the host dispatches on it: a call goes to the bindings of the
/// plugin's version, and an export a later version added is `Unsupported` for older plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wit {
    V0_1,
    V0_2,
    V0_3,
}

impl Wit {
    /// Every variant, oldest first (the same list as `SUPPORTED`, which a test checks).
    pub const ALL: [Wit; 3] = [Wit::V0_1, Wit::V0_2, Wit::V0_3];
    /// The newest: what the SDK builds against.
    pub const NEWEST: Wit = Wit::V0_3;

    /// `0.2.0` and so on.
    pub fn as_str(self) -> &'static str {
        match self {
            Wit::V0_1 => "0.1.0",
            Wit::V0_2 => "0.2.0",
            Wit::V0_3 => "0.3.0",
        }
    }

    /// The supported version `version` names exactly (what `resolve` returns).
    pub fn of(version: &str) -> Option<Wit> {
        Wit::ALL.into_iter().find(|w| w.as_str() == version)
    }
}

impl std::fmt::Display for Wit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// sha256 of each published version's WIT files (name, NUL, contents, NUL, in name order).
/// Published versions are frozen: a test fails when `sdk/wit/since_vX.Y.Z` changes, because
/// components built against it would no longer match what the host links. Change the contract
/// by adding a new version next to it (PLUGINS.md, "Versions").
#[cfg(test)]
pub const FROZEN: &[(&str, &str)] = &[
    (
        "0.1.0",
        "de5e42bbf3f152e3252a65a639c06b14e9767fa95f2afa7035a8922b9c7a15a8",
    ),
    (
        "0.2.0",
        "96c6a84d541198912dd302556d4aa10199e78d8e803c20e1f596f5a8e6627681",
    ),
    (
        "0.3.0",
        "61ff58ea8869bbf744983c3cbec48b19d0323f1c5f3773df634192def973f2ed",
    ),
];

/// Why a plugin's WIT version cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("it was built against {PACKAGE}@{found}, but this host loads {PACKAGE}@{} only; rebuild it with platform-migrate-sdk {} (or a WIT package compatible with it), or use a platform-migrate release that supports {found}", supported_list(), sdk_line())]
    Unsupported { found: String },
    #[error("it imports several versions of {PACKAGE} ({}); rebuild it against one version", .found.join(", "))]
    Mixed { found: Vec<String> },
    #[error("it does not import any {PACKAGE} interface, so the WIT version it was built against is unknown; build it with platform-migrate-sdk or against the WIT package in the SDK's wit/")]
    Missing,
}

fn supported_list() -> String {
    SUPPORTED.join(", ")
}

/// The SDK release line that builds components for the newest supported version (`0.2`).
pub fn sdk_line() -> String {
    match Version::parse(Wit::NEWEST.as_str()) {
        Ok(v) if v.major == 0 => format!("0.{}", v.minor),
        Ok(v) => v.major.to_string(),
        Err(_) => Wit::NEWEST.to_string(),
    }
}

/// `platform:migrate/log@0.1.0` → `Some("0.1.0")`; names of other packages → `None`.
pub fn package_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    let (_, version) = rest.split_once('@')?;
    Some(version)
}

/// True when a host providing `host` satisfies a plugin built against `plugin`.
pub fn compatible(host: &Version, plugin: &Version) -> bool {
    let same_line = if host.major == 0 {
        plugin.major == 0 && host.minor == plugin.minor
    } else {
        host.major == plugin.major
    };
    same_line && host >= plugin
}

/// The supported version that loads a plugin whose imports name `versions`.
pub fn resolve<'a>(versions: impl IntoIterator<Item = &'a str>) -> Result<String, VersionError> {
    let found: BTreeSet<&str> = versions.into_iter().collect();
    let found: Vec<&str> = found.into_iter().collect();
    let version = match found.as_slice() {
        [] => return Err(VersionError::Missing),
        [one] => *one,
        many => {
            return Err(VersionError::Mixed {
                found: many.iter().map(|s| s.to_string()).collect(),
            })
        }
    };
    let unsupported = || VersionError::Unsupported {
        found: version.to_string(),
    };
    let wanted = Version::parse(version).map_err(|_| unsupported())?;
    SUPPORTED
        .iter()
        .rev()
        .filter_map(|s| Version::parse(s).ok())
        .find(|s| compatible(s, &wanted))
        .map(|s| s.to_string())
        .ok_or_else(unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn the_typed_versions_are_the_supported_ones() {
        let typed: Vec<&str> = Wit::ALL.iter().map(|w| w.as_str()).collect();
        assert_eq!(typed, SUPPORTED);
        assert_eq!(Wit::NEWEST.as_str(), *SUPPORTED.last().unwrap());
        assert_eq!(Wit::of("0.2.0"), Some(Wit::V0_2));
        assert_eq!(Wit::of("0.2"), None);
    }

    #[test]
    fn versions_come_from_import_names() {
        assert_eq!(package_version("platform:migrate/log@0.1.0"), Some("0.1.0"));
        assert_eq!(
            package_version("platform:migrate/types@2.0.0-rc1"),
            Some("2.0.0-rc1")
        );
        assert_eq!(package_version("wasi:http/types@0.2.6"), None);
        assert_eq!(package_version("platform:migrate/log"), None);
        assert_eq!(package_version("platform:migrations/log@0.1.0"), None);
    }

    #[test]
    fn compatibility_follows_semver_with_zero_minor_as_major() {
        assert!(compatible(&v("0.1.0"), &v("0.1.0")));
        assert!(compatible(&v("0.1.3"), &v("0.1.0")), "newer patch host");
        assert!(!compatible(&v("0.1.0"), &v("0.1.3")), "plugin needs newer");
        assert!(
            !compatible(&v("0.2.0"), &v("0.1.0")),
            "0.x minor is breaking"
        );
        assert!(compatible(&v("1.4.0"), &v("1.2.0")));
        assert!(!compatible(&v("2.0.0"), &v("1.2.0")));
        assert!(!compatible(&v("1.0.0"), &v("0.1.0")));
    }

    /// The hash `FROZEN` records for a WIT folder.
    fn wit_hash(dir: &std::path::Path) -> String {
        use sha2::{Digest, Sha256};
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut h = Sha256::new();
        for n in names {
            h.update(n.as_bytes());
            h.update([0]);
            h.update(std::fs::read(dir.join(&n)).unwrap());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    #[test]
    fn published_wit_versions_are_frozen() {
        let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/wit");
        for v in SUPPORTED {
            let (_, want) = FROZEN
                .iter()
                .find(|(f, _)| f == v)
                .unwrap_or_else(|| panic!("supported version {v} has no FROZEN hash"));
            let dir = wit.join(format!("since_v{v}"));
            assert_eq!(
                &wit_hash(&dir),
                want,
                "{} changed, but published WIT versions are frozen: put the change in a new \
                 sdk/wit/since_vX.Y.Z and add it to SUPPORTED (PLUGINS.md, Versions)",
                dir.display()
            );
            let text = std::fs::read_to_string(dir.join("types.wit")).unwrap();
            assert!(text.contains(&format!("package {PACKAGE}@{v};")), "{v}");
        }
    }

    #[test]
    fn resolve_names_both_versions_when_refusing() {
        assert_eq!(resolve(["0.1.0", "0.1.0"]).unwrap(), "0.1.0");
        let e = resolve(["0.9.0"]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("platform:migrate@0.9.0"), "{text}");
        assert!(text.contains("platform:migrate@0.1.0"), "{text}");
        assert!(text.contains("platform-migrate-sdk 0.3"), "{text}");
        assert_eq!(resolve([]).unwrap_err(), VersionError::Missing);
        assert!(matches!(
            resolve(["0.1.0", "0.2.0"]),
            Err(VersionError::Mixed { .. })
        ));
        assert!(matches!(
            resolve(["banana"]),
            Err(VersionError::Unsupported { .. })
        ));
    }
}
