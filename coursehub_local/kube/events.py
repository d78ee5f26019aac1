"""The store's change log: one event per resourceVersion, read by watches and subscribers."""
from __future__ import annotations

import collections
import itertools
import logging
import threading
from typing import Callable, NamedTuple

from .errors import gone

log = logging.getLogger(__name__)


class Event(NamedTuple):
    """One committed change; ``old`` is the object before it (None when ADDED)."""

    rv: int
    type: str
    key: tuple[str, str]
    obj: dict
    old: dict | None


class EventLog:
    """Bounded, ordered log of events; readers wait on the store's condition for new ones."""

    def __init__(self, changed: threading.Condition, size: int) -> None:
        self._changed = changed
        self._events: collections.deque[Event] = collections.deque(maxlen=size)
        self.latest = 0
        self.closed = False
        # Open HTTP watches per (group, plural), so tests and controllers can tell a watcher is listening.
        self.active_watches: collections.Counter[tuple[str, str]] = collections.Counter()

    def append(self, event: Event) -> None:
        """Record an event (caller holds the store lock) and wake readers."""
        self._events.append(event)
        self.latest = event.rv
        self._changed.notify_all()

    def after(self, rv: int, timeout: float) -> list[Event]:
        """Events newer than ``rv``, waiting up to ``timeout`` s for one; 410 if ``rv`` left the log."""
        with self._changed:
            if self._events and rv < self._events[0].rv - 1:
                raise gone(f"too old resource version: {rv} ({self._events[0].rv - 1})")
            if self.latest <= rv and not self.closed:
                self._changed.wait(timeout)
            if self.latest <= rv or not self._events:
                return []
            start = max(0, rv - self._events[0].rv + 1)
            return list(itertools.islice(self._events, start, None))

    def watching(self, key: tuple[str, str], delta: int) -> None:
        """Count an HTTP watch on ``key`` opening (+1) or closing (-1)."""
        with self._changed:
            self.active_watches[key] += delta
            self._changed.notify_all()

    def wait_for_watch(self, key: tuple[str, str], timeout: float) -> bool:
        """Block until a watch on ``key`` is open (True) or ``timeout`` passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.active_watches[key] > 0, timeout)

    def subscribe(self, callback: Callable[[Event], None], since: int) -> Callable[[], None]:
        """Call ``callback(event)`` on a background thread for each event after ``since``."""
        stop = threading.Event()

        def pump() -> None:
            cursor = since
            while not stop.is_set() and not self.closed:
                for event in self.after(cursor, 0.5):
                    if stop.is_set():
                        return
                    cursor = event.rv
                    try:
                        callback(event)
                    except Exception:  # one bad event must not end the subscription
                        log.exception("store subscriber failed on %s %s", event.type, event.key)
        threading.Thread(target=pump, name="kube-store-subscriber", daemon=True).start()
        return stop.set

    def close(self) -> None:
        """Wake every reader so it can finish."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()
