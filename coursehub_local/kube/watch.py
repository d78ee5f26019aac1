"""Watch streams: turn the store's event log into ADDED/MODIFIED/DELETED events for one request."""
from __future__ import annotations

import time
from typing import Callable

from .errors import ApiError
from .rest import ResourceRequest, predicate
from .store import ObjectStore

DEFAULT_TIMEOUT = 1800.0
BOOKMARK_EVERY = 10.0


def classify(event_type: str, old_match: bool, new_match: bool) -> str | None:
    """Event type as seen through a selector (an object can enter or leave a filtered view)."""
    if event_type == "DELETED":
        return "DELETED" if old_match or new_match else None
    if new_match:
        return "MODIFIED" if old_match else "ADDED"
    return "DELETED" if old_match else None


class WatchStream:
    """One watch request: initial state (when asked), then changes until timeout or stop."""

    def __init__(self, store: ObjectStore, req: ResourceRequest, send: Callable[[dict], None]) -> None:
        self.store, self.req, self.send = store, req, send
        self.rtype, self.match = req.rtype, predicate(req)
        self.deadline = time.monotonic() + float(req.param("timeoutSeconds") or DEFAULT_TIMEOUT)
        self.bookmarks = req.flag("allowWatchBookmarks")

    def _bookmark(self, rv: int, annotations: dict | None = None) -> None:
        meta: dict = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        self.send({"type": "BOOKMARK",
                   "object": {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, "metadata": meta}})

    def _start(self) -> int | None:
        """Send the initial events if the request wants them; the resourceVersion to follow from."""
        start, initial = self.req.param("resourceVersion") or "", self.req.flag("sendInitialEvents")
        if start in ("", "0") or initial:
            items, cursor = self.store.list(self.rtype, self.req.namespace, self.match)
            for item in items:
                self.send({"type": "ADDED", "object": item})
            if initial and self.bookmarks:
                self._bookmark(cursor, {"k8s.io/initial-events-end": "true"})
            return cursor
        try:
            return int(start)
        except ValueError:
            self.send({"type": "ERROR", "object": ApiError(400, "BadRequest", f"invalid resourceVersion {start!r}").body()})
            return None

    def run(self, stopped: Callable[[], bool]) -> None:
        """Stream until the timeout, ``stopped()``, an expired resourceVersion, or a send failure."""
        cursor = self._start()
        if cursor is None:
            return
        self.store.events.watching(self.rtype.key, +1)
        try:
            self._follow(cursor, stopped)
        finally:
            self.store.events.watching(self.rtype.key, -1)

    def _follow(self, cursor: int, stopped: Callable[[], bool]) -> None:
        last_bookmark = time.monotonic()
        while not stopped() and (remaining := self.deadline - time.monotonic()) > 0:
            try:
                events = self.store.events_after(cursor, min(remaining, 1.0))
            except ApiError as exc:
                self.send({"type": "ERROR", "object": exc.body()})
                return
            for event in events:
                cursor = event.rv
                if event.key != self.rtype.key:
                    continue
                if self.req.namespace is not None and event.obj["metadata"].get("namespace") != self.req.namespace:
                    continue
                kind = classify(event.type, event.old is not None and self.match(event.old), self.match(event.obj))
                if kind:
                    self.send({"type": kind, "object": dict(event.obj, apiVersion=self.rtype.api_version,
                                                            kind=self.rtype.kind)})
            if self.bookmarks and time.monotonic() - last_bookmark > BOOKMARK_EVERY:
                self._bookmark(cursor)
                last_bookmark = time.monotonic()
