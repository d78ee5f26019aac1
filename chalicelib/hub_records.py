"""The hub record in DynamoDB: status, the request, and each step's progress (start, end, outcome).

One item per hub (key ``hub_id``). Steps are a map keyed by step name, so a
retried step updates its own entry instead of appending duplicates.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.errors import CourseHubError

STATUSES = ("PROVISIONING", "READY", "FAILED", "RETIRING", "RETIRED")
HUB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")  # short enough for "<hub id>-<purpose>" schedule names
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class HubNotFound(CourseHubError):
    """No hub with that id."""


class HubAlreadyExists(CourseHubError):
    """A hub with that id is already recorded."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create(dynamodb: Any, table: str, hub_id: str, request: dict) -> dict:
    """Record a new hub as PROVISIONING; refuses to overwrite an existing one."""
    item = {"hub_id": hub_id, "status": "PROVISIONING", "request": request, "steps": {},
            "created_at": now(), "updated_at": now()}
    try:
        dynamodb.put_item(TableName=table, Item=_item(item), ConditionExpression="attribute_not_exists(hub_id)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        raise HubAlreadyExists(f"hub {hub_id} already exists") from None
    return item


def get(dynamodb: Any, table: str, hub_id: str) -> dict:
    """The hub record; HubNotFound if there is none."""
    found = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": hub_id}}, ConsistentRead=True).get("Item")
    if not found:
        raise HubNotFound(f"no hub {hub_id}")
    return {k: _plain(_deserialize(v)) for k, v in found.items()}


def step_started(dynamodb: Any, table: str, hub_id: str, step: str) -> None:
    """Make ``step`` the current step; its first start is kept when a check calls this on every poll."""
    _update(dynamodb, table, hub_id,
            "SET steps.#s = if_not_exists(steps.#s, :entry), current_step = :step, updated_at = :now",
            {"#s": step}, {":entry": {"started_at": now(), "outcome": "RUNNING"}, ":step": step, ":now": now()})


def step_finished(dynamodb: Any, table: str, hub_id: str, step: str, outcome: str, detail: str = "") -> None:
    """Record how ``step`` ended (SUCCEEDED or FAILED) and when."""
    _update(dynamodb, table, hub_id,
            "SET steps.#s.ended_at = :now, steps.#s.outcome = :outcome, steps.#s.detail = :detail, "
            "updated_at = :now", {"#s": step}, {":now": now(), ":outcome": outcome, ":detail": detail[:1000]})


def set_status(dynamodb: Any, table: str, hub_id: str, status: str, **fields: Any) -> None:
    """Set the hub's status and any extra top-level fields (URLs, error, ...)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status}")
    update(dynamodb, table, hub_id, status=status, **fields)


def _update(dynamodb: Any, table: str, hub_id: str, expression: str, names: dict, values: dict) -> None:
    try:
        dynamodb.update_item(TableName=table, Key={"hub_id": {"S": hub_id}}, UpdateExpression=expression,
                             ExpressionAttributeNames=names,
                             ExpressionAttributeValues={k: _serialize(v) for k, v in values.items()},
                             ConditionExpression="attribute_exists(hub_id)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        raise HubNotFound(f"no hub {hub_id}") from None


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the record is plain JSON for the workflows and the API."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _item(record: dict) -> dict:
    return {k: _serialize(v) for k, v in record.items()}


def update(dynamodb: Any, table: str, hub_id: str, **fields: Any) -> None:
    """Set top-level fields (scale, schedules, audit, ...) without changing the status."""
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    values = {":now": now(), **{f":v{i}": v for i, v in enumerate(fields.values())}}
    sets = ["updated_at = :now"] + [f"#f{i} = :v{i}" for i in range(len(fields))]
    _update(dynamodb, table, hub_id, "SET " + ", ".join(sets), names, values)
