"""Nightly scale-down and morning scale-up of a hub's node group, as its schedules ask.

Scaling down sets min and desired to 0 (max stays, so the node group stays
valid); scaling up restores the request's sizes. A hub that is not READY is
left alone, and the result says why.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import eks_cluster, hub_names, hub_records, slack_blocks, steps
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

DIRECTIONS = ("down", "up")


def _morning_check(sfn: Any, dynamodb: Any, settings: Settings, record: dict, request: HubRequest,
                   now: datetime) -> str:
    """Start the launch check after a scale-up; what the Slack message says of it."""
    if not request.launch_test.enabled:
        return ""
    from chalicelib import launch_check

    try:
        launch_check.start_run(sfn, dynamodb, settings, record, "morning", now)
    except launch_check.LaunchCheckNotStarted as error:
        return f" The launch check was not started: {error}"
    return f" Once the nodes are back, a test launch of {request.launch_test.repository} checks it."


def parse_event(event: Any) -> tuple[str, str]:
    """``(hub_id, direction)`` from a schedule's payload."""
    hub_id = steps.hub_id_of(event)
    direction = event.get("direction")
    if direction not in DIRECTIONS:
        raise InvalidEvent(f"scaling event field 'direction' must be one of {', '.join(DIRECTIONS)}")
    return hub_id, direction


def sizes(request: HubRequest, direction: str) -> dict[str, int]:
    """The node group's scaling for ``direction``; always min <= desired <= max."""
    nodes = request.nodes
    if direction == "down":
        return {"minSize": 0, "desiredSize": 0, "maxSize": nodes.max_size}
    return {"minSize": nodes.min_size, "desiredSize": nodes.desired_size, "maxSize": nodes.max_size}


def apply(eks: Any, cluster: str, request: HubRequest, direction: str, now: datetime) -> dict:
    """Give the node group of ``cluster`` the sizes of ``direction`` (NodegroupBusy while it updates).

    Returns the record's ``scale``.
    """
    wanted = sizes(request, direction)
    current = eks.describe_nodegroup(clusterName=cluster,
                                     nodegroupName=eks_cluster.NODEGROUP)["nodegroup"]["scalingConfig"]
    if current != wanted:
        try:
            eks.update_nodegroup_config(clusterName=cluster, nodegroupName=eks_cluster.NODEGROUP,
                                        scalingConfig=wanted)
        except eks.exceptions.ResourceInUseException as error:
            raise eks_cluster.NodegroupBusy(f"node group of {cluster} is busy: {error}") from None
    return {"direction": direction, "min_size": wanted["minSize"], "desired_size": wanted["desiredSize"],
            "max_size": wanted["maxSize"], "at": now.isoformat(timespec="seconds")}


def scale(eks: Any, sfn: Any, dynamodb: Any, settings: Settings, event: Any, now: datetime) -> dict:
    """Scale the hub's node group; returns what happened and the Slack message (text and blocks) to post.

    A scale-up also starts the hub's launch check (if its request enables it), which waits for the nodes: the
    course learns before class whether a student can launch and run a cell."""
    hub_id, direction = parse_event(event)
    record = hub_records.get(dynamodb, settings.hub_table_name, hub_id)
    request = HubRequest.stored(record["request"])
    if record["status"] != "READY":
        text = f"Hub {hub_id} was not scaled {direction}: it is {record['status']}, not READY."
        return {"scaled": False, "hub_id": hub_id, "direction": direction, "slack_secret_arn":
                request.slack_webhook_secret_arn, "text": text,
                "blocks": slack_blocks.build(text, hub_id=hub_id, step=f"scale-{direction}", outcome="skipped")}
    scale_record = apply(eks, hub_names.recorded_cluster(record), request, direction, now)
    hub_records.update(dynamodb, settings.hub_table_name, hub_id, scale=scale_record)
    if direction == "down":
        text = (f"The BinderHub of course {request.course_id} is scaled down to 0 nodes for the night; "
                f"it comes back at {request.scaling.up_at if request.scaling else 'the next scale-up'} "
                f"({request.timezone}).")
    else:
        text = (f"The BinderHub of course {request.course_id} is scaling up to {scale_record['desired_size']} "
                f"node(s): https://{request.binder}.{_morning_check(sfn, dynamodb, settings, record, request, now)}")
    urls = {"binder": f"https://{request.binder}"} if direction == "up" else None
    return {"scaled": True, "hub_id": hub_id, "direction": direction, "scale": scale_record, "text": text,
            "slack_secret_arn": request.slack_webhook_secret_arn,
            "blocks": slack_blocks.build(text, hub_id=hub_id, step=f"scale-{direction}", outcome="scaled", urls=urls)}
