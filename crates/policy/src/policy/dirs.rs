//! Directory grants: a host directory mounted at a guest path, read-only or read-write.

use super::Denied;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

/// Rights on a granted directory.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// A granted directory, with its host path already resolved against the config's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    pub host: PathBuf,
    pub guest: String,
    pub access: Access,
}

/// Check a guest path's shape: absolute, no `.`/`..` components, no empty segments.
pub fn valid_guest_path(guest: &str) -> bool {
    guest.starts_with('/')
        && !guest.contains('\0')
        && Path::new(guest)
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

/// May the plugin write `guest` (inside `grant`)? Only a read-write grant allows it.
pub fn check_writable(plugin: &str, grant: &DirGrant, guest: &str) -> Result<(), Denied> {
    if grant.access == Access::ReadWrite {
        return Ok(());
    }
    Err(Denied::with_grant(
        plugin,
        &format!(
            "asked to write {guest}, but {} is granted read-only",
            grant.guest
        ),
        "dirs",
        &format!(
            "access = \"read-write\" on {{ host = \"{}\", guest = \"{}\" }}",
            grant.host.display(),
            grant.guest
        ),
    ))
}

/// Map a guest path (e.g. a working directory a plugin asks for) to the host path under the
/// grant that contains it. `..` and symlinks are rejected by refusing anything but plain
/// components; the caller opens the result with cap-std for the final check.
pub fn to_host(
    plugin: &str,
    grants: &[DirGrant],
    guest: &str,
) -> Result<(PathBuf, Access), Denied> {
    // `join("")` would add a trailing `/`: the mount itself is its host folder as written.
    locate(plugin, grants, guest).map(|(g, rest)| {
        let host = if rest.as_os_str().is_empty() {
            g.host.clone()
        } else {
            g.host.join(rest)
        };
        (host, g.access)
    })
}

/// Like [`to_host`], but returns the grant and the path relative to its root, for opening
/// with cap-std from the root (so symlinks cannot lead out of it).
pub fn locate<'g>(
    plugin: &str,
    grants: &'g [DirGrant],
    guest: &str,
) -> Result<(&'g DirGrant, PathBuf), Denied> {
    if !valid_guest_path(guest) {
        return Err(Denied(format!(
            "plugin '{plugin}' asked for directory {guest:?}: only absolute guest paths without `.` or `..` are allowed"
        )));
    }
    let wanted = Path::new(guest);
    // Longest matching mount wins.
    let best = grants
        .iter()
        .filter_map(|g| wanted.strip_prefix(&g.guest).ok().map(|rest| (g, rest)))
        .max_by_key(|(g, _)| g.guest.len());
    match best {
        Some((g, rest)) => Ok((g, rest.to_path_buf())),
        None => Err(Denied::for_need(
            plugin,
            &format!("asked for directory {guest}, which no grant mounts"),
            &super::Need::Directory(guest.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_read_write_grants_are_writable_and_the_denial_names_the_fix() {
        let g = |access| DirGrant {
            host: "/srv/b".into(),
            guest: "/backups".into(),
            access,
        };
        assert!(check_writable("p", &g(Access::ReadWrite), "/backups/x").is_ok());
        let e = check_writable("p", &g(Access::ReadOnly), "/backups/x").unwrap_err();
        assert!(e.0.contains("granted read-only"), "{}", e.0);
        assert!(e.0.contains("access = \"read-write\""), "{}", e.0);
        assert!(e.0.contains("plugins.p.grants.dirs"), "{}", e.0);
    }

    use super::*;

    fn grants() -> Vec<DirGrant> {
        vec![
            DirGrant {
                host: "/srv/app".into(),
                guest: "/project".into(),
                access: Access::ReadOnly,
            },
            DirGrant {
                host: "/srv/data".into(),
                guest: "/project/data".into(),
                access: Access::ReadWrite,
            },
        ]
    }

    #[test]
    fn maps_inside_a_mount() {
        let (p, a) = to_host("p", &grants(), "/project/sub").unwrap();
        assert_eq!(p, PathBuf::from("/srv/app/sub"));
        assert_eq!(a, Access::ReadOnly);
    }

    #[test]
    fn longest_mount_wins() {
        let (p, a) = to_host("p", &grants(), "/project/data/x").unwrap();
        assert_eq!(p, PathBuf::from("/srv/data/x"));
        assert_eq!(a, Access::ReadWrite);
    }

    #[test]
    fn dot_dot_is_refused() {
        assert!(to_host("p", &grants(), "/project/../etc").is_err());
        assert!(to_host("p", &grants(), "project").is_err());
    }

    #[test]
    fn unmounted_paths_name_the_grant() {
        let e = to_host("p", &grants(), "/etc").unwrap_err();
        assert!(e.0.contains("plugins.p.grants.dirs"), "{}", e.0);
    }

    #[test]
    fn locate_splits_root_and_rest() {
        let g = grants();
        let (grant, rest) = locate("p", &g, "/project/data/a/b.dump").unwrap();
        assert_eq!(grant.host, PathBuf::from("/srv/data"));
        assert_eq!(rest, PathBuf::from("a/b.dump"));
    }

    #[test]
    fn prefix_of_a_name_is_not_a_mount() {
        // "/projectx" is not inside "/project".
        assert!(to_host("p", &grants(), "/projectx").is_err());
    }
}
