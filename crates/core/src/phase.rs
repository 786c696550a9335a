//! Deploy phases: when a migration runs around a deploy of new code (`--phase pre|post`).
//! The runner reports what a migration declares; `run/phase.rs` decides the rest from the plan
//! lint and splits the plan.

/// When a migration runs around a deploy of new code (`runner-types.deploy-phase`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the new code goes live.
    Pre,
    /// After the new code is live.
    Post,
    /// Either.
    #[value(skip)]
    Any,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pre => "pre",
            Phase::Post => "post",
            Phase::Any => "any",
        }
    }
}
