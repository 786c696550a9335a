//! Enforcing a plugin's [`Limits`] in wasmtime: a resource limiter that stops the plugin when
//! its linear memory would pass the cap, and epoch interruption for the wall-clock deadline of
//! each call (a ticker thread advances the engine's epoch every [`TICK`]). Which limit stopped
//! a call is remembered so the error can name it.

use crate::policy::limits::{Limits, Which};
use std::time::Duration;
use wasmtime::{Engine, ResourceLimiter, Store};

/// How often the epoch advances: the resolution of call deadlines.
pub const TICK: Duration = Duration::from_millis(50);

/// Per-store limiter: memory, plus table and instance counts as wasmtime's defaults would.
pub struct Limiter {
    pub limits: Limits,
    /// The limit that stopped the current call, if one did.
    pub hit: Option<Which>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter { limits, hit: None }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            self.hit = Some(Which::Memory);
            // An error rather than `false`: the plugin is stopped at once, with a trap the
            // host can attribute, instead of failing an allocation in its own way.
            wasmtime::bail!("memory limit exceeded ({desired} bytes wanted)");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        64
    }
}

/// Advance `engine`'s epoch every [`TICK`] for as long as the engine lives.
pub fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("plugin-deadlines".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| tracing::warn!("cannot start the plugin deadline thread: {e}"));
}

/// Ticks in `d`, at least one.
pub fn ticks(d: Duration) -> u64 {
    (d.as_millis() / TICK.as_millis()).max(1) as u64
}

/// Give the next call into the store its full deadline and forget any earlier limit hit.
pub fn arm(store: &mut Store<super::PluginState>) {
    let t = ticks(store.data().limiter.limits.call_timeout);
    store.data_mut().limiter.hit = None;
    store.set_epoch_deadline(t);
}

/// Did this error come from the epoch deadline?
pub fn is_interrupt(e: &wasmtime::Error) -> bool {
    matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_counted_in_ticks() {
        assert_eq!(ticks(Duration::from_secs(1)), 20);
        assert_eq!(ticks(Duration::from_millis(1)), 1);
    }

    #[test]
    fn memory_past_the_cap_stops_the_plugin_and_is_remembered() {
        let limits = Limits::new(Some(1), None, None, None).unwrap();
        let mut l = Limiter::new(limits);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.hit.is_none());
        assert!(l.memory_growing(1 << 20, (1 << 20) + 65536, None).is_err());
        assert_eq!(l.hit, Some(Which::Memory));
    }
}
