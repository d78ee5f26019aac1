"""Kubernetes Events, as controllers record them (``kubectl describe`` and ``kubectl get events`` show them).

An event is a ``v1 Event`` in the object's namespace named ``<object>.<hex>``. A controller that finds the same
thing again on each of its passes records it once; the same reason and message after another one raise the first
event's ``count`` and ``lastTimestamp`` instead of making another (client-go's event correlator does so).
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

from coursehub_local.cluster.context import ClusterContext
from coursehub_local.kube.errors import ApiError


class EventRecorder:
    """Records events about objects of one cluster."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self._last: dict[tuple[str, str, str], str] = {}  # (uid, reason, message) -> event name
        self._latest: dict[str, tuple[str, str]] = {}  # uid -> (reason, message) last recorded
        self._lock = threading.Lock()

    def record(self, obj: dict, kind: str, event_type: str, reason: str, message: str, component: str) -> None:
        meta = obj["metadata"]
        key = (meta["uid"], reason, message)
        now = datetime.fromtimestamp(self.ctx.clock.time(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        store = self.ctx.store
        with self._lock:
            if self._latest.get(meta["uid"]) == (reason, message):
                return  # said already, nothing new since
            self._latest[meta["uid"]] = (reason, message)
            name = self._last.get(key)
            if name:
                try:
                    event = store.get_object("v1", "Event", meta.get("namespace"), name)
                    event.update(count=event.get("count", 1) + 1, lastTimestamp=now)
                    store.put_object(event)
                    return
                except ApiError:
                    pass  # deleted meanwhile (e.g. with its namespace): make another
            name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
            self._last[key] = name
        try:
            store.put_object({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": meta.get("namespace") or "default"},
                "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"), "kind": kind, "name": meta["name"],
                                   "namespace": meta.get("namespace"), "uid": meta["uid"],
                                   "resourceVersion": meta.get("resourceVersion")},
                "reason": reason, "message": message, "type": event_type, "count": 1,
                "source": {"component": component}, "firstTimestamp": now, "lastTimestamp": now,
                "reportingComponent": component})
        except ApiError:
            pass  # its namespace is going away

    def last(self, obj: dict) -> list[tuple[str, str]]:
        """(reason, message) of the events recorded about ``obj``, oldest first (for tests)."""
        uid = obj["metadata"]["uid"]
        return [(reason, message) for (u, reason, message) in self._last if u == uid]
