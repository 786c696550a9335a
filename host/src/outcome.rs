//! The words a run, a step and a notification end with: one typed vocabulary shared by the
//! history, the notifications, the JSON report and the terminal, checked against the report's
//! schema (`schemas/run-report.schema.json`) by a test.

use crate::exit::Code;
use crate::plugin_api::EventOutcome;
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did what was asked.
    Succeeded,
    /// `--show`: the plan was shown, nothing changed.
    Shown,
    /// It failed (a step, a plugin, the database); what a run is until it ends.
    #[default]
    Failed,
    /// A safety gate refused it before anything changed.
    Refused,
    /// Another run holds the environment; nothing was attempted.
    Busy,
    /// SIGINT or SIGTERM stopped it.
    Interrupted,
    /// It could not start (bad arguments or config); only in the JSON report.
    Error,
}

impl Outcome {
    #[cfg(test)]
    pub const ALL: [Outcome; 7] = [
        Outcome::Succeeded,
        Outcome::Shown,
        Outcome::Failed,
        Outcome::Refused,
        Outcome::Busy,
        Outcome::Interrupted,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Shown => "shown",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Busy => "busy",
            Outcome::Interrupted => "interrupted",
            Outcome::Error => "error",
        }
    }

    /// How a run that stopped with exit code `code` is recorded.
    pub fn of_failure(code: Code) -> Outcome {
        match code {
            Code::Refused => Outcome::Refused,
            Code::Busy => Outcome::Busy,
            Code::Interrupted | Code::Terminated => Outcome::Interrupted,
            Code::Success
            | Code::Failed
            | Code::Usage
            | Code::Denied
            | Code::NotifyFailed
            | Code::Pending
            | Code::ModelChanges
            | Code::Findings => Outcome::Failed,
        }
    }

    /// What notifiers are told. WIT 0.1.0 is frozen and has no busy case: like a gate, a
    /// busy run changed nothing, so it is `refused`.
    pub fn event(self) -> EventOutcome {
        match self {
            Outcome::Succeeded | Outcome::Shown => EventOutcome::Succeeded,
            Outcome::Failed | Outcome::Error => EventOutcome::Failed,
            Outcome::Refused | Outcome::Busy => EventOutcome::Refused,
            Outcome::Interrupted => EventOutcome::Interrupted,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ok,
    Skipped,
    Failed,
    Refused,
    Busy,
    Interrupted,
}

impl StepStatus {
    #[cfg(test)]
    pub const ALL: [StepStatus; 6] = [
        StepStatus::Ok,
        StepStatus::Skipped,
        StepStatus::Failed,
        StepStatus::Refused,
        StepStatus::Busy,
        StepStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
            StepStatus::Refused => "refused",
            StepStatus::Busy => "busy",
            StepStatus::Interrupted => "interrupted",
        }
    }

    /// The status of the step a run stopped at with exit code `code`.
    pub fn of_failure(code: Code) -> StepStatus {
        match Outcome::of_failure(code) {
            Outcome::Refused => StepStatus::Refused,
            Outcome::Busy => StepStatus::Busy,
            Outcome::Interrupted => StepStatus::Interrupted,
            Outcome::Succeeded | Outcome::Shown | Outcome::Failed | Outcome::Error => {
                StepStatus::Failed
            }
        }
    }
}

/// What one notifier made of the run's event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationStatus {
    Sent,
    Failed,
    Denied,
}

impl NotificationStatus {
    #[cfg(test)]
    pub const ALL: [NotificationStatus; 3] = [
        NotificationStatus::Sent,
        NotificationStatus::Failed,
        NotificationStatus::Denied,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> serde_json::Value {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../schemas/run-report.schema.json"),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn words<T: Serialize>(all: &[T]) -> Vec<String> {
        let mut w: Vec<String> = all
            .iter()
            .map(|x| {
                serde_json::to_value(x)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        w.sort();
        w
    }

    fn schema_words(v: &serde_json::Value) -> Vec<String> {
        let mut w: Vec<String> = v["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        w.sort();
        w
    }

    #[test]
    fn the_report_schema_names_exactly_these_words() {
        let s = schema();
        assert_eq!(
            words(&Outcome::ALL),
            schema_words(&s["properties"]["outcome"])
        );
        assert_eq!(
            words(&StepStatus::ALL),
            schema_words(&s["properties"]["steps"]["items"]["properties"]["status"])
        );
        assert_eq!(
            words(&NotificationStatus::ALL),
            schema_words(&s["properties"]["notifications"]["items"]["properties"]["status"])
        );
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for s in StepStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn exit_codes_map_to_words() {
        assert_eq!(Outcome::of_failure(Code::Busy), Outcome::Busy);
        assert_eq!(Outcome::of_failure(Code::Terminated), Outcome::Interrupted);
        assert_eq!(Outcome::of_failure(Code::Denied), Outcome::Failed);
        assert_eq!(StepStatus::of_failure(Code::Refused), StepStatus::Refused);
        assert_eq!(Outcome::Busy.event(), EventOutcome::Refused);
    }
}
