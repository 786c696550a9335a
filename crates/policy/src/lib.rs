//! Grants and their checks, and the kernel confinement (Landlock) of every program a plugin starts; free of wasmtime.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

pub mod confine;
pub mod policy;
