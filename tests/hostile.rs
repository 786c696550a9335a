//! Hostile plugins: the test-only component in tests/hostile-plugin misbehaves in every way we
//! could think of, as the backup provider of an env where the backup is required. Each case
//! must end with a clear one-line error, the host alive (a normal exit code), history written,
//! nothing migrated, and nothing leaked. SECURITY.md lists these cases; keep the two in step.

mod common;

use common::{config_text, plugin, python, Project, Run};

/// Run `--env dev` with the hostile plugin doing `behaviour` as the required backup.
fn hostile(behaviour: &str, arg: &str, extra: &str) -> (Project, Run) {
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
    let py = python().display().to_string();
    p.write_config(&format!(
        r#"{text}
[plugins.hostile]
path = "{path}"
settings = {{ behaviour = "{behaviour}", arg = '{arg}' }}
grants.dirs = [{{ host = "granted", guest = "/granted", access = "read-only" }}]
grants.commands = [{{ program = "{py}", args = ["manage.py", "**"] }}]
{extra}
"#,
        path = plugin("hostile_plugin").display(),
    ));
    let r = p.run(&["--env", "dev"]);
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
