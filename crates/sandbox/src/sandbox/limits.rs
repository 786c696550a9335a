//! Enforcing a plugin's [`Limits`] in wasmtime: a resource limiter that stops the plugin when
//! its linear memory would pass the cap, and epoch interruption for the wall-clock deadline of
//! each call (a ticker thread advances the engine's epoch every [`TICK`]; at each tick a
//! callback compares the call's deadline and checks for SIGINT/SIGTERM). Which limit stopped
//! a call is remembered so the error can name it.

use crate::policy::limits::{Limits, Which};
pub use crate::proc::Deadline;
use std::time::{Duration, Instant};
use wasmtime::{Engine, ResourceLimiter, Store};

/// How often the epoch advances: the resolution of call deadlines.
pub const TICK: Duration = Duration::from_millis(50);

/// Table elements one plugin may hold in all its tables together.
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// Bytes one table element is counted as against the memory budget.
const TABLE_ELEMENT_BYTES: usize = 16;

/// Per-store (so per-plugin) limiter: one budget for all the plugin's linear memories and
/// tables together, and bounded counts of instances, memories and tables.
pub struct Limiter {
    pub limits: Limits,
    /// Bytes of linear memory and table elements granted so far, over every memory and table.
    pub used: usize,
    /// Table elements granted so far, over every table.
    pub table_elements: usize,
    /// The limit that stopped the current call, if one did.
    pub hit: Option<Which>,
    /// When the current call's time is up (shared with the background programs the plugin
    /// starts, so that ending them after a call overran gives them no grace).
    pub deadline: Deadline,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            used: 0,
            table_elements: 0,
            hit: None,
            deadline: Deadline::default(),
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(desired.saturating_sub(current));
        if total > self.limits.memory_bytes {
            self.hit = Some(Which::Memory);
            // An error rather than `false`: the plugin is stopped at once, with a trap the
            // host can attribute, instead of failing an allocation in its own way.
            wasmtime::bail!("memory limit exceeded ({total} bytes wanted over all memories)");
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let more = desired.saturating_sub(current);
        let elements = self.table_elements.saturating_add(more);
        let total = self
            .used
            .saturating_add(more.saturating_mul(TABLE_ELEMENT_BYTES));
        if elements > MAX_TABLE_ELEMENTS || total > self.limits.memory_bytes {
            self.hit = Some(Which::Memory);
            wasmtime::bail!("table limit exceeded ({elements} elements over all tables)");
        }
        self.table_elements = elements;
        self.used = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
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
    store.data_mut().process.started_this_call = 0;
    let l = &mut store.data_mut().limiter;
    l.hit = None;
    l.deadline.set(Instant::now() + l.limits.call_timeout);
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
        if l.deadline.left().is_zero() {
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

    /// A real component with several memories and tables, each grown well under the budget
    /// on its own: together they pass it, and wasmtime stops the component.
    #[test]
    fn a_real_component_cannot_spread_past_its_budget_over_memories_and_tables() {
        let engine = Engine::default();
        let run = |wat: &str| -> (wasmtime::Result<i32>, Option<Which>) {
            let component = wasmtime::component::Component::new(&engine, wat).unwrap();
            let limits = Limits::new(Some(64), None, None, None).unwrap();
            let mut store = Store::new(&engine, Limiter::new(limits));
            store.limiter(|l| l);
            let linker = wasmtime::component::Linker::new(&engine);
            let instance = linker.instantiate(&mut store, &component).unwrap();
            let f = instance
                .get_typed_func::<(), (i32,)>(&mut store, "grow")
                .unwrap();
            let r = f.call(&mut store, ()).map(|(n,)| n);
            (r, store.data().hit)
        };
        // Three memories of 600 pages (37.5 MiB) each under memory-mb = 64.
        let memories = r#"(component
          (core module $m
            (memory $a 1) (memory $b 1) (memory $c 1)
            (func (export "grow") (result i32)
              (drop (memory.grow $a (i32.const 600)))
              (drop (memory.grow $b (i32.const 600)))
              (memory.grow $c (i32.const 600))))
          (core instance $i (instantiate $m))
          (func (export "grow") (result s32) (canon lift (core func $i "grow"))))"#;
        let (r, hit) = run(memories);
        assert!(r.is_err(), "three memories grew past the budget: {r:?}");
        assert_eq!(hit, Some(Which::Memory));
        // Tables of 600 000 elements each: the second passes the element budget.
        let tables = r#"(component
          (core module $m
            (table $a 1 funcref) (table $b 1 funcref)
            (func (export "grow") (result i32)
              (drop (table.grow $a (ref.null func) (i32.const 600000)))
              (table.grow $b (ref.null func) (i32.const 600000))))
          (core instance $i (instantiate $m))
          (func (export "grow") (result s32) (canon lift (core func $i "grow"))))"#;
        let (r, hit) = run(tables);
        assert!(r.is_err(), "two tables grew past the budget: {r:?}");
        assert_eq!(hit, Some(Which::Memory));
    }

    #[test]
    fn the_budget_is_per_plugin_not_per_memory() {
        let limits = Limits::new(Some(64), None, None, None).unwrap();
        let mut l = Limiter::new(limits);
        let mib = 1 << 20;
        // Two memories of 30 MiB fit; a third does not.
        assert!(l.memory_growing(0, 30 * mib, None).unwrap());
        assert!(l.memory_growing(0, 30 * mib, None).unwrap());
        assert!(l.memory_growing(0, 30 * mib, None).is_err());
        // Tables count against the same budget.
        let mut l = Limiter::new(Limits::new(Some(64), None, None, None).unwrap());
        assert!(l.table_growing(0, 500_000, None).unwrap());
        assert!(l.table_growing(0, 600_000, None).is_err());
    }
}
