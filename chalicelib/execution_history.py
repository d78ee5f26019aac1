"""Which state of a run failed, read from its Step Functions execution history.

A Catch hands the failure path only the error and its cause, not the state that raised it
(Step Functions developer guide, "Handling errors": the error output is ``Error`` and ``Cause``).
The hub record knows the last step that recorded its start, which is the failing state for the
workflow's steps but not for the Tasks around them (a Slack announcement, say). The history does
know: the latest failure event (``LambdaFunctionFailed``, ``TaskFailed``, ``...TimedOut``) leads back,
through ``previousEventId``, to the ``...StateEntered`` event of its state (API reference,
GetExecutionHistory and HistoryEvent).
"""
from __future__ import annotations

from typing import Any

# The failure events of a state's own work; ExecutionFailed is the run's, not a state's.
_FAILURES = ("Failed", "TimedOut")
_PAGE = 1000  # GetExecutionHistory's largest page; newest first with reverseOrder


def failed_state(sfn: Any, execution: str, skip: str) -> str | None:
    """The name of the state whose failure the run is handling (not ``skip``, the failure path's own), or None."""
    events = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=_PAGE)["events"]
    by_id = {event["id"]: event for event in events}
    for event in events:
        kind = event["type"]
        if kind.startswith("Execution") or not kind.endswith(_FAILURES):
            continue
        name = _entered_state(event, by_id)
        if name and name != skip:
            return name
    return None


def _entered_state(event: dict, by_id: dict[int, dict]) -> str | None:
    seen = 0
    while event is not None and seen < len(by_id):
        if event["type"].endswith("StateEntered"):
            return event.get("stateEnteredEventDetails", {}).get("name")
        event, seen = by_id.get(event.get("previousEventId")), seen + 1
    return None
