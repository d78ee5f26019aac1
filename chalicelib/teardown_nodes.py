"""The node a teardown needs: a node group the nightly scale-down (or a weekend) left at 0 gets one back first.

Uninstalling the releases deletes the hub's PersistentVolumeClaim, but the EBS volume behind it is deleted by
the EBS CSI driver's controller (its external-provisioner sidecar deletes a Released volume), a pod that runs on
a node: with the node group at 0 the claim goes and the volume stays in EC2, billed. So the teardown starts by
scaling such a node group to one node (``wake``) and waits until a node is Ready (``check``) before it uninstalls
anything. The scaling schedules leave a hub alone once it is RETIRING, which ``teardown.start`` records before
this runs; a scale-down that had already read the hub as READY and lands afterwards is caught by ``check``
(NodegroupScaledDown), and the workflow asks for the node again.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib import eks_cluster, steps
from chalicelib.errors import CourseHubError
from chalicelib.settings import Settings

TEARDOWN_NODES = 1  # enough for the cluster's controllers to delete what they made
NO_NODE_EXPECTED = ("DELETING", "CREATE_FAILED", "DELETE_FAILED")  # nothing to bring back: teardown goes on


class NoReadyNode(CourseHubError):
    """The node group has no Ready node yet (retry later)."""


class NodegroupScaledDown(CourseHubError):
    """The node group is at 0 again after the teardown asked for a node (ask again)."""


@steps.step
def wake(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Scale a node group at 0 nodes to one (no active cluster, no node group, nodes wanted already: done);
    NodegroupBusy while it is being changed."""
    cluster = steps.cluster_of(event, settings)
    nodegroup = _nodegroup(eks, cluster)
    if nodegroup is None or nodegroup["status"] in NO_NODE_EXPECTED:
        state = nodegroup["status"] if nodegroup else "absent"
        return steps.done({"nodegroup": state, "woken": False}, f"no node group to bring back ({state})")
    scaling = nodegroup["scalingConfig"]
    if scaling["desiredSize"] > 0:
        return steps.done({"nodegroup": nodegroup["status"], "woken": False, "desired_size": scaling["desiredSize"]},
                          f"{scaling['desiredSize']} node(s) wanted already")
    if nodegroup["status"] in ("CREATING", "UPDATING"):  # e.g. the scale-down itself: scale up once it is done
        raise eks_cluster.NodegroupBusy(f"node group of {cluster} is {nodegroup['status']}")
    wanted = {"minSize": scaling["minSize"], "desiredSize": TEARDOWN_NODES,
              "maxSize": max(scaling["maxSize"], TEARDOWN_NODES)}
    try:
        eks.update_nodegroup_config(clusterName=cluster, nodegroupName=eks_cluster.NODEGROUP,
                                    scalingConfig=wanted)
    except eks.exceptions.ResourceInUseException as error:
        raise eks_cluster.NodegroupBusy(f"node group of {cluster} is busy: {error}") from None
    return steps.done({"nodegroup": "UPDATING", "woken": True, "desired_size": TEARDOWN_NODES},
                      f"scaled from 0 to {TEARDOWN_NODES} node(s) for the teardown")


@steps.step
def check(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """NoReadyNode until a node of the cluster is Ready; NodegroupScaledDown if the node group is at 0 again.

    The wait is bounded: on the last of ``attempts`` checks (``attempt`` is the state's retry count) the teardown
    goes on without a node, and what the cluster's controllers cannot delete is left to the audit.
    """
    cluster = steps.cluster_of(event, settings)
    nodegroup = _nodegroup(clients("eks"), cluster)
    if nodegroup is None or nodegroup["status"] in NO_NODE_EXPECTED:
        return steps.done({"ready_nodes": 0}, "no node group")
    desired = nodegroup["scalingConfig"]["desiredSize"]
    if desired == 0 and nodegroup["status"] == "ACTIVE":  # while UPDATING it may still show the sizes before
        raise NodegroupScaledDown(f"node group of {cluster} was scaled to 0 during the teardown")
    with steps.kube(clients, settings, cluster) as runner:
        nodes = json.loads(runner.kubectl("get", "nodes", "-o", "json"))["items"]
    ready = [n["metadata"]["name"] for n in nodes if _ready(n)]
    if ready:
        return steps.done({"ready_nodes": len(ready)}, f"{len(ready)} Ready node(s)")
    if event.get("attempt", 0) < event.get("attempts", 0):
        raise NoReadyNode(f"no Ready node in {cluster} yet (node group {nodegroup['status']}, "
                          f"{len(nodes)} node(s) registered)")
    return steps.done({"ready_nodes": 0}, f"no Ready node after {event.get('attempts', 0) + 1} checks; what the "
                                          f"cluster cannot delete without one is left to the audit")


def _nodegroup(eks: Any, cluster: str) -> dict | None:
    """The hub's node group, or None when it or an ACTIVE cluster is not there."""
    try:
        if eks.describe_cluster(name=cluster)["cluster"]["status"] != "ACTIVE":
            return None
        return eks.describe_nodegroup(clusterName=cluster, nodegroupName=eks_cluster.NODEGROUP)["nodegroup"]
    except eks.exceptions.ResourceNotFoundException:
        return None


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions", []))
