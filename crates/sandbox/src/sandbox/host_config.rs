//! The `config` import: the plugin's own settings and its granted secrets.

use super::bindings::latest::platform::migrate::config::{Host, SecretError};
use super::state::PluginState;
use crate::secrets;

impl Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        self.config
            .settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn all(&mut self) -> Vec<(String, String)> {
        self.config.settings.clone()
    }

    fn secret(&mut self, name: String) -> Result<String, SecretError> {
        let source = match self.grants.check_secret(&name) {
            Ok(()) => self.config.secrets.get(&name).cloned(),
            Err(denied) => {
                self.deny(denied.0);
                None
            }
        };
        let Some(source) = source else {
            return Err(SecretError::NotGranted(name));
        };
        secrets::resolve(&name, &source, &self.redactor)
            .map_err(|e| SecretError::Unavailable(e.to_string()))
    }
}
