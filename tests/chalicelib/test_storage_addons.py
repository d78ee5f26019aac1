"""The storage add-ons step: what it asks EKS for, what it reuses, and how its check reads the add-ons' states.

EKS is botocore's Stubber, which checks every request and answer against the EKS model.
"""
import json

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import storage_addons
from chalicelib.storage_addons import StorageAddonsFailed, StorageAddonsNotReady

CLUSTER, HUB, ROLE = "coursehub-dev-cs101", "hub-cs101", "arn:aws:iam::123456789012:role/coursehub-dev-ebs-csi"
TAGS = {"coursehub:course": "cs101", "coursehub:hub": HUB, "coursehub:stage": "dev"}
ASSOCIATION = "a-0123456789abcdefg"


@pytest.fixture
def eks():
    # A session of its own: the default one would keep these fake credentials for the local stack's handlers.
    client = boto3.session.Session().client("eks", region_name="us-east-1")
    with Stubber(client) as stub:
        client.stub = stub
        yield client
        stub.assert_no_pending_responses()


def addon(name, status="ACTIVE", issues=()):
    return {"addon": {"addonName": name, "clusterName": CLUSTER, "status": status, "addonVersion": "v1.0.0-eksbuild.1",
                      "health": {"issues": list(issues)}}}


def test_the_driver_gets_a_default_class_cluster_tags_and_the_hubs_tags():
    values = json.loads(storage_addons.driver_configuration(CLUSTER, TAGS))
    assert values == {"defaultStorageClass": {"enabled": True},
                      "controller": {"k8sTagClusterId": CLUSTER, "extraVolumeTags": TAGS}}


def test_create_makes_both_addons_and_the_controllers_association(eks):
    eks.stub.add_response("create_addon", addon("eks-pod-identity-agent", "CREATING"),
                          {"clusterName": CLUSTER, "addonName": "eks-pod-identity-agent", "tags": TAGS})
    eks.stub.add_response("create_addon", addon("aws-ebs-csi-driver", "CREATING"), {
        "clusterName": CLUSTER, "addonName": "aws-ebs-csi-driver", "tags": TAGS,
        "configurationValues": storage_addons.driver_configuration(CLUSTER, TAGS)})
    eks.stub.add_response("list_pod_identity_associations", {"associations": []}, {
        "clusterName": CLUSTER, "namespace": "kube-system", "serviceAccount": "ebs-csi-controller-sa"})
    eks.stub.add_response("create_pod_identity_association", {"association": {"associationId": ASSOCIATION}}, {
        "clusterName": CLUSTER, "namespace": "kube-system", "serviceAccount": "ebs-csi-controller-sa",
        "roleArn": ROLE, "tags": TAGS})
    result = storage_addons.create(eks, cluster=CLUSTER, role_arn=ROLE, tags=TAGS)
    assert result == {"addons": {"eks-pod-identity-agent": "created", "aws-ebs-csi-driver": "created"},
                      "association": ASSOCIATION, "association_outcome": "created"}


def test_what_an_earlier_attempt_made_is_reused(eks):
    for _ in storage_addons.ADDONS:
        eks.stub.add_client_error("create_addon", "ResourceInUseException", "Addon already exists", 409)
    eks.stub.add_response("list_pod_identity_associations", {"associations": [
        {"associationId": ASSOCIATION, "namespace": "kube-system", "serviceAccount": "ebs-csi-controller-sa"}]})
    result = storage_addons.create(eks, cluster=CLUSTER, role_arn=ROLE, tags=TAGS)
    assert set(result["addons"].values()) == {"reused"} and result["association_outcome"] == "reused"


def test_a_refused_addon_is_not_swallowed(eks):
    eks.stub.add_client_error("create_addon", "AccessDeniedException", "not authorized to perform eks:CreateAddon", 403)
    with pytest.raises(eks.exceptions.ClientError, match="AccessDenied"):
        storage_addons.create(eks, cluster=CLUSTER, role_arn=ROLE, tags=TAGS)


def test_check_waits_for_both_addons_active(eks):
    eks.stub.add_response("describe_addon", addon("eks-pod-identity-agent"))
    eks.stub.add_response("describe_addon", addon("aws-ebs-csi-driver", "DEGRADED", [
        {"code": "InsufficientNumberOfReplicas", "message": "not enough replicas"}]))
    with pytest.raises(StorageAddonsNotReady, match="aws-ebs-csi-driver is DEGRADED"):
        storage_addons.check(eks, CLUSTER)
    for name in storage_addons.ADDONS:
        eks.stub.add_response("describe_addon", addon(name), {"clusterName": CLUSTER, "addonName": name})
    assert storage_addons.check(eks, CLUSTER) == {"addons": {n: "v1.0.0-eksbuild.1" for n in storage_addons.ADDONS}}


def test_a_failed_addon_fails_the_check_with_its_issues(eks):
    eks.stub.add_response("describe_addon", addon("eks-pod-identity-agent", "CREATE_FAILED", [
        {"code": "AccessDenied", "message": "the node role may not"}]))
    with pytest.raises(StorageAddonsFailed, match="eks-pod-identity-agent is CREATE_FAILED .AccessDenied: the node"):
        storage_addons.check(eks, CLUSTER)

