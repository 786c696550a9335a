//! Hostile plugins: the test-only component in tests/hostile-plugin misbehaves in every way we
//! could think of, as the backup provider of an env where the backup is required. Each case
//! must end with a clear one-line error, the host alive (a normal exit code), history written,
//! nothing migrated, and nothing leaked. SECURITY.md lists these cases; keep the two in step.

use crate::common;

use common::{config_text, plugin, python, Project, Run};

/// Run `--env dev` with the hostile plugin doing `behaviour` as the required backup.
fn hostile(behaviour: &str, arg: &str, extra: &str) -> (Project, Run) {
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["manage.py", "**"] }}]"#);
    hostile_with(behaviour, arg, &commands, extra, &[])
}

/// The hostile project's config: the plugin doing `behaviour` with `commands` granted and
/// `extra` lines in its table.
fn hostile_project(behaviour: &str, arg: &str, commands: &str, extra: &str) -> Project {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("granted")).unwrap();
    std::fs::write(p.path().join("granted/ok.txt"), "fine").unwrap();
    let text = config_text().replace(
        "[env.dev]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\n",
        "[env.dev]\nrunner = \"django\"\nbackup = \"hostile\"\nbackup-required = true\n",
    );
    assert!(
        text.contains("backup = \"hostile\""),
        "config layout changed"
    );
    p.write_config(&format!(
        r#"{text}
[plugins.hostile]
path = "{path}"
settings.behaviour = "{behaviour}"
settings.arg = '{arg}'
grants.dirs = [{{ host = "granted", guest = "/granted", access = "read-only" }}]
grants.commands = {commands}
{extra}
"#,
        path = plugin("hostile_plugin").display(),
    ));
    p
}

/// Like [`hostile`], with `commands` granted and extra environment for the host.
fn hostile_with(
    behaviour: &str,
    arg: &str,
    commands: &str,
    extra: &str,
    env: &[(&str, &str)],
) -> (Project, Run) {
    let p = hostile_project(behaviour, arg, commands, extra);
    let r = p.run_with(&["--env", "dev"], env);
    (p, r)
}

/// What every case must show: exit `code`, an error line containing `needle`, nothing leaked,
/// nothing migrated, the run in history as failed.
#[track_caller]
fn contained(p: &Project, r: &Run, code: i32, needle: &str) {
    r.expect(code);
    let e = r.error_line();
    assert!(
        e.contains(needle),
        "error line lacks {needle:?}:\n{}",
        r.all()
    );
    assert!(e.len() < 4096, "error line is {} bytes", e.len());
    assert!(!r.all().contains("LEAKED"), "{}", r.all());
    assert!(p.applied().is_empty(), "a migration ran: {:?}", p.applied());
    let h = p.history();
    let last = h.last().expect("history written");
    assert_eq!(last["outcome"], "failed", "{last:#}");
    assert!(last["error"].as_str().unwrap().len() < 4096);
}

#[test]
fn an_endless_loop_is_stopped_at_the_call_deadline() {
    let (p, r) = hostile("loop", "", "limits = { call-timeout-secs = 1 }");
    contained(
        &p,
        &r,
        1,
        "plugin 'hostile' was stopped in create: it exceeded its call time limit of 1 s",
    );
    assert!(r
        .error_line()
        .contains("plugins.hostile.limits.call-timeout-secs"));
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let (p, r) = hostile("allocate", "", "limits = { memory-mb = 32 }");
    contained(&p, &r, 1, "it exceeded its memory limit of 32 MiB");
}

#[test]
fn an_enormous_error_string_is_cut_short() {
    let (p, r) = hostile("huge-string", "", "");
    contained(&p, &r, 1, "xxxxxxxx");
    assert!(
        r.all().len() < 64 * 1024,
        "output is {} bytes",
        r.all().len()
    );
}

#[test]
fn a_panic_is_a_crash_naming_the_plugin() {
    let (p, r) = hostile("trap", "", "");
    contained(
        &p,
        &r,
        1,
        "plugin 'hostile' crashed in create: panicked: hostile plugin panics on purpose; wasm trap",
    );
}

#[test]
fn files_outside_the_grants_cannot_be_read() {
    for path in [
        "/etc/passwd",
        "/granted/../../../../etc/passwd",
        "/granted/../platform-migrate.toml",
    ] {
        let (p, r) = hostile("read", path, "");
        contained(&p, &r, 1, &format!("blocked {path}"));
    }
}

#[test]
fn a_symlink_in_a_granted_directory_does_not_escape() {
    // The link is made in the granted folder, pointing outside it.
    let (p, _) = hostile("read", "/granted/ok.txt", "");
    std::os::unix::fs::symlink("/etc/passwd", p.path().join("granted/link")).unwrap();
    let text = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&text.replace("arg = '/granted/ok.txt'", "arg = '/granted/link'"));
    let r = p.run(&["--env", "dev"]);
    contained(&p, &r, 1, "blocked /granted/link");
}

#[test]
fn host_paths_are_handed_out_only_inside_a_grant() {
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["manage.py", "**"] }}]"#);
    for guest in [
        "/granted/etc/passwd", // through a symlink out of the grant
        "/granted/passwd",     // a symlink itself
        "/granted/../etc",     // `..`
        "/elsewhere/x",        // no grant
        "granted/ok.txt",      // relative
    ] {
        let p = hostile_project("host-path", &format!(r#"["{guest}"]"#), &commands, "");
        std::os::unix::fs::symlink("/etc", p.path().join("granted/etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", p.path().join("granted/passwd")).unwrap();
        let r = p.run(&["--env", "dev"]);
        contained(&p, &r, 4, "asked for");
    }
}

#[test]
fn a_path_grant_allows_host_paths_under_its_folder_and_nothing_else() {
    let granted = r#"[{ program = "cat", args = ["<path:/granted>"] }]"#;
    // The honest use: cat of a file inside the grant runs (and the plugin reports what it
    // read as a leak, which here is the point: the grant allowed it).
    let (_, r) = hostile_with(
        "path-run",
        r#"["cat", "{granted}/ok.txt"]"#,
        granted,
        "",
        &[],
    );
    r.expect(1);
    assert!(
        r.all().contains("LEAKED cat") && r.all().contains("fine"),
        "{}",
        r.all()
    );
    // A symlink in the granted folder that points out of it (to the config folder, which the
    // program could read otherwise): the path matches the pattern, but the host follows it
    // first and refuses.
    for argv in [
        r#"["cat", "{granted}/out/platform-migrate.toml"]"#,
        r#"["cat", "{granted}/config"]"#,
    ] {
        let p = hostile_project("path-run", argv, granted, "");
        std::os::unix::fs::symlink(p.path(), p.path().join("granted/out")).unwrap();
        std::os::unix::fs::symlink(
            p.path().join("platform-migrate.toml"),
            p.path().join("granted/config"),
        )
        .unwrap();
        let r = p.run(&["--env", "dev"]);
        contained(
            &p,
            &r,
            4,
            "leads out of the granted folder /granted through a symlink",
        );
    }
    // Everything a plugin can build from the host path it was given to reach further.
    for argv in [
        r#"["cat", "/etc/passwd"]"#,
        r#"["cat", "{granted}/../platform-migrate.toml"]"#,
        r#"["cat", "{granted}/./ok.txt"]"#,
        r#"["cat", "{granted}x/ok.txt"]"#,
        r#"["cat", "{granted}/ok.txt", "/etc/passwd"]"#,
    ] {
        let (p, r) = hostile_with("path-run", argv, granted, "", &[]);
        contained(&p, &r, 4, "plugin 'hostile' may not run `cat");
    }
    // A `<path:..>` naming a folder the plugin was not granted is a config error.
    let (p, r) = hostile_with(
        "path-run",
        r#"["cat", "{granted}/ok.txt"]"#,
        r#"[{ program = "cat", args = ["<path:/secret>"] }]"#,
        "",
        &[],
    );
    r.expect(2);
    assert!(
        r.error_line()
            .contains("names \"/secret\", which is not inside any of plugins.hostile.grants.dirs"),
        "{}",
        r.all()
    );
    assert!(p.applied().is_empty());
}

#[test]
fn a_read_only_grant_cannot_be_written() {
    let (p, r) = hostile("write", "/granted/ok.txt", "");
    contained(&p, &r, 1, "blocked /granted/ok.txt");
    assert_eq!(
        std::fs::read_to_string(p.path().join("granted/ok.txt")).unwrap(),
        "fine"
    );
}

#[test]
fn ungranted_programs_and_arguments_are_denied() {
    let py = python().display().to_string();
    for argv in [
        r#"["/bin/sh", "-c", "id"]"#.to_string(),
        format!(r#"["{py}", "-c", "print(1)"]"#),
        format!(r#"["{py}", "other.py"]"#),
    ] {
        let (p, r) = hostile("run", &argv, "");
        contained(&p, &r, 4, "plugin 'hostile' may not run");
        assert!(r.error_line().contains("grants.commands"), "{}", r.all());
    }
}

#[test]
fn ld_preload_is_never_handed_to_a_child() {
    let py = python().display().to_string();
    let (p, r) = hostile("ld-preload", &py, "");
    contained(&p, &r, 4, "LD_PRELOAD");
}

#[test]
fn ungranted_hosts_and_the_metadata_address_are_denied() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/",
        "http://127.0.0.1:9/",
    ] {
        let (p, r) = hostile("http", url, "");
        contained(&p, &r, 4, "plugin 'hostile' may not send HTTP requests to");
        assert!(r.error_line().contains("grants.hosts"), "{}", r.all());
    }
}

#[test]
fn an_http_response_past_the_cap_is_cut_off() {
    let big = "y".repeat(200 * 1024);
    let server = common::receiver::Receiver::start(vec![common::receiver::Answer::new(200, &big)]);
    let origin = server.origin();
    let (p, r) = hostile(
        "http",
        &format!("{origin}/big"),
        &format!("grants.hosts = [\"{origin}\"]\nlimits = {{ http-response-kb = 4 }}"),
    );
    contained(&p, &r, 1, "blocked");
    let e = r.error_line();
    let n: usize = e
        .split("after ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {e}"));
    assert!(n <= 4096, "the plugin read {n} bytes past a 4 KiB cap: {e}");
    assert_eq!(server.received().len(), 1, "the request itself was allowed");
}

// ---- Round two: what runs under a grant, and what a plugin can make the host do ----------

/// The host's peak memory from its debug log line (`peak memory of the host: N KiB`).
fn peak_kib(r: &Run) -> u64 {
    r.all()
        .split("peak memory of the host: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory line in the output"))
}

#[test]
fn a_granted_interpreter_is_confined_by_the_kernel() {
    // A deliberately loose grant (`python -c **`): whatever the script does, the kernel bounds
    // it. It tries to write outside every grant, read the host's environment (which holds the
    // secrets), signal the host, connect to a local listener, and leave a daemon behind.
    let outside = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let py = python().display().to_string();
    let script = format!(
        r#"
import os, socket, sys, time
def probe(name, f):
    try:
        f()
        print("LEAKED", name)
    except Exception as e:
        print("contained", name, type(e).__name__)
probe("write-outside", lambda: open("{outside}/owned", "w").write("x"))
probe("host-environ", lambda: open("/proc/%d/environ" % os.getppid(), "rb").read())
probe("signal-host", lambda: os.kill(os.getppid(), 0))
probe("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3))
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        time.sleep(120)
    os._exit(0)
os.close(w)
print("daemon", os.read(r, 32).decode())
"#,
        outside = outside.path().display()
    );
    let commands = format!(r#"[{{ program = "{py}", args = ["-c", "**"] }}]"#);
    let extra = format!("settings.argv = [\"{py}\", \"-c\", '''{script}''']");
    let (p, r) = hostile_with("escape", "", &commands, &extra, &[]);
    r.expect(1);
    let e = r.error_line();
    assert!(e.contains("ran: "), "{}", r.all());
    for probe in ["write-outside", "host-environ", "signal-host", "connect"] {
        assert!(e.contains(&format!("contained {probe}")), "{probe}: {e}");
    }
    assert!(!r.all().contains("LEAKED"), "{}", r.all());
    assert!(!outside.path().join("owned").exists());
    let daemon: u32 = e
        .split("daemon ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no daemon pid in {e}"));
    // The host has exited: nothing it started, however detached, still runs.
    let state = std::fs::read_to_string(format!("/proc/{daemon}/stat")).unwrap_or_default();
    let running = state
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|s| s != "Z" && s != "X");
    assert!(!running, "the daemon {daemon} outlived the host: {state}");
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "the listener got a connection");
    assert_eq!(p.history().last().unwrap()["outcome"], "failed");
}

#[test]
fn the_runner_s_minimal_grant_refuses_other_code_and_options() {
    // With the demo's minimal django grant, a plugin cannot send its own script, nor reach
    // Django options that load code (`--settings`, `--pythonpath`).
    // The same with the migrate-in-session grant, which pins the migrating helper instead
    // (and grants no `manage.py migrate` at all).
    let py = python().display().to_string();
    for commands in [
        common::django_commands(&py),
        common::django_commands_in_session(&py),
    ] {
        for argv in [
            format!(r#"["{py}", "manage.py", "shell", "-c", "import os; print(os.environ)"]"#),
            format!(r#"["{py}", "manage.py", "migrate", "--noinput", "-v1", "--pythonpath=/tmp"]"#),
            format!(r#"["{py}", "manage.py", "migrate", "--noinput", "-v1", "--settings=x"]"#),
            format!(r#"["{py}", "manage.py", "runserver"]"#),
        ] {
            let extra = format!("settings.argv = {argv}");
            let (p, r) = hostile_with("escape", "", &commands, &extra, &[]);
            contained(&p, &r, 4, "plugin 'hostile' may not run");
        }
    }
}

#[test]
fn connection_variables_cannot_point_a_program_elsewhere() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let commands = r#"[{ program = "pg_dump", args = ["**"] }]"#;
    let extra = r#"grants.env = [
    { name = "PGHOST", url-secret = "db" },
    { name = "PGPORT", url-secret = "db" },
    { name = "PGPASSWORD", url-secret = "db" },
]
grants.secrets = { db = { env = "PM_HOSTILE_URL" } }"#;
    let url = "postgresql://app:s3cret-db-password@/app?host=/nonexistent";
    let (p, r) = hostile_with(
        "env-egress",
        &port.to_string(),
        commands,
        extra,
        &[("PM_HOSTILE_URL", url)],
    );
    contained(&p, &r, 4, "may set environment variable");
    assert!(
        r.error_line()
            .contains("only to the URL in the secret 'db'"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("s3cret-db-password"));
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "pg_dump reached the plugin's listener"
    );

    // A free (unpinned) grant of such a variable is a config error naming the fix.
    let (p, r) = hostile_with(
        "env-egress",
        "1",
        commands,
        "grants.env = [\"PGHOST\"]",
        &[],
    );
    r.expect(2);
    assert!(r.error_line().contains("pin it"), "{}", r.all());
    assert!(p.applied().is_empty());
}

#[test]
fn code_loading_variables_cannot_be_granted() {
    let commands = r#"[{ program = "pg_dump", args = ["**"] }]"#;
    for var in [
        "PYTHONUSERBASE",
        "PYTHONWARNINGS",
        "PYTHONSTARTUP",
        "GCONV_PATH",
        "PERL5OPT",
        "NODE_OPTIONS",
        "PSQLRC",
        "PGSERVICEFILE",
        "PGSYSCONFDIR",
        "HOME",
    ] {
        let (_, r) = hostile_with(
            "read",
            "/x",
            commands,
            &format!("grants.env = [\"{var}\"]"),
            &[],
        );
        r.expect(2);
        let e = r.error_line();
        assert!(
            e.contains(&format!("environment variable {var} cannot be granted")),
            "{var}: {e}"
        );
    }
}

#[test]
fn a_program_cannot_run_where_the_plugin_can_write_or_leave_its_grant() {
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["manage.py", "**"] }}]"#);
    // Its own manage.py planted in its read-write dir, run from there.
    let extra = "settings.cwd = \"/backups\"";
    let (p, r) = hostile_with(
        "plant",
        &format!(r#"["{py}", "manage.py", "check"]"#),
        &commands,
        extra,
        &[],
    );
    contained(&p, &r, 4, "the plugin can write there");
    // A symlink in a read-only grant that leads out of it.
    let p = hostile_project(
        "escape",
        "",
        &commands,
        &format!(
            "settings.cwd = \"/granted/esc\"\nsettings.argv = [\"{py}\", \"manage.py\", \"check\"]"
        ),
    );
    std::os::unix::fs::symlink("/etc", p.path().join("granted/esc")).unwrap();
    let r = p.run(&["--env", "dev"]);
    contained(&p, &r, 4, "does not stay inside its grant");
}

#[test]
fn denial_floods_keep_the_host_small() {
    let (p, r) = hostile_with(
        "deny-flood",
        "",
        "[]",
        "",
        &[("PLATFORM_MIGRATE_LOG", "warn,platform_migrate=debug")],
    );
    contained(&p, &r, 4, "may not run");
    assert!(
        r.all().len() < 512 * 1024,
        "output is {} bytes",
        r.all().len()
    );
    let peak = peak_kib(&r);
    assert!(peak < 400 * 1024, "host peak memory {peak} KiB");
}

#[test]
fn a_huge_output_line_keeps_the_host_small() {
    let commands = r#"[{ program = "head", args = ["-c", "*", "/dev/zero"] }]"#;
    let extra = "settings.argv = [\"head\", \"-c\", \"600000000\", \"/dev/zero\"]";
    let (p, r) = hostile_with(
        "escape",
        "",
        commands,
        extra,
        &[("PLATFORM_MIGRATE_LOG", "warn,platform_migrate=debug")],
    );
    contained(&p, &r, 1, "ran:");
    let peak = peak_kib(&r);
    assert!(peak < 400 * 1024, "host peak memory {peak} KiB");
    assert!(r.all().len() < 4 << 20, "output is {} bytes", r.all().len());
}

#[test]
fn background_children_are_bounded() {
    let commands = r#"[{ program = "sleep", args = ["30"] }]"#;
    let (p, r) = hostile_with("children", "", commands, "", &[]);
    contained(&p, &r, 4, "may not start more than 16 programs at once");
}

/// One call cannot become a stream of spawns: 3,000 short programs in a row are cut off at
/// the per-call bound, and the next call starts afresh (issue 32).
#[test]
fn one_call_cannot_start_programs_without_bound() {
    let commands = r#"[{ program = "true", args = [] }]"#;
    let (p, r) = hostile_with("spawn-storm", "", commands, "", &[]);
    contained(
        &p,
        &r,
        4,
        "may not start more than 256 programs in one call",
    );
    let started = r.all().lines().filter(|l| l.trim() == "$ true").count();
    assert_eq!(started, 256, "{}", r.error_line());
}

#[test]
fn a_plugin_blocked_in_a_sleep_is_stopped_at_its_deadline_and_by_a_signal() {
    let t = std::time::Instant::now();
    let (p, r) = hostile("sleep", "60", "limits = { call-timeout-secs = 2 }");
    contained(&p, &r, 1, "exceeded its call time limit of 2 s");
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());

    let p = hostile_project(
        "sleep",
        "60",
        &format!(
            r#"[{{ program = "{}", args = ["manage.py", "**"] }}]"#,
            python().display()
        ),
        "",
    );
    let mut child = p.command(&["--env", "dev"], &[]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let t = std::time::Instant::now();
    // SAFETY: kill sends a signal to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(t.elapsed().as_secs() < 10, "SIGINT took {:?}", t.elapsed());
    assert_eq!(p.history().last().unwrap()["outcome"], "interrupted");
}

#[test]
fn dropping_children_one_by_one_cannot_outlast_the_deadline() {
    let commands = r#"[{ program = "sleep", args = ["60"] }]"#;
    let t = std::time::Instant::now();
    let (p, r) = hostile_with(
        "drop-children",
        "",
        commands,
        "limits = { call-timeout-secs = 2 }",
        &[],
    );
    contained(&p, &r, 1, "exceeded its call time limit of 2 s");
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
}

#[test]
fn log_floods_are_capped() {
    let (p, r) = hostile("log-flood", "", "");
    contained(&p, &r, 1, "blocked log-flood");
    assert!(r.all().len() < 3 << 20, "output is {} bytes", r.all().len());
}

#[test]
fn a_plugin_holding_every_descriptor_cannot_keep_the_run_from_being_recorded() {
    use std::os::unix::process::CommandExt;
    let p = hostile_project(
        "fds",
        "/granted/ok.txt",
        &format!(
            r#"[{{ program = "{}", args = ["manage.py", "**"] }}]"#,
            python().display()
        ),
        "",
    );
    let mut cmd = p.command(&["--env", "dev"], &[]);
    // SAFETY: setrlimit in the child before exec touches only the struct on its stack.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 512,
                rlim_max: 512,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            Ok(())
        });
    }
    let r = Run::from(cmd.output().unwrap());
    contained(&p, &r, 1, "blocked fds: holding");
}

#[test]
fn secrets_are_masked_before_messages_are_cut() {
    let token = "tok-0123456789abcdefghij-secret";
    let extra = "grants.secrets = { token = { env = \"PM_HOSTILE_TOKEN\" } }";
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["manage.py", "**"] }}]"#);
    let (p, r) = hostile_with(
        "secret-error",
        "",
        &commands,
        extra,
        &[("PM_HOSTILE_TOKEN", token)],
    );
    contained(&p, &r, 1, "zzzz");
    for prefix in ["tok-0123", "0123456789abcdef"] {
        assert!(
            !r.all().contains(prefix),
            "{prefix} leaked: {}",
            r.error_line()
        );
        assert!(!p.state_text().contains(prefix), "{prefix} in the state");
    }
    // A secret handed back as a backup id is refused, and stored nowhere.
    let (p, r) = hostile_with(
        "secret-id",
        "",
        &commands,
        extra,
        &[("PM_HOSTILE_TOKEN", token)],
    );
    contained(&p, &r, 1, "it contains a secret");
    assert!(!p.state_text().contains(token) && !r.all().contains(token));
    assert!(p.catalog().is_empty());
}

#[test]
fn plugin_ids_are_strict_and_never_replace_a_catalog_entry() {
    let (p, r) = hostile("huge-id", "", "");
    contained(&p, &r, 1, "returned a backup id that is not allowed");
    assert!(
        r.all().len() < 64 * 1024,
        "output is {} bytes",
        r.all().len()
    );
    assert!(p.catalog().is_empty());
    // The first backup with an id is catalogued (and the run goes on); a second backup of
    // the same env with the same id is refused, and the first entry is kept as it was.
    let (p, r) = hostile("clash-id", "dev-same-id", "");
    r.expect(0);
    let before = p.catalog();
    assert_eq!(before.len(), 1, "{before:?}");
    let applied = p.applied();
    let r = p.run(&["--env", "dev", "--app", "orders", "--migration", "zero"]);
    r.expect(1);
    assert!(
        r.error_line().contains("already names a backup of env dev"),
        "{}",
        r.all()
    );
    assert_eq!(p.catalog(), before);
    assert_eq!(p.applied(), applied, "nothing was rolled back");
}

#[test]
fn terminal_escapes_from_a_plugin_are_shown_as_text() {
    let (p, r) = hostile("escape-codes", "", "");
    contained(&p, &r, 1, "succeeded: all good");
    assert!(
        !r.all().contains('\x1b') && !r.all().contains('\x07'),
        "{:?}",
        r.all()
    );
    assert!(r.error_line().contains("\\u{1b}"), "{}", r.error_line());
}

#[test]
fn a_program_the_plugin_could_have_written_is_refused() {
    // The granted program lies in the plugin's own read-write backup directory, where the
    // plugin could have written it: it never runs.
    let p = hostile_project(
        "escape",
        "",
        r#"[{ program = "TOOL" }]"#,
        "settings.argv = [\"TOOL\"]",
    );
    let dir = p.state().join("backups/dev");
    let config = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&config.replace("TOOL", &dir.join("tool").display().to_string()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("tool"),
        "#!/bin/sh\necho LEAKED planted program ran\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = p.run(&["--env", "dev"]);
    contained(&p, &r, 4, "lies in a directory the plugin can write");
}

#[test]
fn a_kernel_without_landlock_is_said_in_step_1_and_plugins_list() {
    // PLATFORM_MIGRATE_NO_LANDLOCK makes the host act as on such a kernel.
    let p = Project::new();
    let r = p.run_with(
        &["--env", "dev", "--show"],
        &[("PLATFORM_MIGRATE_NO_LANDLOCK", "1")],
    );
    r.expect(0);
    assert!(
        r.stdout
            .contains("warning: this kernel's Landlock (ABI 0) lacks file access confinement"),
        "{}",
        r.all()
    );
    let r = p.run_with(
        &["plugins", "list"],
        &[("PLATFORM_MIGRATE_NO_LANDLOCK", "1")],
    );
    assert!(
        r.stdout.contains("lacks file access confinement"),
        "{}",
        r.all()
    );
    // On this machine's kernel the full confinement is in force and said so.
    let r = p.run(&["plugins", "list"]);
    assert!(
        r.stdout.contains("confined by the kernel (Landlock ABI"),
        "{}",
        r.all()
    );
    let r = p.run(&["--env", "dev", "--show"]);
    assert!(!r.stdout.contains("lacks"), "{}", r.all());
}

// ---- the output gate (issue 32): what a plugin writes reaches people as one line each ------

/// A plugin log line holding new lines prints as one line: no forged step line, no workflow
/// command at the start of any line of the output.
#[test]
fn a_log_line_cannot_forge_a_step_or_a_workflow_command() {
    let (p, r) = hostile("log-forge", "", "");
    contained(&p, &r, 1, "blocked log-forge");
    let all = r.all();
    assert!(
        all.contains("starting\\n[3/6] backup: succeeded (forged)"),
        "{all}"
    );
    for line in all.lines() {
        let text = line.trim_start();
        assert!(
            !text.starts_with("::"),
            "a workflow command reached the output: {line}"
        );
        assert!(
            !text.starts_with("[3/6] backup: succeeded"),
            "a forged step line: {line}"
        );
    }
}

/// The granted secret printed hex-encoded, reversed, split by zero-width spaces or inside a
/// base64 text is masked like the literal, in the output and in the state.
#[test]
fn encoded_forms_of_a_secret_are_masked() {
    let token = "tok-encoded-0123456789-secret";
    let extra = "grants.secrets = { token = { env = \"PM_HOSTILE_TOKEN\" } }";
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["manage.py", "**"] }}]"#);
    let (p, r) = hostile_with(
        "encoded-secret",
        "",
        &commands,
        extra,
        &[("PM_HOSTILE_TOKEN", token)],
    );
    contained(&p, &r, 1, "blocked encoded-secret");
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    let reversed: String = token.chars().rev().collect();
    for form in [hex.as_str(), reversed.as_str(), "0123456789"] {
        assert!(!r.all().contains(form), "{form} leaked: {}", r.all());
        assert!(!p.state_text().contains(form), "{form} in the state");
    }
    // hex, reversed, zero-width split and base64: each masked in place.
    let e = r.error_line();
    assert!(e.matches("[REDACTED]").count() >= 4, "{e}");
}

/// `plugin inspect` shows a plugin's own description and version bounded and on one line
/// each: no escape sequence, no forged line, no workflow command, no 22 MB.
#[test]
fn inspect_shows_what_describe_says_bounded_and_escaped() {
    let p = hostile_project("describe-flood", "", "[]", "");
    let r = p.run(&["plugin", "inspect", "hostile"]);
    let all = r.all();
    assert!(all.len() < 64 * 1024, "inspect printed {} bytes", all.len());
    assert!(
        !all.contains('\x1b') && !all.contains('\x07'),
        "escapes reached the terminal"
    );
    for line in all.lines() {
        let text = line.trim_start();
        assert!(!text.starts_with("::"), "{line}");
        assert!(!text.starts_with("[1/6]"), "{line}");
    }
    assert!(all.contains("\\u{1b}]0;owned"), "{all}");
}

/// A plugin's program that may write the project folder (a dev env's `confine.write = ["."]`)
/// may write `.git/config` too: `lint --since` then runs git there. No filter driver, hook,
/// fsmonitor, external diff or pager that config names is started, although `git status` and
/// `git diff` compare a work-tree file whose stat changed (the case where git runs a clean
/// filter).
#[test]
fn lint_runs_no_program_that_the_repository_config_names() {
    use crate::pr_lint::{git, repo};
    let r = repo();
    let dir = r.p.path();
    let marker = tempfile::tempdir().unwrap();
    let started = |what: &str| marker.path().join(what);
    let script = |what: &str| {
        let path = dir.join(format!("evil-{what}.sh"));
        std::fs::write(
            &path,
            format!("#!/bin/sh\ntouch '{}'\ncat\n", started(what).display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path.display().to_string()
    };
    std::fs::write(dir.join(".gitattributes"), "*.py filter=evil diff=evil\n").unwrap();
    git(dir, &["add", ".gitattributes"]);
    git(dir, &["commit", "-qm", "attributes"]);
    let hooks = dir.join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    for (key, value) in [
        ("filter.evil.clean", script("clean")),
        ("filter.evil.required", "true".into()),
        ("diff.evil.textconv", script("textconv")),
        ("diff.external", script("external")),
        ("core.fsmonitor", script("fsmonitor")),
        ("core.pager", script("pager")),
        ("core.hooksPath", hooks.display().to_string()),
    ] {
        git(dir, &["config", key, &value]);
    }
    // Same content, a new mtime: git must read the file through its clean filter to compare.
    let tracked = dir.join("orders/migrations/0004_order_buyer.py");
    let text = std::fs::read(&tracked).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&tracked, text).unwrap();

    let out = r.lint(&["--output", "json"]);
    out.expect(9);
    let ran: Vec<String> = std::fs::read_dir(marker.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ran.is_empty(), "git started {ran:?}\n{}", out.all());
    // Git itself, asked the same with the repository's config, does start the filter: the
    // config above is one git obeys.
    git(dir, &["status", "--porcelain"]);
    assert!(
        started("clean").exists(),
        "git did not run the filter: the test proves nothing"
    );
}

/// A provider that reports a 1 TiB file with nothing written in it (4 KiB on disk): the host
/// refuses it from its holes instead of hashing a terabyte of zeros past every deadline.
#[test]
fn a_sparse_backup_is_refused_without_being_read() {
    let (p, r) = hostile("sparse", "", "");
    contained(&p, &r, 1, "(a sparse file)");
    assert!(p.catalog().is_empty(), "{:?}", p.catalog());
}

/// A provider's `verify` swaps the file the host measured for a symbolic link to another file
/// (a decoy it wrote; with a program it starts, any file the host user can read). The copy to
/// the store reads from one handle and never follows the link, and no object whose bytes
/// differ from the measured ones ever appears in the store.
#[test]
fn a_backup_swapped_for_a_symlink_after_it_was_measured_is_never_uploaded() {
    let s3 = common::s3::S3::start();
    let store = s3
        .store_table("dev", "swap", "PM_TEST_S3_KEY_ID", "PM_TEST_S3_SECRET")
        .replace("part-size-mb = 5", "part-size-mb = 5\nkeep-local = true");
    let p = hostile_project(
        "swap-link",
        "",
        r#"[{ program = "cat", args = ["<path:/granted>"] }]"#,
        &store,
    );
    let r = p.run_with(
        &["--env", "dev"],
        &[
            ("PM_TEST_S3_KEY_ID", s3.key_id.as_str()),
            ("PM_TEST_S3_SECRET", s3.secret.as_str()),
        ],
    );
    contained(&p, &r, 1, "is a symbolic link");
    assert!(
        r.error_line().contains("no longer lists it as verified"),
        "{}",
        r.all()
    );
    // What the provider verified is gone from where it was: not listed as a backup to
    // restore from.
    let catalog = p.catalog();
    assert_eq!(catalog.len(), 1, "{catalog:?}");
    assert_eq!(catalog[0]["verified"], false, "{catalog:?}");
    let keys = s3.keys();
    assert!(
        !keys.iter().any(|k| k.ends_with(".bin")),
        "an object reached the store: {keys:?}"
    );
    for k in &keys {
        assert!(
            !String::from_utf8_lossy(&s3.get(k)).contains("LEAKED"),
            "{k}"
        );
    }
}

/// A symlink in a granted folder that leads nowhere yet passes a check that only follows
/// links that resolve: the program would then create its target wherever it points. Refused
/// before the program starts.
#[test]
fn a_dangling_symlink_in_a_grant_is_refused_before_the_spawn() {
    let granted = r#"[{ program = "touch", args = ["<path:/granted>"] }]"#;
    let p = hostile_project("path-run", r#"["touch", "{granted}/new"]"#, granted, "");
    let planted = p.path().join("planted.txt");
    std::os::unix::fs::symlink(&planted, p.path().join("granted/new")).unwrap();
    let r = p.run(&["--env", "dev"]);
    contained(&p, &r, 4, "leads to nothing yet");
    assert!(!planted.exists());
}

/// The state directory (history, the catalog, every env's backups) lies outside everything a
/// program a plugin starts may reach. Before, it lay in the config's folder, which such
/// programs read: a dev plugin's interpreter read prod's dump and, under the demo's
/// `confine.write = ["."]`, rewrote the history with a recomputed chain.
#[test]
fn the_state_directory_is_out_of_every_program_s_reach() {
    let py = python().display().to_string();
    let commands = format!(r#"[{{ program = "{py}", args = ["-c", "**"] }}]"#);
    let p = hostile_project("escape", "", &commands, "");
    // A prod dump and the history, where the host keeps them.
    let prod = p.state().join("backups/prod");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::write(prod.join("prod-1.dump"), "LEAKED prod rows").unwrap();
    std::fs::write(p.state().join("history.jsonl"), "").unwrap();
    let script = format!(
        r#"
import os
def probe(name, f):
    try:
        out = f()
        print("LEAKED", name, out)
    except Exception as e:
        print("contained", name, type(e).__name__)
probe("read-prod-dump", lambda: open("{dump}").read())
probe("list-state", lambda: os.listdir("{state}"))
probe("write-history", lambda: open("{state}/history.jsonl", "a").write("forged"))
"#,
        dump = prod.join("prod-1.dump").display(),
        state = p.state().display(),
    );
    let config = std::fs::read_to_string(p.path().join("platform-migrate.toml")).unwrap();
    p.write_config(&format!(
        "{config}settings.argv = [\"{py}\", \"-c\", '''{script}''']\ngrants.confine.write = [\".\"]\n"
    ));
    let r = p.run(&["--env", "dev"]);
    r.expect(1);
    let e = r.error_line();
    for probe in ["read-prod-dump", "list-state", "write-history"] {
        assert!(
            e.contains(&format!("contained {probe}")),
            "{probe}: {}",
            r.all()
        );
    }
    assert!(!r.all().contains("LEAKED"), "{}", r.all());
    assert!(!std::fs::read_to_string(p.state().join("history.jsonl"))
        .unwrap()
        .contains("forged"));
    assert!(!p.path().join(".platform-migrate").exists());
}

/// A config that would put the state, or one env's backups, where a plugin's programs reach
/// is refused before anything runs (exit 2, the line naming the folder and the way out); a
/// `.platform-migrate` an earlier version left beside the config is moved out, whole.
#[test]
fn a_config_that_opens_the_state_to_plugins_is_refused_and_old_state_is_moved_out() {
    let p = Project::new();
    let base = common::config_text();
    let refused = |config: &str, needle: &str| {
        p.write_config(config);
        let r = p.run(&["--env", "dev", "--show"]);
        r.expect(2);
        assert!(r.error_line().contains(needle), "{needle}\n{}", r.all());
    };
    refused(
        &format!("state-dir = \".platform-migrate\"\n{base}"),
        "lies inside the config's folder",
    );
    let home = p.state_home.path().display().to_string();
    refused(
        &base.replace(
            "grants.confine.write = [\".\"]",
            &format!("grants.confine.write = [\".\"]\ngrants.confine.read = [\"{home}\"]"),
        ),
        "which contains the state directory",
    );
    let outside = tempfile::tempdir().unwrap();
    let shared = outside.path().display().to_string();
    refused(
        &base
            .replace(
                "[env.test]\nrunner = \"django\"\n",
                &format!("[env.test]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\nbackup-dir = \"{shared}/test\"\n"),
            )
            .replace(
            "[env.prod]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\n",
            &format!("[env.prod]\nrunner = \"django\"\nbackup = \"sqlite-backup\"\nbackup-dir = \"{shared}\"\n"),
        ),
        "one env's backup provider would reach the other's backups",
    );

    // An earlier version's state beside the config: moved out on the next run, nothing lost.
    p.write_config(&base);
    let old = p.path().join(".platform-migrate");
    std::fs::create_dir_all(old.join("backups/prod")).unwrap();
    std::fs::write(old.join("backups/prod/kept.dump"), "old dump").unwrap();
    let r = p.run(&["--env", "dev"]);
    r.expect(0);
    assert!(!old.exists());
    assert_eq!(
        std::fs::read_to_string(p.state().join("backups/prod/kept.dump")).unwrap(),
        "old dump"
    );
    assert_eq!(p.history().len(), 1);
}

/// A migration's code can try to make the run see a migration as applied that is not: it
/// skips the migration after it and (a) patches Django's recorder in the process it runs in,
/// which under `migrate-in-session` is the helper session itself, and (b) rewrites its app's
/// `migrations/__init__.py` (the runner's programs may write the project folder) so that any
/// new migration loader, which reloads that file, patches the recorder too. Both ways of
/// migrating must still find from the database that it is not applied (issue 32).
#[test]
fn a_migration_cannot_forge_what_verify_reads() {
    let patch = "from django.db.migrations.recorder import MigrationRecorder\n\
        if not getattr(MigrationRecorder, 'forged', False):\n    \
            applied = MigrationRecorder.applied_migrations\n    \
            def forged(self):\n        \
                rows = dict(applied(self))\n        \
                rows[('orders', '0005_real')] = None\n        \
                return rows\n    \
            MigrationRecorder.applied_migrations = forged\n    \
            MigrationRecorder.forged = True\n";
    let forge = format!(
        "import os\nfrom django.db import migrations\n\
         from django.db.migrations.executor import MigrationExecutor\n\n\
         PATCH = {patch:?}\n\n\
         def forge(apps, schema_editor):\n    \
             apply = MigrationExecutor.apply_migration\n    \
             def skip(self, state, migration, *a, **k):\n        \
                 if migration.name == '0005_real':\n            return state\n        \
                 return apply(self, state, migration, *a, **k)\n    \
             MigrationExecutor.apply_migration = skip\n    \
             exec(PATCH, {{}})\n    \
             with open(os.path.join(os.path.dirname(__file__), '__init__.py'), 'a') as f:\n        \
                 f.write('\\n' + PATCH)\n\n\
         class Migration(migrations.Migration):\n    \
             dependencies = [(\"orders\", \"0003_order_note\")]\n    \
             operations = [migrations.RunPython(forge, migrations.RunPython.noop)]\n"
    );
    for in_session in [false, true] {
        let p = Project::new();
        p.write_config(&common::config_text_with(in_session));
        p.run(&["--env", "dev"]).expect(0);
        common::add_migration(&p, "orders", "0004_forge", &forge);
        common::add_migration(
            &p,
            "orders",
            "0005_real",
            "from django.db import migrations\n\n\
             class Migration(migrations.Migration):\n    \
                 dependencies = [(\"orders\", \"0004_forge\")]\n    \
                 operations = [migrations.RunSQL('CREATE TABLE forged_check (id integer)', 'DROP TABLE forged_check')]\n",
        );
        let r = p.run(&["--env", "dev"]);
        let init = std::fs::read_to_string(p.path().join("orders/migrations/__init__.py")).unwrap();
        assert!(
            init.contains("forged"),
            "in_session={in_session}: the migration did not run:\n{}",
            r.all()
        );
        r.expect(1);
        let e = r.error_line();
        assert!(
            e.contains("database state does not match the plan")
                && e.contains("orders.0005_real is not applied"),
            "in_session={in_session}:\n{}",
            r.all()
        );
        assert!(!p.applied().contains(&("orders".into(), "0005_real".into())));
        let tables = p.query("SELECT name FROM sqlite_master WHERE name = 'forged_check'");
        assert!(tables.is_empty(), "{tables:?}");
        assert_eq!(p.history().last().unwrap()["outcome"], "failed");
    }
}

/// A fleet's target list may come from a command; a target's vars fill the secret sources
/// its template names and nothing else: a var that climbs out of the folder a secret's file
/// path names (or swaps in another variable) is refused before anything runs (issue 32).
#[test]
fn a_target_s_vars_cannot_point_a_secret_at_another_file() {
    let p = Project::new();
    let plugin = common::pg::django_pg_plugin("PM_UNUSED");
    let plugin = plugin.replace(
        "grants.secrets = { database-url = { env = \"PM_UNUSED\" } }",
        "grants.secrets = { database-url = { file = \"urls/${target.url}\" } }",
    );
    assert!(plugin.contains("${target.url}"), "{plugin}");
    std::fs::create_dir_all(p.path().join("urls")).unwrap();
    std::fs::write(p.path().join("urls/t1.url"), "postgres://nowhere/t1").unwrap();
    std::fs::write(p.path().join("outside.txt"), "LEAKED-outside-secret").unwrap();
    p.write_config(&format!(
        "{plugin}\n[env.prod]\nrunner = \"django-pg\"\nbackup-required = false\n\n[env.prod.fleet]\ntargets = [{{ name = \"t1\", vars = {{ url = \"../outside.txt\" }} }}]\n"
    ));
    let r = p.run(&["--env", "prod", "--show"]);
    r.expect(2);
    let e = r.error_line();
    assert!(
        e.contains("`${target.url}` of target \"t1\"")
            && e.contains("secret's file path")
            && e.contains("nothing was run"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("LEAKED"), "{}", r.all());
}

/// A runner's ledger answers are plugin output like any other (issue 32): pages that repeat
/// a row, or go on past the last row with a correctly chained ledger, end the read with a
/// message instead of reading for ever; rows carrying the runner's secret, a newline, a
/// forged step line or a workflow command reach people masked and on one line.
#[test]
fn a_runner_s_ledger_answers_are_bounded_masked_and_must_advance() {
    let project = |behaviour: &str| {
        let p = Project::new();
        p.write_config(&format!(
            r#"[plugins.hostile-runner]
path = "{path}"
settings.ledger = "{behaviour}"
grants.secrets = {{ token = {{ env = "PM_HOSTILE_TOKEN" }} }}

[env.prod]
runner = "hostile-runner"
backup-required = false
"#,
            path = plugin("hostile_runner").display(),
        ));
        p
    };
    let token = [("PM_HOSTILE_TOKEN", "tok-3f9a1c77e0b2-ledger")];
    let bounded = |r: &Run| {
        assert!(
            r.all().len() < 64 << 10,
            "output is {} bytes",
            r.all().len()
        );
    };

    // Pages that never move forward.
    let p = project("stuck");
    let r = p.run_with(&["history", "--env", "prod"], &token);
    r.expect(1);
    assert!(r.error_line().contains("do not advance"), "{}", r.all());
    bounded(&r);

    // A correctly chained ledger that goes on past the row count it gave.
    let p = project("endless");
    let r = p.run_with(&["history", "--env", "prod", "verify"], &token);
    r.expect(1);
    assert!(
        r.error_line()
            .contains("answered row 4 beyond its last row 3"),
        "{}",
        r.all()
    );
    bounded(&r);

    // Rows carrying the secret, a forged step line and workflow commands.
    let p = project("secret");
    for args in [
        &["history", "--env", "prod"][..],
        &["history", "--env", "prod", "--output", "json"][..],
    ] {
        let r = p.run_with(args, &token);
        r.expect(0);
        let out = r.all();
        assert!(!out.contains(token[0].1), "{out}");
        assert!(
            out.contains("hostile-3") || out.contains("2026-12-08"),
            "{out}"
        );
        assert!(
            !out.lines().any(|l| l.starts_with("[3/6]")
                || l.trim_start().starts_with("::add-mask::")
                || l.trim_start().starts_with("::error")),
            "{out}"
        );
        bounded(&r);
    }
}

/// A branch under review names its own migration files: a name holding an escape sequence,
/// a new line and a workflow command, and a mention, reaches `lint`'s human output on one
/// line with nothing at a line's start, and its Markdown output with the mention defused
/// (issue 32).
#[test]
fn a_branch_s_file_names_cannot_forge_lint_output() {
    use crate::pr_lint::{git, repo};
    let r = repo();
    let name = "0007_x\u{1b}[2J\n::error::forged @octo-org";
    common::add_migration(
        &r.p,
        "orders",
        name,
        "from django.db import migrations, models\n\n\
         class Migration(migrations.Migration):\n    \
             dependencies = [(\"orders\", \"0006_order_gift\")]\n    \
             operations = [migrations.AddIndex(\"order\", models.Index(fields=[\"status\"], name=\"order_status_idx\"))]\n",
    );
    git(r.p.path(), &["add", "-A"]);
    git(r.p.path(), &["commit", "-qm", "forged name"]);
    let human = r.lint(&[]);
    human.expect(9);
    let all = human.all();
    assert!(
        all.contains("::error::forged"),
        "the name was not shown:\n{all}"
    );
    assert!(!all.contains('\u{1b}'), "{all}");
    assert!(
        !all.lines().any(|l| l.trim_start().starts_with("::")),
        "{all}"
    );
    let md = r.lint(&["--output", "markdown"]);
    md.expect(9);
    assert!(md.stdout.contains("octo-org"), "{}", md.stdout);
    // GitHub turns no mention or link inside a code span into one: the name may stand there
    // as written, and nowhere outside one.
    for line in md.stdout.lines() {
        let outside: String = line.split('`').step_by(2).collect();
        assert!(!outside.contains("@octo-org"), "{line}");
    }
    assert!(!md.stdout.contains('\u{1b}'), "{}", md.stdout);
}
