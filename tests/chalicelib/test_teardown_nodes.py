"""The teardown's node: a node group at 0 is scaled to one node, and the teardown waits for a Ready node.

EKS and kubectl are fakes (tests/chalicelib/fakes.py); the hub table is the in-memory one and moto's DynamoDB.
"""

import pytest

from chalicelib import teardown_nodes
from chalicelib.eks_cluster import NodegroupBusy
from chalicelib.teardown_nodes import NodegroupScaledDown, NoReadyNode
from tests.chalicelib.conftest import HUB
from tests.chalicelib.test_provisioning import running, succeeded

CLUSTER = "coursehub-dev-cs101"
WAKE, CHECK = "Bring back a node for the teardown", "Check a node is ready"


def nodegroup(eks, status="ACTIVE", desired=0, min_size=0, max_size=2):
    eks.add_cluster(CLUSTER, HUB)
    eks.nodegroups[CLUSTER] = {"nodegroupName": "workers", "status": status,
                               "scalingConfig": {"minSize": min_size, "desiredSize": desired, "maxSize": max_size}}


def node(name, ready=True):
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class TestBringBackANode:
    def test_a_node_group_at_zero_gets_one_node_keeping_its_min_and_max(self, eks, dynamodb, settings, hub, record):
        nodegroup(eks, desired=0, max_size=3)
        result = teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE))
        assert result == {"nodegroup": "UPDATING", "woken": True, "desired_size": 1}
        assert eks.nodegroups[CLUSTER]["scalingConfig"] == {"minSize": 0, "desiredSize": 1, "maxSize": 3}
        assert succeeded(record(), WAKE, "scaled from 0 to 1 node(s) for the teardown")

    def test_a_node_group_with_nodes_is_left_as_it_is(self, eks, dynamodb, settings, hub, record):
        nodegroup(eks, desired=2, min_size=1)
        result = teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE))
        assert result == {"nodegroup": "ACTIVE", "woken": False, "desired_size": 2}
        assert eks.nodegroups[CLUSTER]["scalingConfig"]["desiredSize"] == 2
        assert succeeded(record(), WAKE, "2 node(s) wanted already")

    @pytest.mark.parametrize("status", ["UPDATING", "CREATING"])
    def test_a_node_group_being_scaled_down_is_scaled_up_once_that_is_done(self, eks, dynamodb, settings, hub,
                                                                            record, status):
        nodegroup(eks, status=status, desired=0)
        with pytest.raises(NodegroupBusy, match=status):
            teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE))
        assert running(record(), WAKE)
        eks.nodegroups[CLUSTER]["status"] = "ACTIVE"
        assert teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE))["woken"]

    def test_eks_refusing_the_update_as_busy_is_retried(self, eks, dynamodb, settings, hub, monkeypatch):
        nodegroup(eks, desired=0)

        def busy(**_):
            raise eks.exceptions.ResourceInUseException("Nodegroup workers is currently UPDATING")
        monkeypatch.setattr(eks, "update_nodegroup_config", busy)
        with pytest.raises(NodegroupBusy, match="busy"):
            teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE))

    @pytest.mark.parametrize("setup, state", [(None, "absent"), ("no node group", "absent"),
                                              ("CREATING cluster", "absent"), ("DELETING", "DELETING"),
                                              ("CREATE_FAILED", "CREATE_FAILED")])
    def test_without_an_active_cluster_or_a_live_node_group_there_is_nothing_to_bring_back(
            self, eks, dynamodb, settings, hub, record, setup, state):
        if setup == "no node group":
            eks.add_cluster(CLUSTER, HUB)
        elif setup == "CREATING cluster":
            eks.add_cluster(CLUSTER, HUB, status="CREATING")
        elif setup:
            nodegroup(eks, status=setup, desired=0)
        assert teardown_nodes.wake(eks, dynamodb, settings, hub(WAKE)) == {"nodegroup": state, "woken": False}
        assert succeeded(record(), WAKE, f"no node group to bring back ({state})")
        if setup in ("DELETING", "CREATE_FAILED"):
            assert eks.nodegroups[CLUSTER]["scalingConfig"]["desiredSize"] == 0


class TestCheckANodeIsReady:
    def test_no_ready_node_is_not_ready_until_one_is(self, eks, dynamodb, settings, hub, record, runner):
        nodegroup(eks, status="UPDATING", desired=1)
        runner.nodes = [node("ip-10-0-1-5", ready=False)]
        clients = {"eks": eks}.get
        with pytest.raises(NoReadyNode, match="no Ready node in coursehub-dev-cs101 yet"):
            teardown_nodes.check(clients, dynamodb, settings, hub(CHECK, attempt=0, attempts=15))
        assert running(record(), CHECK)
        runner.nodes.append(node("ip-10-0-2-7"))
        assert teardown_nodes.check(clients, dynamodb, settings, hub(CHECK, attempt=1, attempts=15)) == {
            "ready_nodes": 1}
        assert ("kubectl", "get", "nodes", "-o", "json") in runner.commands
        assert succeeded(record(), CHECK, "1 Ready node(s)")

    def test_on_the_last_check_the_teardown_goes_on_without_a_node(self, eks, dynamodb, settings, hub, record,
                                                                   runner):
        nodegroup(eks, desired=1)
        result = teardown_nodes.check({"eks": eks}.get, dynamodb, settings, hub(CHECK, attempt=15, attempts=15))
        assert result == {"ready_nodes": 0}
        assert succeeded(record(), CHECK, "no Ready node after 16 checks; what the cluster cannot delete without one "
                                          "is left to the audit")

    def test_a_node_group_scaled_to_zero_during_the_teardown_sends_it_back_for_a_node(self, eks, dynamodb, settings,
                                                                                       hub, runner):
        nodegroup(eks, desired=0)
        with pytest.raises(NodegroupScaledDown):
            teardown_nodes.check({"eks": eks}.get, dynamodb, settings, hub(CHECK, attempt=0, attempts=15))
        assert runner.commands == []

    def test_a_node_group_still_updating_to_its_node_is_waited_for(self, eks, dynamodb, settings, hub, runner):
        nodegroup(eks, status="UPDATING", desired=0)  # the sizes before the update, as EKS may show them meanwhile
        with pytest.raises(NoReadyNode, match="node group UPDATING, 0 node"):
            teardown_nodes.check({"eks": eks}.get, dynamodb, settings, hub(CHECK, attempt=0, attempts=15))

    @pytest.mark.parametrize("setup", [None, "DELETING"])
    def test_without_a_node_group_no_node_is_waited_for(self, eks, dynamodb, settings, hub, record, runner, setup):
        if setup:
            nodegroup(eks, status=setup, desired=0)
        assert teardown_nodes.check({"eks": eks}.get, dynamodb, settings, hub(CHECK)) == {"ready_nodes": 0}
        assert runner.commands == [] and succeeded(record(), CHECK, "no node group")
