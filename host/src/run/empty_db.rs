//! Whether a database holds nothing a backup could keep, checked by the host from the database
//! itself (never taken from a plugin's word): what lets a first deploy run without a backup
//! where one is required. SQLite only: a file that does not exist yet or is empty, or one whose
//! schema table lists nothing (no table, index, view or trigger) and has no write-ahead log
//! with changes not yet in the file. Anything the check cannot read counts as not empty, and
//! the file is opened once, never through a symlink.

use crate::plugin_api::Vendor;
use std::io::Read;
use std::path::Path;

/// Why `database` (as the runner named it; relative to `base`) holds nothing to lose, or
/// `None` when it may hold something.
pub(super) fn nothing_to_lose(vendor: &Vendor, database: &str, base: &Path) -> Option<String> {
    if *vendor != Vendor::Sqlite || database.is_empty() || database.starts_with(':') {
        return None;
    }
    let path = base.join(database);
    let shown = path.file_name()?.to_string_lossy().into_owned();
    // A log or journal beside it may hold what the file does not show yet.
    for suffix in ["-wal", "-journal"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        match std::fs::symlink_metadata(&side) {
            Ok(m) if m.len() > 0 || !m.is_file() => return None,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return None,
        }
    }
    // Opened once, by handle, never through a symlink: what is measured is what was opened.
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("{shown} does not exist yet"))
        }
        Err(_) => return None,
        Ok(f) => f,
    };
    let meta = f.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.len() == 0 {
        return Some(format!("{shown} is empty (0 bytes)"));
    }
    let mut head = [0u8; 108];
    f.read_exact(&mut head).ok()?;
    no_schema_entries(&head).then(|| format!("{shown} holds no tables"))
}

/// The first 108 bytes of a SQLite file: the 100-byte header, then page 1's b-tree header,
/// the root of the schema table. A leaf page (0x0D) with no cells lists nothing.
fn no_schema_entries(head: &[u8; 108]) -> bool {
    head.starts_with(b"SQLite format 3\0") && head[100] == 0x0D && head[103..105] == [0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &Path, name: &str, script: &str) -> bool {
        std::process::Command::new("sqlite3")
            .arg(dir.join(name))
            .arg(script)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    #[test]
    fn missing_empty_and_tableless_files_have_nothing_to_lose() {
        let d = tempfile::tempdir().unwrap();
        let check = |name: &str| nothing_to_lose(&Vendor::Sqlite, name, d.path());
        assert_eq!(
            check("db.sqlite3").unwrap(),
            "db.sqlite3 does not exist yet"
        );
        std::fs::write(d.path().join("empty.sqlite3"), b"").unwrap();
        assert!(check("empty.sqlite3").unwrap().contains("empty"));
        if !sqlite(d.path(), "fresh.sqlite3", "PRAGMA user_version = 1;") {
            eprintln!("sqlite3 is not installed; the file checks ran without it");
            return;
        }
        assert_eq!(
            check("fresh.sqlite3").unwrap(),
            "fresh.sqlite3 holds no tables"
        );
        assert!(sqlite(
            d.path(),
            "data.sqlite3",
            "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
        ));
        assert_eq!(check("data.sqlite3"), None);
        // A table with no rows is still a table: its schema is something to lose.
        assert!(sqlite(d.path(), "shape.sqlite3", "CREATE TABLE t(x);"));
        assert_eq!(check("shape.sqlite3"), None);
        // Many tables: page 1 becomes an interior page.
        let many: String = (0..300).map(|i| format!("CREATE TABLE t{i}(x);")).collect();
        assert!(sqlite(d.path(), "many.sqlite3", &many));
        assert_eq!(check("many.sqlite3"), None);
    }

    #[test]
    fn anything_unclear_counts_as_something_to_lose() {
        let d = tempfile::tempdir().unwrap();
        let check = |name: &str| nothing_to_lose(&Vendor::Sqlite, name, d.path());
        std::fs::write(d.path().join("junk"), vec![7u8; 4096]).unwrap();
        assert_eq!(check("junk"), None);
        std::fs::write(d.path().join("w"), b"").unwrap();
        std::fs::write(d.path().join("w-wal"), b"frames").unwrap();
        assert_eq!(check("w"), None, "a write-ahead log may hold the tables");
        std::os::unix::fs::symlink(d.path().join("junk"), d.path().join("link")).unwrap();
        assert_eq!(check("link"), None);
        // A link to nothing is not "does not exist yet": something put it there.
        std::os::unix::fs::symlink(d.path().join("gone"), d.path().join("dangling")).unwrap();
        assert_eq!(check("dangling"), None);
        assert_eq!(nothing_to_lose(&Vendor::PostgreSql, "shop", d.path()), None);
        assert_eq!(check(":memory:"), None);
    }
}
