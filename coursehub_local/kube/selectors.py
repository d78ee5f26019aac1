"""Label and field selectors, parsed once and matched against stored objects."""
from __future__ import annotations

import re
from typing import Callable

from .errors import bad_request

Predicate = Callable[[dict], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^\s!=]+)\s*(==|!=|=)\s*(\S*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``in (a,b)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    match = _SET_RE.match(term)
    if match:
        key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    match = _CMP_RE.match(term)
    if match:
        key, op, value = match.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    match = _EXISTS_RE.match(term)
    if match:
        negate, key = match.groups()
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {term!r}")


def label_selector(selector: str | None) -> Predicate:
    """Predicate on an object for a ``labelSelector`` query value."""
    if not selector:
        return lambda obj: True
    terms = [_label_term(term) for term in _split_terms(selector)]

    def matches(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(term(labels) for term in terms)
    return matches


def field_value(obj: dict, path: str) -> str:
    """The string value at a dotted field path, ``""`` when absent (as the server compares)."""
    value: object = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def field_selector(selector: str | None) -> Predicate:
    """Predicate on an object for a ``fieldSelector`` query value."""
    if not selector:
        return lambda obj: True
    checks = []
    for term in _split_terms(selector):
        match = _CMP_RE.match(term)
        if not match:
            raise bad_request(f"invalid field selector: {term!r}")
        checks.append(match.groups())

    def matches(obj: dict) -> bool:
        for path, op, value in checks:
            equal = field_value(obj, path) == value
            if equal != (op != "!="):
                return False
        return True
    return matches


def selector_from_match_labels(selector: dict | None) -> Predicate:
    """Predicate for a structured ``LabelSelector`` (matchLabels + matchExpressions)."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op in ("In", "NotIn"):
            terms.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return label_selector(",".join(terms))
