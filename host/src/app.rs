//! From parsed arguments to an exit code.

use crate::cli::{Cli, Command, HistoryCommand, ListOutput};
use crate::config::Config;
use crate::exit::{Code, Exit};
use crate::ui::Verbosity;

/// Run the command line; `argv` is recorded in history.
pub fn main(cli: Cli, argv: Vec<String>) -> Result<Code, Exit> {
    let json = cli.run.output == crate::cli::OutputFormat::Json
        && matches!(cli.command, None | Some(Command::Lint { .. }));
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
    if cli.run_flags_with_subcommand() {
        return Err(Exit::usage(
            "flags of a migration run (--env, --show, --confirm, ...) were given before a subcommand, which does not take them there; put the subcommand's own flags after it (e.g. `platform-migrate history --env prod`); --config, --output, -v and -q may stand on either side",
        ));
    }
    // Commands on plugin files work without a config.
    if let Some(Command::Plugins(cmd)) = &cli.command {
        let output = cli.run.output.for_list("plugins")?;
        if let Some(code) = crate::plugins::without_config(cmd, output == ListOutput::Json)? {
            return Ok(code);
        }
    }
    if let Some(Command::Init) = &cli.command {
        return crate::init::main(&cli.config);
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
            env,
            cmd: Some(HistoryCommand::Verify),
            ..
        }) => {
            crate::history_cmd::verify(&cfg, env.as_deref(), verbosity.unwrap_or(Verbosity::Normal))
        }
        Some(Command::History {
            env,
            limit,
            cmd: None,
        }) => crate::history_cmd::print(
            &cfg,
            env.as_deref(),
            *limit,
            verbosity.unwrap_or(Verbosity::Normal),
            cli.run.output.for_list("history")?,
        ),
        Some(Command::Plugins(cmd)) => crate::plugins::main(
            &cfg,
            cmd,
            cli.run.output.for_list("plugins")? == ListOutput::Json,
        ),
        Some(Command::Lint { env, since }) => crate::lint_cmd::main(
            &cfg,
            env,
            since,
            cli.run.output,
            verbosity.unwrap_or(Verbosity::Normal),
        ),
        Some(Command::Backups(cmd)) => crate::backups::main(
            &cfg,
            cmd,
            verbosity.unwrap_or(Verbosity::Normal),
            cli.run.output.for_list("backups")?,
        ),
        Some(Command::Targets { env, shard }) => {
            crate::fleet::rollout::list(&cfg, env, *shard, cli.run.output.for_list("targets")?)
        }
        Some(Command::Init) => crate::init::main(&cli.config),
        None => crate::run::run(&cfg, &cli.run, verbosity, argv),
    }
}
