"""Hub records on the local stack's DynamoDB."""
import uuid

import pytest

from chalicelib import hub_records


@pytest.fixture
def table(stack):
    return stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"]


def test_a_hub_records_its_steps_and_status(table, monkeypatch):
    dynamodb, name = table
    times = iter(f"2026-11-27T12:00:{second:02d}+00:00" for second in range(60))
    monkeypatch.setattr(hub_records, "now", lambda: next(times))
    hub = f"hub-{uuid.uuid4().hex[:6]}"
    hub_records.create(dynamodb, name, hub, {"course_id": "cs101"})
    hub_records.step_started(dynamodb, name, hub, "Create cluster")
    hub_records.step_started(dynamodb, name, hub, "Create cluster")  # a poll or retry neither duplicates nor restarts
    assert hub_records.get(dynamodb, name, hub)["steps"]["Create cluster"]["started_at"] == "2026-11-27T12:00:02+00:00"
    hub_records.step_finished(dynamodb, name, hub, "Create cluster", "SUCCEEDED")
    hub_records.set_status(dynamodb, name, hub, "READY", urls={"binder": "https://binder.x"})
    record = hub_records.get(dynamodb, name, hub)
    assert record["status"] == "READY" and record["current_step"] == "Create cluster"
    assert list(record["steps"]) == ["Create cluster"]
    step = record["steps"]["Create cluster"]
    assert step["outcome"] == "SUCCEEDED" and step["started_at"] <= step["ended_at"]
    assert record["urls"] == {"binder": "https://binder.x"}


def test_a_hub_cannot_be_created_twice_or_updated_when_missing(table):
    dynamodb, name = table
    hub = f"hub-{uuid.uuid4().hex[:6]}"
    hub_records.create(dynamodb, name, hub, {})
    with pytest.raises(hub_records.HubAlreadyExists):
        hub_records.create(dynamodb, name, hub, {})
    with pytest.raises(hub_records.HubNotFound):
        hub_records.step_started(dynamodb, name, "no-such-hub", "x")
    with pytest.raises(hub_records.HubNotFound):
        hub_records.get(dynamodb, name, "no-such-hub")
