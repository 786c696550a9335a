//! The `config` import: the plugin's own settings and its granted secrets.

use super::bindings::platform::migrate::config::{Host, SecretError};
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
        let Some(source) = self.config.secrets.get(&name).cloned() else {
            let plugin = self.plugin().to_string();
            let denied = crate::policy::Denied::for_need(
                &plugin,
                &format!("asked for secret '{name}', which is not granted"),
                &crate::policy::Need::Secret(name.clone()),
            );
            self.deny(denied.0);
            return Err(SecretError::NotGranted(name));
        };
        secrets::resolve(&name, &source, &self.redactor)
            .map_err(|e| SecretError::Unavailable(e.to_string()))
    }
}
