"""The hub record in DynamoDB: status, the request, and each step's progress (start, end, outcome).

One item per hub (key ``hub_id``). Steps are a map keyed by step name, so a
retried step updates its own entry instead of appending duplicates.

A hub's public names (its domain and host names) belong to one live hub: the
table also holds one claim item per name (key ``name:<name>``, never a hub id),
naming the hub and the ``generation`` of its record that holds it. A claim is
written in the same transaction as the record, so two hubs never both get a
name; it is free again once its holder is RETIRED or its holder's record was
replaced (another generation), and the next hub to take it overwrites it.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.errors import CourseHubError

STATUSES = ("PROVISIONING", "READY", "FAILED", "RETIRING", "RETIRED")
HUB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")  # short enough for "<hub id>-<purpose>" schedule names
_serializer = TypeSerializer()


def _serialize(value: Any) -> dict:
    """A DynamoDB attribute value; floats become Decimals (boto3 refuses floats: they may lose precision)."""
    return _serializer.serialize(_decimals(value))


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


_deserialize = TypeDeserializer().deserialize


class HubNotFound(CourseHubError):
    """No hub with that id."""


CLAIM = "name:"  # a claim item's key prefix; hub ids have no ':'
_ATTEMPTS = 3  # a claim that changed between reading and writing it is read again


class HubAlreadyExists(CourseHubError):
    """A live hub (not RETIRED) with that id is already recorded."""


class NameTaken(CourseHubError):
    """Another live hub holds one of the names."""

    def __init__(self, name: str, holder: str, status: str):
        super().__init__(f"{name} belongs to hub {holder} ({status}) until it is retired")
        self.name, self.holder, self.status = name, holder, status


class NamesBusy(CourseHubError):
    """The names' claims kept changing while this hub tried to take them (concurrent requests)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create(dynamodb: Any, table: str, hub_id: str, request: dict, names: tuple[str, ...] = (), **fields: Any) -> dict:
    """Record a new hub as PROVISIONING (with any extra top-level ``fields``) holding ``names``: the one writer of a
    new record.

    A RETIRED hub's record is replaced (the course may have a new hub); a live one is kept: HubAlreadyExists. A name
    another live hub holds: NameTaken, and nothing is written.
    """
    names = tuple(dict.fromkeys(names))  # one operation per item in a transaction (DynamoDB refuses two)
    item = {"hub_id": hub_id, "status": "PROVISIONING", "request": request, "steps": {}, "names": list(names),
            "generation": uuid.uuid4().hex, "created_at": now(), "updated_at": now(), **fields}
    for _ in range(_ATTEMPTS):
        writes = [{"Put": {"TableName": table, "Item": _item(item),
                           "ConditionExpression": "attribute_not_exists(hub_id) OR #status = :retired",
                           "ExpressionAttributeNames": {"#status": "status"},
                           "ExpressionAttributeValues": {":retired": {"S": "RETIRED"}}}}]
        try:
            writes += [_claim(table, name, hub_id, item["generation"], _free_claim(dynamodb, table, name, hub_id))
                       for name in names]
        except NameTaken:
            if _live(dynamodb, table, hub_id):  # the course's live hub is the answer, whatever it was asked for now
                raise HubAlreadyExists(f"hub {hub_id} already exists") from None
            raise
        try:
            dynamodb.transact_write_items(TransactItems=writes)
            return item
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                raise HubAlreadyExists(f"hub {hub_id} already exists") from None
            # a claim changed since it was read, or a concurrent transaction on the same items: read again
    raise NamesBusy(f"the names of hub {hub_id} are being claimed by another request; try again")


def _live(dynamodb: Any, table: str, hub_id: str) -> bool:
    found = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": hub_id}}, ConsistentRead=True).get("Item")
    return bool(found) and found["status"]["S"] != "RETIRED"


def _free_claim(dynamodb: Any, table: str, name: str, hub_id: str) -> dict | None:
    """The claim on ``name`` (None if there is none) once it is known to be free for ``hub_id``; else NameTaken."""
    found = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": CLAIM + name}}, ConsistentRead=True).get("Item")
    claim = {k: _deserialize(v) for k, v in found.items()} if found else None
    if claim and claim["holder"] != hub_id:  # the hub's own claims: its record's condition decides
        holder = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": claim["holder"]}},
                                   ConsistentRead=True).get("Item") or {}
        status = holder.get("status", {}).get("S", "RETIRED")
        if status != "RETIRED" and holder.get("generation", {}).get("S") == claim["generation"]:
            raise NameTaken(name, claim["holder"], status)
    return claim


def _claim(table: str, name: str, hub_id: str, generation: str, seen: dict | None) -> dict:
    """The write that takes ``name`` for ``hub_id``, only if its claim is still as ``seen`` (free) when it commits."""
    put = {"TableName": table, "ConditionExpression": "attribute_not_exists(hub_id)",
           "Item": _item({"hub_id": CLAIM + name, "holder": hub_id, "generation": generation, "claimed_at": now()})}
    if seen is not None:
        put.update(ConditionExpression="#generation = :seen", ExpressionAttributeNames={"#generation": "generation"},
                   ExpressionAttributeValues={":seen": {"S": seen["generation"]}})
    return {"Put": put}


TEST_SERVER = "test-server:"  # the launch check's server: its URL, token and kernel, while it runs


def put_test_server(dynamodb: Any, table: str, hub_id: str, server: dict) -> None:
    """Keep the launch check's server (url, token, kernel_id) apart from the record, which the API shows."""
    dynamodb.put_item(TableName=table, Item=_item({"hub_id": TEST_SERVER + hub_id, **server, "updated_at": now()}))


def get_test_server(dynamodb: Any, table: str, hub_id: str) -> dict | None:
    found = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": TEST_SERVER + hub_id}},
                              ConsistentRead=True).get("Item")
    return {k: _plain(_deserialize(v)) for k, v in found.items()} if found else None


def delete_test_server(dynamodb: Any, table: str, hub_id: str) -> None:
    dynamodb.delete_item(TableName=table, Key={"hub_id": {"S": TEST_SERVER + hub_id}})


def update_launch_check(dynamodb: Any, table: str, hub_id: str, **fields: Any) -> None:
    """Set fields of the hub's running launch check (its phase, what it last saw)."""
    names = {"#c": "launch_check", **{f"#f{i}": k for i, k in enumerate(fields)}}
    values = {":now": now(), **{f":v{i}": v for i, v in enumerate(fields.values())}}
    sets = ", ".join(["updated_at = :now"] + [f"#c.#f{i} = :v{i}" for i in range(len(fields))])
    _update(dynamodb, table, hub_id, f"SET {sets}", names, values, condition="attribute_exists(#c)")


def claim_launch_check(dynamodb: Any, table: str, hub_id: str, check: dict, seen: dict | None) -> bool:
    """Record ``check`` as the hub's launch check while the hub is READY and its last check is still ``seen`` (None:
    it has none); False if the hub is not READY or another request changed the check first."""
    values = {":check": check, ":now": now(), ":ready": "READY"}
    condition = "#status = :ready AND " + ("#check = :seen" if seen is not None else "attribute_not_exists(#check)")
    if seen is not None:
        values[":seen"] = seen
    try:
        _update(dynamodb, table, hub_id, "SET #check = :check, updated_at = :now",
                {"#check": "launch_check", "#status": "status"}, values, condition)
    except HubNotFound:
        return False
    return True


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


def rerun(dynamodb: Any, table: str, hub_id: str, **fields: Any) -> None:
    """Record a live hub (its names held) as PROVISIONING again; a RETIRED one is HubNotFound: it needs ``create``.

    So is a RETIRING one, which its teardown owns: a provisioning run stopped by a DELETE may still run its first
    step after the teardown claimed the hub, and must not take the record back (``create`` then refuses it too).
    """
    names = {"#status": "status", **{f"#f{i}": k for i, k in enumerate(fields)}}
    values = {":provisioning": "PROVISIONING", ":retired": "RETIRED", ":retiring": "RETIRING", ":now": now(),
              **{f":v{i}": v for i, v in enumerate(fields.values())}}
    sets = ["#status = :provisioning", "updated_at = :now"] + [f"#f{i} = :v{i}" for i in range(len(fields))]
    _update(dynamodb, table, hub_id, "SET " + ", ".join(sets), names, values,
            "#status <> :retired AND #status <> :retiring")


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
        params: dict = {"TableName": table, "Limit": limit - len(found), "ConsistentRead": True,
                        "FilterExpression": "attribute_exists(#status)",  # hubs only: name claims have no status
                        "ExpressionAttributeNames": {"#status": "status"}}
        if key:
            params["ExclusiveStartKey"] = key
        if status:
            params.update(FilterExpression="#status = :status", ExpressionAttributeValues={":status": {"S": status}})
        page = dynamodb.scan(**params)
        found += [{k: _plain(_deserialize(v)) for k, v in item.items()} for item in page.get("Items", [])]
        key = page.get("LastEvaluatedKey")
        if not key or len(found) >= limit:
            # the next page starts after the last hub found (the last item read may be a claim, which is no hub id)
            return found, ({"hub_id": found[-1]["hub_id"]} if key else None)
