"""What every workflow step shares: the event's shape, the stored request, progress on the hub record, cluster access.

A Task's input carries ``hub_id``, ``request`` (as the first step accepted it)
and ``step`` (the state's name, ``$$.State.Name``), plus earlier results.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib import hub_records
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings


def hub_id_of(event: Any) -> str:
    """The event's hub id; InvalidEvent naming the field if there is none or it is malformed."""
    hub_id = event.get("hub_id") if isinstance(event, dict) else None
    if not isinstance(hub_id, str) or not hub_records.HUB_ID.match(hub_id):
        raise InvalidEvent("event field 'hub_id' must be a hub id (lowercase letters, digits and '-', 48 at most)")
    return hub_id


def checked(event: Any) -> dict:
    """``event`` if it has a hub id and a request; InvalidEvent otherwise."""
    hub_id_of(event)
    if "request" not in event:
        raise InvalidEvent("a workflow event needs 'hub_id' and 'request'")
    return event


def run_of(event: dict, workflow: str) -> dict:
    """What the hub record keeps of the run a first step belongs to: the workflow and its execution (if given)."""
    execution = event.get("execution")
    return {"workflow": workflow, "execution_arn": execution if isinstance(execution, str) else None}


def request_of(event: dict) -> HubRequest:
    """The request as the first step accepted it (not judged against today's date again)."""
    return HubRequest.stored(checked(event)["request"])


def names(request: HubRequest) -> dict:
    """What the workflows' Slack messages say of a hub: course, cluster and public host names."""
    return {"cluster": request.cluster_name, "binder": request.binder, "hub": request.hub, "course": request.course_id}


def started(dynamodb: Any, settings: Settings, event: dict) -> str:
    """Record the step as running (its first start is kept across polls); returns its name."""
    step = event.get("step") or "unnamed step"
    hub_records.step_started(dynamodb, settings.hub_table_name, event["hub_id"], step)
    return step


def finished(dynamodb: Any, settings: Settings, event: dict, step: str, detail: str = "") -> None:
    hub_records.step_finished(dynamodb, settings.hub_table_name, event["hub_id"], step, "SUCCEEDED", detail)


def kube(clients: Any, settings: Settings, request: HubRequest):
    """A helm/kubectl session on the hub's cluster."""
    from chalicelib.kube_session import cluster_session

    return cluster_session(clients("eks"), clients("sts"), request.cluster_name, bin_dir=settings.tools_dir,
                           timeout=settings.kube_timeout_seconds)


def record_failure(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Record FAILED with the step that failed and the cause; returns what Slack should say, and where.

    A hub without a record (its request was refused by the first step) is only announced, on the stage's channel.
    """
    error = event.get("error") or {}
    cause = cause_text(error)
    summary = {"error": error.get("Error", "States.Unknown"), "cause": cause}
    try:
        record = hub_records.get(dynamodb, settings.hub_table_name, event["hub_id"])
    except hub_records.HubNotFound:
        return {**summary, "step": "Record the hub", "slack_secret_arn": settings.slack_webhook_secret_arn}
    step = record.get("current_step") or "Record the hub"
    hub_records.step_finished(dynamodb, settings.hub_table_name, event["hub_id"], step, "FAILED", cause)
    hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "FAILED",
                           error={"step": step, "error": error.get("Error", ""), "cause": cause})
    return {**summary, "step": step,
            "slack_secret_arn": record["request"].get("slack_webhook_secret_arn") or settings.slack_webhook_secret_arn}


def cause_text(error: dict) -> str:
    """The human part of a Step Functions error cause (a Lambda error's JSON, or plain text), at most ~700 chars.

    A long cause keeps its start and its end: helm and kubectl put their own message after the command line.
    """
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        cause = str(parsed.get("errorMessage", cause))
    return cause if len(cause) <= 700 else f"{cause[:200]} … {cause[-480:]}"
