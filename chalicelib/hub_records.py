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
    """A live hub (not RETIRED) with that id is already recorded."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create(dynamodb: Any, table: str, hub_id: str, request: dict, **fields: Any) -> dict:
    """Record a new hub as PROVISIONING (with any extra top-level ``fields``): the one writer of a new record.

    A RETIRED hub's record is replaced (the course may have a new hub); a live one is kept: HubAlreadyExists.
    """
    item = {"hub_id": hub_id, "status": "PROVISIONING", "request": request, "steps": {},
            "created_at": now(), "updated_at": now(), **fields}
    try:
        dynamodb.put_item(TableName=table, Item=_item(item),
                          ConditionExpression="attribute_not_exists(hub_id) OR #status = :retired",
                          ExpressionAttributeNames={"#status": "status"},
                          ExpressionAttributeValues={":retired": {"S": "RETIRED"}})
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


def fail(dynamodb: Any, table: str, hub_id: str, step: str, error: dict, *, step_started: bool,
         **fields: Any) -> None:
    """Record FAILED at ``step`` with ``error`` (and top-level ``fields``) in one write.

    DynamoDB refuses to SET a field of a map entry that does not exist, so the entry of a step that never
    started (a failure before the first recorded step) is written whole; ``steps`` in ``fields`` replaces them all.
    """
    names = {"#status": "status", "#error": "error", **{f"#f{i}": k for i, k in enumerate(fields)}}
    values = {":now": now(), ":failed": "FAILED", ":error": error,
              **{f":v{i}": v for i, v in enumerate(fields.values())}}
    detail = str(error.get("cause", ""))[:1000]
    sets = []
    if "steps" not in fields:
        names["#s"] = step
    if "steps" not in fields and step_started:
        values.update({":outcome": "FAILED", ":detail": detail})
        sets = ["steps.#s.ended_at = :now", "steps.#s.outcome = :outcome", "steps.#s.detail = :detail"]
    elif "steps" not in fields:
        values[":entry"] = {"started_at": values[":now"], "ended_at": values[":now"], "outcome": "FAILED",
                            "detail": detail}
        sets = ["steps.#s = :entry"]
    sets += ["#status = :failed", "#error = :error", "updated_at = :now"]
    sets += [f"#f{i} = :v{i}" for i in range(len(fields))]
    _update(dynamodb, table, hub_id, "SET " + ", ".join(sets), names, values)


def set_status(dynamodb: Any, table: str, hub_id: str, status: str, **fields: Any) -> None:
    """Set the hub's status and any extra top-level fields (URLs, error, ...)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status}")
    update(dynamodb, table, hub_id, status=status, **fields)


def _update(dynamodb: Any, table: str, hub_id: str, expression: str, names: dict, values: dict,
            condition: str | None = None) -> None:
    try:
        dynamodb.update_item(TableName=table, Key={"hub_id": {"S": hub_id}}, UpdateExpression=expression,
                             ExpressionAttributeNames=names,
                             ExpressionAttributeValues={k: _serialize(v) for k, v in values.items()},
                             ConditionExpression=" AND ".join(filter(None, ["attribute_exists(hub_id)", condition])))
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
    _set_fields(dynamodb, table, hub_id, fields)


def _set_fields(dynamodb: Any, table: str, hub_id: str, fields: dict, seen: dict | None = None) -> None:
    """SET ``fields`` and ``updated_at``; with ``seen``, only while each of its fields still has its value (else
    HubNotFound)."""
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    values = {":now": now(), **{f":v{i}": v for i, v in enumerate(fields.values())}}
    sets = ["updated_at = :now"] + [f"#f{i} = :v{i}" for i in range(len(fields))]
    conditions = []
    for i, (field, value) in enumerate((seen or {}).items()):
        names[f"#s{i}"], values[f":s{i}"] = field, value
        conditions.append(f"#s{i} = :s{i}")
    _update(dynamodb, table, hub_id, "SET " + ", ".join(sets), names, values, " AND ".join(conditions) or None)


def transition(dynamodb: Any, table: str, hub_id: str, seen: str | None, status: str, *,
               seen_also: dict | None = None, **fields: Any) -> bool:
    """Set ``status`` (and ``fields``) only if the hub is still ``seen`` (any status: None) and its ``seen_also``
    fields still have their values; False if another writer got there first."""
    expected = {**({"status": seen} if seen is not None else {}), **(seen_also or {})}
    try:
        _set_fields(dynamodb, table, hub_id, {"status": status, **fields}, seen=expected)
    except HubNotFound:
        return False
    return True


def scan(dynamodb: Any, table: str, limit: int, status: str | None = None,
         start: dict | None = None) -> tuple[list[dict], dict | None]:
    """Up to ``limit`` hubs (with ``status``, if given) from ``start`` on; returns them and where the next page starts.

    A scan suits a department's few dozen hubs; a status index would suit thousands.
    """
    found: list[dict] = []
    key = {"hub_id": {"S": start["hub_id"]}} if start else None
    while True:
        params: dict = {"TableName": table, "Limit": limit - len(found), "ConsistentRead": True}
        if key:
            params["ExclusiveStartKey"] = key
        if status:
            params.update(FilterExpression="#status = :status", ExpressionAttributeNames={"#status": "status"},
                          ExpressionAttributeValues={":status": {"S": status}})
        page = dynamodb.scan(**params)
        found += [{k: _plain(_deserialize(v)) for k, v in item.items()} for item in page.get("Items", [])]
        key = page.get("LastEvaluatedKey")
        if not key or len(found) >= limit:
            return found, ({"hub_id": key["hub_id"]["S"]} if key else None)
