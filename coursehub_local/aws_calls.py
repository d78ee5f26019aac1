"""Which AWS actions each function performs, recorded while the stack runs the real handlers.

The stack runs every handler in-process: ``dispatch.py`` (Lambda invokes, Task
states, schedule and rule targets) and ``api_gateway.py`` (the REST API) mark
the function that is running (``running``), and every botocore call made in
that thread meanwhile is recorded as the IAM action it needs
(``<signing name>:<operation>``, e.g. ``states:StartExecution``). The policy
check (``coursehub/iam_policies.py``) compares this with each function's policy.
For the actions IAM allows only on tagged resources, the tags of the resource
each call named are recorded too (``resource_tags``), read just before the call.
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

from coursehub_local import resource_tags

_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("coursehub_function", default=None)
_lock = threading.Lock()
ACTIONS: dict[str, set[str]] = defaultdict(set)  # Chalice function name -> IAM actions it performed
INVOKED: set[str] = set()  # functions that ran at least once
# (function, action) -> the tags of each resource a tag-conditioned action was called on (resource_tags.READERS)
RESOURCE_TAGS: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)


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
# A DynamoDB transaction is authorized item by item as the single-item actions it performs: "Permissions for Put,
# Update, Delete, and Get actions are governed by the permissions used for the underlying PutItem, UpdateItem,
# DeleteItem, and GetItem operations. For the ConditionCheck action, you can use the dynamodb:ConditionCheckItem
# permission" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem",
                       "ConditionCheck": "ConditionCheckItem"}


def needed_by(service: str, operation: str, params: dict) -> set[str]:
    """The IAM actions a call needs: ``<signing name>:<operation>``, or a transaction's actions item by item."""
    if service == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return {f"dynamodb:{TRANSACTION_ACTIONS[kind]}" for item in params.get("TransactItems", []) for kind in item}
    return {f"{service}:{operation}"}


_twins: dict[tuple, object] = {}


def _stack_twin(client):
    """A client like ``client`` that the stack's fault injection never answers: the tag look-ups are the check's
    own calls, and must neither use up nor meet a fault injected for the function's calls."""
    import boto3
    from botocore.config import Config

    from coursehub_local.faults import STACK_AGENT

    credentials = client._request_signer._credentials.get_frozen_credentials()
    key = (client.meta.service_model.service_name, client.meta.endpoint_url, client.meta.region_name,
           credentials.access_key)
    with _lock:
        if key not in _twins:
            _twins[key] = boto3.session.Session().client(
                key[0], endpoint_url=key[1], region_name=key[2], aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key, aws_session_token=credentials.token,
                config=Config(user_agent_extra=STACK_AGENT))
        return _twins[key]


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
                actions = needed_by(self.meta.service_model.signing_name, operation_name, api_params)
                call = Call(function, self.meta.service_model.service_name, operation_name)
                with _lock:
                    ACTIONS[function].update(actions)
                    for calls in _watchers:
                        calls.append(call)
                token = _running.set(None)  # the look-up is the check's, not the function's
                try:
                    tagged = [(action, resource_tags.read(_stack_twin(self), action, api_params))
                              for action in actions if action in resource_tags.READERS]
                finally:
                    _running.reset(token)
                for action, tags in tagged:
                    if tags is not None:
                        with _lock:
                            RESOURCE_TAGS[function, action].append(tags)
            return original(self, operation_name, api_params)

        BaseClient._make_api_call = make_api_call
        _installed = True
