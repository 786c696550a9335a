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
        let mut info =
            platform_migrate_sdk::info!("hostile", "Misbehaves on purpose (tests only)", []);
        // Text for `plugin inspect`: escapes, a forged line, a workflow command, 22 MB.
        if config::get("behaviour").as_deref() == Some("describe-flood") {
            info.description = format!(
                "\x1b]0;owned\x07\n::error::forged by describe\n{}",
                "\x1b[2J".repeat(200_000)
            );
            info.version = format!(
                "1.0\n[1/6] validate environment: ok{}",
                "v".repeat(22 << 20)
            );
        }
        info
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
            // Ask for the host paths of guest paths that leave their grant (`arg`: a JSON
            // list); any answer is a leak.
            "host-path" => {
                let mut refused = Vec::new();
                for guest in serde_json_argv(&arg) {
                    match platform_migrate_sdk::process::host_path(&guest) {
                        Ok(host) => return Err(leaked(&guest, host)),
                        Err(e) => refused.push(platform_migrate_sdk::process::message(&e)),
                    }
                }
                blocked("host-path", refused.join(" | "))
            }
            // Run a JSON argv in which `{granted}` stands for the host path of /granted, which
            // the host hands out honestly: what the plugin builds from it is the attack.
            "path-run" => {
                let root = platform_migrate_sdk::process::host_path("/granted")
                    .map_err(|e| BackupError::Other(platform_migrate_sdk::process::message(&e)))?;
                let argv: Vec<String> = serde_json_argv(&arg)
                    .into_iter()
                    .map(|a| a.replace("{granted}", &root))
                    .collect();
                match Command::from_argv(argv) {
                    Some(c) => run(c),
                    None => BackupError::Misconfigured("arg: an argv".into()),
                }
            }
            // A granted program told to escape: `arg` is a JSON argv whose program prints
            // `LEAKED ...` for everything that got out and `contained ...` otherwise.
            "escape" => {
                let argv: Vec<String> = config::get_json("argv")
                    .map_err(BackupError::Misconfigured)?
                    .unwrap_or_default();
                let Some(cmd) = Command::from_argv(argv) else {
                    return Err(BackupError::Misconfigured("argv: an argv".into()));
                };
                let cmd = cmd.echo(true);
                let cmd = match config::get("cwd") {
                    Some(c) => cmd.cwd(c),
                    None => cmd,
                };
                match cmd.run() {
                    Ok(out) => BackupError::Other(format!(
                        "ran: {} {}",
                        out.stdout.replace('\n', "; "),
                        out.stderr.lines().last().unwrap_or("")
                    )),
                    Err(e) => blocked("escape", platform_migrate_sdk::process::message(&e)),
                }
            }
            // Plant code in a directory the plugin can write, then have the granted program
            // run it from there.
            "plant" => {
                let dir = config::get("cwd").unwrap_or_default();
                let _ = std::fs::write(
                    format!("{dir}/manage.py"),
                    "print('LEAKED planted code ran')\n",
                );
                run(Command::from_argv(serde_json_argv(&arg))
                    .unwrap_or_else(|| Command::new("none"))
                    .cwd(dir))
            }
            // Point a granted program at a listener of the plugin's choosing through env.
            "env-egress" => run(Command::new("pg_dump")
                .args(["--format=custom", "--no-password", "--lock-wait-timeout=1"])
                .env("PGHOST", "127.0.0.1")
                .env("PGPORT", arg.clone())
                .env("PGPASSWORD", "whatever")),
            // Hundreds of denied spawns with enormous program names.
            "deny-flood" => {
                let name = "x".repeat(1 << 20);
                let mut denied = 0;
                for _ in 0..400 {
                    if Command::new(name.clone()).run().is_err() {
                        denied += 1;
                    }
                }
                blocked("deny-flood", format!("{denied} denied"))
            }
            // Thousands of short programs, one after another, in one call.
            "spawn-storm" => {
                let mut ran = 0;
                for _ in 0..3000 {
                    match Command::new("true").run() {
                        Ok(_) => ran += 1,
                        Err(e) => {
                            return Err(blocked(
                                "spawn-storm",
                                format!(
                                    "after {ran}: {}",
                                    platform_migrate_sdk::process::message(&e)
                                ),
                            ))
                        }
                    }
                }
                leaked("spawn-storm", format!("{ran} started"))
            }
            // Start programs in the background and never let go of them.
            "children" => {
                let mut kept = Vec::new();
                let mut last = String::new();
                for _ in 0..100 {
                    match Command::new("sleep").arg("30").start() {
                        Ok(c) => kept.push(c),
                        Err(e) => {
                            last = platform_migrate_sdk::process::message(&e);
                            break;
                        }
                    }
                }
                let n = kept.len();
                std::mem::forget(kept);
                if last.is_empty() {
                    leaked("children", format!("{n} started"))
                } else {
                    blocked("children", format!("after {n}: {last}"))
                }
            }
            // Block in host calls past the deadline: a WASI sleep, then dropping children.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(arg.parse().unwrap_or(60)));
                leaked("sleep", "woke up after the full sleep")
            }
            "drop-children" => {
                let kids: Vec<_> = (0..12)
                    .filter_map(|_| Command::new("sleep").arg("60").start().ok())
                    .collect();
                let n = kids.len();
                for k in kids {
                    drop(k);
                }
                leaked("drop-children", format!("dropped {n} and went on"))
            }
            "log-flood" => {
                let line = "y".repeat(1 << 20);
                for _ in 0..300 {
                    platform_migrate_sdk::log::warn(&line);
                }
                blocked("log-flood", "done")
            }
            // Hold every descriptor it can get, then fail: the run must still be recorded.
            "fds" => {
                let mut held = Vec::new();
                while let Ok(f) = std::fs::File::open(&arg) {
                    held.push(f);
                    if held.len() > 200_000 {
                        break;
                    }
                }
                let n = held.len();
                std::mem::forget(held);
                blocked("fds", format!("holding {n} descriptors"))
            }
            "secret-error" => {
                let secret = config::secret("token").unwrap_or_default();
                // The secret straddles the host's 2000-byte cut.
                BackupError::Other(format!("{}{secret}{}", "z".repeat(1990), "z".repeat(4000)))
            }
            // One log line that would print as several: a fake step line and workflow commands.
            "log-forge" => {
                platform_migrate_sdk::log::warn(
                    "starting\n[3/6] backup: succeeded (forged)\n::error::forged by a plugin\n::add-mask::x",
                );
                blocked("log-forge", "done")
            }
            // The granted secret in forms a literal match misses.
            "encoded-secret" => {
                let secret = config::secret("token").unwrap_or_default();
                let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
                let reversed: String = secret.chars().rev().collect();
                let split: String = secret.chars().flat_map(|c| [c, '\u{200b}']).collect();
                let b64 = base64_of(&format!("key={secret}"));
                platform_migrate_sdk::log::warn(&format!(
                    "hex {hex} rev {reversed} zw {split} b64 {b64}"
                ));
                BackupError::Other(format!(
                    "blocked encoded-secret: hex {hex} rev {reversed} zw {split} b64 {b64}"
                ))
            }
            "escape-codes" => BackupError::Other(
                "\x1b]0;owned title\x07\x1b[2J\x1b[32msucceeded: all good\x1b[0m".into(),
            ),
            "huge-id" | "secret-id" | "clash-id" => {
                let id = match behaviour.as_str() {
                    "huge-id" => "i".repeat(100 << 20),
                    "secret-id" => config::secret("token").unwrap_or_default(),
                    _ => arg.clone(),
                };
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let file = format!("hostile-{stamp}.bin");
                if std::fs::write(format!("/backups/{file}"), b"data").is_err() {
                    return Err(blocked("write /backups", "failed"));
                }
                return Ok(BackupInfo {
                    id,
                    file,
                    size: 4,
                    created: String::new(),
                });
            }
            // A 1 TiB file with nothing written (4 KiB on disk): the host must not hash it.
            "sparse" => {
                let file = format!("hostile-{}.bin", stamp());
                let f = std::fs::File::create(format!("/backups/{file}"))
                    .map_err(|e| blocked("create /backups", e))?;
                f.set_len(1 << 40).map_err(|e| blocked("set_len", e))?;
                return Ok(BackupInfo {
                    id: format!("sparse-{}", stamp()),
                    file,
                    size: 1 << 40,
                    created: String::new(),
                });
            }
            // An honest file now, and a decoy beside it that `verify` puts in its place.
            "swap-link" => {
                let n = stamp();
                let file = format!("hostile-{n}.bin");
                std::fs::write(format!("/backups/{file}"), b"the measured backup")
                    .and_then(|()| {
                        std::fs::write(format!("/backups/decoy-{n}.bin"), b"LEAKED decoy bytes")
                    })
                    .map_err(|e| blocked("write /backups", e))?;
                return Ok(BackupInfo {
                    id: format!("swap-{n}"),
                    file,
                    size: 19,
                    created: String::new(),
                });
            }
            other => BackupError::Misconfigured(format!("unknown behaviour {other:?}")),
        })
    }

    /// `swap-link`: once the host has measured the file, replace it with a symbolic link to
    /// the decoy; what the host does with the path afterwards is the attack.
    fn verify(_ctx: RunContext, backup: BackupInfo) -> Result<(), BackupError> {
        if config::get("behaviour").as_deref() != Some("swap-link") {
            return Ok(());
        }
        let dirs = wasip2::filesystem::preopens::get_directories();
        let Some((dir, _)) = dirs.iter().find(|(_, p)| p == "/backups") else {
            return Err(blocked("swap-link", "no /backups"));
        };
        let decoy = backup.file.replacen("hostile-", "decoy-", 1);
        dir.unlink_file_at(&backup.file)
            .and_then(|()| dir.symlink_at(&decoy, &backup.file))
            .map_err(|e| blocked("swap-link", format!("{e:?}")))
    }
}

fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
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

/// Standard base64, padded (written out: the plugin has no crate for it).
fn base64_of(text: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = text.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
