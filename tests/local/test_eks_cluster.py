"""The cluster steps on the local stack: start, wait by named errors, reuse on a second run."""
import uuid

import pytest

from chalicelib import eks_cluster, hub_names, kubernetes_versions, teardown
from chalicelib.settings import Settings
from tests.conftest import eventually


def start(stack, name, hub, version=kubernetes_versions.DEFAULT, stage="dev"):
    return eks_cluster.create_cluster(
        stack.client("eks"), name=name, version=version, role_arn=stack.seeded.roles["eks-cluster"],
        subnet_ids=stack.seeded.subnet_ids, tags=hub_names.tags(stage, hub, "cs101"))


def ready(check, *args):
    """Call a check until it stops raising its NotReady error."""
    def attempt():
        try:
            return check(*args)
        except (eks_cluster.ClusterNotReady, eks_cluster.NodegroupNotReady):
            return None
    return eventually(attempt)


def test_cluster_and_node_group_come_up_and_a_second_run_reuses_them(stack):
    eks = stack.client("eks")
    name, hub = f"coursehub-{uuid.uuid4().hex[:6]}", "hub-1"
    assert start(stack, name, hub)["reused"] is False
    with pytest.raises(eks_cluster.ClusterNotReady):
        eks_cluster.check_cluster(eks, name)
    stack.clock.advance(stack.config.eks.cluster_create)
    assert ready(eks_cluster.check_cluster, eks, name)["status"] == "ACTIVE"

    role = stack.seeded.roles["lambda"]
    eks_cluster.grant_admin(eks, name=name, principal_arn=role)
    eks_cluster.grant_admin(eks, name=name, principal_arn=role)  # idempotent
    policies = eks.list_associated_access_policies(clusterName=name, principalArn=role)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [eks_cluster.ADMIN_POLICY]

    kwargs = dict(cluster=name, node_role_arn=stack.seeded.roles["eks-node"],
                  subnet_ids=stack.seeded.subnet_ids, instance_type="m5.large",
                  scaling={"min_size": 1, "desired_size": 2, "max_size": 3}, tags=hub_names.tags("dev", hub, "cs101"))
    assert eks_cluster.create_nodegroup(eks, **kwargs)["reused"] is False
    with pytest.raises(eks_cluster.NodegroupNotReady):
        eks_cluster.check_nodegroup(eks, name)
    stack.clock.advance(stack.config.eks.nodegroup_create)
    assert ready(eks_cluster.check_nodegroup, eks, name)["scaling"]["desiredSize"] == 2

    assert start(stack, name, hub)["reused"] is True
    assert eks_cluster.create_nodegroup(eks, **kwargs)["reused"] is True
    assert eks.list_clusters()["clusters"].count(name) == 1


def test_a_cluster_of_another_hub_is_not_taken_over(stack):
    name = f"coursehub-{uuid.uuid4().hex[:6]}"
    start(stack, name, "hub-a")
    with pytest.raises(eks_cluster.ClusterFailed, match="does not belong"):
        start(stack, name, "hub-b")


def settings_of(stage):
    return Settings(stage=stage, hub_table_name="unused", slack_webhook_secret_arn="unused")


def test_a_dev_hub_and_a_prod_hub_of_one_course_each_have_their_cluster_and_never_touch_the_others(stack):
    eks, course, hub = stack.client("eks"), f"c{uuid.uuid4().hex[:6]}", "hub-same-id"
    dev, prod = hub_names.cluster_name("dev", course), hub_names.cluster_name("prod", course)
    assert start(stack, dev, hub, stage="dev")["reused"] is False
    assert start(stack, prod, hub, stage="prod")["reused"] is False  # prod does not reuse dev's
    assert {dev, prod} <= set(eks.list_clusters()["clusters"])
    # A prod run given dev's cluster (say, a record naming it) refuses it, and so does prod's teardown.
    with pytest.raises(eks_cluster.ClusterFailed, match="belongs to stage dev, not prod"):
        start(stack, dev, hub, stage="prod")
    stack.clock.advance(stack.config.eks.cluster_create)
    ready(eks_cluster.check_cluster, eks, dev)
    event = {"hub_id": hub, "step": "Delete the cluster", "cluster": dev}  # unrecorded: the step function alone
    with pytest.raises(eks_cluster.ClusterFailed, match="belongs to stage dev, not prod"):
        teardown.delete_cluster.__wrapped__(eks, None, settings_of("prod"), event)
    assert eks.describe_cluster(name=dev)["cluster"]["status"] == "ACTIVE"
    # dev's own teardown deletes dev's cluster only.
    assert teardown.delete_cluster.__wrapped__(eks, None, settings_of("dev"), event).result == {"cluster": "deleting"}
    assert eks.describe_cluster(name=prod)["cluster"]["status"] in ("CREATING", "ACTIVE")


def test_a_cluster_is_created_in_api_mode_without_admin_for_its_creator(stack):
    eks = stack.client("eks")
    name = f"coursehub-{uuid.uuid4().hex[:6]}"
    start(stack, name, "hub-api")
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["version"] == "1.36"
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_a_reused_cluster_that_authenticates_by_config_map_only_is_refused_clearly(stack):
    eks = stack.client("eks")
    name, hub = f"coursehub-{uuid.uuid4().hex[:6]}", "hub-old"
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"], tags=hub_names.tags("dev", hub, "cs101"),
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})  # the API's default: CONFIG_MAP
    with pytest.raises(eks_cluster.ClusterFailed, match="authenticates with CONFIG_MAP.*API_AND_CONFIG_MAP"):
        start(stack, name, hub)


def test_without_the_api_mode_granting_admin_fails_as_on_eks(stack):
    eks = stack.client("eks")
    name = f"coursehub-{uuid.uuid4().hex[:6]}"
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
    with pytest.raises(eks.exceptions.InvalidRequestException, match="authentication mode must be set"):
        eks_cluster.grant_admin(eks, name=name, principal_arn=stack.seeded.roles["lambda"])
