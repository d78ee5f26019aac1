"""The launch check's record of its end, and what the steps keep of a server: never its token in the state."""
import json
from datetime import datetime, timezone

import pytest

from chalicelib import hub_records, jupyter_kernel, launch_check
from chalicelib.errors import InvalidEvent
from tests.chalicelib.conftest import HUB

NOW = datetime(2026, 12, 6, 9, 0, 30, tzinfo=timezone.utc)
LAMBDA_ERROR = {"Error": "LaunchFailed", "Cause": json.dumps({
    "errorMessage": "push: denied: requested access to the resource is denied / Failed to push image",
    "errorType": "LaunchFailed"})}


def test_a_passed_check_records_the_time_to_first_output_and_says_it(dynamodb, settings, hub, record):
    event = hub("Record the check", purpose="on demand", execution="arn:exec",
                launch={"started_at": "2026-12-06T09:00:00+00:00"},
                output={"output": "42\n", "time_to_first_output_seconds": 27.5})
    result = launch_check.record(dynamodb, settings, event, NOW)
    check = record()["launch_check"]
    assert check["status"] == "PASSED" and check["time_to_first_output_seconds"] == 27.5
    assert check["output"] == "42\n" and check["purpose"] == "on demand" and check["ended_at"] == NOW.isoformat()
    assert result["announce"] is True and result["outcome"] == "passed"
    assert "first output after 27.5 s" in result["text"]


def test_a_failed_check_names_the_phase_and_the_cause_from_the_error(dynamodb, settings, hub, record):
    result = launch_check.record(dynamodb, settings, hub("Record the failure", purpose="provisioning",
                                                         error=LAMBDA_ERROR), NOW)
    check = record()["launch_check"]
    assert (check["status"], check["phase"], check["error"]) == ("FAILED", "push", "LaunchFailed")
    assert check["cause"].startswith("denied: requested access")
    assert result["announce"] is False  # provisioning's own failure path announces it
    assert "failed at push: denied" in result["text"]


@pytest.mark.parametrize("reached, phase", [({}, "build"), ({"launch": {"check_phase": "push"}}, "push"),
                                            ({"launch": {"ready": True}}, "connect"), ({"kernel": {}}, "connect"),
                                            ({"kernel": {}, "cell": {}}, "execute")])
def test_a_failure_without_a_phase_takes_the_phase_the_checks_state_had_reached(dynamodb, settings, hub, record,
                                                                                reached, phase):
    launch_check.record(dynamodb, settings, hub("Record the failure", purpose="morning", error={
        "Error": "States.Timeout", "Cause": "the Task timed out"}, reached=reached), NOW)
    check = record()["launch_check"]
    assert (check["phase"], check["cause"]) == (phase, "the Task timed out")


def test_the_provisioning_check_marks_its_step_on_the_record(dynamodb, settings, hub, record):
    hub_records.step_started(dynamodb, settings.hub_table_name, HUB, launch_check.STEP)
    launch_check.record(dynamodb, settings, hub("Record the check", purpose="provisioning", launch={
        "started_at": "2026-12-06T09:00:00+00:00"}, output={"output": "42", "time_to_first_output_seconds": 3}), NOW)
    step = record()["steps"][launch_check.STEP]
    assert step["outcome"] == "SUCCEEDED" and step["detail"] == "first output after 3 s"


def test_an_unknown_purpose_is_refused_naming_the_field(hub):
    with pytest.raises(InvalidEvent, match="purpose"):
        launch_check.purpose_of(hub("Start the test build", purpose="weekly"))


def test_the_test_servers_token_lives_apart_from_the_hub_record(dynamodb, settings, hub, record):
    hub_records.put_test_server(dynamodb, settings.hub_table_name, HUB, {"url": "https://h/user/x/", "token": "t0k"})
    assert "t0k" not in json.dumps(record())
    assert hub_records.get_test_server(dynamodb, settings.hub_table_name, HUB)["token"] == "t0k"
    hub_records.delete_test_server(dynamodb, settings.hub_table_name, HUB)
    assert hub_records.get_test_server(dynamodb, settings.hub_table_name, HUB) is None


def test_a_cells_outcome_waits_for_its_reply_and_gathers_its_output():
    stream = {"msg_type": "stream", "text": "42\n"}
    assert jupyter_kernel.outcome([{"msg_type": "status", "execution_state": "busy"}, stream]) is None
    assert jupyter_kernel.outcome([stream, {"msg_type": "execute_reply", "status": "ok"}]) == {
        "status": "ok", "output": "42\n", "error": None}
    error = {"msg_type": "error", "text": "NameError: name 'x' is not defined"}
    assert jupyter_kernel.outcome([error, {"msg_type": "execute_reply", "status": "error", "text": "NameError: x"}])[
        "error"] == "NameError: name 'x' is not defined"


def test_the_kernels_websocket_is_the_servers_address_over_wss():
    assert jupyter_kernel.channels_url("https://hub.example.edu/user/a-b/", "k1", "s1") == \
        "wss://hub.example.edu/user/a-b/api/kernels/k1/channels?session_id=s1"
