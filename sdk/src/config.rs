//! The plugin's settings (`[plugins.NAME.settings]`) and granted secrets.

use crate::bindings::platform::migrate::config as host;
pub use host::SecretError;
use serde::de::DeserializeOwned;

/// A setting as text (strings as they are; other TOML values as JSON). `None` when absent.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// A setting decoded from JSON into `T`, e.g. `Vec<String>` for an array.
///
/// Returns `Ok(None)` when absent and `Err(message)` when the value has the wrong shape; the
/// message names the setting and what was expected.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, String> {
    match host::get(key) {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            // A plain string setting is not JSON-quoted; try it as a JSON string too.
            .or_else(|_| serde_json::from_value(serde_json::Value::String(text.clone())))
            .map(Some)
            .map_err(|e| format!("setting `{key}` has the wrong type ({e}); got {text}")),
    }
}

/// A boolean setting, `default` when absent.
pub fn get_bool(key: &str, default: bool) -> Result<bool, String> {
    Ok(get_json::<bool>(key)?.unwrap_or(default))
}

/// Every setting.
pub fn all() -> Vec<(String, String)> {
    host::all()
}

/// A message for the user that says what to fix (like [`crate::process::message`]).
pub fn message(e: &SecretError) -> String {
    match e {
        SecretError::NotGranted(name) => format!(
            "secret `{name}` is not granted to this plugin; add it to the plugin's grants.secrets"
        ),
        SecretError::Unavailable(message) => message.clone(),
    }
}

/// A granted secret. The host redacts its value from everything it prints or records.
pub fn secret(name: &str) -> Result<String, SecretError> {
    host::secret(name)
}
