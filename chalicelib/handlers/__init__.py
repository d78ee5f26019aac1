"""The Lambda functions' handlers, as Chalice Blueprints that ``app.py`` registers, and what they share.

This package is wiring, like ``app.py``: each handler parses its event, calls
one function elsewhere in chalicelib with the clients and settings made here,
and returns a small dict. It lives under chalicelib because Chalice ships only
``app.py`` and ``chalicelib/``.

The Blueprints take ``app`` as their import name, so each function's Lambda
handler stays ``app.<name>``: Lambda then imports ``app.py``, which registers
the middleware. A handler string into chalicelib would skip that import and
with it the middleware (https://github.com/aws/chalice/issues/1566).
"""
from __future__ import annotations

import functools
import threading
from datetime import datetime, timezone

import boto3
from botocore.config import Config

from chalicelib.settings import Settings

_client_lock = threading.Lock()
_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})  # longer waits: the state machines' Retry
# The API starts, stops and describes runs through Step Functions while API Gateway waits at most 29 s
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). Throttled starts are tried 4 times:
# botocore's standard backoff waits rand(0, 1) * 2**i s between them, 7 s at most, and a call that hangs gives up
# after 2 + 2 s, so even four hung attempts and the waits stay within 23 s (tests/chalicelib/test_handlers.py).
_API_CALLS = Config(retries={"mode": "standard", "total_max_attempts": 4}, connect_timeout=2, read_timeout=2)
_CONFIGS = {"stepfunctions": _API_CALLS}


@functools.cache
def settings() -> Settings:
    """The settings, read once per container."""
    return Settings.from_env()


@functools.cache
def aws(service: str):
    """One boto3 client per service; the endpoint comes from the standard AWS settings."""
    with _client_lock:  # boto3's default session is not safe to use from several threads at once
        return boto3.client(service, config=_CONFIGS.get(service, _RETRIES))


def now() -> datetime:
    return datetime.now(timezone.utc)


def cold_start() -> None:
    """Forget the cached settings and clients: importing ``app.py`` starts a container afresh (the local stack
    imports it again for each stack it runs)."""
    settings.cache_clear()
    aws.cache_clear()
