"""Which AWS actions each function performs, recorded while the stack runs the real handlers.

The stack runs every handler in-process: ``dispatch.py`` (Lambda invokes, Task
states, schedule and rule targets) and ``api_gateway.py`` (the REST API) mark
the function that is running (``running``), and every botocore call made in
that thread meanwhile is recorded as the IAM action it needs
(``<signing name>:<operation>``, e.g. ``states:StartExecution``). The policy
check (``coursehub/iam_policies.py``) compares this with each function's policy.
"""
from __future__ import annotations

import contextvars
import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("coursehub_function", default=None)
_lock = threading.Lock()
ACTIONS: dict[str, set[str]] = defaultdict(set)  # Chalice function name -> IAM actions it performed
INVOKED: set[str] = set()  # functions that ran at least once


@contextmanager
def running(function: str) -> Iterator[None]:
    """Attribute the AWS calls made in this thread to ``function`` while the block runs."""
    install()
    with _lock:
        INVOKED.add(function)
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


def recorded() -> dict[str, set[str]]:
    """A copy of what has been recorded so far."""
    with _lock:
        return {function: set(actions) for function, actions in ACTIONS.items()}


_installed = False


def install() -> None:
    """Wrap botocore's one entry point for API calls (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        from botocore.client import BaseClient

        original = BaseClient._make_api_call

        def make_api_call(self, operation_name, api_params):
            function = _running.get()
            if function is not None:
                action = f"{self.meta.service_model.signing_name}:{operation_name}"
                with _lock:
                    ACTIONS[function].add(action)
            return original(self, operation_name, api_params)

        BaseClient._make_api_call = make_api_call
        _installed = True
