"""What every workflow step shares: the event's shape, the stored request, progress on the hub record, cluster access.

A Task's input carries ``hub_id``, ``request`` (as the first step accepted it)
and ``step`` (the state's name, ``$$.State.Name``), plus earlier results.
Every Task function is written one way, as a ``@step``: it returns
``done(result, detail)``, and the decorator records the step on the hub record
and logs what it did with ``hub_id`` and ``step`` as keys.
"""
from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable, NamedTuple

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from chalicelib import aws_retry, hub_names, hub_records
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

# The same Logger as app.py's: Powertools returns one logger per service name (POWERTOOLS_SERVICE_NAME).
logger = Logger()


def hub_id_of(event: Any) -> str:
    """The event's hub id; InvalidEvent naming the field if there is none or it is malformed."""
    hub_id = event.get("hub_id") if isinstance(event, dict) else None
    if not isinstance(hub_id, str) or not hub_records.HUB_ID.fullmatch(hub_id):
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


def names(request: HubRequest, cluster: str) -> dict:
    """What the workflows pass on of a hub (``$.hub``): course, cluster and public host names.

    Every Task after the first is given ``cluster`` from here (``"cluster.$": "$.hub.cluster"``): the name
    recorded for the hub, which for a hub older than the stage in cluster names is not the derived one.
    """
    return {"cluster": cluster, "binder": request.binder, "hub": request.hub, "course": request.course_id}


def cluster_of(event: dict, settings: Settings) -> str:
    """The hub's cluster: as the workflow passes it, else (a Task run on its own) the stage's name for the course."""
    given = event.get("cluster")
    if isinstance(given, str) and given:
        return given
    return hub_names.cluster_name(settings.stage, request_of(event).course_id)


def tags_of(event: dict, settings: Settings) -> dict[str, str]:
    """The tags of every AWS resource of the event's hub."""
    return hub_names.tags(settings.stage, hub_id_of(event), request_of(event).course_id)


class Outcome(NamedTuple):
    """What a step function hands back to ``@step``: the Task's result and what the step did."""

    result: Any
    detail: str
    finished: bool


def done(result: Any, detail: str = "") -> Outcome:
    """The step succeeded: ``result`` goes to the state machine, ``detail`` to the hub record and the log."""
    return Outcome(result, detail, True)


def unfinished(result: Any, detail: str) -> Outcome:
    """The step returns ``result`` but stays RUNNING on the hub record (someone else completes its work)."""
    return Outcome(result, detail, False)


def step(function: Callable[..., Outcome] | None = None, *, recorded: bool = True) -> Callable:
    """Make ``function`` a workflow step; it takes ``dynamodb``, ``settings`` and ``event`` and returns an Outcome.

    The step's log lines carry ``hub_id`` and ``step`` (the state's name), and it logs one line saying what it
    did, or the error it raised. A ``recorded`` step must be given the hub id and request: it is recorded as
    running on the hub record before it runs (its first start is kept across polls) and as SUCCEEDED with
    its detail when it returns ``done``; an error leaves it running for ``record_failure``. Steps that write
    the hub's status themselves (the first and last of a workflow, the failure) are not ``recorded``.
    """
    if function is None:
        return functools.partial(step, recorded=recorded)
    signature = inspect.signature(function)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        given = signature.bind(*args, **kwargs).arguments
        event = given["event"]
        if recorded:
            checked(event)
        keys = _log_keys(event, function, recorded)
        logger.thread_safe_append_keys(**keys)  # the local stack runs Lambdas in threads of one process
        try:
            if recorded:
                hub_records.step_started(given["dynamodb"], given["settings"].hub_table_name, keys["hub_id"],
                                         keys["step"])
            try:
                outcome = function(*args, **kwargs)
            except Exception as error:
                logger.info("step did not finish", extra={"error": type(error).__name__,
                                                         "cause": str(error)[:500]})
                raise
            if not isinstance(outcome, Outcome):
                raise TypeError(f"step {function.__qualname__} must return steps.done(...) or steps.unfinished(...)")
            if recorded and outcome.finished:
                hub_records.step_finished(given["dynamodb"], given["settings"].hub_table_name, keys["hub_id"],
                                          keys["step"], "SUCCEEDED", outcome.detail)
            logger.info(f"step {'finished' if outcome.finished else 'left running'}: {outcome.detail or 'done'}")
            return outcome.result
        finally:
            logger.thread_safe_remove_keys(keys)

    return run


def _log_keys(event: Any, function: Callable, recorded: bool) -> dict:
    """``hub_id`` and ``step`` for the log: the state's name, or for a Task not given it, the function's."""
    hub_id = event.get("hub_id") if isinstance(event, dict) else None
    named = event.get("step") if isinstance(event, dict) else None
    fallback = "unnamed step" if recorded else f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"
    return {"hub_id": hub_id if isinstance(hub_id, str) else None, "step": named or fallback}


def kube(clients: Any, settings: Settings, cluster: str):
    """A helm/kubectl session on the hub's cluster."""
    from chalicelib.kube_session import cluster_session

    return cluster_session(clients("eks"), clients("sts"), cluster, bin_dir=settings.tools_dir,
                           timeout=settings.kube_timeout_seconds)


# The state a run that failed before any recorded step is said to have failed at: each workflow's first.
FIRST_STATES = {"provision": "Record the hub", "teardown": "Record the hub as retiring"}
FAILURE_STATE = "Record the failure"  # each workflow's failure path (coursehub/task_errors.py catches into it)


@step(recorded=False)
def record_failure(dynamodb: Any, sfn: Any, settings: Settings, event: dict) -> Outcome:
    """Record FAILED with the step that failed and the cause; returns what Slack should say, and where.

    The step is the state the run's history shows failing (a Task that records no step, such as a Slack
    announcement, included), else the last step the record saw start.

    A hub without a record (its request was refused by the first step) is only announced, on the stage's channel.
    A record DynamoDB refuses to read or write (access denied, say) is announced all the same, with the original
    cause and ``record_note`` saying so: the API finds the run's end from Step Functions.
    """
    error = nested_failure(event.get("error") or {})
    cause = cause_text(error)
    summary = {"error": error.get("Error", "States.Unknown"), "cause": cause, "record_note": ""}
    first = FIRST_STATES.get(event.get("workflow"), FIRST_STATES["provision"])
    secret = settings.slack_webhook_secret_arn
    execution = event.get("execution") if isinstance(event.get("execution"), str) else None
    in_history = _failed_state(sfn, execution)
    failed = in_history or first
    try:
        record = hub_records.get(dynamodb, settings.hub_table_name, event["hub_id"])
        secret = record["request"].get("slack_webhook_secret_arn") or secret
        ours = execution is None or record.get("execution_arn") == execution  # else its first step never wrote
        if not ours and record.get("status") in ("PROVISIONING", "RETIRING"):  # another run owns the record now
            owner = str(record.get("execution_arn")).rsplit(":", 1)[-1]
            return done({**summary, "step": failed, "slack_secret_arn": secret,
                         "record_note": f" Run {owner} owns the hub record now; it is left as it is."},
                        f"not recorded: run {owner} owns the hub record")
        if ours and not in_history:
            failed = record.get("current_step") or FIRST_STATES.get(record.get("workflow"), first)
        run = {} if ours else {"workflow": event.get("workflow"), "execution_arn": execution, "current_step": failed,
                               "steps": {failed: {"started_at": hub_records.now(), "ended_at": hub_records.now(),
                                                  "outcome": "FAILED", "detail": cause[:1000]}}}
        hub_records.fail(dynamodb, settings.hub_table_name, event["hub_id"], failed,
                         {"step": failed, "error": error.get("Error", ""), "cause": cause},
                         step_started=ours and failed in (record.get("steps") or {}), **run)
    except hub_records.HubNotFound:
        return done({**summary, "step": failed, "slack_secret_arn": settings.slack_webhook_secret_arn},
                    f"no hub record; {summary['error']} at the first step is only announced")
    except ClientError as refused:
        if aws_retry.transient(refused):
            raise  # worth another try: the Task's Retry
        found = refused.response.get("Error", {})
        note = (f" The hub record could not be updated ({found.get('Code', 'error')}: "
                f"{str(found.get('Message', ''))[:200]}); the API finds the run's end from Step Functions.")
        return done({**summary, "step": failed, "slack_secret_arn": secret, "record_note": note},
                    f"FAILED at {failed!r} not recorded: {found.get('Code')}")
    return done({**summary, "step": failed, "slack_secret_arn": secret},
                f"recorded FAILED at {failed!r}: {summary['error']}")


def _failed_state(sfn: Any, execution: str | None) -> str | None:
    """The failing state from the run's history; None without a run or when the history cannot be read for good."""
    if execution is None:
        return None
    from chalicelib.execution_history import failed_state

    try:
        return failed_state(sfn, execution, skip=FAILURE_STATE)
    except ClientError as refused:
        if aws_retry.transient(refused):
            raise  # worth another try: the Task's Retry
        logger.warning("the run's history could not be read; the step is the record's",
                       extra={"cause": str(refused)[:300]})
        return None


def nested_failure(error: dict) -> dict:
    """A failed child run's own error and cause: a Task that runs another workflow and waits for it (``.sync``)
    fails with States.TaskFailed and the child's DescribeExecution, in PascalCase, as the cause
    (https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html)."""
    try:
        child = json.loads(error.get("Cause") or "")
    except ValueError:
        return error
    ended = ("FAILED", "TIMED_OUT", "ABORTED")
    if isinstance(child, dict) and "ExecutionArn" in child and child.get("Status") in ended:
        return {"Error": child.get("Error") or child["Status"], "Cause": child.get("Cause") or child["Status"]}
    return error


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
