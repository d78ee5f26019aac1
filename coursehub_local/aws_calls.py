"""Which AWS actions each function performs, recorded while the stack runs the real handlers.

The stack runs every handler in-process: ``dispatch.py`` (Lambda invokes, Task
states, schedule and rule targets) and ``api_gateway.py`` (the REST API) mark
the function that is running (``running``), and every botocore call made in
that thread meanwhile is recorded as the IAM action it needs
(``<signing name>:<operation>``, e.g. ``states:StartExecution``). The policy
check (``coursehub/iam_policies.py``) compares this with each function's policy.
``watching`` also lists the calls in order while a block runs, each with botocore's
service name (``elb`` or ``elbv2``, both ``elasticloadbalancing`` to IAM): the fault
matrix (tests/local/fault_matrix.py) derives the operations each workflow calls from it.
"""
from __future__ import annotations

import contextvars
import json
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("coursehub_function", default=None)
_lock = threading.Lock()
ACTIONS: dict[str, set[str]] = defaultdict(set)  # Chalice function name -> IAM actions it performed
INVOKED: set[str] = set()  # functions that ran at least once


@dataclass(frozen=True)
class Call:
    """One API call of a function: ``service`` is botocore's name for it (``elb``, ``elbv2``), as faults take it."""

    function: str
    service: str
    operation: str


_watchers: list[list[Call]] = []


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


@contextmanager
def watching() -> Iterator[list[Call]]:
    """Every API call of the app's functions while the block runs, in the order they were made."""
    install()
    calls: list[Call] = []
    with _lock:
        _watchers.append(calls)
    try:
        yield calls
    finally:
        with _lock:
            _watchers.remove(calls)


def recorded() -> dict[str, set[str]]:
    """A copy of what has been recorded so far."""
    with _lock:
        return {function: set(actions) for function, actions in ACTIONS.items()}


def save(path: Path) -> None:
    """Write what was recorded (functions run, actions each performed) to ``path`` as JSON."""
    with _lock:
        data = {"invoked": sorted(INVOKED), "actions": {f: sorted(a) for f, a in ACTIONS.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def load(directory: Path) -> int:
    """Add what other processes ``save``d in ``directory`` to this one's record; how many files were read."""
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    for path in files:
        data = json.loads(path.read_text())
        with _lock:
            INVOKED.update(data["invoked"])
            for function, actions in data["actions"].items():
                ACTIONS[function].update(actions)
    return len(files)


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
                call = Call(function, self.meta.service_model.service_name, operation_name)
                with _lock:
                    ACTIONS[function].add(action)
                    for calls in _watchers:
                        calls.append(call)
            return original(self, operation_name, api_params)

        BaseClient._make_api_call = make_api_call
        _installed = True
