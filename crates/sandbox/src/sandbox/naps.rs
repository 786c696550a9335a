//! `wasi:clocks/monotonic-clock` sleeps that end at the plugin's call deadline or at
//! SIGINT/SIGTERM. Epoch interruption stops wasm code only; a plugin blocked in a WASI sleep is
//! in host code, so without this a long sleep would outlast `call-timeout-secs` and Ctrl-C.
//! These definitions shadow wasmtime-wasi's `subscribe-duration` and `subscribe-instant`: the
//! sleep returns early, the plugin's code resumes, and the deadline check traps it at once.

use super::state::PluginState;
use std::time::Duration;
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};
use wasmtime_wasi::HostMonotonicClock;

/// The interface name wasmtime-wasi 48 provides (guests importing any 0.2.x match it).
const CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The plugin's monotonic clock: nanoseconds since the host started, so the host can compare
/// a plugin's `subscribe-instant` with its own time.
pub struct Clock;

fn origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

impl wasmtime_wasi::HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        origin().elapsed().as_nanos() as u64
    }
}

/// A sleep until `until`, cut short by an interrupted run.
struct Nap {
    until: tokio::time::Instant,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Nap {
    async fn ready(&mut self) {
        loop {
            if crate::interrupt::aborting() {
                return;
            }
            let now = tokio::time::Instant::now();
            if now >= self.until {
                return;
            }
            let slice = (self.until - now).min(Duration::from_millis(50));
            tokio::time::sleep(slice).await;
        }
    }
}

fn nap(
    mut store: StoreContextMut<'_, PluginState>,
    wanted: Duration,
) -> wasmtime::Result<Resource<DynPollable>> {
    let data = store.data_mut();
    let until = tokio::time::Instant::now() + wanted.min(data.limiter.deadline.left());
    let r = data.table.push(Nap { until })?;
    subscribe(&mut data.table, r)
}

/// Replace the two sleep constructors in `linker` (after wasmtime-wasi added its own).
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |store: StoreContextMut<'_, PluginState>, (nanos,): (u64,)| {
            Ok((nap(store, Duration::from_nanos(nanos))?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |store: StoreContextMut<'_, PluginState>, (when,): (u64,)| {
            let now = Clock.now();
            Ok((nap(store, Duration::from_nanos(when.saturating_sub(now)))?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
