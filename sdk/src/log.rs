//! Lines into the host's log. The host redacts secrets from them.

use crate::bindings::platform::migrate::log::write;
pub use crate::bindings::platform::migrate::log::Level;

/// Write a line at `level` with key/value fields.
pub fn with_fields(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    write(level, message, &fields);
}

/// Write a debug line (shown with `-v`).
pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

/// Write an info line.
pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

/// Write a warning.
pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// Write an error line.
pub fn error(message: &str) {
    write(Level::Error, message, &[]);
}
