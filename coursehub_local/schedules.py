"""Fire EventBridge Scheduler schedules and scheduled EventBridge rules on the stack's clock.

moto stores both but never fires them. The ticker calls ``fire_due``; each due
schedule starts its Step Functions target or invokes its Lambda target through
the stack's own endpoint, exactly as the AWS service would call the target.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from coursehub_local import moto_patches
from coursehub_local.clock import Clock
from coursehub_local.event_bus import call_target
from coursehub_local.schedule_expressions import ExpressionError, next_time

log = logging.getLogger(__name__)
_CATCH_UP_LIMIT = 1000  # occurrences fired per schedule and tick after a long jump of the clock


@dataclass(frozen=True)
class Firing:
    """One target call made by a schedule or rule."""

    source: str  # schedule or rule ARN
    target_arn: str
    at: datetime


class ScheduleRunner:
    """Keeps each schedule's next due time and calls targets when the clock reaches it."""

    def __init__(self, clock: Clock, account: str, region: str, clients: Any):
        self.clock = clock
        self.account = account
        self.region = region
        self.clients = clients  # callable: service name -> boto3 client for the stack
        self.fired: list[Firing] = []
        self._next: dict[str, tuple[Any, datetime | None]] = {}  # arn -> (version, due)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="schedule-target")
        self._lock = threading.Lock()

    def fire_due(self) -> None:
        """Fire every schedule and scheduled rule whose time has come."""
        now = self.clock.now()
        for item in self._schedules() + self._rules():
            self._fire_item(item, now)

    def _fire_item(self, item: dict, now: datetime) -> None:
        arn = item["arn"]
        version, due = self._next.get(arn, (None, None))
        if version != item["version"]:
            try:
                due = next_time(item["expression"], item["after"], item["tz"], item["anchor"])
            except ExpressionError as error:
                log.warning("%s: %s", arn, error)
                due = None
        fired = 0
        while due is not None and due <= now and fired < _CATCH_UP_LIMIT:
            if item["end"] is not None and due > item["end"]:
                due = None
                break
            self._call(arn, item, due)
            fired += 1
            due = next_time(item["expression"], due, item["tz"], item["anchor"])
        self._next[arn] = (item["version"], due)
        if fired and item.get("on_done") and due is None:
            item["on_done"]()

    def _call(self, source: str, item: dict, due: datetime) -> None:
        target = item["target"]
        payload = item["payload"](due)
        with self._lock:
            self.fired.append(Firing(source, target["Arn"], due))
        self._pool.submit(call_target, self.clients, target["Arn"], payload)

    def _schedules(self) -> list[dict]:
        backend = moto_patches.scheduler_backend(self.account, self.region)
        items = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                if schedule.state != "ENABLED":
                    continue
                created = _utc(schedule.creation_date)
                start = _parse_date(schedule.start_date)
                items.append({
                    "arn": schedule.arn,
                    "version": schedule.last_modified_date,
                    "expression": schedule.schedule_expression,
                    "tz": schedule.schedule_expression_timezone or "UTC",
                    "after": max(filter(None, [created, start])) if start else created,
                    "anchor": start or created,
                    "end": _parse_date(schedule.end_date),
                    "target": schedule.target,
                    "payload": lambda due, s=schedule: s.target.get("Input") or "{}",
                    "on_done": (lambda b=backend, g=group.name, n=schedule.name: _delete(b, g, n))
                    if schedule.action_after_completion == "DELETE" else None,
                })
        return items

    def _rules(self) -> list[dict]:
        backend = moto_patches.events_backend(self.account, self.region)
        items = []
        rules = [rule for bus in list(backend.event_buses.values()) for rule in list(bus.rules.values())]
        for rule in rules:
            if not rule.scheduled_expression or rule.state != "ENABLED":
                continue
            for target in rule.targets:
                items.append({
                    "arn": f"{rule.arn}#{target['Id']}",
                    "version": (rule.scheduled_expression, target.get("Arn")),
                    "expression": rule.scheduled_expression,
                    "tz": "UTC",
                    "after": self.clock.now(),
                    "anchor": self.clock.now(),
                    "end": None,
                    "target": target,
                    "payload": lambda due, r=rule, t=target: t.get("Input") or _scheduled_event(r, due),
                    "on_done": None,
                })
        return items

    def close(self) -> None:
        """Stop calling targets."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _scheduled_event(rule: Any, due: datetime) -> str:
    return json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": rule.account_id, "region": rule.region_name,
        "time": due.strftime("%Y-%m-%dT%H:%M:%SZ"), "resources": [rule.arn], "detail": {},
    })


def _delete(backend: Any, group: str, name: str) -> None:
    try:
        backend.delete_schedule(group, name)
    except Exception:  # noqa: BLE001 - already deleted by the workflow
        pass


def _utc(value: float | str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return _parse_date(value)


def _parse_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float, datetime)):
        return _utc(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
