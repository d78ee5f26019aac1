"""The API's workflow runs: a new hub's record, claiming a hub for a run, starting, stopping and checking
executions, and running a request once per Idempotency-Key.

A run's execution is named before it starts (``execution_arn``): the claim that
names it is the conditional write only one request wins, so two requests never
both start a run, and a start retried with the same name and input is the same
execution. If Step Functions refuses the start, the name is cleared with the
hub recorded FAILED, so the record never names an execution that does not exist
once the API has answered; the refusal is announced on Slack.

A hub whose run is gone (stopped, failed, timed out, or never started) may be
retried or retired, whether or not the run's end was recorded
(``execution_reports``, from EventBridge): ``run_end`` asks Step Functions.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from chalicelib import hub_records, slack, slack_blocks
from chalicelib.api_errors import ApiError
from chalicelib.errors import SecretUnavailable, SlackPostFailed
from chalicelib.settings import Settings

Clients = Callable[[str], Any]
IDEMPOTENCY_HOURS = 24
FIRST_STEP = {"provision": "Start provisioning", "teardown": "Start the teardown"}
# A claimed run whose execution does not exist yet may still be being started by the request that claimed it; an
# API request ends within API Gateway's 29 s, so one claimed longer ago than this never started.
START_GRACE_SECONDS = 60
RUNNING = ("RUNNING", "PENDING_REDRIVE")  # DescribeExecution's statuses of a run that is not over
SLACK_TIMEOUT_SECONDS = 5.0  # the API's answer waits for the announcement of a refused start
logger = Logger()


def execution_arn(state_machine_arn: str, hub: str) -> str:
    """The ARN the hub's next run of ``state_machine_arn`` will have."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{hub}-{stamp}-{uuid.uuid4().hex[:6]}"  # at most 48 + 23 characters, within the 80 allowed
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def record_new_hub(dynamodb: Any, table: str, hub: str, request: dict, execution: str, caller: str) -> bool:
    """Record the course's new hub as PROVISIONING by ``execution``; False if the course has a live hub already."""
    try:
        hub_records.create(dynamodb, table, hub, request, workflow="provision", execution_arn=execution,
                           created_by=caller)
    except hub_records.HubAlreadyExists:
        return False
    return True


def claim(dynamodb: Any, table: str, hub: str, seen: str, status: str, workflow: str, execution: str,
          seen_execution: str | None = None) -> bool:
    """Move the hub from ``seen`` (and its run ``seen_execution``, if given) to ``status`` for a new run; False if
    another request changed it first."""
    also = {"execution_arn": seen_execution} if seen_execution else {}
    return hub_records.transition(dynamodb, table, hub, seen, status, seen_also=also, workflow=workflow,
                                  execution_arn=execution, error=None, steps={}, current_step=None)


def start(clients: Clients, settings: Settings, hub: str, workflow: str, execution: str, payload: dict,
          request: dict) -> None:
    """Start the run named by ``execution``; if AWS refuses, the hub is FAILED with the reason and no execution,
    Slack hears of it (the hub's channel) and the answer is 503.

    The Step Functions client retries throttling itself, within the API's time (``chalicelib/handlers``).
    """
    machine, name = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)
    try:
        clients("stepfunctions").start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        cause = error.response.get("Error", {}).get("Message", str(error))[:500]
        hub_records.transition(clients("dynamodb"), settings.hub_table_name, hub, None, "FAILED",
                               seen_also={"execution_arn": execution}, execution_arn=None,
                               error={"step": FIRST_STEP[workflow], "error": code, "cause": cause})
        _announce_refusal(clients, settings, hub, workflow, code, cause, request)
        raise ApiError(503, "WorkflowNotStarted", f"the {workflow} workflow could not be started ({cause}); "
                       f"POST /hubs/{hub}/retry to try again") from None


def _announce_refusal(clients: Clients, settings: Settings, hub: str, workflow: str, code: str, cause: str,
                      request: dict) -> None:
    """Say on the hub's channel that its run was not started; a message Slack does not take is logged only (the
    API's 503 says it too)."""
    text = (f"The {workflow} workflow of {hub} was not started: Step Functions refused it ({code}: {cause}). "
            f"Nothing runs; POST /hubs/{hub}/retry to try again.")
    secret = request.get("slack_webhook_secret_arn") or settings.slack_webhook_secret_arn
    blocks = slack_blocks.build(text, hub_id=hub, workflow=workflow, step=FIRST_STEP[workflow], outcome="failed")
    try:
        slack.send(clients("secretsmanager"), secret, text, blocks,
                   timeout=min(settings.slack_timeout_seconds, SLACK_TIMEOUT_SECONDS))
    except (ClientError, SecretUnavailable, SlackPostFailed) as error:
        logger.warning("refused start not announced", extra={"hub_id": hub, "cause": str(error)[:300]})


def run_end(sfn: Any, record: dict, now: datetime) -> dict | None:
    """How the run the hub record names ended (``status``, ``error``, ``cause``), or None while it runs.

    Step Functions is asked (DescribeExecution), not the record, whose end may never have been written. A run
    whose execution does not exist never started, once the claim is older than ``START_GRACE_SECONDS``.
    """
    execution = record.get("execution_arn")
    described = None
    if execution:
        try:
            described = sfn.describe_execution(executionArn=execution)
        except sfn.exceptions.ExecutionDoesNotExist:
            pass
    if described is not None:
        if described["status"] in RUNNING:
            return None
        return {"status": described["status"], "error": described.get("error") or described["status"],
                "cause": (described.get("cause") or "")[:500]}
    claimed = datetime.fromisoformat(record.get("updated_at") or record.get("created_at") or now.isoformat())
    if (now - claimed).total_seconds() < START_GRACE_SECONDS:
        return None
    return {"status": "NOT_STARTED", "error": "ExecutionDoesNotExist",
            "cause": f"execution {execution.rsplit(':', 1)[-1] if execution else '(none)'} was never started"}


def stop(sfn: Any, execution: str, reason: str) -> None:
    """Stop a run (a provisioning the hub's teardown replaces); one that is gone is already stopped."""
    try:
        sfn.stop_execution(executionArn=execution, error="HubRetired", cause=reason[:200])
    except sfn.exceptions.ExecutionDoesNotExist:
        pass


def once_per_key(dynamodb: Any, table_name: str, key: str, body: dict, run: Callable[[], tuple[int, dict]],
                 lambda_context: Any = None) -> tuple[int, str]:
    """Run ``run`` once per key (Powertools idempotency) and return its status and hub id; a repeat gets the first
    answer's; a concurrent repeat is 409; the same key with another body 422."""
    from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer, IdempotencyConfig,
                                                             idempotent_function)
    from aws_lambda_powertools.utilities.idempotency.exceptions import (IdempotencyAlreadyInProgressError,
                                                                        IdempotencyValidationError)

    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb)
    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body",
                               expires_after_seconds=IDEMPOTENCY_HOURS * 3600)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # an interrupted request's key frees when the Lambda times out

    @idempotent_function(data_keyword_argument="call", persistence_store=store, config=config)
    def once(call: dict) -> dict:
        status, answer = run()
        return {"status": status, "body": answer}

    try:
        result = once(call={"key": key, "body": body})
    except IdempotencyAlreadyInProgressError:
        raise ApiError(409, "RequestInProgress", "a request with this Idempotency-Key is still being processed; "
                       "retry in a moment", "Idempotency-Key") from None
    except IdempotencyValidationError:
        raise ApiError(422, "IdempotencyKeyReused", "this Idempotency-Key was used with a different body",
                       "Idempotency-Key") from None
    return result["status"], result["body"]["hub_id"]
