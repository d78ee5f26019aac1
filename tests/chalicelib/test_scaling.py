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
    result = scaling.scale(eks, dynamodb, settings, {"hub_id": HUB, "direction": "down"},
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
    result = scaling.scale(eks, dynamodb, settings, {"hub_id": "hub-cs101", "direction": "down"},
                           datetime(2026, 11, 27, 20, tzinfo=timezone.utc))
    assert result["scaled"] and eks.clusters == [cluster, cluster]
