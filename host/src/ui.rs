//! Human output on stdout (stderr with `--output json`): the six steps with outcome and
//! duration, details, and (when verbose) each command the plugins run with its output. Logs go
//! to stderr through `tracing`. No colours; a spinner only while a step runs on a terminal.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

/// Cheap to clone; plugins' stores hold one to echo command output.
#[derive(Debug, Clone)]
pub struct Ui {
    level: Arc<AtomicU8>,
    step: Arc<Mutex<OpenStep>>,
    /// Human output goes to stderr (stdout is kept for a machine-readable report).
    stderr: bool,
    /// Show a spinner while a step runs (stdout is a terminal, not verbose, NO_COLOR unset).
    spinner: bool,
}

/// The step being run: its details are printed under its line once it finishes; live output
/// (echo) prints the step's name first so it is never orphaned.
#[derive(Debug, Default)]
struct OpenStep {
    title: Option<String>,
    header_printed: bool,
    details: Vec<String>,
    progress: Option<indicatif::ProgressBar>,
}

/// Total steps of a run.
pub const STEPS: usize = 6;

/// Longest line printed; the rest is cut (saying how much).
const MAX_LINE: usize = 16 * 1024;

pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

impl Ui {
    pub fn new(v: Verbosity) -> Ui {
        use std::io::IsTerminal;
        Ui {
            level: Arc::new(AtomicU8::new(v as u8)),
            step: Arc::default(),
            stderr: false,
            spinner: v == Verbosity::Normal
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// Send human output to stderr (for `--output json`); no spinner then.
    pub fn on_stderr(mut self) -> Ui {
        self.stderr = true;
        self.spinner = false;
        self
    }

    fn level(&self) -> u8 {
        self.level.load(Ordering::Relaxed)
    }

    /// The verbosity this ui prints at.
    pub fn level_of(&self) -> Verbosity {
        match self.level() {
            l if l >= Verbosity::Verbose as u8 => Verbosity::Verbose,
            l if l >= Verbosity::Normal as u8 => Verbosity::Normal,
            _ => Verbosity::Quiet,
        }
    }

    pub fn verbose(&self) -> bool {
        self.level() >= Verbosity::Verbose as u8
    }

    fn out(&self, line: &str) {
        // Secrets masked, control characters escaped, then cut: plugin text can be anything.
        let line = crate::text::for_display(line, MAX_LINE);
        if self.stderr {
            let mut o = std::io::stderr().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        } else {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        }
    }

    /// A headline (normal and verbose).
    pub fn heading(&self, line: &str) {
        if self.level() >= Verbosity::Normal as u8 {
            self.out(line);
        }
    }

    /// A step starts: its details are collected until [`Ui::step`].
    pub fn begin(&self, n: usize, name: &str) {
        if let Ok(mut s) = self.step.lock() {
            let title = format!("[{n}/{STEPS}] {name}");
            let progress = self.spinner.then(|| {
                let p = indicatif::ProgressBar::new_spinner().with_message(format!("{title} ..."));
                p.enable_steady_tick(Duration::from_millis(120));
                p
            });
            *s = OpenStep {
                title: Some(title),
                progress,
                ..OpenStep::default()
            };
        }
    }

    /// A finished step: `[n/6] name: outcome (duration)`, then its details.
    pub fn step(&self, n: usize, name: &str, outcome: &str, took: Duration) {
        let details = match self.step.lock() {
            Ok(mut s) => {
                let open = std::mem::take(&mut *s);
                if let Some(p) = open.progress {
                    p.finish_and_clear();
                }
                open.details
            }
            Err(_) => Vec::new(),
        };
        if self.level() >= Verbosity::Normal as u8 {
            self.out(&format!(
                "[{n}/{STEPS}] {name}: {outcome} ({})",
                fmt_duration(took)
            ));
            for d in details {
                self.out(&d);
            }
        }
    }

    /// A detail under the current step (normal and verbose).
    pub fn detail(&self, line: &str) {
        if self.level() < Verbosity::Normal as u8 {
            return;
        }
        let line = format!("      {line}");
        match self.step.lock() {
            Ok(mut s) if s.title.is_some() => s.details.push(line),
            _ => self.out(&line),
        }
    }

    /// A line of a child process's output, printed as it comes (verbose only).
    pub fn echo(&self, line: &str) {
        self.live(&format!("| {line}"));
    }

    /// A line printed at once under the current step's name (verbose only).
    pub fn live(&self, line: &str) {
        if !self.verbose() {
            return;
        }
        if let Ok(mut s) = self.step.lock() {
            if let (Some(title), false) = (s.title.clone(), s.header_printed) {
                s.header_printed = true;
                self.out(&format!("{title} ..."));
            }
        }
        self.out(&format!("      {line}"));
    }

    /// The final line; always printed.
    pub fn outcome(&self, line: &str) {
        self.out(line);
    }
}
