"""Decode Kubernetes protobuf request bodies (``k8s\\0`` + runtime.Unknown) into JSON dicts.

client-go's typed clients (helm's release storage, ``kubectl create <kind>``)
send protobuf and do not retry as JSON after a 415. Decoded here: Secret,
ConfigMap, Namespace, ServiceAccount, the four RBAC kinds and DeleteOptions;
any other kind, or an unknown field, is refused with 415 rather than guessed.
Answers are always JSON: clients accept it (their Accept header lists
application/json after protobuf). Field numbers are from the
``generated.proto`` files of k8s.io/api and k8s.io/apimachinery.
"""
from __future__ import annotations

import base64
import datetime
import json

from .errors import unsupported_media_type

MAGIC = b"k8s\x00"


def _fields(data: bytes):
    """Yield (field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _map_entry(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, raw in _fields(data):
        if number == 1:
            key = raw.decode()
        elif number == 2:
            value = raw
    return key, value


def _time(data: bytes) -> str | None:
    seconds = 0
    for number, _, raw in _fields(data):
        if number == 1:
            seconds = _signed(raw)
    if seconds == 0:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode(data: bytes, schema: dict) -> dict:
    """Decode a message with ``schema``: number -> (json name, kind[, sub-schema])."""
    out: dict = {}
    for number, _, raw in _fields(data):
        if number not in schema:
            # Dropping a field silently would lose data: refuse what this decoder does not know.
            raise ValueError(f"protobuf field {number} is not decoded here")
        name, kind, *sub = schema[number]
        if kind == "str":
            # gogo-protobuf writes empty non-pointer strings; JSON (omitempty) would leave them out.
            if raw:
                out[name] = raw.decode()
        elif kind == "int":
            out[name] = _signed(raw)
        elif kind == "bool":
            out[name] = bool(raw)
        elif kind == "bytes":
            out[name] = base64.b64encode(raw).decode()
        elif kind == "time":
            if _time(raw) is not None:
                out[name] = _time(raw)
        elif kind == "msg":
            out[name] = _decode(raw, sub[0])
        elif kind == "list_str":
            out.setdefault(name, []).append(raw.decode())
        elif kind == "list_msg":
            out.setdefault(name, []).append(_decode(raw, sub[0]))
        elif kind in ("map_str", "map_bytes"):
            key, value = _map_entry(raw)
            out.setdefault(name, {})[key] = (
                value.decode() if kind == "map_str" else base64.b64encode(value).decode())
        elif kind == "raw_json":
            out[name] = _raw_json(raw)
    return out


def _raw_json(data: bytes):
    for number, _, raw in _fields(data):
        if number == 1:
            return json.loads(raw or b"{}")
    return {}


OWNER_REFERENCE = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                   6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
MANAGED_FIELDS = {1: ("manager", "str"), 2: ("operation", "str"), 3: ("apiVersion", "str"),
                  4: ("time", "time"), 6: ("fieldsType", "str"), 7: ("fieldsV1", "raw_json"),
                  8: ("subresource", "str")}
OBJECT_META = {
    1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 4: ("selfLink", "str"),
    5: ("uid", "str"), 6: ("resourceVersion", "str"), 7: ("generation", "int"),
    8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map_str"), 12: ("annotations", "map_str"),
    13: ("ownerReferences", "list_msg", OWNER_REFERENCE), 14: ("finalizers", "list_str"),
    17: ("managedFields", "list_msg", MANAGED_FIELDS),
}
OBJECT_REFERENCE = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                    5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
POLICY_RULE = {1: ("verbs", "list_str"), 2: ("apiGroups", "list_str"), 3: ("resources", "list_str"),
               4: ("resourceNames", "list_str"), 5: ("nonResourceURLs", "list_str")}
SUBJECT = {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")}
ROLE_REF = {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")}
ROLE = {1: ("metadata", "msg", OBJECT_META), 2: ("rules", "list_msg", POLICY_RULE)}
BINDING = {1: ("metadata", "msg", OBJECT_META), 2: ("subjects", "list_msg", SUBJECT),
           3: ("roleRef", "msg", ROLE_REF)}
SCHEMAS = {
    ("v1", "Namespace"): {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", {1: ("finalizers", "list_str")}),
                          3: ("status", "msg", {1: ("phase", "str")})},
    ("v1", "ServiceAccount"): {1: ("metadata", "msg", OBJECT_META), 2: ("secrets", "list_msg", OBJECT_REFERENCE),
                               3: ("imagePullSecrets", "list_msg", {1: ("name", "str")}),
                               4: ("automountServiceAccountToken", "bool")},
    ("rbac.authorization.k8s.io/v1", "Role"): ROLE,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ROLE,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): BINDING,
    ("v1", "Secret"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "map_bytes"), 3: ("type", "str"),
                       4: ("stringData", "map_str"), 5: ("immutable", "bool")},
    ("v1", "ConfigMap"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "map_str"),
                          3: ("binaryData", "map_bytes"), 4: ("immutable", "bool")},
    ("v1", "DeleteOptions"): {1: ("gracePeriodSeconds", "int"),
                              2: ("preconditions", "msg", {1: ("uid", "str"), 2: ("resourceVersion", "str")}),
                              3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"),
                              5: ("dryRun", "list_str")},
}
SCHEMAS[("meta.k8s.io/v1", "DeleteOptions")] = SCHEMAS[("v1", "DeleteOptions")]


def decode(body: bytes, content_type: str = "application/vnd.kubernetes.protobuf") -> dict:
    """Decode a protobuf-encoded object into the JSON dict the server would have received."""
    if not body.startswith(MAGIC):
        raise unsupported_media_type(content_type)
    type_meta, raw = {}, b""
    for number, _, value in _fields(body[len(MAGIC):]):
        if number == 1:
            type_meta = _decode(value, {1: ("apiVersion", "str"), 2: ("kind", "str")})
        elif number == 2:
            raw = value
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise unsupported_media_type(f"{content_type} ({api_version} {kind} is not decoded)")
    try:
        obj = _decode(raw, schema)
    except ValueError as exc:
        raise unsupported_media_type(f"{content_type} ({api_version} {kind}: {exc})") from None
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
