"""The scaling function, invoked as the schedules invoke it, leaves a hub that is not READY alone and says so."""
import json
import uuid

from chalicelib import hub_records
from tests.local.test_provision_workflow import hub_request


def test_a_hub_that_is_not_ready_is_not_scaled_and_slack_says_why(stack):
    course = f"n{uuid.uuid4().hex[:6]}"
    table = stack.seeded.environment["HUB_TABLE_NAME"]
    hub_records.create(stack.client("dynamodb"), table, f"hub-{course}", hub_request(stack, course))
    response = stack.client("lambda").invoke(FunctionName="coursehub-dev-scale_hub",
                                             Payload=json.dumps({"hub_id": f"hub-{course}", "direction": "down"}))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    assert result["scaled"] is False
    assert stack.slack.texts()[-1] == f"Hub hub-{course} was not scaled down: it is PROVISIONING, not READY."
    fields = [f["text"] for f in stack.slack.messages()[-1]["blocks"][1]["fields"]]
    assert fields == [f"*Hub*\n`hub-{course}`", "*Step*\nscale-down", "*Outcome*\n:pause_button: skipped"]
    assert "scale" not in hub_records.get(stack.client("dynamodb"), table, f"hub-{course}")


def test_a_malformed_schedule_payload_fails_by_name_and_touches_nothing(stack):
    response = stack.client("lambda").invoke(FunctionName="coursehub-dev-scale_hub",
                                             Payload=json.dumps({"hub_id": "hub-x", "direction": "sideways"}))
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled" and body["errorType"] == "InvalidEvent"
    assert "direction" in body["errorMessage"]
