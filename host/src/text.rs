//! Text that came from plugins or the programs they run, made safe to show and store:
//! secrets masked first, then cut to a bound (so a cut can never leave a secret's prefix),
//! and control characters escaped before anything reaches a terminal.

use crate::secrets::Redactor;

/// `s` with every known secret masked, then cut to at most `max` bytes.
pub fn bounded(s: &str, max: usize) -> String {
    crate::exit::clip(Redactor::default().redact(s), max)
}

/// `s` with control characters other than newline and tab shown as `\u{..}` escapes, so plugin
/// text cannot move the cursor, rewrite the terminal's title or fake colours.
pub fn for_terminal(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
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
