//! Secrets: resolved from the host's environment or a file, and redacted from all output.

use std::sync::{Arc, RwLock};

/// Replaces every secret value the host has handed out with `[REDACTED]`. Every redactor of
/// the process shares one list, so a secret resolved by one plugin is redacted everywhere,
/// including on paths that never saw that plugin (error messages, `Debug` text, history).
#[derive(Debug, Clone)]
pub struct Redactor {
    values: Arc<RwLock<Vec<String>>>,
}

impl Default for Redactor {
    fn default() -> Self {
        static ALL: std::sync::OnceLock<Arc<RwLock<Vec<String>>>> = std::sync::OnceLock::new();
        Redactor {
            values: ALL.get_or_init(Default::default).clone(),
        }
    }
}

pub const MASK: &str = "[REDACTED]";

impl Redactor {
    /// Remember a value to redact. Very short values are not worth masking (and would mangle
    /// output); they are still never logged by the host.
    pub fn add(&self, value: &str) {
        if value.len() < 4 {
            return;
        }
        // A URL's password turns up alone too (a program's error, an env var): mask it as well.
        for p in url_password(value) {
            if p.len() >= 4 && p != value {
                self.add(&p);
            }
        }
        if let Ok(mut v) = self.values.write() {
            if !v.iter().any(|x| x == value) {
                v.push(value.to_string());
                // The forms a plugin may print it in to slip past a literal match.
                for form in encodings(value) {
                    if !v.contains(&form) {
                        v.push(form);
                    }
                }
                // Longest first, so a secret containing another is masked whole.
                v.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    /// `text` with every known secret masked. Invisible format characters (zero-width spaces
    /// and joiners, byte-order marks) are dropped first: they change nothing a person sees, but
    /// could split a secret so that no match finds it.
    pub fn redact(&self, text: &str) -> String {
        let Ok(values) = self.values.read() else {
            return text.to_string();
        };
        let mut out: String = if text.chars().any(invisible) {
            text.chars().filter(|c| !invisible(*c)).collect()
        } else {
            text.to_string()
        };
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

/// Zero-width and other invisible format characters.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{180e}')
}

/// Forms of `value` that print it without its literal text: reversed, hex (both cases),
/// percent-encoded, and base64 (standard and URL-safe) in each of the three alignments it can
/// take inside a longer encoded text (only the characters that depend on the secret alone).
fn encodings(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let bytes = value.as_bytes();
    let mut out = vec![
        value.chars().rev().collect::<String>(),
        hex::encode(bytes),
        hex::encode_upper(bytes),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ];
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        padded.extend_from_slice(&[0, 0]);
        // Characters whose six bits all come from the secret's bytes.
        let (first, end) = ((8 * offset).div_ceil(6), 8 * (offset + bytes.len()) / 6);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let text = engine.encode(&padded);
            if let Some(core) = text.get(first..end) {
                out.push(core.to_string());
            }
        }
    }
    // Short forms would mask ordinary text.
    out.retain(|f| f.len() >= 8 && f != value);
    out
}

/// The password of a `scheme://user:password@host/...` URL, as written and percent-decoded.
fn url_password(value: &str) -> Vec<String> {
    let Some((_, rest)) = value.split_once("://") else {
        return vec![];
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return vec![];
    };
    let Some((_, pw)) = userinfo.split_once(':') else {
        return vec![];
    };
    let mut out = vec![pw.to_string()];
    let bytes = pw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                decoded.push(b);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    if decoded != pw {
        out.push(decoded);
    }
    out
}

/// Why a secret could not be resolved. Messages name the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret '{name}' is not granted to plugin '{plugin}'; add it to plugins.{plugin}.grants.secrets")]
    NotGranted { plugin: String, name: String },
    #[error("secret '{name}': environment variable {var} is not set; export it before running")]
    EnvMissing { name: String, var: String },
    #[error("secret '{name}': cannot read file {file}: {reason}")]
    FileUnreadable {
        name: String,
        file: String,
        reason: String,
    },
}

/// Where a secret's value comes from: an environment variable of the host, or a file.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<String>,
}

/// Read a secret's value from its source (trailing newline of a file trimmed) and register it
/// with the redactor.
pub fn resolve(
    name: &str,
    source: &SecretSource,
    redactor: &Redactor,
) -> Result<String, SecretError> {
    let value = if let Some(var) = &source.env {
        std::env::var(var).map_err(|_| SecretError::EnvMissing {
            name: name.into(),
            var: var.clone(),
        })?
    } else if let Some(file) = &source.file {
        std::fs::read_to_string(file)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| SecretError::FileUnreadable {
                name: name.into(),
                file: file.clone(),
                reason: e.to_string(),
            })?
    } else {
        return Err(SecretError::EnvMissing {
            name: name.into(),
            var: "(none)".into(),
        });
    };
    redactor.add(&value);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_reversed_and_split_forms_of_a_secret_are_masked() {
        use base64::Engine;
        let r = Redactor::default();
        let secret = "xoxb-encoded-form-secret-77";
        r.add(secret);
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for text in [
            hex::encode(secret),
            hex::encode_upper(secret),
            secret.chars().rev().collect::<String>(),
            secret.replace('-', "-\u{200b}"),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            b64(secret),
            b64(&format!("a{secret}")),
            b64(&format!("ab{secret}tail")),
            base64::engine::general_purpose::URL_SAFE.encode(format!("token={secret}")),
        ] {
            let out = r.redact(&format!("sent {text} ok"));
            assert!(out.contains(MASK), "{text} -> {out}");
            assert!(out.starts_with("sent ") && out.ends_with(" ok"), "{out}");
        }
        // An ordinary word is left alone.
        assert_eq!(r.redact("encoded form"), "encoded form");
    }

    #[test]
    fn redacts_every_occurrence_longest_first() {
        let r = Redactor::default();
        r.add("hunter2hunter2");
        r.add("hunter2");
        let out = r.redact("a hunter2hunter2 b hunter2 c");
        assert_eq!(out, "a [REDACTED] b [REDACTED] c");
    }

    #[test]
    fn a_url_password_is_masked_on_its_own_too() {
        let r = Redactor::default();
        r.add("postgresql://app:p%40ssw0rd@db:5432/shop");
        assert_eq!(r.redact("PGPASSWORD=p@ssw0rd"), "PGPASSWORD=[REDACTED]");
        assert_eq!(r.redact("pw p%40ssw0rd"), "pw [REDACTED]");
        assert_eq!(
            r.redact("url postgresql://app:p%40ssw0rd@db:5432/shop"),
            "url [REDACTED]"
        );
        assert!(super::url_password("postgresql://app@db/shop").is_empty());
        assert!(super::url_password("not a url").is_empty());
    }

    #[test]
    fn clones_share_secrets() {
        let r = Redactor::default();
        let other = r.clone();
        r.add("s3cr3t-value");
        assert_eq!(other.redact("x s3cr3t-value"), "x [REDACTED]");
    }

    #[test]
    fn file_secrets_are_trimmed_and_registered() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "postgres://u:pw1234@h/db\n").unwrap();
        let r = Redactor::default();
        let src = SecretSource {
            env: None,
            file: Some(f.display().to_string()),
        };
        let v = resolve("db", &src, &r).unwrap();
        assert_eq!(v, "postgres://u:pw1234@h/db");
        assert_eq!(r.redact(&v), MASK);
    }

    #[test]
    fn missing_env_names_the_variable_not_a_value() {
        let src = SecretSource {
            env: Some("PM_TEST_SURELY_UNSET_VAR".into()),
            file: None,
        };
        let e = resolve("db", &src, &Redactor::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("PM_TEST_SURELY_UNSET_VAR"), "{e}");
    }
}
