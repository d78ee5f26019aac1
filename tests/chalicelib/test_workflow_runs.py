"""A new hub's record through the API: its names held, or a 409 naming the hub and the request's field."""
import pytest

from chalicelib import hub_records, workflow_runs
from chalicelib.api_errors import ApiError
from chalicelib.hub_request import HubRequest
from tests.chalicelib.test_hub_request import GOOD, LIMITS

TABLE = "coursehub-hubs"


def record(dynamodb, course, **fields):
    request = HubRequest.parse({**GOOD, "course_id": course, **fields}, LIMITS)
    return workflow_runs.record_new_hub(dynamodb, TABLE, f"hub-{course}", request, "arn:execution", "caller")


@pytest.mark.parametrize("fields, field", [
    ({}, "domain"),
    ({"domain": "binder.courses.example.edu"}, "domain"),  # its own domain is hub A's binder host
    ({"domain": "example.edu", "binder_host": "hub.binder.courses.example.edu"}, "binder_host"),
    ({"domain": "example.edu", "hub_host": "binder.courses.example.edu"}, "hub_host"),
])
def test_a_name_another_live_hub_holds_is_a_409_naming_that_hub_and_the_field_it_came_from(dynamodb, fields, field):
    assert record(dynamodb, "cs101") is True
    with pytest.raises(ApiError) as refused:
        record(dynamodb, "cs102", **fields)
    assert (refused.value.status, refused.value.code, refused.value.field) == (409, "NameTaken", field)
    assert refused.value.body()["hub_id"] == "hub-cs101" and refused.value.body()["hub_status"] == "PROVISIONING"
    with pytest.raises(hub_records.HubNotFound):
        hub_records.get(dynamodb, TABLE, "hub-cs102")


def test_the_course_posted_again_is_its_live_hub_not_a_409(dynamodb):
    assert record(dynamodb, "cs101") is True
    assert record(dynamodb, "cs101") is False
    assert hub_records.get(dynamodb, TABLE, "hub-cs101")["names"] == [
        "courses.example.edu", "binder.courses.example.edu", "hub.binder.courses.example.edu"]
