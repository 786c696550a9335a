//! The Slack notifier end to end: the real slack-notifier component posting over wasi:http to a
//! real HTTP server on 127.0.0.1, behind the host's outbound-host allowlist.

use crate::common;

use common::receiver::{Answer, Receiver};
use common::{add_migration, config_text, plugin, Project, Run};

const HOOK_VAR: &str = "PM_TEST_SLACK_WEBHOOK";
const TOKEN: &str = "XyzSecretToken123abc";

struct Setup {
    p: Project,
    hook: String,
}

/// A project whose prod env notifies `slack`, granted `granted` (an origin), with the webhook
/// at `hook_origin`.
fn setup(hook_origin: &str, granted: &str) -> Setup {
    let p = Project::new();
    let text = format!(
        r#"{}notifiers = ["slack"]

[plugins.slack]
path = "{}"
settings = {{ max-attempts = 3, max-total-secs = 20, initial-backoff-ms = 100, timeout-secs = 5 }}
grants.secrets = {{ slack-webhook = {{ env = "{HOOK_VAR}" }} }}
grants.hosts = ["{granted}"]
"#,
        config_text(),
        plugin("slack_notifier").display()
    );
    p.write_config(&text);
    Setup {
        p,
        hook: format!("{hook_origin}/services/T0SECRET/B0SECRET/{TOKEN}"),
    }
    .seed()
}

impl Setup {
    /// SQLite has nothing to back up before its first migration, and prod requires a backup:
    /// start from users.0001 applied in dev (dev has no notifier).
    fn seed(self) -> Setup {
        self.p
            .run(&["--env", "dev", "--app", "users", "--migration", "0001"])
            .expect(0);
        self
    }

    fn run(&self, args: &[&str]) -> Run {
        let r = self.p.run_with(args, &[(HOOK_VAR, &self.hook)]);
        for (what, text) in [("stdout", r.stdout.as_str()), ("stderr", r.stderr.as_str())] {
            assert!(!text.contains(TOKEN), "webhook URL in {what}\n{}", r.all());
        }
        assert!(
            !self.p.state_text().contains(TOKEN),
            "webhook URL in history or catalog"
        );
        r
    }

    fn last(&self) -> serde_json::Value {
        self.p.history().last().unwrap().clone()
    }
}

#[test]
fn a_prod_run_sends_a_correct_message() {
    let rx = Receiver::start(vec![]);
    let s = setup(&rx.origin(), &rx.origin());
    let r = s.run(&["--env", "prod", "--confirm"]);
    r.expect(0);
    assert!(r.stdout.contains("notified: slack"), "{}", r.all());
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/services/T0SECRET/B0SECRET/{TOKEN}"));
    assert!(req
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/json"));
    // The host says who is calling.
    assert!(
        req.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("user-agent")
                && v.starts_with("platform-migrate/")
                && v.ends_with("(plugin slack)")),
        "{:?}",
        req.headers
    );
    let v = req.json();
    let text = v["text"].as_str().unwrap();
    let last = s.last();
    assert!(text.contains("migrate in prod succeeded"), "{text}");
    assert!(text.contains("5 migration(s) changed"), "{text}");
    assert!(
        text.contains("users: 0002_user_email_user_joined, 0003_fill_emails"),
        "{text}"
    );
    assert!(
        text.contains("orders: 0001_initial, 0002_order_status, 0003_order_note"),
        "{text}"
    );
    let backup = last["backup"]["id"].as_str().unwrap();
    assert!(text.contains(backup), "{text}");
    assert!(text.contains(last["host"].as_str().unwrap()), "{text}");
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let context = blocks.last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        context.contains(last["run_id"].as_str().unwrap()),
        "{context}"
    );
    assert_eq!(last["notifications"][0]["notifier"], "slack");
    assert_eq!(last["notifications"][0]["status"], "sent");
}

#[test]
fn rate_limits_are_waited_out_as_retry_after_says() {
    let rx = Receiver::start(vec![
        Answer::new(429, "rate_limited").header("Retry-After", "1")
    ]);
    let s = setup(&rx.origin(), &rx.origin());
    s.run(&["--env", "prod", "--confirm"]).expect(0);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap.as_millis() >= 900,
        "retried after {gap:?}, before Retry-After"
    );
    assert_eq!(s.last()["notifications"][0]["status"], "sent");
}

#[test]
fn server_errors_back_off_and_then_succeed() {
    let rx = Receiver::start(vec![Answer::new(500, "oops"), Answer::new(503, "busy")]);
    let s = setup(&rx.origin(), &rx.origin());
    s.run(&["--env", "prod", "--confirm"]).expect(0);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    // Exponential: the second wait is longer than the first.
    assert!(got[2].at - got[1].at > got[1].at - got[0].at);
}

#[test]
fn retries_are_bounded_and_the_failure_is_reported_not_hidden() {
    let rx = Receiver::start(vec![Answer::new(500, "oops"); 10]);
    let s = setup(&rx.origin(), &rx.origin());
    let r = s.run(&["--env", "prod", "--confirm"]);
    r.expect(5);
    assert_eq!(rx.received().len(), 3, "max-attempts = 3");
    let e = r.error_line();
    assert!(
        e.contains("the run succeeded, but notifier 'slack'"),
        "{}",
        r.all()
    );
    assert!(e.contains("gave up after 3 attempts"), "{e}");
    // The database is migrated all the same; history says both.
    assert_eq!(s.p.applied().len(), 6);
    let last = s.last();
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["exit_code"], 5);
    assert_eq!(last["notifications"][0]["status"], "failed");
}

#[test]
fn client_errors_such_as_no_service_are_not_retried() {
    let rx = Receiver::start(vec![Answer::new(404, "no_service")]);
    let s = setup(&rx.origin(), &rx.origin());
    let r = s.run(&["--env", "prod", "--confirm"]);
    r.expect(5);
    assert_eq!(rx.received().len(), 1);
    assert!(
        r.error_line().contains("HTTP 404: no_service"),
        "{}",
        r.all()
    );
}

#[test]
fn hosts_outside_the_grant_are_denied_and_the_migration_still_succeeds() {
    let rx = Receiver::start(vec![]);
    let other = Receiver::start(vec![]);
    // Granted: the other receiver's origin only.
    let s = setup(&rx.origin(), &other.origin());
    let r = s.run(&["--env", "prod", "--confirm"]);
    r.expect(5);
    assert!(rx.received().is_empty() && other.received().is_empty());
    let e = r.error_line();
    assert!(e.contains("denied"), "{}", r.all());
    assert!(e.contains("plugins.slack.grants.hosts"), "{e}");
    assert!(e.contains(&rx.origin()), "{e}");
    assert_eq!(s.p.applied().len(), 6);
    let last = s.last();
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["notifications"][0]["status"], "denied");

    // The cloud metadata address is no different.
    let meta = setup("http://169.254.169.254", &other.origin());
    let r = meta.run(&["--env", "prod", "--confirm"]);
    r.expect(5);
    assert!(r.error_line().contains("169.254.169.254"), "{}", r.all());
    assert_eq!(meta.last()["notifications"][0]["status"], "denied");
}

#[test]
fn refusals_and_failures_are_announced_too() {
    let rx = Receiver::start(vec![]);
    let s = setup(&rx.origin(), &rx.origin());
    s.run(&["--env", "prod"]).expect(3);
    add_migration(
        &s.p,
        "orders",
        "0004_boom",
        "from django.db import migrations\n\n\
         def boom(apps, schema_editor):\n    raise RuntimeError(\"boom: cannot fill orders\")\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RunPython(boom, migrations.RunPython.noop)]\n",
    );
    s.run(&["--env", "prod", "--confirm"]).expect(1);
    // --show is not announced.
    s.run(&["--env", "prod", "--show"]).expect(0);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let refused = got[0].json();
    assert!(
        refused["text"].as_str().unwrap().contains("refused"),
        "{refused}"
    );
    assert!(refused["text"]
        .as_str()
        .unwrap()
        .contains("requires --confirm"));
    let failed = got[1].json();
    let text = failed["text"].as_str().unwrap();
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("boom: cannot fill orders"), "{text}");
    let blocks = failed["blocks"].to_string();
    assert!(blocks.contains("*Error*"), "{blocks}");
}

#[test]
fn lint_findings_travel_with_the_notification() {
    let rx = Receiver::start(vec![]);
    let s = setup(&rx.origin(), &rx.origin());
    s.run(&["--env", "prod", "--confirm"]).expect(0);
    add_migration(
        &s.p,
        "orders",
        "0004_remove_order_note",
        "from django.db import migrations\n\n\
         class Migration(migrations.Migration):\n    dependencies = [(\"orders\", \"0003_order_note\")]\n    \
         operations = [migrations.RemoveField(\"order\", \"note\")]\n",
    );
    s.run(&["--env", "prod", "--confirm"]).expect(3);
    let got = rx.received();
    let refused = got.last().unwrap().json().to_string();
    assert!(
        refused.contains("Destructive or locking changes"),
        "{refused}"
    );
    assert!(
        refused.contains("orders.0004_remove_order_note: drop-column"),
        "{refused}"
    );
}

#[test]
fn a_signal_during_a_notification_ends_the_wait_for_a_silent_server() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (accepted, connected) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for s in listener.incoming().flatten() {
            open.push(s);
            let _ = accepted.send(());
        }
    });
    let p = Project::new();
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    p.write_config(&format!(
        r#"{}notifiers = ["slack"]

[plugins.slack]
path = "{}"
settings = {{ max-attempts = 1, timeout-secs = 30 }}
grants.secrets = {{ slack-webhook = {{ env = "{HOOK_VAR}" }} }}
grants.hosts = ["{origin}"]
"#,
        config_text(),
        plugin("slack_notifier").display()
    ));
    let hook = format!("{origin}/services/T/B/{TOKEN}");
    let child = p
        .command(
            &["--env", "prod", "--confirm"],
            &[(HOOK_VAR, hook.as_str())],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The migrations ran; the notifier is now waiting for the server's first byte (up to 30 s).
    connected
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the notifier connected");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    // SAFETY: sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let waited = t.elapsed();
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Well before the request's 30 s timeout: the signal ended the wait.
    assert!(
        waited < std::time::Duration::from_secs(15),
        "took {waited:?}\n{all}"
    );
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains(TOKEN), "webhook URL leaked\n{all}");
    // The migrations stand and are recorded.
    let last = p.history().last().unwrap().clone();
    assert_eq!(last["env"], "prod");
    assert!(!last["applied"].as_array().unwrap().is_empty(), "{last}");
}

/// Nothing listens at the webhook's port: the message says so in words, not as a Rust value.
#[test]
fn an_unreachable_receiver_is_named_in_plain_words() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let s = setup(&origin, &origin);
    let r = s.run(&["--env", "prod", "--confirm"]);
    r.expect(5);
    let e = r.error_line();
    assert!(
        e.contains("connection refused: nothing listens"),
        "{}",
        r.all()
    );
    assert!(!e.contains("ErrorCode"), "{e}");
}
