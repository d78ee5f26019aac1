"""The API's workflow runs: a new hub's record, claiming a hub for a run, starting and stopping executions, and
running a request once per Idempotency-Key.

A run's execution is named before it starts (``execution_arn``), so the hub
record names its run from the moment it is claimed.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from botocore.exceptions import ClientError

from chalicelib import hub_records
from chalicelib.api_errors import ApiError

if TYPE_CHECKING:
    from chalicelib.hub_request import HubRequest

Clients = Callable[[str], Any]
IDEMPOTENCY_HOURS = 24
FIRST_STEP = {"provision": "Start provisioning", "teardown": "Start the teardown"}


def execution_arn(state_machine_arn: str, hub: str) -> str:
    """The ARN the hub's next run of ``state_machine_arn`` will have."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{hub}-{stamp}-{uuid.uuid4().hex[:6]}"  # at most 48 + 23 characters, within the 80 allowed
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def record_new_hub(dynamodb: Any, table: str, hub: str, request: HubRequest, execution: str, caller: str) -> bool:
    """Record the course's new hub as PROVISIONING by ``execution``, holding its public names; False if the course
    has a live hub already; 409 naming the hub that holds a name if another live hub does (nothing written)."""
    names = request.public_names
    try:
        hub_records.create(dynamodb, table, hub, request.model_dump(mode="json"), tuple(names),
                           workflow="provision", execution_arn=execution, created_by=caller)
    except hub_records.HubAlreadyExists:
        return False
    except hub_records.NameTaken as taken:
        raise ApiError(409, "NameTaken", str(taken), names[taken.name],
                       hub_id=taken.holder, hub_status=taken.status) from None
    except hub_records.NamesBusy as busy:
        raise ApiError(409, "NameBusy", str(busy), "domain") from None
    return True


def claim(dynamodb: Any, table: str, hub: str, seen: str, status: str, workflow: str, execution: str) -> bool:
    """Move the hub from ``seen`` to ``status`` for a new run; False if another request changed it first."""
    return hub_records.transition(dynamodb, table, hub, seen, status, workflow=workflow, execution_arn=execution,
                                  error=None, steps={}, current_step=None)


def start(clients: Clients, table: str, hub: str, workflow: str, execution: str, payload: dict) -> None:
    """Start the run named by ``execution``; if AWS refuses, the hub is FAILED with the reason (and 503)."""
    machine, name = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)
    try:
        clients("stepfunctions").start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError as error:
        cause = error.response.get("Error", {}).get("Message", str(error))[:500]
        hub_records.set_status(clients("dynamodb"), table, hub, "FAILED",
                               error={"step": FIRST_STEP[workflow], "error": error.response["Error"]["Code"],
                                      "cause": cause})
        raise ApiError(503, "WorkflowNotStarted", f"the {workflow} workflow could not be started ({cause}); "
                       f"POST /hubs/{hub}/retry to try again") from None


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
