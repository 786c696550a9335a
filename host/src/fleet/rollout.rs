//! Running a fleet: canary targets first, then the rest with bounded parallelism, each target
//! a run of its own in a child process of this binary (`--target NAME --output json`), so every
//! target gets its own lock, backup, drift check, history row and notifications exactly as a
//! single-database run does, and one failing target cannot disturb another's locks. The
//! children's reports make one combined report (schemas/fleet-report.schema.json).
//!
//! Across machines, nothing is scheduled here: `targets --output json` feeds a CI matrix, and
//! `--target` / `--shard I/N` run one slice per job.

use super::{sources, FleetConfig, OnFailure, Shard, Target};
use crate::config::{Config, EnvConfig};
use crate::exit::{Code, Exit};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The env's fleet, or a usage error saying it has none.
fn fleet_of<'a>(env: &'a EnvConfig, flag: &str) -> Result<&'a FleetConfig, Exit> {
    env.fleet.as_ref().ok_or_else(|| {
        Exit::usage(format!(
            "{flag} is for fleets, and env {} is one database; add [env.{}.fleet] with its targets, or drop {flag}",
            env.name, env.name
        ))
    })
}

/// The env's targets as its source lists them now (exit 2 when it cannot be read).
pub fn targets(cfg: &Config, env: &EnvConfig) -> Result<Vec<Target>, Exit> {
    let fleet = fleet_of(env, "a target list")?;
    let aliases = || runner_aliases(cfg, env);
    let list = sources::read(&fleet.source, &cfg.base_dir, &aliases)
        .map_err(|e| Exit::usage(format!("env {}: {e}; nothing was run", env.name)))?;
    if let Some(bad) = fleet
        .canary
        .iter()
        .find(|c| !list.iter().any(|t| &t.name == *c))
    {
        return Err(Exit::usage(format!(
            "env {}: fleet.canary names {bad:?}, which the target list does not have; nothing was run",
            env.name
        )));
    }
    // Every target's values fill the config before any target runs: one that would point a
    // secret elsewhere (or names a value it lacks) stops the whole rollout here.
    for t in &list {
        super::target::config_for(cfg, &env.name, t)
            .map_err(|e| Exit::usage(format!("env {}: {e}; nothing was run", env.name)))?;
    }
    Ok(list)
}

/// Ask the env's runner for its database aliases, with `${target}` standing for Django's
/// `default` alias (the one every project has) while it answers.
fn runner_aliases(cfg: &Config, env: &EnvConfig) -> Result<Vec<String>, String> {
    use crate::plugin_api::Opener;
    let probe = Target::named("default");
    let cfg = super::target::config_for(cfg, &env.name, &probe)?;
    let env = cfg.env(&env.name)?;
    let ui = crate::ui::Ui::new(crate::ui::Verbosity::Quiet).on_stderr();
    let sandbox = crate::sandbox::Sandbox::new(crate::secrets::Redactor::default(), ui)
        .map_err(|e| format!("cannot start the plugin engine: {e:#}"))?;
    let mut runner = sandbox
        .runner(&cfg.base_dir, &cfg.plugins[&env.runner], env.runner_env())
        .map_err(|e| e.to_string())?;
    let ctx = crate::plugin_api::RunContext::new(&env.name, "targets", false);
    match runner.plugin.database_aliases(&ctx) {
        Ok(Ok(list)) => Ok(list),
        Ok(Err(e)) => Err(e.message()),
        Err(e) => Err(e.to_string()),
    }
}

/// `platform-migrate targets --env ENV [--shard I/N]`.
pub fn list(
    cfg: &Config,
    env: &str,
    shard: Option<Shard>,
    output: crate::cli::ListOutput,
) -> Result<Code, Exit> {
    let json = output == crate::cli::ListOutput::Json;
    let env = cfg.env(env).map_err(Exit::usage)?;
    let mut all = targets(cfg, env)?;
    if let Some(s) = shard {
        all = s.select(&all);
    }
    if json {
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        println!(
            "{}",
            serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
        );
    } else {
        for t in &all {
            println!("{}", t.name);
        }
    }
    Ok(Code::Success)
}

/// The variable a fleet run hands each child its target in (name and vars, as JSON), so the
/// list is read once per rollout: a list command is not run again per target (nor Django
/// started again to list its aliases), and every child sees the list the rollout planned.
const HANDED_TARGET: &str = "PLATFORM_MIGRATE_FLEET_TARGET";

/// One target's config, for a run with `--target NAME`.
pub fn config_for_target(cfg: &Config, env: &EnvConfig, name: &str) -> Result<Config, Exit> {
    fleet_of(env, "--target")?;
    let handed = std::env::var(HANDED_TARGET)
        .ok()
        .and_then(|json| serde_json::from_str::<Target>(&json).ok())
        .filter(|t| t.name == name && super::valid_name(&t.name));
    let target = match handed {
        Some(t) => t,
        None => {
            let all = targets(cfg, env)?;
            super::find(&env.name, &all, name)
                .map_err(|e| Exit::usage(e.to_string()))?
                .clone()
        }
    };
    super::target::config_for(cfg, &env.name, &target).map_err(Exit::usage)
}

/// How the rollout tells people what each target is doing: a live line per running target
/// on a terminal (its latest step, read from its log), plain lines otherwise.
struct Progress<'a> {
    live: Option<indicatif::MultiProgress>,
    /// Each running target's line, log and start.
    bars: Vec<(String, indicatif::ProgressBar, PathBuf, Instant)>,
    say: &'a dyn Fn(&str),
}

impl<'a> Progress<'a> {
    fn new(live: bool, say: &'a dyn Fn(&str)) -> Progress<'a> {
        Progress {
            live: live.then(indicatif::MultiProgress::new),
            bars: Vec::new(),
            say,
        }
    }

    fn started(&mut self, target: &str, log: PathBuf) {
        match &self.live {
            Some(m) => {
                let bar = m.add(indicatif::ProgressBar::new_spinner());
                bar.set_message(format!("[{target}] starting"));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars
                    .push((target.to_string(), bar, log, Instant::now()));
            }
            None => (self.say)(&format!("[{target}] started")),
        }
    }

    /// Refresh the live lines with each target's latest step.
    fn tick(&self) {
        for (target, bar, log, started) in &self.bars {
            let since = started.elapsed().as_secs_f64();
            let step = last_step(log).unwrap_or_else(|| "starting".into());
            bar.set_message(format!("[{target}] {step} ({since:.0} s)"));
        }
    }

    fn line(&mut self, target: &str, line: &str) {
        if let Some(i) = self.bars.iter().position(|(t, ..)| t == target) {
            let (_, bar, ..) = self.bars.remove(i);
            bar.finish_and_clear();
        }
        match &self.live {
            Some(m) => {
                let _ = m.println(line);
            }
            None => (self.say)(line),
        }
    }
}

/// The last step line (`[3/6] backup ...`) a target's run wrote to its log.
fn last_step(log: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| l.starts_with('[') && l.contains('/'))
        .map(|l| crate::text::for_terminal(l).chars().take(80).collect())
}

/// What became of one target.
struct Result1 {
    target: String,
    /// `None`: never started.
    exit_code: Option<i32>,
    report: Option<Value>,
    log: PathBuf,
    duration: Duration,
}

impl Result1 {
    fn outcome(&self) -> &str {
        match (&self.report, self.exit_code) {
            (_, None) => "not_started",
            (Some(r), _) => r["outcome"].as_str().unwrap_or("failed"),
            (None, Some(0)) => "succeeded",
            (None, Some(_)) => "failed",
        }
    }
    fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }
    fn error(&self) -> Option<String> {
        self.report
            .as_ref()
            .and_then(|r| r["error"].as_str().map(str::to_string))
    }
}

/// The arguments a child gets: the user's, without the fleet's own flags and `--output`.
fn child_args(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in argv.iter().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        match a.as_str() {
            "--shard" | "--parallel" | "--output" | "--config" => skip_value = true,
            s if ["--shard=", "--parallel=", "--output=", "--config="]
                .iter()
                .any(|p| s.starts_with(p)) => {}
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Run every target of `env` (or of `shard`): canaries first, then the rest.
pub fn run(
    cfg: &Config,
    env: &EnvConfig,
    args: &crate::cli::RunArgs,
    argv: &[String],
) -> Result<Code, Exit> {
    let fleet = fleet_of(env, "a fleet run")?;
    let mut all = targets(cfg, env)?;
    if let Some(s) = args.shard {
        all = s.select(&all);
    }
    let parallel = args
        .parallel
        .unwrap_or(fleet.parallel)
        .clamp(1, super::MAX_PARALLEL);
    let json = args.output.for_run()? == crate::cli::RunOutput::Json;
    let say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| Exit::failed(format!("cannot find this program to start targets: {e}")))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let logs =
        cfg.state_dir
            .join("fleet")
            .join(format!("{}-{stamp}-{}", env.name, std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| {
        Exit::failed(format!(
            "cannot create {}: {e}; nothing was run",
            logs.display()
        ))
    })?;
    let base = child_args(argv);
    let (canaries, rest): (Vec<Target>, Vec<Target>) = all
        .iter()
        .cloned()
        .partition(|t| fleet.canary.contains(&t.name));
    say(&format!(
        "platform-migrate: fleet {} — {} target(s){}, {parallel} at a time, on failure: {}",
        env.name,
        all.len(),
        if canaries.is_empty() {
            String::new()
        } else {
            format!(
                ", canary first: {}",
                canaries
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        match fleet.on_failure {
            OnFailure::Stop => "stop",
            OnFailure::Continue => "continue",
        }
    ));
    let warm = fleet.warm_python.as_deref().and_then(|python| {
        let runner = cfg.plugins.get(&env.runner)?;
        // Ports of URL secrets the fleet's host can read (a per-target template cannot be).
        let grants = crate::config::grants_with_url_ports(runner, &Default::default());
        let policy = crate::warm::zygote::policy_for(python, &cfg.base_dir, &grants);
        let started = std::fs::File::create(logs.join("warm-python.log"))
            .map_err(|e| e.to_string())
            .and_then(|log| crate::warm::zygote::Zygote::start(python, &policy, log));
        match started {
            Ok(z) => Some(z),
            Err(why) => {
                say(&format!(
                    "platform-migrate: warm-python: {why}; every target starts its Python afresh"
                ));
                None
            }
        }
    });
    let started = Instant::now();
    let launch = |t: &Target| -> Result<Child, String> {
        let log = std::fs::File::create(log_of(&logs, &t.name))
            .map_err(|e| format!("cannot create its log: {e}"))?;
        let mut cmd = Command::new(&exe);
        // This target's own socket pair to the warm-start Python: inherited by its run
        // alone (see `warm`).
        let channel = match &warm {
            Some(z) => match z.channel() {
                Ok(fd) => Some(fd),
                Err(why) => {
                    tracing::warn!("{}: {why}; it starts its Python afresh", t.name);
                    None
                }
            },
            None => None,
        };
        if let (Some(fd), Some(z)) = (&channel, &warm) {
            use std::os::fd::AsRawFd;
            let raw = fd.as_raw_fd();
            cmd.env(crate::warm::FD_VAR, raw.to_string())
                .env(crate::warm::PYTHON_VAR, &z.python);
            crate::warm::hand_down(&mut cmd, raw, raw);
        }
        cmd.arg("--config")
            .arg(&cfg.path)
            .args(&base)
            .args(["--target", &t.name, "--output", "json"])
            .env(
                HANDED_TARGET,
                serde_json::to_string(t).map_err(|e| format!("cannot hand it its target: {e}"))?,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))
    };
    let mut results: Vec<Result1> = Vec::new();
    let mut stopped = false;
    let live = {
        use std::io::IsTerminal;
        !json
            && !args.show
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
    };
    let mut progress = Progress::new(live, &say);
    for (stage, list) in [("canary", canaries), ("rollout", rest)] {
        if list.is_empty() {
            continue;
        }
        if stopped {
            results.extend(list.iter().map(|t| not_started(t, &logs)));
            continue;
        }
        let stop_on_failure = stage == "canary" || fleet.on_failure == OnFailure::Stop;
        let (mut done, halted) = wave(
            list,
            parallel,
            stop_on_failure,
            &launch,
            &logs,
            &mut progress,
        );
        stopped = halted;
        results.append(&mut done);
    }
    let order: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    results.sort_by_key(|r| order.iter().position(|n| *n == r.target));
    let code = overall(&results);
    let failed: Vec<&Result1> = results
        .iter()
        .filter(|r| r.exit_code.is_some() && !r.ok())
        .collect();
    let skipped = results.iter().filter(|r| r.exit_code.is_none()).count();
    let outcome = if crate::interrupt::signalled().is_some() {
        "interrupted"
    } else if code == 0 {
        "succeeded"
    } else {
        "failed"
    };
    let combined = combined_plan(&results);
    if !json && args.show {
        say("plan per target (targets with the same plan together):");
        for (steps, targets) in plans_by_target(&results) {
            let who = if targets.len() > 1 {
                format!("{} ({} targets)", targets.join(", "), targets.len())
            } else {
                targets.join(", ")
            };
            match steps {
                None => say(&format!(
                    "  {who}: no plan (the run failed before showing it)"
                )),
                Some(s) if s.is_empty() => say(&format!("  {who}: nothing pending")),
                Some(s) => say(&format!("  {who}: {} step(s): {}", s.len(), s.join(", "))),
            }
        }
        say("combined plan:");
        for (step, targets) in &combined {
            say(&format!("  {step}  on {}", shown(targets, all.len())));
        }
        if combined.is_empty() {
            say("  nothing pending on any target");
        }
    }
    if json {
        let doc = json!({
            "schema_version": 1,
            "kind": "fleet",
            "plan": combined.iter().map(|(step, targets)| json!({
                "step": step,
                "targets": targets,
            })).collect::<Vec<_>>(),
            "env": env.name,
            "outcome": outcome,
            "exit_code": code,
            "duration_ms": started.elapsed().as_millis() as u64,
            "logs": logs.display().to_string(),
            "targets": results.iter().map(|r| json!({
                "target": r.target,
                "outcome": r.outcome(),
                "exit_code": r.exit_code,
                "error": r.error(),
                "duration_ms": r.duration.as_millis() as u64,
                "log": r.log.display().to_string(),
                "report": r.report,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        say(&format!(
            "{outcome}: {} of {} target(s) succeeded, {} failed{}, in {:.1} s; logs in {}",
            results.iter().filter(|r| r.ok()).count(),
            results.len(),
            failed.len(),
            if skipped > 0 {
                format!(", {skipped} not started")
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64(),
            logs.display()
        ));
    }
    if let Some(sig) = crate::interrupt::signalled() {
        return Err(Exit::new(
            code_of(code),
            format!(
                "fleet {}: {} stopped the rollout; {} target(s) finished, {skipped} not started",
                env.name,
                crate::interrupt::name(sig),
                results.len() - skipped
            ),
        ));
    }
    match code {
        0 => Ok(Code::Success),
        _ => Err(Exit::new(
            code_of(code),
            format!(
                "fleet {}: {} target(s) failed ({}){}",
                env.name,
                failed.len(),
                failed
                    .iter()
                    .map(|r| r.target.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if skipped > 0 {
                    format!("; {skipped} not started")
                } else {
                    String::new()
                }
            ),
        )),
    }
}

/// One target's plan steps as [`combined_plan`] names them; `None` when its report has none.
fn steps_of(r: &Result1) -> Option<Vec<String>> {
    let plan = r.report.as_ref()?["plan"].as_array()?;
    Some(
        plan.iter()
            .map(|m| {
                format!(
                    "{}{}.{}",
                    if m["backwards"] == true {
                        "unapply "
                    } else {
                        ""
                    },
                    m["app"].as_str().unwrap_or("?"),
                    m["name"].as_str().unwrap_or("?")
                )
            })
            .collect(),
    )
}

/// Each distinct plan with the targets that have exactly it, in the order they first appear:
/// a fleet whose targets agree prints one line, not one per target.
fn plans_by_target(results: &[Result1]) -> Vec<(Option<Vec<String>>, Vec<String>)> {
    let mut out: Vec<(Option<Vec<String>>, Vec<String>)> = Vec::new();
    for r in results {
        let steps = steps_of(r);
        match out.iter_mut().find(|(s, _)| *s == steps) {
            Some((_, targets)) => targets.push(r.target.clone()),
            None => out.push((steps, vec![r.target.clone()])),
        }
    }
    out
}

/// The fleet's plan, once: each step (`app.name`, `-` prefixed when backwards) with the targets
/// whose plan has it, in the order they first appear.
fn combined_plan(results: &[Result1]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in results {
        for step in steps_of(r).unwrap_or_default() {
            match out.iter_mut().find(|(s, _)| *s == step) {
                Some((_, targets)) => targets.push(r.target.clone()),
                None => out.push((step, vec![r.target.clone()])),
            }
        }
    }
    out
}

/// `all 8 targets`, or the names.
fn shown(targets: &[String], total: usize) -> String {
    if targets.len() == total && total > 1 {
        format!("all {total} targets")
    } else {
        targets.join(", ")
    }
}

/// Where a target's run writes its output (its stderr; the report goes to the rollout).
fn log_of(logs: &std::path::Path, target: &str) -> PathBuf {
    logs.join(format!("{target}.log"))
}

fn not_started(t: &Target, logs: &std::path::Path) -> Result1 {
    Result1 {
        target: t.name.clone(),
        exit_code: None,
        report: None,
        log: log_of(logs, &t.name),
        duration: Duration::ZERO,
    }
}

/// Run `list` with at most `parallel` children at once. With `stop_on_failure`, no new
/// target starts after one fails (running ones finish); nor after SIGINT/SIGTERM. Returns the
/// results and whether the rollout should stop.
fn wave(
    list: Vec<Target>,
    parallel: usize,
    stop_on_failure: bool,
    launch: &dyn Fn(&Target) -> Result<Child, String>,
    logs: &std::path::Path,
    progress: &mut Progress<'_>,
) -> (Vec<Result1>, bool) {
    let mut queue: VecDeque<Target> = list.into();
    let mut running: Vec<(Target, Child, Instant, std::thread::JoinHandle<String>)> = Vec::new();
    // A target's report is read to its end as its run exits: the next one starts then, not
    // at the next tick.
    let (ended, ends) = std::sync::mpsc::channel::<()>();
    let mut out = Vec::new();
    let mut halted = false;
    loop {
        let stop = halted || crate::interrupt::signalled().is_some();
        while !stop && running.len() < parallel {
            let Some(t) = queue.pop_front() else { break };
            match launch(&t) {
                Ok(mut child) => {
                    progress.started(&t.name, log_of(logs, &t.name));
                    // Read the report while the child runs, so a full pipe never blocks it.
                    let mut stdout = child.stdout.take();
                    let ended = ended.clone();
                    let reader = std::thread::spawn(move || {
                        let mut s = String::new();
                        if let Some(o) = stdout.as_mut() {
                            let _ = std::io::Read::read_to_string(o, &mut s);
                        }
                        let _ = ended.send(());
                        s
                    });
                    running.push((t, child, Instant::now(), reader));
                }
                Err(why) => {
                    progress.line(&t.name, &format!("[{}] failed: {why}", t.name));
                    out.push(Result1 {
                        target: t.name.clone(),
                        exit_code: Some(1),
                        report: None,
                        log: log_of(logs, &t.name),
                        duration: Duration::ZERO,
                    });
                    halted |= stop_on_failure;
                }
            }
        }
        if running.is_empty() {
            break;
        }
        if ends.recv_timeout(Duration::from_millis(50)).is_ok() {
            // Its output is over, so its process is ending: give it a moment to be reaped.
            let until = Instant::now() + Duration::from_millis(100);
            while Instant::now() < until
                && running
                    .iter_mut()
                    .all(|r| matches!(r.1.try_wait(), Ok(None)))
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        progress.tick();
        let mut i = 0;
        while i < running.len() {
            match running[i].1.try_wait() {
                Ok(Some(status)) => {
                    let (t, _, since, reader) = running.swap_remove(i);
                    let text = reader.join().unwrap_or_default();
                    let report: Option<Value> = serde_json::from_str(&text).ok();
                    let code = status.code().unwrap_or(1);
                    let r = Result1 {
                        target: t.name.clone(),
                        exit_code: Some(code),
                        report,
                        log: log_of(logs, &t.name),
                        duration: since.elapsed(),
                    };
                    let applied = r
                        .report
                        .as_ref()
                        .and_then(|v| v["applied"].as_array().map(Vec::len))
                        .unwrap_or(0);
                    match (r.ok(), r.error()) {
                        (true, _) => progress.line(
                            &r.target,
                            &format!(
                                "[{}] {}: {applied} migration(s) ({:.1} s)",
                                r.target,
                                r.outcome(),
                                r.duration.as_secs_f64()
                            ),
                        ),
                        (false, e) => progress.line(
                            &r.target,
                            &format!(
                                "[{}] {} (exit {code}): {}",
                                r.target,
                                r.outcome(),
                                e.unwrap_or_else(|| format!("see {}", r.log.display()))
                            ),
                        ),
                    }
                    if !r.ok() && stop_on_failure {
                        halted = true;
                    }
                    out.push(r);
                }
                Ok(None) => i += 1,
                Err(_) => i += 1,
            }
        }
    }
    for t in queue {
        out.push(not_started(&t, logs));
    }
    let interrupted = crate::interrupt::signalled().is_some();
    (out, halted || interrupted)
}

/// The fleet's exit code: 0 when every target succeeded; the failures' code when they share
/// one; 130/143 after a signal; 1 otherwise.
fn overall(results: &[Result1]) -> i32 {
    if let Some(sig) = crate::interrupt::signalled() {
        return 128 + sig;
    }
    let codes: Vec<i32> = results
        .iter()
        .filter_map(|r| r.exit_code)
        .filter(|c| *c != 0)
        .collect();
    if codes.is_empty() {
        return if results.iter().all(|r| r.ok()) { 0 } else { 1 };
    }
    if codes.iter().all(|c| *c == codes[0]) {
        codes[0]
    } else {
        1
    }
}

fn code_of(c: i32) -> Code {
    match c {
        2 => Code::Usage,
        3 => Code::Refused,
        4 => Code::Denied,
        5 => Code::NotifyFailed,
        6 => Code::Pending,
        7 => Code::ModelChanges,
        8 => Code::Busy,
        130 => Code::Interrupted,
        143 => Code::Terminated,
        _ => Code::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn children_get_the_users_flags_without_the_fleets() {
        let argv = v(&[
            "platform-migrate",
            "--env",
            "prod",
            "--shard",
            "1/2",
            "--parallel=3",
            "--confirm",
            "--output",
            "json",
            "--config",
            "x.toml",
        ]);
        assert_eq!(child_args(&argv), v(&["--env", "prod", "--confirm"]));
    }

    fn r(code: Option<i32>) -> Result1 {
        Result1 {
            target: "t".into(),
            exit_code: code,
            report: None,
            log: PathBuf::new(),
            duration: Duration::ZERO,
        }
    }

    fn planned(target: &str, steps: &[(&str, bool)]) -> Result1 {
        let plan: Vec<serde_json::Value> = steps
            .iter()
            .map(|(id, back)| {
                let (app, name) = id.split_once('.').unwrap();
                json!({"app": app, "name": name, "backwards": back})
            })
            .collect();
        Result1 {
            target: target.into(),
            report: Some(json!({ "plan": plan })),
            ..r(Some(0))
        }
    }

    #[test]
    fn targets_with_the_same_plan_are_shown_together_and_each_step_once() {
        let a = [("users.0001", false), ("orders.0002", false)];
        let results = [
            planned("t1", &a),
            planned("t2", &[("orders.0002", false)]),
            planned("t3", &a),
            planned("t4", &[]),
            planned("t5", &[("orders.0002", true)]),
            Result1 {
                target: "t6".into(),
                ..r(Some(2))
            },
        ];
        let groups = plans_by_target(&results);
        assert_eq!(
            groups,
            vec![
                (Some(v(&["users.0001", "orders.0002"])), v(&["t1", "t3"])),
                (Some(v(&["orders.0002"])), v(&["t2"])),
                (Some(vec![]), v(&["t4"])),
                (Some(v(&["unapply orders.0002"])), v(&["t5"])),
                (None, v(&["t6"])),
            ]
        );
        assert_eq!(
            combined_plan(&results),
            vec![
                ("users.0001".to_string(), v(&["t1", "t3"])),
                ("orders.0002".to_string(), v(&["t1", "t2", "t3"])),
                ("unapply orders.0002".to_string(), v(&["t5"])),
            ]
        );
    }

    #[test]
    fn the_overall_code_is_the_failures_when_they_agree() {
        assert_eq!(overall(&[r(Some(0)), r(Some(0))]), 0);
        assert_eq!(overall(&[r(Some(0)), r(Some(8))]), 8);
        assert_eq!(overall(&[r(Some(3)), r(Some(8))]), 1);
        assert_eq!(overall(&[r(Some(0)), r(None)]), 1);
    }
}
