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
