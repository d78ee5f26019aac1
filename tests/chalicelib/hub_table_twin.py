"""An in-memory twin of the hub table: the DynamoDB calls ``chalicelib.hub_records`` makes, answered from a dict.

It understands the expressions hub_records writes (``SET`` of paths and ``if_not_exists``; conditions joined by
AND or OR of ``attribute_exists``, ``attribute_not_exists``, ``=`` and ``<>``) and transactions of conditional
puts, and fails as DynamoDB does: a failed condition raises ConditionalCheckFailedException (in a transaction,
TransactionCanceledException with a reason per item, and nothing written), a SET under a map that does not exist or
two operations on one item in a transaction a ValidationException.
The step tests run over this twin and over moto's DynamoDB alike, which keeps the twin honest.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize
_MISSING = object()


class ConditionalCheckFailedException(ClientError):
    def __init__(self, operation: str):
        super().__init__({"Error": {"Code": "ConditionalCheckFailedException",
                                    "Message": "The conditional request failed"}}, operation)


class TransactionCanceledException(ClientError):
    def __init__(self, reasons: list[dict]):
        codes = ", ".join(r["Code"] for r in reasons)
        super().__init__({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled, please "
                                    f"refer cancellation reasons for specific reasons [{codes}]"},
                          "CancellationReasons": reasons}, "TransactWriteItems")


class _Exceptions:
    ConditionalCheckFailedException = ConditionalCheckFailedException
    TransactionCanceledException = TransactionCanceledException


class InMemoryHubTable:
    """What hub_records needs of a DynamoDB client (put_item, get_item, update_item), one dict per table."""

    exceptions = _Exceptions

    def __init__(self):
        self.tables: dict[str, dict[str, dict]] = {}

    def put_item(self, TableName: str, Item: dict, ConditionExpression: str | None = None,
                 ExpressionAttributeNames: dict | None = None, ExpressionAttributeValues: dict | None = None) -> dict:
        items = self.tables.setdefault(TableName, {})
        key = Item["hub_id"]["S"]
        self._check(items.get(key), ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues,
                    "PutItem")
        items[key] = {name: _deserialize(value) for name, value in Item.items()}
        return {}

    def transact_write_items(self, TransactItems: list[dict]) -> dict:
        keys = [(op["TableName"], op["Item"]["hub_id"]["S"]) for write in TransactItems for op in write.values()]
        if len(set(keys)) < len(keys):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Transaction request cannot include "
                                         "multiple operations on one item"}}, "TransactWriteItems")
        reasons = []
        for write in TransactItems:
            (kind, op), = write.items()
            if kind != "Put":
                raise NotImplementedError(kind)
            try:
                self._check(self.tables.get(op["TableName"], {}).get(op["Item"]["hub_id"]["S"]),
                            op.get("ConditionExpression"), op.get("ExpressionAttributeNames"),
                            op.get("ExpressionAttributeValues"), "TransactWriteItems")
                reasons.append({"Code": "None"})
            except ConditionalCheckFailedException:
                reasons.append({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"})
        if any(r["Code"] != "None" for r in reasons):
            raise TransactionCanceledException(reasons)
        for write in TransactItems:  # all or nothing
            self.put_item(TableName=write["Put"]["TableName"], Item=write["Put"]["Item"])
        return {}

    def delete_item(self, TableName: str, Key: dict) -> dict:
        self.tables.get(TableName, {}).pop(Key["hub_id"]["S"], None)
        return {}

    def get_item(self, TableName: str, Key: dict, ConsistentRead: bool = False) -> dict:
        item = self.tables.get(TableName, {}).get(Key["hub_id"]["S"])
        return {"Item": {name: _serialize(value) for name, value in item.items()}} if item else {}

    def update_item(self, TableName: str, Key: dict, UpdateExpression: str, ExpressionAttributeNames: dict,
                    ExpressionAttributeValues: dict, ConditionExpression: str | None = None) -> dict:
        items = self.tables.setdefault(TableName, {})
        key = Key["hub_id"]["S"]
        self._check(items.get(key), ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues,
                    "UpdateItem")
        item = copy.deepcopy(items.get(key)) or {"hub_id": key}
        names, values = ExpressionAttributeNames, {k: _deserialize(v) for k, v in ExpressionAttributeValues.items()}
        if not UpdateExpression.startswith("SET "):
            raise NotImplementedError(UpdateExpression)
        for assignment in _top_level_split(UpdateExpression[4:], ","):
            target, value = (part.strip() for part in assignment.split("=", 1))
            path = _path(target, names)
            found = re.fullmatch(r"if_not_exists\((.+),\s*(:\w+)\)", value)
            if found:
                current = _get(item, _path(found.group(1), names))
                new = values[found.group(2)] if current is _MISSING else current
            else:
                new = values[value]
            _set(item, path, copy.deepcopy(new))
        items[key] = item  # all or nothing, as DynamoDB does
        return {}

    def _check(self, item: dict | None, condition: str | None, names: dict | None, values: dict | None,
               operation: str) -> None:
        if condition and not _holds(item or {}, condition, names or {},
                                    {k: _deserialize(v) for k, v in (values or {}).items()}):
            raise ConditionalCheckFailedException(operation)


def _holds(item: dict, condition: str, names: dict, values: dict) -> bool:
    return any(all(_term(item, term.strip(), names, values) for term in either.split(" AND "))
               for either in condition.split(" OR "))


def _term(item: dict, term: str, names: dict, values: dict) -> bool:
    if found := re.fullmatch(r"attribute_(not_)?exists\((.+)\)", term):
        exists = _get(item, _path(found.group(2), names)) is not _MISSING
        return not exists if found.group(1) else exists
    if found := re.fullmatch(r"(\S+)\s*(=|<>)\s*(:\w+)", term):
        current = _get(item, _path(found.group(1), names))
        if found.group(2) == "<>":
            return current != values[found.group(3)]
        return current == values[found.group(3)]
    raise NotImplementedError(term)


def _path(text: str, names: dict) -> list[str]:
    return [names[part] if part.startswith("#") else part for part in text.strip().split(".")]


def _get(item: dict, path: list[str]) -> Any:
    node: Any = item
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set(item: dict, path: list[str], value: Any) -> None:
    parent = _get(item, path[:-1]) if len(path) > 1 else item
    if not isinstance(parent, dict):
        raise ClientError({"Error": {"Code": "ValidationException", "Message":
                                     "The document path provided in the update expression is invalid for update"}},
                          "UpdateItem")
    parent[path[-1]] = value


def _top_level_split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses (``if_not_exists(a, :b)`` holds a comma)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]
