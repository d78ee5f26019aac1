"""Controllers whose passes run on their own thread, woken whenever a resource they watch changes."""
from __future__ import annotations

import logging
import threading

from coursehub_local.cluster.context import ClusterContext


class BackgroundController:
    """Runs ``sync`` on a thread of its own: once at start, then after each change to a ``watched`` resource."""

    watched: frozenset[tuple[str, str]] = frozenset()  # (API group, resource)
    thread_name = "controller"  # the thread is "<thread_name>-<cluster>"
    failure_message = "pass failed in cluster %s"

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._unsubscribe = None
        self._thread = threading.Thread(target=self._run, name=f"{self.thread_name}-{ctx.name}", daemon=True)

    def start(self) -> None:
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe:
            self._unsubscribe()
        self._thread.join(timeout=5)

    def sync(self) -> None:
        raise NotImplementedError

    def _on_event(self, event) -> None:
        if event.key in self.watched:
            self._wake.set()

    def _run(self) -> None:
        self._wake.set()
        while not self._stopping.is_set():
            if self._wake.wait(0.5) and not self._stopping.is_set():
                self._wake.clear()
                try:
                    self.sync()
                except Exception:  # noqa: BLE001 - keep the thread; the next change (or re-check) retries
                    logging.getLogger(type(self).__module__).exception(self.failure_message, self.ctx.name)
