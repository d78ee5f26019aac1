"""Runs that ended without their own failure report: which are reported, what the hub record and Slack get."""
import copy
import json

import pytest
from botocore.exceptions import ClientError

from chalicelib import execution_reports, hub_records
from chalicelib.errors import InvalidEvent
from chalicelib.settings import Settings
from coursehub import statemachines

STAGE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/dev/slack-webhook"
HUB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/cs101/slack"
SETTINGS = Settings(stage="dev", hub_table_name="hubs", slack_webhook_secret_arn=STAGE_SECRET)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-provision"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:run-2"


def event(status="ABORTED", error=None, cause=None, **detail):
    return {"version": "0", "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "detail": {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "name": "run-2", "status": status,
                       "startDate": 1, "stopDate": 2, "input": json.dumps({"hub_id": "hub-cs101", "request": {}}),
                       "output": None, "error": error, "cause": cause, **detail}}


class Records:
    """hub_records on a dict, recording what was written."""

    def __init__(self, monkeypatch, record):
        self.record = record
        self.finished, self.statuses = [], []
        monkeypatch.setattr(hub_records, "get", self.get)
        monkeypatch.setattr(hub_records, "step_finished", lambda _db, _table, hub, step, outcome, detail="":
                            self.finished.append((hub, step, outcome, detail)))
        monkeypatch.setattr(hub_records, "set_status", lambda _db, _table, hub, status, **fields:
                            self.statuses.append((hub, status, fields)))

    def get(self, _db, table, hub_id):
        assert table == "hubs"
        if self.record is None:
            raise hub_records.HubNotFound(hub_id)
        return copy.deepcopy(self.record)


def record(**changes):
    return {"hub_id": "hub-cs101", "status": "PROVISIONING", "execution_arn": EXECUTION, "workflow": "provision",
            "current_step": "Check DNS resolves", "request": {"slack_webhook_secret_arn": HUB_SECRET},
            "steps": {"Check DNS resolves": {"outcome": "RUNNING"}}, **changes}


def test_a_stopped_run_marks_its_hub_failed_at_the_current_step_and_says_so_on_the_hubs_channel(monkeypatch):
    records = Records(monkeypatch, record())
    result = execution_reports.report(None, SETTINGS, event())
    message = result.pop("message")
    assert result == {"hub_id": "hub-cs101", "workflow": "provision", "execution": "run-2", "status": "ABORTED",
                      "reported": True, "step": "Check DNS resolves", "recorded": True}
    cause = "someone stopped the execution (StopExecution)"
    assert records.finished == [("hub-cs101", "Check DNS resolves", "FAILED", cause)]
    assert records.statuses == [("hub-cs101", "FAILED", {"error": {
        "step": "Check DNS resolves", "error": "ABORTED", "cause": cause}})]
    assert message["slack_secret_arn"] == HUB_SECRET
    assert message["text"].startswith('Provisioning hub-cs101 was stopped at step "Check DNS resolves" (ABORTED)')
    assert "The hub is recorded FAILED. Start the provisioning again" in message["text"]
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields == ["*Hub*\n`hub-cs101`", "*Workflow*\nprovision", "*Step*\nCheck DNS resolves",
                      "*Outcome*\n:octagonal_sign: aborted"]
    assert f"#/v2/executions/details/{EXECUTION}|run-2>" in message["blocks"][-1]["elements"][0]["text"]


@pytest.mark.parametrize("machine, error", [("provision", "ProvisioningFailed"), ("teardown", "TeardownFailed")])
def test_a_run_that_ended_in_its_own_fail_state_was_announced_already(monkeypatch, machine, error):
    records = Records(monkeypatch, record())
    ended = event("FAILED", error=error, stateMachineArn=MACHINE.replace("provision", machine))
    assert execution_reports.report(None, SETTINGS, ended)["reported"] is False
    assert records.finished == records.statuses == []


def test_the_other_workflows_fail_error_is_not_its_own(monkeypatch):
    Records(monkeypatch, record())
    ended = event("FAILED", error="ProvisioningFailed", stateMachineArn=MACHINE.replace("provision", "teardown"))
    assert execution_reports.report(None, SETTINGS, ended)["reported"] is True


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_a_run_that_is_running_or_succeeded_is_not_reported(monkeypatch, status):
    Records(monkeypatch, record())
    assert execution_reports.report(None, SETTINGS, event(status))["reported"] is False


def test_a_runtime_error_is_recorded_with_its_error_and_cause(monkeypatch):
    records = Records(monkeypatch, record())
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'dns'"})
    result = execution_reports.report(None, SETTINGS, event("FAILED", error="States.Runtime", cause=cause))
    assert records.statuses[0][2]["error"] == {"step": "Check DNS resolves", "error": "States.Runtime",
                                               "cause": "'dns'"}
    assert '(States.Runtime), without reaching its own failure report: \'dns\'' in result["message"]["text"]


def test_a_timed_out_run_whose_step_had_finished_keeps_the_step_and_names_the_workflow_if_none(monkeypatch):
    records = Records(monkeypatch, record(steps={"Check DNS resolves": {"outcome": "SUCCEEDED"}}))
    execution_reports.report(None, SETTINGS, event("TIMED_OUT"))
    assert records.finished == []  # the step itself succeeded: the run timed out after it
    assert records.statuses[0][2]["error"]["error"] == "TIMED_OUT"
    records = Records(monkeypatch, record(current_step=None, steps={}))
    result = execution_reports.report(None, SETTINGS, event("TIMED_OUT"))
    assert records.statuses[0][2]["error"]["step"] == "provision"
    assert result["message"]["text"].startswith("Provisioning hub-cs101 timed out in the provision workflow")


def test_a_hub_record_owned_by_another_run_is_left_alone_but_the_run_is_announced(monkeypatch):
    records = Records(monkeypatch, record(execution_arn=EXECUTION.replace("run-2", "run-3")))
    result = execution_reports.report(None, SETTINGS, event())
    assert (result["recorded"], records.finished, records.statuses) == (False, [], [])
    assert "Run run-3 owns the hub record now" in result["message"]["text"]
    assert result["message"]["slack_secret_arn"] == HUB_SECRET


@pytest.mark.parametrize("status", ["FAILED", "RETIRED"])
def test_a_hub_already_failed_or_retired_is_left_alone(monkeypatch, status):
    records = Records(monkeypatch, record(status=status))
    result = execution_reports.report(None, SETTINGS, event())
    assert (result["recorded"], records.statuses) == (False, [])
    assert f"The hub was already recorded {status}." in result["message"]["text"]


def _refuse(code, status=400):
    def refused(*args, **kwargs):
        raise ClientError({"Error": {"Code": code, "Message": "not authorized to perform dynamodb:UpdateItem"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, "UpdateItem")
    return refused


def test_a_record_dynamodb_refuses_to_write_is_still_announced_with_the_runs_cause(monkeypatch):
    Records(monkeypatch, record())
    monkeypatch.setattr(hub_records, "set_status", _refuse("AccessDeniedException"))
    result = execution_reports.report(None, SETTINGS, event("FAILED", error="KubeCommandFailed", cause="helm: no"))
    text = result["message"]["text"]
    assert result["recorded"] is False and result["step"] == "Check DNS resolves"
    assert 'failed at step "Check DNS resolves" (KubeCommandFailed)' in text and "helm: no" in text
    assert "could not be read or updated (AccessDeniedException" in text
    assert result["message"]["slack_secret_arn"] == HUB_SECRET


def test_a_record_dynamodb_refuses_to_read_is_announced_on_the_stage_channel(monkeypatch):
    monkeypatch.setattr(hub_records, "get", _refuse("AccessDeniedException"))
    result = execution_reports.report(None, SETTINGS, event())
    assert "could not be read or updated (AccessDeniedException" in result["message"]["text"]
    assert result["message"]["slack_secret_arn"] == STAGE_SECRET


def test_a_throttled_record_is_left_to_eventbridges_retry(monkeypatch):
    Records(monkeypatch, record())
    monkeypatch.setattr(hub_records, "set_status", _refuse("ThrottlingException"))
    with pytest.raises(ClientError):
        execution_reports.report(None, SETTINGS, event())


def test_an_unknown_hub_is_announced_on_the_stage_channel(monkeypatch):
    Records(monkeypatch, None)
    result = execution_reports.report(None, SETTINGS, event())
    assert result["recorded"] is False and result["step"] is None
    assert result["message"]["slack_secret_arn"] == STAGE_SECRET
    assert "No hub hub-cs101 is recorded." in result["message"]["text"]


def _without(name):
    bad = event()
    del bad["detail"][name]
    return bad


@pytest.mark.parametrize("bad, field", [
    ([], "must be an object"),
    ({**event(), "source": "aws.events"}, "'source'"),
    ({**event(), "detail": "x"}, "'detail'"),
    (_without("executionArn"), "'detail.executionArn'"),
    (event(stateMachineArn=EXECUTION), "'detail.stateMachineArn'"),
    (event("DONE"), "'detail.status'"),
    (event(input="not json"), "'detail.input'"),
    (event(input=json.dumps({"hub": "x"})), "'detail.input'"),
    (event(input=json.dumps({"hub_id": "Hub 1"})), "'detail.input'"),
    (event(error=3), "'detail.error'"),
])
def test_a_malformed_event_is_refused_naming_the_field(bad, field):
    with pytest.raises(InvalidEvent, match=field):
        execution_reports.parse(bad)


def test_each_workflows_own_failure_is_the_error_of_its_fail_state():
    fails = {}
    for source in statemachines.sources():
        states = json.loads(source.text)["States"].values()
        fails[source.name] = sorted(s["Error"] for s in states if s["Type"] == "Fail")
    # The launch check is not a hub's workflow run: it records its own end on launch_check, and a check whose run
    # ended otherwise is found by the next start (launch_check.start_run asks Step Functions).
    assert fails.pop("launch-check") == ["LaunchCheckFailed"]
    assert fails == {name: sorted([error, "FailureNotRecorded"])
                     for name, error in execution_reports.OWN_FAILURES.items()}
