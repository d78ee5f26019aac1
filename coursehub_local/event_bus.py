"""EventBridge delivery on the stack: an event AWS emits reaches the targets of every rule whose pattern matches.

moto stores rules and can match event patterns, but none of its services emits
events and its ``put_events`` cannot call a Lambda or Step Functions target.
``EventBus.emit`` matches an event against the enabled rules of the default bus,
with moto's own pattern matching (``moto_patches.event_pattern_matches``), and
calls each target through the stack's endpoint as EventBridge does: a Lambda
function asynchronously (the stack's dispatcher runs the handler), a state
machine by starting an execution.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from coursehub_local import moto_patches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One event passed to one target."""

    rule: str
    target_arn: str
    detail_type: str
    resources: tuple[str, ...]
    called: bool  # False if the call to the target failed (logged)


def call_target(clients: Callable[[str], Any], arn: str, payload: str) -> bool:
    """Start a state machine or invoke a Lambda function asynchronously, as EventBridge and Scheduler do."""
    try:
        if ":states:" in arn:
            clients("stepfunctions").start_execution(stateMachineArn=arn, input=payload)
        elif ":lambda:" in arn:
            clients("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload)
        else:
            log.warning("target %s is not supported by the local stack", arn)
            return False
    except Exception:  # noqa: BLE001 - AWS records a failed target call and carries on
        log.exception("target %s failed", arn)
        return False
    return True


class EventBus:
    """The default event bus of the stack's account and region, for events the services emit."""

    def __init__(self, clients: Callable[[str], Any]):
        self._make_client = clients
        self._clients: dict[str, Any] = {}
        self.delivered: list[Delivery] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="event-target")

    def emit(self, event: dict) -> None:
        """Deliver ``event`` (source, detail-type, detail, ...) in the background, as EventBridge does."""
        try:
            self._pool.submit(self._deliver, event)
        except RuntimeError:  # the stack is stopping
            pass

    def close(self) -> None:
        """Stop delivering."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def client(self, service: str) -> Any:
        with self._lock:  # one client per service: making one costs more than the calls it makes here
            if service not in self._clients:
                self._clients[service] = self._make_client(service)
            return self._clients[service]

    def _deliver(self, event: dict) -> None:
        try:
            events = self.client("events")
            for page in events.get_paginator("list_rules").paginate(EventBusName="default"):
                for rule in page["Rules"]:
                    if rule.get("State") == "ENABLED" and rule.get("EventPattern") and \
                            moto_patches.event_pattern_matches(rule["EventPattern"], event):
                        self._call_targets(events, rule["Name"], event)
        except Exception:  # noqa: BLE001 - a delivery problem must not stop the bus; it is logged
            log.exception("delivering %s failed", event.get("detail-type"))

    def _call_targets(self, events: Any, rule: str, event: dict) -> None:
        for page in events.get_paginator("list_targets_by_rule").paginate(Rule=rule, EventBusName="default"):
            for target in page["Targets"]:
                if "InputPath" in target or "InputTransformer" in target:
                    log.warning("rule %s: the local stack passes the whole event, not InputPath/InputTransformer", rule)
                called = call_target(self.client, target["Arn"], target.get("Input") or json.dumps(event))
                with self._lock:
                    self.delivered.append(Delivery(rule, target["Arn"], event.get("detail-type", ""),
                                                   tuple(event.get("resources", ())), called))
