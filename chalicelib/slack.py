"""Post messages to a Slack incoming webhook whose URL is kept in Secrets Manager."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Callable

from chalicelib.errors import InvalidEvent, SecretUnavailable, SlackPostFailed
from chalicelib.secrets import read_secret

Opener = Callable[..., Any]


def webhook_url(secretsmanager: Any, secret_arn: str) -> str:
    """The webhook URL from a secret holding either the URL or ``{"url": ...}``."""
    value = read_secret(secretsmanager, secret_arn)
    if value.lstrip().startswith("{"):
        value = read_secret(secretsmanager, secret_arn, key="url")
    if not value.startswith(("https://", "http://")):
        raise SecretUnavailable(f"secret {secret_arn} does not hold a webhook URL")
    return value


def message_from_event(event: Any) -> dict:
    """Validate a notify event: ``{"text": str, "blocks"?: list, "slack_secret_arn"?: str}``."""
    if not isinstance(event, dict):
        raise InvalidEvent("notify event must be an object")
    text = event.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidEvent("notify event field 'text' must be a non-empty string")
    message: dict = {"text": text[:3000]}
    blocks = event.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise InvalidEvent("notify event field 'blocks' must be a list")
        message["blocks"] = blocks
    return message


def secret_arn_from_event(event: dict, default: str) -> str:
    """The webhook secret named by the event (``slack_secret_arn``), else the stage's default."""
    arn = event.get("slack_secret_arn", default)
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":secretsmanager:" not in arn:
        raise InvalidEvent("notify event field 'slack_secret_arn' must be a Secrets Manager ARN")
    return arn


def post(url: str, message: dict, *, timeout: float, opener: Opener = urllib.request.urlopen) -> None:
    """POST one message; errors name the HTTP status, never the URL (it is a secret)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with opener(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise SlackPostFailed(f"Slack answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SlackPostFailed(f"Slack could not be reached: {type(reason).__name__}") from None
    if not 200 <= status < 300:
        raise SlackPostFailed(f"Slack answered HTTP {status}")
