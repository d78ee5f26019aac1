"""What every workflow step shares: event checks and the cause a failure records."""
import json

import pytest

from chalicelib import steps
from chalicelib.errors import InvalidEvent


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
