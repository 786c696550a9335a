//! Text that came from plugins or the programs they run, made safe to show and store:
//! secrets masked first, then cut to a bound (so a cut can never leave a secret's prefix),
//! and control characters escaped before anything reaches a terminal.

use crate::secrets::Redactor;

/// `s` cut to at most `max` bytes (on a character boundary), saying how much was cut. It masks
/// nothing: use [`bounded`] or [`for_display`] on text that may hold a secret.
pub fn cut(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes cut)", &s[..end], s.len() - end)
}

/// `s` with every known secret masked, then cut to at most `max` bytes (to store or return).
pub fn bounded(s: &str, max: usize) -> String {
    cut(Redactor::default().redact(s), max)
}

/// `s` masked, its control characters escaped, then cut to at most `max` bytes (to print).
pub fn for_display(s: &str, max: usize) -> String {
    cut(for_terminal(&Redactor::default().redact(s)), max)
}

/// `s` with control characters other than newline and tab shown as `\u{..}` escapes, so plugin
/// text cannot move the cursor, rewrite the terminal's title or fake colours; and a line that
/// would start a CI workflow command (`::error`, `::add-mask::`, after any indentation) gets a
/// backslash before its `::`, so a runner such as GitHub Actions reads it as text.
pub fn for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    defuse_workflow_commands(out)
}

/// Every line of `s` whose text starts with `::` gets `\` before it.
fn defuse_workflow_commands(s: String) -> String {
    if !s.contains("::") {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let text = line.trim_start();
        if text.starts_with("::") {
            out.push_str(&line[..line.len() - text.len()]);
            out.push('\\');
            out.push_str(text);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The output gate for one line that a plugin, a database or a git branch controls and that a
/// person or a CI system reads (a log line, a name, a ledger row): secrets masked, every control
/// character escaped (newlines and tabs too, so it can never start a line of its own), a
/// workflow command defused, then cut to `max` bytes.
pub fn one_line(s: &str, max: usize) -> String {
    let masked = Redactor::default().redact(s);
    let flat = masked.replace('\n', "\\n").replace('\t', "\\t");
    cut(for_terminal(&flat), max)
}

/// Longest backup id a provider may return.
pub const MAX_ID: usize = 128;

/// Is `id` a well-formed identifier a plugin may hand back (a backup id): 1 to [`MAX_ID`]
/// characters of `A-Z a-z 0-9 . _ - : +`, not starting with `.` or `-`, and no secret in it?
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID {
        return Err(format!("it must be 1 to {MAX_ID} characters long"));
    }
    if id.starts_with(['.', '-'])
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:+".contains(&b))
    {
        return Err("it may hold only letters, digits and . _ - : + (not first . or -)".into());
    }
    if Redactor::default().redact(id) != id {
        return Err("it contains a secret".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reach_the_terminal_as_text() {
        let s = for_terminal("ok\x1b]0;owned\x07 \x1b[32msucceeded\x1b[0m\nnext\tcol\r");
        assert!(
            !s.contains('\x1b') && !s.contains('\x07') && !s.contains('\r'),
            "{s}"
        );
        assert!(s.contains("\\u{1b}[32msucceeded"), "{s}");
        assert!(s.contains("\nnext\tcol"), "{s}");
    }

    #[test]
    fn workflow_commands_and_new_lines_cannot_be_forged() {
        let s = for_terminal("ok\n  ::error file=x::owned\n::add-mask::x\na::b");
        assert_eq!(s, "ok\n  \\::error file=x::owned\n\\::add-mask::x\na::b");
        let line = one_line("fine\n[3/6] backup: succeeded\n::warning::x\t\x1b[1m", 200);
        assert!(
            !line.contains('\n') && !line.contains('\t') && !line.contains('\x1b'),
            "{line}"
        );
        assert_eq!(
            line,
            "fine\\n[3/6] backup: succeeded\\n::warning::x\\t\\u{1b}[1m"
        );
        assert_eq!(one_line("::error::x", 100), "\\::error::x");
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(cut("short".into(), 10), "short");
        let c = cut("é".repeat(3000), 2001);
        assert!(c.starts_with("éé"));
        assert!(
            c.ends_with("... (4000 more bytes cut)"),
            "{}",
            &c[c.len() - 40..]
        );
        let shown = for_display(&format!("{}\x1b", "y".repeat(100)), 50);
        assert!(!shown.contains('\x1b') && shown.len() < 100, "{shown}");
    }

    #[test]
    fn secrets_are_masked_before_the_cut() {
        Redactor::default().add("hunter2-very-secret-password");
        let s = format!("{}hunter2-very-secret-password", "x".repeat(10));
        let out = bounded(&s, 20);
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn ids_are_strict() {
        assert!(check_id("dev-20260101T000000Z.dump").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"a".repeat(200)).is_err());
        assert!(check_id("../x").is_err());
        assert!(check_id("a b").is_err());
        assert!(check_id("-x").is_err());
        Redactor::default().add("s3cr3t-token-value");
        assert!(check_id("s3cr3t-token-value")
            .unwrap_err()
            .contains("secret"));
    }
}
