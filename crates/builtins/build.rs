//! Embeds the built-in plugins (django-runner, file-backup, pg-dump-backup, slack-notifier) in
//! the host: their `.wasm` components, built first for wasm32-wasip2 (`just plugins`), become
//! byte arrays of the binary, so that an installed binary needs no plugin files.
//!
//! Where they are read from: `$PLATFORM_MIGRATE_BUILTINS_DIR`, or the workspace's
//! `target/wasm32-wasip2/release/`. A component that is not there yet leaves that built-in
//! out (a warning here; a clear error when a config names it), so that `cargo clippy` or a
//! host-only build works before the plugins are built. `PLATFORM_MIGRATE_REQUIRE_BUILTINS=1`
//! (what `just dist` sets for the wheel) makes a missing one a build error instead.

use std::path::PathBuf;

/// Config name, and the component's file stem as cargo names it.
const BUILTINS: &[(&str, &str)] = &[
    ("django-runner", "django_runner"),
    ("file-backup", "file_backup"),
    ("pg-dump-backup", "pg_dump_backup"),
    ("slack-notifier", "slack_notifier"),
];

fn main() {
    println!("cargo:rerun-if-env-changed=PLATFORM_MIGRATE_BUILTINS_DIR");
    println!("cargo:rerun-if-env-changed=PLATFORM_MIGRATE_REQUIRE_BUILTINS");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = match std::env::var_os("PLATFORM_MIGRATE_BUILTINS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("../../target"));
            target.join("wasm32-wasip2/release")
        }
    };
    let require = std::env::var("PLATFORM_MIGRATE_REQUIRE_BUILTINS").is_ok_and(|v| v == "1");
    let mut code = String::from(
        "/// Each built-in's config name, its component's bytes and their sha256 (None: not built\n\
         /// when the host was).\n\
         pub const EMBEDDED: &[(&str, Option<Embedded>)] = &[\n",
    );
    for (name, stem) in BUILTINS {
        let file = dir.join(format!("{stem}.wasm"));
        // Watched whether or not it exists: a missing file reruns this script on every build,
        // so the host picks the component up as soon as it is built.
        println!("cargo:rerun-if-changed={}", file.display());
        if file.is_file() {
            let abs = file.canonicalize().expect("an existing file");
            let bytes = std::fs::read(&abs).expect("a readable file");
            // Computed here, once, so that `--version` and `plugins list` do not hash on start.
            let sha = hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
                <sha2::Sha256 as sha2::Digest>::new(),
                &bytes,
            )));
            code.push_str(&format!(
                "    ({name:?}, Some((include_bytes!({:?}), {sha:?}))),\n",
                abs.display().to_string()
            ));
        } else if require {
            panic!(
                "built-in plugin {name}: {} is missing; build the plugins first (`just plugins`)",
                file.display()
            );
        } else {
            println!(
                "cargo:warning=built-in plugin {name} is not embedded: {} is missing (run `just plugins` first)",
                file.display()
            );
            code.push_str(&format!("    ({name:?}, None),\n"));
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("builtins.rs");
    std::fs::write(&out, code).expect("OUT_DIR is writable");
}
