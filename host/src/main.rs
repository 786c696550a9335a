use clap::{CommandFactory, FromArgMatches};
use platform_migrate::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything else: no process of ours can read this one's memory or environment,
    // and orphaned descendants of plugin programs come back to it to be ended.
    platform_migrate::confine::harden_host();
    // A fleet target's socket to the fleet's warm-start Python, before any program starts.
    platform_migrate::warm::adopt();
    let argv: Vec<String> = std::env::args().collect();
    // `--version` also names the WIT versions this host loads and its built-ins' sha256.
    let version: &'static str = Box::leak(platform_migrate::version_text().into_boxed_str());
    let matches = Cli::command()
        .version(version)
        .long_version(version)
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLATFORM_MIGRATE_LOG")
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{default},wasmtime=warn,cranelift=warn"))
        });
    let colour = platform_migrate::set_color(cli.color);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    if let Err(e) = platform_migrate::interrupt::install() {
        tracing::warn!(
            "cannot handle SIGINT/SIGTERM ({e}); an interrupted run will not be recorded"
        );
    }
    let result = platform_migrate::app::main(cli, argv);
    platform_migrate::confine::end_orphans();
    tracing::debug!(
        "peak memory of the host: {} KiB (child processes not included)",
        peak_rss_kib()
    );
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            // One line, whatever a program's output put into the message.
            let line: Vec<&str> = e
                .message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            // Secrets masked, control characters escaped, then cut.
            let line = platform_migrate::text::for_display(&line.join(" | "), 4000);
            eprintln!("error: {line}");
            ExitCode::from(e.code as u8)
        }
    }
}

/// The host's own peak resident set size (getrusage RUSAGE_SELF: children are not counted).
fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass and nothing else.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) == 0 {
            u.ru_maxrss
        } else {
            -1
        }
    }
}
