//! The integration tests: one binary, one module per area, each driving the built
//! `platform-migrate` binary against a fresh copy of the demo project (real Django in the venv,
//! real PostgreSQL clusters, real plugins, a real HTTP receiver). `common` is the shared
//! harness.

mod common;

mod bad_input;
mod ci_mode;
mod corpus;
mod deploy_phases;
mod dev_path;
mod fleet;
mod hostile;
mod in_session;
mod lint_corpus;
mod notify;
mod plan_safety;
mod plugin_kit;
mod pr_lint;
mod prod_path;
mod reach;
mod reliability;
mod shared_state;
