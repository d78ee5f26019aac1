"""Server-side printing: ``meta.k8s.io/v1 Table`` answers for ``kubectl get`` (Name and Age columns)."""
from __future__ import annotations

import datetime

from .catalogue import ResourceType

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "priority": 0,
     "description": "Name must be unique within a namespace."},
    {"name": "Age", "type": "string", "format": "", "priority": 0,
     "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
]


def wants_table(accept: str) -> bool:
    """True when the client asks for ``as=Table`` (kubectl get without -o)."""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") == "v1":
            return True
    return False


def human_age(created: str | None, now: datetime.datetime | None = None) -> str:
    """Age the way kubectl shows it: ``45s``, ``5m3s``, ``3h``, ``2d4h``."""
    if not created:
        return "<unknown>"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    seconds = max(0, int((now - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _row(obj: dict) -> dict:
    meta = obj.get("metadata", {})
    partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
               "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return {"cells": [meta.get("name", ""), human_age(meta.get("creationTimestamp"))], "object": partial}


def as_table(rtype: ResourceType, doc: dict) -> dict:
    """A Table for an object or a list answer."""
    items = doc["items"] if "items" in doc else [doc]
    rv = doc.get("metadata", {}).get("resourceVersion", "")
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": _COLUMNS, "rows": [_row(item) for item in items]}
