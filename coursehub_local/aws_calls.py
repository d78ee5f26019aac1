"""Which AWS actions each function performs, recorded while the stack runs the real handlers.

The stack runs every handler in-process: ``dispatch.py`` (Lambda invokes, Task
states, schedule and rule targets) and ``api_gateway.py`` (the REST API) mark
the function that is running (``running``), and every botocore call made in
that thread meanwhile is recorded as the IAM action it needs
(``<signing name>:<operation>``, e.g. ``states:StartExecution``). The policy
check (``coursehub/iam_policies.py``) compares this with each function's policy.
For the actions IAM allows only on tagged resources, the tags of the resource
each call named are recorded too (``resource_tags``), read just before the call.
"""
from __future__ import annotations

import contextvars
import json
import threading
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from coursehub_local import resource_tags

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("coursehub_function", default=None)
_lock = threading.Lock()
ACTIONS: dict[str, set[str]] = defaultdict(set)  # Chalice function name -> IAM actions it performed
INVOKED: set[str] = set()  # functions that ran at least once
# (function, action) -> the tags of each resource a tag-conditioned action was called on (resource_tags.READERS)
RESOURCE_TAGS: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)


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


def save(path: Path) -> None:
    """Write what was recorded (functions run, actions each performed) to ``path`` as JSON."""
    with _lock:
        data = {"invoked": sorted(INVOKED), "actions": {f: sorted(a) for f, a in ACTIONS.items()},
                "resource_tags": [[f, a, tags] for (f, a), seen in RESOURCE_TAGS.items() for tags in seen]}
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
            for function, action, tags in data.get("resource_tags", []):
                RESOURCE_TAGS[function, action].append(tags)
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
                with _lock:
                    ACTIONS[function].add(action)
                token = _running.set(None)  # the look-up is the check's, not the function's
                try:
                    tags = resource_tags.read(self, action, api_params)
                finally:
                    _running.reset(token)
                if tags is not None:
                    with _lock:
                        RESOURCE_TAGS[function, action].append(tags)
            return original(self, operation_name, api_params)

        BaseClient._make_api_call = make_api_call
        _installed = True
