"""Scaling events are validated, and sizes always keep min <= desired <= max."""
import pytest

from chalicelib import scaling
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from tests.chalicelib.test_hub_request import GOOD


@pytest.mark.parametrize("event, field", [
    (None, "hub_id"), ({"direction": "down"}, "hub_id"), ({"hub_id": "Hub 1", "direction": "down"}, "hub_id"),
    ({"hub_id": "hub-cs101", "direction": "sideways"}, "direction"), ({"hub_id": "hub-cs101"}, "direction"),
])
def test_a_bad_scaling_event_names_the_field(event, field):
    with pytest.raises(InvalidEvent, match=field):
        scaling.parse_event(event)


def test_down_keeps_max_and_up_restores_the_request():
    request = HubRequest.stored({**GOOD, "nodes": {"instance_type": "m5.large", "min_size": 1, "desired_size": 2,
                                                   "max_size": 4}})
    assert scaling.sizes(request, "down") == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    assert scaling.sizes(request, "up") == {"minSize": 1, "desiredSize": 2, "maxSize": 4}
    for direction in scaling.DIRECTIONS:
        size = scaling.sizes(request, direction)
        assert size["minSize"] <= size["desiredSize"] <= size["maxSize"]


@pytest.mark.parametrize("status", ["RETIRING", "FAILED", "PROVISIONING"])
def test_a_scale_down_during_a_teardown_leaves_the_teardowns_node(eks, dynamodb, settings, hub, record, status):
    """The teardown brings a node back to delete the hub's volume; the nightly schedule must not take it away."""
    from datetime import datetime, timezone

    from chalicelib import hub_records
    from tests.chalicelib.conftest import HUB

    hub("Record the hub as retiring")
    hub_records.set_status(dynamodb, settings.hub_table_name, HUB, status)
    eks.add_cluster("coursehub-cs101", HUB)
    eks.nodegroups["coursehub-cs101"] = {"nodegroupName": "workers", "status": "ACTIVE",
                                         "scalingConfig": {"minSize": 0, "desiredSize": 1, "maxSize": 2}}
    result = scaling.scale(eks, None, dynamodb, settings, {"hub_id": HUB, "direction": "down"},
                           datetime(2026, 12, 1, 20, tzinfo=timezone.utc))
    assert result["scaled"] is False and result["text"] == f"Hub {HUB} was not scaled down: it is {status}, not READY."
    assert eks.nodegroups["coursehub-cs101"]["scalingConfig"]["desiredSize"] == 1
    assert "scale" not in record()


class _Nodegroups:
    """describe_nodegroup / update_nodegroup_config, remembering which cluster each call named."""

    def __init__(self):
        self.clusters = []

    def describe_nodegroup(self, *, clusterName, nodegroupName):
        self.clusters.append(clusterName)
        return {"nodegroup": {"scalingConfig": {"minSize": 1, "desiredSize": 1, "maxSize": 3}}}

    def update_nodegroup_config(self, *, clusterName, nodegroupName, scalingConfig):
        self.clusters.append(clusterName)


@pytest.mark.parametrize("fields, cluster", [({"cluster": "coursehub-dev-cs101"}, "coursehub-dev-cs101"),
                                             ({}, "coursehub-cs101")])  # a hub recorded before stages in names
def test_the_node_group_scaled_is_the_one_of_the_cluster_on_the_record(dynamodb, settings, request_data, fields,
                                                                        cluster):
    from datetime import datetime, timezone

    from chalicelib import hub_records

    hub_records.create(dynamodb, settings.hub_table_name, "hub-cs101", request_data, **fields)
    hub_records.set_status(dynamodb, settings.hub_table_name, "hub-cs101", "READY")
    eks = _Nodegroups()
    result = scaling.scale(eks, None, dynamodb, settings, {"hub_id": "hub-cs101", "direction": "down"},
                           datetime(2026, 11, 27, 20, tzinfo=timezone.utc))
    assert result["scaled"] and eks.clusters == [cluster, cluster]


CHECKS = "arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-launch-check"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_morning_scale_up_starts_the_launch_check_that_waits_for_the_nodes(dynamodb, settings, request_data,
                                                                               enabled):
    import dataclasses
    import json
    from datetime import datetime, timezone

    from chalicelib import hub_records
    from tests.chalicelib.test_workflow_runs import FakeStepFunctions

    settings = dataclasses.replace(settings, launch_check_state_machine_arn=CHECKS)
    request_data = {**request_data, "launch_test": {"enabled": enabled}}
    hub_records.create(dynamodb, settings.hub_table_name, "hub-cs101", request_data, cluster="coursehub-dev-cs101")
    hub_records.set_status(dynamodb, settings.hub_table_name, "hub-cs101", "READY")
    sfn = FakeStepFunctions()
    result = scaling.scale(_Nodegroups(), sfn, dynamodb, settings, {"hub_id": "hub-cs101", "direction": "up"},
                           datetime(2026, 11, 27, 7, tzinfo=timezone.utc))
    check = hub_records.get(dynamodb, settings.hub_table_name, "hub-cs101").get("launch_check")
    if not enabled:
        assert sfn.started == [] and check is None and "launch" not in result["text"]
        return
    (started,) = sfn.started
    assert started.startswith(CHECKS.replace(":stateMachine:", ":execution:") + ":hub-cs101-")
    assert check == {"status": "RUNNING", "purpose": "morning", "phase": "build", "execution_arn": started,
                     "repository": "gh/binderhub-ci-repos/cached-minimal-dockerfile/HEAD",
                     "started_at": "2026-11-27T07:00:00+00:00"}
    assert "a test launch of gh/binderhub-ci-repos/cached-minimal-dockerfile/HEAD checks it" in result["text"]


def test_a_refused_morning_check_is_recorded_failed_and_said_on_slack(dynamodb, settings, request_data):
    import dataclasses
    from datetime import datetime, timezone

    from chalicelib import hub_records
    from tests.chalicelib.test_workflow_runs import FakeStepFunctions

    settings = dataclasses.replace(settings, launch_check_state_machine_arn=CHECKS)
    hub_records.create(dynamodb, settings.hub_table_name, "hub-cs101", request_data, cluster="coursehub-dev-cs101")
    hub_records.set_status(dynamodb, settings.hub_table_name, "hub-cs101", "READY")
    result = scaling.scale(_Nodegroups(), FakeStepFunctions(refusal="ExecutionLimitExceeded"), dynamodb, settings,
                           {"hub_id": "hub-cs101", "direction": "up"}, datetime(2026, 11, 27, 7, tzinfo=timezone.utc))
    check = hub_records.get(dynamodb, settings.hub_table_name, "hub-cs101")["launch_check"]
    assert check["status"] == "FAILED" and check["error"] == "LaunchCheckNotStarted"
    assert "ExecutionLimitExceeded" in check["cause"] and "was not started" in result["text"]
