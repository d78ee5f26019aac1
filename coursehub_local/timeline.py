"""Deferred changes on the local stack's clock (an EKS cluster turning ACTIVE, a node group scaling)."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from typing import Callable

from coursehub_local.clock import Clock

log = logging.getLogger(__name__)


class Timeline:
    """Runs callbacks once simulated time reaches their due time (driven by the stack's ticker)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``seconds`` of simulated time from now."""
        with self._lock:
            heapq.heappush(self._due, (self.clock.time() + seconds, next(self._order), action))

    def run_due(self) -> int:
        """Run every action that is due; returns how many ran."""
        ran = 0
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > self.clock.time():
                    return ran
                _, _, action = heapq.heappop(self._due)
            try:
                action()
            except Exception:  # noqa: BLE001 - one broken transition must not stop the others
                log.exception("deferred action failed")
            ran += 1

    def pending(self) -> int:
        """How many actions are still waiting."""
        with self._lock:
            return len(self._due)
