"""Block Kit for the Slack messages: the text, then hub / step / outcome, link buttons and the execution.

Pure functions of what a notify event says. Slack refuses a message whose blocks
break its limits (https://api.slack.com/reference/block-kit/blocks), so every
piece is cut to fit rather than checked later.
"""
from __future__ import annotations

import re
from typing import Mapping

# How each outcome shows in the fields; the keys are the outcomes a notify event may name.
OUTCOMES = {
    "started": ":rocket: started",
    "progress": ":hourglass_flowing_sand: in progress",
    "action_needed": ":warning: action needed",
    "ready": ":white_check_mark: ready",
    "passed": ":white_check_mark: passed",
    "failed": ":x: failed",
    "aborted": ":octagonal_sign: aborted",
    "timed_out": ":alarm_clock: timed out",
    "retiring": ":wastebasket: retiring",
    "retired": ":checkered_flag: retired",
    "reminder": ":calendar: reminder",
    "scaled": ":arrows_counterclockwise: scaled",
    "skipped": ":pause_button: skipped",
}
URL_LABELS = {"binder": "Open BinderHub", "hub": "Open JupyterHub"}  # the names provisioning gives a hub's URLs
EXECUTION_ARN = re.compile(r"^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):execution:([^:]+):([^:]+)$")
_TEXT_LIMIT = 3000  # a section's text
_FIELD_LIMIT = 2000  # each field of a section
_LABEL_LIMIT = 75  # a button's text
_BUTTONS_LIMIT = 25  # elements of an actions block


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def console_url(execution_arn: str) -> str | None:
    """The execution's page in the AWS console (standard partition), or None for another partition."""
    match = EXECUTION_ARN.match(execution_arn)
    if not match or match.group(1) != "aws":
        return None
    region = match.group(2)
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}")


def build(text: str, *, hub_id: str | None = None, workflow: str | None = None, step: str | None = None,
          outcome: str | None = None, urls: Mapping[str, str] | None = None,
          execution: str | None = None) -> list[dict]:
    """The message's blocks: text, a fields section, URL buttons, and a context line linking the execution."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(text), _TEXT_LIMIT)}}]
    fields = [(name, value) for name, value in (
        ("Hub", hub_id and f"`{hub_id}`"), ("Workflow", workflow and escape(workflow)), ("Step", step and escape(step)),
        ("Outcome", outcome and OUTCOMES.get(outcome, escape(outcome)))) if value]
    if fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", _FIELD_LIMIT)} for name, value in fields]})
    buttons = [{"type": "button", "url": url,
                "text": {"type": "plain_text", "text": _cut(URL_LABELS.get(name, name), _LABEL_LIMIT)}}
               for name, url in (urls or {}).items()]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:_BUTTONS_LIMIT]})
    if execution:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _execution_line(execution)}]})
    return blocks


def _execution_line(execution: str) -> str:
    name = execution.rsplit(":", 1)[-1]
    url = console_url(execution)
    return f"Step Functions execution <{url}|{escape(name)}>" if url else f"Step Functions execution `{execution}`"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
