"""Server-side apply: merge an applied configuration and remember which fields each manager set.

Each manager's applied fields are recorded as a FieldsV1 set in
``metadata.managedFields`` (operation ``Apply``). Re-applying removes the
fields that manager set before and no longer sets, unless another manager also
applied them; lists merge by the same keys as strategic merge patch. Field
ownership conflicts are not detected (every apply behaves as ``force=true``).
"""
from __future__ import annotations

import copy
import json

from .patch import merge_key

_IDENTITY_META = {"name", "namespace", "resourceVersion", "uid", "creationTimestamp", "generation",
                  "managedFields", "selfLink", "deletionTimestamp"}


def _item_key(key: str, item: dict) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


def fieldset(obj: dict, path: tuple[str, ...] = ()) -> dict:
    """The FieldsV1 set of the fields present in an applied configuration."""
    out: dict = {}
    for name, value in obj.items():
        if (not path and name in ("apiVersion", "kind")) or (path == ("metadata",) and name in _IDENTITY_META):
            continue
        field = f"f:{name}"
        if isinstance(value, dict):
            out[field] = fieldset(value, path + (name,))
        elif isinstance(value, list) and _keyed(path, name, value):
            key = merge_key(path, name)
            out[field] = {_item_key(key, item): {".": {}, **fieldset(item, path + (name,))} for item in value}
        else:
            out[field] = {}
    return out


def _keyed(path: tuple[str, ...], name: str, value: list) -> bool:
    key = merge_key(path, name)
    return bool(key) and all(isinstance(item, dict) and key in item for item in value)


def _find(items: list, member: str) -> int | None:
    wanted = json.loads(member[2:])
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
            return index
    return None


def _prune(live: object, old: dict, new: dict, others: dict) -> None:
    """Remove from ``live`` what ``old`` owned and ``new`` and ``others`` do not."""
    for member, old_sub in old.items():
        if member == ".":
            continue
        new_sub, other_sub = new.get(member), others.get(member)
        if isinstance(live, dict) and member.startswith("f:"):
            name = member[2:]
            if name not in live:
                continue
            if new_sub is None and other_sub is None:
                del live[name]
            elif old_sub:
                _prune(live[name], old_sub, new_sub or {}, other_sub or {})
        elif isinstance(live, list) and member.startswith("k:"):
            index = _find(live, member)
            if index is None:
                continue
            if new_sub is None and other_sub is None:
                live.pop(index)
            else:
                _prune(live[index], old_sub, new_sub or {}, other_sub or {})


def _merge(live: object, applied: object, path: tuple[str, ...] = ()) -> object:
    """Merge an applied configuration into the live object."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    result = dict(live)
    for name, value in applied.items():
        if isinstance(value, list) and _keyed(path, name, value) and isinstance(result.get(name), list):
            key = merge_key(path, name)
            merged = list(result[name])
            for item in value:
                index = _find(merged, _item_key(key, item))
                if index is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[index] = _merge(merged[index], item, path + (name,))
            result[name] = merged
        else:
            result[name] = _merge(result.get(name), value, path + (name,))
    return result


def _union(sets: list[dict]) -> dict:
    out: dict = {}
    for one in sets:
        for member, sub in one.items():
            out[member] = _union([out.get(member, {}), sub])
    return out


def server_side_apply(current: dict | None, applied: dict, manager: str, now: str) -> dict:
    """The object after ``manager`` applies ``applied`` to ``current`` (None: create)."""
    new_set = fieldset(applied)
    entries = list(((current or {}).get("metadata") or {}).get("managedFields") or [])
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"
            and not e.get("subresource")]
    others = [e.get("fieldsV1") or {} for e in entries if e not in mine]
    if current is None:
        result = copy.deepcopy(applied)
    else:
        result = copy.deepcopy(current)
        for entry in mine:
            _prune(result, entry.get("fieldsV1") or {}, new_set, _union(others))
        result = _merge(result, applied)
    entry = {"manager": manager, "operation": "Apply", "apiVersion": applied.get("apiVersion", ""),
             "time": now, "fieldsType": "FieldsV1", "fieldsV1": new_set}
    result.setdefault("metadata", {})["managedFields"] = [e for e in entries if e not in mine] + [entry]
    return result
