"""Lambda functions of the smoke workflow, a Chalice app of its own that only the local stack deploys."""
from __future__ import annotations

import threading
from collections import Counter

from chalice import Chalice

app = Chalice(app_name="coursehub-smoke")
_calls: Counter = Counter()
_lock = threading.Lock()


class ProbeNotReady(Exception):
    """Not ready yet: the state machine's Retry waits and asks again."""


class DeliberateFailure(Exception):
    """Raised on purpose so that a Catch can be exercised."""


def _count(key: str) -> int:
    with _lock:
        _calls[key] += 1
        return _calls[key]


@app.lambda_function(name="smoke_probe")
def smoke_probe(event, context):
    """Raise ProbeNotReady for the first ``fail_times`` calls of this run."""
    attempt = _count(f"probe:{event['run']}")
    if attempt <= int(event.get("fail_times", 0)):
        raise ProbeNotReady(f"attempt {attempt} of run {event['run']}: not ready")
    return {"attempts": attempt}


@app.lambda_function(name="smoke_poll")
def smoke_poll(event, context):
    """Report progress; done on the ``polls_needed``-th call of this run."""
    polls = _count(f"poll:{event['run']}")
    return {"polls": polls, "done": polls >= int(event.get("polls_needed", 1))}


@app.lambda_function(name="smoke_square")
def smoke_square(event, context):
    """Square one Map item."""
    return {"value": event["value"], "square": event["value"] ** 2}


@app.lambda_function(name="smoke_fail")
def smoke_fail(event, context):
    """Always fail with a named error."""
    raise DeliberateFailure("failing on purpose so the Catch runs")
