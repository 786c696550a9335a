//! From parsed arguments to an exit code.

use crate::cli::{Cli, Command, HistoryCommand};
use crate::config::Config;
use crate::exit::{Code, Exit};
use crate::history;
use crate::ui::Verbosity;

/// Run the command line; `argv` is recorded in history.
pub fn main(cli: Cli, argv: Vec<String>) -> Result<Code, Exit> {
    let json = cli.run.output == crate::cli::OutputFormat::Json && cli.command.is_none();
    let result = dispatch(cli, argv);
    // A run that could not start still owes a JSON consumer its one document.
    if let (true, Err(e)) = (json, &result) {
        if e.code == Code::Usage {
            crate::report::print_error(e.code as i32, &e.message);
        }
    }
    result
}

fn dispatch(cli: Cli, argv: Vec<String>) -> Result<Code, Exit> {
    // Commands on plugin files work without a config.
    if let Some(Command::Plugins(cmd)) = &cli.command {
        if let Some(code) = crate::plugins::without_config(cmd)? {
            return Ok(code);
        }
    }
    let cfg = Config::load(&cli.config).map_err(|e| Exit::usage(e.to_string()))?;
    let verbosity = if cli.quiet {
        Some(Verbosity::Quiet)
    } else if cli.verbose > 0 {
        Some(Verbosity::Verbose)
    } else {
        None
    };
    match &cli.command {
        Some(Command::History {
            cmd: Some(HistoryCommand::Verify),
            ..
        }) => verify_history(&cfg),
        Some(Command::History { env, cmd: None }) => print_history(&cfg, env.as_deref()),
        Some(Command::Plugins(cmd)) => crate::plugins::main(&cfg, cmd),
        Some(Command::Backups(cmd)) => {
            crate::backups::main(&cfg, cmd, verbosity.unwrap_or(Verbosity::Normal))
        }
        None => crate::run::run(&cfg, &cli.run, verbosity, argv),
    }
}

fn print_history(cfg: &Config, env: Option<&str>) -> Result<Code, Exit> {
    if let Some(e) = env {
        cfg.env(e).map_err(Exit::usage)?;
    }
    let entries = history::read(&cfg.state_dir)
        .map_err(|e| Exit::failed(format!("cannot read history: {e}")))?;
    for e in entries.iter().filter(|e| env.is_none_or(|x| x == e.env)) {
        let what = match (&e.app, &e.migration) {
            (Some(a), Some(m)) => format!("{} {a} {m}", e.action),
            (Some(a), None) => format!("{} {a}", e.action),
            _ => e.action.clone(),
        };
        let changed = e.applied.len();
        let err = e
            .error
            .as_deref()
            .map(|x| format!(" - {x}"))
            .unwrap_or_default();
        println!(
            "{}  {:<5} {:<9} {:<24} {changed} changed  {} ms  {}@{}{err}",
            e.started, e.env, e.outcome, what, e.duration_ms, e.user, e.host
        );
    }
    Ok(Code::Success)
}

fn verify_history(cfg: &Config) -> Result<Code, Exit> {
    let file = history::path(&cfg.state_dir);
    match history::verify(&cfg.state_dir) {
        Err(e) => Err(Exit::failed(format!(
            "cannot read history {}: {e}",
            file.display()
        ))),
        Ok(Err(broken)) => Err(Exit::failed(format!(
            "{}: {broken}; compare it with a copy you trust (the runs before that line are intact)",
            file.display()
        ))),
        Ok(Ok(n)) => {
            println!("history intact: {n} run(s), every line links to the one before it");
            Ok(Code::Success)
        }
    }
}
