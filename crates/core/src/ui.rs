//! Human output on stdout (stderr with `--output json`): the six steps with outcome and
//! duration, details, and (when verbose) each command the plugins run with its output. Logs go
//! to stderr through `tracing`. Step and outcome lines are coloured on a terminal (`--color`,
//! `NO_COLOR`); a spinner only while a step runs on a terminal.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
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

/// Whether stdout and stderr get colours (set once from `--color` by [`set_color`]).
/// When human output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless the NO_COLOR environment variable is set.
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR_STDOUT: AtomicBool = AtomicBool::new(false);
static COLOR_STDERR: AtomicBool = AtomicBool::new(false);

/// Decide colours for the process: `always`, `never`, or `auto` (each stream when it is a
/// terminal and `NO_COLOR` is unset). Returns whether stderr is coloured (for the logs).
pub fn set_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (out, err) = match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => (
            !no_color && std::io::stdout().is_terminal(),
            !no_color && std::io::stderr().is_terminal(),
        ),
    };
    COLOR_STDOUT.store(out, Ordering::Relaxed);
    COLOR_STDERR.store(err, Ordering::Relaxed);
    err
}

/// The SGR colour of a step's outcome or a run's outcome line, from its first word.
fn paint_of(text: &str) -> Option<&'static str> {
    let word = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    match word {
        "ok" | "succeeded" | "shown" => Some("32"),
        "skipped" => Some("2"),
        "warning" => Some("33"),
        "failed" | "refused" | "busy" | "interrupted" | "error" => Some("1;31"),
        _ => None,
    }
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
        self.painted("", line, None);
    }

    /// `plain` then `line` coloured with `paint` when this stream is coloured.
    fn painted(&self, plain: &str, line: &str, paint: Option<&str>) {
        // Secrets masked, control characters escaped, then cut: plugin text can be anything;
        // colour codes are the host's own, added after.
        let line = crate::text::for_display(&format!("{plain}{line}"), MAX_LINE);
        let on = if self.stderr {
            &COLOR_STDERR
        } else {
            &COLOR_STDOUT
        };
        let line = match paint {
            // Only where the shown line still starts with `plain` (it is the host's own text).
            Some(sgr) if on.load(Ordering::Relaxed) && line.starts_with(plain) => {
                let tail = &line[plain.len()..];
                format!("{plain}\x1b[{sgr}m{tail}\x1b[0m")
            }
            _ => line,
        };
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
            self.painted(
                &format!("[{n}/{STEPS}] {name}: "),
                &format!("{outcome} ({})", fmt_duration(took)),
                paint_of(outcome),
            );
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
        self.painted("", line, paint_of(line));
    }
}

#[cfg(test)]
mod tests {
    use super::paint_of;

    #[test]
    fn outcomes_get_their_colour_from_the_first_word() {
        assert_eq!(paint_of("ok, verified"), Some("32"));
        assert_eq!(paint_of("succeeded: 2 applied (1.2 s)"), Some("32"));
        assert_eq!(paint_of("skipped, --show changes nothing"), Some("2"));
        assert_eq!(paint_of("failed"), Some("1;31"));
        assert_eq!(paint_of("warning: slack"), Some("33"));
        assert_eq!(paint_of("3 pending"), None);
    }
}
