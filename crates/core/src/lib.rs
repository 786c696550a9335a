//! The parts every other crate shares: plugin text made safe, secrets and their redaction, exit codes, atomic files, interrupts, deploy phases and human output.
//!
//! One of the host's crates (docs/layout.md); dependencies point one way:
//! core <- policy <- process <- builtins <- config (with lint) <- store <- plugin-api <- sandbox <- the binary.

pub mod atomic;
pub mod digest;
pub mod exit;
pub mod interrupt;
pub mod phase;
pub mod secrets;
pub mod text;
pub mod ui;
