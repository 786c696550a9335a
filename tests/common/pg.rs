//! A real PostgreSQL server for tests: a throwaway cluster (`initdb` + `pg_ctl`, unix socket
//! in its own temp dir, password authentication) started per test and stopped on drop — as
//! the `postgres` user when the tests run as root, since initdb refuses root. Set
//! `PLATFORM_MIGRATE_TEST_PG` to `postgresql://user:password@host:port` to use an existing
//! server instead; each test then gets its own databases on it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The config entry `[plugins.django-pg]`: the Django runner handed DATABASE_URL from the
/// secret `database-url`, which the host reads from the environment variable `url_var`.
/// A user and an order in the demo's tables (after its migrations), so that the linter counts
/// locking changes on them: findings on tables the database reports empty are dropped.
pub const DEMO_ROWS: &str = "INSERT INTO users_user (username, email, joined) VALUES ('ann', 'ann@example.com', now()); \
     INSERT INTO orders_order (total, user_id, status, note) SELECT 9.50, id, 'new', '' FROM users_user;";

pub fn django_pg_plugin(url_var: &str) -> String {
    django_pg_plugin_with(url_var, super::session_mode())
}

/// [`django_pg_plugin`] with `migrate-in-session = true`, granted the migrating helper and no
/// `manage.py migrate`.
pub fn django_pg_plugin_in_session(url_var: &str) -> String {
    django_pg_plugin_with(url_var, true)
}

fn django_pg_plugin_with(url_var: &str, in_session: bool) -> String {
    let py = super::python().display().to_string();
    let django = super::django_entry(
        &py,
        ", secret-env = { DATABASE_URL = \"database-url\" }",
        in_session,
    );
    format!(
        r#"
[plugins.django-pg]
path = "{runner}"
settings = {{ {settings} }}
grants.commands = {commands}
grants.env = [{{ name = "DATABASE_URL", secret = "database-url" }}]
grants.secrets = {{ database-url = {{ env = "{url_var}" }} }}
grants.confine.connect = {ports}
"#,
        runner = super::plugin("django_runner").display(),
        settings = django.0,
        commands = django.1,
        ports = ports(),
    )
}

/// The config entry `[plugins.pg-backup]`: pg-dump-backup with the secret `database-url` read
/// from the environment variable `url_var`, and exactly the grants it needs.
pub fn pg_backup_plugin(url_var: &str) -> String {
    format!(
        r#"
[plugins.pg-backup]
path = "{backup}"
settings = {{ url-secret = "database-url" }}
grants.commands = [
    {{ program = "pg_dump", args = ["--format=custom", "--no-password", "--lock-wait-timeout=*"] }},
    {{ program = "pg_restore", args = ["--list"] }},
    {{ program = "createdb", args = ["--no-password", "<name>"] }},
    {{ program = "pg_restore", args = ["--no-owner", "--exit-on-error", "--no-password", "--dbname", "<name>"] }},
]
grants.env = [
    {{ name = "PGHOST", url-secret = "database-url" }},
    {{ name = "PGPORT", url-secret = "database-url" }},
    {{ name = "PGUSER", url-secret = "database-url" }},
    {{ name = "PGDATABASE", url-secret = "database-url" }},
    {{ name = "PGPASSWORD", url-secret = "database-url" }},
    "PGCONNECT_TIMEOUT",
]
grants.secrets = {{ database-url = {{ env = "{url_var}" }} }}
grants.confine.connect = {ports}
"#,
        backup = super::plugin("pg_dump_backup").display(),
        ports = ports(),
    )
}

/// TCP ports the PostgreSQL programs may connect to: 5432, and the port of
/// `PLATFORM_MIGRATE_TEST_PG` when the tests use an existing server.
pub fn ports() -> String {
    let mut ports = vec![5432u16];
    if let Ok(url) = std::env::var("PLATFORM_MIGRATE_TEST_PG") {
        if let Some(p) = url
            .rsplit_once(':')
            .and_then(|(_, p)| p.trim_end_matches('/').parse().ok())
        {
            ports.push(p);
        }
    }
    format!("{ports:?}")
}

pub struct Pg {
    /// Socket directory or host name.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    cluster: Option<Cluster>,
    prefix: String,
}

struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("PG_BIN") {
        return PathBuf::from(d);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql: install the \
             postgresql package, set PG_BIN to their folder, or set PLATFORM_MIGRATE_TEST_PG \
             to an existing server"
        )
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_ids() -> (u32, u32) {
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam returns null or a pointer to static storage, read at once.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        assert!(
            !pw.is_null(),
            "running as root but there is no `postgres` user for initdb"
        );
        ((*pw).pw_uid, (*pw).pw_gid)
    }
}

impl Cluster {
    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

fn check(what: &str, out: std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Pg {
    pub fn start() -> Pg {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pm{}_{n}", std::process::id());
        if let Ok(url) = std::env::var("PLATFORM_MIGRATE_TEST_PG") {
            return Pg::external(&url, prefix);
        }
        let dir = tempfile::Builder::new().prefix("pm-pg").tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let password = format!("pw-{}-{n}-Secret", std::process::id());
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, &password).unwrap();
        if as_postgres {
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let cluster = Cluster {
            bin: bin_dir(),
            as_postgres,
            dir,
        };
        let data = cluster.dir.path().join("data");
        let out = cluster
            .cmd("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "pmadmin",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        check("initdb", out);
        let sock = cluster.dir.path().display().to_string();
        let out = cluster
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-k {sock} -c listen_addresses='' -p 5432 -c fsync=off -c full_page_writes=off"
            ))
            .arg("start")
            .output()
            .unwrap();
        check("pg_ctl start", out);
        Pg {
            host: sock,
            port: 5432,
            user: "pmadmin".into(),
            password,
            cluster: Some(cluster),
            prefix,
        }
    }

    fn external(url: &str, prefix: String) -> Pg {
        let rest = url
            .split_once("://")
            .map(|x| x.1)
            .expect("PLATFORM_MIGRATE_TEST_PG is postgresql://user:password@host:port");
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = rest.rsplit_once('@').expect("user:password@ in the URL");
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
        Pg {
            host: host.into(),
            port: port.parse().unwrap(),
            user: user.into(),
            password: password.into(),
            cluster: None,
            prefix,
        }
    }

    /// A database name unique to this test.
    pub fn db_name(&self, name: &str) -> String {
        format!("{}_{name}", self.prefix)
    }

    /// Create a new database and return its name.
    pub fn create_db(&self, name: &str) -> String {
        let db = self.db_name(name);
        self.psql("postgres", &format!("CREATE DATABASE \"{db}\""));
        db
    }

    /// `postgresql://` URL of `db` with the password (what a DATABASE_URL secret holds).
    pub fn url(&self, db: &str) -> String {
        self.url_with_password(db, &self.password)
    }

    pub fn url_with_password(&self, db: &str, password: &str) -> String {
        if self.host.starts_with('/') {
            format!(
                "postgresql://{}:{password}@/{db}?host={}&port={}",
                self.user, self.host, self.port
            )
        } else {
            format!(
                "postgresql://{}:{password}@{}:{}/{db}",
                self.user, self.host, self.port
            )
        }
    }

    /// `program` (psql, pgbench, ...) with the libpq variables that reach this server.
    pub fn client(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user)
            .env("PGPASSWORD", &self.password);
        c
    }

    /// The server's log so far; `None` on an external server (`PLATFORM_MIGRATE_TEST_PG`).
    pub fn server_log(&self) -> Option<String> {
        let c = self.cluster.as_ref()?;
        Some(std::fs::read_to_string(c.dir.path().join("server.log")).unwrap_or_default())
    }

    /// Run SQL and return psql's unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .client("psql")
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, "-c", sql])
            .output()
            .unwrap();
        check(&format!("psql {sql}"), out.clone());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `app.name` of every applied migration, in the order applied; empty when the
    /// `django_migrations` table does not exist.
    pub fn applied(&self, db: &str) -> Vec<String> {
        let exists = self.psql(db, "SELECT to_regclass('django_migrations') IS NOT NULL");
        if exists != "t" {
            return Vec::new();
        }
        let rows = self.psql(
            db,
            "SELECT app || '.' || name FROM django_migrations ORDER BY id",
        );
        rows.lines().map(str::to_string).collect()
    }

    /// Restore a custom-format archive into a new database with the real pg_restore.
    pub fn restore(&self, archive: &Path, into: &str) {
        let db = self.create_db(into);
        let out = self
            .client("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d", &db])
            .arg(archive)
            .output()
            .unwrap();
        check("pg_restore", out);
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(c) = &self.cluster {
            let _ = c
                .cmd("pg_ctl")
                .arg("-D")
                .arg(c.dir.path().join("data"))
                .args(["-m", "immediate", "stop"])
                .output();
        }
    }
}
