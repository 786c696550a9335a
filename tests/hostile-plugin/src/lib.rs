//! A hostile backup provider for the sandbox tests. Its `create` does whatever the setting
//! `behaviour` names — loop forever, allocate without bound, return an enormous string, trap,
//! read files it was not granted, run programs it was not granted, call hosts it was not
//! granted — and reports what it got. Anything it reports starting with `LEAKED` means the
//! sandbox let it through; the tests fail on that.

use platform_migrate_sdk::backup::*;
use platform_migrate_sdk::process::Command;
use platform_migrate_sdk::{config, register_backup};

struct Hostile;

fn leaked(what: &str, detail: impl std::fmt::Display) -> BackupError {
    BackupError::Other(format!("LEAKED {what}: {detail}"))
}

fn blocked(what: &str, detail: impl std::fmt::Display) -> BackupError {
    BackupError::Other(format!("blocked {what}: {detail}"))
}

/// Read a file; its contents coming back is a leak.
fn read(path: &str) -> BackupError {
    match std::fs::read_to_string(path) {
        Ok(text) => leaked(path, text.lines().next().unwrap_or("")),
        Err(e) => blocked(path, e),
    }
}

/// Run a program; it running at all is a leak.
fn run(cmd: Command) -> BackupError {
    let shown = cmd.display();
    match cmd.run() {
        Ok(out) => leaked(&shown, format!("exit {:?} {}", out.exit_code, out.stdout)),
        Err(e) => blocked(&shown, platform_migrate_sdk::process::message(&e)),
    }
}

/// GET a URL and read the whole body; returns what happened.
fn get(url: &str) -> Result<usize, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingBody, OutgoingRequest, Scheme};
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", r)) => (Scheme::Https, r),
        Some((_, r)) => (Scheme::Http, r),
        None => return Err("bad url".into()),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&scheme)).map_err(|_| "scheme")?;
    req.set_authority(Some(authority))
        .map_err(|_| "authority")?;
    req.set_path_with_query(Some(if path.is_empty() { "/" } else { path }))
        .map_err(|_| "path")?;
    let body = req.body().map_err(|_| "body")?;
    let pending = outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    let _ = OutgoingBody::finish(body, None);
    pending.subscribe().block();
    let resp = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(format!("{e:?}")),
        _ => return Err("no response".into()),
    };
    let incoming = resp.consume().map_err(|_| "consume")?;
    let stream = incoming.stream().map_err(|_| "stream")?;
    let mut total = 0usize;
    loop {
        match stream.blocking_read(1 << 20) {
            Ok(b) => total += b.len(),
            Err(wasip2::io::streams::StreamError::Closed) => return Ok(total),
            Err(e) => return Err(format!("after {total} bytes: {e:?}")),
        }
    }
}

fn call(url: &str) -> BackupError {
    match get(url) {
        Ok(n) => leaked(url, format!("{n} bytes")),
        Err(e) => blocked(url, e),
    }
}

impl BackupProvider for Hostile {
    fn describe() -> PluginInfo {
        platform_migrate_sdk::info!("hostile", "Misbehaves on purpose (tests only)", [])
    }

    fn create(_ctx: RunContext) -> Result<BackupInfo, BackupError> {
        let behaviour = config::get("behaviour").unwrap_or_default();
        let arg = config::get("arg").unwrap_or_default();
        Err(match behaviour.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "allocate" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "huge-string" => BackupError::Other("x".repeat(64 << 20)),
            "trap" => panic!("hostile plugin panics on purpose"),
            "unreachable" => std::process::abort(),
            "read" => read(&arg),
            "write" => match std::fs::write(&arg, b"owned") {
                Ok(()) => leaked(&arg, "written"),
                Err(e) => blocked(&arg, e),
            },
            "run" => {
                let argv: Vec<String> = serde_json_argv(&arg);
                match Command::from_argv(argv) {
                    Some(c) => run(c),
                    None => BackupError::Misconfigured("arg: an argv".into()),
                }
            }
            "ld-preload" => run(Command::new(arg)
                .args(["manage.py", "check"])
                .env("LD_PRELOAD", "/tmp/evil.so")),
            "http" => call(&arg),
            other => BackupError::Misconfigured(format!("unknown behaviour {other:?}")),
        })
    }
}

/// `arg` for `run` is a JSON array (settings that are arrays arrive as JSON text).
fn serde_json_argv(text: &str) -> Vec<String> {
    text.trim_matches(['[', ']'])
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

register_backup!(Hostile);
