"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge covers the common merge keys of built-in types by field name
(a pragmatic subset of the Go struct tags): containers, env, volumes and so on
merge by key, other lists are replaced.
"""
from __future__ import annotations

import copy

from .errors import ApiError, bad_request

_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid",
    "conditions": "type", "topologySpreadConstraints": "topologyKey", "secrets": "name",
    "resourceClaims": "name",
}
_PRIMITIVE_MERGE_LISTS = {"finalizers"}
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}


def merge_key(path: tuple[str, ...], field: str) -> str | None:
    """The strategic merge key of list ``field`` found at ``path``, if it has one."""
    if field == "ports":
        return "containerPort" if any(p in _CONTAINER_LISTS for p in path[-1:]) else "port"
    return _MERGE_KEYS.get(field)


def json_merge_patch(target: object, patch: object) -> object:
    """Apply an RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: object, patch: object, path: tuple[str, ...] = ()) -> object:
    """Apply a Kubernetes strategic merge patch (``$patch``, ``$retainKeys``, keyed lists)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            merged = _merge_list(result.get(key), value, path, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            merged = strategic_merge_patch(result.get(key), value, path + (key,))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_list(current: object, patch: list, path: tuple[str, ...], field: str) -> list | None:
    current = list(current) if isinstance(current, list) else []
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch"))]
    key = merge_key(path, field)
    if key and all(isinstance(item, dict) for item in patch):
        for item in patch:
            index = next((i for i, cur in enumerate(current)
                          if isinstance(cur, dict) and cur.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    current.pop(index)
            elif index is None:
                current.append(strategic_merge_patch({}, item, path + (field,)))
            else:
                current[index] = strategic_merge_patch(current[index], item, path + (field,))
        return current
    if field in _PRIMITIVE_MERGE_LISTS:
        return current + [v for v in patch if v not in current]
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: object, parts: list[str]) -> object:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def _add(doc: object, parts: list[str], value: object, replace: bool) -> object:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif replace:
            parent[int(last)] = value
        else:
            parent.insert(int(last), value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise KeyError(last)
        parent[last] = value
    else:
        raise KeyError(last)
    return doc


def _remove(doc: object, parts: list[str]) -> object:
    parent = _resolve(doc, parts[:-1])
    if isinstance(parent, list):
        return parent.pop(int(parts[-1]))
    return parent.pop(parts[-1])


def json_patch(doc: object, operations: list) -> object:
    """Apply an RFC 6902 JSON patch; a failed ``test`` or bad path is an error."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        try:
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]), replace=False)
            elif kind == "replace":
                doc = _add(doc, parts, copy.deepcopy(op["value"]), replace=True)
            elif kind == "remove":
                _remove(doc, parts)
            elif kind in ("move", "copy"):
                source = _pointer(op["from"])
                value = _remove(doc, source) if kind == "move" else copy.deepcopy(_resolve(doc, source))
                doc = _add(doc, parts, value, replace=False)
            elif kind == "test":
                if _resolve(doc, parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {op.get('path')} failed")
            else:
                raise bad_request(f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {kind} {op.get('path')}: {exc}") from None
    return doc
