"""Post messages to a Slack incoming webhook whose URL is kept in Secrets Manager."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Callable

from aws_lambda_powertools import Logger

from chalicelib import hub_records, slack_blocks
from chalicelib.errors import InvalidEvent, SecretUnavailable, SlackPostFailed
from chalicelib.secrets import read_secret

Opener = Callable[..., Any]
_URL = re.compile(r"^https://[^\s<>|]{1,2990}$")
logger = Logger()  # the app's logger: same service, same handler


def webhook_url(secretsmanager: Any, secret_arn: str) -> str:
    """The webhook URL from a secret holding either the URL or ``{"url": ...}``."""
    value = read_secret(secretsmanager, secret_arn)
    if value.lstrip().startswith("{"):
        value = read_secret(secretsmanager, secret_arn, key="url")
    if not value.startswith(("https://", "http://")):
        raise SecretUnavailable(f"secret {secret_arn} does not hold a webhook URL")
    return value


def message_from_event(event: Any) -> dict:
    """Validate a notify event and build its message.

    ``{"text": str, "slack_secret_arn"?: str, "blocks"?: list}``, or instead of ``blocks`` the fields
    Block Kit is built from (``slack_blocks.build``): ``hub_id``, ``step``, ``outcome`` (one of
    ``slack_blocks.OUTCOMES``), ``urls`` (name -> https URL) and ``execution`` (the execution ARN).
    ``text`` stays the message's text: Slack shows it in notifications and where blocks cannot be shown.
    """
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
    described = _described(event)
    if described and blocks is None:
        message["blocks"] = slack_blocks.build(text, **described)
    return message


def _described(event: dict) -> dict:
    """The event's Block Kit fields that are present, each checked."""
    described = {name: event[name] for name in ("hub_id", "step", "outcome", "urls", "execution")
                 if event.get(name) is not None}
    hub_id = described.get("hub_id")
    if hub_id is not None and not (isinstance(hub_id, str) and hub_records.HUB_ID.fullmatch(hub_id)):
        raise InvalidEvent("notify event field 'hub_id' must be a hub id")
    step = described.get("step")
    if step is not None and not (isinstance(step, str) and 0 < len(step) <= 200):
        raise InvalidEvent("notify event field 'step' must be a state name (a string of 1 to 200 characters)")
    if described.get("outcome") is not None and described["outcome"] not in slack_blocks.OUTCOMES:
        raise InvalidEvent(f"notify event field 'outcome' must be one of {', '.join(slack_blocks.OUTCOMES)}")
    urls = described.get("urls")
    if urls is not None and not (isinstance(urls, dict) and len(urls) <= 10 and all(
            isinstance(name, str) and name and isinstance(url, str) and _URL.match(url)
            for name, url in urls.items())):
        raise InvalidEvent("notify event field 'urls' must map at most 10 names to https:// URLs")
    execution = described.get("execution")
    if execution is not None and not (isinstance(execution, str) and slack_blocks.EXECUTION_ARN.match(execution)):
        raise InvalidEvent("notify event field 'execution' must be a Step Functions execution ARN")
    return described


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


def send(secretsmanager: Any, secret_arn: str, text: str, blocks: list | None = None, *, timeout: float,
         opener: Opener = urllib.request.urlopen) -> None:
    """Post ``text`` (and its Block Kit ``blocks``) to the webhook kept in the secret ``secret_arn``."""
    message = {"text": text, **({"blocks": blocks} if blocks else {})}
    post(webhook_url(secretsmanager, secret_arn), message, timeout=timeout, opener=opener)
    logger.info("posted to Slack", extra={"chars": len(text)})
