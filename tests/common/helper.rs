//! django-runner's helper script driven directly, as the plugin drives it: `manage.py shell -c
//! TEXT` reading hex-encoded JSON requests on stdin and answering with marked JSON lines. For
//! tests that check what the helper itself does or refuses, whatever a plugin asks of it.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// The plain helper text (`plugins/django-runner/src/helper.py`).
pub fn text() -> String {
    std::fs::read_to_string(super::root().join("plugins/django-runner/src/helper.py")).unwrap()
}

/// The text `migrate-in-session` sends: the plain one after the line `PM_MIGRATE = True`.
pub fn migrating_text() -> String {
    format!("PM_MIGRATE = True\n{}", text())
}

/// A running helper session.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Session {
    /// Start `text` in `project` with extra environment variables (DATABASE_URL, ...).
    pub fn start(project: &Path, text: &str, env: &[(&str, &str)]) -> Session {
        let mut child = Command::new(super::python())
            .args(["manage.py", "shell", "-c", text])
            .current_dir(project)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Session {
            child,
            stdin,
            lines,
        }
    }

    /// One request, hex-encoded JSON on stdin; the answer is the next marked JSON line.
    pub fn request(&mut self, request: serde_json::Value) -> serde_json::Value {
        let hex: String = request
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(self.stdin.as_mut().unwrap(), "{hex}").unwrap();
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if let Some(answer) = line.strip_prefix("@@PM-JSON@@") {
                let v: serde_json::Value = serde_json::from_str(answer).unwrap();
                // The session says it is ready once, before its first answer.
                if v["ok"] != "ready" {
                    return v;
                }
            }
        }
        panic!("the helper session ended without answering");
    }

    /// Close stdin (the session's end) and wait for it to exit.
    pub fn finish(mut self) {
        self.stdin.take();
        self.child.wait().unwrap();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
