"""What every workflow step shares: event checks, recording and logging a step, and the cause a failure records."""
import json

import pytest
from botocore.exceptions import ClientError

from chalicelib import hub_records, steps
from chalicelib.errors import InvalidEvent
from tests.chalicelib.conftest import HUB


class History:
    """GetExecutionHistory answered from ``events`` (newest first, as with reverseOrder), or refused."""

    def __init__(self, events=(), refusal=None):
        self.events, self.refusal, self.asked = list(events), refusal, []

    def get_execution_history(self, **kwargs):
        self.asked.append(kwargs)
        if self.refusal:
            raise ClientError({"Error": {"Code": self.refusal, "Message": "no"}}, "GetExecutionHistory")
        return {"events": self.events}


NO_HISTORY = History()


@pytest.mark.parametrize("event", [None, [], {"request": {}}, {"hub_id": 3, "request": {}}, {"hub_id": "Hub 1", "request": {}},
                                   {"hub_id": "h"}, {"hub_id": "hub-a\n", "request": {}}])
def test_an_event_without_hub_id_and_request_is_refused(event):
    with pytest.raises(InvalidEvent, match="hub_id"):
        steps.checked(event)


def test_a_lambda_error_cause_keeps_its_message_and_a_long_one_keeps_its_end():
    short = {"Cause": json.dumps({"errorType": "KubeCommandFailed", "errorMessage": "helm failed: not found"})}
    assert steps.cause_text(short) == "helm failed: not found"
    command = "helm upgrade --install binderhub " + "--set x=y " * 200
    long = {"Cause": json.dumps({"errorMessage": command + 'Error: chart "binderhub" version "9.9.9" not found'})}
    cause = steps.cause_text(long)
    assert len(cause) < 720 and cause.startswith("helm upgrade") and cause.endswith('version "9.9.9" not found')
    assert steps.cause_text({"Cause": "States.Timeout"}) == "States.Timeout"


class TestStep:
    """``@steps.step``: the hub record and the log of every step, on both hub tables."""

    def test_a_step_is_recorded_and_logs_one_line_with_the_hub_and_step(self, dynamodb, settings, hub, record, logged):
        @steps.step
        def create_things(dynamodb, settings, event):
            return steps.done({"made": 2}, "2 things made")

        assert create_things(dynamodb, settings, hub("Create the things")) == {"made": 2}
        entry = record()["steps"]["Create the things"]
        assert (entry["outcome"], entry["detail"], record()["current_step"]) == ("SUCCEEDED", "2 things made",
                                                                                 "Create the things")
        (line,) = [line for line in logged() if line.get("step")]
        assert (line["hub_id"], line["step"], line["message"]) == (HUB, "Create the things",
                                                                   "step finished: 2 things made")
        steps.logger.info("after the step")
        (after,) = logged()
        assert "hub_id" not in after and "step" not in after  # the keys belong to the step's run only

    def test_an_error_is_logged_and_leaves_the_step_running_for_record_failure(self, dynamodb, settings, hub, record,
                                                                               logged):
        @steps.step
        def check_things(dynamodb, settings, event):
            raise KeyError("thing")

        with pytest.raises(KeyError):
            check_things(dynamodb, settings, hub("Check the things"))
        assert record()["steps"]["Check the things"]["outcome"] == "RUNNING"
        (line,) = logged()
        assert (line["step"], line["error"], line["message"]) == ("Check the things", "KeyError", "step did not finish")
        failure = steps.record_failure(dynamodb, NO_HISTORY, settings, {"hub_id": HUB, "error": {
            "Error": "KeyError", "Cause": json.dumps({"errorMessage": "'thing'"})}})
        assert (failure["step"], failure["error"], failure["cause"]) == ("Check the things", "KeyError", "'thing'")
        stored = record()
        assert stored["status"] == "FAILED" and stored["steps"]["Check the things"]["outcome"] == "FAILED"
        assert stored["error"] == {"step": "Check the things", "error": "KeyError", "cause": "'thing'"}

    def test_a_failure_before_the_hub_was_recorded_is_only_announced_on_the_stages_channel(self, dynamodb, settings):
        failure = steps.record_failure(dynamodb, NO_HISTORY, settings,
                                       {"hub_id": "Not A Hub", "error": {"Error": "InvalidEvent"}})
        assert failure == {"error": "InvalidEvent", "cause": "", "step": "Record the hub", "record_note": "",
                           "slack_secret_arn": settings.slack_webhook_secret_arn}

    def test_the_state_the_history_shows_failing_is_named_though_it_records_no_step(self, dynamodb, settings, hub,
                                                                                       record):
        hub("Record the hub")
        hub_records.step_started(dynamodb, settings.hub_table_name, HUB, "Record the hub")
        hub_records.step_finished(dynamodb, settings.hub_table_name, HUB, "Record the hub", "SUCCEEDED")
        run = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:hub-cs101-1"
        hub_records.update(dynamodb, settings.hub_table_name, HUB, execution_arn=run)
        history = History([{"id": 9, "previousEventId": 8, "type": "LambdaFunctionFailed"},
                           {"id": 8, "previousEventId": 7, "type": "TaskStateEntered",
                            "stateEnteredEventDetails": {"name": "Announce the start on Slack"}}])
        denied = {"Error": "ClientError", "Cause": json.dumps({"errorMessage": "AccessDeniedException: no"})}
        failure = steps.record_failure(dynamodb, history, settings, {"hub_id": HUB, "error": denied,
                                                                     "workflow": "provision", "execution": run})
        assert failure["step"] == "Announce the start on Slack" and history.asked[0]["executionArn"] == run
        stored = record()
        assert stored["error"]["step"] == "Announce the start on Slack"
        assert stored["steps"]["Record the hub"]["outcome"] == "SUCCEEDED"  # not blamed for the announcement
        assert stored["steps"]["Announce the start on Slack"]["outcome"] == "FAILED"
        refused = steps.record_failure(dynamodb, History(refusal="AccessDeniedException"), settings,
                                       {"hub_id": HUB, "error": denied, "workflow": "provision", "execution": run})
        assert refused["step"] == "Record the hub"  # the history unreadable: the last step the record saw start

    def test_a_failure_before_any_step_started_is_recorded_with_its_own_cause(self, dynamodb, settings, hub, record):
        denied = {"Error": "SecretUnavailable", "Cause": json.dumps({"errorMessage": "AccessDeniedException: no"})}
        failure = steps.record_failure(dynamodb, NO_HISTORY, settings,
                                       {"hub_id": HUB, "error": denied, "workflow": "provision"})
        assert (failure["step"], failure["error"], failure["cause"], failure["record_note"]) == (
            "Record the hub", "SecretUnavailable", "AccessDeniedException: no", "")
        stored = record()
        assert stored["status"] == "FAILED" and stored["error"] == {
            "step": "Record the hub", "error": "SecretUnavailable", "cause": "AccessDeniedException: no"}
        assert stored["steps"]["Record the hub"]["outcome"] == "FAILED"
        assert stored["steps"]["Record the hub"]["detail"] == "AccessDeniedException: no"

    def test_a_run_whose_first_step_never_wrote_is_recorded_as_that_run_not_the_one_before(self, dynamodb, settings,
                                                                                           hub, record):
        provision = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:hub-cs101-1"
        teardown = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-teardown:hub-cs101-2"
        hub_records.update(dynamodb, settings.hub_table_name, HUB, status="READY", workflow="provision",
                           execution_arn=provision,
                           current_step="Schedule the hub's life",
                           steps={"Schedule the hub's life": {"started_at": "x", "outcome": "SUCCEEDED"}})
        failure = steps.record_failure(dynamodb, NO_HISTORY, settings, {"hub_id": HUB, "workflow": "teardown",
                                                            "execution": teardown,
                                                            "error": {"Error": "ClientError", "Cause": "denied"}})
        assert failure["step"] == "Record the hub as retiring"
        stored = record()
        assert (stored["status"], stored["workflow"], stored["execution_arn"]) == ("FAILED", "teardown", teardown)
        assert list(stored["steps"]) == ["Record the hub as retiring"] and stored["error"]["cause"] == "denied"

    def test_a_run_whose_record_another_run_now_owns_leaves_it_and_says_so(self, dynamodb, settings, hub, record):
        teardown = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-teardown:hub-cs101-2"
        hub_records.update(dynamodb, settings.hub_table_name, HUB, status="RETIRING", workflow="teardown",
                           execution_arn=teardown)
        failure = steps.record_failure(dynamodb, NO_HISTORY, settings, {"hub_id": HUB, "workflow": "provision",
                                                            "execution": teardown.replace("2", "1"),
                                                            "error": {"Error": "ClientError", "Cause": "denied"}})
        assert failure["record_note"] == " Run hub-cs101-2 owns the hub record now; it is left as it is."
        assert (record()["status"], record()["execution_arn"]) == ("RETIRING", teardown)

    @pytest.mark.parametrize("operation", ["GetItem", "UpdateItem"])
    def test_a_record_dynamodb_refuses_is_still_announced_with_the_original_cause(self, dynamodb, settings, hub,
                                                                                  operation):
        refusing = _Refusing(dynamodb, operation, "AccessDeniedException", 400)
        failure = steps.record_failure(refusing, NO_HISTORY, settings, {"hub_id": HUB, "workflow": "teardown", "error": {
            "Error": "KubeCommandFailed", "Cause": "helm: forbidden"}})
        assert (failure["step"], failure["error"], failure["cause"]) == (
            "Record the hub as retiring", "KubeCommandFailed", "helm: forbidden")
        assert "could not be updated (AccessDeniedException" in failure["record_note"]
        assert failure["record_note"].startswith(" ")  # the Slack text puts it after a sentence

    def test_a_throttled_record_write_is_left_to_the_retry(self, dynamodb, settings, hub):
        with pytest.raises(ClientError, match="Throttling"):
            steps.record_failure(_Refusing(dynamodb, "UpdateItem", "ThrottlingException", 400), NO_HISTORY, settings,
                                 {"hub_id": HUB, "error": {"Error": "X"}})

    def test_a_step_that_does_not_say_what_it_did_is_a_programming_error(self, dynamodb, settings, hub):
        @steps.step
        def vague(dynamodb, settings, event):
            return {"made": 2}

        with pytest.raises(TypeError, match="steps.done"):
            vague(dynamodb, settings, hub("Vague"))

    def test_an_unfinished_step_stays_running(self, dynamodb, settings, hub, record):
        @steps.step
        def by_hand(dynamodb, settings, event):
            return steps.unfinished({"records": 2}, "records to create by hand")

        assert by_hand(dynamodb, settings, hub("By hand")) == {"records": 2}
        assert record()["steps"]["By hand"]["outcome"] == "RUNNING"


class _Refusing:
    """A hub table client whose ``operation`` AWS answers with ``code``."""

    def __init__(self, client, operation, code, status):
        self._client, self._operation, self._code, self._status = client, operation, code, status
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        call = getattr(self._client, name)
        if "".join(part.title() for part in name.split("_")) != self._operation:
            return call

        def refused(**kwargs):
            raise ClientError({"Error": {"Code": self._code, "Message": f"not authorized to {self._operation}"},
                               "ResponseMetadata": {"HTTPStatusCode": self._status}}, self._operation)
        return refused
