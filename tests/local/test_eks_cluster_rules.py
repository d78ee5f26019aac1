"""The local EKS refuses what EKS refuses in CreateCluster and access entries: versions, authentication modes."""
import json
import uuid
from datetime import date

import pytest
from botocore.exceptions import ClientError

from coursehub_local import eks_cluster_rules
from coursehub_local.moto_patches import eks_error
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import kubeconfig, kubectl

InvalidParameterException = eks_error("InvalidParameterException")
DECEMBER = date(2026, 12, 6)
REFUSAL = ("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
           "to perform this operation.")


def create(stack, **extra):
    name = f"r-{uuid.uuid4().hex[:8]}"
    stack.client("eks").create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids}, **extra)
    return name


def refused(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


# The calendar on one day, as AWS's release calendar has it (no stack: the stack's day is today's).
@pytest.mark.parametrize("version, offered", [
    ("1.29", False), ("1.30", False), ("1.31", False),  # extended support ended 2026-03-23, 07-23, 11-26
    ("1.32", True), ("1.33", True), ("1.34", True),  # extended support
    ("1.35", True), ("1.36", True),  # standard support
    ("1.37", False), ("2.0", False), ("latest", False),  # not on EKS
])
def test_eks_creates_clusters_only_on_the_versions_it_offers_that_day(version, offered):
    if offered:
        assert eks_cluster_rules.check_create("c", version, None, DECEMBER)[0] == version
    else:
        with pytest.raises(InvalidParameterException) as caught:
            eks_cluster_rules.check_create("c", version, None, DECEMBER)
        assert json.loads(caught.value.description) == {
            "clusterName": "c", "message": f"unsupported Kubernetes version {version}"}


def test_1_31_could_be_created_until_its_extended_support_ended():
    assert eks_cluster_rules.check_create("c", "1.31", None, date(2026, 11, 25))[0] == "1.31"
    with pytest.raises(InvalidParameterException):
        eks_cluster_rules.check_create("c", "1.31", None, date(2026, 11, 26))


def test_the_access_configuration_defaults_as_through_the_api():
    assert eks_cluster_rules.check_create("c", "1.35", None, DECEMBER)[1] == {
        "authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True}
    assert eks_cluster_rules.check_create("c", None, {"authenticationMode": "API"}, DECEMBER) == (
        "1.35", {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True})


def test_a_cluster_without_a_version_or_access_config_is_config_map(stack):
    eks = stack.client("eks")
    name = create(stack)
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["accessConfig"] == {"authenticationMode": "CONFIG_MAP",
                                       "bootstrapClusterCreatorAdminPermissions": True}
    assert cluster["version"] in ("1.35", "1.36")  # EKS's default: a version in standard support


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_create_cluster_refuses_a_version_eks_does_not_offer(stack, version):
    eks = stack.client("eks")
    name = f"r-{uuid.uuid4().hex[:8]}"
    code, message = refused(eks.create_cluster, name=name, version=version, roleArn=stack.seeded.roles["eks-cluster"],
                            resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
    assert (code, message) == ("InvalidParameterException", f"unsupported Kubernetes version {version}")
    assert name not in eks.list_clusters()["clusters"]  # nothing made


def test_config_map_needs_the_creator_as_admin(stack):
    code, message = refused(
        stack.client("eks").create_cluster, name=f"r-{uuid.uuid4().hex[:8]}", roleArn=stack.seeded.roles["eks-cluster"],
        resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids},
        accessConfig={"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False})
    assert code == "InvalidParameterException"
    assert message == ("bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode "
                       "is set to CONFIG_MAP")


def test_a_config_map_cluster_has_no_access_entries(stack):
    eks = stack.client("eks")
    name = create(stack, version="1.36")
    principal = stack.seeded.roles["lambda"]
    policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert refused(eks.create_access_entry, clusterName=name, principalArn=principal) == (
        "InvalidRequestException", REFUSAL)
    assert refused(eks.associate_access_policy, clusterName=name, principalArn=principal, policyArn=policy,
                   accessScope={"type": "cluster"}) == ("InvalidRequestException", REFUSAL)
    assert refused(eks.list_access_entries, clusterName=name) == ("InvalidRequestException", REFUSAL)
    assert refused(eks.describe_access_entry, clusterName=name, principalArn=principal) == (
        "InvalidRequestException", REFUSAL)


@pytest.mark.parametrize("mode", ["API", "API_AND_CONFIG_MAP"])
def test_api_modes_have_access_entries(stack, mode):
    eks = stack.client("eks")
    name = create(stack, accessConfig={"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": False})
    assert eks.describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"] == mode
    principal = stack.seeded.roles["lambda"]
    assert eks.create_access_entry(clusterName=name, principalArn=principal)["accessEntry"]["principalArn"] == principal


def test_the_clusters_kubernetes_api_reports_the_clusters_version(stack, tmp_path):
    eks = stack.client("eks")
    name = create(stack, version="1.36", accessConfig={"authenticationMode": "API"})
    stack.clock.advance(stack.config.eks.cluster_create)
    eventually(lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE")
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["version"] == "1.36"
    versions = json.loads(kubectl(kubeconfig(tmp_path, stack, cluster), "version", "-o", "json").stdout)
    assert (versions["serverVersion"]["major"], versions["serverVersion"]["minor"]) == ("1", "36")
    assert versions["clientVersion"]["minor"] == "35"  # the layer's kubectl, within its +/-1 skew


def test_a_subnet_in_a_zone_eks_does_not_support_is_refused_with_the_valid_zones(stack):
    ec2 = stack.client("ec2")
    unsupported = stack.seeded.unsupported_subnet_id
    assert ec2.describe_subnets(SubnetIds=[unsupported])["Subnets"][0]["AvailabilityZoneId"] == "use1-az3"
    name = f"r-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as caught:
        stack.client("eks").create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                                           resourcesVpcConfig={"subnetIds": [*stack.seeded.subnet_ids, unsupported]})
    error = caught.value.response
    assert error["Error"]["Code"] == "UnsupportedAvailabilityZoneException"
    assert error["Error"]["Message"].startswith(f"Cannot create cluster '{name}' because us-east-1e, the targeted "
                                                "availability zone, does not currently have sufficient capacity")
    assert "us-east-1e" not in error["validZones"] and "us-east-1a" in error["validZones"]
    assert name not in stack.client("eks").list_clusters()["clusters"]


def test_subnets_in_one_zone_are_refused(stack):
    name = f"r-{uuid.uuid4().hex[:8]}"
    code, message = refused(stack.client("eks").create_cluster, name=name, roleArn=stack.seeded.roles["eks-cluster"],
                            resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids[:1]})
    assert (code, message) == ("InvalidParameterException", "Subnets specified must be in at least two different AZs")
    assert name not in stack.client("eks").list_clusters()["clusters"]
