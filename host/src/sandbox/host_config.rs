//! The `config` import: the plugin's own settings and its granted secrets.

use super::bindings::platform::migrate::config::{Host, SecretError};
use super::state::PluginState;
use crate::secrets;

impl Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        self.settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn all(&mut self) -> Vec<(String, String)> {
        self.settings.clone()
    }

    fn secret(&mut self, name: String) -> Result<String, SecretError> {
        let Some(source) = self.secrets.get(&name).cloned() else {
            let plugin = self.plugin().to_string();
            self.deny(format!(
                "plugin '{plugin}' asked for secret '{name}', which is not granted; add it to plugins.{plugin}.grants.secrets"
            ));
            return Err(SecretError::NotGranted(name));
        };
        secrets::resolve(&name, &source, &self.redactor)
            .map_err(|e| SecretError::Unavailable(e.to_string()))
    }
}
