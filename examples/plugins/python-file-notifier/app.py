"""file-notifier, in Python: appends one JSON line per run to runs.jsonl in a granted directory
(an audit trail a CI job can keep as an artifact). Built with componentize-py against the same
WIT package as the Rust plugins, to show that the contract is language neutral.

Settings: `dir` (default `/out`), the guest path of a directory granted read-write.
"""

import json

import wit_world
from wit_world.imports import config, log, notifier_types, types
from componentize_py_types import Err

OUTCOMES = {
    notifier_types.Outcome.SUCCEEDED: "succeeded",
    notifier_types.Outcome.FAILED: "failed",
    notifier_types.Outcome.REFUSED: "refused",
    notifier_types.Outcome.INTERRUPTED: "interrupted",
}


def out_dir() -> str:
    return config.get("dir") or "/out"


def record(event: notifier_types.RunEvent) -> dict:
    """The JSON line for one run."""
    return {
        "env": event.env,
        "run_id": event.run_id,
        "action": event.action,
        "outcome": OUTCOMES.get(event.outcome, "unknown"),
        "applied": [
            {"app": m.id.app, "name": m.id.name, "backwards": m.backwards}
            for m in event.applied
        ],
        "backup_id": event.backup_id,
        "duration_ms": event.duration_ms,
        "error": event.error_summary,
        "findings": list(event.findings),
    }


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="python-file-notifier",
            version="0.1.0",
            description="Appends each run as a JSON line to runs.jsonl (written in Python)",
            capabilities=[types.Capability_Directory(out_dir())],
        )

    def notify(self, event: notifier_types.RunEvent) -> None:
        path = out_dir() + "/runs.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record(event), sort_keys=True) + "\n")
        except OSError as e:
            raise Err(notifier_types.NotifyError_Misconfigured(
                f"cannot append to {path}: {e}; grant its directory read-write in grants.dirs"
            ))
        log.write(log.Level.INFO, f"recorded run {event.run_id} in {path}", [])
