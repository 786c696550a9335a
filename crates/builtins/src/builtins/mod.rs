//! The plugins built into the binary (`plugin = "builtin:NAME"` in the config): django-runner,
//! file-backup, pg-dump-backup and slack-notifier, embedded at build time (`crates/builtins/build.rs`).
//! They are trusted as the binary is, so a config pins no sha256 for them, and the host derives
//! their grant from the entry's settings ([`grants`]): a config needs no hashes or argv
//! patterns and survives upgrades of the runner.

mod grants;

pub use grants::{derive, to_toml};

/// A component embedded in the binary, and its sha256 (computed when it was embedded).
type Embedded = (&'static [u8], &'static str);

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The prefix that names a built-in in `plugin = "builtin:NAME"`.
pub const PREFIX: &str = "builtin:";

/// django-runner's helper script, as the embedded runner sends it with `manage.py shell -c`
/// (its derived grant pins this text's sha256).
pub const HELPER: &str = include_str!("../../../../plugins/django-runner/src/helper.py");

/// The text `migrate-in-session = true` sends: the helper after `PM_MIGRATE = True`.
pub fn helper_text(migrating: bool) -> String {
    if migrating {
        format!("PM_MIGRATE = True\n{HELPER}")
    } else {
        HELPER.to_string()
    }
}

/// One built-in plugin.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    embedded: Option<Embedded>,
}

/// Every built-in, in a fixed order.
pub fn all() -> Vec<Builtin> {
    EMBEDDED
        .iter()
        .map(|(name, embedded)| Builtin {
            name,
            embedded: *embedded,
        })
        .collect()
}

/// The built-in called `name` (without the `builtin:` prefix).
pub fn find(name: &str) -> Option<Builtin> {
    all().into_iter().find(|b| b.name == name)
}

/// The built-in `text` names when it is written `builtin:NAME`: `None` when it is not written
/// so, an error listing the built-ins when none has that name.
pub fn named(text: &str) -> Option<Result<Builtin, String>> {
    let name = text.strip_prefix(PREFIX)?;
    Some(find(name).ok_or_else(|| {
        format!(
            "there is no built-in plugin {text:?}; the built-ins are {}",
            names()
        )
    }))
}

/// The built-ins' names, for messages: `builtin:django-runner, builtin:file-backup, ...`.
pub fn names() -> String {
    all()
        .iter()
        .map(|b| format!("{PREFIX}{}", b.name))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Builtin {
    /// `builtin:NAME`, as the config writes it and messages show it.
    pub fn label(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }

    /// The component, or why this binary has none.
    pub fn bytes(&self) -> Result<&'static [u8], String> {
        self.embedded.map(|(b, _)| b).ok_or_else(|| {
            format!(
                "{} is not built into this binary (it was built before the plugins were); build it with `just build`, or install the release wheel (`pip install platform-migrate`)",
                self.label()
            )
        })
    }

    /// sha256 of the embedded component.
    pub fn sha256(&self) -> Option<&'static str> {
        self.embedded.map(|(_, sha)| sha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_named_and_found() {
        let all: Vec<&str> = all().iter().map(|b| b.name).collect();
        assert_eq!(
            all,
            [
                "django-runner",
                "file-backup",
                "pg-dump-backup",
                "slack-notifier"
            ]
        );
        assert!(find("django-runner").is_some());
        assert!(find("nope").is_none());
        assert!(names().contains("builtin:pg-dump-backup"), "{}", names());
    }

    #[test]
    fn the_embedded_sha256_is_that_of_the_embedded_bytes() {
        for b in all() {
            if let (Ok(bytes), Some(sha)) = (b.bytes(), b.sha256()) {
                assert_eq!(crate::digest::sha256_hex(bytes), sha, "{}", b.name);
            }
        }
    }

    #[test]
    fn the_migrating_helper_differs_from_the_plain_one_by_its_first_line() {
        let (plain, migrating) = (helper_text(false), helper_text(true));
        assert_eq!(migrating.strip_prefix("PM_MIGRATE = True\n"), Some(&*plain));
    }
}
