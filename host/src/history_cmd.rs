//! `platform-migrate history` and `history verify`: this machine's history, and, with `--env`
//! for an environment that keeps one, the ledger in its database (read through its runner
//! plugin), which every machine that deploys the environment shares.

use crate::config::{Config, EnvConfig};
use crate::exit::{Code, Exit};
use crate::history::{self, Entry};
use crate::ledger::{self, Mode, Verifier};
use crate::plugin_api::{LedgerQuery, LedgerRun, Opener, RunContext, RunnerError, RunnerPlugin};
use crate::sandbox::Sandbox;
use crate::secrets::Redactor;
use crate::ui::{Ui, Verbosity};

/// Runs shown when `--limit` is not given.
pub const DEFAULT_LIMIT: usize = 20;

/// One run on one line, cut to `width` characters (none: as long as it is).
pub fn summary(e: &Entry, width: Option<usize>) -> String {
    let what = match (&e.app, &e.migration) {
        (Some(a), Some(m)) => format!("{} {a} {m}", e.action),
        (Some(a), None) => format!("{} {a}", e.action),
        _ => e.action.clone(),
    };
    let err = e
        .error
        .as_deref()
        .map(|x| format!(" - {}", x.replace('\n', " ")))
        .unwrap_or_default();
    let line = crate::text::for_terminal(&format!(
        "{}  {:<5} {:<9} {:<24} {} changed  {} ms  {}@{}{err}",
        e.started,
        e.env,
        e.outcome,
        what,
        e.applied.len(),
        e.duration_ms,
        e.user,
        e.host
    ));
    match width {
        Some(w) if line.chars().count() > w && w > 3 => {
            let mut cut: String = line.chars().take(w - 3).collect();
            cut.push_str("...");
            cut
        }
        _ => line,
    }
}

/// The terminal's width when stdout is one.
fn width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
}

/// A runner connected to a database that can keep a ledger, and the context to call it with.
type LedgerRunner = (Box<dyn RunnerPlugin>, RunContext);

/// The env's runner, connected, when the env keeps a ledger it can read; otherwise why its
/// history is on this machine only.
fn ledger_runner(
    cfg: &Config,
    env: &EnvConfig,
    verbosity: Verbosity,
) -> Result<Result<LedgerRunner, String>, Exit> {
    if env.ledger == Mode::Off {
        return Ok(Err(format!("env.{}.ledger is \"off\"", env.name)));
    }
    let sandbox = Sandbox::new(Redactor::default(), Ui::new(verbosity).on_stderr())
        .map_err(|e| Exit::failed(format!("cannot start the plugin engine: {e:#}")))?;
    let entry = &cfg.plugins[&env.runner];
    let mut runner = sandbox
        .runner(&cfg.base_dir, entry, env.runner_env())?
        .plugin;
    let ctx = RunContext::new(&env.name, format!("{}-history", env.name), false);
    let info = match runner.check_connection(&ctx)? {
        Ok(i) => i,
        Err(RunnerError::Connection(m)) => {
            return Err(Exit::failed(format!(
                "cannot connect to the database of env {} to read its ledger: {m}",
                env.name
            )))
        }
        Err(e) => return Err(Exit::failed(format!("cannot read the ledger: {e:?}"))),
    };
    if info.vendor != crate::plugin_api::Vendor::PostgreSql {
        return Ok(Err(format!(
            "its database is {}, and the ledger needs PostgreSQL",
            info.vendor
        )));
    }
    Ok(Ok((runner, ctx)))
}

fn ledger_error(env: &EnvConfig, e: RunnerError) -> Result<String, Exit> {
    match e {
        RunnerError::Unsupported(m) => Ok(m),
        e => Err(Exit::failed(format!(
            "cannot read the ledger of env {} (schema {}): {}",
            env.name,
            env.ledger_schema,
            e.message()
        ))),
    }
}

/// `history [--env ENV] [--limit N]`.
pub fn print(
    cfg: &Config,
    env: Option<&str>,
    limit: Option<usize>,
    verbosity: Verbosity,
    output: crate::cli::ListOutput,
) -> Result<Code, Exit> {
    let json = output == crate::cli::ListOutput::Json;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    // `--output json`: one document (schemas/history.schema.json) with the runs as recorded.
    let emit = |source: &str, entries: &[Entry]| {
        let doc = serde_json::json!({
            "schema_version": 1,
            "source": source,
            "env": env,
            "runs": entries,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    };
    let width = width();
    if let Some(name) = env {
        let env = cfg.env(name).map_err(Exit::usage)?;
        match ledger_runner(cfg, env, verbosity)? {
            Ok((mut runner, ctx)) => {
                match read_latest(runner.as_mut(), &ctx, &env.ledger_schema, limit)? {
                    Ok(Some(rows)) => {
                        eprintln!(
                            "ledger {} in env {}'s database (every machine's runs):",
                            env.ledger_schema, env.name
                        );
                        if json {
                            let entries: Vec<Entry> =
                                rows.iter().filter_map(ledger::entry_of).collect();
                            emit("ledger", &entries);
                            return Ok(Code::Success);
                        }
                        for r in rows {
                            match ledger::entry_of(&r) {
                                Some(e) => println!(
                                    "{}",
                                    crate::text::one_line(&summary(&e, width), MAX_ROW)
                                ),
                                None => println!(
                                    "row {}: not a run record; run `platform-migrate history --env {} verify`",
                                    r.seq, env.name
                                ),
                            }
                        }
                        return Ok(Code::Success);
                    }
                    Ok(None) => eprintln!(
                        "env {}'s database has no ledger yet (the first run that changes it creates one); this machine's history:",
                        env.name
                    ),
                    Err(e) => {
                        let why = ledger_error(env, e)?;
                        eprintln!("this machine's history ({why}):");
                    }
                }
            }
            Err(why) => eprintln!("this machine's history ({why}):"),
        }
    }
    let entries = history::read_latest(&cfg.state_dir, limit, |e| env.is_none_or(|x| x == e.env))
        .map_err(|e| Exit::failed(format!("cannot read history: {e}")))?;
    if json {
        emit("local", &entries);
        return Ok(Code::Success);
    }
    for e in &entries {
        println!("{}", summary(e, width));
    }
    Ok(Code::Success)
}

/// The latest `limit` rows of the ledger (`None`: not created).
fn read_latest(
    runner: &mut dyn RunnerPlugin,
    ctx: &RunContext,
    schema: &str,
    limit: usize,
) -> Result<Result<Option<Vec<LedgerRun>>, RunnerError>, Exit> {
    let head = runner.ledger_read(ctx, schema, LedgerQuery::head(false))?;
    let last = match head {
        Ok(c) if c.exists => c.last_seq,
        Ok(_) => return Ok(Ok(None)),
        Err(e) => return Ok(Err(e)),
    };
    let mut rows: Vec<LedgerRun> = Vec::new();
    let mut after = last.saturating_sub(limit as u64);
    while after < last && rows.len() < limit {
        let page = runner.ledger_read(ctx, schema, LedgerQuery::runs(after, ledger::PAGE))?;
        match page {
            Ok(c) if !c.runs.is_empty() => {
                // The rows are the runner's answer: each page must move forward, one row
                // after another, within what was asked, or reading stops here.
                for mut r in c.runs.into_iter().take(ledger::PAGE as usize) {
                    if r.seq <= after || r.seq > last {
                        return Err(Exit::failed(format!(
                            "the ledger of schema {schema} answered row {} after row {after} (of {last}): its rows do not advance, so it is not read further; run `platform-migrate history --env {} verify`",
                            r.seq, ctx.env
                        )));
                    }
                    after = r.seq;
                    // Shown to people: masked and bounded like any plugin output.
                    r.line = crate::text::bounded(&r.line, MAX_ROW);
                    rows.push(r);
                }
            }
            Ok(_) => break,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(Some(rows)))
}

/// Most rows `history verify` reads from a ledger (a run a minute for two years): a runner's
/// answers cannot keep it reading for ever.
const MAX_LEDGER_ROWS: u64 = 1_000_000;

/// Longest ledger row `history` shows (a run record is a few KiB).
const MAX_ROW: usize = 256 * 1024;

/// `history [--env ENV] verify`: this machine's chain, and with `--env` the ledger's chain
/// and this machine's runs against the rows it wrote.
pub fn verify(cfg: &Config, env: Option<&str>, verbosity: Verbosity) -> Result<Code, Exit> {
    let file = history::path(&cfg.state_dir);
    let local = match history::verify(&cfg.state_dir) {
        Err(e) => {
            return Err(Exit::failed(format!(
                "cannot read history {}: {e}",
                file.display()
            )))
        }
        Ok(Err(broken)) => {
            return Err(Exit::failed(format!(
            "{}: {broken}; compare it with a copy you trust (the runs before that line are intact)",
            file.display()
        )))
        }
        Ok(Ok(n)) => n,
    };
    println!("history intact: {local} run(s), every line links to the one before it");
    let Some(name) = env else {
        return Ok(Code::Success);
    };
    let env = cfg.env(name).map_err(Exit::usage)?;
    let (mut runner, ctx) = match ledger_runner(cfg, env, verbosity)? {
        Ok(x) => x,
        Err(why) => {
            println!("env {name} keeps no ledger in its database ({why})");
            return Ok(Code::Success);
        }
    };
    let schema = &env.ledger_schema;
    let broken = |b: ledger::Broken| {
        Exit::failed(format!(
            "ledger {schema} in env {name}'s database: {b}; the rows before it are intact. Compare with `SELECT seq, run_id, sha256 FROM {schema}.runs ORDER BY seq` and the histories of the machines that deployed"
        ))
    };
    // What this machine wrote there, by seq.
    let mine: std::collections::BTreeMap<u64, (String, String)> = history::read(&cfg.state_dir)
        .map_err(|e| Exit::failed(format!("cannot read history: {e}")))?
        .into_iter()
        .filter(|e| e.env == name)
        .filter_map(|e| {
            let m = e.ledger?;
            (m.schema == *schema).then_some((m.seq, (e.run_id, m.sha256)))
        })
        .collect();
    let mut v = Verifier::default();
    let mut after = 0;
    // The last row as the first page says: the read ends there, however many rows (or
    // pages) a runner's answers would go on offering.
    let mut last: Option<u64> = None;
    loop {
        let page = runner.ledger_read(&ctx, schema, LedgerQuery::runs(after, ledger::PAGE))?;
        let runs = match page {
            Ok(c) if c.exists => {
                let last = *last.get_or_insert(c.last_seq);
                if last > MAX_LEDGER_ROWS {
                    return Err(Exit::failed(format!(
                        "the ledger of schema {schema} in env {name}'s database says it holds {last} rows, more than the {MAX_LEDGER_ROWS} `history verify` reads; check `SELECT count(*) FROM {schema}.runs`"
                    )));
                }
                if let Some(r) = c.runs.iter().find(|r| r.seq > last) {
                    return Err(Exit::failed(format!(
                        "the ledger of schema {schema} in env {name}'s database answered row {} beyond its last row {last}: its answers are not a ledger, so it is not read further",
                        r.seq
                    )));
                }
                c.runs
                    .into_iter()
                    .take(ledger::PAGE as usize)
                    .collect::<Vec<_>>()
            }
            Ok(_) => {
                println!("env {name}'s database has no ledger yet");
                return Ok(Code::Success);
            }
            Err(e) => {
                let why = ledger_error(env, e)?;
                println!("env {name} keeps no ledger in its database ({why})");
                return Ok(Code::Success);
            }
        };
        if runs.is_empty() {
            break;
        }
        for r in &runs {
            v.feed(r).map_err(broken)?;
            if let Some((run_id, sha)) = mine.get(&r.seq) {
                if *sha != r.sha256 || *run_id != r.run_id {
                    return Err(broken(ledger::Broken::Local {
                        seq: r.seq,
                        run_id: run_id.clone(),
                        local: sha.clone(),
                    }));
                }
            }
            after = r.seq;
        }
    }
    if let Some((&seq, (run_id, _))) = mine.iter().next_back() {
        if seq > v.count() {
            return Err(broken(ledger::Broken::Truncated {
                have: v.count(),
                local: seq,
                run_id: run_id.clone(),
            }));
        }
    }
    println!(
        "ledger {schema} intact: {} run(s), every row links to the one before it{}",
        v.count(),
        if mine.is_empty() {
            String::new()
        } else {
            format!(", and the {} this machine wrote are unchanged", mine.len())
        }
    );
    Ok(Code::Success)
}

#[cfg(test)]
mod tests {
    /// A runner whose ledger pages never move forward: `history --env` stops with a message
    /// naming the rows instead of reading forever (issue 32).
    #[test]
    fn ledger_pages_that_do_not_advance_stop_the_read() {
        use crate::plugin_api::{LedgerContents, LedgerRun, RunContext};
        use crate::run::fakes::{FakeRunner, Script};
        let runs: Vec<LedgerRun> = (1..=3)
            .map(|seq| LedgerRun {
                seq,
                run_id: format!("r{seq}"),
                line: "{}".into(),
                sha256: String::new(),
            })
            .collect();
        let script = std::rc::Rc::new(std::cell::RefCell::new(Script {
            ledger: Some(LedgerContents {
                exists: true,
                can_create: true,
                last_seq: 3,
                runs,
                checksums: vec![],
            }),
            ledger_stuck: true,
            ..Script::default()
        }));
        let mut runner = FakeRunner(script.clone());
        let ctx = RunContext::new("prod", "prod-history", false);
        // Reading from row 1 on, the runner answers row 1 again.
        let e = read_latest(&mut runner, &ctx, "platform_migrate", 2).unwrap_err();
        assert!(
            e.message.contains("answered row 1 after row 1")
                && e.message.contains("do not advance"),
            "{}",
            e.message
        );
        // An honest ledger reads to its end.
        script.borrow_mut().ledger_stuck = false;
        let rows = read_latest(&mut runner, &ctx, "platform_migrate", 2)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
    }

    use super::*;

    #[test]
    fn summaries_are_cut_to_the_width_and_kept_on_one_line() {
        let e = Entry {
            started: "2026-01-01T00:00:00Z".into(),
            env: "prod".into(),
            target: None,
            action: "migrate".into(),
            error: Some("first line\nsecond line \u{1b}[2J".into()),
            ..Entry::default()
        };
        let full = summary(&e, None);
        assert!(!full.contains('\n') && !full.contains('\u{1b}'), "{full}");
        assert!(full.contains("first line second line"), "{full}");
        let cut = summary(&e, Some(40));
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with("..."));
        assert_eq!(summary(&e, Some(1000)), full);
    }
}
