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


@functools.cache
def settings() -> Settings:
    """The settings, read once per container."""
    return Settings.from_env()


@functools.cache
def aws(service: str):
    """One boto3 client per service; the endpoint comes from the standard AWS settings."""
    with _client_lock:  # boto3's default session is not safe to use from several threads at once
        return boto3.client(service, config=_RETRIES)


def now() -> datetime:
    return datetime.now(timezone.utc)


def cold_start() -> None:
    """Forget the cached settings and clients: importing ``app.py`` starts a container afresh (the local stack
    imports it again for each stack it runs)."""
    settings.cache_clear()
    aws.cache_clear()
