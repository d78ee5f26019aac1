"""What every workflow step shares: event checks, recording and logging a step, and the cause a failure records."""
import json

import pytest

from chalicelib import steps
from chalicelib.errors import InvalidEvent
from tests.chalicelib.conftest import HUB


@pytest.mark.parametrize("event", [None, [], {"request": {}}, {"hub_id": 3, "request": {}}, {"hub_id": "Hub 1", "request": {}},
                                   {"hub_id": "h"}])
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
        failure = steps.record_failure(dynamodb, settings, {"hub_id": HUB, "error": {
            "Error": "KeyError", "Cause": json.dumps({"errorMessage": "'thing'"})}})
        assert (failure["step"], failure["error"], failure["cause"]) == ("Check the things", "KeyError", "'thing'")
        stored = record()
        assert stored["status"] == "FAILED" and stored["steps"]["Check the things"]["outcome"] == "FAILED"
        assert stored["error"] == {"step": "Check the things", "error": "KeyError", "cause": "'thing'"}

    def test_a_failure_before_the_hub_was_recorded_is_only_announced_on_the_stages_channel(self, dynamodb, settings):
        failure = steps.record_failure(dynamodb, settings, {"hub_id": "Not A Hub", "error": {"Error": "InvalidEvent"}})
        assert failure == {"error": "InvalidEvent", "cause": "", "step": "Record the hub",
                           "slack_secret_arn": settings.slack_webhook_secret_arn}

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
