"""The local stack's clock: simulated time that runs ``time_scale`` times faster than real time.

Everything that waits on the stack (Step Functions Wait states and Retry
intervals, EKS state transitions, schedules) reads this clock, so the state
machines keep their production intervals while a rehearsal takes seconds.
``advance()`` jumps ahead at once and wakes every sleeper.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

# Longest real pause between two looks at the clock while sleeping; bounds how
# late a sleeper notices an ``advance()`` or an interrupt.
_MAX_REAL_NAP = 0.05


class Clock:
    """Scaled simulated time, shared by every part of the local stack."""

    def __init__(self, time_scale: float = 1.0, start: float | None = None):
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = float(time_scale)
        self._real_origin = time.monotonic()
        self._sim_origin = time.time() if start is None else start
        self._offset = 0.0
        self._changed = threading.Condition()

    def time(self) -> float:
        """Simulated seconds since the epoch."""
        elapsed = (time.monotonic() - self._real_origin) * self.time_scale
        return self._sim_origin + elapsed + self._offset

    def now(self) -> datetime:
        """Simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        """Jump ahead by ``seconds`` of simulated time."""
        with self._changed:
            self._offset += seconds
            self._changed.notify_all()

    def real_seconds(self, simulated: float) -> float:
        """How long ``simulated`` seconds take in real time."""
        return max(simulated, 0.0) / self.time_scale

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> bool:
        """Sleep ``seconds`` of simulated time; False if ``interrupt`` was set first."""
        return self.sleep_until(self.time() + seconds, interrupt)

    def sleep_until(self, deadline: float, interrupt: threading.Event | None = None) -> bool:
        """Sleep until simulated time ``deadline``; False if ``interrupt`` was set first."""
        while True:
            if interrupt is not None and interrupt.is_set():
                return False
            remaining = deadline - self.time()
            if remaining <= 0:
                return True
            nap = min(self.real_seconds(remaining), _MAX_REAL_NAP)
            with self._changed:
                self._changed.wait(nap)
