"""Step Functions' "Execution Status Change" events, which moto's engine does not emit.

``moto_patches`` reports each execution when it starts, ends (SUCCEEDED, FAILED,
TIMED_OUT) or is stopped (ABORTED, at once, as StopExecution does on AWS); each
status of an execution is emitted once, on the stack's ``EventBus``, in the shape
AWS gives it (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import TypedDict

from coursehub_local.event_bus import EventBus

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"


class ExecutionSnapshot(TypedDict):
    """An execution as ``moto_patches`` reads it from moto."""

    executionArn: str
    stateMachineArn: str
    name: str
    status: str
    startDate: datetime
    stopDate: datetime | None
    input: str
    output: str | None
    error: str | None
    cause: str | None
    account: str
    region: str


def status_change(execution: ExecutionSnapshot) -> dict:
    """The EventBridge event AWS sends for the execution's current status."""
    stopped = execution["stopDate"]
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": SOURCE,
        "account": execution["account"], "time": _iso(stopped or execution["startDate"]),
        "region": execution["region"], "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"], "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"], "status": execution["status"],
            "startDate": _epoch_ms(execution["startDate"]), "stopDate": _epoch_ms(stopped) if stopped else None,
            "input": execution["input"], "inputDetails": {"included": True},
            "output": execution["output"], "outputDetails": {"included": True} if execution["output"] else None,
            "error": execution["error"], "cause": execution["cause"],
        },
    }


class ExecutionEvents:
    """Emits each status of each execution once."""

    def __init__(self, bus: EventBus):
        self.bus = bus
        self._emitted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def changed(self, execution: ExecutionSnapshot) -> None:
        key = (execution["executionArn"], execution["status"])
        with self._lock:
            if key in self._emitted:
                return
            self._emitted.add(key)
        self.bus.emit(status_change(execution))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _epoch_ms(moment: datetime) -> int:
    return int(_utc(moment).timestamp() * 1000)


def _iso(moment: datetime) -> str:
    return _utc(moment).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
