//! `plugin = "builtin:NAME"` entries: the built-in named, and its grant derived from the
//! entry's settings (`builtins::derive`), narrowed by what the entry's own `grants` keeps.
//! A narrowed grant may drop what the built-in can do without (`--make`, fixtures, restore),
//! never add to it, and never drop what it cannot work without.

use super::raw::{RawGrants, RawPlugin};
use super::{ConfigError, SecretSource, Source};
use crate::builtins::{self, Builtin};
use crate::policy::CommandGrant;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The built-in `plugin = "builtin:NAME"` names, or an error listing them.
pub(super) fn find(src: &Source<'_>, written: &Spanned<String>) -> Result<Builtin, ConfigError> {
    let text = written.get_ref();
    let found = builtins::named(text).unwrap_or_else(|| {
        Err(format!(
            "plugin = {text:?} is not a built-in; name one of {} (a plugin file goes in path = \"FILE.wasm\")",
            builtins::names()
        ))
    });
    found.map_err(|message| src.err(written.span(), message))
}

/// The derived grant's text (what `plugin inspect ENTRY` prints, and where the checks of
/// the grant point), and the grant read from it, narrowed by the entry's own.
pub(super) fn grants(
    src: &Source<'_>,
    entry_at: Range<usize>,
    name: &str,
    builtin: &str,
    p: &RawPlugin,
    secrets: &BTreeMap<String, SecretSource>,
) -> Result<(String, RawGrants), ConfigError> {
    let settings: BTreeMap<String, toml::Value> = p
        .settings
        .iter()
        .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
        .collect();
    let derived = builtins::derive(builtin, &settings).map_err(|e| {
        let at = e
            .key
            .as_ref()
            .and_then(|k| p.settings.iter().find(|(key, _)| key.get_ref() == k))
            .map(|(_, v)| v.span())
            .unwrap_or_else(|| entry_at.clone());
        src.err(
            at,
            format!("plugins.{name} (builtin:{builtin}): {}", e.message),
        )
    })?;
    // Every secret the settings name needs a source in the entry; no other may be granted.
    let named: Vec<String> = derived
        .grants
        .get("secrets")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(missing) = named.iter().find(|s| !secrets.contains_key(*s)) {
        return Err(src.err(
            entry_at,
            format!("plugins.{name}: its settings name the secret '{missing}', which has no source; add grants.secrets.{missing} = {{ env = \"VAR\" }} (or {{ file = \"PATH\" }})"),
        ));
    }
    if let Some((extra, at)) = p.grants.secrets.iter().find(|(s, _)| !named.contains(s)) {
        return Err(src.err(
            at.span(),
            format!("plugins.{name}.grants.secrets.{extra}: no setting of builtin:{builtin} names this secret, so it would only widen the grant; remove it or name it in the settings"),
        ));
    }
    let mut table = derived.grants;
    table.remove("secrets");
    narrow(
        src,
        name,
        builtin,
        &mut table,
        &p.grants,
        derived.required_commands,
    )?;
    let text = crate::builtins::to_toml(&table).join("\n");
    let mut grants: RawGrants = toml::from_str(&text).map_err(|e| {
        src.err(
            entry_at.clone(),
            format!("plugins.{name}: the grant derived for builtin:{builtin} does not read back ({}); this is a bug, please report it", e.message()),
        )
    })?;
    grants.timeout_secs = p.grants.timeout_secs;
    Ok((text, grants))
}

/// Keep of the derived grant `full` only what `own` (the entry's `grants`) keeps, where it
/// writes a key.
fn narrow(
    src: &Source<'_>,
    name: &str,
    builtin: &str,
    full: &mut toml::Table,
    own: &RawGrants,
    required: usize,
) -> Result<(), ConfigError> {
    let inspect = format!("`platform-migrate plugin inspect {name}` prints the derived grant");
    let widens = |span: Range<usize>, what: String| {
        src.err(
            span,
            format!("plugins.{name}.grants: {what} is not in the grant derived for builtin:{builtin}; a built-in's grant can only be narrowed ({inspect}); for more, use the plugin file (path = ...) with a grant of your own"),
        )
    };
    let fixed = |span: Range<usize>, key: &str| {
        src.err(
            span,
            format!("plugins.{name}.grants.{key} comes from the settings of builtin:{builtin} and cannot be written here; change the settings instead ({inspect})"),
        )
    };
    if let Some(d) = own.dirs.first() {
        return Err(fixed(d.guest.span(), "dirs"));
    }
    if let Some(e) = own.env.first() {
        return Err(fixed(e.span(), "env"));
    }
    if let Some(e) = own.inherit_env.first() {
        return Err(fixed(e.span(), "inherit-env"));
    }
    if let Some(c) = own.confine.connect.first() {
        return Err(fixed(c.span(), "confine.connect"));
    }
    if let Some(c) = own.confine.connect_url.first() {
        return Err(fixed(c.span(), "confine.connect-url"));
    }
    if let Some(r) = own.confine.read.first() {
        return Err(widens(r.span(), format!("confine.read {:?}", r.get_ref())));
    }
    if let Some(first) = own.commands.first() {
        let derived: Vec<CommandGrant> = list(full, &["commands"])
            .iter()
            .filter_map(|v| v.clone().try_into().ok())
            .collect();
        let kept = |c: &CommandGrant| own.commands.iter().any(|o| o.get_ref() == c);
        if let Some(extra) = own.commands.iter().find(|o| !derived.contains(o.get_ref())) {
            let c = extra.get_ref();
            return Err(widens(
                extra.span(),
                format!("the command {} {:?}", c.program, c.args),
            ));
        }
        if let Some(c) = derived.iter().take(required).find(|c| !kept(c)) {
            return Err(src.err(
                first.span(),
                format!("plugins.{name}.grants.commands no longer covers what builtin:{builtin} needs: {} {:?} (without it the plugin cannot work); keep it, or leave grants.commands out for the whole derived grant ({inspect})", c.program, c.args),
            ));
        }
        if let Some(commands) = list_mut(full, &["commands"]) {
            let mut i = 0;
            commands.retain(|_| {
                i += 1;
                derived.get(i - 1).is_some_and(kept)
            });
        }
    }
    for (key, path, written) in [
        ("hosts", &["hosts"][..], &own.hosts),
        (
            "confine.write",
            &["confine", "write"][..],
            &own.confine.write,
        ),
    ] {
        if written.is_empty() {
            continue;
        }
        let derived = list(full, path);
        if let Some(extra) = written
            .iter()
            .find(|w| !derived.iter().any(|d| d.as_str() == Some(w.get_ref())))
        {
            return Err(widens(extra.span(), format!("{key} {:?}", extra.get_ref())));
        }
        if let Some(items) = list_mut(full, path) {
            items.retain(|d| written.iter().any(|w| d.as_str() == Some(w.get_ref())));
        }
    }
    Ok(())
}

/// The array at `path` in the derived grant (empty when there is none).
fn list(table: &toml::Table, path: &[&str]) -> Vec<toml::Value> {
    let mut t = table;
    for key in &path[..path.len() - 1] {
        match t.get(*key).and_then(toml::Value::as_table) {
            Some(inner) => t = inner,
            None => return Vec::new(),
        }
    }
    t.get(path[path.len() - 1])
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The array at `path` in the derived grant, to narrow in place.
fn list_mut<'a>(table: &'a mut toml::Table, path: &[&str]) -> Option<&'a mut Vec<toml::Value>> {
    let (last, inner) = path.split_last()?;
    let mut t = table;
    for key in inner {
        t = t.get_mut(*key)?.as_table_mut()?;
    }
    t.get_mut(*last)?.as_array_mut()
}
