"""Runs that ended without their own failure report, found from Step Functions' execution events.

The stage's EventBridge rule (``ExecutionEndRule`` in statemachine/template.json) passes every
"Step Functions Execution Status Change" of the provision and teardown state machines that
FAILED, TIMED_OUT or was ABORTED. A run that failed through its own failure path ends in its
Fail state (``OWN_FAILURES``): it has recorded the failure and said so on Slack. Any other end
(stopped by hand, timed out, a runtime error, recording the failure failed) is recorded here on
the hub, unless another run owns the hub record by now, and announced on the hub's channel.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws_retry, hub_records, slack_blocks, steps
from chalicelib.errors import InvalidEvent
from chalicelib.settings import Settings

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
OWN_FAILURES = {"provision": "ProvisioningFailed", "teardown": "TeardownFailed"}  # each workflow's Fail state
OUTCOMES = {"FAILED": "failed", "TIMED_OUT": "timed_out", "ABORTED": "aborted"}  # the statuses reported
STATUSES = ("RUNNING", "SUCCEEDED", *OUTCOMES, "PENDING_REDRIVE")
WORKFLOWS = {"provision": ("Provisioning", "Start the provisioning again for the same hub: what exists is reused."),
             "teardown": ("Retiring", "Start the teardown again: every step treats what is already gone as done.")}
ENDED = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was stopped"}
CAUSES = {"TIMED_OUT": "the run took longer than the workflow's TimeoutSeconds",
          "ABORTED": "someone stopped the execution (StopExecution)", "FAILED": "no cause given"}
STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:([^:]+)$")
SETTLED = ("FAILED", "RETIRED")  # a hub record in these states is left as it is


@dataclass(frozen=True)
class ExecutionEnd:
    """One execution status change, as the report needs it."""

    execution_arn: str
    workflow: str  # the state machine's name without its "<app>-<stage>-" prefix
    status: str
    hub_id: str
    error: str
    cause: str

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def announced_by_workflow(self) -> bool:
        """True if the run ended in its own Fail state, after its failure path recorded and announced it."""
        return self.status == "FAILED" and self.error == OWN_FAILURES.get(self.workflow)


def parse(event: Any) -> ExecutionEnd:
    """The execution, its status and its hub; InvalidEvent naming the first field that is wrong."""
    if not isinstance(event, dict):
        raise InvalidEvent("execution event must be an object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise InvalidEvent(f"execution event fields 'source' and 'detail-type' must be {SOURCE!r} and {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEvent("execution event field 'detail' must be an object")
    execution = detail.get("executionArn")
    if not isinstance(execution, str) or not slack_blocks.EXECUTION_ARN.match(execution):
        raise InvalidEvent("execution event field 'detail.executionArn' must be an execution ARN")
    machine = STATE_MACHINE_ARN.match(str(detail.get("stateMachineArn")))
    if not machine:
        raise InvalidEvent("execution event field 'detail.stateMachineArn' must be a state machine ARN")
    if detail.get("status") not in STATUSES:
        raise InvalidEvent(f"execution event field 'detail.status' must be one of {', '.join(STATUSES)}")
    try:
        run_input = json.loads(detail.get("input"))
    except (TypeError, ValueError):
        run_input = None
    if not isinstance(run_input, dict):
        raise InvalidEvent("execution event field 'detail.input' must be the run's input as a JSON object")
    hub_id = run_input.get("hub_id")
    if not isinstance(hub_id, str) or not hub_records.HUB_ID.match(hub_id):
        raise InvalidEvent("execution event field 'detail.input' must hold the run's 'hub_id'")
    for field in ("error", "cause"):
        if not isinstance(detail.get(field) or "", str):
            raise InvalidEvent(f"execution event field 'detail.{field}' must be a string or null")
    return ExecutionEnd(execution, machine.group(1).rsplit("-", 1)[-1], detail["status"], hub_id,
                        detail.get("error") or "", detail.get("cause") or "")


def report(dynamodb: Any, settings: Settings, event: Any) -> dict:
    """Record and describe a run that ended without its own report; returns the outcome and the message to post."""
    end = parse(event)
    summary = {"hub_id": end.hub_id, "workflow": end.workflow, "execution": end.name, "status": end.status}
    if end.status not in OUTCOMES or end.announced_by_workflow:
        return {**summary, "reported": False}
    record = None
    try:
        record = _read(dynamodb, settings, end.hub_id)
        step, recorded, note = _record(dynamodb, settings, end, record)
    except ClientError as refused:  # the end is announced all the same; the API asks Step Functions, not the record
        if aws_retry.transient(refused):
            raise  # EventBridge's asynchronous invocation tries again
        step, recorded = (record or {}).get("current_step"), False
        found = refused.response.get("Error", {})
        note = (f"The hub record could not be read or updated ({found.get('Code', 'error')}: "
                f"{str(found.get('Message', ''))[:200]}).")
    label, again = WORKFLOWS.get(end.workflow, (end.workflow.capitalize(), "Start the run again."))
    where = f'at step "{step}"' if step else f"in the {end.workflow} workflow"
    text = (f"{label} {end.hub_id} {ENDED[end.status]} {where} ({end.error or end.status}), without reaching its "
            f"own failure report: {_cause(end)}. {note}" + (f" {again}" if recorded else ""))
    secret = (record or {}).get("request", {}).get("slack_webhook_secret_arn") or settings.slack_webhook_secret_arn
    blocks = slack_blocks.build(text, hub_id=end.hub_id, workflow=end.workflow, step=step,
                                outcome=OUTCOMES[end.status], execution=end.execution_arn)
    return {**summary, "reported": True, "step": step, "recorded": recorded,
            "message": {"text": text, "blocks": blocks, "slack_secret_arn": secret}}


def _read(dynamodb: Any, settings: Settings, hub_id: str) -> dict | None:
    try:
        return hub_records.get(dynamodb, settings.hub_table_name, hub_id)
    except hub_records.HubNotFound:
        return None


def _record(dynamodb: Any, settings: Settings, end: ExecutionEnd, record: dict | None) -> tuple[str | None, bool, str]:
    """(the step the run was at, whether the hub was recorded FAILED, what Slack should add about the record)."""
    if record is None:
        return None, False, f"No hub {end.hub_id} is recorded."
    owner = record.get("execution_arn")
    if owner and owner != end.execution_arn:  # a later run has started since (or this one never reached its start)
        return None, False, f"Run {owner.rsplit(':', 1)[-1]} owns the hub record now; it is left as it is."
    step = record.get("current_step")
    if record.get("status") in SETTLED:
        return step, False, f"The hub was already recorded {record['status']}."
    table, cause = settings.hub_table_name, _cause(end)
    if step and record.get("steps", {}).get(step, {}).get("outcome") == "RUNNING":
        hub_records.step_finished(dynamodb, table, end.hub_id, step, "FAILED", cause)
    hub_records.set_status(dynamodb, table, end.hub_id, "FAILED",
                           error={"step": step or end.workflow, "error": end.error or end.status, "cause": cause})
    return step, True, "The hub is recorded FAILED."


def _cause(end: ExecutionEnd) -> str:
    return steps.cause_text({"Cause": end.cause}) if end.cause else CAUSES[end.status]
