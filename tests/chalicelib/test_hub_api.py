"""The API's retry and retire of hubs whose run is gone: counted FAILED by Step Functions, not by the record."""
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import hub_api, hub_records
from chalicelib.api_errors import ApiError
from tests.chalicelib.conftest import HUB
from tests.chalicelib.test_workflow_runs import FakeStepFunctions

NOW = datetime.now(timezone.utc) + timedelta(minutes=5)  # the claims of these tests are older than any request
DEAD = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:hub-cs101-dead"


@pytest.fixture
def api_settings(settings):
    return dataclasses.replace(settings, provision_state_machine_arn=DEAD.rsplit(":", 1)[0].replace(
        ":execution:", ":stateMachine:"))


def stuck(dynamodb, settings, status, workflow="provision"):
    hub_records.update(dynamodb, settings.hub_table_name, HUB, status=status, workflow=workflow, execution_arn=DEAD)


def clients_with(dynamodb, sfn):
    return {"dynamodb": dynamodb, "stepfunctions": sfn}.get


@pytest.mark.parametrize("status, workflow", [("PROVISIONING", "provision"), ("RETIRING", "teardown")])
@pytest.mark.parametrize("end", ["FAILED", "ABORTED", "TIMED_OUT", None])
def test_a_hub_whose_run_is_gone_can_be_retried(dynamodb, api_settings, hub, status, workflow, end):
    stuck(dynamodb, api_settings, status, workflow)
    sfn = FakeStepFunctions({DEAD: {"status": end}} if end else {})  # None: never started
    answer_status, body = hub_api.retry(clients_with(dynamodb, sfn), api_settings, HUB, "me", NOW)
    assert answer_status == 202 and body["execution_arn"] == sfn.started[-1] != DEAD
    assert body["status"] == ("PROVISIONING" if workflow == "provision" else "RETIRING")
    assert len(sfn.started) == 1


@pytest.mark.parametrize("status", ["PROVISIONING", "RETIRING", "READY"])
def test_a_hub_whose_run_is_going_or_that_is_ready_is_not_retried(dynamodb, api_settings, hub, status):
    stuck(dynamodb, api_settings, status)
    sfn = FakeStepFunctions({DEAD: {"status": "RUNNING"}})
    with pytest.raises(ApiError) as refused:
        hub_api.retry(clients_with(dynamodb, sfn), api_settings, HUB, "me", NOW)
    assert (refused.value.status, refused.value.code) == (409, "HubNotFailed") and sfn.started == []


def test_deleting_a_retiring_hub_whose_teardown_is_gone_starts_a_new_one(dynamodb, api_settings, hub):
    stuck(dynamodb, api_settings, "RETIRING", "teardown")
    sfn = FakeStepFunctions({DEAD: {"status": "FAILED", "error": "FailureNotRecorded"}})
    status, body = hub_api.retire(clients_with(dynamodb, sfn), api_settings, HUB, "me", NOW)
    assert status == 202 and body["execution_arn"] == sfn.started[-1] != DEAD


def test_deleting_a_retiring_hub_whose_teardown_runs_returns_that_teardown(dynamodb, api_settings, hub):
    stuck(dynamodb, api_settings, "RETIRING", "teardown")
    sfn = FakeStepFunctions({DEAD: {"status": "RUNNING"}})
    status, body = hub_api.retire(clients_with(dynamodb, sfn), api_settings, HUB, "me", NOW)
    assert (status, body["execution_arn"], sfn.started) == (202, DEAD, [])


def test_deleting_a_provisioning_hub_whose_run_is_gone_stops_nothing(dynamodb, api_settings, hub):
    stuck(dynamodb, api_settings, "PROVISIONING")

    class NotStopping(FakeStepFunctions):
        def stop_execution(self, **kwargs):
            raise AssertionError("a run that is over is left as it ended")

    sfn = NotStopping({DEAD: {"status": "FAILED"}})
    status, body = hub_api.retire(clients_with(dynamodb, sfn), api_settings, HUB, "me", NOW)
    assert status == 202 and body["workflow"] == "teardown" and len(sfn.started) == 1


CHECKS = "arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-launch-check"


@pytest.fixture
def check_settings(api_settings):
    return dataclasses.replace(api_settings, launch_check_state_machine_arn=CHECKS)


def test_a_ready_hub_is_checked_once_while_its_check_runs(dynamodb, check_settings, hub):
    hub_records.set_status(dynamodb, check_settings.hub_table_name, HUB, "READY")
    sfn = FakeStepFunctions()
    status, body = hub_api.check(clients_with(dynamodb, sfn), check_settings, HUB, "me", NOW)
    (started,) = sfn.started
    assert status == 202 and body["launch_check"]["status"] == "RUNNING"
    assert body["launch_check"]["purpose"] == "on demand" and body["launch_check"]["execution_arn"] == started
    sfn.executions[started] = {"status": "RUNNING"}
    assert hub_api.check(clients_with(dynamodb, sfn), check_settings, HUB, "me", NOW)[1]["launch_check"] == \
        body["launch_check"]
    assert len(sfn.started) == 1
    sfn.executions[started] = {"status": "ABORTED"}  # a check whose run was stopped does not block the next
    assert hub_api.check(clients_with(dynamodb, sfn), check_settings, HUB, "me", NOW)[0] == 202
    assert len(sfn.started) == 2


@pytest.mark.parametrize("status", ["PROVISIONING", "FAILED", "RETIRING", "RETIRED"])
def test_only_a_ready_hub_is_checked(dynamodb, check_settings, hub, status):
    hub_records.set_status(dynamodb, check_settings.hub_table_name, HUB, status)
    sfn = FakeStepFunctions()
    with pytest.raises(ApiError) as refused:
        hub_api.check(clients_with(dynamodb, sfn), check_settings, HUB, "me", NOW)
    assert (refused.value.status, refused.value.code, refused.value.extra) == (409, "HubNotReady",
                                                                               {"hub_status": status})
    assert sfn.started == []


def test_a_check_step_functions_refuses_is_a_503_and_recorded(dynamodb, check_settings, hub):
    hub_records.set_status(dynamodb, check_settings.hub_table_name, HUB, "READY")
    with pytest.raises(ApiError) as refused:
        hub_api.check(clients_with(dynamodb, FakeStepFunctions(refusal="ExecutionLimitExceeded")), check_settings,
                      HUB, "me", NOW)
    assert (refused.value.status, refused.value.code) == (503, "CheckNotStarted")
    check = hub_records.get(dynamodb, check_settings.hub_table_name, HUB)["launch_check"]
    assert check["status"] == "FAILED" and "ExecutionLimitExceeded" in check["cause"]
