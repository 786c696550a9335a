//! Enforcing a plugin's [`Limits`] in wasmtime: a resource limiter that stops the plugin when
//! its linear memory would pass the cap, and epoch interruption for the wall-clock deadline of
//! each call (a ticker thread advances the engine's epoch every [`TICK`]; at each tick a
//! callback compares the call's deadline and checks for SIGINT/SIGTERM). Which limit stopped
//! a call is remembered so the error can name it.

use crate::policy::limits::{Limits, Which};
use std::time::{Duration, Instant};
use wasmtime::{Engine, ResourceLimiter, Store};

/// How often the epoch advances: the resolution of call deadlines.
pub const TICK: Duration = Duration::from_millis(50);

/// Per-store limiter: memory, plus table and instance counts as wasmtime's defaults would.
pub struct Limiter {
    pub limits: Limits,
    /// The limit that stopped the current call, if one did.
    pub hit: Option<Which>,
    /// When the current call's time is up.
    pub deadline: Instant,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            hit: None,
            deadline: Instant::now(),
        }
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

/// Give the next call into the store its full deadline and forget any earlier limit hit.
pub fn arm(store: &mut Store<super::PluginState>) {
    let l = &mut store.data_mut().limiter;
    l.hit = None;
    l.deadline = Instant::now() + l.limits.call_timeout;
    store.set_epoch_deadline(1);
}

/// Checked every tick while plugin code runs: stop it when its call's time is up or the run
/// was interrupted (SIGINT/SIGTERM); otherwise let it go on for another tick.
pub fn install_deadline_check(store: &mut Store<super::PluginState>) {
    store.epoch_deadline_callback(|mut ctx| {
        if crate::interrupt::aborting() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        let l = &mut ctx.data_mut().limiter;
        if Instant::now() >= l.deadline {
            l.hit = Some(Which::CallTimeout);
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(wasmtime::UpdateDeadline::Continue(1))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
