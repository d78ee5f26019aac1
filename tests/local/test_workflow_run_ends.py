"""Every way a run ends leaves a hub the API can act on, with its cause on the record and on Slack.

From outside, as a user meets it: signed API calls over HTTP, AWS faults injected per operation on the stack.
"""
import json
import uuid

import pytest

from chalicelib import hub_names
from coursehub.api_client import ApiClient
from tests.conftest import eventually
from test_hub_api_over_http import executions, settled, until
from test_provision_workflow import hub_request, report_delivered

DENIED = {"code": "AccessDeniedException", "status": 400}


@pytest.fixture(scope="module")
def api(stack):
    return ApiClient.local(stack.details())


@pytest.fixture(autouse=True)
def no_faults_left(stack):
    yield
    stack.faults.clear()


def ended(stack, execution_arn, timeout=120):
    """The run once it is over, and once its end has reached report_execution_end."""
    sfn = stack.client("stepfunctions")
    described = eventually(lambda: (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING"
                           and d, timeout=timeout)
    report_delivered(stack, execution_arn)
    return described


def slack_about(stack, hub_id, before):
    return [t for t in stack.slack.texts()[before:] if hub_id in t]


def retired_clean(stack, api, hub_id, course):
    retired = until(api, hub_id, settled, timeout=180)
    assert retired["status"] == "RETIRED" and retired["audit"]["clean"], retired
    assert hub_names.cluster_name(stack.config.stage, course) not in stack.client("eks").list_clusters()["clusters"]
    scheduler = stack.client("scheduler")
    assert scheduler.list_schedules(GroupName=stack.seeded.schedule_group, NamePrefix=hub_id)["Schedules"] == []
    return retired


def test_a_provisioning_whose_record_cannot_be_written_is_announced_and_can_be_retried_and_retired(stack, api):
    course = f"w{uuid.uuid4().hex[:6]}"
    hub_id, before = f"hub-{course}", len(stack.slack.messages())
    stack.faults.inject("dynamodb", "UpdateItem", times=20, message="not authorized to perform dynamodb:UpdateItem",
                        **DENIED)
    created = api.create(hub_request(stack, course))  # PutItem: the API records the hub
    assert created.status == 202
    run = ended(stack, created.body["execution_arn"])
    assert run["status"] == "FAILED"
    (failure,) = [t for t in slack_about(stack, hub_id, before) if "failed at step" in t]
    assert f'Provisioning {hub_id} failed at step "Record the hub"' in failure
    assert "AccessDeniedException" in failure and "The hub record could not be updated" in failure
    stuck = api.get(hub_id).body
    assert stuck["status"] == "PROVISIONING"  # nothing could write it otherwise
    stack.faults.clear()

    retried = api.retry(hub_id)  # the run the record names is over: the hub counts as FAILED
    assert retried.status == 202 and retried.body["status"] == "PROVISIONING"
    assert retried.body["execution_arn"] != created.body["execution_arn"]
    assert len(executions(stack, hub_id)) == 2
    eventually(lambda: api.get(hub_id).body["current_step"] is not None, timeout=60)  # the new run writes the record
    retiring = api.retire(hub_id)  # stops that provisioning and tears down what it made
    assert retiring.status == 202 and retiring.body["workflow"] == "teardown"
    retired_clean(stack, api, hub_id, course)


def test_a_teardown_whose_record_cannot_be_written_is_announced_and_deleting_again_starts_a_new_one(stack, api):
    course = f"x{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    api.create(hub_request(stack, course))
    assert until(api, hub_id, settled)["status"] == "READY"
    before = len(stack.slack.messages())
    retiring = api.retire(hub_id)
    assert retiring.status == 202
    stack.faults.inject("dynamodb", "UpdateItem", times=20, message="not authorized to perform dynamodb:UpdateItem",
                        **DENIED)
    dead = retiring.body["execution_arn"]
    assert ended(stack, dead)["status"] == "FAILED"
    (failure,) = [t for t in slack_about(stack, hub_id, before) if "failed at step" in t]
    assert f"Retiring {hub_id} failed at step" in failure
    assert "AccessDeniedException" in failure and "The hub record could not be updated" in failure
    assert api.get(hub_id).body["status"] == "RETIRING"
    assert stack.client("eks").describe_cluster(name=hub_names.cluster_name(stack.config.stage, course))["cluster"]["status"] == "ACTIVE"
    stack.faults.clear()

    again = api.retire(hub_id)  # the teardown the record names is over: a new one, never the dead one
    assert again.status == 202 and again.body["execution_arn"] != dead
    sfn = stack.client("stepfunctions")
    assert sfn.describe_execution(executionArn=again.body["execution_arn"])["status"] in ("RUNNING", "SUCCEEDED")
    assert api.retire(hub_id).body["execution_arn"] == again.body["execution_arn"]  # that one is running
    assert len(executions(stack, hub_id, "teardown")) == 2
    retired_clean(stack, api, hub_id, course)


def test_a_failure_before_any_step_started_keeps_its_own_cause_on_the_record_and_slack(stack, api):
    course = f"y{uuid.uuid4().hex[:6]}"
    hub_id, before = f"hub-{course}", len(stack.slack.messages())
    stack.faults.inject("secretsmanager", "GetSecretValue", times=1,
                        message="not authorized to perform secretsmanager:GetSecretValue", **DENIED)
    created = api.create(hub_request(stack, course))  # the start's announcement is the first to read a secret
    run = ended(stack, created.body["execution_arn"])
    assert (run["status"], run["error"]) == ("FAILED", "ProvisioningFailed")  # not FailureNotRecorded
    failed = api.get(hub_id).body
    assert failed["status"] == "FAILED" and failed["error"]["step"] == "Announce the start on Slack"  # the history's
    assert "AccessDeniedException" in failed["error"]["cause"] and "GetSecretValue" in failed["error"]["cause"]
    (failure,) = [t for t in slack_about(stack, hub_id, before) if "failed at step" in t]
    assert "GetSecretValue" in failure and "AccessDeniedException" in failure
    assert "UpdateItem" not in failure + json.dumps(failed) and "could not be updated" not in failure

    assert api.retry(hub_id).status == 202
    eventually(lambda: api.get(hub_id).body["current_step"] is not None, timeout=60)
    assert api.retire(hub_id).status == 202
    retired_clean(stack, api, hub_id, course)


def test_a_throttled_start_is_retried_and_a_refused_one_is_announced_and_names_no_execution(stack, api):
    course = f"z{uuid.uuid4().hex[:6]}"
    hub_id, before = f"hub-{course}", len(stack.slack.messages())
    throttled = stack.faults.inject("stepfunctions", "StartExecution", times=3, code="ThrottlingException",
                                    status=400)
    created = api.create(hub_request(stack, course))  # three throttles need no manual retry
    assert created.status == 202 and throttled.remaining == 0
    assert [e["executionArn"] for e in executions(stack, hub_id)] == [created.body["execution_arn"]]
    stack.faults.inject("eks", "CreateCluster", times=1, message="not authorized to perform eks:CreateCluster",
                        code="AccessDeniedException", status=403)
    assert until(api, hub_id, settled)["status"] == "FAILED"

    stack.faults.inject("stepfunctions", "StartExecution", times=1, message="not authorized to start", **DENIED)
    refused = api.call("POST", f"/hubs/{hub_id}/retry", check=False)
    assert (refused.status, refused.body["code"]) == (503, "WorkflowNotStarted")
    record = api.get(hub_id).body
    assert record["status"] == "FAILED" and record["execution_arn"] is None  # never one that does not exist
    assert record["error"] == {"step": "Start provisioning", "error": "AccessDeniedException",
                               "cause": "not authorized to start"}
    (announced,) = [t for t in slack_about(stack, hub_id, before) if "was not started" in t]
    assert "AccessDeniedException: not authorized to start" in announced and f"/hubs/{hub_id}/retry" in announced
    assert len(executions(stack, hub_id)) == 1

    retiring = api.retire(hub_id)
    assert retiring.status == 202 and retiring.body["execution_arn"]
    retired_clean(stack, api, hub_id, course)
