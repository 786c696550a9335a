//! The plan linter: PostgreSQL's own parse tree of each statement, the rules and their findings; free of wasmtime.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

pub mod lint;
