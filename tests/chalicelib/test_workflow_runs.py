"""Workflow runs from the API: claiming a hub, a start Step Functions refuses, and whether a hub's run is gone."""
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from chalicelib import hub_records, slack, workflow_runs
from chalicelib.api_errors import ApiError
from chalicelib.errors import SlackPostFailed
from tests.chalicelib.conftest import HUB

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-provision"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


class ExecutionDoesNotExist(Exception):
    pass


class FakeStepFunctions:
    """DescribeExecution and StartExecution answered from ``executions`` (ARN -> description) or ``refusal``."""

    class exceptions:
        ExecutionDoesNotExist = ExecutionDoesNotExist

    def __init__(self, executions=None, refusal=None):
        self.executions, self.refusal, self.started = executions or {}, refusal, []

    def describe_execution(self, executionArn):
        if executionArn not in self.executions:
            raise ExecutionDoesNotExist(executionArn)
        return self.executions[executionArn]

    def start_execution(self, stateMachineArn, name, input):
        if self.refusal:
            raise ClientError({"Error": {"Code": self.refusal, "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "StartExecution")
        self.started.append(f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}")
        return {"executionArn": self.started[-1]}


def claimed(updated_at=NOW - timedelta(minutes=5), **fields):
    return {"hub_id": HUB, "status": "PROVISIONING", "execution_arn": f"{MACHINE}:run-1".replace(
        ":stateMachine:", ":execution:"), "updated_at": updated_at.isoformat(), **fields}


@pytest.mark.parametrize("status", ["RUNNING", "PENDING_REDRIVE"])
def test_a_run_that_is_not_over_has_no_end(status):
    record = claimed()
    sfn = FakeStepFunctions({record["execution_arn"]: {"status": status}})
    assert workflow_runs.run_end(sfn, record, NOW) is None


@pytest.mark.parametrize("status, error, cause", [("FAILED", "FailureNotRecorded", "denied"),
                                                  ("ABORTED", None, None), ("TIMED_OUT", None, None)])
def test_a_run_that_ended_is_gone_with_its_error_and_cause(status, error, cause):
    record = claimed()
    sfn = FakeStepFunctions({record["execution_arn"]: {"status": status, "error": error, "cause": cause}})
    assert workflow_runs.run_end(sfn, record, NOW) == {"status": status, "error": error or status,
                                                       "cause": cause or ""}


def test_a_run_that_never_started_is_gone_once_its_claim_is_older_than_any_api_request():
    sfn = FakeStepFunctions()
    starting = claimed(updated_at=NOW - timedelta(seconds=workflow_runs.START_GRACE_SECONDS - 1))
    assert workflow_runs.run_end(sfn, starting, NOW) is None  # the request that claimed it may still start it
    never = workflow_runs.run_end(sfn, claimed(), NOW)
    assert never["status"] == "NOT_STARTED" and "run-1 was never started" in never["cause"]
    assert workflow_runs.run_end(sfn, claimed(execution_arn=None), NOW)["status"] == "NOT_STARTED"


def test_a_claim_names_the_run_it_replaces_so_two_requests_cannot_both_take_a_gone_run(dynamodb, settings, hub):
    table, record = settings.hub_table_name, claimed()
    hub_records.update(dynamodb, table, HUB, execution_arn=record["execution_arn"])
    first = workflow_runs.claim(dynamodb, table, HUB, "PROVISIONING", "RETIRING", "teardown", "run-2",
                                record["execution_arn"])
    second = workflow_runs.claim(dynamodb, table, HUB, "PROVISIONING", "RETIRING", "teardown", "run-3",
                                 record["execution_arn"])
    again = workflow_runs.claim(dynamodb, table, HUB, "RETIRING", "RETIRING", "teardown", "run-4",
                                record["execution_arn"])  # same status, but the run it saw is no longer named
    assert (first, second, again) == (True, False, False)
    assert hub_records.get(dynamodb, table, HUB)["execution_arn"] == "run-2"


@pytest.fixture
def announced(monkeypatch):
    posts = []
    monkeypatch.setattr(slack, "send", lambda _sm, secret, text, blocks, timeout: posts.append(
        {"secret": secret, "text": text, "blocks": blocks, "timeout": timeout}))
    return posts


def test_a_refused_start_leaves_the_hub_failed_naming_no_execution_and_says_so_on_slack(dynamodb, settings, hub,
                                                                                        request_data, announced):
    execution = workflow_runs.execution_arn(MACHINE, HUB)
    workflow_runs.claim(dynamodb, settings.hub_table_name, HUB, "PROVISIONING", "PROVISIONING", "provision",
                        execution)
    sfn = FakeStepFunctions(refusal="ThrottlingException")
    clients = {"dynamodb": dynamodb, "stepfunctions": sfn, "secretsmanager": None}.get
    with pytest.raises(ApiError) as refused:
        workflow_runs.start(clients, settings, HUB, "provision", execution, {"hub_id": HUB}, request_data)
    assert (refused.value.status, refused.value.code) == (503, "WorkflowNotStarted")
    record = hub_records.get(dynamodb, settings.hub_table_name, HUB)
    assert record["status"] == "FAILED" and record["execution_arn"] is None
    assert record["error"] == {"step": "Start provisioning", "error": "ThrottlingException", "cause": "Rate exceeded"}
    (post,) = announced
    assert post["secret"] == request_data["slack_webhook_secret_arn"] and post["timeout"] <= 5
    assert post["text"].startswith(f"The provision workflow of {HUB} was not started")
    assert "ThrottlingException: Rate exceeded" in post["text"] and f"POST /hubs/{HUB}/retry" in post["text"]
    assert sfn.started == []


def test_a_refused_start_slack_does_not_take_still_answers_503(dynamodb, settings, hub, request_data, monkeypatch):
    def unreachable(*args, **kwargs):
        raise SlackPostFailed("Slack answered HTTP 500")

    monkeypatch.setattr(slack, "send", unreachable)
    execution = workflow_runs.execution_arn(MACHINE, HUB)
    hub_records.update(dynamodb, settings.hub_table_name, HUB, execution_arn=execution)
    clients = {"dynamodb": dynamodb, "stepfunctions": FakeStepFunctions(refusal="AccessDeniedException"),
               "secretsmanager": None}.get
    with pytest.raises(ApiError, match="could not be started"):
        workflow_runs.start(clients, settings, HUB, "teardown", execution, {"hub_id": HUB}, request_data)
    assert hub_records.get(dynamodb, settings.hub_table_name, HUB)["error"]["step"] == "Start the teardown"


def test_a_refusal_of_a_run_another_request_replaced_leaves_that_request_s_record(dynamodb, settings, hub,
                                                                                 request_data, announced):
    hub_records.update(dynamodb, settings.hub_table_name, HUB, execution_arn="a later run")
    clients = {"dynamodb": dynamodb, "stepfunctions": FakeStepFunctions(refusal="ThrottlingException"),
               "secretsmanager": None}.get
    with pytest.raises(ApiError):
        workflow_runs.start(clients, settings, HUB, "provision", workflow_runs.execution_arn(MACHINE, HUB),
                            {"hub_id": HUB}, request_data)
    record = hub_records.get(dynamodb, settings.hub_table_name, HUB)
    assert (record["status"], record["execution_arn"]) == ("PROVISIONING", "a later run")
