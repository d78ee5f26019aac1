"""EKS add-ons and Pod Identity associations on the local stack: AWS's shapes, errors and transitions."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def addon(eks, cluster, name="aws-ebs-csi-driver"):
    return eks.describe_addon(clusterName=cluster, addonName=name)["addon"]


def test_an_addon_passes_through_creating_to_active_with_nodes_and_goes_when_deleted(stack):
    eks = stack.client("eks")
    name, _ = active_cluster(stack)
    config = json.dumps({"defaultStorageClass": {"enabled": True}, "controller": {"k8sTagClusterId": name}})
    created = eks.create_addon(clusterName=name, addonName="aws-ebs-csi-driver", configurationValues=config,
                               tags={"coursehub:hub": "hub-x"})["addon"]
    assert created["status"] == "CREATING" and created["configurationValues"] == config
    assert created["addonArn"].startswith(f"arn:aws:eks:us-east-1:123456789012:addon/{name}/aws-ebs-csi-driver/")
    assert eks.list_addons(clusterName=name)["addons"] == ["aws-ebs-csi-driver"]

    stack.clock.advance(stack.config.eks.addon_create)
    degraded = eventually(lambda: (a := addon(eks, name))["status"] == "DEGRADED" and a)  # no node runs it
    assert degraded["health"]["issues"][0]["code"] == "InsufficientNumberOfReplicas"
    store = stack.clusters.server(name).store
    assert store.get_object("storage.k8s.io/v1", "CSIDriver", None, "ebs.csi.aws.com")["spec"]["attachRequired"]
    default = store.get_object("storage.k8s.io/v1", "StorageClass", None, "ebs-csi-default-sc")
    assert (default["provisioner"], default["volumeBindingMode"]) == ("ebs.csi.aws.com", "WaitForFirstConsumer")
    assert default["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"

    add_nodegroup(stack, name, desired=1)
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: addon(eks, name)["status"] == "ACTIVE")

    assert eks.delete_addon(clusterName=name, addonName="aws-ebs-csi-driver")["addon"]["status"] == "DELETING"
    stack.clock.advance(stack.config.eks.addon_delete)
    eventually(lambda: eks.list_addons(clusterName=name)["addons"] == [])
    assert error_of(lambda: addon(eks, name))[0] == "ResourceNotFoundException"
    eventually(lambda: not store.list(store.resource_type("storage.k8s.io/v1", "StorageClass"))[0])


def test_addon_api_errors_are_awss(stack):
    eks = stack.client("eks")
    name, _ = active_cluster(stack)
    assert error_of(lambda: eks.create_addon(clusterName="no-such-cluster", addonName="aws-ebs-csi-driver"))[0] \
        == "ResourceNotFoundException"
    assert error_of(lambda: eks.list_addons(clusterName="no-such-cluster"))[0] == "ResourceNotFoundException"
    assert error_of(lambda: eks.describe_addon(clusterName=name, addonName="aws-ebs-csi-driver"))[0] \
        == "ResourceNotFoundException"
    assert error_of(lambda: eks.delete_addon(clusterName=name, addonName="aws-ebs-csi-driver"))[0] \
        == "ResourceNotFoundException"
    assert error_of(lambda: eks.create_addon(clusterName=name, addonName="no-such-addon"))[0] \
        == "InvalidParameterException"
    eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent")
    assert error_of(lambda: eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent"))[0] \
        == "ResourceInUseException"


@pytest.mark.parametrize("values, where", [
    ({"defaultStorageClasses": {"enabled": True}}, "$.defaultStorageClasses: is not defined in the schema"),
    ({"controller": {"k8sTagClusterID": "x"}}, "$.controller.k8sTagClusterID: is not defined in the schema"),
    ({"defaultStorageClass": {"enabled": "yes"}}, "$.defaultStorageClass.enabled: 'yes' is not of type 'boolean'"),
    ({"controller": {"extraVolumeTags": {"team": "a;b"}}}, "$.controller.extraVolumeTags.team: 'a;b' does not match"),
])
def test_configuration_values_outside_the_addons_schema_are_refused(stack, values, where):
    eks = stack.client("eks")
    name, _ = active_cluster(stack)
    code, message = error_of(lambda: eks.create_addon(clusterName=name, addonName="aws-ebs-csi-driver",
                                                      configurationValues=json.dumps(values)))
    assert code == "InvalidParameterException" and where in message, message
    assert eks.list_addons(clusterName=name)["addons"] == []


def test_an_addon_needs_an_active_cluster(stack):
    eks = stack.client("eks")
    name = f"c-{uuid.uuid4().hex[:8]}"
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
    assert error_of(lambda: eks.create_addon(clusterName=name, addonName="aws-ebs-csi-driver"))[0] \
        == "InvalidRequestException"


def test_pod_identity_associations_work_as_on_aws_and_go_with_their_cluster(stack):
    eks = stack.client("eks")
    name, _ = active_cluster(stack)
    role = stack.seeded.roles["ebs-csi"]
    made = eks.create_pod_identity_association(clusterName=name, namespace="kube-system",
                                               serviceAccount="ebs-csi-controller-sa", roleArn=role)["association"]
    assert made["associationId"].startswith("a-") and made["roleArn"] == role
    assert f":podidentityassociation/{name}/{made['associationId']}" in made["associationArn"]
    code, message = error_of(lambda: eks.create_pod_identity_association(
        clusterName=name, namespace="kube-system", serviceAccount="ebs-csi-controller-sa", roleArn=role))
    assert code == "ResourceInUseException" and made["associationId"] in message
    listed = eks.list_pod_identity_associations(clusterName=name, namespace="kube-system",
                                                serviceAccount="ebs-csi-controller-sa")["associations"]
    assert [a["associationId"] for a in listed] == [made["associationId"]] and "roleArn" not in listed[0]
    assert eks.list_pod_identity_associations(clusterName=name, namespace="default")["associations"] == []
    described = eks.describe_pod_identity_association(clusterName=name, associationId=made["associationId"])
    assert described["association"]["serviceAccount"] == "ebs-csi-controller-sa"
    assert error_of(lambda: eks.describe_pod_identity_association(clusterName=name, associationId="a-nope"))[0] \
        == "ResourceNotFoundException"
    assert error_of(lambda: eks.list_pod_identity_associations(clusterName="no-such-cluster"))[0] \
        == "ResourceNotFoundException"

    eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent")
    eks.delete_cluster(name=name)
    stack.clock.advance(stack.config.eks.cluster_delete)
    eventually(lambda: name not in eks.list_clusters()["clusters"])
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
    assert eks.list_pod_identity_associations(clusterName=name)["associations"] == []  # gone with the old one
    assert eks.list_addons(clusterName=name)["addons"] == []
